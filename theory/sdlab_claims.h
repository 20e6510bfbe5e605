/* sdlab_claims.h: the quantities each theorem makes a claim about, evaluated on a given instance.
 * These functions compute; they do not judge.  Tests and `sdlab check` compare the numbers with the
 * theorem's statement and decide. */
#ifndef SDLAB_CLAIMS_H
#define SDLAB_CLAIMS_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"

/* Theorem 3.1, for independent features each active with probability p = 1 - S:
 *   P(||x||_0 >= 2) = 1 - S^n - n (1-S) S^(n-1)   (exact)
 * which the proof bounds (35) by n^2 (1-S)^2. */
double sdlab_claims_thm31_prob_multi(size_t n, double S);

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

#endif
