#include "sdlab_check.h"
#include "sdlab_claims.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_lp.h"
#include "sdlab_lrb.h"
#include "sdlab_metrics.h"
#include "sdlab_pattern.h"
#include "sdlab_patterns.h"
#include "sdlab_piece.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

void
sdlab_check_report_init(sdlab_check_report *r, uint64_t seed, size_t trials)
{
  memset(r, 0, sizeof *r);
  for (size_t k = 0; k < SDLAB_CLAIMS_COUNT; k++)
    r->claims[k].row = sdlab_claims_get((sdlab_claims_id)k);
  r->count = SDLAB_CLAIMS_COUNT;
  r->seed = seed;
  r->trials = trials;
}

void
sdlab_check_report_free(sdlab_check_report *r)
{
  memset(r, 0, sizeof *r);
}

static sdlab_claim *
claim(sdlab_check_report *r, sdlab_claims_id k)
{
  return &r->claims[k];
}

/* ok: 1 held, 0 failed, -1 undecided (the independent search found neither a witness nor a refutation) */
static void
record(sdlab_claim *c, int ok, const char *fmt, ...)
{
  if (c == NULL)
    return;
  c->tried++;
  if (ok == 1) {
    c->held++;
    return;
  }
  if (ok == 0)
    c->failed++;
  else
    c->undecided++;
  if (ok == 0 && c->first[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->first, sizeof c->first, fmt, ap);
    va_end(ap);
  }
}

static gsl_rng *
instance_rng(uint64_t seed, uint64_t group, uint64_t t)
{
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  if (g)
    gsl_rng_set(g, sdlab_lrb_stream_seed(seed, group * 1000003ULL + t));
  return g;
}

static void
gaussian(gsl_rng *g, gsl_matrix *m, double sd)
{
  for (size_t i = 0; i < m->size1; i++)
    for (size_t j = 0; j < m->size2; j++)
      gsl_matrix_set(m, i, j, gsl_ran_gaussian(g, sd));
}

static double
maxabs(const gsl_matrix *m)
{
  double s = 0;
  for (size_t i = 0; i < m->size1; i++)
    for (size_t j = 0; j < m->size2; j++)
      s = fmax(s, fabs(gsl_matrix_get(m, i, j)));
  return s;
}

/* A bench instance (C.1) with random sizes; 0 when C.1 does not reach M within its cap. */
static int
bench(gsl_rng *g, size_t n, size_t np, double M, sdlab_lrb_params *p, sdlab_lrb_truth *t)
{
  sdlab_lrb_params_default(p);
  p->n = n;
  p->dim = np;
  p->M = M;
  p->samples = 1;
  p->max_iter = 3000;
  p->seed = gsl_rng_get(g);
  return sdlab_lrb_truth_make(p, t, NULL, NULL) == SDLAB_SUCCESS;
}

/* The rounding bound on a computed gradient of L~ (the loss tests' bound): 3 gamma_K G with
 * G = 2 sum_d M_d R_d (||W_D|| + ||W_E||) ||w_p^d||, R_d = ||w_r^d|| + ||W_D|| ||W_E|| ||w_p^d||. */
static double
gradient_rounding(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const gsl_matrix *WE,
                  const gsl_matrix *WD)
{
  const double fE = sdlab_metrics_frobenius(WE), fD = sdlab_metrics_frobenius(WD);
  double G = 0;
  for (size_t d = 0; d < Wp->size2; d++) {
    gsl_vector_const_view p = gsl_matrix_const_column(Wp, d), r = gsl_matrix_const_column(Wr, d);
    double xp = gsl_blas_dnrm2(&p.vector), xr = gsl_blas_dnrm2(&r.vector);
    G += 2 * gsl_vector_get(Md, d) * (xr + fD * fE * xp) * (fD + fE) * xp;
  }
  return 3 * sdlab_claims_gamma(2.0 * (Wp->size1 + WE->size1 + Wr->size1) + Wp->size2) * G;
}

int
sdlab_check_thm31_sample_loss(const sdlab_model *m, const sdlab_lrb_params *p, const gsl_matrix *Wp, size_t N,
                        sdlab_loss_workspace *w, sdlab_thm31_sample *e)
{
  const size_t chunk = 1024, n = p->n, np = Wp->size1;
  if (N == 0 || N % chunk || w->batch < chunk || Wp->size2 != n)
    return sdlab_fail(GSL_EINVAL, "Theorem 3.1's sampling needs N a positive multiple of %zu, a workspace batch of at "
                      "least %zu and W_p with the bench's %zu features", chunk, chunk, n);
  sdlab_lrb_sampler *s = sdlab_lrb_sampler_alloc(p);
  gsl_matrix *X = gsl_matrix_alloc(chunk, n), *Xp = gsl_matrix_alloc(chunk, np);
  double *err = malloc(chunk * sizeof *err), sL = 0, sL2 = 0, s1 = 0, s12 = 0;
  size_t multi = 0;
  int status = s && X && Xp && err ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t done = 0; !status && done < N; done += chunk) {
    sdlab_lrb_sampler_next(s, chunk, X->data);
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, X, Wp, 0.0, Xp);
    status = sdlab_loss_weighted(m, Xp, Xp, 0, NULL, 1.0, NULL, err, NULL, NULL, w);
    for (size_t i = 0; !status && i < chunk; i++) {
      size_t on = 0;
      for (size_t d = 0; d < n; d++)
        on += gsl_matrix_get(X, i, d) != 0;
      sL += err[i];
      sL2 += err[i] * err[i];
      if (on == 1) {
        s1 += err[i];
        s12 += err[i] * err[i];
      }
      multi += on >= 2;
    }
  }
  const double Nd = (double)N;
  e->L = sL / Nd;
  e->se_L = sqrt(fmax(sL2 / Nd - e->L * e->L, 0) / Nd);
  e->T1 = s1 / Nd;
  e->se_T1 = sqrt(fmax(s12 / Nd - e->T1 * e->T1, 0) / Nd);
  e->multi = (double)multi / Nd;
  e->se_multi = sqrt(e->multi * (1 - e->multi) / Nd);
  free(err);
  if (X) gsl_matrix_free(X);
  if (Xp) gsl_matrix_free(Xp);
  sdlab_lrb_sampler_free(s);
  return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Theorem 3.1 */

static double
trunc_exp_x2(double x, void *params)
{
  (void)params;
  return x * x * exp(-x) / -expm1(-3.0);
}

