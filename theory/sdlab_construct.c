#include "sdlab_construct.h"
#include "sdlab_errno.h"

#include <float.h>
#include <math.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>

double
sdlab_construct_max_interference(const gsl_matrix *W)
{
  double M = -INFINITY;
  for (size_t i = 0; i < W->size2; i++) {
    gsl_vector_const_view wi = gsl_matrix_const_column(W, i);
    for (size_t j = i + 1; j < W->size2; j++) {
      gsl_vector_const_view wj = gsl_matrix_const_column(W, j);
      double g;
      gsl_blas_ddot(&wi.vector, &wj.vector, &g);
      if (g > M)
        M = g;
    }
  }
  return M;
}

int
sdlab_construct_thm33(const gsl_matrix *Wp, const gsl_matrix *Wr, gsl_matrix *WE, gsl_matrix *WD)
{
  if (!Wp || !Wr || !WE || !WD) /* a caller's failed allocation */
    return sdlab_fail(GSL_EFAULT, "eq. 15: a matrix is missing (out of memory?)");
  const size_t np = Wp->size1, n = Wp->size2, nr = Wr->size1, nq = WE->size1;
  if (Wr->size2 != n || WE->size2 != np || WD->size1 != nr || WD->size2 != nq)
    return sdlab_fail(SDLAB_ESHAPE, "eq. 15: W_p %zu x %zu, W_r %zu x %zu, W_E %zu x %zu, W_D %zu x %zu do not fit",
                      np, n, nr, Wr->size2, WE->size1, WE->size2, WD->size1, WD->size2);
  if (nq < n)
    return sdlab_fail(SDLAB_EPARAM, "Theorem 3.3 needs n_q >= n (n_q = %zu, n = %zu)", nq, n);
  gsl_matrix_set_zero(WE);
  gsl_matrix_set_zero(WD);
  gsl_matrix_view top = gsl_matrix_submatrix(WE, 0, 0, n, np);
  gsl_matrix_transpose_memcpy(&top.matrix, Wp);
  gsl_matrix_view left = gsl_matrix_submatrix(WD, 0, 0, nr, n);
  gsl_matrix_memcpy(&left.matrix, Wr);
  return SDLAB_SUCCESS;
}

int
sdlab_construct_example35(gsl_matrix *Wp, gsl_matrix *Wr, gsl_vector *Md, gsl_matrix *WE, gsl_matrix *WD,
                          sdlab_activation *act)
{
  const gsl_matrix *ms[4] = {Wp, Wr, WE, WD};
  for (int j = 0; j < 4; j++)
    if (ms[j]->size1 != 2 || ms[j]->size2 != 2)
      return sdlab_fail(SDLAB_ESHAPE, "Example 3.5 is 2 x 2 (matrix %d is %zu x %zu)", j, ms[j]->size1,
                        ms[j]->size2);
  if (Md->size != 2)
    return sdlab_fail(SDLAB_ESHAPE, "Example 3.5 has two weights M_d");
  gsl_matrix_set_identity(Wp);
  gsl_matrix_set_identity(Wr);
  gsl_vector_set_all(Md, 1.0);
  gsl_matrix_set_zero(WE);
  gsl_matrix_set(WE, 0, 0, 1.0);
  gsl_matrix_set(WE, 0, 1, 1.0);
  gsl_matrix_set_zero(WD);
  gsl_matrix_set(WD, 0, 0, 0.5);
  gsl_matrix_set(WD, 1, 0, 0.5);
  act->kind = SDLAB_ACT_TOPK_RELU;
  act->k = 1;
  act->theta = 0;
  return SDLAB_SUCCESS;
}

int
sdlab_construct_default_mixing(gsl_matrix *A)
{
  const size_t nq = A->size1, n = A->size2;
  if (nq < n)
    return sdlab_fail(GSL_EINVAL, "the default mixing needs n_q >= n (n_q = %zu, n = %zu)", nq, n);
  gsl_matrix_set_zero(A);
  for (size_t i = 0; i < n; i++)
    for (size_t d = 0; d < n; d++)
      gsl_matrix_set(A, i, d, i == d ? 1.5 : 1.0);
  return SDLAB_SUCCESS;
}

/* X^+ (cols x rows) of X (rows x cols, rows >= cols) by the thin SVD; fails when X is numerically
 * rank-deficient.  *kappa receives sigma_max / sigma_min. */
