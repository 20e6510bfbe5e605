#include "sdlab_activation.h"
#include "sdlab_errno.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sdlab_activation_parse(const char *text, sdlab_activation *act)
{
  static const char *forms = "relu, jumprelu:THETA, topk:K, topk-relu:K or batchtopk:K";
  if (text == NULL || act == NULL)
    return sdlab_fail(SDLAB_EPARAM, "no activation given (expected %s)", forms);
  const char *colon = strchr(text, ':');
  size_t namelen = colon ? (size_t)(colon - text) : strlen(text);
  memset(act, 0, sizeof *act);
  if (namelen == 4 && strncmp(text, "relu", 4) == 0 && colon == NULL) {
    act->kind = SDLAB_ACT_RELU;
    return SDLAB_SUCCESS;
  }
  if (colon == NULL || colon[1] == '\0')
    return sdlab_fail(SDLAB_EPARAM, "unknown activation '%s' (expected %s)", text, forms);
  char *end = NULL;
  if (namelen == 8 && strncmp(text, "jumprelu", 8) == 0) {
    double t = strtod(colon + 1, &end);
    if (*end != '\0' || !isfinite(t) || t < 0)
      return sdlab_fail(SDLAB_EPARAM, "activation '%s': the jumprelu threshold must be a finite number >= 0", text);
    act->kind = SDLAB_ACT_JUMPRELU;
    act->theta = t;
    return SDLAB_SUCCESS;
  }
  sdlab_activation_kind kind;
  if (namelen == 4 && strncmp(text, "topk", 4) == 0)
    kind = SDLAB_ACT_TOPK;
  else if (namelen == 9 && strncmp(text, "topk-relu", 9) == 0)
    kind = SDLAB_ACT_TOPK_RELU;
  else if (namelen == 9 && strncmp(text, "batchtopk", 9) == 0)
    kind = SDLAB_ACT_BATCHTOPK;
  else
    return sdlab_fail(SDLAB_EPARAM, "unknown activation '%s' (expected %s)", text, forms);
  if (colon[1] == '-')
    return sdlab_fail(SDLAB_EPARAM, "activation '%s': K must be a positive integer", text);
  unsigned long long k = strtoull(colon + 1, &end, 10);
  if (*end != '\0' || k == 0)
    return sdlab_fail(SDLAB_EPARAM, "activation '%s': K must be a positive integer", text);
  act->kind = kind;
  act->k = (size_t)k;
  return SDLAB_SUCCESS;
}

void
sdlab_activation_format(const sdlab_activation *act, char *buf, size_t len)
{
  switch (act->kind) {
  case SDLAB_ACT_RELU: snprintf(buf, len, "relu"); break;
  case SDLAB_ACT_JUMPRELU: snprintf(buf, len, "jumprelu:%.17g", act->theta); break;
  case SDLAB_ACT_TOPK: snprintf(buf, len, "topk:%zu", act->k); break;
  case SDLAB_ACT_TOPK_RELU: snprintf(buf, len, "topk-relu:%zu", act->k); break;
  case SDLAB_ACT_BATCHTOPK: snprintf(buf, len, "batchtopk:%zu", act->k); break;
  }
}

int
sdlab_activation_check(const sdlab_activation *act, size_t nq)
{
  if (nq == 0)
    return sdlab_fail(SDLAB_EPARAM, "the number of latents n_q must be positive");
  switch (act->kind) {
  case SDLAB_ACT_RELU: return SDLAB_SUCCESS;
  case SDLAB_ACT_JUMPRELU:
    if (!isfinite(act->theta) || act->theta < 0)
      return sdlab_fail(SDLAB_EPARAM, "jumprelu threshold must be finite and >= 0 (got %g)", act->theta);
    return SDLAB_SUCCESS;
  case SDLAB_ACT_TOPK:
  case SDLAB_ACT_TOPK_RELU:
  case SDLAB_ACT_BATCHTOPK:
    if (act->k == 0 || act->k > nq)
      return sdlab_fail(SDLAB_EPARAM, "K = %zu must lie in [1, n_q = %zu]", act->k, nq);
    return SDLAB_SUCCESS;
  }
  return sdlab_fail(SDLAB_EPARAM, "unknown activation kind %d", (int)act->kind);
}

int
sdlab_activation_is_homogeneous(const sdlab_activation *act)
{
  return !(act->kind == SDLAB_ACT_JUMPRELU && act->theta > 0);
}

