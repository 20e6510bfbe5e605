# Figure 6: GT Recovery M_GT (encoder rows, cosine similarity) against the threshold tau, for every method,
# without (left) and with feature anchoring (right).  Inputs (set with -e):
#   dir      directory of the tau sweeps METHOD.tsv and METHOD-fa.tsv (from sdlab eval --sweep)
#   methods  space-separated method names
#   outfile  figure.png or figure.pdf
if (!exists("dir")) dir = "."
if (!exists("methods")) methods = "topk"
width = 9.0; height = 3.8
load "figures/style.gp"
set multiplot layout 1, 2
set xrange [0:1]
set yrange [0:1.02]
set xlabel "threshold {/Symbol t}"
set ylabel "M_{GT}(τ) (fraction of features)"
set key left bottom font ",8" spacing 1.1
set title "without anchoring"
plot for [i=1:words(methods)] sprintf("%s/%s.tsv", dir, word(methods, i)) using 1:2 with lines lt (i == 7 ? 8 : i) \
  title word(methods, i)
set title "with feature anchoring"
set ylabel ""
plot for [i=1:words(methods)] sprintf("%s/%s-fa.tsv", dir, word(methods, i)) using 1:2 with lines lt (i == 7 ? 8 : i) \
  title word(methods, i)
unset multiplot
