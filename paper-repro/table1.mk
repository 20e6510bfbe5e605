# Table 1 and Figure 6: feature recovery on the Linear Representation Bench, every method with and without
# feature anchoring.  Included by paper.mk; SCALE=quick (default), full (the paper's sizes) or tiny.
#
# The paper leaves the training recipe open (PAPER.md §5.3).  sdlab's is chosen by the rules R1-R6 stated in
# study.mk and applied by `make study`: each run trains until its mean loss improves by less than 1% an epoch
# (R1, --converge 0.01, cap 200 epochs, constant rate after 100 warm-up steps), at R2's learning rate, k = n_q / 500
# (R3), the theory's model (R4: Adam, batch 256, unit-norm decoder, tied initialisation, no biases), ReLU's L1 and
# JumpReLU's L0 coefficient at matched sparsity (R5).  R2 and R5's choices are read from the study's committed
# paper-repro/results/study-SCALE/recipe.mk (at SCALE=full, the quick study's until a full one is committed, as
# the README says; the report does not yet name the recipe file a row used).  Matryoshka eq. 9 with k/2, k, 2k and equal weights.  Transcoder and crosscoder: TopK
# with the same k on the bench's transcoder target and on a crosscoder of two sources.  Anchoring: n/10 random
# ground-truth features (100 of 1000 as in Tables 4-7), lambda_anchor 0.1.  Both rows of a method are evaluated on
# the features its anchored run did not anchor (Table 1's caption); encoder rows and decoder columns, cosine.
# At SCALE=full each row trains on 2 threads, checkpoints every 2000 steps and resumes a checkpoint it finds, and
# its results (metrics, curves, configs, evaluations, the command) are copied into paper-repro/results/full/,
# which REPORT.md reads at every scale without retraining.

SCALE ?= quick
ifeq ($(SCALE),full)
T1_N := 1000
T1_D := 768
T1_Q := 16000
T1_SAMPLES := 100000
T1_K := 32
else ifeq ($(SCALE),tiny)
T1_N := 40
T1_D := 32
T1_Q := 200
T1_SAMPLES := 4096
T1_K := 2
else
T1_N := 250
T1_D := 192
T1_Q := 4000
T1_SAMPLES := 50000
T1_K := 8
endif
T1_ANCHORS := $(shell expr $(T1_N) / 10)
# Matryoshka's nested sizes around k: k/2, k, 2k
matryoshka_ks = $(shell expr $(1) / 2),$(1),$(shell expr $(1) \* 2)
T1 := $(OUT)/table1-$(SCALE)
T1_RESULTS ?= paper-repro/results
# the recipe's choices (R2, R5): this scale's study, else the quick study's, else the rules' starting values
T1_RECIPE := $(firstword $(wildcard paper-repro/results/study-$(SCALE)/recipe.mk paper-repro/results/study-quick/recipe.mk))
ifneq ($(T1_RECIPE),)
include $(T1_RECIPE)
endif
T1_LR ?= 1e-3
T1_RELU ?= --l1 0.1
T1_JUMPRELU ?= --theta 0.1 --bandwidth 0.05 --l0 0.1
ifeq ($(SCALE),full)
T1_THREADS := 2
T1_CKPT := --checkpoint-every 2000
else
T1_THREADS := 1
T1_CKPT :=
endif
T1_TRAIN := --latents $(T1_Q) --converge 0.01 --epochs 200 --batch 256 --lr $(T1_LR) --seed 1 --threads $(T1_THREADS) \
  --quiet $(T1_CKPT)

T1_METHODS := relu jumprelu topk batchtopk matryoshka transcoder crosscoder
T1_DATA_relu := sae
T1_DATA_jumprelu := sae
T1_DATA_topk := sae
T1_DATA_batchtopk := sae
T1_DATA_matryoshka := sae
T1_DATA_transcoder := transcoder
T1_DATA_crosscoder := crosscoder
T1_ARGS_relu := --method relu $(T1_RELU)
T1_ARGS_jumprelu := --method jumprelu $(T1_JUMPRELU)
T1_ARGS_topk := --method topk --k $(T1_K)
T1_ARGS_batchtopk := --method batchtopk --k $(T1_K)
T1_ARGS_matryoshka := --method matryoshka --ks $(call matryoshka_ks,$(T1_K)) --lambdas 1,1,1
T1_ARGS_transcoder := --method topk --k $(T1_K)
T1_ARGS_crosscoder := --method topk --k $(T1_K)