sdlab_activation_workspace *
sdlab_activation_workspace_alloc(size_t rows, size_t cols)
{
  if (rows == 0 || cols == 0 || rows > SIZE_MAX / cols / sizeof(size_t)) {
    sdlab_fail(GSL_EINVAL, "activation workspace of %zu x %zu is empty or too large", rows, cols);
    return NULL;
  }
  sdlab_activation_workspace *w = malloc(sizeof *w);
  if (w == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for the activation workspace");
    return NULL;
  }
  w->rows = rows;
  w->cols = cols;
  w->idx = malloc(rows * cols * sizeof(size_t));
  w->vals = malloc(rows * cols * sizeof(double));
  if (w->idx == NULL || w->vals == NULL) {
    free(w->idx);
    free(w->vals);
    free(w);
    sdlab_fail(GSL_ENOMEM, "out of memory for the activation workspace (%zu x %zu)", rows, cols);
    return NULL;
  }
  return w;
}

void
sdlab_activation_workspace_free(sdlab_activation_workspace *w)
{
  if (w == NULL)
    return;
  free(w->idx);
  free(w->vals);
  free(w);
}

SDLAB_SELECT_TOP_DEFINE(ranks_before, select_top, double, size_t)

static int
check_shapes(const gsl_matrix *Z, const gsl_matrix *A, const sdlab_activation_workspace *w)
{
  if (A != NULL && (A->size1 != Z->size1 || A->size2 != Z->size2))
    return sdlab_fail(GSL_EBADLEN, "activation output is %zu x %zu, input %zu x %zu", A->size1,
                      A->size2, Z->size1, Z->size2);
  if (w == NULL || w->rows * w->cols < Z->size1 * Z->size2 || w->cols < Z->size2)
    return sdlab_fail(GSL_EBADLEN, "activation workspace too small for a %zu x %zu batch", Z->size1,
                      Z->size2);
  for (size_t r = 0; r < Z->size1; r++) {
    const double *z = gsl_matrix_const_ptr(Z, r, 0);
    for (size_t i = 0; i < Z->size2; i++)
      if (!isfinite(z[i]))
        return sdlab_fail(SDLAB_ENONFINITE, "non-finite pre-activation at (%zu, %zu)", r, i);
  }
  return SDLAB_SUCCESS;
}

/* Fill keep[] (rows*cols, row-major) with the selection of sigma on Z. */
static void
selection(const sdlab_activation *act, const gsl_matrix *Z, unsigned char *keep,
          sdlab_activation_workspace *w)
{
  const size_t B = Z->size1, q = Z->size2;
  switch (act->kind) {
  case SDLAB_ACT_RELU:
  case SDLAB_ACT_JUMPRELU: {
    double t = act->kind == SDLAB_ACT_RELU ? 0.0 : act->theta;
    for (size_t r = 0; r < B; r++) {
      const double *z = gsl_matrix_const_ptr(Z, r, 0);
      for (size_t i = 0; i < q; i++)
        keep[r * q + i] = z[i] > t;
    }
    break;
  }
  case SDLAB_ACT_TOPK:
  case SDLAB_ACT_TOPK_RELU:
    for (size_t r = 0; r < B; r++) {
      const double *v = gsl_matrix_const_ptr(Z, r, 0);
      size_t *idx = w->idx;
      for (size_t i = 0; i < q; i++)
        idx[i] = i;
      select_top(v, idx, q, act->k);
      memset(keep + r * q, 0, q);
      for (size_t j = 0; j < act->k; j++)
        if (act->kind == SDLAB_ACT_TOPK || v[idx[j]] > 0)
          keep[r * q + idx[j]] = 1;
    }
    break;
  case SDLAB_ACT_BATCHTOPK: {
    /* rank the whole batch; positions are row-major so ties break toward earlier rows */
    size_t total = B * q, kk = act->k * B;
    double *v = w->vals; /* the batch, contiguous */
    for (size_t r = 0; r < B; r++)
      memcpy(v + r * q, gsl_matrix_const_ptr(Z, r, 0), q * sizeof *v);
    for (size_t j = 0; j < total; j++)
      w->idx[j] = j;
    select_top(v, w->idx, total, kk);
    memset(keep, 0, total);
    for (size_t j = 0; j < kk; j++)
      if (v[w->idx[j]] > 0)
        keep[w->idx[j]] = 1;
    break;
  }
  }
}

