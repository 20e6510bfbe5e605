#include "sdlab_claims.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_model.h"

#include <float.h>
#include <math.h>
#include <gsl/gsl_blas.h>

/* The claims `sdlab check` reports, in its order (sdlab_claims_id). */
static const sdlab_claims_row claims_table[SDLAB_CLAIMS_COUNT] = {
  [SDLAB_CLAIMS_THM31_STEP3] = {"Theorem 3.1, step 3 (34)",
    "the m = 1 part of L equals L~ (sigma positively homogeneous)",
    "Monte Carlo over the bench generator, 5-sigma limits",
    "5 standard errors of the sampled m = 1 part (z = 5; L~ in closed form)"},
  [SDLAB_CLAIMS_THM31_STEP4] = {"Theorem 3.1, step 4 (35)",
    "P(||x||_0 >= 2) <= n^2 (1-S)^2",
    "exact probability and the generator's frequency (5-sigma)",
    "(35) compared exactly; the sampled frequency within 5 binomial standard errors plus one count "
    "(1/N) of the exact value"},
  [SDLAB_CLAIMS_THM31_BOUND] = {"Theorem 3.1 (12)",
    "|L - L~| <= n^2 C (1-S)^2 for (1-S) <= 1/n",
    "Monte Carlo L, closed-form L~, an upper bound on C (truncated magnitudes), 5-sigma",
    "fails only when the 5-standard-error interval of L - L~ misses [-B, B], B = n^2 C_ub (1-S)^2 "
    "with C_ub an upper bound on C"},
  [SDLAB_CLAIMS_THM31_JUMPRELU] = {"Theorem 3.1 (12), JumpReLU",
    "(12) for sigma = JumpReLU(theta), theta > 0",
    "exact quadrature on a pinned instance, then Monte Carlo on random ones",
    "pinned: the quadrature's value less its error estimate (QAGS, relative 1e-12) against the exact "
    "bound; random: as (12)"},
  [SDLAB_CLAIMS_THM32_DECODER] = {"Theorem 3.2 (1)",
    "W_D -> L~ is convex on a piece (block Hessian 2 I (x) sum_d M_d z_d z_d^T >= 0)",
    "smallest eigenvalue of the block Hessian against its rounding bound",
    "-8 n_q eps ||H||_F: a backward-stable symmetric eigensolver and Weyl's bound (the factor 8 "
    "chosen, not derived)"},
  [SDLAB_CLAIMS_THM32_ENCODER] = {"Theorem 3.2 (2)",
    "W_E -> L~ is convex over a piece (block Hessian >= 0)",
    "smallest eigenvalue of the block Hessian against its rounding bound",
    "-8 n_q n_p eps ||H||_F: a backward-stable symmetric eigensolver and Weyl's bound (the factor 8 "
    "chosen, not derived)"},
  [SDLAB_CLAIMS_THM32_NOT_JOINT] = {"Theorem 3.2, not jointly convex",
    "L~ is biconvex but not jointly convex on a piece",
    "a midpoint-convexity violation on a segment inside the piece, beyond rounding",
    "a violation beyond the rounding of the second difference: each of its L~ values' first-order "
    "rounding bound (sdlab_claims_ltilde_rounding) and the sum's; never fails"},
  [SDLAB_CLAIMS_THM32_TOPK] = {"Theorem 3.2 (2), Top-k (eq. 7)",
    "W_E -> L~ is convex over a pattern's region for Top-k",
    "L~ through the model at three collinear encoders of one region (midpoint convexity)",
    "none: exact values (1, 1 and 4) and patterns compared bit for bit"},
  [SDLAB_CLAIMS_THM33_RELU] = {"Theorem 3.3 (44), ReLU",
    "L~(W_D*, W_E*) <= M^2 sum_d M_d (K_d - 1)^2 <= n^2 M^2 sum_d M_d at eq. 15",
    "L~ evaluated through the model (sigma applied), the bound's terms from the codes",
    "L~ within gamma_K sum_d M_d (n+1)^2 of the middle term, K = 4 (n + n_p) (rounding of residuals "
    "of unit vectors); middle <= bound (1 + gamma_8)"},
  [SDLAB_CLAIMS_THM33_JUMPRELU] = {"Theorem 3.3 (44), JumpReLU",
    "L~(W_D*, W_E*) <= M^2 sum_d M_d (K_d - 1)^2 <= n^2 M^2 sum_d M_d at eq. 15",
    "L~ evaluated through the model (sigma applied), the bound's terms from the codes",
    "as for ReLU"},
  [SDLAB_CLAIMS_THM33_TOPK_RELU] = {"Theorem 3.3 (44), Top-k then ReLU",
    "L~(W_D*, W_E*) <= M^2 sum_d M_d (K_d - 1)^2 <= n^2 M^2 sum_d M_d at eq. 15",
    "L~ evaluated through the model (sigma applied), the bound's terms from the codes",
    "as for ReLU"},
  [SDLAB_CLAIMS_THM33_BATCHTOPK] = {"Theorem 3.3 (44), BatchTopK",
    "L~(W_D*, W_E*) <= M^2 sum_d M_d (K_d - 1)^2 <= n^2 M^2 sum_d M_d at eq. 15",
    "L~ evaluated through the model (sigma applied), the bound's terms from the codes",
    "as for ReLU"},
  [SDLAB_CLAIMS_THM33_TOPK] = {"Theorem 3.3 (44), Top-k (eq. 7)",
    "L~(W_D*, W_E*) <= M^2 sum_d M_d (K_d - 1)^2 <= n^2 M^2 sum_d M_d at eq. 15",
    "L~ evaluated through the model (sigma applied), the bound's terms from the codes",
    "as for ReLU; the pinned orthoplex exact (L~ = 4 against a bound of 0)"},
  [SDLAB_CLAIMS_THM34_IF] = {"Theorem 3.4 (if)",
    "(17) for every d implies L~ = 0",
    "the zero-loss configuration W_E = A W_p^+, W_D = W_r Z^+; residuals against kappa(W_p) kappa(Z)",
    "each residual of (17) within tol = gamma_K kappa(W_p) kappa(Z), K = (n_p + n_r + n_q + n)^2 (a "
    "first-order count of the products' operations); so L~ <= tol^2 sum_d M_d"},
  [SDLAB_CLAIMS_THM34_ONLY_IF] = {"Theorem 3.4 (only if)",
    "L~ = 0 implies (17) (every M_d > 0)",
    "break (17) for one feature: L~ must equal M_d ||delta||^2 > 0",
    "L~ > 0 and within 2 delta tol M_d + tol^2 sum_d M_d of M_d delta^2 (tol as for the if part)"},
  [SDLAB_CLAIMS_THM34_NONIDENTIFIABLE] = {"Theorem 3.4, non-identifiability",
    "some zero-loss configurations recover no feature",
    "the zero-loss configuration on bench instances (M = 0.2): M_GT(0.9) = 0",
    "none: M_GT at tau = 0.9 compared with 0"},
  [SDLAB_CLAIMS_EX35] = {"Example 3.5",
    "L~ = 1, both gradients vanish, the pattern is polysemantic with a dead neuron, and (W_D*, W_E*) "
    "is a partial optimum",
    "L~ and its gradients through the model; the pattern; the exact block minimisations at the point",
    "exact on dyadic data (L~ = 1, gradients 0, the pattern); each block minimum at least L~ less its "
    "value's rounding bound (sdlab_claims_ltilde_rounding)"},
  [SDLAB_CLAIMS_THM36_STEP1] = {"Theorem 3.6, step 1 (53)",
    "z_d = <w_E^{i(d)}, w_p^d> e_{i(d)}: one active neuron per feature",
    "sigma(W_E* w_p^d) through the model",
    "none: each code's sign against the pattern's bit"},
  [SDLAB_CLAIMS_THM36_STEP2] = {"Theorem 3.6, step 2 (55)",
    "the decoder column (55) minimises the weighted least squares",
    "the minimum-norm least-squares decoder (eigendecomposition), compared entrywise",
    "entrywise within the first-order rounding of both routes (codes within gamma_{n_p} of their "
    "absolute terms, sums within gamma_{n+2}, the quotient) and the eigensolver's backward error as "
    "for Theorem 3.2 (the factor 8 chosen, not derived) over the column's den_i; a dead column 0 in both"},
  [SDLAB_CLAIMS_THM36_STEP3] = {"Theorem 3.6, step 3 (56)",
    "grad_{W_D} L~ = 0 at (W_D*, W_E*)",
    "the analytic gradient through the model, against its rounding bound",
    "3 gamma_K G, K = 2 (n_p + n_q + n_r) + n: the rounding bound of the computed gradient (G from "
    "the residuals' norms)"},
  [SDLAB_CLAIMS_THM36_STEP4] = {"Theorem 3.6, step 4 (65)",
    "grad_{W_E} L~ = 0 at (W_D*, W_E*)",
    "the analytic gradient through the model, against its rounding bound",
    "3 gamma_K G, as for step 3"},
  [SDLAB_CLAIMS_THM36_STEP6] = {"Theorem 3.6, step 6 (71)",
    "L~ > 0 at the construction",
    "L~ through the model",
    "none: L~ > 0 in floating point"},
  [SDLAB_CLAIMS_THM36_INTERIOR] = {"Theorem 3.6, interior partial minimum",
    "for a polysemantic pair, some encoder strictly inside the pattern's region has zero gradient (a "
    "partial minimum that no boundary supports)",
    "the stationarity equation's unique ratio t* = z_d1 / z_d2, then an exact LP: is t* inside the "
    "region?  (decided only for pairs)",
    "exact: the LP's certificate checked in rational arithmetic (at the rounded t*); instances whose "
    "LP is not verified are left out"},
  [SDLAB_CLAIMS_THM36_STATEMENT] = {"Theorem 3.6 (statement)",
    "a partial minimum with the pattern and positive loss exists",
    "held when an interior partial minimum exists (previous row), or when alternating convex search "
    "from the construction ends at a point of the pattern's region (every strict row positive; "
    "non-strict rows may be active) where a further encoder step (an exact QP) and decoder step "
    "lower L~ by at most sqrt(eps) L~; undecided otherwise",
    "the interior row, or each further block step lowering L~ by at most sqrt(eps) L~; undecided "
    "otherwise, never fails"},
  [SDLAB_CLAIMS_THM38_STEP1] = {"Theorem 3.8, step 1 (72)",
    "a threshold c > 0 realizes P: F_i = {d : <w_E^i, w_p^d> > c}",
    "c = half the smallest active value of a ReLU witness; sets compared",
    "none: sets compared (the witness's margins, at least 1/2, far above rounding)"},
  [SDLAB_CLAIMS_THM38_74] = {"Theorem 3.8 (74), (77)",
    "a_min > c and lambda = (c + a_min) / (2 a_min) lies in (c/a_min, 1)",
    "direct evaluation",
    "j* the smallest within 2 gamma_{n_p} sum_a |w_a p_a| (the dot products' rounding); the "
    "inequalities exact"},
  [SDLAB_CLAIMS_THM38_78] = {"Theorem 3.8 (78)",
    "lambda a_{j*} = c' and lambda a_j > c' for j != j*",
    "direct evaluation",
    "lambda a_{j*} within gamma_4 c' of c'; lambda a_j > c' compared directly"},
  [SDLAB_CLAIMS_THM38_80] = {"Theorem 3.8 (79)-(80)",
    "with c'' = c' + eps the scaled parent row activates F_{i*} \\ {d*}",
    "the set {d : <lambda w_E^{i*}, w_p^d> > c''}",
    "none: strict comparisons and sets compared"},
  [SDLAB_CLAIMS_THM38_83] = {"Theorem 3.8 (83)-(85)",
    "<alpha w_p^{d*}, w_p^d> <= alpha M for d != d*, alpha > c'', alpha M < c''",
    "direct evaluation with M the maximum interference",
    "the dot products within gamma_{2 n_p} alpha of alpha M (unit vectors); the other inequalities "
    "exact"},
  [SDLAB_CLAIMS_THM38_STEP4] = {"Theorem 3.8, step 4 (86)-(87)",
    "the expanded encoder W_E' with threshold c'' realizes P'",
    "the pattern of W_E' under JumpReLU(c''), every neuron",
    "none: the count of (neuron, feature) pairs that differ from P' must be 0"},
  [SDLAB_CLAIMS_THM38_THRESHOLD] = {"Theorem 3.8 (statement), threshold",
    "for the parent i*, some sub-concept j* makes the absorbing pattern P' realizable by a "
    "thresholded activation (JumpReLU, as the proof's c > 0 assumes)",
    "an exact LP per neuron with a threshold, certificates checked in rational arithmetic",
    "exact: LP certificates checked in rational arithmetic; fails only when every sub-concept's "
    "infeasibility is verified"},
  [SDLAB_CLAIMS_THM38_RELU] = {"Theorem 3.8 (statement), ReLU",
    "for the parent i*, some sub-concept j* makes the absorbing pattern P' realizable by ReLU",
    "an exact LP per neuron (homogeneous half-spaces), certificates checked in rational arithmetic",
    "exact: LP certificates checked in rational arithmetic; fails only when every sub-concept's "
    "infeasibility is verified"},
};

