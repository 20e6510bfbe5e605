#include "sdlab_loss.h"
#include "sdlab_errno.h"

#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_blas.h>

sdlab_loss_workspace *
sdlab_loss_workspace_alloc(size_t batch, const sdlab_model *m)
{
  if (batch == 0 || m == NULL) {
    sdlab_fail(GSL_EINVAL, "a loss workspace needs a positive batch size and a model");
    return NULL;
  }
  sdlab_loss_workspace *w = calloc(1, sizeof *w);
  if (w == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for a loss workspace");
    return NULL;
  }
  w->batch = batch;
  w->np = m->np;
  w->nq = m->nq;
  w->nr = m->nr;
  w->Z = gsl_matrix_alloc(batch, m->nq);
  w->A = gsl_matrix_alloc(batch, m->nq);
  w->R = gsl_matrix_alloc(batch, m->nr);
  w->sel = malloc(batch * m->nq);
  w->act_idx = malloc(batch * m->nq * sizeof *w->act_idx);
  w->act_count = malloc(batch * sizeof *w->act_count);
  w->WDt = gsl_matrix_alloc(m->nq, m->nr);
  w->gDt = gsl_matrix_alloc(m->nq, m->nr);
  w->xrow = malloc(m->np * sizeof *w->xrow);
  w->aw = sdlab_activation_workspace_alloc(batch, m->nq);
  if (!w->Z || !w->A || !w->R || !w->sel || !w->act_idx || !w->act_count || !w->WDt || !w->gDt || !w->xrow || !w->aw) {
    sdlab_loss_workspace_free(w);
    sdlab_fail(GSL_ENOMEM, "out of memory for a loss workspace (batch %zu, n_q %zu)", batch, m->nq);
    return NULL;
  }
  return w;
}

void
sdlab_loss_workspace_free(sdlab_loss_workspace *w)
{
  if (w == NULL)
    return;
  if (w->Z) gsl_matrix_free(w->Z);
  if (w->A) gsl_matrix_free(w->A);
  if (w->R) gsl_matrix_free(w->R);
  free(w->sel);
  free(w->act_idx);
  free(w->act_count);
  if (w->WDt) gsl_matrix_free(w->WDt);
  if (w->gDt) gsl_matrix_free(w->gDt);
  free(w->xrow);
  sdlab_activation_workspace_free(w->aw);
  free(w);
}

/* The sparse path's gradients for one chunk of b samples, with R holding c_s r_s: dL/dW_D[:, i] = -2 sum_s c_s r_s
 * a_si into w->gDt's rows (when gD), and dL/dz_si = -2 <c_s r_s, W_D[:, i]> on the selection, then
 * dL/dW_E[i, :] = sum_s dL/dz_si x_p(s) into gE (when gE).  Every access is to a contiguous row. */
static void
sparse_gradients(const sdlab_model *m, sdlab_loss_workspace *w, const gsl_matrix *R, const gsl_matrix *A,
                 const gsl_matrix *xp, int columns, size_t b, gsl_matrix *gE, int gD)
{
  for (size_t s = 0; s < b; s++) {
    const double *r = gsl_matrix_const_ptr(R, s, 0);
    const double *x = w->xrow;
    if (gE) {
      if (columns)
        for (size_t j = 0; j < m->np; j++)
          w->xrow[j] = gsl_matrix_get(xp, j, s);
      else
        x = gsl_matrix_const_ptr(xp, s, 0);
    }
    for (size_t t = 0; t < w->act_count[s]; t++) {
      size_t i = w->act_idx[s * m->nq + t];
      if (gD) {
        double a2 = -2.0 * gsl_matrix_get(A, s, i);
        double *g = gsl_matrix_ptr(w->gDt, i, 0);
        for (size_t j = 0; j < m->nr; j++)
          g[j] += a2 * r[j];
      }
      if (gE) {
        const double *col = gsl_matrix_const_ptr(w->WDt, i, 0);
        double dz = 0.0;
        for (size_t j = 0; j < m->nr; j++)
          dz += r[j] * col[j];
        dz *= -2.0;
        double *ge = gsl_matrix_ptr(gE, i, 0);
        for (size_t j = 0; j < m->np; j++)
          ge[j] += dz * x[j];
      }
    }
  }
}

