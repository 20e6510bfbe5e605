#include "sdlab_assign.h"
#include "sdlab_errno.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hungarian algorithm (shortest augmenting paths with potentials) minimising sum a[i][cand[j]] with
 * a = -W over the candidate columns cand[0..m).  Rows and columns are 1-based inside, index 0 is the
 * virtual start.  Outputs u (rows+1) and v (m+1) potentials and p (m+1): p[j] = row matched to j. */
static int
hungarian(const double *W, size_t cols, size_t n, const size_t *cand, size_t m, double *u, double *v, size_t *p)
{
  size_t *way = malloc((m + 1) * sizeof *way);
  double *minv = malloc((m + 1) * sizeof *minv);
  unsigned char *used = malloc(m + 1);
  if (!way || !minv || !used) {
    free(way);
    free(minv);
    free(used);
    return sdlab_fail(GSL_ENOMEM, "out of memory for an assignment of %zu rows", n);
  }
  for (size_t i = 0; i <= n; i++)
    u[i] = 0;
  for (size_t j = 0; j <= m; j++) {
    v[j] = 0;
    p[j] = 0;
  }
  for (size_t i = 1; i <= n; i++) {
    p[0] = i;
    size_t j0 = 0;
    for (size_t j = 0; j <= m; j++) {
      minv[j] = INFINITY;
      used[j] = 0;
    }
    do {
      used[j0] = 1;
      size_t i0 = p[j0], j1 = 0;
      double delta = INFINITY;
      const double *row = W + (i0 - 1) * cols;
      for (size_t j = 1; j <= m; j++)
        if (!used[j]) {
          double cur = -row[cand[j - 1]] - u[i0] - v[j];
          if (cur < minv[j]) {
            minv[j] = cur;
            way[j] = j0;
          }
          if (minv[j] < delta) {
            delta = minv[j];
            j1 = j;
          }
        }
      for (size_t j = 0; j <= m; j++)
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  free(way);
  free(minv);
  free(used);
  return SDLAB_SUCCESS;
}

/* Indices of the k largest entries of row (k <= len) appended to the candidate mark. */
static void
mark_top(const double *row, size_t len, size_t k, unsigned char *in)
{
  /* simple repeated selection: k is small */
  for (size_t t = 0; t < k; t++) {
    size_t best = len;
    for (size_t j = 0; j < len; j++)
      if (!in[j] && (best == len || row[j] > row[best]))
        best = j;
    if (best == len)
      return;
    in[best] = 1;
  }
}

int
sdlab_assign_max(const double *W, size_t rows, size_t cols, size_t *col_of_row, double *total, size_t *candidates)
{
  if (rows == 0 || rows > cols)
    return sdlab_fail(GSL_EINVAL, "assignment needs 1 <= rows <= cols (got %zu x %zu)", rows, cols);
  for (size_t i = 0; i < rows * cols; i++)
    if (!isfinite(W[i]))
      return sdlab_fail(SDLAB_ENONFINITE, "assignment weights must be finite");
  unsigned char *in = calloc(cols, 1);
  size_t *cand = malloc(cols * sizeof *cand);
  double *u = malloc((rows + 1) * sizeof *u), *v = malloc((cols + 1) * sizeof *v);
  size_t *p = malloc((cols + 1) * sizeof *p);
  int status = in && cand && u && v && p ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for an assignment");
  /* start with each row's 4 best columns (all columns when there are few) */
  size_t k0 = cols <= 64 ? cols : 4;
  for (size_t i = 0; !status && i < rows; i++)
    mark_top(W + i * cols, cols, k0, in);
  size_t m = 0;
  while (!status) {
    m = 0;
    for (size_t j = 0; j < cols; j++)
      if (in[j])
        cand[m++] = j;
    if (m < rows) { /* make room: each row needs a column */
      for (size_t i = 0; i < rows; i++)
        mark_top(W + i * cols, cols, rows, in);
      continue;
    }
    if ((status = hungarian(W, cols, rows, cand, m, u, v, p)))
      break;
    /* certificate: u_i <= -W_ij for every column j outside C; add the violators */
    size_t added = 0;
    for (size_t i = 0; i < rows; i++) {
      const double *row = W + i * cols;
      for (size_t j = 0; j < cols; j++)
        if (!in[j] && u[i + 1] > -row[j]) {
          in[j] = 1;
          added++;
        }
    }
    if (added == 0)
      break;
  }
  if (!status) {
    double t = 0;
    for (size_t j = 1; j <= m; j++)
      if (p[j]) {
        col_of_row[p[j] - 1] = cand[j - 1];
        t += W[(p[j] - 1) * cols + cand[j - 1]];
      }
    *total = t;
    if (candidates)
      *candidates = m;
  }
  free(in);
  free(cand);
  free(u);
  free(v);
  free(p);
  return status;
}
