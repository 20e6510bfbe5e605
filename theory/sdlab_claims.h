/* sdlab_claims.h: the quantities each theorem makes a claim about, evaluated on a given instance.
 * These functions compute; they do not judge.  Tests and `sdlab check` compare the numbers with the
 * theorem's statement and decide. */
#ifndef SDLAB_CLAIMS_H
#define SDLAB_CLAIMS_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"

/* Higham's gamma_k = k u / (1 - k u), u = 2^-53: the relative error bound of k floating-point operations, from
 * which the claims' rounding tolerances below are built. */
double sdlab_claims_gamma(double k);

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
 * construction and the residual take); then L~ <= 1.1 n tol^2 ("if"), and with feature d0's target moved by
 * delta, L~ > 0 and within 2 delta tol M_d0 + 1.1 n tol^2 of M_d0 delta^2 ("only if").  1 when it holds. */
double sdlab_claims_thm34_tolerance(size_t np, size_t nr, size_t nq, size_t n, double cond);
int sdlab_claims_thm34_zero(double ltilde, size_t n, double tol);
int sdlab_claims_thm34_broken(double ltilde, double md0, double delta, size_t n, double tol);

#endif
