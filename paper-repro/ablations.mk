# Appendix G's ablations on the Linear Representation Bench: Table 4 (superposition ratio, ReLU SAEs), Table 5
# (maximum interference M), Table 6 (sparsity) and Table 7 (TopK k), each method without and with anchoring.
# Included by paper.mk.  The paper's sizes at SCALE=full (n_p 768, n_q 16,000, N 100,000, 10 epochs, 100 anchors,
# k 32); at the quick scale n_p 192, n_q 2,000, N 25,000, 5 epochs, 25 anchors, k 4 (the same k / n_q), and the
# swept n scaled by 192/768.  Table 6's "sparsity" is the probability that a feature is active (its S = 0.01 rows
# equal Table 1's S = 0.99), so its values map to --sparsity 1 - S.  Training as in table1.mk otherwise (its ReLU
# and JumpReLU arguments and matryoshka_ks; included after it).

ifeq ($(SCALE),full)
AB_D := 768
AB_Q := 16000
AB_SAMPLES := 100000
AB_EPOCHS := 10
AB_ANCH := 100
AB_K := 32
AB_BASE_N := 1000
AB_T4 := 800:800 900:900 1000:1000 1100:1100 1200:1200 1300:1300 1400:1400
AB_T7 := 32:32 64:64 128:128
else
AB_D := 192
AB_Q := 2000
AB_SAMPLES := 25000
AB_EPOCHS := 5
AB_ANCH := 25
AB_K := 4
AB_BASE_N := 250
AB_T4 := 800:200 900:225 1000:250 1100:275 1200:300 1300:325 1400:350
AB_T7 := 32:4 64:8 128:16
endif
AB_T5 := 0.05:0.05 0.2:0.2 0.5:0.5
AB_T6 := 0.005:0.995 0.01:0.99 0.1:0.9
AB := $(OUT)/ablations-$(SCALE)
AB_TRAIN := --latents $(AB_Q) --epochs $(AB_EPOCHS) --batch 256 --lr 1e-3 --seed 1 --threads 1 --quiet --force
AB_BENCH := --dim $(AB_D) --samples $(AB_SAMPLES) --seed 1 --quiet --force
AB_METHODS := relu jumprelu topk batchtopk matryoshka
AB_ARGS_relu := $(T1_ARGS_relu)
AB_ARGS_jumprelu := $(T1_ARGS_jumprelu)
AB_ARGS_topk := --method topk --k $(AB_K)
AB_ARGS_batchtopk := --method batchtopk --k $(AB_K)
AB_ARGS_matryoshka := --method matryoshka --ks $(call matryoshka_ks,$(AB_K)) --lambdas 1,1,1

ab_label = $(word 1,$(subst :, ,$(1)))
ab_value = $(word 2,$(subst :, ,$(1)))

# a bench: name, lrb options
define AB_DATA
AB_BENCH_FILES += $(AB)/data/$(1)/meta.json
$(AB)/data/$(1)/meta.json:
	@mkdir -p $(AB)/data
	$(SDLAB) lrb $(2) $(AB_BENCH) --out $(AB)/data/$(1)
endef
# one cell without (3 empty) or with anchoring (3 = -fa): cell name, bench, method-argument variable
define AB_RUN
AB_CMD_$(1)$(3) := $(SDLAB) train --data $(AB)/data/$(2) $($(4)) $(AB_TRAIN) \
  $(if $(3),--anchors $(AB_ANCH) --anchor-weight 0.1) --out $(AB)/runs/$(1)$(3)
AB_JOB_$(1)$(3) := mkdir -p $(AB)/runs $(AB)/times && t0=$$$$(date +%s) && $$(AB_CMD_$(1)$(3)) && \
  printf "%s\t%s\n" "$$$$t0" "$$$$(date +%s)" > $(AB)/times/$(1)$(3).tsv
AB_JOBS += $(1)$(3)
$(AB)/runs/$(1)$(3)/metrics.json: $(AB)/data/$(2)/meta.json
	$$(AB_JOB_$(1)$(3))
$(AB)/eval/$(1)$(3).json: $(AB)/runs/$(1)$(3)/metrics.json $(AB)/runs/$(1)-fa/metrics.json paper-repro/ablations.mk
	@mkdir -p $(AB)/eval
	$(SDLAB) eval --truth $(AB)/data/$(2)/W_p.npy --encoder $(AB)/runs/$(1)$(3)/W_E.npy \
	  --decoder $(AB)/runs/$(1)$(3)/W_D.npy --exclude $(AB)/runs/$(1)-fa/anchors.npy --out $$@ > /dev/null
