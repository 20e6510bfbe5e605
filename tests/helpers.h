/* Shared helpers of the Criterion suite: seeded random instances and the rounding-error constant
 * gamma_k = k u / (1 - k u) of Higham's "Accuracy and Stability of Numerical Algorithms" (§3.1), from
 * which the suite's floating-point tolerances are derived. */
#ifndef SDLAB_TEST_HELPERS_H
#define SDLAB_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>

/* gamma_k for double precision (u = 2^-53). */
double test_gamma(double k);

/* An MT19937 generator seeded with `seed` (the caller logs the seed). */
gsl_rng *test_rng(uint64_t seed);

/* Fill with independent N(0, sd^2) entries. */
void test_gaussian(gsl_rng *r, gsl_matrix *m, double sd);
/* Gaussian columns scaled to unit norm. */
void test_unit_columns(gsl_rng *r, gsl_matrix *m);

/* Frobenius norm. */
double test_fro(const gsl_matrix *m);

/* Path of the sdlab binary under test ($SDLAB_BIN, else build/sdlab). */
const char *test_sdlab_bin(void);

/* A per-test temporary directory for suites that write files: test_dir_setup (as the suite's .init)
 * turns GSL's error handler off and makes test_dir; test_dir_teardown (.fini) removes it. */
extern char *test_dir;
void test_dir_setup(void);
void test_dir_teardown(void);

/* A fresh empty temporary directory (malloc'd path); removed with test_rmtree. */
char *test_tmpdir(void);
void test_rmtree(const char *path);

/* Run a shell command line; returns its exit status (or -1), stdout and stderr captured into malloc'd
 * strings when out/err are not NULL. */
int test_run(const char *cmdline, char **out, char **err);

/* test_run of a command line with %S expanded to the binary under test and %D to test_dir. */
int test_run_expanded(const char *fmt, char **err);

/* Count the lines of a string. */
size_t test_lines(const char *s);

/* Read a whole file (malloc'd, NUL-terminated), *len its size; NULL when it cannot be read. */
char *test_slurp(const char *path, size_t *len);

#endif
