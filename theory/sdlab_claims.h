/* sdlab_claims.h: the paper's claims as code: the table of the claims `sdlab check` evaluates (statement,
 * method, tolerance), the quantities each theorem makes a claim about, evaluated on a given instance, and, where
 * both `sdlab check` and the tests decide a claim, its judgement (each written once, here). */
#ifndef SDLAB_CLAIMS_H
#define SDLAB_CLAIMS_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"

/* The paper's claims that `sdlab check` evaluates, one row each, in the order its report lists them: the claim's
 * name (theorem, proof step, equation), its statement, the independent computation that checks it, and where the
 * tolerance that decides it comes from.  `sdlab check` and the tests both read their words here, so that a claim
 * is written once. */
typedef enum {
  SDLAB_CLAIMS_THM31_STEP3, SDLAB_CLAIMS_THM31_STEP4, SDLAB_CLAIMS_THM31_BOUND, SDLAB_CLAIMS_THM31_JUMPRELU,
  SDLAB_CLAIMS_THM32_DECODER, SDLAB_CLAIMS_THM32_ENCODER, SDLAB_CLAIMS_THM32_NOT_JOINT, SDLAB_CLAIMS_THM32_TOPK,
  SDLAB_CLAIMS_THM33_RELU, SDLAB_CLAIMS_THM33_JUMPRELU, SDLAB_CLAIMS_THM33_TOPK_RELU, SDLAB_CLAIMS_THM33_BATCHTOPK,
  SDLAB_CLAIMS_THM33_TOPK,
  SDLAB_CLAIMS_THM34_IF, SDLAB_CLAIMS_THM34_ONLY_IF, SDLAB_CLAIMS_THM34_NONIDENTIFIABLE,
  SDLAB_CLAIMS_EX35,
  SDLAB_CLAIMS_THM36_STEP1, SDLAB_CLAIMS_THM36_STEP2, SDLAB_CLAIMS_THM36_STEP3, SDLAB_CLAIMS_THM36_STEP4,
  SDLAB_CLAIMS_THM36_STEP6, SDLAB_CLAIMS_THM36_INTERIOR, SDLAB_CLAIMS_THM36_STATEMENT,
  SDLAB_CLAIMS_THM38_STEP1, SDLAB_CLAIMS_THM38_74, SDLAB_CLAIMS_THM38_78, SDLAB_CLAIMS_THM38_80,
  SDLAB_CLAIMS_THM38_83, SDLAB_CLAIMS_THM38_STEP4, SDLAB_CLAIMS_THM38_THRESHOLD, SDLAB_CLAIMS_THM38_RELU,
  SDLAB_CLAIMS_COUNT
} sdlab_claims_id;

typedef struct {
  const char *id;        /* "Theorem 3.6, step 4 (65)": the theorem, the step of its proof, the equation */
  const char *statement; /* the claim in words */
  const char *method;    /* the independent computation that checks it */
  const char *tolerance; /* what decides it, and where that margin comes from */
} sdlab_claims_row;

/* The row of claim k; NULL when k is not a claim. */
const sdlab_claims_row *sdlab_claims_get(sdlab_claims_id k);

/* Higham's gamma_k = k u / (1 - k u), u = 2^-53: the relative error bound of k floating-point operations, from
 * which the claims' rounding tolerances below are built. */
double sdlab_claims_gamma(double k);

/* A bound on the rounding of L~ (eq. 11) as sdlab_piece_loss and the model compute it at (W_E, W_D), with the codes
 * z_di = <w_E^i, w_p^d> passed where bit d of F[i] is set and 0 elsewhere (F: the piece's pattern, or the model's
 * at W_E for a sigma that passes a code or zeroes it): each code within g_{n_p} zeta (zeta = sum_b |W_E^ib w_p^bd|),
 * each residual entry r within e = g_{n_q+1} (|w_r| + sum_i |W_D^ai| |z_di|) + g_{n_p} sum_i |W_D^ai| zeta_di, each
 * square within 2 |r| e + e^2, weighted by M_d and summed, plus g_{n n_r + 2} of the total for the sum of the n n_r
 * non-negative terms in any order (g_k = sdlab_claims_gamma(k); first order in each rounding).  Not for pure Top-k
 * through the model (it passes selected negative codes, which F does not list).  INFINITY when n or n_q > 64. */