int
sdlab_loss_weighted(const sdlab_model *m, const gsl_matrix *Xp, const gsl_matrix *Xr, int columns,
                    const double *weights, double scale, double *loss, double *terms, gsl_matrix *gE,
                    gsl_matrix *gD, sdlab_loss_workspace *w)
{
  const size_t N = columns ? Xp->size2 : Xp->size1;
  const size_t p_dim = columns ? Xp->size1 : Xp->size2;
  const size_t r_n = columns ? Xr->size2 : Xr->size1;
  const size_t r_dim = columns ? Xr->size1 : Xr->size2;
  if (p_dim != m->np || r_dim != m->nr || r_n != N)
    return sdlab_fail(SDLAB_ESHAPE,
                      "loss: %zu inputs of dimension %zu and %zu targets of dimension %zu do not fit a "
                      "model with n_p = %zu, n_r = %zu",
                      N, p_dim, r_n, r_dim, m->np, m->nr);
  if (w == NULL || w->np != m->np || w->nq != m->nq || w->nr != m->nr)
    return sdlab_fail(SDLAB_ESHAPE, "loss: the workspace was made for another model's sizes");
  if ((gE && (gE->size1 != m->nq || gE->size2 != m->np)) ||
      (gD && (gD->size1 != m->nr || gD->size2 != m->nq)))
    return sdlab_fail(SDLAB_ESHAPE, "loss: gradient matrices must be n_q x n_p and n_r x n_q");
  if (gE)
    gsl_matrix_set_zero(gE);
  if (gD)
    gsl_matrix_set_zero(gD);
  int transposed = 0; /* W_D^T made (and gDt zeroed) for the sparse path, once per call */
  double total = 0.0;
  for (size_t s0 = 0; s0 < N; s0 += w->batch) {
    const size_t b = N - s0 < w->batch ? N - s0 : w->batch;
    gsl_matrix_view Z = gsl_matrix_submatrix(w->Z, 0, 0, b, m->nq);
    gsl_matrix_view A = gsl_matrix_submatrix(w->A, 0, 0, b, m->nq);
    gsl_matrix_view R = gsl_matrix_submatrix(w->R, 0, 0, b, m->nr);
    gsl_matrix_const_view xp = columns ? gsl_matrix_const_submatrix(Xp, 0, s0, m->np, b)
                                       : gsl_matrix_const_submatrix(Xp, s0, 0, b, m->np);
    gsl_matrix_const_view xr = columns ? gsl_matrix_const_submatrix(Xr, 0, s0, m->nr, b)
                                       : gsl_matrix_const_submatrix(Xr, s0, 0, b, m->nr);
    /* Z = X_p W_E^T, A = sigma(Z) */
    gsl_blas_dgemm(columns ? CblasTrans : CblasNoTrans, CblasTrans, 1.0, &xp.matrix, m->WE, 0.0, &Z.matrix);
    int status = sdlab_activation_apply(&m->act, &Z.matrix, &A.matrix, w->sel, w->aw);
    if (status)
      return status;
    /* the selected latents of each sample; sparse when under 1/8 of the chunk */
    size_t nnz = 0;
    for (size_t s = 0; s < b; s++) {
      size_t c = 0, *idx = w->act_idx + s * m->nq;
      const unsigned char *sel = w->sel + s * m->nq;
      for (size_t i = 0; i < m->nq; i++)
        if (sel[i])
          idx[c++] = i;
      w->act_count[s] = c;
      nnz += c;
    }
    const int sparse = !w->dense_only && 8 * nnz < b * m->nq;
    if (sparse && !transposed) {
      gsl_matrix_transpose_memcpy(w->WDt, m->WD);
      gsl_matrix_set_zero(w->gDt);
      transposed = 1;
    }
    /* R = X_r - A W_D^T */
    if (columns) {
      for (size_t s = 0; s < b; s++)
        for (size_t j = 0; j < m->nr; j++)
          gsl_matrix_set(&R.matrix, s, j, gsl_matrix_get(&xr.matrix, j, s));
    } else {
      gsl_matrix_memcpy(&R.matrix, &xr.matrix);
    }
    if (sparse) {
      for (size_t s = 0; s < b; s++) {
        double *r = gsl_matrix_ptr(&R.matrix, s, 0);
        for (size_t t = 0; t < w->act_count[s]; t++) {
          size_t i = w->act_idx[s * m->nq + t];
          double a = gsl_matrix_get(&A.matrix, s, i);
          const double *col = gsl_matrix_const_ptr(w->WDt, i, 0);
          for (size_t j = 0; j < m->nr; j++)
            r[j] -= a * col[j];
        }
      }
    } else {
      gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &A.matrix, m->WD, 1.0, &R.matrix);
    }
    for (size_t s = 0; s < b; s++) {
      gsl_vector_view r = gsl_matrix_row(&R.matrix, s);
      double sq = 0.0;
      for (size_t j = 0; j < m->nr; j++)
        sq += gsl_vector_get(&r.vector, j) * gsl_vector_get(&r.vector, j);
      double c = scale * (weights ? weights[s0 + s] : 1.0);
      if (terms)
        terms[s0 + s] = sq;
      total += c * sq;
      if (gE || gD)
        gsl_vector_scale(&r.vector, c); /* R now holds c_s r_s */
    }
    if (sparse) {
      sparse_gradients(m, w, &R.matrix, &A.matrix, &xp.matrix, columns, b, gE, gD != NULL);
      continue;
    }
    if (gD)
      gsl_blas_dgemm(CblasTrans, CblasNoTrans, -2.0, &R.matrix, &A.matrix, 1.0, gD);
    if (gE) {
      /* dL/dZ = -2 (c r W_D) masked by the selection; reuse Z's storage */
      gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, -2.0, &R.matrix, m->WD, 0.0, &Z.matrix);
      for (size_t s = 0; s < b; s++)
        for (size_t i = 0; i < m->nq; i++)
          if (!w->sel[s * m->nq + i])
            gsl_matrix_set(&Z.matrix, s, i, 0.0);
      gsl_blas_dgemm(CblasTrans, columns ? CblasTrans : CblasNoTrans, 1.0, &Z.matrix, &xp.matrix, 1.0, gE);
    }
  }
  if (transposed && gD) { /* gD += gDt^T */
    for (size_t i = 0; i < m->nq; i++)
      for (size_t j = 0; j < m->nr; j++)
        *gsl_matrix_ptr(gD, j, i) += gsl_matrix_get(w->gDt, i, j);
  }
  if (!isfinite(total))
    return sdlab_fail(SDLAB_ENONFINITE, "loss: the loss is not finite (NaN or infinity in the weights or data)");
  if (loss)
    *loss = total;
  return SDLAB_SUCCESS;
}