T1_BENCH_FILES := $(T1)/data/sae/meta.json $(T1)/data/transcoder/meta.json $(T1)/data/crosscoder/meta.json
T1_BENCH := --features $(T1_N) --dim $(T1_D) --samples $(T1_SAMPLES) --sparsity 0.99 --interference 0.1 \
  --seed 1 --quiet --force
$(T1)/data/sae/meta.json:
	@mkdir -p $(T1)/data
	$(SDLAB) lrb $(T1_BENCH) --out $(T1)/data/sae
$(T1)/data/transcoder/meta.json:
	@mkdir -p $(T1)/data
	$(SDLAB) lrb $(T1_BENCH) --target transcoder --out $(T1)/data/transcoder
$(T1)/data/crosscoder/meta.json:
	@mkdir -p $(T1)/data
	$(SDLAB) lrb $(T1_BENCH) --target crosscoder --sources 2 --out $(T1)/data/crosscoder

# A row's training command as it is kept with its results (sdlab for the binary's path), and the shell command (no
# single quotes: make jobs prints it inside them) that
# stores it in $(T1)/cmd/ROW only when it differs from the stored one: a run depends on that file, so a changed
# recipe retrains the row, and the checkpoint an interrupted run of the previous command left is dropped.
t1_cmd = $(subst $(SDLAB),sdlab,$(T1_CMD_$(1)))
t1_stamp = mkdir -p $(T1)/cmd && c="$(call t1_cmd,$(1))" && { printf "%s\n" "$$c" | cmp -s - $(T1)/cmd/$(1) || \
  { rm -rf $(T1)/runs/$(1).partial && printf "%s\n" "$$c" > $(T1)/cmd/$(1); }; }
FORCE:

# One method's run (variant "" or "-fa"): trains (or resumes a checkpoint left by an interrupted run of the same
# command), then its evaluation: JSON and the tau sweep beside it.  T1_CMD_m-v is the training command.
define T1_RUN
T1_CMD_$(1)$(2) := $(SDLAB) train --data $(T1)/data/$(T1_DATA_$(1)) $(T1_ARGS_$(1)) $(T1_TRAIN) \
  $(if $(2),--anchors $(T1_ANCHORS) --anchor-weight 0.1) --out $(T1)/runs/$(1)$(2)
T1_JOB_$(1)$(2) := $$(call t1_stamp,$(1)$(2)) && mkdir -p $(T1)/runs $(T1)/times && t0=$$$$(date +%s) && \
  { if [ -f $(T1)/runs/$(1)$(2).partial/checkpoint.bin ]; then $(SDLAB) train --resume $(T1)/runs/$(1)$(2) --quiet; \
  else rm -f $(T1)/times/$(1)$(2).tsv && $$(T1_CMD_$(1)$(2)) --force; fi; \
  s=$$$$?; printf "%s\t%s\n" "$$$$t0" "$$$$(date +%s)" >> $(T1)/times/$(1)$(2).tsv; exit $$$$s; }
T1_JOBS += $(1)$(2)
$(T1)/cmd/$(1)$(2): FORCE
	@$$(call t1_stamp,$(1)$(2))
$(T1)/runs/$(1)$(2)/metrics.json: $(T1)/data/$(T1_DATA_$(1))/meta.json $(T1)/cmd/$(1)$(2)
	$$(T1_JOB_$(1)$(2))
