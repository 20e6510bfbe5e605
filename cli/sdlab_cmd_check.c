/* sdlab check: the proof checker. */
#include "sdlab_check.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab check [--trials T] [--seed R] [--report FILE.md] [--quiet]\n"
  "\n"
  "Evaluate every claim of arXiv:2512.05534's theorems (3.1, 3.2, 3.3, 3.4, 3.6, 3.8) and Example 3.5, and\n"
  "each step of their proofs, on random instances against independent computations. Prints a table\n"
  "(claim | tried | held | failed | undecided | first counterexample) and the counterexamples in full.\n"
  "A failed claim is a finding, not an error: the exit status is 0 unless the checker itself fails.\n"
  "\n"
  "  --trials T       instances per group (default 100; Theorem 3.1 runs T/20 + 2 Monte Carlo instances)\n"
  "  --seed R         seed of every instance (default 1)\n"
  "  --report FILE    also write the report to FILE (Markdown, atomically)\n"
  "  --quiet          no progress on the terminal\n";

enum { O_TRIALS, O_SEED, O_REPORT, O_QUIET, O_COUNT };

static void
progress(void *ctx, const char *group, size_t done, size_t total, const sdlab_progress_figure *fig, size_t nfig)
{
  (void)done, (void)total, (void)fig, (void)nfig;
  sdlab_cli_progress *p = ctx;
  if (p->enabled)
    fprintf(stderr, "\r\033[Ksdlab check: %s done", group);
}

int
sdlab_cmd_check(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--trials", "--seed", "--report", "--quiet"};
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--quiet");
  int r = sdlab_cli_parse("check", argc, argv, o, O_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r)
    return SDLAB_EXIT_USAGE;
  size_t trials = 100;
  uint64_t seed = 1;
  if ((o[O_TRIALS].value && sdlab_cli_size("check", "--trials", o[O_TRIALS].value, &trials)) ||
      (o[O_SEED].value && sdlab_cli_u64("check", "--seed", o[O_SEED].value, &seed)))
    return SDLAB_EXIT_USAGE;
  if (trials == 0) {
    fprintf(stderr, "sdlab check: error: --trials must be positive\n");
    return SDLAB_EXIT_USAGE;
  }
  sdlab_cli_progress prog;
  sdlab_cli_progress_init(&prog, o[O_QUIET].value != NULL);
  sdlab_check_report rep;
  sdlab_check_report_init(&rep, seed, trials);
  double t0 = sdlab_now();
  int status = sdlab_check_run(&rep, progress, &prog);
  sdlab_cli_progress_done(&prog);
  char *md = status ? NULL : sdlab_check_markdown(&rep);
  if (!status && o[O_QUIET].value == NULL)
    fprintf(stderr, "sdlab check: %.1f s\n", sdlab_now() - t0);
  if (!status && md == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory for the report");
  if (!status && o[O_REPORT].value)
    status = sdlab_io_atomic_write_text(o[O_REPORT].value, md);
  if (!status)
    fputs(md, stdout);
  free(md);
  sdlab_check_report_free(&rep);
  return status ? sdlab_cli_fail("check", status) : SDLAB_EXIT_OK;
}
