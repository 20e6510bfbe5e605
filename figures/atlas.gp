# The atlas (paper-repro/atlas.mk): for each cell, the share of full-batch Adam runs that end at the certified
# global minimum, at a spurious partial minimum (live neurons; or a dead neuron in its piece), undecided (the
# global minimum uncertified) or unconverged, with Wilson 95% intervals (runs taken as independent).
# Inputs (set with -e): data (atlas.tsv: a row a cell, then fraction, lo, hi for each class), instances, runs
# (a cell's instances and each instance's runs), outfile.
if (!exists("data")) data = "atlas.tsv"
if (!exists("instances")) instances = 200
if (!exists("runs")) runs = 20
width = 14.0; height = 4.6
load "figures/style.gp"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:1.05]
set ylabel "share of the runs"
set xtics rotate by -30 font ",8" nomirror
set key outside bottom center font ",8" horizontal
set title sprintf("Where full-batch Adam ends, against the census (n_p = 2 and 3: -d3- cells; %d instances x %d runs a cell)", \
  instances, runs)
plot data using 2:3:4:xtic(1) lt 1 title "global", \
     '' using 5:6:7 lt 2 title "spurious", \
     '' using 8:9:10 lt 4 title "spurious (dead neuron)", \
     '' using 11:12:13 lt 6 title "undecided", \
     '' using 14:15:16 lt 5 title "unconverged"
