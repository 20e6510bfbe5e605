# make paper: regenerate what sdlab can reproduce of arXiv:2512.05534 into paper-repro/out/.
# Each target names its inputs; make skips what is up to date and runs independent targets in parallel (-j2).
# SDLAB is the sdlab binary (set by the top Makefile); SCALE=quick (default), full (the paper's sizes) or tiny
# (the test suite's); OUT may be redirected (the tests do).

SDLAB ?= build/sdlab
OUT   ?= paper-repro/out
GNUPLOT ?= gnuplot

.PHONY: all
all: $(OUT)/REPORT.md

# Figure 9: n = 4 directions in R^3.  The paper does not give M, S, beta or the sample count; sdlab
# uses M = -0.3 (close to the regular tetrahedron's -1/3), S = 0.7, beta = 1.5, 2000 samples, seed 9.
FIG9 := $(OUT)/fig9
$(FIG9)/bench/meta.json:
	@mkdir -p $(FIG9)
	$(SDLAB) lrb --features 4 --dim 3 --samples 2000 --sparsity 0.7 --interference -0.3 --beta 1.5 --seed 9 \
	  --quiet --force --out $(FIG9)/bench
$(FIG9)/dirs.tsv: $(FIG9)/bench/meta.json
	$(SDLAB) tsv $(FIG9)/bench/W_p.npy --transpose --header x,y,z --out $@
$(FIG9)/points.tsv: $(FIG9)/bench/meta.json
	$(SDLAB) tsv $(FIG9)/bench/x_p.npy --header x,y,z --out $@
$(OUT)/figure9.png $(OUT)/figure9.pdf: $(OUT)/figure%: $(FIG9)/dirs.tsv $(FIG9)/points.tsv figures/fig9_bench.gp figures/style.gp
	$(GNUPLOT) -e "dirs='$(FIG9)/dirs.tsv'; points='$(FIG9)/points.tsv'; outfile='$@'" figures/fig9_bench.gp

# The paper's constructions, evaluated (Theorem 3.3, Example 3.5, zero loss without recovery).
CON := $(OUT)/constructions
$(CON)/example35/result.json:
	@mkdir -p $(CON)
	$(SDLAB) construct example35 --force --out $(CON)/example35 > /dev/null
$(CON)/orthoplex/meta.json:
	@mkdir -p $(CON)
	$(SDLAB) lrb --features 4 --dim 2 --samples 10 --sparsity 0.9 --interference 1e-9 --seed 1 --quiet --force \
	  --out $(CON)/orthoplex
$(CON)/thm33-topk/result.json: $(CON)/orthoplex/meta.json
	$(SDLAB) construct thm33 --truth $(CON)/orthoplex/W_p.npy --latents 4 --activation topk:4 --force \
	  --out $(CON)/thm33-topk > /dev/null
$(CON)/thm33-topk-relu/result.json: $(CON)/orthoplex/meta.json
	$(SDLAB) construct thm33 --truth $(CON)/orthoplex/W_p.npy --latents 4 --activation topk-relu:4 --force \
	  --out $(CON)/thm33-topk-relu > /dev/null
$(CON)/bench/meta.json:
	@mkdir -p $(CON)
	$(SDLAB) lrb --features 8 --dim 12 --samples 100 --sparsity 0.99 --interference 0.1 --seed 4 --quiet --force \
	  --out $(CON)/bench
$(CON)/zero-loss/result.json: $(CON)/bench/meta.json
	$(SDLAB) construct zero-loss --truth $(CON)/bench/W_p.npy --latents 8 --force --out $(CON)/zero-loss > /dev/null
$(CON)/zero-loss/eval.json: $(CON)/zero-loss/result.json
	$(SDLAB) eval --truth $(CON)/bench/W_p.npy --encoder $(CON)/zero-loss/W_E.npy --decoder $(CON)/zero-loss/W_D.npy \
	  --out $@ > /dev/null
$(CON)/thm33-bench/result.json: $(CON)/bench/meta.json
	$(SDLAB) construct thm33 --truth $(CON)/bench/W_p.npy --latents 8 --activation relu --force --out $(CON)/thm33-bench > /dev/null
$(CON)/thm33-bench/eval.json: $(CON)/thm33-bench/result.json
	$(SDLAB) eval --truth $(CON)/bench/W_p.npy --encoder $(CON)/thm33-bench/W_E.npy --decoder $(CON)/thm33-bench/W_D.npy \
	  --out $@ > /dev/null

# The proof checker: every theorem and proof step on random instances (seed 1, 100 trials per group).
$(OUT)/CHECK.md:
	@mkdir -p $(OUT)
	$(SDLAB) check --trials 100 --seed 1 --quiet --report $@ > /dev/null

# The landscape of L~ for n = 4 features in n_p = 2 dimensions, n_q = 4 ReLU latents, 100 SGD runs.
LAND := $(OUT)/landscape
$(LAND)/landscape.json:
	@mkdir -p $(OUT)
	$(SDLAB) landscape --features 4 --dim 2 --seed 1 --latents 4 --activation relu --sgd-runs 100 --quiet --force \
	  --out $(LAND) > $(OUT)/landscape.txt
