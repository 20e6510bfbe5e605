# The atlas (issue 23): how often full-batch Adam ends at a spurious partial minimum of L~, over many random
# instances of small cells.  Cells fixed before any was run: in n_p = 2 dimensions (where the census certifies
# every piece), ReLU at superposition n/n_p = 1.5 and 2 with n_q = 2, n_q = 3 at n = 4, and a higher
# interference (M = 0.6) at n = 4; JumpReLU(0.5) and Top-k-ReLU at the same sizes.  In n_p = 3 dimensions
# (fixed on 2026-12-06, before any was run), ReLU at n/n_p = 1, 4/3 and 5/3 with n_q = 2, JumpReLU(0.5) and
# Top-1-ReLU at n = 4; and, fixed then too, ReLU at n = 5 and 6 in n_p = 2 (which need M >= cos 72 deg = 0.309
# and cos 60 deg = 0.5: they run at M = 0.6, beside relu-n4-q2-m06); fixed on 2026-12-07, before it was run, ReLU
# with n_q = 3 latents in n_p = 3 dimensions at n = 4 (relu-n4-d3-q3); fixed on 2026-12-07, before it was run,
# Top-2-ReLU with n_q = 3 in n_p = 3 at n = 4 (topk-n4-d3-q3); fixed on 2026-12-07, before it was run,
# JumpReLU(0.5) with n_q = 3 in n_p = 3 at n = 4 (jumprelu-n4-d3-q3); fixed on 2026-12-07, before it was run,
# ReLU with n = 6 and n_q = 2 in n_p = 3 (relu-n6-d3-q2).  At n_p = 3 the branch and bound leaves
# pieces open, so each piece gets 20,000 boxes (a budget chosen for time; an uncertified global minimum turns a
# run at the best point found into "undecided", while "spurious" needs no certificate).  Each cell: seeds
# 1..AT_INSTANCES, 20 Adam runs each (sdlab atlas's defaults: 20,000 steps, lr 0.01).
# At SCALE=quick and full the cells' results are committed in paper-repro/results/atlas/ (make paper reads them
# without rerunning; remove them, or make atlas, to recompute: about 3 to 4 hours on this 2-core machine, the
# n_p = 3 cells most of it: relu-n6-d3-q2 about 80 minutes, the three n_q = 3 cells in n_p = 3 about 45, the 21
# others under two hours; the sum of the times measured cell by cell, not one run); at SCALE=tiny (the tests) 4
# instances of 4 runs a cell into OUT.
AT_CELLS := relu-n3-q2 relu-n4-q2 relu-n4-q3 relu-n4-q2-m06 jumprelu-n3-q2 jumprelu-n4-q2 topk-n3-q2 topk-n4-q3 \
  relu-n3-q2-basin relu-n3-q2-fa relu-n4-q2-basin relu-n4-q2-fa jumprelu-n4-q2-basin jumprelu-n4-q2-fa \
  relu-n3-d3-q2 relu-n4-d3-q2 relu-n5-d3-q2 jumprelu-n4-d3-q2 topk-n4-d3-q2 relu-n5-q2-m06 relu-n6-q2-m06 \
  relu-n4-d3-q3 topk-n4-d3-q3 jumprelu-n4-d3-q3 relu-n6-d3-q2
AT_ARGS_relu-n3-q2 := --dim 2 --features 3 --latents 2 --activation relu
AT_ARGS_relu-n4-q2 := --dim 2 --features 4 --latents 2 --activation relu
AT_ARGS_relu-n4-q3 := --dim 2 --features 4 --latents 3 --activation relu
AT_ARGS_relu-n4-q2-m06 := --dim 2 --features 4 --latents 2 --activation relu --interference 0.6
AT_ARGS_relu-n5-q2-m06 := --dim 2 --features 5 --latents 2 --activation relu --interference 0.6
AT_ARGS_relu-n6-q2-m06 := --dim 2 --features 6 --latents 2 --activation relu --interference 0.6
AT_ARGS_jumprelu-n3-q2 := --dim 2 --features 3 --latents 2 --activation jumprelu:0.5
AT_ARGS_jumprelu-n4-q2 := --dim 2 --features 4 --latents 2 --activation jumprelu:0.5
AT_ARGS_topk-n3-q2 := --dim 2 --features 3 --latents 2 --activation topk-relu:1
AT_ARGS_topk-n4-q3 := --dim 2 --features 4 --latents 3 --activation topk-relu:2
# n_p = 3: 20,000 boxes a piece (2,000 at SCALE=tiny, where the tests only exercise the path)
AT_D3 := --dim 3 --bnb-nodes $(if $(filter tiny,$(SCALE)),2000,20000)
AT_ARGS_relu-n3-d3-q2 := $(AT_D3) --features 3 --latents 2 --activation relu
AT_ARGS_relu-n4-d3-q2 := $(AT_D3) --features 4 --latents 2 --activation relu
AT_ARGS_relu-n5-d3-q2 := $(AT_D3) --features 5 --latents 2 --activation relu
AT_ARGS_relu-n6-d3-q2 := $(AT_D3) --features 6 --latents 2 --activation relu
AT_ARGS_relu-n4-d3-q3 := $(AT_D3) --features 4 --latents 3 --activation relu
AT_ARGS_jumprelu-n4-d3-q2 := $(AT_D3) --features 4 --latents 2 --activation jumprelu:0.5
AT_ARGS_topk-n4-d3-q2 := $(AT_D3) --features 4 --latents 2 --activation topk-relu:1
AT_ARGS_topk-n4-d3-q3 := $(AT_D3) --features 4 --latents 3 --activation topk-relu:2
AT_ARGS_jumprelu-n4-d3-q3 := $(AT_D3) --features 4 --latents 3 --activation jumprelu:0.5
# Does feature anchoring lower the spurious share, as the paper suggests?  Anchored Adam (one latent of two pulled
# to feature 0, weight 0.1, eq. 26) is judged by the basin it ends in (the partial minimum of L~ reached from its
# end point), so each anchored cell has a twin without anchoring judged the same way (-basin).
AT_ARGS_relu-n3-q2-basin := $(AT_ARGS_relu-n3-q2) --basin
AT_ARGS_relu-n3-q2-fa := $(AT_ARGS_relu-n3-q2) --anchors 1
AT_ARGS_relu-n4-q2-basin := $(AT_ARGS_relu-n4-q2) --basin
AT_ARGS_relu-n4-q2-fa := $(AT_ARGS_relu-n4-q2) --anchors 1
AT_ARGS_jumprelu-n4-q2-basin := $(AT_ARGS_jumprelu-n4-q2) --basin
AT_ARGS_jumprelu-n4-q2-fa := $(AT_ARGS_jumprelu-n4-q2) --anchors 1
ifeq ($(SCALE),tiny)
AT_INSTANCES := 4
AT_NRUNS := 4
AT_RES := $(OUT)/atlas-results
else
AT_INSTANCES := 200
AT_NRUNS := 20
AT_RES := paper-repro/results/atlas
endif
AT := $(OUT)/atlas

