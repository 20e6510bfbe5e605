#!/bin/sh
# Figure 5's sweep table: for each sparsity-pressure value, the absorption rate over seeds (mean, min, max) and
# the means of the fractions of sub-concepts covered by a parent latent and lost, of L0, of the explained
# variance, and of the absorbing latents' decoder cosine with their parent's direction.
# usage: fig5_sweep.sh DIR METHOD "VALUES" "SEEDS"  (reads DIR/runs/METHOD-VALUE-sSEED/{absorption,metrics}.json)
set -eu
. "$(dirname "$0")/lib.sh"
dir=$1; method=$2; values=$3; seeds=$4
echo "# value	absorption_mean	absorption_min	absorption_max	covered_mean	lost_mean	L0_mean	explained_variance_mean	absorbing_decoder_parent_cos_mean	runs"
for v in $values; do
  for s in $seeds; do
    a=$dir/runs/$method-$v-s$s/absorption.json; m=$dir/runs/$method-$v-s$s/metrics.json
    echo "$(val "$a" absorption_rate) $(val "$a" covered) $(val "$a" lost) $(val "$a" sub_concepts)" \
      "$(sub "$m" final L0) $(sub "$m" final explained_variance) $(sub "$a" decoder_parent_cos absorbing)"
  done | awk -v v="$v" '{
      r = $1; n++; s += r; if (n == 1 || r < lo) lo = r; if (n == 1 || r > hi) hi = r
      cov += $2 / $4; lost += $3 / $4; l0 += $5; ev += $6
      if ($7 != "null") { c += $7; nc++ } }
    END { printf "%s\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.4f\t%.4f\t%s\t%d\n", v, s / n, lo, hi, cov / n, lost / n, l0 / n, ev / n,
          nc ? sprintf("%.4f", c / nc) : "NaN", n }'
done
