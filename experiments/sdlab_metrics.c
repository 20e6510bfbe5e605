#include "sdlab_metrics.h"
#include "sdlab_assign.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>

int
sdlab_metrics_similarity(const gsl_matrix *L, const gsl_matrix *W, int normalise, int threads, gsl_matrix *S)
{
  if (L->size2 != W->size1 || S->size1 != L->size1 || S->size2 != W->size2)
    return sdlab_fail(SDLAB_ESHAPE, "similarity: learned directions of dimension %zu, ground truth of dimension "
                      "%zu", L->size2, W->size1);
  const size_t n = W->size2;
  double *cs = malloc(n * sizeof *cs); /* 1 / the columns' norms */
  if (cs == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory for %zu column norms", n);
  for (size_t i = 0; i < n; i++) {
    gsl_vector_const_view c = gsl_matrix_const_column(W, i);
    const double norm = normalise ? gsl_blas_dnrm2(&c.vector) : 1.0;
    cs[i] = norm > 0 ? 1.0 / norm : 0.0;
  }
  sdlab_blas_par_dgemm(threads, L->size1, n, L->size2, L->data, L->tda, W->data, W->tda, S->data, S->tda);
  for (size_t j = 0; j < L->size1; j++) { /* |<l_j, w_i>| / ||w_i|| / ||l_j||, row by row */
    double scale = 1.0;
    if (normalise) {
      gsl_vector_const_view r = gsl_matrix_const_row(L, j);
      double norm = gsl_blas_dnrm2(&r.vector);
      scale = norm > 0 ? 1.0 / norm : 0.0;
    }
    double *sj = gsl_matrix_ptr(S, j, 0);
    for (size_t i = 0; i < n; i++)
      sj[i] = fabs(normalise ? sj[i] * cs[i] : sj[i]) * scale;
  }
  free(cs);
  return SDLAB_SUCCESS;
}

void
sdlab_metrics_best_match(const gsl_matrix *S, double *s)
{
  for (size_t i = 0; i < S->size2; i++) /* row by row (the maximum does not depend on the order) */
    s[i] = 0.0;
  for (size_t j = 0; j < S->size1; j++) {
    const double *sj = gsl_matrix_const_ptr(S, j, 0);
    for (size_t i = 0; i < S->size2; i++)
      s[i] = fmax(s[i], sj[i]);
  }
}

double
sdlab_metrics_mgt(const double *s, size_t n, const unsigned char *exclude, double tau)
{
  size_t hit = 0, total = 0;
  for (size_t i = 0; i < n; i++)
    if (!exclude || !exclude[i]) {
      total++;
      hit += s[i] > tau;
    }
  return total ? (double)hit / (double)total : NAN;
}

double
sdlab_metrics_mip(const double *s, size_t n, const unsigned char *exclude)
{
  size_t total = 0;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    if (!exclude || !exclude[i]) {
      total++;
      sum += s[i];
    }
  return total ? sum / (double)total : NAN;
}

int
sdlab_metrics_mcc(const gsl_matrix *S, const unsigned char *exclude, double *mcc, size_t *match)
{
  const size_t q = S->size1, n = S->size2;
  size_t ne = 0;
  for (size_t i = 0; i < n; i++)
    ne += !exclude || !exclude[i];
  if (match)
    for (size_t i = 0; i < n; i++)
      match[i] = (size_t)-1;
  if (ne == 0) {
    *mcc = NAN;
    return SDLAB_SUCCESS;
  }
  /* rows of the assignment are the smaller side */
  const int features_are_rows = ne <= q;
  const size_t rows = features_are_rows ? ne : q, cols = features_are_rows ? q : ne;
  double *Wt = malloc(rows * cols * sizeof *Wt);
  size_t *feat = malloc(ne * sizeof *feat), *col_of_row = malloc(rows * sizeof *col_of_row);
  int status = Wt && feat && col_of_row ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for MCC");
  if (!status) {
    for (size_t i = 0, k = 0; i < n; i++)
      if (!exclude || !exclude[i])
        feat[k++] = i;
    for (size_t a = 0; a < ne; a++)
      for (size_t j = 0; j < q; j++) {
        double v = gsl_matrix_get(S, j, feat[a]);
        if (features_are_rows)
          Wt[a * cols + j] = v;
        else
          Wt[j * cols + a] = v;
      }
    double total;
    status = sdlab_assign_max(Wt, rows, cols, col_of_row, &total, NULL);
    if (!status) {
      *mcc = total / (double)ne;
      if (match)
        for (size_t r = 0; r < rows; r++) {
          size_t f = features_are_rows ? feat[r] : feat[col_of_row[r]];
          match[f] = features_are_rows ? col_of_row[r] : r;
        }
    }
  }
  free(Wt);
  free(feat);
  free(col_of_row);
  return status;
}

void
sdlab_metrics_activity(const gsl_matrix *A, size_t *nonzero, unsigned char *fired)
{
  for (size_t s = 0; s < A->size1; s++)
    for (size_t i = 0; i < A->size2; i++)
      if (gsl_matrix_get(A, s, i) != 0) {
        (*nonzero)++;
        fired[i] = 1;
      }
}

int
sdlab_metrics_stats_init(sdlab_metrics_stats *st, size_t q, size_t r)
{
  memset(st, 0, sizeof *st);
  st->q = q;
  st->r = r;
  st->fired = calloc(q ? q : 1, 1);
  st->mean = calloc(r ? r : 1, sizeof *st->mean);
  st->m2 = calloc(r ? r : 1, sizeof *st->m2);
  if (!st->fired || !st->mean || !st->m2) {
    sdlab_metrics_stats_free(st);
    return sdlab_fail(GSL_ENOMEM, "out of memory for statistics");
  }
  return SDLAB_SUCCESS;
}

int
sdlab_metrics_stats_add(sdlab_metrics_stats *st, const gsl_matrix *A, const gsl_matrix *X, const gsl_matrix *Xhat)
{
  if ((A && (A->size2 != st->q || A->size1 != X->size1)) || X->size2 != st->r || Xhat->size1 != X->size1 ||
      Xhat->size2 != st->r)
    return sdlab_fail(SDLAB_ESHAPE, "statistics: batch shapes do not fit (q = %zu, r = %zu)", st->q, st->r);
  if (A)
    sdlab_metrics_activity(A, &st->nonzero, st->fired);
  for (size_t s = 0; s < X->size1; s++) {
    st->N++;
    for (size_t j = 0; j < st->r; j++) {
      double x = gsl_matrix_get(X, s, j), e = x - gsl_matrix_get(Xhat, s, j);
      st->sq_err += e * e;
      double delta = x - st->mean[j];
      st->mean[j] += delta / (double)st->N;
      st->m2[j] += delta * (x - st->mean[j]);
    }
  }
  return SDLAB_SUCCESS;
}

void
sdlab_metrics_stats_result(const sdlab_metrics_stats *st, double *l0, double *dead_fraction, double *ev)
{
  double var = 0;
  size_t fired = 0;
  for (size_t j = 0; j < st->r; j++)
    var += st->m2[j];
  for (size_t i = 0; i < st->q; i++)
    fired += st->fired[i];
  if (l0)
    *l0 = st->N ? (double)st->nonzero / (double)st->N : NAN;
  if (dead_fraction)
    *dead_fraction = st->q ? (double)(st->q - fired) / (double)st->q : NAN;
  if (ev)
    *ev = var > 0 ? 1.0 - st->sq_err / var : NAN;
}

void
sdlab_metrics_stats_free(sdlab_metrics_stats *st)
{
  free(st->fired);
  free(st->mean);
  free(st->m2);
  memset(st, 0, sizeof *st);
}

double
sdlab_metrics_explained_variance(const gsl_matrix *X, const gsl_matrix *Xhat)
{
  sdlab_metrics_stats st;
  double ev = NAN;
  if (sdlab_metrics_stats_init(&st, 0, X->size2) == 0 && sdlab_metrics_stats_add(&st, NULL, X, Xhat) == 0)
    sdlab_metrics_stats_result(&st, NULL, NULL, &ev);
  sdlab_metrics_stats_free(&st);
  return ev;
}

double
sdlab_metrics_frobenius(const gsl_matrix *m)
{
  double s = 0;
  for (size_t i = 0; i < m->size1; i++)
    for (size_t j = 0; j < m->size2; j++)
      s += gsl_matrix_get(m, i, j) * gsl_matrix_get(m, i, j);
  return sqrt(s);
}

int
sdlab_metrics_recovery(const gsl_matrix *L, const gsl_matrix *W, int normalise, const unsigned char *exclude,
                       double tau, int threads, double *s, double *mgt, double *mip, double *mcc)
{
  const size_t q = L->size1, n = W->size2;
  gsl_matrix *S = gsl_matrix_alloc(q, n);
  double *best = s ? s : malloc(n * sizeof *best);
  int status = S && best ? SDLAB_SUCCESS
               : sdlab_fail(GSL_ENOMEM, "out of memory for a %zu x %zu similarity matrix", q, n);
  if (!status)
    status = sdlab_metrics_similarity(L, W, normalise, threads, S);
  if (!status) {
    sdlab_metrics_best_match(S, best);
    *mgt = sdlab_metrics_mgt(best, n, exclude, tau);
    *mip = sdlab_metrics_mip(best, n, exclude);
    if (mcc)
      status = sdlab_metrics_mcc(S, exclude, mcc, NULL);
  }
  if (S)
    gsl_matrix_free(S);
  if (best != s)
    free(best);
  return status;
}
