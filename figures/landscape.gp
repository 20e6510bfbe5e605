# The landscape of L~: pieces ordered by the best value found on them (x), each with its certified lower
# bound and its best partial optimum (a vertical bar when they differ), and the end points of SGD runs
# laid over them.  Variables: pieces (pieces.tsv), sgd (sgd.tsv), outfile (.png or .pdf).
if (!exists("pieces") || !exists("sgd")) { print "landscape.gp: set pieces and sgd"; exit status 1 }
width = 8.0; height = 4.0
load "figures/style.gp"
stats pieces using 1 nooutput
np = STATS_records
set xlabel "pieces, ordered by their best partial optimum"
set ylabel "L~ (eq. 11)"
set xrange [-1:np]
set yrange [-0.05:*]
set key top left box opaque
ncol = system(sprintf("awk -F'\\t' 'NR==1{print NF; exit}' %s", pieces)) + 0
lower = ncol - 8; upper = ncol - 7   # the columns lower and upper of pieces.tsv (eight from the end)
plot pieces using 1:lower:(column(lower)):(column(upper)) with yerrorbars lc rgb "#BBBBBB" pt -1 title "certified bracket", \
     pieces using 1:upper with points pt 7 ps 0.35 lc rgb okabe_blue title "best partial optimum", \
     sgd using ($4 + 0.3 * (rand(0) - 0.5)):3 with points pt 2 ps 0.9 lc rgb okabe_vermillion title "SGD end points"
