# Helpers of the report scripts (sourced): read sdlab's JSON (one member per line), the paper's
# reference numbers, and format numbers.
# val FILE KEY: the first  "KEY": value  in a JSON file written by sdlab (one member per line)
val() { sed -n "s/^ *\"$2\": \\([^,]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -n 1; }
held() { if [ "$1" = true ]; then echo "held"; else echo "**not held**"; fi; }
# sub FILE OBJECT KEY: KEY's value inside the JSON member OBJECT (one member per line)
sub() {
  awk -v o="\"$2\": {" -v k="\"$3\": " 'index($0, o) { f = 1; next }
    f && index($0, k) { v = substr($0, index($0, k) + length(k)); sub(/,$/, "", v); print v; exit }' "$1"
}
# ref ITEM ROW COLUMN: the paper's number from paper-repro/reference.tsv
REF=${REF:-paper-repro/reference.tsv}
ref() { awk -F '\t' -v i="$1" -v r="$2" -v c="$3" '$1 == i && $2 == r && $3 == c { print $4; exit }' "$REF"; }
pct() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else printf "%.2f%%", 100 * x }'; }
g4() { awk -v x="$1" 'BEGIN { printf "%.4g", x }'; }
fix3() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else printf "%.3f", x }'; }
# gt A B: true when the number A exceeds B
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

