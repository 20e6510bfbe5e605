# The reproduction study behind Table 1 (make study): what the paper leaves open, varied one thing at a time on
# Table 1's bench (table1.mk's data and sizes at this SCALE), with encoder rows and decoder columns scored every
# epoch.  Included by paper.mk after table1.mk.  `make study` trains into $(OUT)/study-$(SCALE)/runs and writes
# its results into paper-repro/results/study-$(SCALE)/ (summary, curves, recipe.tsv and the recipe.mk Table 1
# reads, every run's metrics.json) and the figure $(OUT)/study-$(SCALE).png; paper-repro/study.py sets the section
# of REPORT.md from the committed results.
#
# The rules that choose Table 1's recipe, fixed before any of the study's results existed (commit history):
#   R1 budget: train until the first epoch whose mean training loss is less than 1% below the previous epoch's,
#      both after the warm-up (sdlab train --converge 0.01), at most ST_CAP epochs, learning rate constant after
#      100 warm-up steps.
#   R2 learning rate: of 3e-4, 1e-3 and 3e-3, the one whose TopK run ends (R1) with the lowest mean training loss;
#      every method uses it.
#   R3 k = n_q / 500 (0.2%, the smallest of Table 7's activation rates) for TopK, BatchTopK, transcoder and
#      crosscoder; Matryoshka k/2, k, 2k with equal weights.
#   R4 the theory's model: no biases, tied initialisation W_E = W_D^T, unit-norm decoder columns, batch 256, Adam.
#   R5 ReLU's L1 and JumpReLU's L0 coefficients: of the grids below, the one whose run (R1) ends with L0 closest to
#      k in ratio (|log(L0 / k)| smallest); a row whose closest L0 is not within 20% of k is reported as having no
#      baseline at matched sparsity.  ReLU is swept without and with biases (--biases): added after a pilot at
#      SCALE=tiny, before any quick or full run, showed that without an encoder bias a ReLU code is zero only where
#      its direction is non-positive, so L1 shrinks the codes' magnitudes but not L0 (L0 about 20 of 200 latents
#      for every L1 from 1 to 30).
#   R5b refining R5's grid (added 2026-12-06, after the quick study's JumpReLU grid left k unmatched: L0 26 at
#      0.001, 5.2 at 0.003 for k = 8; before any run that it adds): for a method none of whose grid runs ends
#      within 20% of k, take its sweep whose grid run is closest to k (ReLU: with or without biases); if two
#      adjacent coefficients of that sweep bracket k (L0 above k at the smaller, below at the larger), train at
#      their geometric mean, else extend the sweep past its end on k's side by the grid's step (x3 or x1/3, the
#      ratio of its last two values); repeat on every run so far, at most 4 added runs, stopping at the first
#      within 20% of k.  R5 then chooses among the grid and the added runs.
#   R6 both readings are reported: the paper's (encoder rows, cosine similarity, tau = 0.95) and the decoder
#      columns'.
# The study's other runs (a longer budget, decaying schedules, larger k, biases, untied initialisation) only show
# what each choice changes; none of them feeds the recipe.

ifeq ($(SCALE),full)
ST_LONG := 60
else ifeq ($(SCALE),tiny)
ST_LONG := 6
else
ST_LONG := 100
endif
ST_CAP := 200
ST := $(OUT)/study-$(SCALE)
ST_DATA := $(T1)/data/sae
ST_BASE := --latents $(T1_Q) --batch 256 --warmup 100 --seed 1 --threads 1 --quiet --force $(T1_CKPT)
ST_CONV := --converge 0.01 --epochs $(ST_CAP)
ST_K2 := $(shell expr $(T1_K) \* 2)
ST_K4 := $(shell expr $(T1_K) \* 4)
ST_LRS := 3e-4 1e-3 3e-3
ST_L1S := 0.1 0.3 1 3 10 30
ST_L0S := 0.001 0.003 0.01 0.03 0.1 0.3

# trains the run directory $(1) with the arguments $(2), or resumes the checkpoint an interrupted run left there
# (at SCALE=full the runs checkpoint, as Table 1's do)
st_train = if [ -f $(1).partial/checkpoint.bin ]; then $(SDLAB) train --resume $(1) --quiet; \
  else $(SDLAB) train --data $(ST_DATA) $(2) $(ST_BASE) --out $(1); fi

