# Figure 5, measured: feature absorption on a hierarchy bench.  Top: P(latent fires | feature active) for
# Theorem 3.8's construction as the proof writes it, the same repaired, and a trained SAE (latents in display
# order: each parent's latents, its absorbing latents, its sub-concept latents, then independent features,
# other, dead).  Bottom: the fraction of sub-concepts absorbed as the sparsity pressure grows (mean over seeds,
# bars from min to max), with the fraction a parent latent still covers.  Inputs (set with -e):
#   dir       the fig5 directory (construct/written.tsv, construct/repaired.tsv, runs/SHOWN/rates.tsv,
#             sweep-relu.tsv, sweep-topk.tsv)
#   shown     the trained run shown          features, parents, kids   the bench's n, P and K
#   outfile   figure.png or figure.pdf
if (!exists("dir")) dir = "."
if (!exists("shown")) shown = "relu-0.3-s1"
if (!exists("features")) features = 24
if (!exists("parents")) parents = 4
if (!exists("kids")) kids = 4
width = 11.0; height = 7.0
load "figures/style.gp"
set multiplot
set palette defined (0 "#FFFFFF", 0.5 "#56B4E9", 1 "#0072B2")
set cbrange [0:1]
set xrange [-0.5:features - 0.5]
set xlabel "ground-truth feature (parents | sub-concepts by parent | independent)" font ",8"
set xtics 0, 4 font ",7"
set ytics font ",6"
set grid noxtics noytics
# family separators
do for [i=0:parents] {
  x = (i == 0 ? parents : parents + i * kids) - 0.5
  set arrow from x, graph 0 to x, graph 1 nohead lc rgb "#555555" lw 0.6 front
}
set size 0.31, 0.52
set origin 0.0, 0.47
unset colorbox
set ylabel "latent (class)" font ",8"
set title "Theorem 3.8 construction, as written\n(one threshold c'')" font ",9"
set autoscale y; stats dir."/construct/written.tsv" using 1 nooutput
set yrange [STATS_max + 0.5:-0.5]
plot dir."/construct/written.tsv" using 3:1:4 with image, '' using (NaN):1:ytic(5) with points
set origin 0.32, 0.47
set ylabel ""
set title "Theorem 3.8 construction, repaired\n(other rows scaled by c''/c)" font ",9"
set autoscale y; stats dir."/construct/repaired.tsv" using 1 nooutput
set yrange [STATS_max + 0.5:-0.5]
plot dir."/construct/repaired.tsv" using 3:1:4 with image, '' using (NaN):1:ytic(5) with points
set origin 0.64, 0.47
set size 0.36, 0.52
set colorbox
set cblabel "P(latent fires | feature active)" font ",8"
set title sprintf("trained SAE (%s)", shown) font ",9"
set autoscale y; stats dir."/runs/".shown."/rates.tsv" using 1 nooutput
set yrange [STATS_max + 0.5:-0.5]
plot dir."/runs/".shown."/rates.tsv" using 3:1:4 with image, '' using (NaN):1:ytic(5) with points
unset arrow
unset colorbox
set grid
set xtics auto font ",8"
set ytics auto font ",8"
set yrange [-0.02:1.22]
set ytics 0, 0.2, 1
set size 0.5, 0.46
set origin 0.0, 0.0
set logscale x
set xrange [*:*]
set xlabel "ReLU L1 coefficient (more sparsity pressure to the right)" font ",9"
set ylabel "fraction of sub-concepts" font ",9"
set key top center horizontal font ",8" samplen 2
set title "ReLU SAE" font ",9"
plot dir."/sweep-relu.tsv" using 1:2:3:4 with yerrorlines lt 2 title "absorbed", \
     '' using 1:5 with linespoints lt 1 title "covered by a parent latent", \
     '' using 1:6 with linespoints lt 8 dt 2 title "lost"
unset logscale x
set origin 0.5, 0.0
set xrange [*:*] reverse
set xlabel "TopK k (more sparsity pressure to the right)" font ",9"
set ylabel ""
set title "TopK SAE" font ",9"
plot dir."/sweep-topk.tsv" using 1:2:3:4 with yerrorlines lt 2 title "absorbed", \
     '' using 1:5 with linespoints lt 1 title "covered by a parent latent", \
     '' using 1:6 with linespoints lt 8 dt 2 title "lost"
unset multiplot