$(T1)/eval/$(1)$(2).json: $(T1)/runs/$(1)$(2)/metrics.json $(T1)/runs/$(1)-fa/metrics.json
	@mkdir -p $(T1)/eval
	$(SDLAB) eval --truth $(T1)/data/$(T1_DATA_$(1))/W_p.npy --encoder $(T1)/runs/$(1)$(2)/W_E.npy \
	  --decoder $(T1)/runs/$(1)$(2)/W_D.npy $(if $(filter sae,$(T1_DATA_$(1))),,--truth-target \
	  $(T1)/data/$(T1_DATA_$(1))/W_r.npy) --exclude $(T1)/runs/$(1)-fa/anchors.npy \
	  --sweep $(T1)/eval/$(1)$(2).tsv --out $$@ > /dev/null
# the row's results without its weights, for paper-repro/results/SCALE/ (committed at the paper's sizes)
$(T1_RESULTS)/$(SCALE)/eval/$(1)$(2).json: $(T1)/eval/$(1)$(2).json
	@mkdir -p $(T1_RESULTS)/$(SCALE)/runs/$(1)$(2) $(T1_RESULTS)/$(SCALE)/eval $(T1_RESULTS)/$(SCALE)/data/$(T1_DATA_$(1))
	cp $(T1)/runs/$(1)$(2)/metrics.json $(T1)/runs/$(1)$(2)/curve.tsv $(T1)/runs/$(1)$(2)/cfg.json \
	  $(T1_RESULTS)/$(SCALE)/runs/$(1)$(2)/
	cp $(T1)/data/$(T1_DATA_$(1))/meta.json $(T1_RESULTS)/$(SCALE)/data/$(T1_DATA_$(1))/
	cp $(T1)/cmd/$(1)$(2) $(T1_RESULTS)/$(SCALE)/runs/$(1)$(2)/command.txt
	if [ -f $(T1)/times/$(1)$(2).tsv ]; then cp $(T1)/times/$(1)$(2).tsv $(T1_RESULTS)/$(SCALE)/runs/$(1)$(2)/seconds.tsv; fi
	cp $(T1)/eval/$(1)$(2).tsv $(T1_RESULTS)/$(SCALE)/eval/
	cp $$< $$@
endef
$(foreach m,$(T1_METHODS),$(eval $(call T1_RUN,$(m),))$(eval $(call T1_RUN,$(m),-fa)))

T1_EVALS := $(foreach m,$(T1_METHODS),$(T1)/eval/$(m).json $(T1)/eval/$(m)-fa.json)
ifeq ($(SCALE),full)
T1_EVALS += $(foreach m,$(T1_METHODS),$(T1_RESULTS)/full/eval/$(m).json $(T1_RESULTS)/full/eval/$(m)-fa.json)
endif

# Figure 6: M_GT of the encoder rows against tau, every method, without (solid) and with anchoring (dashed).
$(OUT)/figure6-$(SCALE).png $(OUT)/figure6-$(SCALE).pdf: $(OUT)/figure6-$(SCALE)%: $(T1_EVALS) figures/fig6_mgt_tau.gp figures/style.gp
	$(GNUPLOT) -e "dir='$(T1)/eval'; methods='$(T1_METHODS)'; outfile='$@'" figures/fig6_mgt_tau.gp

# The committed rows at the paper's sizes (paper-repro/results/full), set in every report without retraining:
# the methods whose two rows are both there, and their Figure 6.
T1_FULL := paper-repro/results/full
ifneq ($(SCALE),full)
T1_FULL_METHODS := $(strip $(foreach m,$(T1_METHODS),$(if $(wildcard $(T1_FULL)/eval/$(m).tsv),$(if $(wildcard \
  $(T1_FULL)/eval/$(m)-fa.tsv),$(m)))))
ifneq ($(T1_FULL_METHODS),)
T1_FULL_FIGS := $(OUT)/figure6-full.png $(OUT)/figure6-full.pdf
$(T1_FULL_FIGS): $(OUT)/figure6-full%: figures/fig6_mgt_tau.gp figures/style.gp
	@mkdir -p $(OUT)
	$(GNUPLOT) -e "dir='$(T1_FULL)/eval'; methods='$(T1_FULL_METHODS)'; outfile='$@'" figures/fig6_mgt_tau.gp
endif
endif
