/* sdlab_cone.c: polyhedral cones (sdlab_cone.h). */
#include "sdlab_cone.h"
#include "sdlab_piece.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>

/* The extreme rays of the pointed cone {w in R^np : s_d <w, x_d> >= 0}, rows A (m x np, row d = s_d x_d):
 * each is the null vector of n_p - 1 independent rows, with the sign that satisfies all rows.  Unit
 * vectors, duplicates removed; up to max rays into out (max x np).  Returns the count, or (size_t)-1 when
 * there are more than max. */
size_t
sdlab_cone_rays(const double *A, size_t m, size_t np, double *out, size_t max)
{
  size_t count = 0;
  size_t sub[64];
  const size_t s = np - 1;
  for (size_t k = 0; k < s; k++)
    sub[k] = k;
  if (s > m)
    return 0;
  gsl_matrix *M = gsl_matrix_alloc(np, np), *V = gsl_matrix_alloc(np, np);
  gsl_vector *sv = gsl_vector_alloc(np), *work = gsl_vector_alloc(np);
  double scale = 0;
  for (size_t k = 0; k < m * np; k++)
    scale = fmax(scale, fabs(A[k]));
  for (;;) {
    /* the null space of the chosen rows: the right singular vector of the smallest singular value, when the
     * other n_p - 1 are clear of zero */
    gsl_matrix_set_zero(M);
    for (size_t k = 0; k < s; k++)
      for (size_t a = 0; a < np; a++)
        gsl_matrix_set(M, k, a, A[sub[k] * np + a]);
    gsl_linalg_SV_decomp(M, V, sv, work);
    const double cut = (double)(4 * np) * DBL_EPSILON * scale * sqrt((double)np);
    if (np == 1 || gsl_vector_get(sv, np - 2) > cut) {
      double r[64];
      for (size_t a = 0; a < np; a++)
        r[a] = gsl_matrix_get(V, a, np - 1);
      for (int sign = 1; sign >= -1; sign -= 2) {
        int ok = 1;
        for (size_t d = 0; d < m && ok; d++) {
          double v = 0, nrm = 0;
          for (size_t a = 0; a < np; a++) {
            v += sign * r[a] * A[d * np + a];
            nrm += A[d * np + a] * A[d * np + a];
          }
          ok = v >= -(double)(8 * np) * DBL_EPSILON * sqrt(nrm);
        }
        int dup = 0;
        for (size_t c = 0; c < count && ok && !dup; c++) {
          double e = 0;
          for (size_t a = 0; a < np; a++)
            e = fmax(e, fabs(out[c * np + a] - sign * r[a]));
          dup = e <= 1e-9;
        }
        if (ok && !dup) {
          if (count == max) {
            count = (size_t)-1;
            goto done;
          }
          for (size_t a = 0; a < np; a++)
            out[count * np + a] = sign * r[a];
          count++;
        }
      }
    }
    /* the next subset of size s in lexicographic order */
    size_t k = s;
    while (k > 0 && sub[k - 1] == m - s + k - 1)
      k--;
    if (k == 0)
      break;
    sub[k - 1]++;
    for (size_t t = k; t < s; t++)
      sub[t] = sub[t - 1] + 1;
  }
done:
  gsl_matrix_free(M);
  gsl_matrix_free(V);
  gsl_vector_free(sv);
  gsl_vector_free(work);
  return count;
}

/* The extreme rays of the cone {w : <w, a_d> >= 0} of the m rows A (m x n_p) modulo its lineality space L (the
 * orthogonal complement of the rows' span): the rays of the pointed cone it cuts from L's complement, as
 * unit vectors of R^{n_p} into out (max x n_p).  *lineal says whether L is nontrivial.  The count, or
 * (size_t)-1 when there are more than max, (size_t)-2 when out of memory. */
size_t
sdlab_cone_rays_modulo(const double *A, size_t m, size_t np, double *out, size_t max, int *lineal)
{
  *lineal = 0;
  if (m == 0) {
    *lineal = 1;
    return 0;
  }
  gsl_matrix *M = gsl_matrix_alloc(np, m), *Q = gsl_matrix_alloc(np, np);
  double *Ar = malloc(m * np * sizeof *Ar), *u = malloc(max * np * sizeof *u);
  size_t count = 0;
  if (!M || !Q || !Ar || !u) {
    count = (size_t)-2;
    goto done;
  }
  for (size_t d = 0; d < m; d++)
    for (size_t a = 0; a < np; a++)
      gsl_matrix_set(M, a, d, A[d * np + a]);
  const size_t r = sdlab_piece_span_basis(M, Q);
  if (r == np) {
    count = sdlab_cone_rays(A, m, np, out, max);
    goto done;
  }
  *lineal = 1;
  if (r == 0)
    goto done;
  for (size_t d = 0; d < m; d++) /* the rows in the basis Q of their span */
    for (size_t t = 0; t < r; t++) {
      double c = 0;
      for (size_t a = 0; a < np; a++)
        c += A[d * np + a] * gsl_matrix_get(Q, a, t);
      Ar[d * r + t] = c;
    }
  count = sdlab_cone_rays(Ar, m, r, u, max);
  for (size_t c = 0; count < (size_t)-2 && c < count; c++)
    for (size_t a = 0; a < np; a++) {
      double v = 0;
      for (size_t t = 0; t < r; t++)
        v += gsl_matrix_get(Q, a, t) * u[c * r + t];
      out[c * np + a] = v;
    }
done:
  if (M)
    gsl_matrix_free(M);
  if (Q)
    gsl_matrix_free(Q);
  free(Ar);
  free(u);
  return count;
}

