#!/bin/sh
# The Table 1 and Figure 6 section of REPORT.md (paper-repro/table1.mk's outputs), to standard output: the
# rows beside the paper's numbers (paper-repro/reference.tsv), then the paper's claims marked held or not.
# Environment: OUT, SCALE, T1 (default $OUT/table1-$SCALE), T1_METHODS, REF.
set -eu
OUT=${OUT:-paper-repro/out}
T1_METHODS=${T1_METHODS:-relu jumprelu topk batchtopk matryoshka transcoder crosscoder}
. "$(dirname "$0")/lib.sh"

T1=${T1:-$OUT/table1-${SCALE:-quick}}
[ -d "$T1/eval" ] || { echo "## Table 1 and Figure 6"; echo; echo "pending: not run at this scale"; exit 0; }
meta=$T1/data/sae/meta.json
echo "## Table 1 and Figure 6: feature recovery on the Linear Representation Bench (scale: ${SCALE:-quick})"
echo
if [ -n "${T1_COMMITTED:-}" ]; then
  echo "These rows were trained at the paper's sizes and committed in $T1 (metrics, curves, configs, the command of"
  echo "each run; \`make verify-row SCALE=full ROW=name\` retrains one and compares); rows not listed are not run yet."
  echo
fi
echo "![Figure 6](figure6-${SCALE:-quick}.png)"
echo
echo "Bench: n = $(val $meta features), n_p = $(val $meta dim), N = $(val $meta samples), S = $(g4 "$(val $meta sparsity)"),"
echo "M = $(g4 "$(val $meta interference)") (achieved $(g4 "$(val $meta achieved_interference)")); n_q = $(val $T1/eval/topk.json n_q)"
echo "latents. The paper's Table 1 uses n = 1000, n_p = 768, n_q = 16000, N = 100,000; its training"
echo "hyperparameters are not stated (sdlab's choices are in paper-repro/table1.mk). M_GT at tau = 0.95 and M_IP"
echo "are the paper's metrics (encoder rows, cosine similarity), on the $(val $T1/eval/topk-fa.json evaluated) features the anchored run did"
echo "not anchor; the decoder columns' values are beside them."
echo
recovery_table table1 "$T1" "$T1_METHODS"
has() { case " $T1_METHODS " in *" $1 "*) return 0;; esac; return 1; }
# family_claim READING: the TopK-family claim (M_GT above 80% for TopK, BatchTopK and Matryoshka, 0% for ReLU and
# JumpReLU) on the encoder rows or the decoder columns, as "| measured | verdict |"
family_claim() {
  ok=true; v=""
  for m in topk batchtopk matryoshka relu jumprelu; do
    has $m || continue
    x=$(sub $T1/eval/$m.json $1 M_GT); v="$v $m $(pct $x);"
    case $m in relu|jumprelu) gt "$x" 0 && ok=false;; *) gt "$x" 0.8 || ok=false;; esac
  done
  echo "|$v | $(held $ok) |"
}
echo
echo "| the paper's claim | measured | verdict |"
echo "|---|---|---|"
anchoring_claims "$T1" "$T1_METHODS"
anchoring_claims "$T1" "$T1_METHODS" decoder
echo "| TopK-family M_GT above 80% while ReLU and JumpReLU stay at 0% (tau = 0.95) $(family_claim encoder)"
echo "| the same, read on the decoder columns (not the paper's reading) $(family_claim decoder)"
dec=""
for m in $T1_METHODS; do
  gt "$(sub $T1/eval/$m.json decoder M_IP)" "$(sub $T1/eval/$m.json encoder M_IP)" && dec="$dec $m"
done
echo
echo "Decoder columns match the ground truth better than encoder rows (higher M_IP, no anchoring) for:${dec:- none}."
echo "The paper's metric reads the encoder rows (§5.1)."
echo
echo "Where a verdict reads not held, that is this run's result at this scale and with these hyperparameters,"
echo "not something tuned away. The tau sweeps behind Figure 6 are in $T1/eval/*.tsv."
