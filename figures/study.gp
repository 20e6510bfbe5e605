# The reproduction study behind Table 1 (paper-repro/study.mk).  Four panels:
#   (a) M_IP per epoch of the long TopK, BatchTopK and Matryoshka runs: decoder columns (solid) and encoder rows
#       (dashed, the paper's reading), with rule R1's stopping points (circles);
#   (b) M_GT (tau = 0.95) per epoch, the same runs and readings;
#   (c) the mean training loss per epoch (log scale) with R1's stopping points;
#   (d) the baselines' sweeps: final L0 against the sparsity coefficient (ReLU's L1, JumpReLU's L0), k dotted.
# Inputs (set with -e): dir (the study's curves/ directory), k (Table 1's k), outfile.
if (!exists("dir")) dir = "."
if (!exists("k")) k = 8
width = 9.0; height = 6.4
load "figures/style.gp"
runs = "long-topk long-batchtopk long-matryoshka"
label(i) = word("TopK BatchTopK Matryoshka", i)
set multiplot layout 2, 2
set key right bottom font ",7" spacing 1.0
set xlabel "epoch"
set ylabel "M_{IP}"
set yrange [0:1.02]
set title "(a) M_{IP}: decoder (solid), encoder (dashed)"
plot for [i=1:3] sprintf("%s/%s.tsv", dir, word(runs, i)) using 1:7 with lines lt i title label(i)." decoder", \
     for [i=1:3] sprintf("%s/%s.tsv", dir, word(runs, i)) using 1:5 with lines lt i dt 2 title label(i)." encoder", \
     sprintf("%s/r1.tsv", dir) using 2:5 with points pt 6 ps 1.2 lc rgb "black" title "R1 stop"
set title "(b) M_{GT} at {/Symbol t} = 0.95"
set ylabel "M_{GT}"
plot for [i=1:3] sprintf("%s/%s.tsv", dir, word(runs, i)) using 1:6 with lines lt i notitle, \
     for [i=1:3] sprintf("%s/%s.tsv", dir, word(runs, i)) using 1:4 with lines lt i dt 2 notitle
set title "(c) mean training loss"
set ylabel "loss"
set logscale y
set yrange [*:*]
set key right top
plot for [i=1:3] sprintf("%s/%s.tsv", dir, word(runs, i)) using 1:2 with lines lt i title label(i), \
     sprintf("%s/r1.tsv", dir) using 2:3 with points pt 6 ps 1.2 lc rgb "black" title "R1 stop"
set title "(d) baselines: final L0 against the coefficient"
set xlabel "sparsity coefficient (ReLU: L1, JumpReLU: L0)"
set ylabel "L0"
set logscale xy
set key right top
plot sprintf("%s/sweep-relu.tsv", dir) using 1:2 with linespoints lt 1 title "ReLU", \
     sprintf("%s/sweep-relu-b.tsv", dir) using 1:2 with linespoints lt 3 title "ReLU, biases", \
     sprintf("%s/sweep-jumprelu.tsv", dir) using 1:2 with linespoints lt 2 title "JumpReLU", \
     k with lines lt 8 dt 3 title "k"
unset multiplot
