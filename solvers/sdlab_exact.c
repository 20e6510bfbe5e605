#include "sdlab_exact.h"

#include <gmp.h>
#include <stdlib.h>

int
sdlab_exact_dot_sign(const double *a, const double *b, size_t n, double c)
{
  mpq_t acc, x, y;
  mpq_inits(acc, x, y, NULL);
  mpq_set_d(acc, -c);
  for (size_t i = 0; i < n; i++) {
    mpq_set_d(x, a[i]);
    mpq_set_d(y, b[i]);
    mpq_mul(x, x, y);
    mpq_add(acc, acc, x);
  }
  int s = mpq_sgn(acc);
  mpq_clears(acc, x, y, NULL);
  return s;
}

int
sdlab_exact_nonnegative_solution(const double *M, size_t rows, size_t cols, const double *r,
                                 const unsigned char *support, double *y)
{
  size_t k = 0;
  size_t *col = malloc((cols ? cols : 1) * sizeof *col);
  if (col == NULL)
    return -1;
  for (size_t j = 0; j < cols; j++)
    if (support[j])
      col[k++] = j;
  /* augmented matrix [M_S | r], rows x (k + 1), in exact rationals */
  const size_t w = k + 1;
  mpq_t *A = malloc(rows * w * sizeof *A);
  if (A == NULL) {
    free(col);
    return -1;
  }
  for (size_t i = 0; i < rows; i++) {
    for (size_t t = 0; t < k; t++) {
      mpq_init(A[i * w + t]);
      mpq_set_d(A[i * w + t], M[i * cols + col[t]]);
    }
    mpq_init(A[i * w + k]);
    mpq_set_d(A[i * w + k], r[i]);
  }
  /* reduced row echelon form */
  size_t *pivot_col = malloc((rows ? rows : 1) * sizeof *pivot_col), rank = 0;
  mpq_t f, tmp;
  mpq_inits(f, tmp, NULL);
  for (size_t c = 0; c < k && rank < rows; c++) {
    size_t p = rank;
    while (p < rows && mpq_sgn(A[p * w + c]) == 0)
      p++;
    if (p == rows)
      continue;
    if (p != rank)
      for (size_t t = 0; t < w; t++)
        mpq_swap(A[p * w + t], A[rank * w + t]);
    mpq_inv(f, A[rank * w + c]);
    for (size_t t = 0; t < w; t++)
      mpq_mul(A[rank * w + t], A[rank * w + t], f);
    for (size_t i = 0; i < rows; i++)
      if (i != rank && mpq_sgn(A[i * w + c]) != 0) {
        mpq_set(f, A[i * w + c]);
        for (size_t t = 0; t < w; t++) {
          mpq_mul(tmp, f, A[rank * w + t]);
          mpq_sub(A[i * w + t], A[i * w + t], tmp);
        }
      }
    pivot_col[rank++] = c;
  }
  int ok = 1;
  for (size_t i = rank; i < rows && ok; i++) /* consistency: zero rows must have zero right side */
    if (mpq_sgn(A[i * w + k]) != 0)
      ok = 0;
  for (size_t t = 0; t < k; t++)
    y[col[t]] = 0;
  for (size_t j = 0; j < cols; j++)
    if (!support[j])
      y[j] = 0;
  for (size_t i = 0; i < rank && ok; i++) { /* free variables are 0: pivots take the right side */
    if (mpq_sgn(A[i * w + k]) < 0)
      ok = 0;
    y[col[pivot_col[i]]] = mpq_get_d(A[i * w + k]);
  }
  mpq_clears(f, tmp, NULL);
  for (size_t i = 0; i < rows * w; i++)
    mpq_clear(A[i]);
  free(A);
  free(col);
  free(pivot_col);
  return ok;
}

/* Solve the consistent system A z = b (A: r x r rationals, row-major) by reduced row echelon form, free
 * variables 0.  Returns 1 when consistent, 0 otherwise.  A and b are overwritten. */