static void
check_31(sdlab_check_report *r)
{
  sdlab_claim *c34 = claim(r, SDLAB_CLAIMS_THM31_STEP3);
  sdlab_claim *c35 = claim(r, SDLAB_CLAIMS_THM31_STEP4);
  sdlab_claim *c12 = claim(r, SDLAB_CLAIMS_THM31_BOUND);
  sdlab_claim *cj = claim(r, SDLAB_CLAIMS_THM31_JUMPRELU);
  static const sdlab_activation acts[] = {{.kind = SDLAB_ACT_RELU}, {.kind = SDLAB_ACT_TOPK_RELU, .k = 2},
                                          {.kind = SDLAB_ACT_TOPK, .k = 2}, {.kind = SDLAB_ACT_JUMPRELU, .theta = 0.7}};
  size_t T = r->trials / 20 + 2;
  for (size_t t = 0; t < 4 * T; t++) {
    gsl_rng *g = instance_rng(r->seed, 31, t);
    sdlab_lrb_params p;
    sdlab_lrb_truth tr;
    size_t n = 2 + gsl_rng_uniform_int(g, 4), np = 2 + gsl_rng_uniform_int(g, 3);
    if (!bench(g, n, np, 0.6, &p, &tr)) {
      gsl_rng_free(g);
      continue;
    }
    p.S = 1 - (0.02 + (1.0 / (double)n - 0.02) * gsl_rng_uniform(g));
    p.cmin = 0.5 * gsl_rng_uniform(g);
    p.beta = 0.5 + gsl_rng_uniform(g);
    p.cmax = p.cmin + 3 * p.beta;
    const sdlab_activation act = acts[t % 4];
    size_t nq = n + 1;
    sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, np, nq, np, 1, &act);
    gaussian(g, m->WE, 1.0);
    gaussian(g, m->WD, 1.0);
    gsl_vector *Md = gsl_vector_alloc(n);
    sdlab_lrb_md(&p, Md->data);
    sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(1024, m);
    double lt;
    sdlab_loss_tilde(m, tr.Wp, tr.Wr, Md, &lt, NULL, NULL, w);
    const size_t N = 64 * 1024;
    sdlab_thm31_sample e;
    sdlab_check_thm31_sample_loss(m, &p, tr.Wp, N, w, &e);
    const double z = 5, q = 1 - p.S, nn = (double)n;
    const double L = e.L, seL = e.se_L, T1 = e.T1, seT1 = e.se_T1;
    double pm = sdlab_claims_thm31_prob_multi(n, p.S), fm = e.multi;
    double cf = sdlab_metrics_frobenius(tr.Wr) + sdlab_metrics_frobenius(m->WD) * sdlab_metrics_frobenius(m->WE) * sdlab_metrics_frobenius(tr.Wp), Cub = cf * cf * nn * p.cmax * p.cmax;
    double bound = nn * nn * Cub * q * q;
    char an[64], desc[256];
    sdlab_activation_format(&act, an, sizeof an);
    snprintf(desc, sizeof desc, "instance %zu (bench seed %llu, n %zu, n_p %zu, n_q %zu, S %.4f, %s)", t,
             (unsigned long long)p.seed, n, np, nq, p.S, an);
    if (act.kind == SDLAB_ACT_JUMPRELU) {
      /* a violation is certain when even the lower confidence limit of |L - L~| exceeds the bound */
      record(cj, fabs(L - lt) - z * seL > bound ? 0 : 1, "%s: |L - L~| = %.6g (se %.2g) > n^2 C_ub (1-S)^2 = %.6g",
             desc, fabs(L - lt), seL, bound);
    } else {
      record(c34, sdlab_claims_thm31_step3(T1, seT1, lt, z), "%s: m=1 part %.6g, L~ %.6g (se %.2g)", desc, T1, lt, seT1);
      record(c35, sdlab_claims_thm31_step4(pm, fm, N, n, p.S, z),
             "%s: P(m>=2) = %.6g (sampled %.6g), n^2 (1-S)^2 = %.6g", desc, pm, fm, nn * nn * q * q);
      record(c12, sdlab_claims_thm31_bound(L, seL, lt, bound, z), "%s: L - L~ = %.6g (se %.2g), bound %.6g",
             desc, L - lt, seL, bound);
    }
    sdlab_loss_workspace_free(w);
    gsl_vector_free(Md);
    sdlab_model_free(m);
    sdlab_lrb_truth_free(&tr);
    gsl_rng_free(g);
  }
  /* the pinned JumpReLU instance, exact: n = n_p = n_q = 2, W_E = W_D = I, theta = 1, Exp(1) truncated at 3 */
  {
    const double S = 0.99, C = 2.0;
    gsl_integration_workspace *iw = gsl_integration_workspace_alloc(100);
    gsl_function f = {trunc_exp_x2, NULL};
    double above = 0, abserr = 0;
    gsl_integration_qags(&f, 1.0, 3.0, 0, 1e-12, 100, iw, &above, &abserr);
    gsl_integration_workspace_free(iw);
    double lower = 2 * (1 - S) * S * (above - abserr) - C * sdlab_claims_thm31_prob_multi(2, S);
    double bound = 4 * C * (1 - S) * (1 - S);
    record(cj, lower <= bound,
           "pinned: n = n_p = n_q = 2, w_p^d = w_r^d = e_d, W_E = W_D = I, theta = 1, magnitudes Exp(1) truncated at 3 "
           "(c_min 0), S = 0.99, C = 2: |L - L~| >= %.6g (quadrature) > n^2 C (1-S)^2 = %.6g; the m = 1 part differs "
           "from L~ because JumpReLU is not positively homogeneous", lower, bound);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Theorem 3.2 */

static double
min_eigenvalue(const gsl_matrix *H)
{
  gsl_matrix *A = gsl_matrix_alloc(H->size1, H->size2);
  gsl_vector *e = gsl_vector_alloc(H->size1);
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(H->size1);
  gsl_matrix_memcpy(A, H);
  gsl_eigen_symm(A, e, w);
  double mn = INFINITY;
  for (size_t i = 0; i < e->size; i++)
    mn = fmin(mn, gsl_vector_get(e, i));
  gsl_eigen_symm_free(w);
  gsl_vector_free(e);
  gsl_matrix_free(A);
  return mn;
}

/* f(W_D + a U, W_E + b V) + f(W_D - a U, W_E - b V) - 2 f(W_D, W_E), the piece's L~; *round (unless NULL): the
 * rounding of the two new values (sdlab_claims_ltilde_rounding) and of the sum, to which the caller adds twice f's */
static double
second_difference(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_vector *Md, const gsl_matrix *WE,
                  const gsl_matrix *WD, const gsl_matrix *U, double a, const gsl_matrix *V, double b, double f0,
                  gsl_matrix *E2, gsl_matrix *D2, double *round)
{
  double acc = -2 * f0, mag = 2 * fabs(f0), err = 0;
  for (int sg = -1; sg <= 1; sg += 2) {
    for (size_t k = 0; k < WE->size1 * WE->size2; k++)
      E2->data[k] = WE->data[k] + sg * b * V->data[k];
    for (size_t k = 0; k < WD->size1 * WD->size2; k++)
      D2->data[k] = WD->data[k] + sg * a * U->data[k];
    double f;
    sdlab_piece_loss(P, Wp, Wp, Md, E2, D2, &f, NULL, NULL);
    acc += f;
    mag += fabs(f);
    if (round)
      err += sdlab_claims_ltilde_rounding(Wp, Wp, Md, E2, D2, P->F);
  }
  if (round)
    *round = err + sdlab_claims_gamma(3) * mag;
  return acc;
}

static void
check_32(sdlab_check_report *r)
{
  sdlab_claim *cd = claim(r, SDLAB_CLAIMS_THM32_DECODER);
  sdlab_claim *ce = claim(r, SDLAB_CLAIMS_THM32_ENCODER);
  sdlab_claim *cj = claim(r, SDLAB_CLAIMS_THM32_NOT_JOINT);
  static const sdlab_activation acts[] = {{.kind = SDLAB_ACT_RELU}, {.kind = SDLAB_ACT_TOPK_RELU, .k = 2},
                                          {.kind = SDLAB_ACT_JUMPRELU, .theta = 0.3}};
  for (size_t t = 0; t < r->trials; t++) {
    gsl_rng *g = instance_rng(r->seed, 32, t);
    size_t n = 2 + gsl_rng_uniform_int(g, 5), np = 2 + gsl_rng_uniform_int(g, 3), nq = 2 + gsl_rng_uniform_int(g, 4);
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *WE = gsl_matrix_alloc(nq, np), *WD = gsl_matrix_alloc(np, nq);
    gaussian(g, Wp, 1.0);
    for (size_t d = 0; d < n; d++) {
      gsl_vector_view c = gsl_matrix_column(Wp, d);
      gsl_vector_scale(&c.vector, 1.0 / gsl_blas_dnrm2(&c.vector));
    }
    gaussian(g, WE, 1.0);
    gaussian(g, WD, 1.0);
    gsl_vector *Md = gsl_vector_alloc(n);
    for (size_t d = 0; d < n; d++)
      gsl_vector_set(Md, d, 0.1 + gsl_rng_uniform(g));
    sdlab_activation act = acts[t % 3];
    if (act.kind == SDLAB_ACT_TOPK_RELU && act.k > nq)
      act.k = nq;
    uint64_t F[8];
    sdlab_pattern_of_masks(&act, WE, Wp, F);
    sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
    gsl_matrix *HD = gsl_matrix_alloc(nq, nq), *HE = gsl_matrix_alloc(nq * np, nq * np);
    sdlab_piece_hessians(P, Wp, Md, WE, WD, HD, HE);
    char an[64], desc[160];
    sdlab_activation_format(&act, an, sizeof an);
    snprintf(desc, sizeof desc, "instance %zu (n %zu, n_p %zu, n_q %zu, %s)", t, n, np, nq, an);
    double ed = min_eigenvalue(HD), ee = min_eigenvalue(HE);
    /* a computed eigenvalue of a PSD matrix is >= -(dimension) eps ||H||_F (Weyl, backward stable QR) */
    record(cd, ed >= -(double)nq * DBL_EPSILON * 8 * sdlab_metrics_frobenius(HD), "%s: smallest eigenvalue %.3g", desc, ed);
    record(ce, ee >= -(double)(nq * np) * DBL_EPSILON * 8 * sdlab_metrics_frobenius(HE), "%s: smallest eigenvalue %.3g", desc, ee);
    /* joint non-convexity: along (s U, V), with V moving W_E inside the piece, the second difference
     * f(+) + f(-) - 2 f(0) = h^2 (s^2 A + B + 2 s C) + O(h^4); the best s = -C/A leaves B - C^2/A */
    double sm, vi;
    sdlab_piece_margin(P, WE, &sm, &vi);
    int found = 0;
    double worst = INFINITY, tol = 0;
    if (sm > 0) {
      gsl_matrix *U = gsl_matrix_alloc(np, nq), *V = gsl_matrix_alloc(nq, np), *E2 = gsl_matrix_alloc(nq, np),
                 *D2 = gsl_matrix_alloc(np, nq);
      double f0;
      sdlab_piece_loss(P, Wp, Wp, Md, WE, WD, &f0, NULL, NULL);
      const double round0 = sdlab_claims_ltilde_rounding(Wp, Wp, Md, WE, WD, P->F);
      for (int tries = 0; tries < 20 && !found; tries++) {
        gaussian(g, U, 1.0);
        gaussian(g, V, 1.0);
        /* every strict row C_i vec(W_E) moves by at most h ||C_i|| ||V||_F <= h 2 ||W_p||_F ||V||_F */
        double h = fmin(0.25 * sm / (2 * sdlab_metrics_frobenius(Wp) * sdlab_metrics_frobenius(V)), 1e-2);
        double a = (second_difference(P, Wp, Md, WE, WD, U, h, V, 0, f0, E2, D2, NULL)) / (h * h);
        double b = (second_difference(P, Wp, Md, WE, WD, U, 0, V, h, f0, E2, D2, NULL)) / (h * h);
        double ab = (second_difference(P, Wp, Md, WE, WD, U, h, V, h, f0, E2, D2, NULL)) / (h * h);
        double cc = (ab - a - b) / 2;
        if (!(a > 0))
          continue;
        double fm = second_difference(P, Wp, Md, WE, WD, U, -cc / a * h, V, h, f0, E2, D2, &tol);
        tol += 2 * round0;
        worst = fmin(worst, fm);
        found = fm < -tol;
      }
      gsl_matrix_free(U);
      gsl_matrix_free(V);
      gsl_matrix_free(E2);
      gsl_matrix_free(D2);
    }
    if (sm > 0)
      record(cj, found ? 1 : -1, "%s: no violation found (best second difference %.3g, rounding %.3g)", desc, worst, tol);
    gsl_matrix_free(HD);
    gsl_matrix_free(HE);
    sdlab_piece_free(P);
    gsl_vector_free(Md);
    gsl_matrix_free(Wp);
    gsl_matrix_free(WE);
    gsl_matrix_free(WD);
    gsl_rng_free(g);
  }
  /* pure Top-k (eq. 7): the selected non-positive codes are not fixed by the pattern */
  sdlab_claim *ck = claim(r, SDLAB_CLAIMS_THM32_TOPK);
  {
    /* one feature e1 in R^3, W_D = I, w_r = e1, Top-2; encoder rows (1,0,0), (a,0,0), (b,0,0) with a, b < 0:
     * the pattern is F_1 = {1}, F_2 = F_3 = {} throughout, and L~ = max(a, b)^2 */
    sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 2};
    sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, 3, 3, 3, 1, &act);
    gsl_matrix_set_identity(m->WD);
    gsl_matrix *Wp = gsl_matrix_calloc(3, 1);
    gsl_matrix_set(Wp, 0, 0, 1.0);
    gsl_vector *Md = gsl_vector_alloc(1);
    gsl_vector_set(Md, 0, 1.0);
    sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(1, m);
    const double ab[3][2] = {{-1, -3}, {-3, -1}, {-2, -2}};
    double f[3];
    uint64_t F[3][3];
    for (int k = 0; k < 3; k++) {
      gsl_matrix_set_zero(m->WE);
      gsl_matrix_set(m->WE, 0, 0, 1.0);
      gsl_matrix_set(m->WE, 1, 0, ab[k][0]);
      gsl_matrix_set(m->WE, 2, 0, ab[k][1]);
      sdlab_loss_tilde(m, Wp, Wp, Md, &f[k], NULL, NULL, w);
      sdlab_pattern_of_masks(&act, m->WE, Wp, F[k]);
    }
    int same = memcmp(F[0], F[1], sizeof F[0]) == 0 && memcmp(F[0], F[2], sizeof F[0]) == 0;
    record(ck, !(same && f[2] > (f[0] + f[1]) / 2),
           "pinned: one feature e1 in R^3, W_D = I, Top-2, encoder rows (1,0,0), (a,0,0), (b,0,0): the pattern is "
           "the same at (a, b) = (-1, -3), (-3, -1) and their midpoint (-2, -2), but L~ = %g, %g and %g > their mean: "
           "L~ = max(a, b)^2 there, because Top-2 passes the larger negative code", f[0], f[1], f[2]);
    sdlab_loss_workspace_free(w);
    gsl_vector_free(Md);
    gsl_matrix_free(Wp);
    sdlab_model_free(m);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Theorem 3.3 */

static void
check_33(sdlab_check_report *r)
{
  static const sdlab_activation_kind kinds[] = {SDLAB_ACT_RELU, SDLAB_ACT_JUMPRELU, SDLAB_ACT_TOPK_RELU,
                                                SDLAB_ACT_BATCHTOPK, SDLAB_ACT_TOPK};
  for (size_t kk = 0; kk < 5; kk++) {
    sdlab_claim *c = claim(r, sdlab_claims_thm33_id(kinds[kk]));
    for (size_t t = 0; t < r->trials; t++) {
      gsl_rng *g = instance_rng(r->seed, 330 + kk, t);
      sdlab_lrb_params p;
      sdlab_lrb_truth tr;
      size_t n = 2 + gsl_rng_uniform_int(g, 7), np = 2 + gsl_rng_uniform_int(g, 5);
      if (!bench(g, n, np, 0.05 + 0.55 * gsl_rng_uniform(g), &p, &tr)) {
        gsl_rng_free(g);
        continue;
      }
      p.S = 0.5 + 0.49 * gsl_rng_uniform(g);
      gsl_vector *Md = gsl_vector_alloc(n);
      sdlab_lrb_md(&p, Md->data);
      size_t nq = n + gsl_rng_uniform_int(g, 3);
      /* JumpReLU's threshold in [0, 0.5), Top-k's K in [1, n_q] */
      sdlab_activation act = {.kind = kinds[kk]};
      if (act.kind == SDLAB_ACT_JUMPRELU)
        act.theta = 0.5 * gsl_rng_uniform(g);
      else if (act.kind != SDLAB_ACT_RELU)
        act.k = 1 + (size_t)gsl_rng_uniform_int(g, nq);
      char an[64];
      sdlab_activation_format(&act, an, sizeof an);
      sdlab_thm33_values v;
      if (sdlab_claims_thm33(tr.Wp, tr.Wr, Md, &act, nq, &v) == 0) {
        record(c, sdlab_claims_thm33_holds(&v, Md, np), "instance %zu (bench seed %llu, n %zu, n_p %zu, n_q %zu, %s, M %.4g): L~ = %.6g, middle %.6g, "
               "bound %.6g; %zu non-positive codes selected", t, (unsigned long long)p.seed, n, np, nq, an, v.M,
               v.ltilde, v.middle, v.bound, v.nonpositive_selected);
      }
      gsl_vector_free(Md);
      sdlab_lrb_truth_free(&tr);
      gsl_rng_free(g);
    }
  }
  /* the orthoplex: four directions +-e1, +-e2 in R^2, M = 0, Top-4 */
  sdlab_claim *c = claim(r, SDLAB_CLAIMS_THM33_TOPK);
  double wp[] = {1, -1, 0, 0, 0, 0, 1, -1};
  gsl_matrix_view W = gsl_matrix_view_array(wp, 2, 4);
  gsl_vector *Md = gsl_vector_alloc(4);
  gsl_vector_set_all(Md, 1.0);
  sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 4};
  sdlab_thm33_values v;
  sdlab_claims_thm33(&W.matrix, &W.matrix, Md, &act, 4, &v);
  record(c, v.ltilde <= v.bound, "pinned: the orthoplex +-e1, +-e2 in R^2 (M = 0), Top-4, M_d = 1: L~ = %.6g > bound %.6g; "
         "Top-k passes the antipode's code -1, which proof step 2 leaves out", v.ltilde, v.bound);
  gsl_vector_free(Md);
}

