/* sdlab atlas (issue 23, item 3): the classification of end points against the census, the Wilson intervals,
 * the instance records, and the job mechanism (resumed, split over "machines", gathered to the same bytes). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "sdlab_atlas.h"
#include "sdlab_errno.h"

TestSuite(atlas, .init = test_dir_setup, .fini = test_dir_teardown, .timeout = 240);

/* Wilson's interval is the set of p with (phat - p)^2 <= z^2 p (1 - p) / n: both ends solve it with equality
 * (unless clipped at 0 or 1), and it holds phat. */
Test(atlas, wilson_intervals_solve_their_defining_equation)
{
  const double z = 1.959963984540054;
  for (size_t n = 1; n <= 60; n += 7)
    for (size_t k = 0; k <= n; k++) {
      double lo, hi;
      sdlab_atlas_wilson(k, n, &lo, &hi);
      const double ph = (double)k / (double)n;
      cr_assert(lo <= ph + 1e-15 && ph <= hi + 1e-15 && 0 <= lo && hi <= 1, "k %zu n %zu: [%g, %g]", k, n, lo, hi);
      const double ends[2] = {lo, hi};
      for (int e = 0; e < 2; e++) {
        const double p = ends[e], f = (ph - p) * (ph - p) - z * z * p * (1 - p) / (double)n;
        if ((e == 0 && k == 0) || (e == 1 && k == n))
          cr_assert(fabs(p - (double)(e == 1)) <= 1e-12, "an end at the boundary");
        else
          cr_assert(fabs(f) <= 1e-12, "k %zu n %zu: end %g leaves %g", k, n, p, f);
      }
    }
  double lo, hi;
  sdlab_atlas_wilson(0, 0, &lo, &hi);
  cr_assert(lo == 0 && hi == 1, "no trials: nothing known");
}

/* Instances: the classes add up to the runs, global only under a certified global minimum, a spurious run's
 * gap is positive; the record reads back to the same values; the same seed gives the same line. */
Test(atlas, instances_classify_every_run_and_read_back)
{
  sdlab_atlas_cell c;
  sdlab_atlas_cell_default(&c);
  c.n = 3;
  c.sgd_runs = 12;
  size_t spurious = 0;
  for (uint64_t seed = 1; seed <= 6; seed++) {
    sdlab_atlas_instance in, again, back;
    cr_assert_eq(sdlab_atlas_instance_run(&c, seed, &in), 0, "%s", sdlab_error_message(1));
    size_t total = 0;
    for (int k = 0; k < SDLAB_ATLAS_CLASSES; k++)
      total += in.runs[k];
    cr_assert_eq(total, c.sgd_runs);
    cr_assert(in.global_lower <= in.global_upper);
    cr_assert(in.runs[SDLAB_ATLAS_GLOBAL] == 0 || in.global_certified);
    cr_assert(in.runs[SDLAB_ATLAS_UNDECIDED] == 0 || !in.global_certified);
    const size_t sp = in.runs[SDLAB_ATLAS_SPURIOUS] + in.runs[SDLAB_ATLAS_SPURIOUS_DEAD];
    cr_assert((sp > 0) == (in.max_gap > 0), "a spurious run lies above the global minimum");
    spurious += sp;
    char a[512], b[512];
    cr_assert_eq(sdlab_atlas_instance_format(&in, a, sizeof a), 0);
    cr_assert_eq(sdlab_atlas_instance_parse(a, "test", &back), 0);
    cr_assert_eq(sdlab_atlas_instance_format(&back, b, sizeof b), 0);
    cr_assert_str_eq(a, b);
    cr_assert_eq(sdlab_atlas_instance_run(&c, seed, &again), 0);
    cr_assert_eq(sdlab_atlas_instance_format(&again, b, sizeof b), 0);
    cr_assert_str_eq(a, b, "seed %llu gives another instance", (unsigned long long)seed);
  }
  cr_log_info("%zu spurious runs of %zu", spurious, 6 * c.sgd_runs);
  sdlab_atlas_instance bad;
  cr_assert_eq(sdlab_atlas_instance_parse("1\t2\t3", "x", &bad), SDLAB_EBADFILE);
  cr_assert_eq(sdlab_atlas_instance_parse("1\t2\t3\t1\t0\t1\t1\t0\t0\t0\t0\t0\textra", "x", &bad), SDLAB_EBADFILE);
}


