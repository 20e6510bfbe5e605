# Figure 4: zero reconstruction loss without recovering the ground truth.  Rows: a ReLU SAE trained on n = 4
# features in 2-D, the same in 3-D, and the exact construction W_E = A W_p^+, W_D = W_p Z^+ (n = 2 in 2-D);
# columns: ground-truth directions, encoder rows, decoder columns, each drawn as a unit vector.
# Inputs (set with -e): d2, d3, ex (directories with truth.tsv, encoder.tsv, decoder.tsv), t2, t3, tex (row
# labels), outfile.
width = 9.0; height = 9.0
load "figures/style.gp"
unit2(x, y) = sqrt(x**2 + y**2)
unit3(x, y, z) = sqrt(x**2 + y**2 + z**2)
set multiplot layout 3, 3 margins 0.06, 0.98, 0.04, 0.95 spacing 0.06, 0.08
files = "truth.tsv encoder.tsv decoder.tsv"
colname(i) = i == 1 ? "ground-truth directions" : i == 2 ? "encoder rows (W_E)" : "decoder columns (W_D)"
do for [row = 1:3] {
  dir = row == 1 ? d2 : row == 2 ? d3 : ex
  label = row == 1 ? t2 : row == 2 ? t3 : tex
  do for [col = 1:3] {
    f = sprintf("%s/%s", dir, word(files, col))
    set title sprintf("%s\n%s", label, colname(col)) font ",9"
    if (row == 2) {
      set view equal xyz
      set view 60, 30, 0.75
      set xrange [-1:1]; set yrange [-1:1]; set zrange [-1:1]
      unset xtics; unset ytics; unset ztics
      unset border
      set arrow 1 from -1, 0, 0 to 1, 0, 0 nohead lc rgb "#BBBBBB" lw 0.5
      set arrow 2 from 0, -1, 0 to 0, 1, 0 nohead lc rgb "#BBBBBB" lw 0.5
      set arrow 3 from 0, 0, -1 to 0, 0, 1 nohead lc rgb "#BBBBBB" lw 0.5
      splot f using (0):(0):(0):($1/unit3($1,$2,$3)):($2/unit3($1,$2,$3)):($3/unit3($1,$2,$3)) \
        with vectors head filled size screen 0.012, 20 lw 2 lt col
    } else {
      unset arrow
      set border 31
      set size ratio -1
      set xrange [-1.2:1.2]; set yrange [-1.2:1.2]
      set xtics 1; set ytics 1
      plot f using (0):(0):($1/unit2($1,$2)):($2/unit2($1,$2)) with vectors head filled size screen 0.012, 20 \
        lw 2 lt col
      unset size
    }
  }
}
unset multiplot