/* ---------------------------------------------------------------------------------------------- */
/* Theorem 3.4 and Example 3.5 */

static void
check_34(sdlab_check_report *r)
{
  sdlab_claim *cif = claim(r, SDLAB_CLAIMS_THM34_IF);
  sdlab_claim *conly = claim(r, SDLAB_CLAIMS_THM34_ONLY_IF);
  sdlab_claim *cnon = claim(r, SDLAB_CLAIMS_THM34_NONIDENTIFIABLE);
  for (size_t t = 0; t < r->trials; t++) {
    gsl_rng *g = instance_rng(r->seed, 34, t);
    size_t n = 3 + gsl_rng_uniform_int(g, 6), np = n + gsl_rng_uniform_int(g, 4), nq = n + gsl_rng_uniform_int(g, 3);
    sdlab_lrb_params p;
    sdlab_lrb_truth tr;
    if (!bench(g, n, np, 0.2, &p, &tr)) {
      gsl_rng_free(g);
      continue;
    }
    sdlab_activation act = {.kind = SDLAB_ACT_RELU};
    sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, np, nq, np, 1, &act);
    double cond;
    char desc[128];
    snprintf(desc, sizeof desc, "instance %zu (bench seed %llu, n %zu, n_p %zu, n_q %zu)", t, (unsigned long long)p.seed,
             n, np, nq);
    if (sdlab_construct_zero_loss(tr.Wp, tr.Wr, NULL, &act, m->WE, m->WD, &cond) == 0) {
      gsl_vector *Md = gsl_vector_alloc(n);
      for (size_t d = 0; d < n; d++)
        gsl_vector_set(Md, d, 0.1 + gsl_rng_uniform(g));
      sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(n, m);
      double L, tol = sdlab_claims_thm34_tolerance(np, np, nq, n, cond);
      sdlab_loss_tilde(m, tr.Wp, tr.Wr, Md, &L, NULL, NULL, w);
      record(cif, sdlab_claims_thm34_zero(L, Md, tol), "%s: L~ = %.3g, rounding bound %.3g", desc, L,
             sdlab_claims_thm34_zero_bound(Md, tol));
      size_t d0 = gsl_rng_uniform_int(g, n);
      const double delta = 0.25;
      gsl_matrix_set(tr.Wr, 0, d0, gsl_matrix_get(tr.Wr, 0, d0) + delta);
      double L2;
      sdlab_loss_tilde(m, tr.Wp, tr.Wr, Md, &L2, NULL, NULL, w);
      double expect = gsl_vector_get(Md, d0) * delta * delta;
      record(conly, sdlab_claims_thm34_broken(L2, Md, d0, delta, tol),
             "%s: L~ = %.17g after breaking (17) for feature %zu, expected %.17g", desc, L2, d0, expect);
      gsl_matrix_set(tr.Wr, 0, d0, gsl_matrix_get(tr.Wr, 0, d0) - delta);
      gsl_matrix *S = gsl_matrix_alloc(nq, n);
      double s[16];
      sdlab_metrics_similarity(m->WE, tr.Wp, 1, 1, S);
      sdlab_metrics_best_match(S, s);
      double mgt = sdlab_metrics_mgt(s, n, NULL, 0.9), mip = sdlab_metrics_mip(s, n, NULL);
      record(cnon, mgt == 0, "%s: M_GT(0.9) = %g, M_IP = %g", desc, mgt, mip);
      gsl_matrix_free(S);
      sdlab_loss_workspace_free(w);
      gsl_vector_free(Md);
    }
    sdlab_model_free(m);
    sdlab_lrb_truth_free(&tr);
    gsl_rng_free(g);
  }
}

