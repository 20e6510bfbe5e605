#define _POSIX_C_SOURCE 200809L
#include "helpers.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>

double
test_gamma(double k)
{
  const double u = DBL_EPSILON / 2;
  return k * u / (1 - k * u);
}

gsl_rng *
test_rng(uint64_t seed)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, (unsigned long)(seed & 0xFFFFFFFFu));
  return r;
}

void
test_gaussian(gsl_rng *r, gsl_matrix *m, double sd)
{
  for (size_t i = 0; i < m->size1; i++)
    for (size_t j = 0; j < m->size2; j++)
      gsl_matrix_set(m, i, j, gsl_ran_gaussian(r, sd));
}

void
test_unit_columns(gsl_rng *r, gsl_matrix *m)
{
  test_gaussian(r, m, 1.0);
  for (size_t j = 0; j < m->size2; j++) {
    gsl_vector_view c = gsl_matrix_column(m, j);
    gsl_vector_scale(&c.vector, 1.0 / gsl_blas_dnrm2(&c.vector));
  }
}

double
test_fro(const gsl_matrix *m)
{
  double s = 0;
  for (size_t i = 0; i < m->size1; i++)
    for (size_t j = 0; j < m->size2; j++)
      s += gsl_matrix_get(m, i, j) * gsl_matrix_get(m, i, j);
  return sqrt(s);
}

const char *
test_sdlab_bin(void)
{
  const char *b = getenv("SDLAB_BIN");
  return b && *b ? b : "build/sdlab";
}

char *test_dir;

void
test_dir_setup(void)
{
  gsl_set_error_handler_off();
  test_dir = test_tmpdir();
}

void
test_dir_teardown(void)
{
  test_rmtree(test_dir);
  free(test_dir);
  test_dir = NULL;
}

char *
test_tmpdir(void)
{
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/sdlab-test-XXXXXX", base && *base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  return d ? strdup(d) : NULL;
}

void
test_rmtree(const char *path)
{
  if (path == NULL || strncmp(path, "/tmp/", 5) != 0 || strstr(path, "sdlab-test-") == NULL)
    return; /* only ever remove our own temporary trees */
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", path);
}

char *
test_slurp(const char *path, size_t *len)
{
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
    n += got;
    if (n + 1 == cap) {
      char *b = realloc(buf, cap *= 2);
      if (b == NULL) {
        free(buf);
        buf = NULL;
      }
      buf = b;
    }
  }
  fclose(fp);
  if (buf) {
    buf[n] = '\0';
    if (len)
      *len = n;
  }
  return buf;
}

int
test_run(const char *cmdline, char **out, char **err)
{
  char *dir = test_tmpdir();
  if (dir == NULL)
    return -1;
  char *full = malloc(strlen(cmdline) + 2 * strlen(dir) + 64);
  /* a subshell, so the redirections apply to the whole command line (pipelines included) */
  sprintf(full, "( %s ) >'%s/out' 2>'%s/err' </dev/null", cmdline, dir, dir);
  int st = system(full);
  free(full);
  char p[4200];
  if (out) {
    snprintf(p, sizeof p, "%s/out", dir);
    *out = test_slurp(p, NULL);
  }
  if (err) {
    snprintf(p, sizeof p, "%s/err", dir);
    *err = test_slurp(p, NULL);
  }
  test_rmtree(dir);
  free(dir);
  return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

size_t
test_lines(const char *s)
{
  size_t n = 0;
  for (; s && *s; s++)
    n += *s == '\n';
  return n;
}

int
test_run_expanded(const char *fmt, char **err)
{
  char cmd[8192];
  size_t k = 0;
  for (const char *a = fmt; *a && k + 4200 < sizeof cmd; a++) {
    if (a[0] == '%' && (a[1] == 'D' || a[1] == 'S')) {
      k += (size_t)snprintf(cmd + k, sizeof cmd - k, "%s", a[1] == 'D' ? test_dir : test_sdlab_bin());
      a++;
    } else {
      cmd[k++] = *a;
    }
  }
  cmd[k] = '\0';
  return test_run(cmd, NULL, err);
}