int
sdlab_activation_apply(const sdlab_activation *act, const gsl_matrix *Z, gsl_matrix *A,
                       unsigned char *sel, sdlab_activation_workspace *w)
{
  int status = check_shapes(Z, A, w);
  if (status)
    return status;
  if ((status = sdlab_activation_check(act, Z->size2)))
    return status;
  const size_t B = Z->size1, q = Z->size2;
  unsigned char *keep = sel;
  if (keep == NULL && (keep = malloc(B * q)) == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory for an activation mask");
  selection(act, Z, keep, w);
  for (size_t r = 0; r < B; r++) {
    const double *z = gsl_matrix_const_ptr(Z, r, 0);
    double *a = gsl_matrix_ptr(A, r, 0);
    const unsigned char *k = keep + r * q;
    for (size_t i = 0; i < q; i++)
      a[i] = k[i] ? z[i] : 0.0;
  }
  if (keep != sel)
    free(keep);
  return SDLAB_SUCCESS;
}

int
sdlab_activation_margin(const sdlab_activation *act, const gsl_matrix *Z, double *margin,
                        sdlab_activation_workspace *w)
{
  int status = check_shapes(Z, NULL, w);
  if (status)
    return status;
  if ((status = sdlab_activation_check(act, Z->size2)))
    return status;
  const size_t B = Z->size1, q = Z->size2;
  switch (act->kind) {
  case SDLAB_ACT_RELU:
  case SDLAB_ACT_JUMPRELU: {
    double t = act->kind == SDLAB_ACT_RELU ? 0.0 : act->theta;
    for (size_t r = 0; r < B; r++)
      for (size_t i = 0; i < q; i++)
        margin[r * q + i] = fabs(gsl_matrix_get(Z, r, i) - t);
    return SDLAB_SUCCESS;
  }
  case SDLAB_ACT_TOPK:
  case SDLAB_ACT_TOPK_RELU:
    for (size_t r = 0; r < B; r++) {
      const double *v = gsl_matrix_const_ptr(Z, r, 0);
      size_t *idx = w->idx, k = act->k;
      for (size_t i = 0; i < q; i++)
        idx[i] = i;
      select_top(v, idx, q, k);
      /* lowest selected value and highest unselected value */
      double low = INFINITY, high = -INFINITY;
      for (size_t j = 0; j < k; j++)
        low = fmin(low, v[idx[j]]);
      for (size_t j = k; j < q; j++)
        high = fmax(high, v[idx[j]]);
      for (size_t j = 0; j < q; j++) {
        size_t i = idx[j];
        /* a selected entry stays selected while it stays above the best unselected one; an
         * unselected one stays out while it stays below the worst selected one */
        double m = j < k ? v[i] - high : low - v[i];
        if (act->kind == SDLAB_ACT_TOPK_RELU)
          m = fmin(m, fabs(v[i]));
        margin[r * q + i] = m;
      }
    }
    return SDLAB_SUCCESS;
  case SDLAB_ACT_BATCHTOPK: {
    size_t total = B * q, kk = act->k * B;
    double *v = w->vals;
    for (size_t r = 0; r < B; r++)
      memcpy(v + r * q, gsl_matrix_const_ptr(Z, r, 0), q * sizeof *v);
    for (size_t j = 0; j < total; j++)
      w->idx[j] = j;
    select_top(v, w->idx, total, kk);
    double low = INFINITY, high = -INFINITY;
    for (size_t j = 0; j < kk; j++)
      low = fmin(low, v[w->idx[j]]);
    for (size_t j = kk; j < total; j++)
      high = fmax(high, v[w->idx[j]]);
    for (size_t j = 0; j < total; j++) {
      size_t p = w->idx[j];
      double m = j < kk ? v[p] - high : low - v[p];
      margin[p] = fmin(m, fabs(v[p]));
    }
    return SDLAB_SUCCESS;
  }
  }
  return sdlab_fail(GSL_EINVAL, "unknown activation kind %d", (int)act->kind);
}

double
sdlab_activation_jumprelu_dtheta(double z, double theta, double h)
{
  return fabs(z - theta) < 0.5 * h ? -theta / h : 0.0;
}

double
sdlab_activation_jumprelu_l0_dtheta(double z, double theta, double h)
{
  return fabs(z - theta) < 0.5 * h ? -1.0 / h : 0.0;
}