# name: one study run, with the arguments in ST_ARGS_name.  They reach st_train as a variable reference, expanded
# after $(call) has split its arguments at the commas: Matryoshka's "--ks 16,32,64 --lambdas 1,1,1" expanded first
# was cut at its first comma (the run then trained with --ks 16 and the defaults)
define ST_RUN
$(ST)/runs/$(1)/metrics.json: $(ST_DATA)/meta.json
	@mkdir -p $(ST)/runs
	$$(call st_train,$(ST)/runs/$(1),$$(ST_ARGS_$(1)))
endef

# budget: each TopK-family method for ST_LONG epochs at a constant rate (R1's stopping point is read off its
# epochs: with a constant rate the converged run is a prefix of the long one)
ST_ARGS_long-topk := --method topk --k $(T1_K) --epochs $(ST_LONG) --decay none --lr 1e-3
ST_ARGS_long-batchtopk := --method batchtopk --k $(T1_K) --epochs $(ST_LONG) --decay none --lr 1e-3
ST_ARGS_long-matryoshka := --method matryoshka --ks $(call matryoshka_ks,$(T1_K)) --lambdas 1,1,1 \
  --epochs $(ST_LONG) --decay none --lr 1e-3
# learning rate (R2)
$(foreach lr,$(ST_LRS),$(eval ST_ARGS_lr-$(lr) := --method topk --k $(T1_K) $(ST_CONV) --lr $(lr)))
# k (Table 7's rates 0.4% and 0.8%), biases, untied initialisation
ST_ARGS_k2x := --method topk --k $(ST_K2) $(ST_CONV) --lr 1e-3
ST_ARGS_k4x := --method topk --k $(ST_K4) $(ST_CONV) --lr 1e-3
ST_ARGS_biases := --method topk --k $(T1_K) $(ST_CONV) --lr 1e-3 --biases
ST_ARGS_untied := --method topk --k $(T1_K) $(ST_CONV) --lr 1e-3 --no-tied-init
# the baselines' sparsity sweeps (R5): name prefix, the arguments the coefficient follows, the grid
ST_SWEEPS := relu-l1 relu-b-l1 jumprelu-l0
ST_SWEEP_relu-l1 := --method relu --l1
ST_SWEEP_relu-b-l1 := --method relu --biases --l1
ST_SWEEP_jumprelu-l0 := --method jumprelu --theta 0.1 --bandwidth 0.05 --l0
ST_GRID_relu-l1 := $(ST_L1S)
ST_GRID_relu-b-l1 := $(ST_L1S)
ST_GRID_jumprelu-l0 := $(ST_L0S)
ST_R5 := $(foreach s,$(ST_SWEEPS),$(addprefix $(s)-,$(ST_GRID_$(s))))
$(foreach s,$(ST_SWEEPS),$(foreach v,$(ST_GRID_$(s)),$(eval ST_ARGS_$(s)-$(v) := $(ST_SWEEP_$(s)) $(v) $(ST_CONV) \
  --lr 1e-3)))
# in the order make -j starts them: the recipe's runs (R2, R5) first
ST_TRAINED := $(addprefix lr-,$(ST_LRS)) $(ST_R5) long-topk long-batchtopk long-matryoshka k2x k4x biases untied
$(foreach n,$(ST_TRAINED),$(eval $(call ST_RUN,$(n))))
# R5b: the runs added to a sweep, once its method's grid has run (a method's runs are those named after it);
# $(ST)/refined-SWEEP marks the sweep done, its added runs are $(ST)/runs/SWEEP-COEFFICIENT
define ST_REFINE
$(ST)/refined-$(1): $(foreach n,$(filter $(firstword $(subst -, ,$(1)))-%,$(ST_R5)),$(ST)/runs/$(n)/metrics.json) \
  paper-repro/study.py
	for i in 1 2 3 4 5; do \
	  c=$$$$(K=$(T1_K) L1S="$(ST_L1S)" L0S="$(ST_L0S)" python3 paper-repro/study.py refine $(ST)/runs $(1)) || exit 1; \
	  [ -n "$$$$c" ] || break; \
	  $$(call st_train,$(ST)/runs/$(1)-$$$$c,$(ST_SWEEP_$(1)) $$$$c $(ST_CONV) --lr 1e-3) || exit 1; \
	done
	touch $$@