static int
exact_solve_consistent(mpq_t *A, mpq_t *b, size_t r, mpq_t *z)
{
  size_t rank = 0, *pivot = malloc((r ? r : 1) * sizeof *pivot);
  mpq_t f, t;
  mpq_inits(f, t, NULL);
  for (size_t c = 0; c < r && rank < r; c++) {
    size_t p = rank;
    while (p < r && mpq_sgn(A[p * r + c]) == 0)
      p++;
    if (p == r)
      continue;
    if (p != rank) {
      for (size_t k = 0; k < r; k++)
        mpq_swap(A[p * r + k], A[rank * r + k]);
      mpq_swap(b[p], b[rank]);
    }
    mpq_inv(f, A[rank * r + c]);
    for (size_t k = 0; k < r; k++)
      mpq_mul(A[rank * r + k], A[rank * r + k], f);
    mpq_mul(b[rank], b[rank], f);
    for (size_t i = 0; i < r; i++)
      if (i != rank && mpq_sgn(A[i * r + c]) != 0) {
        mpq_set(f, A[i * r + c]);
        for (size_t k = 0; k < r; k++) {
          mpq_mul(t, f, A[rank * r + k]);
          mpq_sub(A[i * r + k], A[i * r + k], t);
        }
        mpq_mul(t, f, b[rank]);
        mpq_sub(b[i], b[i], t);
      }
    pivot[rank++] = c;
  }
  int ok = 1;
  for (size_t i = rank; i < r; i++)
    if (mpq_sgn(b[i]) != 0)
      ok = 0;
  for (size_t i = 0; i < r; i++)
    mpq_set_ui(z[i], 0, 1);
  for (size_t i = 0; i < rank; i++)
    mpq_set(z[pivot[i]], b[i]);
  mpq_clears(f, t, NULL);
  free(pivot);
  return ok;
}

int
sdlab_exact_project_check(const double *G, const unsigned char *strict, const unsigned char *equal, size_t m,
                          size_t nx, double *x)
{
  size_t e = 0;
  for (size_t i = 0; i < m; i++)
    e += equal[i];
  size_t *rows = malloc((e ? e : 1) * sizeof *rows);
  mpq_t *y = malloc(nx * sizeof *y), *A = malloc((e > 0 ? e * e : 1) * sizeof *A);
  mpq_t *b = malloc((e ? e : 1) * sizeof *b), *z = malloc((e ? e : 1) * sizeof *z);
  if (!rows || !y || !A || !b || !z) {
    free(rows); free(y); free(A); free(b); free(z);
    return -1;
  }
  for (size_t i = 0, k = 0; i < m; i++)
    if (equal[i])
      rows[k++] = i;
  mpq_t t, u;
  mpq_inits(t, u, NULL);
  for (size_t a = 0; a < nx; a++) {
    mpq_init(y[a]);
    mpq_set_d(y[a], x[a]);
  }
  for (size_t i = 0; i < e; i++) {
    mpq_inits(b[i], z[i], NULL);
    for (size_t j = 0; j < e; j++)
      mpq_init(A[i * e + j]);
  }
  /* A = G_E G_E^T, b = G_E x */
  for (size_t i = 0; i < e; i++) {
    const double *gi = G + rows[i] * nx;
    for (size_t a = 0; a < nx; a++) {
      mpq_set_d(t, gi[a]);
      mpq_mul(u, t, y[a]);
      mpq_add(b[i], b[i], u);
    }
    for (size_t j = 0; j < e; j++) {
      const double *gj = G + rows[j] * nx;
      for (size_t a = 0; a < nx; a++) {
        mpq_set_d(t, gi[a]);
        mpq_set_d(u, gj[a]);
        mpq_mul(t, t, u);
        mpq_add(A[i * e + j], A[i * e + j], t);
      }
    }
  }
  int ok = e == 0 || exact_solve_consistent(A, b, e, z);
  /* y = x - G_E^T z */
  for (size_t i = 0; ok && i < e; i++) {
    const double *gi = G + rows[i] * nx;
    for (size_t a = 0; a < nx; a++) {
      mpq_set_d(t, gi[a]);
      mpq_mul(t, t, z[i]);
      mpq_sub(y[a], y[a], t);
    }
  }
  for (size_t i = 0; ok && i < m; i++) {
    mpq_set_ui(u, 0, 1);
    for (size_t a = 0; a < nx; a++) {
      mpq_set_d(t, G[i * nx + a]);
      mpq_mul(t, t, y[a]);
      mpq_add(u, u, t);
    }
    int sg = mpq_sgn(u);
    ok = equal[i] ? sg == 0 : strict[i] ? sg > 0 : sg >= 0;
  }
  if (ok)
    for (size_t a = 0; a < nx; a++)
      x[a] = mpq_get_d(y[a]);
  for (size_t a = 0; a < nx; a++)
    mpq_clear(y[a]);
  for (size_t i = 0; i < e; i++) {
    mpq_clears(b[i], z[i], NULL);
    for (size_t j = 0; j < e; j++)
      mpq_clear(A[i * e + j]);
  }
  mpq_clears(t, u, NULL);
  free(rows); free(y); free(A); free(b); free(z);
  return ok;
}
