# Figures 10/11's analogue: for each anchored class (rows), the top-activating images of the latent that best
# matches its class mean, with feature anchoring (left) and without (right).  Inputs (set with -e):
#   anchored, plain   the .bin files of sdlab mlp grid; w, h their width and height in pixels
#   features          the class indices of the rows, space-separated; outfile
classes = "T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot"
# the c-th name of a "|"-separated list
nth(s, c) = c == 0 ? (strstrt(s, "|") ? s[1:strstrt(s, "|") - 1] : s) : nth(s[strstrt(s, "|") + 1:], c - 1)
cname(i) = nth(classes, i)
rows = words(features)
width = 9.0; height = 0.8 + 0.5 * rows
load "figures/style.gp"
set palette gray negative
unset colorbox
set multiplot layout 1, 2 margins 0.12, 0.99, 0.04, 0.85 spacing 0.03, 0
set size ratio -1
set xrange [0:w]; set yrange [0:h]
unset xtics
set ytics scale 0 font ",9"
set ytics ()
do for [r = 1:rows] {
  set ytics add (cname(int(word(features, r))) h - 30 * r + 15)
}
set border 0
set title "with feature anchoring (best-matching latent)" font ",10"
plot anchored binary array=(w, h) format='%uchar' flipy with image notitle
set title "without anchoring (best-matching latent)" font ",10"
unset ytics
plot plain binary array=(w, h) format='%uchar' flipy with image notitle
unset multiplot
