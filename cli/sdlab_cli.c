#define _POSIX_C_SOURCE 200809L
#include "sdlab_cli.h"
#include "sdlab_lrb.h"
#include "sdlab_errno.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
sdlab_cli_parse(const char *cmd, int argc, char **argv, sdlab_opt *opts, size_t nopts)
{
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return 1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) {
      fprintf(stderr, "sdlab %s: error: unexpected argument '%s' (options start with --; see sdlab %s --help)\n",
              cmd, arg, cmd);
      return SDLAB_EUSAGE;
    }
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    sdlab_opt *o = NULL;
    for (size_t k = 0; k < nopts; k++)
      if (strlen(opts[k].name) == len && strncmp(opts[k].name, arg, len) == 0)
        o = &opts[k];
    if (o == NULL) {
      fprintf(stderr, "sdlab %s: error: unknown option '%.*s' (see sdlab %s --help)\n", cmd, (int)len, arg, cmd);
      return SDLAB_EUSAGE;
    }
    if (o->value != NULL) {
      fprintf(stderr, "sdlab %s: error: %s given more than once\n", cmd, o->name);
      return SDLAB_EUSAGE;
    }
    if (!o->takes_value) {
      if (eq) {
        fprintf(stderr, "sdlab %s: error: %s takes no value\n", cmd, o->name);
        return SDLAB_EUSAGE;
      }
      o->value = "1";
    } else if (eq) {
      o->value = eq + 1;
    } else if (i + 1 < argc) {
      o->value = argv[++i];
    } else {
      fprintf(stderr, "sdlab %s: error: %s needs a value\n", cmd, o->name);
      return SDLAB_EUSAGE;
    }
    if (o->takes_value && o->value[0] == '\0') { /* no option means anything by an empty value (a file named "") */
      fprintf(stderr, "sdlab %s: error: %s needs a value (got an empty one)\n", cmd, o->name);
      return SDLAB_EUSAGE;
    }
  }
  return 0;
}

const char *
sdlab_cli_get(const sdlab_opt *opts, size_t nopts, const char *name)
{
  for (size_t k = 0; k < nopts; k++)
    if (strcmp(opts[k].name, name) == 0)
      return opts[k].value;
  return NULL;
}

int
sdlab_cli_require(const char *cmd, const sdlab_opt *opts, size_t nopts, const char *const *names, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (sdlab_cli_get(opts, nopts, names[i]) == NULL) {
      fprintf(stderr, "sdlab %s: error: %s is required (see sdlab %s --help)\n", cmd, names[i], cmd);
      return SDLAB_EUSAGE;
    }
  return 0;
}

int
sdlab_cli_u64(const char *cmd, const char *opt, const char *text, uint64_t *out)
{
  char *end = NULL;
  errno = 0;
  if (text[0] == '\0' || text[0] == '-' || text[0] == '+' || text[0] == ' ') {
    fprintf(stderr, "sdlab %s: error: %s needs a non-negative whole number (got '%s')\n", cmd, opt, text);
    return SDLAB_EUSAGE;
  }
  unsigned long long v = strtoull(text, &end, 10);
  if (*end != '\0' || errno == ERANGE) {
    fprintf(stderr, "sdlab %s: error: %s needs a non-negative whole number (got '%s')\n", cmd, opt, text);
    return SDLAB_EUSAGE;
  }
  *out = (uint64_t)v;
  return 0;
}

int
sdlab_cli_size(const char *cmd, const char *opt, const char *text, size_t *out)
{
  uint64_t v;
  int status = sdlab_cli_u64(cmd, opt, text, &v);
  if (status)
    return status;
  if (v > SIZE_MAX / 16) {
    fprintf(stderr, "sdlab %s: error: %s is too large (got '%s')\n", cmd, opt, text);
    return SDLAB_EUSAGE;
  }
  *out = (size_t)v;
  return 0;
}

int
sdlab_cli_double(const char *cmd, const char *opt, const char *text, double *out)
{
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (text[0] == '\0' || *end != '\0' || !isfinite(v) || errno == ERANGE) {
    fprintf(stderr, "sdlab %s: error: %s needs a finite number (got '%s')\n", cmd, opt, text);
    return SDLAB_EUSAGE;
  }
  *out = v;
  return 0;
}

int
sdlab_cli_hierarchy(const char *cmd, const char *opt, const char *text, size_t *parents, size_t *children)
{
  if (sdlab_lrb_hierarchy_parse(text, parents, children)) {
    fprintf(stderr, "sdlab %s: error: %s takes P:K, two whole numbers >= 1, for example 10:4 (got '%s')\n", cmd, opt,
            text);
    return SDLAB_EUSAGE;
  }
  return 0;
}

void
sdlab_cli_options(sdlab_opt *opts, const char **names, size_t n, const char *flags)
{
  for (size_t k = 0; k < n; k++) {
    const size_t len = strlen(names[k]);
    int flag = 0;
    for (const char *f = flags ? strstr(flags, names[k]) : NULL; f && !flag; f = strstr(f + 1, names[k]))
      flag = (f == flags || f[-1] == ' ') && (f[len] == '\0' || f[len] == ' '); /* a whole word */
    opts[k].name = names[k];
    opts[k].takes_value = !flag;
    opts[k].value = NULL;
  }
}

int
sdlab_cli_fail(const char *cmd, int status)
{
  fprintf(stderr, "sdlab %s: error: %s\n", cmd, sdlab_error_message(status));
  return status == SDLAB_EUSAGE || status == SDLAB_EPARAM ? SDLAB_EXIT_USAGE : SDLAB_EXIT_FAIL;
}

int
sdlab_cli_invalid(const char *cmd, int status)
{
  sdlab_cli_fail(cmd, status);
  return SDLAB_EXIT_USAGE;
}

void
sdlab_cli_progress_init(sdlab_cli_progress *p, int quiet)
{
  p->enabled = !quiet && isatty(STDERR_FILENO);
  p->last = 0;
}

void
sdlab_cli_progress_update(void *ctx, const char *stage, size_t done, size_t total, const sdlab_progress_figure *fig,
                          size_t nfig)
{
  sdlab_cli_progress *p = ctx;
  if (p == NULL || !p->enabled)
    return;
  double t = sdlab_now();
  if (t - p->last < 0.2 && done + 1 < total)
    return;
  p->last = t;
  if (nfig == 0)
    fprintf(stderr, "\r\033[K%s: %zu / %zu (%.0f%%)", stage, done, total, total ? 100.0 * (double)done / (double)total : 0.0);
  else
    fprintf(stderr, "\r\033[K%s: step %zu, %s %.6g", stage, done, fig[0].name, fig[0].value);
  fflush(stderr);
}

void
sdlab_cli_progress_done(sdlab_cli_progress *p)
{
  if (p->enabled)
    fprintf(stderr, "\r\033[K");
}