const sdlab_claims_row *
sdlab_claims_get(sdlab_claims_id k)
{
  return (unsigned)k < SDLAB_CLAIMS_COUNT ? &claims_table[k] : NULL;
}

sdlab_claims_id
sdlab_claims_thm33_id(sdlab_activation_kind kind)
{
  switch (kind) {
  case SDLAB_ACT_RELU: return SDLAB_CLAIMS_THM33_RELU;
  case SDLAB_ACT_JUMPRELU: return SDLAB_CLAIMS_THM33_JUMPRELU;
  case SDLAB_ACT_TOPK_RELU: return SDLAB_CLAIMS_THM33_TOPK_RELU;
  case SDLAB_ACT_BATCHTOPK: return SDLAB_CLAIMS_THM33_BATCHTOPK;
  case SDLAB_ACT_TOPK: break;
  }
  return SDLAB_CLAIMS_THM33_TOPK;
}

double
sdlab_claims_gamma(double k)
{
  const double u = DBL_EPSILON / 2;
  return k * u / (1 - k * u);
}

static double
sum_of(const gsl_vector *v)
{
  double s = 0;
  for (size_t d = 0; d < v->size; d++)
    s += gsl_vector_get(v, d);
  return s;
}

double
sdlab_claims_thm33_tolerance(const gsl_vector *Md, size_t np)
{
  const size_t n = Md->size;
  return sdlab_claims_gamma(4.0 * (double)(n + np)) * sum_of(Md) * (double)(n + 1) * (double)(n + 1);
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

double
sdlab_claims_thm34_zero_bound(const gsl_vector *Md, double tol)
{
  return tol * tol * sum_of(Md);
}

int
sdlab_claims_thm34_zero(double ltilde, const gsl_vector *Md, double tol)
{
  return ltilde <= sdlab_claims_thm34_zero_bound(Md, tol);
}

int
sdlab_claims_thm34_broken(double ltilde, const gsl_vector *Md, size_t d0, double delta, double tol)
{
  const double md0 = gsl_vector_get(Md, d0);
  return ltilde > 0 && fabs(ltilde - md0 * delta * delta) <= 2 * delta * tol * md0 + sdlab_claims_thm34_zero_bound(Md, tol);
}

double
sdlab_claims_code_scale(const gsl_matrix *WE, const gsl_matrix *Wp, size_t i, size_t d)
{
  double zeta = 0;
  for (size_t b = 0; b < Wp->size1; b++)
    zeta += fabs(gsl_matrix_get(WE, i, b) * gsl_matrix_get(Wp, b, d));
  return zeta;
}

double
sdlab_claims_ltilde_rounding(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const gsl_matrix *WE,
                             const gsl_matrix *WD, const uint64_t *F)
{
  const size_t n = Wp->size2, np = Wp->size1, nq = WE->size1, nr = Wr->size1;
  if (n > 64 || nq > 64)
    return INFINITY; /* no masks: no bound */
  const double gp = sdlab_claims_gamma((double)np), gq = sdlab_claims_gamma((double)nq + 1);
  double bound = 0, total = 0;
  for (size_t d = 0; d < n; d++) {
    double z[64] = {0}, zeta[64] = {0}; /* the passed codes and their scales, once a feature */
    for (size_t i = 0; i < nq; i++)
      if (F[i] >> d & 1) {
        for (size_t b = 0; b < np; b++)
          z[i] += gsl_matrix_get(WE, i, b) * gsl_matrix_get(Wp, b, d);
        zeta[i] = sdlab_claims_code_scale(WE, Wp, i, d);
      }
    double sq = 0, err = 0;
    for (size_t a = 0; a < nr; a++) {
      double r = gsl_matrix_get(Wr, a, d), big = fabs(r), moved = 0;
      for (size_t i = 0; i < nq; i++) {
        if (!(F[i] >> d & 1))
          continue;
        r -= gsl_matrix_get(WD, a, i) * z[i];
        big += fabs(gsl_matrix_get(WD, a, i) * z[i]);
        moved += fabs(gsl_matrix_get(WD, a, i)) * zeta[i];
      }
      const double e = gq * big + gp * moved;
      sq += r * r;
      err += 2 * fabs(r) * e + e * e;
    }
    total += gsl_vector_get(Md, d) * sq;
    bound += gsl_vector_get(Md, d) * err;
  }
  return bound + sdlab_claims_gamma((double)(n * nr + 2)) * total;
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
