# Table 1 and Figure 6: feature recovery on the Linear Representation Bench, every method with and without
# feature anchoring.  Included by paper.mk; SCALE=quick (default) or SCALE=full (the paper's sizes).
#
# The paper leaves the training hyperparameters open (PAPER.md §5.3); sdlab's choices, the same for every
# method: Adam, lr 1e-3, 100 warm-up steps then linear decay, batch 256, unit-norm decoder, tied
# initialisation, no biases (as in the theory), seed 1, one thread per run (make -j2 runs two at once).
# TopK k = n_q / 500 (the paper's smallest ablation ratio, 32 of 16,000); BatchTopK the same k; Matryoshka
# eq. 9 with k/2, k, 2k and equal weights; ReLU L1 0.1; JumpReLU theta 0.1, bandwidth 0.05, L0 0.1.
# Transcoder and crosscoder: TopK with the same k on the bench's transcoder target and on a crosscoder of
# two sources (n_p split between them).  Anchoring: n/10 random ground-truth features (100 of 1000 as in
# Tables 4-7), lambda_anchor 0.1.  Both rows of a method are evaluated on the features its anchored run
# did not anchor (Table 1's caption), with encoder rows and cosine similarity (§5.1).

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
T1_EPOCHS ?= 10
T1_ANCHORS := $(shell expr $(T1_N) / 10)
# Matryoshka's nested sizes around k: k/2, k, 2k
matryoshka_ks = $(shell expr $(1) / 2),$(1),$(shell expr $(1) \* 2)
T1 := $(OUT)/table1-$(SCALE)
T1_TRAIN := --latents $(T1_Q) --epochs $(T1_EPOCHS) --batch 256 --lr 1e-3 --seed 1 --threads 1 --quiet --force

T1_METHODS := relu jumprelu topk batchtopk matryoshka transcoder crosscoder
T1_DATA_relu := sae
T1_DATA_jumprelu := sae
T1_DATA_topk := sae
T1_DATA_batchtopk := sae
T1_DATA_matryoshka := sae
T1_DATA_transcoder := transcoder
T1_DATA_crosscoder := crosscoder
T1_ARGS_relu := --method relu --l1 0.1
T1_ARGS_jumprelu := --method jumprelu --theta 0.1 --bandwidth 0.05 --l0 0.1
T1_ARGS_topk := --method topk --k $(T1_K)
T1_ARGS_batchtopk := --method batchtopk --k $(T1_K)
T1_ARGS_matryoshka := --method matryoshka --ks $(call matryoshka_ks,$(T1_K)) --lambdas 1,1,1
T1_ARGS_transcoder := --method topk --k $(T1_K)
T1_ARGS_crosscoder := --method topk --k $(T1_K)

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

# One method's run (variant "" or "-fa"), and its evaluation: JSON and the tau sweep beside it.
define T1_RUN
$(T1)/runs/$(1)$(2)/metrics.json: $(T1)/data/$(T1_DATA_$(1))/meta.json
	@mkdir -p $(T1)/runs
	$(SDLAB) train --data $(T1)/data/$(T1_DATA_$(1)) $(T1_ARGS_$(1)) $(T1_TRAIN) \
	  $(if $(2),--anchors $(T1_ANCHORS) --anchor-weight 0.1) --out $(T1)/runs/$(1)$(2)
$(T1)/eval/$(1)$(2).json: $(T1)/runs/$(1)$(2)/metrics.json $(T1)/runs/$(1)-fa/metrics.json
	@mkdir -p $(T1)/eval
	$(SDLAB) eval --truth $(T1)/data/$(T1_DATA_$(1))/W_p.npy --encoder $(T1)/runs/$(1)$(2)/W_E.npy \
	  --decoder $(T1)/runs/$(1)$(2)/W_D.npy $(if $(filter sae,$(T1_DATA_$(1))),,--truth-target \
	  $(T1)/data/$(T1_DATA_$(1))/W_r.npy) --exclude $(T1)/runs/$(1)-fa/anchors.npy \
	  --sweep $(T1)/eval/$(1)$(2).tsv --out $$@ > /dev/null
endef
$(foreach m,$(T1_METHODS),$(eval $(call T1_RUN,$(m),))$(eval $(call T1_RUN,$(m),-fa)))

T1_EVALS := $(foreach m,$(T1_METHODS),$(T1)/eval/$(m).json $(T1)/eval/$(m)-fa.json)

# Figure 6: M_GT of the encoder rows against tau, every method, without (solid) and with anchoring (dashed).
$(OUT)/figure6-$(SCALE).png $(OUT)/figure6-$(SCALE).pdf: $(OUT)/figure6-$(SCALE)%: $(T1_EVALS) figures/fig6_mgt_tau.gp figures/style.gp
	$(GNUPLOT) -e "dir='$(T1)/eval'; methods='$(T1_METHODS)'; outfile='$@'" figures/fig6_mgt_tau.gp