endef
$(foreach s,$(ST_SWEEPS),$(eval $(call ST_REFINE,$(s))))
# schedule: linear and cosine decay over the epochs R1 gave at lr 1e-3
define ST_SCHED
$(ST)/runs/sched-$(1)/metrics.json: $(ST)/runs/lr-1e-3/metrics.json
	@mkdir -p $(ST)/runs
	$$(call st_train,$(ST)/runs/sched-$(1),--method topk --k $(T1_K) --lr 1e-3 --decay $(1) \
	  --epochs $$$$(python3 paper-repro/study.py epochs $(ST)/runs/lr-1e-3/metrics.json))
endef
$(foreach d,linear cosine,$(eval $(call ST_SCHED,$(d))))

ST_NAMES := $(ST_TRAINED) sched-linear sched-cosine
ST_RUNS := $(foreach n,$(ST_NAMES),$(ST)/runs/$(n)/metrics.json) $(addprefix $(ST)/refined-,$(ST_SWEEPS))

# the per-epoch curves, the summary and the recipe the rules choose, into paper-repro/results/study-SCALE/ (to be
# committed: Table 1 reads its recipe.mk, the report its tables), with every finished run's metrics.json.  The
# recipe needs only the runs rules R2 and R5 read (the learning-rate runs, the sweeps and R5b's added runs), so
# Table 1 can train before the study's other runs end; the summary is written again once they have.
ST_RES := paper-repro/results/study-$(SCALE)
ST_RECIPE_RUNS := $(foreach n,$(addprefix lr-,$(ST_LRS)) $(ST_R5),$(ST)/runs/$(n)/metrics.json) \
  $(addprefix $(ST)/refined-,$(ST_SWEEPS))
st_tables = mkdir -p $(ST_RES) && \
  for d in $(ST)/runs/*/; do n=$$(basename $$d); [ -f $$d/metrics.json ] || continue; \
    mkdir -p $(ST_RES)/runs/$$n && cp $(ST)/runs/$$n/metrics.json $(ST_RES)/runs/$$n/ || exit 1; done && \
  ST=$(ST_RES) K=$(T1_K) LRS="$(ST_LRS)" L1S="$(ST_L1S)" L0S="$(ST_L0S)" ST_CAP=$(ST_CAP) \
    python3 paper-repro/study.py tables > $(ST_RES)/recipe.tsv.tmp && mv $(ST_RES)/recipe.tsv.tmp $(ST_RES)/recipe.tsv
$(ST_RES)/recipe.tsv: $(ST_RECIPE_RUNS) paper-repro/study.py
	$(st_tables)
$(ST_RES)/summary.tsv: $(ST_RUNS) $(ST_RES)/recipe.tsv
	$(st_tables)
# the figure reads the committed curves only, so that make paper draws it without the study's runs (k from the
# recipe's R3 line, written with the curves; not a prerequisite, whose rule would run the study); make paper draws this scale's and, below the paper's scale, the paper's scale's when committed
define ST_FIG
$(OUT)/study-$(1).png $(OUT)/study-$(1).pdf: $(OUT)/study-$(1)%: paper-repro/results/study-$(1)/curves/r1.tsv \
  figures/study.gp figures/style.gp
	@mkdir -p $(OUT)
	$(GNUPLOT) -e "dir='paper-repro/results/study-$(1)/curves'; \
	  k=$$$$(awk -F'\t' '$$$$1 == "R3" { print $$$$3 }' paper-repro/results/study-$(1)/recipe.tsv); outfile='$$@'" \
	  figures/study.gp
endef
ST_FIG_SCALES := $(sort $(SCALE) $(if $(filter-out full,$(SCALE)),full))
$(foreach s,$(ST_FIG_SCALES),$(eval $(call ST_FIG,$(s))))

.PHONY: study study-recipe
study-recipe: $(ST_RES)/recipe.tsv
study: $(ST_RES)/summary.tsv
	$(MAKE) --no-print-directory -f paper-repro/paper.mk SDLAB=$(SDLAB) SCALE=$(SCALE) OUT=$(OUT) \
	  $(OUT)/study-$(SCALE).png $(OUT)/study-$(SCALE).pdf

# make paper draws the committed studies' figures without rerunning them
ST_FIGS := $(foreach s,$(ST_FIG_SCALES),$(if $(wildcard paper-repro/results/study-$(s)/curves/r1.tsv),\
  $(OUT)/study-$(s).png $(OUT)/study-$(s).pdf))