size_t
sdlab_cone_cover(const double *g, size_t r, size_t n, size_t d, uint64_t *masks)
{
  masks[0] = r >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << r) - 1;
  if (r <= 2 || r > 64 || d >= r || d > 3 || d < 2)
    return 1;
  double c[64], e[2][64] = {{0}}, px[64], py[64];
  /* c: the generators' mean direction; e_0, e_1: an orthonormal basis of the span's part orthogonal to c
   * (d = 3), or e_0 alone with c in the plane (d = 2) */
  double cn = 0;
  for (size_t a = 0; a < n; a++) {
    c[a] = 0;
    for (size_t j = 0; j < r; j++)
      c[a] += g[j * n + a];
    cn += c[a] * c[a];
  }
  cn = sqrt(cn);
  if (!(cn > 0) || n > 64)
    return 1;
  for (size_t a = 0; a < n; a++)
    c[a] /= cn;
  for (size_t b = 0; b + 1 < d; b++) { /* the generator with the largest part off c (and e_0) */
    double best = 0, v[64];
    for (size_t j = 0; j < r; j++) {
      double t[64], nn = 0, pc = 0, p0 = 0;
      for (size_t a = 0; a < n; a++) {
        pc += g[j * n + a] * c[a];
        p0 += g[j * n + a] * e[0][a];
      }
      for (size_t a = 0; a < n; a++) {
        t[a] = g[j * n + a] - pc * c[a] - (b ? p0 * e[0][a] : 0.0);
        nn += t[a] * t[a];
      }
      if (nn > best) {
        best = nn;
        memcpy(v, t, n * sizeof *v);
      }
    }
    if (!(best > 1e-20))
      return 1;
    for (size_t a = 0; a < n; a++)
      e[b][a] = v[a] / sqrt(best);
  }
  for (size_t j = 0; j < r; j++) { /* central projection: coordinates in (e_0, e_1) of g_j / <g_j, c> */
    double pc = 0, p0 = 0, p1 = 0;
    for (size_t a = 0; a < n; a++) {
      pc += g[j * n + a] * c[a];
      p0 += g[j * n + a] * e[0][a];
      p1 += g[j * n + a] * e[1][a];
    }
    if (!(pc > 0))
      return 1;
    px[j] = p0 / pc;
    py[j] = p1 / pc;
  }
  if (d == 2) { /* the extreme points of a segment */
    size_t lo = 0, hi = 0;
    for (size_t j = 1; j < r; j++) {
      if (px[j] < px[lo])
        lo = j;
      if (px[j] > px[hi])
        hi = j;
    }
    masks[0] = ((uint64_t)1 << lo) | ((uint64_t)1 << hi);
    return 1;
  }
  /* d = 3: the convex hull's vertices, counter-clockwise, by Andrew's monotone chain over the points sorted by
   * x then y; a turn counts as counter-clockwise only beyond its rounding */
  size_t ord[64], hull[130], h = 0;
  for (size_t j = 0; j < r; j++)
    ord[j] = j;
  for (size_t a = 1; a < r; a++) /* insertion sort: r is small */
    for (size_t b = a; b > 0 && (px[ord[b]] < px[ord[b - 1]] ||
                                 (px[ord[b]] == px[ord[b - 1]] && py[ord[b]] < py[ord[b - 1]])); b--) {
      const size_t t = ord[b];
      ord[b] = ord[b - 1];
      ord[b - 1] = t;
    }
  double scale = 0;
  for (size_t j = 0; j < r; j++)
    scale = fmax(scale, fmax(fabs(px[j]), fabs(py[j])));
  const double tol = 64 * DBL_EPSILON * scale * scale;
#define CROSS(o, a, b) ((px[a] - px[o]) * (py[b] - py[o]) - (py[a] - py[o]) * (px[b] - px[o]))
  for (size_t pass = 0; pass < 2; pass++) { /* lower hull, then upper */
    const size_t start = h;
    for (size_t t = 0; t < r; t++) {
      const size_t j = pass ? ord[r - 1 - t] : ord[t];
      while (h >= start + 2 && CROSS(hull[h - 2], hull[h - 1], j) <= tol)
        h--;
      hull[h++] = j;
    }
    h--; /* the last point starts the other chain */
  }
#undef CROSS
  uint64_t seen = 0;
  for (size_t t = 0; t < h; t++)
    seen |= (uint64_t)1 << hull[t];
  if (h < 3 || h > r || (size_t)__builtin_popcountll(seen) != h)
    return 1;
  size_t m = 0;
  for (size_t t = 1; t + 1 < h; t++)
    masks[m++] = ((uint64_t)1 << hull[0]) | ((uint64_t)1 << hull[t]) | ((uint64_t)1 << hull[t + 1]);
  return m;
}

