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
