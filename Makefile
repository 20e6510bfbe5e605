# sdlab: sparse dictionary learning theory, computed.  See README.md.
#
#   make          build build/libsdlab.a and build/sdlab (checks the Debian packages first)
#   make test     build and run the Criterion suite
#   make check    the suite under AddressSanitizer + UndefinedBehaviorSanitizer; fails on any report
#   make fuzz     damaged inputs, bad command lines, kills and a full disk against an ASan/UBSan build
#   make bench    speed benchmarks (ratios against this machine's BLAS, measured in the same run)
#   make bench-compare  the trainers beside PyTorch yardsticks (when python3-torch is installed)
#   make paper    regenerate the paper's figures and tables into paper-repro/out/
#   make study    the reproduction study behind Table 1 (paper-repro/study.mk), SCALE=quick|full|tiny
#   make atlas    the atlas: how often gradient descent ends at a spurious partial minimum (paper-repro/atlas.mk)
#   make row ROW=topk SCALE=full         one Table 1 row into paper-repro/results/SCALE/
#   make verify-row ROW=topk SCALE=full  retrain it in a scratch directory; fail on any difference
#   make deps     install the missing Debian packages (as root), or print the command

CC      ?= cc
CSTD     = -std=c11 -D_POSIX_C_SOURCE=200809L
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes
CFLAGS  ?= -O2 -g
OMP      = -fopenmp
# always applied, even when CFLAGS is given on the command line (make check does)
SDLAB_CFLAGS = $(CSTD) -ffp-contract=off -DHAVE_INLINE $(WARN) $(OMP)
GSL_LIBS = $(shell pkg-config --define-variable=GSL_CBLAS_LIB=-lopenblas --libs gsl 2>/dev/null || echo -lgsl -lopenblas -lm)
# OpenBLAS's OpenMP build, found first at run time where Debian installs it beside the default (pthread) one: sdlab's
# threads are OpenMP's (as oneDNN's), and from inside their regions that build takes no lock for its buffers,
# where the pthread build's (a spin on sched_yield) cost the census's small products a sixth of its time.  The
# same kernels: the same bytes; without it the default build is loaded.
OPENBLAS_OMP = /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/openblas-openmp
LDLIBS   = $(GSL_LIBS) -ldnnl -lglpk -lgmp -ljansson -lz -lm -fopenmp -Wl,-rpath,$(OPENBLAS_OMP)
CRITERION_LIBS = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

BUILD   ?= build
SCALE   ?= quick
PAPER_JOBS ?= 2
# The Debian packages by what needs them: the library and the binary (make, make bench); the test suite
# (Criterion; NumPy for the interoperability tests, Fashion-MNIST for the real-data tests, GNU parallel for
# the job list, gnuplot for the figures); make paper and the study (gnuplot, Fashion-MNIST, python3 for the
# report's scripts).  `make deps` installs them all; each target checks its own list (deps-build, deps-test,
# deps-paper), so that a user without root can build with the build packages alone.
PKGS_build = gcc make pkg-config libgsl-dev libopenblas-dev libopenblas0-openmp libdnnl-dev libglpk-dev libgmp-dev \
             libjansson-dev zlib1g-dev
PKGS_test  = $(PKGS_build) libcriterion-dev python3-numpy dataset-fashion-mnist parallel gnuplot-nox
PKGS_paper = $(PKGS_build) gnuplot-nox dataset-fashion-mnist python3
PKGS_all   = $(sort $(PKGS_test) $(PKGS_paper))

# One folder, one job; the include paths enforce cli -> experiments -> solvers -> theory (the tests link the
# library, never the command line, which they run as a program).
INC_theory      = -Itheory
INC_solvers     = -Itheory -Isolvers
INC_experiments = -Itheory -Isolvers -Iexperiments
INC_cli         = -Itheory -Isolvers -Iexperiments -Icli
INC_tests       = -Itheory -Isolvers -Iexperiments -Itests

