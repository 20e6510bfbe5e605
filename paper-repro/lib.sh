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


# recovery_table ITEM DIR METHODS: the rows of a recovery table (each method without and with anchoring) beside
# the paper's numbers for ITEM in reference.tsv, from DIR/eval/M[-fa].json and DIR/runs/M[-fa]/metrics.json
recovery_table() {
  echo "| method | paper M_GT | sdlab M_GT | paper M_IP | sdlab M_IP | decoder M_GT | decoder M_IP | L0 | dead |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for m in $3; do
    for v in "" -fa; do
      e=$2/eval/$m$v.json; r=$2/runs/$m$v/metrics.json
      name=$m; [ -n "$v" ] && name="+ feature anchoring"
      echo "| $name | $(pct "$(ref $1 $m$v M_GT)") | $(pct "$(sub $e encoder M_GT)") | $(fix3 "$(ref $1 $m$v M_IP)") |" \
        "$(fix3 "$(sub $e encoder M_IP)") | $(pct "$(sub $e decoder M_GT)") | $(fix3 "$(sub $e decoder M_IP)") |" \
        "$(fix3 "$(sub $r final L0)") | $(pct "$(sub $r final dead_fraction)") |"
    done
  done
}

# anchoring_claims DIR METHODS [READING]: the paper's two anchoring claims as table rows, held or not held, on
# the encoder rows (the paper's reading, the default) or the decoder columns.  Where M_GT is 0 for every method
# with and without anchoring, "does not lower M_GT" has nothing to test: undecided, not held.
anchoring_claims() {
  r=${3:-encoder}; on=""; [ "$r" = encoder ] || on=", read on the decoder columns"
  ip_up=true; gt_up=true; ip_list=""; gt_list=""; some=false
  for m in $2; do
    a=$(sub $1/eval/$m.json $r M_IP); b=$(sub $1/eval/$m-fa.json $r M_IP)
    gt "$b" "$a" || { ip_up=false; ip_list="$ip_list $m"; }
    a=$(sub $1/eval/$m.json $r M_GT); b=$(sub $1/eval/$m-fa.json $r M_GT)
    if gt "$a" 0 || gt "$b" 0; then some=true; fi
    gt "$a" "$b" && { gt_up=false; gt_list="$gt_list $m"; }
  done
  echo "| anchoring raises M_IP for every method$on | lower or equal for:${ip_list:- none} | $(held $ip_up) |"
  if $some; then
    echo "| anchoring does not lower M_GT for any method$on | lower for:${gt_list:- none} | $(held $gt_up) |"
  else
    echo "| anchoring does not lower M_GT for any method$on | M_GT is 0% for every method, anchored or not |" \
      "undecided (nothing to lower) |"
  fi
}
# The pieces of a landscape directory whose bounds are further apart than its tolerance, with their brackets.
open_pieces() {
  awk -F'\t' -v tol="$(val "$1/landscape.json" tol)" '
    NR == 1 { for (c = 1; c <= NF; c++) { if ($c == "lower") lo = c; if ($c == "upper") up = c; if ($c == "F_1") f = c; if ($c == "open") o = c }; next }
    { u = $up + 0; m = u > 1 ? u : 1
      if ($up == "inf" || u - $lo > tol * m) { s = ""; for (c = f; c < o; c++) s = s (c > f ? "|" : "") $c
        open = open (n++ ? ", " : "") "(" s ") in [" $lo ", " $up "]" } }
    END { if (n) print "Left open, with their brackets: " open "."; else print "Every piece is certified." }
  ' "$1/pieces.tsv"
}
