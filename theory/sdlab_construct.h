/* sdlab_construct.h: the paper's explicit configurations, as functions.
 *
 *   sdlab_construct_thm33       Theorem 3.3's feature-recovering configuration (eq. 15)
 *   sdlab_construct_example35   Example 3.5's instance and its spurious partial minimum (eqs. 18-19)
 *   sdlab_construct_zero_loss   a configuration with L~ = 0 built from an arbitrary mixing A (the
 *                               non-identifiability after Theorem 3.4; needs n <= n_p)
 *   sdlab_construct_thm38       Theorem 3.8's absorbing encoder (proof of Appendix I.6, steps 2-4)
 *   sdlab_construct_max_interference      M = max_{i != j} <w_p^i, w_p^j> (signed, as in Theorem 3.3) */
#ifndef SDLAB_CONSTRUCT_H
#define SDLAB_CONSTRUCT_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"

/* Maximum signed interference of the columns of W (n_p x n, n >= 2); -infinity for n < 2. */
double sdlab_construct_max_interference(const gsl_matrix *W);

/* Eq. 15: W_D* = [W_r, 0] (n_r x n_q) and W_E* = [W_p^T; 0] (n_q x n_p).  Needs n_q >= n (SDLAB_EPARAM
 * otherwise). */
int sdlab_construct_thm33(const gsl_matrix *Wp, const gsl_matrix *Wr, gsl_matrix *WE, gsl_matrix *WD);

/* Example 3.5: n = n_p = n_q = n_r = 2, sigma = Top-1 . ReLU, M_1 = M_2 = 1, w_p^d = w_r^d = e_d,
 * W_E* = [[1, 1], [0, 0]], W_D* = [[1/2, 0], [1/2, 0]].  All outputs are 2 x 2 (Md of length 2). */
int sdlab_construct_example35(gsl_matrix *Wp, gsl_matrix *Wr, gsl_vector *Md, gsl_matrix *WE,
                              gsl_matrix *WD, sdlab_activation *act);

/* Derived construction (not in the paper): for W_p of full column rank (n <= n_p) and any mixing
 * A (n_q x n), W_E = A W_p^+ gives W_E w_p^d = A e_d; with z_d = sigma(W_E w_p^d) linearly
 * independent, W_D = W_r Z^+ (Z = [z_1 ... z_n]) solves the n equations (17), so L~ = 0.
 * A = NULL uses the default mixing sdlab_construct_default_mixing.  Pseudo-inverses come from the SVD
 * with the usual numerical-rank rule (singular values below max(rows, cols) * eps * sigma_max count as
 * zero); rank-deficient W_p or Z is reported as SDLAB_EIMPOSSIBLE.  cond (optional) receives
 * kappa(W_p) * kappa(Z), which bounds how far from exact the computed L~ = 0 can be. */
int sdlab_construct_zero_loss(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_matrix *A,
                              const sdlab_activation *act, gsl_matrix *WE, gsl_matrix *WD, double *cond);

/* The default mixing: rows 0..n-1 are J + I/2 (all ones plus a half on the diagonal: entrywise
 * positive and invertible, so every z_d is active on every neuron and the z_d are independent), the
 * remaining n_q - n rows are zero (dead neurons).  A is n_q x n with n_q >= n. */
int sdlab_construct_default_mixing(gsl_matrix *A);

/* Theorem 3.8's proof, steps 2-4 (eqs. 73-87), as an algorithm.  Input: W_p (n_p x n); an encoder WE
 * (m x n_p) and a threshold c > 0 with which it realizes the pattern F (step 1, eq. 72: F is m x n bytes,
 * row-major, F[i n + d] = 1 when d is in F_i); the parent neuron istar with |F_istar| >= 2.  Output: WEout
 * ((m + 1) x n_p), rows w_E^1, ..., lambda w_E^{istar}, ..., w_E^m, alpha w_p^{d*} (eq. 86), meant to be
 * read with the single threshold c'' (info->c2) as the proof does.  The steps, with a_j = <w_E^{istar},
 * w_p^{d_j}> over d_j in F_istar:
 *   jstar = argmin a_j (lowest index on ties), a_min = a_jstar (74);  lambda = (c + a_min)/(2 a_min) (77);
 *   c' = lambda a_min (78);  c'' = c' + eps, eps half the gap from c' to the next smallest scaled value of
 *   the parent row over F_istar (79: the proof's "infinitesimal" eps; any eps in (0, gap) will do; a tie at
 *   a_min leaves no gap, eps = 0, and (79) fails, which the caller sees);  M = the maximum interference of
 *   W_p (83);  alpha = 2 c''/(1 + M) (85).
 * Nothing is asserted here: whether the claimed inequalities and the final pattern P' hold is for the
 * caller to check (sdlab check does, and finds step 4 can fail).  GSL_EINVAL for c <= 0, istar out of
 * range or |F_istar| < 2, a member of F_istar with a_j <= c (F is not realized as step 1 states), or
 * M >= 1; SDLAB_ESHAPE for sizes that do not fit. */
typedef struct {
  size_t jstar;          /* the absorbed sub-concept d* (a column of W_p) */
  double amin, lambda;   /* (74), (77) */
  double c1, c2, eps;    /* c' (78), c'' = c' + eps (79) */
  double M, alpha;       /* interference (83) and (85) */
} sdlab_thm38_info;

int sdlab_construct_thm38(const gsl_matrix *Wp, const gsl_matrix *WE, double c, const unsigned char *F,
                          size_t istar, gsl_matrix *WEout, sdlab_thm38_info *info);

#endif
