#!/bin/sh
# The atlas's section of REPORT.md (paper-repro/atlas.mk): a row a cell from its committed results.
# Environment: AT_RES (the results directory), AT_CELLS, OUT.
set -eu
cat <<MD
## The atlas: how often gradient descent ends at a spurious partial minimum

The paper's central empirical claim is that SGD lands in spurious partial minima of the piecewise biconvex
loss; it shows single instances. For each cell below, ${AT_INSTANCES} random ground truths (C.1, n features in n_p = 2
dimensions, or 3 in the cells named -d3-, interference at most M, unit second moments; seeds 1-${AT_INSTANCES}) each get the
landscape census, which certifies the pieces of L~ (in brackets: the instances with every piece certified), and ${AT_RUNS} runs of
full-batch Adam (20,000 steps, lr 0.01, Gaussian initialisation, tied decoder). Each end point is classified
against the certificates: *global* (at the certified global minimum), *spurious* (a partial minimum, which
alternating convex search from it does not improve, above a point the census found; *dead* when a neuron of
its piece is dead), *undecided* (at the best point found, the global minimum uncertified), *unconverged* (Adam
stopped short of a partial minimum). Shares of the runs with Wilson 95% intervals (runs taken as independent;
runs of one instance share its landscape, so the intervals are optimistic), and the share of instances where
at least one of the ${AT_RUNS} runs ended spurious. \`sdlab atlas --help\`; \`make atlas\` recomputes.

![The atlas](atlas.png)

| cell | instances (certified) | global | spurious | spurious, dead neuron | undecided | unconverged | instances with a spurious run |
|---|---|---|---|---|---|---|---|
MD
for c in $AT_CELLS; do # every number from the cell's summary.json (sdlab atlas --gather wrote it)
  python3 - "$c" "$AT_RES/$c/summary.json" <<'PY'
import json, sys
cell, path = sys.argv[1], sys.argv[2]
s = json.load(open(path))
share = lambda x: "%.1f%% [%.1f, %.1f]" % (100 * x["fraction"], 100 * x["wilson95"][0], 100 * x["wilson95"][1])
classes = ["global", "spurious", "spurious_dead", "undecided", "unconverged"]
print("| %s | %d (%d) | %s | %s |" % (cell, s["instances"], s["instances_fully_certified"],
                                     " | ".join(share(s[k]) for k in classes), share(s["instances_with_a_spurious_run"])))
PY
done
cat <<MD

Cells: relu-n3-q2 is n = 3, n_q = 2 ReLU latents (superposition n/n_p = 1.5), relu-n4-q2 and relu-n4-q3 are
n = 4 (n/n_p = 2) with 2 and 3 latents, relu-n4-q2-m06 the same with interference up to M = 0.6 (M = 0.3
elsewhere); jumprelu-* use JumpReLU(0.5) latents, topk-n3-q2 Top-1-ReLU and topk-n4-q3 Top-2-ReLU. The cells
were fixed before any was run. The cells ending in -fa train with feature anchoring (one latent of two pulled
to feature 0, weight 0.1, eq. 26); an anchored run minimises L~ plus the anchor term, so it is judged by the
basin it ends in (the partial minimum of L~ that alternating convex search reaches from its end point) and is
unconverged only when Adam used all its steps; their twins ending in -basin train without anchoring and are
judged the same way. The cells named -d3- are in n_p = 3 dimensions (fixed before any was run): ReLU with n = 3,
4, 5 and 6 features (n/n_p = 1, 4/3, 5/3, 2), JumpReLU(0.5) and Top-1-ReLU with n = 4, all with n_q = 2, and
relu-n4-d3-q3, ReLU with n = 4 and n_q = 3, topk-n4-d3-q3, Top-2-ReLU with n = 4 and n_q = 3, and
jumprelu-n4-d3-q3, JumpReLU(0.5) with n = 4 and n_q = 3 (the three fixed on 2026-12-07, each before it was run).
There the
branch and bound leaves pieces open (20,000 boxes a piece): a run at the best point found under an
uncertified global minimum is *undecided*, not *global*, while *spurious* needs no certificate (a partial
minimum above a point the census found). relu-n5-q2-m06 and relu-n6-q2-m06 put 5 and 6 features in n_p = 2
(superposition 2.5 and 3), which needs an interference of at least cos 72 deg = 0.309 and cos 60 deg = 0.5, so
they run at M = 0.6 beside relu-n4-q2-m06.
MD
