# Figure 5: feature absorption, measured rather than drawn.  Included by paper.mk.
# The paper's Figure 5 is a conceptual drawing without data (PAPER.md §8.3); sdlab measures what it depicts.
# Bench: sdlab lrb --hierarchy P:K (Definition 3.2: each parent active with probability 1 - S, and then exactly
# one of its K sub-concepts too), plus independent features; magnitudes 1 + Exp(0.5) so that "the latent fires
# when the feature is active" is not blurred by near-zero magnitudes.  Dictionaries: as many latents as
# features, biases trained, Adam lr 1e-3, batch 256; the sparsity pressure is ReLU's L1 coefficient and TopK's k,
# each over F5_SEEDS seeds.  Each run's latents are classified by their activation sets (sdlab absorption,
# tau = 0.9).  Beside them, Theorem 3.8's construction on the same W_p for parent 0, as the proof writes it and
# with the repair that keeps the other neurons' sets (sdlab absorption --construct [--repair]).

ifeq ($(SCALE),full)
F5_P := 10
F5_K := 4
F5_N := 60
F5_D := 64
F5_SAMPLES := 100000
F5_EPOCHS := 20
F5_SEEDS := 1 2 3 4 5 6 7 8 9 10
else ifeq ($(SCALE),tiny)
F5_P := 2
F5_K := 3
F5_N := 10
F5_D := 12
F5_SAMPLES := 4000
F5_EPOCHS := 4
F5_SEEDS := 1
else
F5_P := 4
F5_K := 4
F5_N := 24
F5_D := 32
F5_SAMPLES := 50000
F5_EPOCHS := 20
F5_SEEDS := 1 2 3 4 5
endif
ifeq ($(SCALE),tiny)
F5_L1 := 0.01 1
F5_TOPK := 1 3
else
F5_L1 := 0.01 0.03 0.1 0.3 1 3
F5_TOPK := 1 2 3 4 6 8
endif
# the trained run shown in the heat map: ReLU at the L1 coefficient below, first seed
F5_SHOWN := relu-$(lastword $(wordlist 1,4,$(F5_L1)))-s$(firstword $(F5_SEEDS))
F5 := $(OUT)/fig5-$(SCALE)
F5_HIER := $(F5_P):$(F5_K)

$(F5)/bench/meta.json:
	@mkdir -p $(F5)
	$(SDLAB) lrb --features $(F5_N) --dim $(F5_D) --samples $(F5_SAMPLES) --sparsity 0.9 --interference 0.05 \
	  --cmin 1 --beta 0.5 --hierarchy $(F5_HIER) --seed 1 --quiet --force --out $(F5)/bench
# runs/METHOD-VALUE-sSEED: relu (VALUE = L1 coefficient) or topk (VALUE = k); codes.npy is removed once read
$(F5)/runs/%/absorption.json: $(F5)/bench/meta.json
	@set -e; mkdir -p $(F5)/runs; set -- $(subst -, ,$*); \
	if [ "$$1" = relu ]; then a="--method relu --l1 $$2"; else a="--method topk --k $$2"; fi; \
	$(SDLAB) train --data $(F5)/bench $$a --biases --latents $(F5_N) --epochs $(F5_EPOCHS) --batch 256 --lr 1e-3 \
	  --seed $${3#s} --threads 1 --codes --quiet --force --out $(F5)/runs/$* > /dev/null; \
	$(SDLAB) absorption --bench $(F5)/bench --hierarchy $(F5_HIER) --codes $(F5)/runs/$*/codes.npy \
	  --decoder $(F5)/runs/$*/W_D.npy --rates $(F5)/runs/$*/rates.tsv --out $@ > /dev/null; \
	rm -f $(F5)/runs/$*/codes.npy; echo "fig5: $*"
$(F5)/construct/written.json $(F5)/construct/repaired.json: $(F5)/construct/%.json: $(F5)/bench/meta.json
	@mkdir -p $(F5)/construct
	$(SDLAB) absorption --bench $(F5)/bench --hierarchy $(F5_HIER) --construct --parent 0 \
	  $(if $(filter repaired,$*),--repair) --rates $(F5)/construct/$*.tsv --encoder-out $(F5)/construct/$*-W_E.npy \
	  --out $@ > /dev/null

F5_RUNS := $(foreach s,$(F5_SEEDS),$(foreach v,$(F5_L1),relu-$(v)-s$(s)) $(foreach v,$(F5_TOPK),topk-$(v)-s$(s)))
F5_INPUTS := $(foreach r,$(F5_RUNS),$(F5)/runs/$(r)/absorption.json) $(F5)/construct/written.json \
  $(F5)/construct/repaired.json
$(F5)/sweep-relu.tsv $(F5)/sweep-topk.tsv: $(F5)/sweep-%.tsv: $(F5_INPUTS) paper-repro/fig5_sweep.sh paper-repro/lib.sh
	sh paper-repro/fig5_sweep.sh $(F5) $* "$(if $(filter relu,$*),$(F5_L1),$(F5_TOPK))" "$(F5_SEEDS)" > $@.tmp && mv $@.tmp $@
$(OUT)/figure5-$(SCALE).png $(OUT)/figure5-$(SCALE).pdf: $(OUT)/figure5-$(SCALE)%: $(F5)/sweep-relu.tsv $(F5)/sweep-topk.tsv \
  figures/fig5_absorption.gp figures/style.gp
	$(GNUPLOT) -e "dir='$(F5)'; shown='$(F5_SHOWN)'; features=$(F5_N); parents=$(F5_P); kids=$(F5_K); \
	  outfile='$@'" figures/fig5_absorption.gp