AB_EVALS += $(AB)/eval/$(1)$(3).json
# the run's results without its weights, for paper-repro/results/ablations-SCALE/ (committed at the paper's sizes)
$(AB_RESULTS)/eval/$(1)$(3).json: $(AB)/eval/$(1)$(3).json
	@mkdir -p $(AB_RESULTS)/runs/$(1)$(3) $(AB_RESULTS)/eval $(AB_RESULTS)/data/$(2)
	cp $(AB)/runs/$(1)$(3)/metrics.json $(AB)/runs/$(1)$(3)/curve.tsv $(AB)/runs/$(1)$(3)/cfg.json \
	  $(AB_RESULTS)/runs/$(1)$(3)/
	cp $(AB)/data/$(2)/meta.json $(AB_RESULTS)/data/$(2)/
	if [ -f $(AB)/times/$(1)$(3).tsv ]; then cp $(AB)/times/$(1)$(3).tsv $(AB_RESULTS)/runs/$(1)$(3)/seconds.tsv; fi
	printf '%s\n' '$$(subst $(SDLAB),sdlab,$$(AB_CMD_$(1)$(3)))' > $(AB_RESULTS)/runs/$(1)$(3)/command.txt
	cp $$< $$@
AB_RESULT_EVALS += $(AB_RESULTS)/eval/$(1)$(3).json
$(if $(wildcard $(AB)/runs/$(1)/metrics.json),$(if $(wildcard $(AB)/runs/$(1)-fa/metrics.json),AB_DONE += \
  $(AB_RESULTS)/eval/$(1)$(3).json))
endef
ab_cell = $(eval $(call AB_RUN,$(1),$(2),,$(3)))$(eval $(call AB_RUN,$(1),$(2),-fa,$(3)))

AB_EVALS :=
AB_RESULTS := paper-repro/results/ablations-$(SCALE)
AB_RESULT_EVALS :=
AB_DONE :=
$(foreach p,$(AB_T4),$(eval $(call AB_DATA,t4-n$(call ab_label,$(p)),--features $(call ab_value,$(p)) --interference 0.1 --sparsity 0.99)))
$(foreach p,$(AB_T4),$(call ab_cell,table4-relu-n$(call ab_label,$(p)),t4-n$(call ab_label,$(p)),AB_ARGS_relu))
$(foreach p,$(AB_T5),$(eval $(call AB_DATA,t5-M$(call ab_label,$(p)),--features $(AB_BASE_N) --interference $(call ab_value,$(p)) --sparsity 0.99)))
$(foreach p,$(AB_T5),$(foreach m,$(AB_METHODS),$(call ab_cell,table5-$(m)-M$(call ab_label,$(p)),t5-M$(call ab_label,$(p)),AB_ARGS_$(m))))
$(foreach p,$(AB_T6),$(eval $(call AB_DATA,t6-S$(call ab_label,$(p)),--features $(AB_BASE_N) --interference 0.1 --sparsity $(call ab_value,$(p)))))
$(foreach p,$(AB_T6),$(foreach m,$(AB_METHODS),$(call ab_cell,table6-$(m)-S$(call ab_label,$(p)),t6-S$(call ab_label,$(p)),AB_ARGS_$(m))))
$(foreach p,$(AB_T7),$(eval AB_ARGS_topk-k$(call ab_label,$(p)) := --method topk --k $(call ab_value,$(p))))
$(foreach p,$(AB_T7),$(call ab_cell,table7-topk-k$(call ab_label,$(p)),t6-S0.01,AB_ARGS_topk-k$(call ab_label,$(p))))

# The finished cells' results copied into $(AB_RESULTS) (to commit as runs finish: `make ab-results SCALE=full`);
# at the paper's sizes `make paper` copies them all.
ab-results: $(AB_DONE)
.PHONY: ab-results
ifeq ($(SCALE),full)
AB_EVALS += $(AB_RESULT_EVALS)
endif
# The cells committed at the paper's sizes, set in every report (AB_FULL: their evaluations)
AB_FULL := paper-repro/results/ablations-full