static int
pinv_full_column_rank(const gsl_matrix *X, gsl_matrix *Xpinv, double *kappa, const char *name)
{
  const size_t m = X->size1, n = X->size2;
  gsl_matrix *U = gsl_matrix_alloc(m, n);
  gsl_matrix *V = gsl_matrix_alloc(n, n);
  gsl_vector *s = gsl_vector_alloc(n);
  gsl_vector *work = gsl_vector_alloc(n);
  int status = U && V && s && work ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for an SVD");
  if (!status) {
    gsl_matrix_memcpy(U, X);
    status = gsl_linalg_SV_decomp(U, V, s, work); /* U <- left vectors, V (not V^T) */
    if (status)
      status = sdlab_fail(status, "the SVD of %s failed", name);
  }
  if (!status) {
    double smax = gsl_vector_get(s, 0), smin = gsl_vector_get(s, n - 1);
    double cut = (double)(m > n ? m : n) * DBL_EPSILON * smax;
    if (!(smin > cut))
      status = sdlab_fail(SDLAB_EIMPOSSIBLE, "%s is numerically rank-deficient (smallest singular value %.3g, "
                          "largest %.3g)", name, smin, smax);
    else {
      *kappa = smax / smin;
      /* X^+ = V diag(1/s) U^T */
      for (size_t j = 0; j < n; j++) {
        gsl_vector_view vj = gsl_matrix_column(V, j);
        gsl_vector_scale(&vj.vector, 1.0 / gsl_vector_get(s, j));
      }
      gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, V, U, 0.0, Xpinv);
    }
  }
  if (U) gsl_matrix_free(U);
  if (V) gsl_matrix_free(V);
  if (s) gsl_vector_free(s);
  if (work) gsl_vector_free(work);
  return status;
}

int
sdlab_construct_zero_loss(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_matrix *A,
                          const sdlab_activation *act, gsl_matrix *WE, gsl_matrix *WD, double *cond)
{
  if (!Wp || !Wr || !WE || !WD || !act) /* a caller's failed allocation */
    return sdlab_fail(GSL_EFAULT, "zero-loss construction: a matrix is missing (out of memory?)");
  const size_t np = Wp->size1, n = Wp->size2, nr = Wr->size1, nq = WE->size1;
  if (Wr->size2 != n || WE->size2 != np || WD->size1 != nr || WD->size2 != nq ||
      (A && (A->size1 != nq || A->size2 != n)))
    return sdlab_fail(SDLAB_ESHAPE, "zero-loss construction: shapes do not fit (W_p %zu x %zu, W_E %zu x %zu)",
                      np, n, WE->size1, WE->size2);
  if (n > np)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "the zero-loss construction needs n <= n_p (n = %zu, n_p = %zu): in "
                      "superposition W_p^+ W_p is not the identity", n, np);
  if (nq < n)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "n_q = %zu < n = %zu latents cannot give n independent codes", nq, n);
  int status = sdlab_activation_check(act, nq);
  if (status)
    return status;
  gsl_matrix *Amix = gsl_matrix_alloc(nq, n);
  gsl_matrix *Wpinv = gsl_matrix_alloc(n, np);
  gsl_matrix *Z = gsl_matrix_alloc(nq, n);  /* columns z_d */
  gsl_matrix *Zt = gsl_matrix_alloc(n, nq); /* rows z_d, for sigma */
  gsl_matrix *Zpinv = gsl_matrix_alloc(n, nq);
  sdlab_activation_workspace *aw = sdlab_activation_workspace_alloc(n, nq);
  double k1 = 0, k2 = 0;
  if (!Amix || !Wpinv || !Z || !Zt || !Zpinv || !aw)
    status = sdlab_fail(GSL_ENOMEM, "out of memory for the zero-loss construction");
  if (!status) {
    if (A)
      gsl_matrix_memcpy(Amix, A);
    else
      sdlab_construct_default_mixing(Amix);
    status = pinv_full_column_rank(Wp, Wpinv, &k1, "W_p");
  }
  if (!status) {
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, Amix, Wpinv, 0.0, WE); /* W_E = A W_p^+ */
    gsl_blas_dgemm(CblasTrans, CblasTrans, 1.0, Wp, WE, 0.0, Zt);          /* rows (W_E w_p^d)^T */
    status = sdlab_activation_apply(act, Zt, Zt, NULL, aw);
  }
  if (!status) {
    gsl_matrix_transpose_memcpy(Z, Zt);
    status = pinv_full_column_rank(Z, Zpinv, &k2, "the code matrix Z = sigma(A)");
  }
  if (!status) {
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, Wr, Zpinv, 0.0, WD); /* W_D = W_r Z^+ */
    if (cond)
      *cond = k1 * k2;
  }
  if (Amix) gsl_matrix_free(Amix);
  if (Wpinv) gsl_matrix_free(Wpinv);
  if (Z) gsl_matrix_free(Z);
  if (Zt) gsl_matrix_free(Zt);
  if (Zpinv) gsl_matrix_free(Zpinv);
  sdlab_activation_workspace_free(aw);
  return status;
}

