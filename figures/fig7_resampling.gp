# Figure 7's analogue: training loss (left) and dead fraction (right) against the step, without and with
# dead-latent resampling.  Inputs (set with -e): plain, resample (curve.tsv files of sdlab train: step, loss,
# mse, L0, dead_fraction), at (the resampling step), outfile.
width = 9.0; height = 3.6
load "figures/style.gp"
set multiplot layout 1, 2
set xlabel "step"
set key top right
set arrow 1 from at, graph 0 to at, graph 1 nohead dt 2 lc rgb "#999999"
set ylabel "training loss (squared error, per sample)"
set logscale y
plot plain using 1:2 with lines lt 1 lw 1 title "no resampling", \
     resample using 1:2 with lines lt 2 lw 1 title sprintf("resampling at step %d", at)
unset logscale y
set ylabel "dead fraction (no activation for 500 steps)"
set yrange [0:1]
plot plain using 1:5 with lines lt 1 title "no resampling", \
     resample using 1:5 with lines lt 2 title "resampling"
unset multiplot