static void
check_35(sdlab_check_report *r)
{
  sdlab_claim *c = claim(r, SDLAB_CLAIMS_EX35);
  gsl_matrix *Wp = gsl_matrix_alloc(2, 2), *Wr = gsl_matrix_alloc(2, 2), *WE = gsl_matrix_alloc(2, 2),
             *WD = gsl_matrix_alloc(2, 2), *gE = gsl_matrix_alloc(2, 2), *gD = gsl_matrix_alloc(2, 2);
  gsl_vector *Md = gsl_vector_alloc(2);
  sdlab_activation act;
  sdlab_construct_example35(Wp, Wr, Md, WE, WD, &act);
  sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, 2, 2, 2, 1, &act);
  gsl_matrix_memcpy(m->WE, WE);
  gsl_matrix_memcpy(m->WD, WD);
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(2, m);
  double L;
  sdlab_loss_tilde(m, Wp, Wr, Md, &L, gE, gD, w);
  uint64_t F[2];
  sdlab_pattern_of_masks(&act, WE, Wp, F);
  /* partial optimum: neither block minimisation lowers L~ */
  sdlab_piece *P = sdlab_piece_alloc(Wp, 2, &act, 2, F);
  gsl_matrix *D2 = gsl_matrix_alloc(2, 2), *E2 = gsl_matrix_alloc(2, 2);
  gsl_matrix_memcpy(E2, WE);
  double gd, LD, LE;
  sdlab_piece_decoder_step(P, Wp, Wr, Md, WE, D2, &gd);
  sdlab_piece_loss(P, Wp, Wr, Md, WE, D2, &LD, NULL, NULL);
  sdlab_piece_workspace *pw = sdlab_piece_workspace_alloc(P);
  sdlab_qp_kkt kkt;
  sdlab_piece_encoder_step(P, Wp, Wr, Md, WD, E2, &kkt, pw);
  sdlab_piece_loss(P, Wp, Wr, Md, E2, WD, &LE, NULL, NULL);
  /* a block step cannot go below the partial minimum: the computed values within their rounding (L = 1 is exact) */
  const double rD = sdlab_claims_ltilde_rounding(Wp, Wr, Md, WE, D2, P->F),
               rE = sdlab_claims_ltilde_rounding(Wp, Wr, Md, E2, WD, P->F);
  int ok = L == 1.0 && maxabs(gE) == 0 && maxabs(gD) == 0 && F[0] == 3 && F[1] == 0 && LD >= L - rD && LE >= L - rE;
  record(c, ok, "L~ = %.17g, |dW_E| = %.3g, |dW_D| = %.3g, F = (%llx, %llx), best in W_D %.17g, best in W_E %.17g", L,
         maxabs(gE), maxabs(gD), (unsigned long long)F[0], (unsigned long long)F[1], LD, LE);
  sdlab_piece_workspace_free(pw);
  sdlab_piece_free(P);
  gsl_matrix_free(D2);
  gsl_matrix_free(E2);
  sdlab_loss_workspace_free(w);
  sdlab_model_free(m);
  gsl_matrix_free(Wp);
  gsl_matrix_free(Wr);
  gsl_matrix_free(WE);
  gsl_matrix_free(WD);
  gsl_matrix_free(gE);
  gsl_matrix_free(gD);
  gsl_vector_free(Md);
}

/* ---------------------------------------------------------------------------------------------- */
/* Theorem 3.6 */

/* A realizable polysemantic partition pattern for ReLU: a group G (|G| >= 2) and singletons for the
 * rest, each realizable by one neuron; the encoder rows are the enumeration's witnesses. */
static int
polysemantic_partition(gsl_rng *g, const gsl_matrix *Wp, size_t nq, int pairs_only, uint64_t *F, gsl_matrix *WE)
{
  const size_t n = Wp->size2, np = Wp->size1;
  sdlab_pattern_list *l;
  if (sdlab_patterns_single(Wp, 0, 100000, &l))
    return 0;
  size_t cand[4096], nc = 0;
  for (size_t c = 0; c < l->count && nc < 4096; c++) {
    size_t size = (size_t)__builtin_popcountll(l->masks[c]);
    if (size >= 2 && (!pairs_only || size == 2) && l->open[c] && 1 + (n - size) <= nq) {
      int ok = 1;
      for (size_t d = 0; d < n && ok; d++)
        if (!(l->masks[c] >> d & 1)) {
          size_t s = sdlab_patterns_list_find(l, (uint64_t)1 << d);
          ok = s != (size_t)-1 && l->open[s];
        }
      if (ok)
        cand[nc++] = c;
    }
  }
  int found = nc > 0;
  if (found) {
    size_t c = cand[gsl_rng_uniform_int(g, nc)], i = 0;
    gsl_matrix_set_zero(WE);
    memset(F, 0, nq * sizeof *F);
    F[i] = l->masks[c];
    for (size_t a = 0; a < np; a++)
      gsl_matrix_set(WE, i, a, l->witness[c * l->wsize + a]);
    i++;
    for (size_t d = 0; d < n; d++)
      if (!(l->masks[c] >> d & 1)) {
        size_t s = sdlab_patterns_list_find(l, (uint64_t)1 << d);
        F[i] = (uint64_t)1 << d;
        for (size_t a = 0; a < np; a++)
          gsl_matrix_set(WE, i, a, l->witness[s * l->wsize + a]);
        i++;
      }
  }
  sdlab_patterns_list_free(l);
  return found;
}