LIB_SRC  = $(wildcard theory/*.c) $(wildcard solvers/*.c) $(wildcard experiments/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC  = $(filter-out cli/sdlab_main.c cli/sdlab_bench.c,$(wildcard cli/*.c))
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps deps-build deps-test deps-paper deps-all test check fuzz bench bench-compare paper atlas study row verify-row ab-results jobs clean FORCE
all: $(BUILD)/sdlab

deps: deps-all
deps-build deps-test deps-paper deps-all: deps-%:
	@missing=""; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
	  echo "deps: not a Debian system; install the equivalents of: $(PKGS_$*)"; exit 0; fi; \
	for p in $(PKGS_$*); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "deps: apt-get install$$missing failed"; exit 1; }; \
	else \
	  echo "deps: $(if $(filter all,$*),sdlab,make $*) needs$$missing; run:  sudo apt-get install$$missing"; exit 1; fi

$(BUILD)/obj/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SDLAB_CFLAGS) $(INC_$(firstword $(subst /, ,$<))) -MMD -MP -c $< -o $@
$(BUILD)/obj/tests/%.o: tests/%.c | deps-test
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SDLAB_CFLAGS) $(INC_tests) -MMD -MP -c $< -o $@

# A stamp that changes when the list of sources does, so that removing a file relinks.
SRC_LIST = $(sort $(LIB_SRC) $(CLI_SRC) $(TEST_SRC))
$(BUILD)/.srclist: FORCE
	@mkdir -p $(BUILD)
	@echo '$(SRC_LIST)' | cmp -s - $@ || echo '$(SRC_LIST)' > $@
FORCE:

# The trainer's and Adam's elementwise loops vectorise at -O3 (no reductions are reassociated: results do not
# change; sqrtf of a non-negative value needs no errno).
$(BUILD)/obj/solvers/sdlab_train.o $(BUILD)/obj/solvers/sdlab_adam.o: CFLAGS += -O3 -fno-math-errno

$(BUILD)/libsdlab.a: $(LIB_OBJ) $(BUILD)/.srclist
	@rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/sdlab: $(BUILD)/obj/cli/sdlab_main.o $(CLI_OBJ) $(BUILD)/libsdlab.a $(BUILD)/.srclist
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/sdlab-bench: $(BUILD)/obj/cli/sdlab_bench.o $(BUILD)/libsdlab.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/sdlab_tests: $(TEST_OBJ) $(BUILD)/libsdlab.a $(BUILD)/.srclist
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libsdlab.a $(CRITERION_LIBS) $(LDLIBS)

# make fuzz's fault injection: a preloaded library that kills a process at its N-th write boundary
$(BUILD)/tests/killshim.so: tests/fuzz/killshim.c | deps-build
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -shared -fPIC $(CSTD) $(WARN) -o $@ $< -ldl

# Tests run with one BLAS thread (deterministic, and Criterion already runs tests in parallel): Debian's OpenMP
# build of OpenBLAS takes its count from OMP_NUM_THREADS (outside sdlab's own regions, where each small GSL product
# otherwise opened a region of two threads: the bnb suite's searches spent most of their time in futex waits).
TEST_ENV = OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive SDLAB_BIN=$(abspath $(BUILD)/sdlab) \
  FUZZ_SHIM=$(abspath $(BUILD)/tests/killshim.so)
test: $(BUILD)/tests/sdlab_tests $(BUILD)/sdlab $(BUILD)/tests/killshim.so | deps-test
	$(TEST_ENV) $(BUILD)/tests/sdlab_tests --jobs=2 $(TESTFLAGS)

# Sanitizers: a separate build tree; every sanitizer report goes to a log file and any log fails.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
check: | deps-test
	@rm -rf $(BUILD)/san/logs && mkdir -p $(BUILD)/san/logs
	$(MAKE) --no-print-directory BUILD=$(BUILD)/san CFLAGS="$(SAN_FLAGS)" $(BUILD)/san/tests/sdlab_tests $(BUILD)/san/sdlab \
	  $(BUILD)/san/tests/killshim.so
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive SDLAB_BIN=$(abspath $(BUILD)/san/sdlab) \
	FUZZ_SHIM=$(abspath $(BUILD)/san/tests/killshim.so) FUZZ_LSAN_SUPP=$(abspath tests/lsan.supp) \
	ASAN_OPTIONS=detect_leaks=1:log_path=$(abspath $(BUILD)/san/logs/asan) \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(abspath $(BUILD)/san/logs/ubsan) \
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	  $(BUILD)/san/tests/sdlab_tests --jobs=2 $(TESTFLAGS)
	@if ls $(BUILD)/san/logs/* >/dev/null 2>&1; then \
	  echo "check: sanitizer reports:"; cat $(BUILD)/san/logs/*; exit 1; fi
	@echo "check: no sanitizer reports"
	@echo "check: the suite on the plain build within 1 GB of address space (ulimit -v; ASan cannot run so): an"
	@echo "check: allocation that is not checked fails there as a crash"
	$(MAKE) --no-print-directory $(BUILD)/tests/sdlab_tests $(BUILD)/sdlab $(BUILD)/tests/killshim.so
	ulimit -v 1000000 && $(TEST_ENV) $(BUILD)/tests/sdlab_tests --jobs=2 $(TESTFLAGS)

# The fuzz and fault-injection harness (tests/fuzz/fuzz.py) on the sanitizer build: at least 5,000 generated
# inputs; fails on any crash, sanitizer report, hang, wrong exit status, bad message, accepted damaged input or
# leftover.  FUZZFLAGS="--seed 2 --jobs 1 --keep /tmp" and the like pass through.
FUZZFLAGS ?= --count 5000 --seed 1 --jobs 2
fuzz: | deps-test
	$(MAKE) --no-print-directory BUILD=$(BUILD)/san CFLAGS="$(SAN_FLAGS)" $(BUILD)/san/sdlab $(BUILD)/san/tests/killshim.so
	FUZZ_LSAN_SUPP=$(abspath tests/lsan.supp) python3 tests/fuzz/fuzz.py --bin $(BUILD)/san/sdlab \
	  --shim $(BUILD)/san/tests/killshim.so $(FUZZFLAGS)

# The committed Table 1 rows' epochs (R1 stopping), which the roofline prices at the floors it measures
T1_EPOCHS = $(shell sed -n 's/.*"epochs_run": *\([0-9]*\).*/\1/p' paper-repro/results/full/runs/*/metrics.json 2>/dev/null \
  | awk '{ s += $$1 } END { print s + 0 }')
T1_BENCH = $(if $(filter-out 0,$(T1_EPOCHS)),--table1-epochs $(T1_EPOCHS))
bench: $(BUILD)/sdlab-bench
	$(BUILD)/sdlab-bench $(T1_BENCH)

# The trainers' roofline beside PyTorch yardsticks taking the same step (experiments/torch_yardstick.py), when
# python3-torch is installed (a speed reference, not a dependency); ratios from this one run.  Debian's PyTorch
# takes its float32 products from the system OpenBLAS, whose kernels are the CPU's choice: where
# OPENBLAS_CORETYPE is unset the yardsticks run OpenBLAS's fastest kernels for the CPU's vector unit (SkylakeX
# with AVX-512, Haswell with AVX2), not the SSE3 ones it falls back to on CPUs it does not know; a value set in
# the environment is kept.  Each yardstick names its kernels on standard error.
YARDSTICK_KERNEL = $(shell grep -qw avx512bw /proc/cpuinfo 2>/dev/null && grep -qw avx512vl /proc/cpuinfo && echo SkylakeX \
  || { grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo Haswell; })
bench-compare: $(BUILD)/sdlab-bench
	@$(BUILD)/sdlab-bench --roofline $(T1_BENCH) | tee $(BUILD)/roofline.txt
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	  for m in topk-dense topk-sparse relu; do OPENBLAS_CORETYPE="$${OPENBLAS_CORETYPE:-$(YARDSTICK_KERNEL)}" \
	    /usr/bin/python3 experiments/torch_yardstick.py $$m --threads 2; done \
	    | tee $(BUILD)/yardstick.txt; \
	  awk 'NR == FNR { y[$$1] = $$2; next } \
	    /^  topk k=32 / { printf "sdlab TopK / PyTorch sparse-decoding TopK: %.2fx; / dense TopK: %.2fx\n", $$3 / y["topk-sparse"], $$3 / y["topk-dense"] } \
	    /^  relu dense / { printf "sdlab ReLU (dense, as initialised) / PyTorch ReLU: %.2fx\n", $$5 / y["relu"] } \
	    /^  relu at L0 ~ 32  / { printf "sdlab ReLU at L0 ~ 32 / PyTorch ReLU (dense at any L0): %.2fx\n", $$6 / y["relu"] }' \
	    $(BUILD)/yardstick.txt $(BUILD)/roofline.txt; \
	else echo "bench-compare: python3-torch is not installed (apt-get install python3-torch): no yardstick"; fi

paper: $(BUILD)/sdlab | deps-paper
	$(MAKE) --no-print-directory -j$(PAPER_JOBS) -f paper-repro/paper.mk SDLAB=$(abspath $(BUILD)/sdlab) SCALE=$(SCALE)

# The atlas (paper-repro/atlas.mk): how often gradient descent ends at a spurious partial minimum.
atlas: $(BUILD)/sdlab | deps-paper
	$(MAKE) --no-print-directory -j$(PAPER_JOBS) -f paper-repro/paper.mk SDLAB=$(abspath $(BUILD)/sdlab) SCALE=$(SCALE) atlas

# The reproduction study behind Table 1 (paper-repro/study.mk): its runs, curves, recipe and figure.
study: $(BUILD)/sdlab | deps-paper
	$(MAKE) --no-print-directory -j$(PAPER_JOBS) -f paper-repro/paper.mk SDLAB=$(abspath $(BUILD)/sdlab) SCALE=$(SCALE) study

# The training runs of Tables 1 and 4-7 as one shell command a line, for GNU parallel or a Slurm array (the
# benches are generated first); then `make paper` evaluates and reports.
jobs: $(BUILD)/sdlab | deps-paper
	@$(MAKE) --no-print-directory -f paper-repro/paper.mk SDLAB=$(abspath $(BUILD)/sdlab) SCALE=$(SCALE) jobs

# One Table 1 row (ROW=topk, topk-fa, relu, ...; a row is evaluated on the features its method's anchored run
# did not anchor, so both runs of the method train): its results into paper-repro/results/SCALE/.
row: $(BUILD)/sdlab | deps-paper
	@test -n "$(ROW)" || { echo "row: name the row: ROW=topk (or topk-fa, relu, batchtopk-fa, ...)"; exit 2; }
	$(MAKE) --no-print-directory -f paper-repro/paper.mk SDLAB=$(abspath $(BUILD)/sdlab) SCALE=$(SCALE) \
	  $(or $(T1_RESULTS),paper-repro/results)/$(SCALE)/eval/$(ROW).json
# The ablation cells whose two runs have finished (Tables 4-7): their results into paper-repro/results/ablations-SCALE/,
# to commit while the rest still train.
ab-results: $(BUILD)/sdlab | deps-paper
	$(MAKE) --no-print-directory -f paper-repro/paper.mk SDLAB=$(abspath $(BUILD)/sdlab) SCALE=$(SCALE) ab-results
# Retrain one row in a scratch directory and compare its results with the committed ones byte for byte.
verify-row: $(BUILD)/sdlab | deps-paper
	@test -n "$(ROW)" || { echo "verify-row: name the row: ROW=topk (or topk-fa, relu, batchtopk-fa, ...)"; exit 2; }
	sh paper-repro/verify_row.sh $(abspath $(BUILD)/sdlab) $(SCALE) $(ROW)

clean:
	rm -rf $(BUILD)

# every object's header dependencies (-MMD), the command line's too: a changed header rebuilds what includes it
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BUILD)/obj/cli/sdlab_main.d $(BUILD)/obj/cli/sdlab_bench.d $(TEST_OBJ:.o=.d)