/* zeta = sum_b |W_E^ib w_p^bd|: the scale of code (d, i)'s dot product, whose rounding is within gamma_{n_p} zeta */
double sdlab_claims_code_scale(const gsl_matrix *WE, const gsl_matrix *Wp, size_t i, size_t d);
double sdlab_claims_ltilde_rounding(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                                    const gsl_matrix *WE, const gsl_matrix *WD, const uint64_t *F);

/* Theorem 3.1, for independent features each active with probability p = 1 - S:
 *   P(||x||_0 >= 2) = 1 - S^n - n (1-S) S^(n-1)   (exact)
 * which the proof bounds (35) by n^2 (1-S)^2. */
double sdlab_claims_thm31_prob_multi(size_t n, double S);

/* Theorem 3.1's claims judged on Monte Carlo estimates, at z standard errors (the estimates and their errors
 * come from the caller's sampler):
 *   step 3 (34): the m = 1 part T1 of L equals L~: |T1 - L~| <= z se(T1);
 *   step 4 (35): P(||x||_0 >= 2) = pm <= n^2 (1-S)^2, and the frequency f of N samples agrees with it:
 *                |f - pm| <= z sqrt(pm (1 - pm) / N) + 1 / N;
 *   (12): |L - L~| <= bound (n^2 C (1-S)^2 with an upper bound on C) at z se(L) either way.
 * Each returns 1 when the claim holds. */
int sdlab_claims_thm31_step3(double T1, double se_T1, double ltilde, double z);
int sdlab_claims_thm31_step4(double pm, double f, size_t N, size_t n, double S, double z);
int sdlab_claims_thm31_bound(double L, double se_L, double ltilde, double bound, double z);

/* Theorem 3.3 evaluated at eq. 15's configuration with n_q latents (n_q >= n). */
typedef struct {
  double M;          /* max_{i != j} <w_p^i, w_p^j> */
  double ltilde;     /* L~(W_D*, W_E*) */
  double middle;     /* M^2 sum_d M_d (K_d - 1)^2, K_d = |A_d| (eqs. 40, 44) */
  double bound;      /* n^2 M^2 sum_d M_d (eq. 16) */
  size_t nonpositive_selected; /* pairs (d, k) where sigma passes a code z_k <= 0 with z_k != 0:
                                  the proof's step 2 assumes there are none */
} sdlab_thm33_values;

/* Theorem 3.3's row in the table for an activation (SDLAB_CLAIMS_THM33_RELU, ...) */
sdlab_claims_id sdlab_claims_thm33_id(sdlab_activation_kind kind);

int sdlab_claims_thm33(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                      const sdlab_activation *act, size_t nq, sdlab_thm33_values *out);

/* Theorem 3.3's claim on values v computed at n_p dimensions: L~ <= middle + gamma_{4(n + n_p)} sum_d M_d
 * (n + 1)^2 (the rounding of L~: each residual a sum of at most n codes times unit vectors) and
 * middle <= bound (1 + gamma_8).  1 when both hold, 0 otherwise; `sdlab check` and the tests judge it here. */
int sdlab_claims_thm33_holds(const sdlab_thm33_values *v, const gsl_vector *Md, size_t np);
/* that rounding of L~: gamma_{4(n + n_p)} sum_d M_d (n + 1)^2 */
double sdlab_claims_thm33_tolerance(const gsl_vector *Md, size_t np);

/* Theorem 3.4 at the zero-loss configuration of n features in n_p dimensions, n_q latents and n_r target
 * dimensions (sdlab_construct_zero_loss, whose condition product kappa(W_p) kappa(Z) is cond): each residual of
 * (17) within tol = gamma_K cond, K = (n_p + n_r + n_q + n)^2 (a first-order bound over the products the
 * construction and the residual take); then L~ = sum_d M_d ||r_d||^2 <= tol^2 sum_d M_d ("if"), and with
 * feature d0's target moved by delta, L~ > 0 and within 2 delta tol M_d0 + tol^2 sum_d M_d of M_d0 delta^2 ("only
 * if": ||delta e + r||^2 - delta^2 <= 2 delta tol + tol^2).  1 when it holds. */
double sdlab_claims_thm34_tolerance(size_t np, size_t nr, size_t nq, size_t n, double cond);
double sdlab_claims_thm34_zero_bound(const gsl_vector *Md, double tol); /* tol^2 sum_d M_d */
int sdlab_claims_thm34_zero(double ltilde, const gsl_vector *Md, double tol);
int sdlab_claims_thm34_broken(double ltilde, const gsl_vector *Md, size_t d0, double delta, double tol);

#endif