/* Interior partial minima.  For a pair F_1 = {d1, d2} with independent directions: an interior stationary point
 * needs c_d1 = c_d2 = 0 (c_d = <w_D^1, w_r^d - w_D^1 z_d>), which with the normal equations leaves one equation in
 * t = z_d1 / z_d2:
 *   a12 M1 t^2 - (M1 a11 - M2 a22) t - a12 M2 = 0,   a_jk = <w_r^dj, w_r^dk>,
 * with exactly one positive root t*; so an interior one exists iff some w has <w, w_p^d1> = t* <w, w_p^d2> > 0 and
 * <w, w_p^e> < 0 off the pair (an LP).  A partial minimum can also sit where some <w, w_p^e> = 0 (still the same
 * pattern, since sigma(0) = 0): the statement then rests on acs_partial_minimum.  1 or 0 when decided (why says
 * how), -1 when F1 is not a pair or the LP's certificate did not verify. */
static int
interior_pair(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, uint64_t F1, char *why, size_t len)
{
  const size_t n = Wp->size2, np = Wp->size1;
  if (__builtin_popcountll(F1) != 2)
    return -1;
  const size_t d1 = (size_t)__builtin_ctzll(F1), d2 = (size_t)__builtin_ctzll(F1 & (F1 - 1));
  int interior = -1;
  gsl_vector_const_view r1 = gsl_matrix_const_column(Wr, d1), r2 = gsl_matrix_const_column(Wr, d2);
  double a11, a22, a12, m1 = gsl_vector_get(Md, d1), m2 = gsl_vector_get(Md, d2);
  gsl_blas_ddot(&r1.vector, &r1.vector, &a11);
  gsl_blas_ddot(&r2.vector, &r2.vector, &a22);
  gsl_blas_ddot(&r1.vector, &r2.vector, &a12);
  double B = m1 * a11 - m2 * a22, tstar = NAN;
  if (a12 != 0) {
    double disc = sqrt(B * B + 4 * a12 * a12 * m1 * m2);
    double ra = (B + disc) / (2 * a12 * m1), rb = (B - disc) / (2 * a12 * m1);
    tstar = ra > 0 ? ra : rb;
  }
  if (isfinite(tstar)) {
    double G[64 * 8];
    unsigned char strict[64];
    size_t rows = 0;
    for (size_t a = 0; a < np; a++) {
      double v = gsl_matrix_get(Wp, a, d1) - tstar * gsl_matrix_get(Wp, a, d2);
      G[0 * np + a] = v;
      G[1 * np + a] = -v;
      G[2 * np + a] = gsl_matrix_get(Wp, a, d2);
    }
    strict[0] = strict[1] = 0;
    strict[2] = 1;
    rows = 3;
    for (size_t e = 0; e < n; e++)
      if (e != d1 && e != d2) {
        for (size_t a = 0; a < np; a++)
          G[rows * np + a] = -gsl_matrix_get(Wp, a, e);
        strict[rows++] = 1;
      }
    double x[8];
    int feasible, verified;
    if (sdlab_lp_homogeneous(G, strict, rows, np, x, &feasible, &verified) == 0 && verified) {
      interior = feasible;
      snprintf(why, len, "the stationary ratio z_d1/z_d2 = t* = %.6g (features %zu, %zu) lies outside the "
               "pattern's open region (LP infeasible, Farkas certificate verified): no encoder strictly inside "
               "the region has a zero gradient", tstar, d1, d2);
    }
  } else if (a12 == 0) {
    interior = B == 0 ? 1 : 0;
    snprintf(why, len, "orthogonal targets with M_d1 a11 != M_d2 a22: no stationary ratio exists");
  }
  return interior;
}

/* Alternating convex search on piece P from WE, then a partial-optimum certificate at its final point: neither
 * block's exact minimisation lowers L~ by more than sqrt(eps) L~, L~ > 0, and the point is in the pattern's region
 * (strict rows positive).  1 when certified, -1 (undecided) otherwise. */
static int
acs_partial_minimum(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                    const gsl_matrix *WE)
{
  const size_t nq = P->nq, np = P->np;
  int verdict = -1;
  sdlab_piece_acs *acs = sdlab_piece_acs_alloc(P, Wp, Wr, Md);
  if (acs && sdlab_piece_acs_set(acs, WE) == 0) {
    for (int it = 0; it < 3000; it++) {
      if (sdlab_piece_acs_iterate(acs))
        break;
      if (sdlab_piece_acs_test(acs, 1e-15, 0) == GSL_SUCCESS)
        break;
    }
    double sm, vi, La, Le, Ld, gd;
    sdlab_piece_margin(P, acs->WE, &sm, &vi);
    sdlab_piece_loss(P, Wp, Wr, Md, acs->WE, acs->WD, &La, NULL, NULL);
    gsl_matrix *E2 = gsl_matrix_alloc(nq, np), *D2 = gsl_matrix_alloc(np, nq);
    gsl_matrix_memcpy(E2, acs->WE);
    sdlab_qp_kkt kk;
    sdlab_piece_workspace *pw = sdlab_piece_workspace_alloc(P);
    int qs = pw ? sdlab_piece_encoder_step(P, Wp, Wr, Md, acs->WD, E2, &kk, pw) : GSL_ENOMEM;
    sdlab_piece_loss(P, Wp, Wr, Md, E2, acs->WD, &Le, NULL, NULL);
    sdlab_piece_decoder_step(P, Wp, Wr, Md, acs->WE, D2, &gd);
    sdlab_piece_loss(P, Wp, Wr, Md, acs->WE, D2, &Ld, NULL, NULL);
    if (qs == 0 && sm > 0 && La > 0 && La - Le <= sqrt(DBL_EPSILON) * La && La - Ld <= sqrt(DBL_EPSILON) * La)
      verdict = 1;
    sdlab_piece_workspace_free(pw);
    gsl_matrix_free(E2);
    gsl_matrix_free(D2);
  }
  sdlab_piece_acs_free(acs);
  return verdict;
}

/* Theorem 3.6 step 2 on a partition pattern F (each feature in one F_i): the decoder (55) computed from the codes Z
 * against WDls, the minimum-norm least-squares decoder (sdlab_piece_decoder_step, which computes its own codes),
 * entrywise.  Both are T_ai / den_i with T_ai = sum_{d in F_i} M_d z_di w_r^ad and den_i = sum_{d in F_i} M_d
 * z_di^2, up to rounding: each code within g zeta_di (g = gamma_{n_p}, zeta_di = sum_b |W_E^ib| |w_p^bd|, a dot
 * product's bound), so the two codes differ by 2 g zeta; each sum within gamma_{n+2} of its absolute terms; the
 * quotient within gamma_2; and the least-squares route inverts S = diag(den) through an eigensolver whose backward
 * error E is taken as 8 n_q eps ||S||_F (as for Theorem 3.2), which moves entry (a, i) of W_D by at most ||E|| / den_i
 * times row a's norm (a column cut at the numerical rank then still within it).  A dead column (den_i = 0) must be 0
 * in both.  Per entry, twice the first-order error of one route plus the eigensolver's term.  1 when every
 * entry is within it; the difference nearest its allowance, and the allowance, in *diff, *tol.  n, n_q <= 64. */
