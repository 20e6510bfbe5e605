#!/bin/sh
# The Appendix G section of REPORT.md (paper-repro/ablations.mk's outputs): Tables 4-7 beside the paper's numbers,
# read on the encoder rows (the paper's reading) and on the decoder columns, and whether anchoring raised M_IP in
# every row under each reading.  Environment: OUT, SCALE, AB (default $OUT/ablations-$SCALE), AB_T4 .. AB_T7
# (label:value pairs, as in ablations.mk), AB_METHODS; AB_COMMITTED set: AB holds the runs committed at the paper's
# sizes (paper-repro/results/ablations-full), and only the cells there are listed.
set -eu
OUT=${OUT:-paper-repro/out}
AB=${AB:-$OUT/ablations-${SCALE:-quick}}
. "$(dirname "$0")/lib.sh"

labels() { for p in $1; do printf '%s ' "${p%%:*}"; done; }
# read FILE READING KEY: a reading's value in an evaluation, empty when the file is not there
read_eval() { if [ -f "$1" ]; then sub "$1" "$2" "$3"; fi; }
# done_cell ITEM ROW: both runs of the cell evaluated (a cell's evaluation needs its anchored run's anchors)
done_cell() { [ -f "$AB/eval/$1-$2.json" ] && [ -f "$AB/eval/$1-$2-fa.json" ]; }

# table ITEM KEY "LABELS" "METHODS" TITLE
table() {
  echo "### $5"
  echo
  if [ -n "${AB_COMMITTED:-}" ]; then
    cells=0
    for l in $3; do for m in $4; do done_cell $1 $m-$2$l && cells=$((cells + 1)); done; done
    [ $cells -gt 0 ] || { echo "No cell committed yet."; return; }
  fi
  echo "| setting | method | paper M_GT | encoder M_GT | decoder M_GT | paper M_IP | encoder M_IP | decoder M_IP |"
  echo "|---|---|---|---|---|---|---|---|"
  down_e=""; down_d=""
  for l in $3; do
    for m in $4; do
      done_cell $1 $m-$2$l || [ -z "${AB_COMMITTED:-}" ] || continue
      for v in "" -fa; do
        row=$m-$2$l$v; e=$AB/eval/$1-$row.json
        name=$m; [ -n "$v" ] && name="+ feature anchoring"
        echo "| $2 = $l | $name | $(pct "$(ref $1 $row M_GT)") | $(pct "$(read_eval $e encoder M_GT)") |" \
          "$(pct "$(read_eval $e decoder M_GT)") | $(fix3 "$(ref $1 $row M_IP)") | $(fix3 "$(read_eval $e encoder M_IP)") |" \
          "$(fix3 "$(read_eval $e decoder M_IP)") |"
      done
      for r in encoder decoder; do
        a=$(read_eval $AB/eval/$1-$m-$2$l.json $r M_IP); b=$(read_eval $AB/eval/$1-$m-$2$l-fa.json $r M_IP)
        gt "$b" "$a" && continue
        if [ $r = encoder ]; then down_e="$down_e $m at $2 = $l;"; else down_d="$down_d $m at $2 = $l;"; fi
      done
    done
  done
  echo
  echo "| the paper's claim | measured | verdict |"
  echo "|---|---|---|"
  up=true; [ -z "$down_e" ] || up=false
  echo "| anchoring raises M_IP in every row | lower or equal for:${down_e:- none} | $(held $up) |"
  up=true; [ -z "$down_d" ] || up=false
  echo "| the same, read on the decoder columns | lower or equal for:${down_d:- none} | $(held $up) |"
}

if [ -n "${AB_COMMITTED:-}" ]; then
  n=$(ls "$AB/eval" 2>/dev/null | grep -c '\.json$' || true)
  echo "## Appendix G at the paper's sizes: the cells committed so far ($n of the 80 runs)"
  echo
  echo "Trained at n_p = 768, n_q = 16,000, N = 100,000 by \`make paper SCALE=full\` (or its job list) and committed in"
  echo "$AB (metrics, curves, configs, evaluations, the command of each run); a cell is listed once both its runs are"
  echo "there. Same readings and settings as the quick scale's section above."
  # the runs' wall times (seconds.tsv: a start and an end a line, one line a piece of a run)
  t=$(cat "$AB"/runs/*/seconds.tsv 2>/dev/null | awk -F '\t' 'NF == 2 { s += $2 - $1 } END { printf "%.1f", s / 3600 }')
  timed=$(ls "$AB"/runs/*/seconds.tsv 2>/dev/null | wc -l)
  echo "Measured: $timed of these runs recorded their wall time, $t hours in all (one thread a run, two runs at a time"
  echo "on the machine that made them)."
else
  echo "## Appendix G: ablations (Tables 4-7, scale ${SCALE:-quick})"
  echo
  echo "Encoder rows (the paper's reading) and decoder columns, cosine similarity, tau = 0.95, anchored features"
  echo "excluded from both rows of a pair (the settings and scales are in paper-repro/ablations.mk: 10 epochs at the"
  echo "paper's sizes, 5 at the quick scale, lr 1e-3, Table 1's ReLU and JumpReLU coefficients). The paper's columns are"
  echo "at its sizes; at the quick scale the swept n and k are scaled to n_p = 192 and n_q = 2,000 (the setting column"
  echo "keeps the paper's label)."
fi
echo
table table4 n "$(labels "$AB_T4")" relu "Table 4: superposition ratio (ReLU SAEs)"
echo
table table5 M "$(labels "$AB_T5")" "$AB_METHODS" "Table 5: maximum interference M"
# M bounds the interference; where random directions already meet it, C.1 leaves them as drawn (0 iterations),
# and two settings can give the same bench
line=""
for l in $(labels "$AB_T5"); do
  m=$AB/data/t5-M$l/meta.json
  [ -f "$m" ] && line="$line M = $l: $(fix3 "$(val $m achieved_interference)") after $(val $m iterations) iterations;"
done
if [ -n "$line" ]; then
  echo
  echo "The benches' achieved interference (C.1 stops once the largest <w_p^i, w_p^j>, i != j, is at most M):$line a"
  echo "setting that random directions already meet leaves the bench as drawn, so settings with equal achieved"
  echo "values and iteration counts share one bench (the same seed: the same bytes, and the same runs)."
fi
echo
table table6 S "$(labels "$AB_T6")" "$AB_METHODS" "Table 6: sparsity (the probability that a feature is active)"
echo
table table7 k "$(labels "$AB_T7")" topk "Table 7: TopK k"
for r in encoder decoder; do
  high=true; low=""; some=false
  for l in $(labels "$AB_T7"); do
    for v in "" -fa; do
      e=$AB/eval/table7-topk-k$l$v.json
      [ -f "$e" ] || continue
      some=true
      x=$(read_eval $e $r M_IP)
      gt "$x" 0.985 || { high=false; low="$low k = $l$v ($(fix3 "$x"));"; }
    done
  done
  $some || continue
  on=""; [ $r = encoder ] || on=", read on the decoder columns"
  [ $r = decoder ] || { echo; echo "| the paper's claim | measured | verdict |"; echo "|---|---|---|"; }
  echo "| Table 7: M_IP stays above 0.985 for every k$on | at or below:${low:- none} | $(held $high) |"
done