int
sdlab_loss_sampled(const sdlab_model *m, const gsl_matrix *Xp, const gsl_matrix *Xr, double *loss,
                   gsl_matrix *gE, gsl_matrix *gD, sdlab_loss_workspace *w)
{
  if (Xp->size1 == 0)
    return sdlab_fail(GSL_EINVAL, "the sampled loss needs at least one sample");
  return sdlab_loss_weighted(m, Xp, Xr, 0, NULL, 1.0 / (double)Xp->size1, loss, NULL, gE, gD, w);
}

int
sdlab_loss_tilde(const sdlab_model *m, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                 double *loss, gsl_matrix *gE, gsl_matrix *gD, sdlab_loss_workspace *w)
{
  if (Md->size != Wp->size2 || Md->stride != 1)
    return sdlab_fail(SDLAB_ESHAPE, "L~: %zu weights M_d for %zu features (a contiguous vector is needed)",
                      Md->size, Wp->size2);
  return sdlab_loss_weighted(m, Wp, Wr, 1, Md->data, 1.0, loss, NULL, gE, gD, w);
}

int
sdlab_loss_md_independent(size_t n, const double *p, const double *m2, double *Md)
{
  double log_all_off = 0.0; /* sum_e log(1 - p_e), -inf when some p_e = 1 */
  size_t certain = 0;       /* features active with probability 1 */
  for (size_t d = 0; d < n; d++) {
    if (!(p[d] >= 0 && p[d] <= 1) || !(m2[d] >= 0) || !isfinite(m2[d]))
      return sdlab_fail(GSL_EINVAL, "M_d: feature %zu has p = %g, E[x^2] = %g (need p in [0,1], finite E[x^2] >= 0)",
                        d, p[d], m2[d]);
    if (p[d] == 1)
      certain++;
    else
      log_all_off += log1p(-p[d]);
  }
  for (size_t d = 0; d < n; d++) {
    /* prod_{e != d} (1 - p_e): zero if another feature is always on */
    size_t others_certain = certain - (p[d] == 1);
    double others = others_certain ? 0.0 : exp(log_all_off - (p[d] == 1 ? 0.0 : log1p(-p[d])));
    Md[d] = p[d] * others * m2[d];
  }
  return SDLAB_SUCCESS;
}

int
sdlab_loss_md_accumulate(const gsl_matrix *X, double *sum, size_t *rows_with_one)
{
  for (size_t s = 0; s < X->size1; s++) {
    size_t nz = 0, at = 0;
    for (size_t d = 0; d < X->size2; d++) {
      double v = gsl_matrix_get(X, s, d);
      if (!isfinite(v))
        return sdlab_fail(SDLAB_ENONFINITE, "M_d estimate: non-finite code at (%zu, %zu)", s, d);
      if (v != 0) {
        nz++;
        at = d;
      }
    }
    if (nz == 1) {
      double v = gsl_matrix_get(X, s, at);
      sum[at] += v * v;
      if (rows_with_one)
        (*rows_with_one)++;
    }
  }
  return SDLAB_SUCCESS;
}