static int
decoders_agree(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const gsl_matrix *WE, const gsl_matrix *Z,
               const uint64_t *F, const gsl_matrix *WD, const gsl_matrix *WDls, double *diff, double *tol)
{
  const size_t n = Wp->size2, np = Wp->size1, nq = WE->size1;
  const double g = sdlab_claims_gamma((double)np), gs = sdlab_claims_gamma((double)n + 2);
  double den[64] = {0}, Sfro = 0; /* S = diag(den): den_i = sum_{d in F_i} M_d z_di^2 */
  for (size_t i = 0; i < nq; i++) {
    for (size_t d = 0; d < n; d++)
      if (F[i] >> d & 1)
        den[i] += gsl_vector_get(Md, d) * gsl_matrix_get(Z, d, i) * gsl_matrix_get(Z, d, i);
    Sfro += den[i] * den[i];
  }
  const double Ebound = 8 * (double)nq * DBL_EPSILON * sqrt(Sfro); /* ||E||, the eigensolver's backward error */
  int ok = 1;
  *diff = 0;
  *tol = 1;
  for (size_t i = 0; i < nq; i++) {
    double dden = 0, zeta[64] = {0};
    for (size_t d = 0; d < n; d++)
      if (F[i] >> d & 1) {
        zeta[d] = sdlab_claims_code_scale(WE, Wp, i, d);
        dden += gsl_vector_get(Md, d) * fabs(gsl_matrix_get(Z, d, i)) * (2 * g * zeta[d]);
      }
    if (!(den[i] > 0)) { /* a dead column: both routes give 0 (S_ii = 0 is cut) */
      for (size_t a = 0; a < np; a++) {
        const double e = fabs(gsl_matrix_get(WDls, a, i));
        ok &= e == 0;
        if (e > 0) { /* reported: no later entry replaces an allowance of 0 */
          *diff = e;
          *tol = 0;
        }
      }
      continue;
    }
    for (size_t a = 0; a < np; a++) {
      double A = 0, Az = 0, row = 0;
      for (size_t d = 0; d < n; d++)
        if (F[i] >> d & 1) {
          double md = gsl_vector_get(Md, d), z = fabs(gsl_matrix_get(Z, d, i)), w = fabs(gsl_matrix_get(Wr, a, d));
          A += md * z * w;
          Az += md * g * zeta[d] * w;
        }
      for (size_t j = 0; j < nq; j++)
        row += gsl_matrix_get(WD, a, j) * gsl_matrix_get(WD, a, j);
      const double W = fabs(gsl_matrix_get(WD, a, i));
      const double one = (gs * A + Az + W * (gs * den[i] + dden)) / den[i] + sdlab_claims_gamma(2) * W;
      /* S^-1 + delta: delta_ji ~ (S^-1 E S^-1)_ji, so W's entry (a, i) moves by at most ||W_a|| ||E|| / den_i */
      const double t = 2 * one + Ebound / den[i] * sqrt(row), e = fabs(gsl_matrix_get(WD, a, i) - gsl_matrix_get(WDls, a, i));
      ok &= e <= t;
      if (e * *tol >= *diff * t) { /* the entry nearest its allowance (e / t largest) */
        *diff = e;
        *tol = t;
      }
    }
  }
  return ok;
}

static void
check_36(sdlab_check_report *r)
{
  sdlab_claim *c1 = claim(r, SDLAB_CLAIMS_THM36_STEP1);
  sdlab_claim *c2 = claim(r, SDLAB_CLAIMS_THM36_STEP2);
  sdlab_claim *c3 = claim(r, SDLAB_CLAIMS_THM36_STEP3);
  sdlab_claim *c4 = claim(r, SDLAB_CLAIMS_THM36_STEP4);
  sdlab_claim *c6 = claim(r, SDLAB_CLAIMS_THM36_STEP6);
  sdlab_claim *ci = claim(r, SDLAB_CLAIMS_THM36_INTERIOR);
  sdlab_claim *cs = claim(r, SDLAB_CLAIMS_THM36_STATEMENT);
  for (size_t t = 0; t < r->trials; t++) {
    gsl_rng *g = instance_rng(r->seed, 36, t);
    size_t n = 2 + gsl_rng_uniform_int(g, 5), np = 2 + gsl_rng_uniform_int(g, 4), nq = n + gsl_rng_uniform_int(g, 2);
    sdlab_lrb_params p;
    sdlab_lrb_truth tr;
    if (!bench(g, n, np, 0.3, &p, &tr)) {
      gsl_rng_free(g);
      continue;
    }
    uint64_t F[16];
    gsl_matrix *WE = gsl_matrix_alloc(nq, np);
    if (!polysemantic_partition(g, tr.Wp, nq, t % 2 == 0, F, WE)) {
      gsl_matrix_free(WE);
      sdlab_lrb_truth_free(&tr);
      gsl_rng_free(g);
      continue;
    }
    gsl_vector *Md = gsl_vector_alloc(n);
    for (size_t d = 0; d < n; d++)
      gsl_vector_set(Md, d, 0.1 + gsl_rng_uniform(g));
    char desc[200];
    snprintf(desc, sizeof desc, "instance %zu (bench seed %llu, n %zu, n_p %zu, n_q %zu, F_1 = %llx)", t,
             (unsigned long long)p.seed, n, np, nq, (unsigned long long)F[0]);
    sdlab_activation act = {.kind = SDLAB_ACT_RELU};
    /* step 1: the codes through the model */
    sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, np, nq, np, 1, &act);
    gsl_matrix_memcpy(m->WE, WE);
    gsl_matrix *Z = gsl_matrix_alloc(n, nq);
    sdlab_activation_workspace *aw = sdlab_activation_workspace_alloc(n, nq);
    gsl_blas_dgemm(CblasTrans, CblasTrans, 1.0, tr.Wp, WE, 0.0, Z);
    sdlab_activation_apply(&act, Z, Z, NULL, aw);
    int ok1 = 1;
    for (size_t d = 0; d < n; d++)
      for (size_t i = 0; i < nq; i++)
        ok1 &= (gsl_matrix_get(Z, d, i) > 0) == (int)(F[i] >> d & 1);
    record(c1, ok1, "%s: a code has another active neuron", desc);
    /* step 2: (55) against the least-squares decoder */
    gsl_matrix *WD = gsl_matrix_calloc(np, nq), *WDls = gsl_matrix_alloc(np, nq);
    for (size_t i = 0; i < nq; i++) {
      double den = 0;
      for (size_t d = 0; d < n; d++)
        if (F[i] >> d & 1) {
          double z = gsl_matrix_get(Z, d, i), md = gsl_vector_get(Md, d);
          den += md * z * z;
          for (size_t a = 0; a < np; a++)
            *gsl_matrix_ptr(WD, a, i) += md * z * gsl_matrix_get(tr.Wr, a, d);
        }
      if (den > 0)
        for (size_t a = 0; a < np; a++)
          *gsl_matrix_ptr(WD, a, i) /= den;
    }
    sdlab_piece *P = sdlab_piece_alloc(tr.Wp, np, &act, nq, F);
    double gls, diff, tol2;
    sdlab_piece_decoder_step(P, tr.Wp, tr.Wr, Md, WE, WDls, &gls);
    const int agree = decoders_agree(tr.Wp, tr.Wr, Md, WE, Z, F, WD, WDls, &diff, &tol2);
    record(c2, agree, "%s: (55) and least squares differ by %.3g where their rounding allows %.3g", desc, diff, tol2);
    /* steps 3, 4, 6 through the model */
    gsl_matrix_memcpy(m->WD, WD);
    sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(n, m);
    gsl_matrix *gE = gsl_matrix_alloc(nq, np), *gD = gsl_matrix_alloc(np, nq);
    double L;
    sdlab_loss_tilde(m, tr.Wp, tr.Wr, Md, &L, gE, gD, w);
    double bound = gradient_rounding(tr.Wp, tr.Wr, Md, WE, WD);
    record(c3, maxabs(gD) <= bound, "%s: |grad_W_D| = %.3g > rounding %.3g", desc, maxabs(gD), bound);
    record(c4, maxabs(gE) <= bound, "%s: |grad_W_E| = %.6g, rounding bound %.3g (L~ = %.6g): proof step 4 takes the "
           "derivative along w_E^i itself, <grad, w_E^i> = 0, for the gradient", desc, maxabs(gE), bound, L);
    record(c6, L > 0, "%s: L~ = %.3g", desc, L);
    /* Interior partial minima.  For a pair F_1 = {d1, d2} with independent directions: an interior
     * stationary point needs c_d1 = c_d2 = 0 (c_d = <w_D^1, w_r^d - w_D^1 z_d>), which with the
     * normal equations leaves one equation in t = z_d1 / z_d2:
     *   a12 M1 t^2 - (M1 a11 - M2 a22) t - a12 M2 = 0,   a_jk = <w_r^dj, w_r^dk>,
     * with exactly one positive root t*; so an interior one exists iff some w has <w, w_p^d1> = t* <w, w_p^d2>
     * > 0 and <w, w_p^e> < 0 off the pair (an LP).  A partial minimum can also sit where some <w, w_p^e> = 0
     * (still the same pattern, since sigma(0) = 0): the statement then rests on the search below. */
    char why[256] = "";
    const int interior = interior_pair(tr.Wp, tr.Wr, Md, F[0], why, sizeof why);
    if (interior >= 0)
      record(ci, interior, "%s: %s", desc, why);
    const int verdict = interior == 1 ? 1 : acs_partial_minimum(P, tr.Wp, tr.Wr, Md, WE);
    record(cs, verdict, "%s", desc);
    sdlab_loss_workspace_free(w);
    gsl_matrix_free(gE);
    gsl_matrix_free(gD);
    sdlab_piece_free(P);
    gsl_matrix_free(WD);
    gsl_matrix_free(WDls);
    sdlab_activation_workspace_free(aw);
    gsl_matrix_free(Z);
    sdlab_model_free(m);
    gsl_vector_free(Md);
    gsl_matrix_free(WE);
    sdlab_lrb_truth_free(&tr);
    gsl_rng_free(g);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Theorem 3.8 */

/* Whether one neuron realizes the activation set `set` over the n features of h (witness into x) */
static void
realize_set(sdlab_lp_halfspace *h, uint64_t set, size_t n, double *x, sdlab_lp_realize_info *info)
{
  unsigned char want[64];
  for (size_t d = 0; d < n; d++)
    want[d] = set >> d & 1 ? SDLAB_IN : SDLAB_OUT;
  sdlab_lp_halfspace_realize(h, want, x, info);
}

/* Theorem 3.8's hypothesis: each of the Mp parents' patterns F_i realizable by ReLU (exactly, strictly); the rows
 * of WE a generic encoder of the region: the witness has margins >= 1 on every feature, so a random perturbation of
 * norm 1/2 (drawn from g) keeps the pattern and breaks the LP vertex's ties.  Whether all were realizable. */
static int
generic_encoder(sdlab_lp_halfspace *h, gsl_rng *g, const uint64_t *F, size_t Mp, size_t n, size_t np, gsl_matrix *WE)
{
  int realizable = 1;
  for (size_t i = 0; i < Mp && realizable; i++) {
    double x[64];
    sdlab_lp_realize_info info;
    realize_set(h, F[i], n, x, &info);
    realizable = info.realizable && info.verified && info.strict;
    double dn = 0, dv[64];
    for (size_t a = 0; a < np; a++) {
      dv[a] = gsl_ran_gaussian(g, 1.0);
      dn += dv[a] * dv[a];
    }
    for (size_t a = 0; a < np; a++)
      gsl_matrix_set(WE, i, a, x[a] + 0.5 * dv[a] / sqrt(dn));
  }
  return realizable;
}

/* The (neuron, feature) pairs of the first rows neurons of WE whose pre-activation above threshold c disagrees with
 * pattern P */
static size_t
threshold_mismatches(const gsl_matrix *WE, const gsl_matrix *Wp, const uint64_t *P, size_t rows, double c)
{
  const size_t n = Wp->size2, np = Wp->size1;
  size_t lost = 0;
  for (size_t i = 0; i < rows; i++)
    for (size_t d = 0; d < n; d++) {
      double v = 0;
      for (size_t a = 0; a < np; a++)
        v += gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d);
      int on = v > c;
      if (on != (int)(P[i] >> d & 1))
        lost++;
    }
  return lost;
}