# The same directions with n_q = 3 Top-k-ReLU latents, k = 2 (the ranking couples the neurons).
LANDK := $(OUT)/landscape-topk
$(LANDK)/landscape.json:
	@mkdir -p $(OUT)
	$(SDLAB) landscape --features 4 --dim 2 --seed 1 --latents 3 --activation topk-relu:2 --sgd-runs 100 --quiet \
	  --force --out $(LANDK) > $(OUT)/landscape-topk.txt
# The same directions with n_q = 4 JumpReLU(0.5) latents (the threshold regions' cones; about 90 s).  Two of
# its pieces need about 3.3 x 10^6 boxes, so 4 x 10^6 per open piece.
LANDJ := $(OUT)/landscape-jumprelu
$(LANDJ)/landscape.json:
	@mkdir -p $(OUT)
	$(SDLAB) landscape --features 4 --dim 2 --seed 1 --latents 4 --activation jumprelu:0.5 --sgd-runs 100 --quiet \
	  --bnb-nodes 4000000 --force --out $(LANDJ) > $(OUT)/landscape-jumprelu.txt
$(OUT)/landscape.png $(OUT)/landscape.pdf: $(OUT)/landscape%: $(LAND)/landscape.json figures/landscape.gp figures/style.gp
	$(GNUPLOT) -e "pieces='$(LAND)/pieces.tsv'; sgd='$(LAND)/sgd.tsv'; outfile='$@'" figures/landscape.gp

include paper-repro/table1.mk
include paper-repro/fig4.mk
include paper-repro/fig5.mk
include paper-repro/real.mk
include paper-repro/ablations.mk
include paper-repro/study.mk
include paper-repro/atlas.mk

# The grids' training runs (Tables 1 and 4-7) and the atlas's cells not yet computed, as a job list for a scheduler: `make jobs` generates every bench
# first (on this host, so that hosts never race on them), then prints one self-contained shell command a line,
# each writing only its own run directory (a Table 1 row resumes its checkpoint when it finds one).  Run the
# lines anywhere that shares this tree (GNU parallel, a Slurm array), then `make paper` finds the runs done and
# only evaluates, draws and reports.
.PHONY: jobs
jobs:
	@$(MAKE) --no-print-directory -f paper-repro/paper.mk SDLAB=$(SDLAB) OUT=$(OUT) SCALE=$(SCALE) \
	  $(T1_BENCH_FILES) $(AB_BENCH_FILES) >&2
	@$(foreach j,$(T1_JOBS),printf '%s\n' '$(T1_JOB_$(j))';)
	@$(foreach j,$(AB_JOBS),printf '%s\n' '$(AB_JOB_$(j))';)
	@$(foreach c,$(AT_TODO),$(call at_jobs,$(c)))

REPORT_INPUTS := $(T1_FULL_FIGS) $(ST_FIGS) $(AT_INPUTS) $(F5_INPUTS) $(F5)/sweep-relu.tsv $(F5)/sweep-topk.tsv $(OUT)/figure5-$(SCALE).png $(OUT)/figure5-$(SCALE).pdf $(AB_EVALS) $(wildcard $(AB_FULL)/eval/*.json) $(REAL_INPUTS) $(F4_INPUTS) $(OUT)/figure4.png $(OUT)/figure4.pdf $(T1_EVALS) $(OUT)/figure6-$(SCALE).png $(OUT)/figure6-$(SCALE).pdf $(OUT)/CHECK.md $(OUT)/landscape.png $(OUT)/landscape.pdf $(LANDK)/landscape.json $(LANDJ)/landscape.json $(OUT)/figure9.png $(OUT)/figure9.pdf $(CON)/example35/result.json \
  $(CON)/thm33-topk/result.json $(CON)/thm33-topk-relu/result.json $(CON)/zero-loss/eval.json \
  $(CON)/zero-loss/result.json $(CON)/thm33-bench/eval.json
$(OUT)/REPORT.md: $(REPORT_INPUTS) paper-repro/report.sh paper-repro/atlas.sh paper-repro/table1.sh paper-repro/study.py paper-repro/fig4.sh paper-repro/fig5.sh paper-repro/real.sh paper-repro/ablations.sh paper-repro/lib.sh paper-repro/reference.tsv
	OUT=$(OUT) SCALE=$(SCALE) AT_RES=$(AT_RES) AT_CELLS="$(AT_CELLS)" AT_INSTANCES=$(AT_INSTANCES) AT_RUNS=$(AT_NRUNS) T1=$(T1) T1_METHODS="$(T1_METHODS)" T1_FULL_METHODS="$(T1_FULL_METHODS)" AB=$(AB) AB_T4="$(AB_T4)" AB_T5="$(AB_T5)" \
	  AB_T6="$(AB_T6)" AB_T7="$(AB_T7)" AB_METHODS="$(AB_METHODS)" F5=$(F5) F5_SHOWN=$(F5_SHOWN) F5_HIER=$(F5_HIER) sh paper-repro/report.sh > $@.tmp && mv $@.tmp $@
	@echo "make paper: wrote $@"
