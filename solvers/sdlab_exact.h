/* sdlab_exact.h: exact rational arithmetic (GMP) for checking certificates.
 *
 * Every double is a rational number, so a floating-point witness can be checked exactly: these
 * functions decide signs and solve small linear systems without rounding.  They are used to verify
 * what the LP solver returns; they never decide anything on their own. */
#ifndef SDLAB_EXACT_H
#define SDLAB_EXACT_H

#include <stddef.h>

/* The exact sign (-1, 0, 1) of sum_i a[i] b[i] - c. */
int sdlab_exact_dot_sign(const double *a, const double *b, size_t n, double c);

/* Exact non-negative solution of the linear system M y = r (M is rows x cols, row-major doubles, r of
 * length rows) supported on the columns flagged in `support` (the other y_j are 0).  Returns 1 and fills
 * y (as doubles, rounded, for reporting) when the system has an exact solution with every supported
 * y_j >= 0 (free variables set to 0 after exact Gaussian elimination); 0 when it has none of that kind;
 * -1 on allocation failure. */
int sdlab_exact_nonnegative_solution(const double *M, size_t rows, size_t cols, const double *r,
                                     const unsigned char *support, double *y);

/* Project x onto {y : G_i y = 0 for the rows with equal[i] = 1} exactly (y = x - G_E^T z with
 * G_E G_E^T z = G_E x, solved in rationals), then check every row exactly: G_i y = 0 on the equal rows,
 * G_i y > 0 on the strict rows, G_i y >= 0 on the rest.  G is m x nx, row-major.  Returns 1 when the
 * projected point passes (x then receives its rounding to doubles), 0 when it does not, -1 on
 * allocation failure. */
int sdlab_exact_project_check(const double *G, const unsigned char *strict, const unsigned char *equal, size_t m,
                              size_t nx, double *x);

#endif