/* Theorem 3.8's statement for parent is: whether SOME sub-concept j of F_is makes the absorbing pattern P' (j moved
 * from the parent to a new neuron Mp) realizable by the half-spaces of hv, neuron by neuron; *ver whether every
 * LP's certificate verified. */
static int
some_absorption_realizable(sdlab_lp_halfspace *hv, const uint64_t *F, size_t Mp, size_t n, size_t is, int *ver)
{
  int any = 0;
  *ver = 1;
  for (size_t j = 0; j < n && !any; j++) {
    if (!(F[is] >> j & 1))
      continue;
    uint64_t Q[4];
    memcpy(Q, F, sizeof Q);
    Q[is] &= ~((uint64_t)1 << j);
    Q[Mp] = (uint64_t)1 << j;
    int st = 1;
    for (size_t i = 0; i <= Mp && st; i++) {
      double x[64];
      sdlab_lp_realize_info info;
      realize_set(hv, Q[i], n, x, &info);
      st = info.realizable;
      *ver &= info.verified;
    }
    any = st;
  }
  return any;
}

/* Theorem 3.8, step by step in the proof's order (about 150 lines: the steps share the instance's quantities, and
 * each claim is recorded where the proof makes it). */
static void
check_38(sdlab_check_report *r)
{
  sdlab_claim *s1 = claim(r, SDLAB_CLAIMS_THM38_STEP1);
  sdlab_claim *s74 = claim(r, SDLAB_CLAIMS_THM38_74);
  sdlab_claim *s78 = claim(r, SDLAB_CLAIMS_THM38_78);
  sdlab_claim *s80 = claim(r, SDLAB_CLAIMS_THM38_80);
  sdlab_claim *s83 = claim(r, SDLAB_CLAIMS_THM38_83);
  sdlab_claim *s87 = claim(r, SDLAB_CLAIMS_THM38_STEP4);
  sdlab_claim *sst = claim(r, SDLAB_CLAIMS_THM38_THRESHOLD);
  sdlab_claim *ssr = claim(r, SDLAB_CLAIMS_THM38_RELU);
  for (size_t t = 0; t < r->trials; t++) {
    gsl_rng *g = instance_rng(r->seed, 38, t);
    size_t Mp = 1 + gsl_rng_uniform_int(g, 3), n = 0, kids[3];
    for (size_t i = 0; i < Mp; i++)
      n += kids[i] = 2 + gsl_rng_uniform_int(g, 2);
    size_t np = (n + 1) / 2 + gsl_rng_uniform_int(g, n);
    sdlab_lrb_params p;
    sdlab_lrb_truth tr;
    if (!bench(g, n, np, 0.1 + 0.4 * gsl_rng_uniform(g), &p, &tr)) {
      gsl_rng_free(g);
      continue;
    }
    const double Mint = sdlab_construct_max_interference(tr.Wp);
    uint64_t F[4] = {0};
    for (size_t i = 0, d = 0; i < Mp; i++)
      for (size_t j = 0; j < kids[i]; j++, d++)
        F[i] |= (uint64_t)1 << d;
    /* P realizable by ReLU?  (the theorem's hypothesis) */
    sdlab_lp_halfspace *h = sdlab_lp_halfspace_alloc(tr.Wp, 0);
    gsl_matrix *WE = gsl_matrix_alloc(Mp + 1, np);
    gsl_matrix_set_zero(WE);
    if (!generic_encoder(h, g, F, Mp, n, np, WE)) {
      sdlab_lp_halfspace_free(h);
      gsl_matrix_free(WE);
      sdlab_lrb_truth_free(&tr);
      gsl_rng_free(g);
      continue;
    }
    char desc[200];
    snprintf(desc, sizeof desc, "instance %zu (bench seed %llu, %zu parents, n %zu, n_p %zu, M %.4g)", t,
             (unsigned long long)p.seed, Mp, n, np, Mint);
    double A[4][64];
    double amin_all = INFINITY;
    for (size_t i = 0; i < Mp; i++)
      for (size_t d = 0; d < n; d++) {
        double v = 0;
        for (size_t a = 0; a < np; a++)
          v += gsl_matrix_get(WE, i, a) * gsl_matrix_get(tr.Wp, a, d);
        A[i][d] = v;
        if (F[i] >> d & 1)
          amin_all = fmin(amin_all, v);
      }
    const double c = amin_all / 2;
    int ok = c > 0;
    for (size_t i = 0; i < Mp; i++)
      for (size_t d = 0; d < n; d++)
        ok &= (A[i][d] > c) == (int)(F[i] >> d & 1);
    record(s1, ok, "%s: threshold %.4g does not reproduce P", desc, c);
    const size_t is = gsl_rng_uniform_int(g, Mp);
    unsigned char Fb[4 * 64];
    for (size_t i = 0; i < Mp; i++)
      for (size_t d = 0; d < n; d++)
        Fb[i * n + d] = F[i] >> d & 1;
    gsl_matrix *WE2 = gsl_matrix_alloc(Mp + 1, np);
    sdlab_thm38_info ti;
    gsl_matrix_view WEm = gsl_matrix_submatrix(WE, 0, 0, Mp, np);
    if (WE2 == NULL || sdlab_construct_thm38(tr.Wp, &WEm.matrix, c, Fb, is, WE2, &ti)) {
      /* only step 1's failure (recorded above) can stop the construction here */
      if (WE2)
        gsl_matrix_free(WE2);
      sdlab_lp_halfspace_free(h);
      gsl_matrix_free(WE);
      sdlab_lrb_truth_free(&tr);
      gsl_rng_free(g);
      continue;
    }
    const size_t js = ti.jstar;
    double sabs = 0; /* sum |w_a p_a| of a_j*, for the rounding bound of a dot product */
    for (size_t a = 0; a < np; a++)
      sabs += fabs(gsl_matrix_get(WE, is, a) * gsl_matrix_get(tr.Wp, a, js));
    gsl_matrix_memcpy(WE, WE2);
    gsl_matrix_free(WE2);
    const double amin = ti.amin, lambda = ti.lambda, c1 = ti.c1, c2 = ti.c2, alpha = ti.alpha;
    /* the construction's choices, recomputed here from their definitions */
    /* j* minimises a_j over F_i* (up to the rounding of two evaluations of the same dot products) */
    int okjs = fabs(amin - A[is][js]) <= 2 * sdlab_claims_gamma((double)np) * sabs;
    for (size_t d = 0; d < n; d++)
      okjs &= !(F[is] >> d & 1) || A[is][d] >= A[is][js] - 2 * sdlab_claims_gamma((double)np) * sabs;
    record(s74, okjs && amin > c && lambda > c / amin && lambda < 1,
           "%s: a_min %.6g, c %.6g, lambda %.6g", desc, amin, c, lambda);
    int ok78 = 1;
    double next = INFINITY;
    for (size_t d = 0; d < n; d++)
      if ((F[is] >> d & 1) && d != js) {
        ok78 &= lambda * A[is][d] > c1;
        next = fmin(next, lambda * A[is][d]);
      }
    ok78 &= fabs(lambda * amin - c1) <= sdlab_claims_gamma(4) * c1;
    record(s78, ok78, "%s: lambda a_j* = %.17g, c' = %.17g", desc, lambda * A[is][js], c1);
    uint64_t parent = 0;
    for (size_t d = 0; d < n; d++)
      if (lambda * A[is][d] > c2)
        parent |= (uint64_t)1 << d;
    record(s80, ti.eps > 0 && c2 < next && parent == (F[is] & ~((uint64_t)1 << js)),
           "%s: the scaled parent row activates %llx", desc, (unsigned long long)parent);
    int ok83 = alpha > c2 && alpha * Mint < c2 && ti.M == Mint;
    for (size_t d = 0; d < n; d++)
      if (d != js) {
        double v = 0;
        for (size_t a = 0; a < np; a++)
          v += gsl_matrix_get(WE, Mp, a) * gsl_matrix_get(tr.Wp, a, d);
        ok83 &= v <= alpha * Mint + sdlab_claims_gamma(2.0 * np) * alpha;
      }
    record(s83, ok83, "%s: alpha %.6g, c'' %.6g", desc, alpha, c2);
    uint64_t Pp[4];
    memcpy(Pp, F, sizeof Pp);
    Pp[is] &= ~((uint64_t)1 << js);
    Pp[Mp] = (uint64_t)1 << js;
    const size_t lost = threshold_mismatches(WE, tr.Wp, Pp, Mp + 1, c2);
    record(s87, lost == 0, "%s: under the single threshold c'' = %.4g > c = %.4g, %zu (neuron, feature) pairs differ from P': "
           "raising the threshold silences features of the other neurons whose values lie in (c, c'']", desc, c2, c,
           lost);
    /* the statement: for the chosen parent i*, SOME sub-concept j* gives a realizable P' (checked for every
     * j in F_i*, neuron by neuron), with a threshold and with ReLU */
    for (int variant = 0; variant < 2; variant++) {
      sdlab_lp_halfspace *hv = variant ? sdlab_lp_halfspace_alloc(tr.Wp, 1) : h;
      int ver;
      const int any = some_absorption_realizable(hv, F, Mp, n, is, &ver);
      record(variant ? sst : ssr, any ? 1 : ver ? 0 : -1,
             "%s, parent %zu (sub-concepts %llx): for no sub-concept j* is P' realizable%s (Farkas certificates "
             "verified); the proof's construction needs a threshold c'' > 0", desc, is, (unsigned long long)F[is],
             variant ? " even with a threshold" : " by homogeneous half-spaces (ReLU)");
      if (variant)
        sdlab_lp_halfspace_free(hv);
    }
    sdlab_lp_halfspace_free(h);
    gsl_matrix_free(WE);
    sdlab_lrb_truth_free(&tr);
    gsl_rng_free(g);
  }
}