/* One cell run whole, and the same cell as two disjoint seed ranges in two runs (two machines on a shared
 * directory) then gathered: the same bytes.  A rerun skips the instances done; another cell in the same
 * directory is refused. */
Test(atlas, split_resumed_and_gathered_runs_give_the_same_bytes)
{
  const char *cell = "--features 3 --dim 2 --latents 2 --activation relu --sgd-runs 6 --quiet";
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%%S' atlas %s --seeds 1:8 --out '%%D/whole' > /dev/null", cell);
  cr_assert_eq(test_run_expanded(cmd, NULL), 0);
  snprintf(cmd, sizeof cmd, "'%%S' atlas %s --seeds 5:8 --out '%%D/split' > /dev/null && '%%S' atlas %s --seeds 1:4 "
           "--out '%%D/split' > /dev/null && '%%S' atlas --gather '%%D/split' > '%%D/split.txt'", cell, cell);
  cr_assert_eq(test_run_expanded(cmd, NULL), 0);
  cr_assert_eq(test_run_expanded("cmp '%D/whole/instances.tsv' '%D/split/instances.tsv' && cmp '%D/whole/summary.json' "
                  "'%D/split/summary.json' && cmp '%D/whole/cell.json' '%D/split/cell.json'", NULL), 0);
  /* a rerun over done seeds leaves their files as they are (a marker survives) */
  cr_assert_eq(test_run_expanded("echo '# kept' >> '%D/whole/instances/3.tsv'", NULL), 0);
  snprintf(cmd, sizeof cmd, "'%%S' atlas %s --seeds 1:9 --out '%%D/whole' > /dev/null && grep -q kept "
           "'%%D/whole/instances/3.tsv' && test -f '%%D/whole/instances/9.tsv'", cell);
  cr_assert_eq(test_run_expanded(cmd, NULL), 0);
  /* another cell in the same directory */
  cr_assert_eq(test_run_expanded("'%S' atlas --features 3 --dim 2 --latents 2 --activation relu --sgd-runs 7 --quiet --seeds 1:1 "
                  "--out '%D/whole' 2> '%D/err'; test $? = 2 && grep -q 'records another cell' '%D/err'", NULL), 0);
  /* bad command lines */
  cr_assert_eq(test_run_expanded("'%S' atlas --features 3 --dim 2 --latents 2 --activation relu --seeds 4:1 --out '%D/x' 2>/dev/null; "
                  "test $? = 2", NULL), 0);
  cr_assert_eq(test_run_expanded("'%S' atlas --features 3 --dim 2 --latents 2 --activation topk:1 --seeds 1:1 --out '%D/x' "
                  "2>/dev/null; test $? = 2", NULL), 0);
  cr_assert_eq(test_run_expanded("'%S' atlas --gather '%D/nothing' 2>/dev/null; test $? = 1", NULL), 0);
  cr_assert_eq(test_run_expanded("mkdir -p '%D/bad/instances' && echo junk > '%D/bad/instances/1.tsv' && '%S' atlas --gather "
                  "'%D/bad' 2> '%D/err'; test $? = 1 && grep -q '1.tsv' '%D/err'", NULL), 0);
}

/* An atlas cell's bytes do not depend on OpenBLAS's own threads (as many as the machine has cores unless told):
 * the branch and bound's small products sum differently on two of them, so the command runs OpenBLAS on one.
 * Run on Debian's pthread build of OpenBLAS where it is installed (sdlab loads the OpenMP build first, which
 * keeps to one thread inside sdlab's own regions anyway), with one and two OpenBLAS threads. */
Test(atlas, a_cell_s_bytes_do_not_depend_on_openblas_s_threads)
{
  const char *run = "P=$(ls -d /usr/lib/*/openblas-pthread 2>/dev/null | head -n 1); for t in 1 2; do "
                    "LD_LIBRARY_PATH=\"$P\" OPENBLAS_NUM_THREADS=$t '%S' atlas --features 3 --dim 3 --latents 2 "
                    "--activation relu --bnb-nodes 2000 --sgd-runs 4 --seeds 1:2 --quiet --out \"%D/t$t\" > /dev/null || exit 1; "
                    "done; cmp '%D/t1/instances.tsv' '%D/t2/instances.tsv'";
  cr_assert_eq(test_run_expanded(run, NULL), 0);
}