# the command for cell 1's seeds 2 (A:B), run by the cell's rule and by `make jobs`' lines alike
at_cmd = $(SDLAB) atlas $(AT_ARGS_$(1)) --sgd-runs $(AT_NRUNS) --seeds $(2) --quiet --out $(AT)/$(1) > /dev/null

# a cell: its instances (resumed from what $(AT)/CELL holds), then its results
define AT_CELL
$(AT_RES)/$(1)/summary.tsv:
	@mkdir -p $(AT) $(AT_RES)/$(1)
	$(call at_cmd,$(1),1:$(AT_INSTANCES))
	cp $(AT)/$(1)/cell.json $(AT)/$(1)/instances.tsv $(AT)/$(1)/summary.json $(AT_RES)/$(1)/
	cp $(AT)/$(1)/summary.tsv $(AT_RES)/$(1)/summary.tsv
endef
$(foreach c,$(AT_CELLS),$(eval $(call AT_CELL,$(c))))
AT_SUMMARIES := $(foreach c,$(AT_CELLS),$(AT_RES)/$(c)/summary.tsv)

# The atlas as a job list (`make jobs`, beside the training runs): each cell whose results are not there yet, its
# seeds in blocks of AT_BLOCK, one self-contained command a block; each writes only its own instance files (and
# the cell's gathered files, atomically), and the cell's rule above then finds every instance and only gathers.
AT_BLOCK := $(if $(filter tiny,$(SCALE)),2,20)
AT_TODO := $(foreach c,$(AT_CELLS),$(if $(wildcard $(AT_RES)/$(c)/summary.tsv),,$(c)))
define at_jobs
for s in $$(seq 1 $(AT_BLOCK) $(AT_INSTANCES)); do e=$$((s + $(AT_BLOCK) - 1)); [ $$e -le $(AT_INSTANCES) ] || \
  e=$(AT_INSTANCES); printf '%s\n' 'mkdir -p $(AT) && $(call at_cmd,$(1),'"$$s:$$e"')'; done;
endef

# one row a cell: the five classes' fractions and Wilson intervals, for the figure
$(OUT)/atlas.tsv: $(AT_SUMMARIES)
	@mkdir -p $(OUT)
	{ printf '# cell'; for k in global spurious spurious_dead undecided unconverged; do printf '\t%s\t%s_lo\t%s_hi' $$k $$k $$k; \
	  done; printf '\n'; for c in $(AT_CELLS); do printf '%s' $$c; awk -F'\t' '!/^#/ { printf "\t%s\t%s\t%s", $$3, $$4, $$5 }' \
	  $(AT_RES)/$$c/summary.tsv; printf '\n'; done; } > $@.tmp && mv $@.tmp $@
$(OUT)/atlas.png $(OUT)/atlas.pdf: $(OUT)/atlas%: $(OUT)/atlas.tsv figures/atlas.gp figures/style.gp
	$(GNUPLOT) -e "data='$(OUT)/atlas.tsv'; instances=$(AT_INSTANCES); runs=$(AT_NRUNS); outfile='$@'" figures/atlas.gp

.PHONY: atlas
atlas: $(OUT)/atlas.png $(OUT)/atlas.pdf
AT_INPUTS := $(AT_SUMMARIES) $(OUT)/atlas.tsv $(OUT)/atlas.png $(OUT)/atlas.pdf
