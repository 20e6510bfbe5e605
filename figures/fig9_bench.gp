# Figure 9 of arXiv:2512.05534: the Linear Representation Bench in D = 3 with N = 4 feature directions.
# Left: the unit directions W_1..W_4 (columns of W_p).  Right: a 3-D scatter of generated samples x_p,
# with the feature rays drawn through it (a sample with one active feature lies on its feature's ray).
# Variables: dirs (TSV, one direction per row: x y z), points (TSV of x_p rows), outfile (.png or .pdf).
if (!exists("dirs") || !exists("points")) { print "fig9_bench.gp: set dirs and points"; exit status 1 }
width = 8.0; height = 4.0
load "figures/style.gp"
set multiplot layout 1, 2 title "Linear Representation Bench: n = 4 features in n_p = 3 dimensions"
set view 62, 30
set view equal xyz
set xyplane at 0
set xlabel "e_1"; set ylabel "e_2"; set zlabel "e_3" rotate parallel
set title "Feature directions W_p (unit columns)"
set xrange [-1.25:1.25]; set yrange [-1.25:1.25]; set zrange [-1.25:1.25]
set xtics 1; set ytics 1; set ztics 1
set parametric
set isosamples 13, 9
set urange [0:2*pi]; set vrange [-pi/2:pi/2]
splot cos(u)*cos(v), sin(u)*cos(v), sin(v) with lines lc rgb "#E0E0E0" lw 0.5, \
      dirs using (0):(0):(0):1:2:3:($0 + 1) with vectors head filled size screen 0.02,15,45 lw 2.5 lc variable, \
      dirs using (1.15*$1):(1.15*$2):(1.15*$3):(sprintf("W_%d", $0 + 1)) with labels font ",10"
unset parametric
set title "Samples x_p = W_p x"
set xrange [-8:8]; set yrange [-8:8]; set zrange [-8:8]
set xtics 4; set ytics 4; set ztics 4
splot points using 1:2:3 with points pt 7 ps 0.25 lc rgb "#7F7F7F", \
      dirs using (0):(0):(0):(8*$1):(8*$2):(8*$3):($0 + 1) with vectors nohead lw 1.5 lc variable
unset multiplot
