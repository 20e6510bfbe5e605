/* sdlab_cli.h: the `sdlab` command line's shared pieces: option parsing with one clear error line per
 * fault, strict number parsing, and progress on a terminal. */
#ifndef SDLAB_CLI_H
#define SDLAB_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "sdlab_clock.h" /* sdlab_now for the commands' timings */
#include "sdlab_progress.h"

enum { SDLAB_EXIT_OK = 0, SDLAB_EXIT_FAIL = 1, SDLAB_EXIT_USAGE = 2 };

typedef struct {
  const char *name;   /* "--features" */
  int takes_value;
  const char *value;  /* set when seen (a flag gets "1") */
} sdlab_opt;

/* The option table of a command: opts[k] named names[k], none seen yet; those named in `flags` (a
 * space-separated list, NULL for none) take no value. */
void sdlab_cli_options(sdlab_opt *opts, const char **names, size_t n, const char *flags);

/* Parse argv[1..argc) against opts.  Returns 0; 1 when --help/-h was given (the caller prints help and
 * exits 0); SDLAB_EUSAGE after printing "sdlab CMD: error: ..." for an unknown option, a missing value,
 * a repeated option or a stray argument. */
int sdlab_cli_parse(const char *cmd, int argc, char **argv, sdlab_opt *opts, size_t nopts);

/* The value of an option by name (NULL when absent). */
const char *sdlab_cli_get(const sdlab_opt *opts, size_t nopts, const char *name);

/* Strict conversions; each prints "sdlab CMD: error: OPTION ..." and returns SDLAB_EUSAGE on failure. */
int sdlab_cli_size(const char *cmd, const char *opt, const char *text, size_t *out);
int sdlab_cli_u64(const char *cmd, const char *opt, const char *text, uint64_t *out);
int sdlab_cli_double(const char *cmd, const char *opt, const char *text, double *out);
/* A hierarchy "P:K" (P parents with K sub-concepts each, both >= 1). */
int sdlab_cli_hierarchy(const char *cmd, const char *opt, const char *text, size_t *parents, size_t *children);
/* Print "sdlab CMD: error: MESSAGE" for a library failure and return its exit status: SDLAB_EXIT_USAGE (2)
 * when the command line is wrong (SDLAB_EUSAGE, SDLAB_EPARAM: a value out of range or one that does not
 * apply), SDLAB_EXIT_FAIL (1) when the data or the machine is (a bad file, I/O, memory, a computation). */
int sdlab_cli_fail(const char *cmd, int status);
/* The same for the failure of a check of the command line's own values (sdlab_lrb_check, for one): the
 * message, then SDLAB_EXIT_USAGE whatever the status (an impossible request is a wrong command line). */
int sdlab_cli_invalid(const char *cmd, int status);
/* Require options; prints the first missing one. */
int sdlab_cli_require(const char *cmd, const sdlab_opt *opts, size_t nopts, const char *const *names, size_t n);

/* Progress on stderr when it is a terminal (and not quiet): one line rewritten in place. */
typedef struct {
  int enabled;
  double last;
} sdlab_cli_progress;

void sdlab_cli_progress_init(sdlab_cli_progress *p, int quiet);
void sdlab_cli_progress_update(void *ctx, const char *stage, size_t done, size_t total, const sdlab_progress_figure *fig,
                               size_t nfig);
void sdlab_cli_progress_done(sdlab_cli_progress *p);

#endif
