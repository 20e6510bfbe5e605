#include "sdlab_claims.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_model.h"

#include <float.h>
#include <math.h>
#include <gsl/gsl_blas.h>

double
sdlab_claims_gamma(double k)
{
  const double u = DBL_EPSILON / 2;
  return k * u / (1 - k * u);
}

double
sdlab_claims_thm33_tolerance(const gsl_vector *Md, size_t np)
{
  const size_t n = Md->size;
  double sum = 0;
  for (size_t d = 0; d < n; d++)
    sum += gsl_vector_get(Md, d);
  return sdlab_claims_gamma(4.0 * (double)(n + np)) * sum * (double)(n + 1) * (double)(n + 1);
}

int
sdlab_claims_thm33_holds(const sdlab_thm33_values *v, const gsl_vector *Md, size_t np)
{
  const double tol = sdlab_claims_thm33_tolerance(Md, np);
  return v->ltilde <= v->middle + tol && v->middle <= v->bound * (1 + sdlab_claims_gamma(8));
}

double
sdlab_claims_thm34_tolerance(size_t np, size_t nr, size_t nq, size_t n, double cond)
{
  const double K = (double)(np + nr + nq + n);
  return sdlab_claims_gamma(K * K) * cond;
}

int
sdlab_claims_thm34_zero(double ltilde, size_t n, double tol)
{
  return ltilde <= 1.1 * (double)n * tol * tol;
}

int
sdlab_claims_thm34_broken(double ltilde, double md0, double delta, size_t n, double tol)
{
  return ltilde > 0 && fabs(ltilde - md0 * delta * delta) <= 2 * delta * tol * md0 + 1.1 * (double)n * tol * tol;
}

double
sdlab_claims_thm31_prob_multi(size_t n, double S)
{
  /* 1 - S^n - n(1-S)S^(n-1), computed as the probability that at least two of n Bernoulli(1-S) are on */
  double p = 1.0 - S;
  double none = pow(S, (double)n);
  double one = (double)n * p * pow(S, (double)n - 1.0);
  double r = 1.0 - none - one;
  return r < 0 ? 0.0 : r;
}

int
sdlab_claims_thm31_step3(double T1, double se_T1, double ltilde, double z)
{
  return fabs(T1 - ltilde) <= z * se_T1;
}

int
sdlab_claims_thm31_step4(double pm, double f, size_t N, size_t n, double S, double z)
{
  const double Nd = (double)N, nn = (double)n, q = 1 - S;
  return pm <= nn * nn * q * q && fabs(f - pm) <= z * sqrt(pm * (1 - pm) / Nd) + 1.0 / Nd;
}

int
sdlab_claims_thm31_bound(double L, double se_L, double ltilde, double bound, double z)
{
  return L - ltilde - z * se_L <= bound && L - ltilde + z * se_L >= -bound;
}

int
sdlab_claims_thm33(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                  const sdlab_activation *act, size_t nq, sdlab_thm33_values *out)
{
  const size_t np = Wp->size1, n = Wp->size2, nr = Wr->size1;
  if (Md->size != n || Wr->size2 != n)
    return sdlab_fail(SDLAB_ESHAPE, "Theorem 3.3: %zu features but %zu weights and %zu targets", n,
                      Md->size, Wr->size2);
  sdlab_model *m = sdlab_model_alloc(np == nr ? SDLAB_SAE : SDLAB_TRANSCODER, np, nq, nr, 1, act);
  if (m == NULL)
    return GSL_EINVAL;
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(n, m);
  int status = w ? sdlab_construct_thm33(Wp, Wr, m->WE, m->WD) : GSL_ENOMEM;
  if (!status)
    status = sdlab_loss_tilde(m, Wp, Wr, Md, &out->ltilde, NULL, NULL, w);
  if (!status) {
    /* codes z_d = sigma(W_E* w_p^d), one row per feature: w->Z holds pre-activations, w->A codes */
    gsl_matrix_view Z = gsl_matrix_submatrix(w->Z, 0, 0, n, nq);
    gsl_matrix_view A = gsl_matrix_submatrix(w->A, 0, 0, n, nq);
    gsl_blas_dgemm(CblasTrans, CblasTrans, 1.0, Wp, m->WE, 0.0, &Z.matrix);
    status = sdlab_activation_apply(act, &Z.matrix, &A.matrix, w->sel, w->aw);
    if (!status) {
      double M = sdlab_construct_max_interference(Wp), sum_md = 0, sum_k = 0;
      size_t bad = 0;
      for (size_t d = 0; d < n; d++) {
        size_t K = 0;
        for (size_t k = 0; k < nq; k++) {
          double a = gsl_matrix_get(&A.matrix, d, k);
          K += a > 0;
          bad += a < 0;
        }
        double md = gsl_vector_get(Md, d);
        sum_md += md;
        sum_k += md * ((double)K - 1.0) * ((double)K - 1.0);
      }
      out->M = M;
      out->middle = M * M * sum_k;
      out->bound = (double)n * (double)n * M * M * sum_md;
      out->nonpositive_selected = bad;
    }
  }
  sdlab_loss_workspace_free(w);
  sdlab_model_free(m);
  return status;
}
