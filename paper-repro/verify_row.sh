#!/bin/sh
# verify_row.sh SDLAB SCALE ROW: retrain one Table 1 row (and its method's anchored run, whose anchors the
# evaluation excludes) in a scratch directory with the committed recipe, then compare its metrics, curve, config,
# evaluation and tau sweep with paper-repro/results/SCALE/ byte for byte.  Exit 1 on any difference or a missing
# committed result; the same seed and thread count give the same bytes on the same machine.  T1_RESULTS: where the
# committed results are (default paper-repro/results).
set -eu
sdlab=$1 scale=$2 row=$3
have=${T1_RESULTS:-paper-repro/results}/$scale
[ -f "$have/eval/$row.json" ] || { echo "verify-row: no committed result for $row at scale $scale ($have/eval/$row.json)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sdlab-verify-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory -f paper-repro/paper.mk SDLAB="$sdlab" SCALE="$scale" OUT="$tmp/out" T1_RESULTS="$tmp/results" \
  "$tmp/results/$scale/eval/$row.json"
status=0
for f in runs/$row/metrics.json runs/$row/curve.tsv runs/$row/cfg.json eval/$row.json eval/$row.tsv; do
  if cmp -s "$have/$f" "$tmp/results/$scale/$f"; then
    echo "verify-row: $f identical"
  else
    echo "verify-row: $f DIFFERS from the committed result"
    status=1
  fi
done
exit $status