int
sdlab_construct_thm38(const gsl_matrix *Wp, const gsl_matrix *WE, double c, const unsigned char *F,
                      size_t istar, gsl_matrix *WEout, sdlab_thm38_info *info)
{
  const size_t np = Wp->size1, n = Wp->size2, m = WE->size1;
  if (WE->size2 != np || WEout->size1 != m + 1 || WEout->size2 != np)
    return sdlab_fail(SDLAB_ESHAPE, "Theorem 3.8: W_p %zu x %zu, W_E %zu x %zu and the expanded encoder %zu x %zu "
                      "do not fit (it must be (m + 1) x n_p)", np, n, m, WE->size2, WEout->size1, WEout->size2);
  if (!(c > 0))
    return sdlab_fail(GSL_EINVAL, "Theorem 3.8: the threshold c of step 1 must be positive (c = %g)", c);
  if (istar >= m)
    return sdlab_fail(GSL_EINVAL, "Theorem 3.8: parent neuron %zu out of range (m = %zu)", istar, m);
  size_t members = 0, jstar = n;
  double amin = INFINITY;
  for (size_t d = 0; d < n; d++) {
    if (!F[istar * n + d])
      continue;
    members++;
    gsl_vector_const_view w = gsl_matrix_const_row(WE, istar), p = gsl_matrix_const_column(Wp, d);
    double a;
    gsl_blas_ddot(&w.vector, &p.vector, &a);
    if (!(a > c))
      return sdlab_fail(GSL_EINVAL, "Theorem 3.8, step 1 (72): feature %zu is in F_%zu but <w_E, w_p> = %.17g is not "
                        "above c = %.17g", d, istar, a, c);
    if (a < amin) {
      amin = a;
      jstar = d;
    }
  }
  if (members < 2)
    return sdlab_fail(GSL_EINVAL, "Theorem 3.8 needs at least two sub-concepts in F_%zu (it has %zu)", istar, members);
  const double M = sdlab_construct_max_interference(Wp);
  if (!(M < 1))
    return sdlab_fail(GSL_EINVAL, "Theorem 3.8, (83): the maximum interference M = %.17g must be below 1", M);
  const double lambda = (c + amin) / (2 * amin), c1 = (c + amin) / 2;
  double next = INFINITY;
  for (size_t d = 0; d < n; d++) {
    if (!F[istar * n + d] || d == jstar)
      continue;
    gsl_vector_const_view w = gsl_matrix_const_row(WE, istar), p = gsl_matrix_const_column(Wp, d);
    double a;
    gsl_blas_ddot(&w.vector, &p.vector, &a);
    if (lambda * a < next)
      next = lambda * a;
  }
  const double eps = next > c1 ? (next - c1) / 2 : 0, c2 = c1 + eps, alpha = 2 * c2 / (1 + M);
  gsl_matrix_view top = gsl_matrix_submatrix(WEout, 0, 0, m, np);
  gsl_matrix_memcpy(&top.matrix, WE);
  gsl_vector_view prow = gsl_matrix_row(WEout, istar), nrow = gsl_matrix_row(WEout, m);
  gsl_vector_scale(&prow.vector, lambda);
  gsl_vector_const_view dstar = gsl_matrix_const_column(Wp, jstar);
  gsl_vector_memcpy(&nrow.vector, &dstar.vector);
  gsl_vector_scale(&nrow.vector, alpha);
  info->jstar = jstar;
  info->amin = amin;
  info->lambda = lambda;
  info->c1 = c1;
  info->c2 = c2;
  info->eps = eps;
  info->M = M;
  info->alpha = alpha;
  return SDLAB_SUCCESS;
}