/* ---------------------------------------------------------------------------------------------- */

int
sdlab_check_run(sdlab_check_report *r, sdlab_progress_fn progress, void *ctx)
{
  struct {
    const char *name;
    void (*fn)(sdlab_check_report *);
  } groups[] = {{"Theorem 3.1", check_31}, {"Theorem 3.2", check_32}, {"Theorem 3.3", check_33},
                {"Theorem 3.4", check_34}, {"Example 3.5", check_35}, {"Theorem 3.6", check_36},
                {"Theorem 3.8", check_38}};
  for (size_t k = 0; k < sizeof groups / sizeof *groups; k++) {
    groups[k].fn(r);
    if (progress)
      progress(ctx, groups[k].name, k + 1, sizeof groups / sizeof *groups, NULL, 0);
  }
  return SDLAB_SUCCESS;
}

char *
sdlab_check_markdown(const sdlab_check_report *r)
{
  size_t cap = 65536, len = 0;
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;
#define PUT(...)                                                                  \
  do {                                                                            \
    int k_ = snprintf(out + len, cap - len, __VA_ARGS__);                         \
    while (k_ >= 0 && (size_t)k_ >= cap - len) {                                  \
      char *o_ = realloc(out, cap *= 2);                                          \
      if (o_ == NULL) { free(out); return NULL; }                                 \
      out = o_;                                                                   \
      k_ = snprintf(out + len, cap - len, __VA_ARGS__);                           \
    }                                                                             \
    len += (size_t)k_;                                                            \
  } while (0)
  size_t failing = 0;
  for (size_t i = 0; i < r->count; i++)
    failing += r->claims[i].failed > 0;
  PUT("# sdlab check: the paper's claims on random instances\n\n");
  PUT("Seed %llu, %zu trials per group (Theorem 3.1: fewer, each a Monte Carlo run). Each row is a theorem or "
      "a step of its proof, evaluated against an independent computation; `undecided` counts instances where the "
      "search found neither a witness nor a refutation. %zu of %zu claims failed on at least one instance.\n\n",
      (unsigned long long)r->seed, r->trials, failing, r->count);
  PUT("| claim | tried | held | failed | undecided | first counterexample |\n|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < r->count; i++) {
    const sdlab_claim *c = &r->claims[i];
    PUT("| %s | %zu | %zu | %s%zu%s | %zu | %s |\n", c->row->id, c->tried, c->held, c->failed ? "**" : "", c->failed,
        c->failed ? "**" : "", c->undecided, c->failed ? "see below" : "");
  }
  PUT("\n## Claims, methods and tolerances\n\n");
  for (size_t i = 0; i < r->count; i++)
    PUT("- **%s**: %s. Checked by %s. Tolerance: %s.\n", r->claims[i].row->id, r->claims[i].row->statement,
        r->claims[i].row->method, r->claims[i].row->tolerance);
  PUT("\n## Counterexamples\n\n");
  for (size_t i = 0; i < r->count; i++)
    if (r->claims[i].failed)
      PUT("- **%s** (%zu of %zu instances): %s\n", r->claims[i].row->id, r->claims[i].failed, r->claims[i].tried,
          r->claims[i].first);
#undef PUT
  return out;
}
