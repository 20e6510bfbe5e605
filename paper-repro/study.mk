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
ST_BASE := --latents $(T1_Q) --batch 256 --warmup 100 --seed 1 --threads 1 --quiet --force
ST_CONV := --converge 0.01 --epochs $(ST_CAP)
ST_K2 := $(shell expr $(T1_K) \* 2)
ST_K4 := $(shell expr $(T1_K) \* 4)
ST_LRS := 3e-4 1e-3 3e-3
ST_L1S := 0.1 0.3 1 3 10 30
ST_L0S := 0.001 0.003 0.01 0.03 0.1 0.3

# name: one study run, with the arguments in ST_ARGS_name (commas cannot pass through $(call))
define ST_RUN
$(ST)/runs/$(1)/metrics.json: $(ST_DATA)/meta.json
	@mkdir -p $(ST)/runs
	$(SDLAB) train --data $(ST_DATA) $(ST_ARGS_$(1)) $(ST_BASE) --out $(ST)/runs/$(1)
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
# the baselines' sparsity coefficients (R5)
$(foreach v,$(ST_L1S),$(eval ST_ARGS_relu-l1-$(v) := --method relu --l1 $(v) $(ST_CONV) --lr 1e-3))
$(foreach v,$(ST_L1S),$(eval ST_ARGS_relu-b-l1-$(v) := --method relu --biases --l1 $(v) $(ST_CONV) --lr 1e-3))
$(foreach v,$(ST_L0S),$(eval ST_ARGS_jumprelu-l0-$(v) := --method jumprelu --theta 0.1 --bandwidth 0.05 --l0 $(v) \
  $(ST_CONV) --lr 1e-3))
ST_TRAINED := long-topk long-batchtopk long-matryoshka $(addprefix lr-,$(ST_LRS)) k2x k4x biases untied \
  $(addprefix relu-l1-,$(ST_L1S)) $(addprefix relu-b-l1-,$(ST_L1S)) $(addprefix jumprelu-l0-,$(ST_L0S))
$(foreach n,$(ST_TRAINED),$(eval $(call ST_RUN,$(n))))
# schedule: linear and cosine decay over the epochs R1 gave at lr 1e-3
define ST_SCHED
$(ST)/runs/sched-$(1)/metrics.json: $(ST)/runs/lr-1e-3/metrics.json
	@mkdir -p $(ST)/runs
	$(SDLAB) train --data $(ST_DATA) --method topk --k $(T1_K) --lr 1e-3 --decay $(1) \
	  --epochs $$$$(python3 paper-repro/study.py epochs $(ST)/runs/lr-1e-3/metrics.json) $(ST_BASE) --out $(ST)/runs/sched-$(1)
endef
$(foreach d,linear cosine,$(eval $(call ST_SCHED,$(d))))

ST_NAMES := $(ST_TRAINED) sched-linear sched-cosine
ST_RUNS := $(foreach n,$(ST_NAMES),$(ST)/runs/$(n)/metrics.json)

# the per-epoch curves, the summary and the recipe the rules choose, into paper-repro/results/study-SCALE/ (to be
# committed: Table 1 reads its recipe.mk, the report its tables), with every run's metrics.json
ST_RES := paper-repro/results/study-$(SCALE)
$(ST_RES)/recipe.tsv: $(ST_RUNS) paper-repro/study.py
	@mkdir -p $(ST_RES)
	for n in $(ST_NAMES); do mkdir -p $(ST_RES)/runs/$$n && cp $(ST)/runs/$$n/metrics.json $(ST_RES)/runs/$$n/; done
	ST=$(ST_RES) K=$(T1_K) LRS="$(ST_LRS)" L1S="$(ST_L1S)" L0S="$(ST_L0S)" ST_CAP=$(ST_CAP) \
	  python3 paper-repro/study.py tables > $@.tmp && mv $@.tmp $@
# the figure reads the committed curves only, so that make paper draws it without the study's runs
$(OUT)/study-$(SCALE).png $(OUT)/study-$(SCALE).pdf: $(OUT)/study-$(SCALE)%: $(ST_RES)/curves/r1.tsv figures/study.gp \
  figures/style.gp
	@mkdir -p $(OUT)
	$(GNUPLOT) -e "dir='$(ST_RES)/curves'; k=$(T1_K); outfile='$@'" figures/study.gp

.PHONY: study
study: $(ST_RES)/recipe.tsv
	$(MAKE) --no-print-directory -f paper-repro/paper.mk SDLAB=$(SDLAB) SCALE=$(SCALE) OUT=$(OUT) \
	  $(OUT)/study-$(SCALE).png $(OUT)/study-$(SCALE).pdf

# make paper draws the committed study's figure without rerunning it
ifneq ($(wildcard $(ST_RES)/curves/r1.tsv),)
ST_FIGS := $(OUT)/study-$(SCALE).png $(OUT)/study-$(SCALE).pdf
endif
