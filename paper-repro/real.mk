# Real representations (Fashion-MNIST, issue 6): the analogues of Table 2 (anchoring with class means), of
# Figure 7 (dead-latent resampling) and of Figures 10/11 (top-activating images).  Included by paper.mk.
#
# The network: sdlab mlp train (784-512-256-10, seed 1, 10 epochs, Adam 1e-3, batch 128, 2 threads), then its
# activations for all 70,000 images (sdlab mlp extract).  SAEs on the first hidden layer (h1, 512-D) with
# biases (real activations), n_q = 4096, TopK k = 32 (BatchTopK the same, Matryoshka eq. 9 with 16, 32, 64),
# Adam 1e-3, batch 256, 10 epochs, seed 1, one thread per run; a TopK transcoder on layer 2's block
# (h1 -> h2) and a TopK crosscoder on h1 and h2 concatenated, the same way.  Anchoring: 3 of the 10 normalised class means
# (the paper anchors 30 of 1,000 ImageNet classes; 3 is the fewest that leaves most classes to evaluate),
# lambda_anchor 1.0 as in the paper; both rows of a method are evaluated on the 7 classes the anchored run did
# not anchor.  Figure 7's analogue: TopK k = 16, n_q = 4096, 8 epochs, dead window 500 steps, with and without
# one resampling at step 1000 (the paper resamples a Llama SAE after 5,000 of 30,000 steps).

RD := $(OUT)/real
$(RD)/mlp/metrics.json:
	@mkdir -p $(RD)
	$(SDLAB) mlp train --seed 1 --threads 2 --quiet --force --out $(RD)/mlp
$(RD)/act/meta.json: $(RD)/mlp/metrics.json
	$(SDLAB) mlp extract --model $(RD)/mlp --quiet --force --out $(RD)/act

T2_METHODS := topk batchtopk matryoshka transcoder crosscoder
T2_ARGS_topk := --method topk --k 32
T2_ARGS_batchtopk := --method batchtopk --k 32
T2_ARGS_matryoshka := --method matryoshka --ks 16,32,64 --lambdas 1,1,1
T2_ARGS_transcoder := --method topk --k 32
T2_ARGS_crosscoder := --method topk --k 32
T2_DATA_topk := h1
T2_DATA_batchtopk := h1
T2_DATA_matryoshka := h1
T2_DATA_transcoder := block
T2_DATA_crosscoder := cross
T2_TRAIN := --latents 4096 --epochs 10 --batch 256 --lr 1e-3 --biases --seed 1 --threads 1 --top 8 --quiet --force

define T2_RUN
$(RD)/runs/$(1)$(2)/metrics.json: $(RD)/act/meta.json
	@mkdir -p $(RD)/runs
	$(SDLAB) train --data $(RD)/act/$(T2_DATA_$(1)) $(T2_ARGS_$(1)) $(T2_TRAIN) \
	  $(if $(2),--anchors 3 --anchor-weight 1.0) --out $(RD)/runs/$(1)$(2)
$(RD)/eval/$(1)$(2).json: $(RD)/runs/$(1)$(2)/metrics.json $(RD)/runs/$(1)-fa/metrics.json
	@mkdir -p $(RD)/eval
	$(SDLAB) eval --truth $(RD)/act/$(T2_DATA_$(1))/W_p.npy --encoder $(RD)/runs/$(1)$(2)/W_E.npy \
	  --decoder $(RD)/runs/$(1)$(2)/W_D.npy $(if $(filter block,$(T2_DATA_$(1))),--truth-target \
	  $(RD)/act/block/W_r.npy) --exclude $(RD)/runs/$(1)-fa/anchors.npy --sweep $(RD)/eval/$(1)$(2).tsv \
	  --out $$@ > /dev/null
endef
$(foreach m,$(T2_METHODS),$(eval $(call T2_RUN,$(m),))$(eval $(call T2_RUN,$(m),-fa)))
T2_EVALS := $(foreach m,$(T2_METHODS),$(RD)/eval/$(m).json $(RD)/eval/$(m)-fa.json)

F7_TRAIN := --method topk --k 16 --latents 4096 --epochs 8 --batch 256 --lr 1e-3 --biases --dead-window 500 --seed 1 \
  --threads 1 --quiet --force
$(RD)/fig7/plain/metrics.json: $(RD)/act/meta.json
	@mkdir -p $(RD)/fig7
	$(SDLAB) train --data $(RD)/act/h1 $(F7_TRAIN) --out $(RD)/fig7/plain
$(RD)/fig7/resample/metrics.json: $(RD)/act/meta.json
	@mkdir -p $(RD)/fig7
	$(SDLAB) train --data $(RD)/act/h1 $(F7_TRAIN) --resample-at 1000 --out $(RD)/fig7/resample
$(OUT)/figure7.png $(OUT)/figure7.pdf: $(OUT)/figure7%: $(RD)/fig7/plain/metrics.json $(RD)/fig7/resample/metrics.json \
  figures/fig7_resampling.gp figures/style.gp
	$(GNUPLOT) -e "plain='$(RD)/fig7/plain/curve.tsv'; resample='$(RD)/fig7/resample/curve.tsv'; at=1000; \
	  outfile='$@'" figures/fig7_resampling.gp

REAL_INPUTS := $(T2_EVALS) $(OUT)/figure7.png $(OUT)/figure7.pdf

# Figures 10/11's analogue: the anchored classes' best-matching latents in the TopK runs with and without
# anchoring, and their 8 top-activating images (the runs write top.npy with --top 8).
$(RD)/fig10/features.txt: $(RD)/runs/topk-fa/metrics.json
	@mkdir -p $(RD)/fig10
	$(SDLAB) tsv $(RD)/runs/topk-fa/anchors.npy | grep -v '^#' | paste -sd ' ' > $@.tmp && mv $@.tmp $@
define F10_GRID
$(RD)/fig10/$(1).json: $(RD)/runs/$(2)/metrics.json $(RD)/fig10/features.txt
	$(SDLAB) mlp grid --run $(RD)/runs/$(2) --truth $(RD)/act/h1/W_p.npy \
	  --features "$$$$(tr ' ' ',' < $(RD)/fig10/features.txt)" --count 8 --out $(RD)/fig10/$(1)
endef
$(eval $(call F10_GRID,anchored,topk-fa))
$(eval $(call F10_GRID,plain,topk))
$(OUT)/figure10.png $(OUT)/figure10.pdf: $(OUT)/figure10%: $(RD)/fig10/anchored.json $(RD)/fig10/plain.json \
  figures/fig10_top_images.gp figures/style.gp
	$(GNUPLOT) -e "anchored='$(RD)/fig10/anchored.bin'; plain='$(RD)/fig10/plain.bin'; w=240; \
	  h=$$(( 30 * $$(wc -w < $(RD)/fig10/features.txt) )); features='$$(cat $(RD)/fig10/features.txt)'; outfile='$@'" \
	  figures/fig10_top_images.gp

REAL_INPUTS += $(OUT)/figure10.png $(OUT)/figure10.pdf
