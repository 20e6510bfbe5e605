# sdlab's publication style, loaded by every figure script.
# Terminal chosen from the output's extension: pngcairo for .png, pdfcairo for .pdf.
# Palette: Okabe & Ito (2008), safe for colour-blind readers.
if (!exists("outfile")) outfile = "figure.png"
ext = outfile[strlen(outfile)-2:strlen(outfile)]
# width and height in inches; PNG at 150 pixels per inch
if (!exists("width")) width = 8.0
if (!exists("height")) height = 4.0
if (ext eq "pdf") {
  set terminal pdfcairo enhanced color font "DejaVu Sans,9" size width, height
} else {
  set terminal pngcairo enhanced color font "DejaVu Sans,10" size width * 150, height * 150
}
set output outfile
okabe_orange = "#E69F00"; okabe_sky = "#56B4E9"; okabe_green = "#009E73"; okabe_yellow = "#F0E442"
okabe_blue = "#0072B2"; okabe_vermillion = "#D55E00"; okabe_purple = "#CC79A7"; okabe_black = "#000000"
set linetype 1 lc rgb okabe_blue lw 2 pt 7
set linetype 2 lc rgb okabe_vermillion lw 2 pt 5
set linetype 3 lc rgb okabe_green lw 2 pt 9
set linetype 4 lc rgb okabe_purple lw 2 pt 11
set linetype 5 lc rgb okabe_orange lw 2 pt 13
set linetype 6 lc rgb okabe_sky lw 2 pt 3
set linetype 7 lc rgb okabe_yellow lw 2 pt 2
set linetype 8 lc rgb okabe_black lw 2 pt 1
set border lw 1
set grid lc rgb "#DDDDDD" lw 0.5
set key noautotitle
