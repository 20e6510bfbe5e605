/* sdlab_construct.h: the paper's explicit configurations, as functions.
 *
 *   sdlab_construct_thm33       Theorem 3.3's feature-recovering configuration (eq. 15)
 *   sdlab_construct_example35   Example 3.5's instance and its spurious partial minimum (eqs. 18-19)
 *   sdlab_construct_zero_loss   a configuration with L~ = 0 built from an arbitrary mixing A (the
 *                               non-identifiability after Theorem 3.4; needs n <= n_p)
 *   sdlab_max_interference      M = max_{i != j} <w_p^i, w_p^j> (signed, as in Theorem 3.3) */
#ifndef SDLAB_CONSTRUCT_H
#define SDLAB_CONSTRUCT_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"

/* Maximum signed interference of the columns of W (n_p x n, n >= 2); -infinity for n < 2. */
double sdlab_max_interference(const gsl_matrix *W);

/* Eq. 15: W_D* = [W_r, 0] (n_r x n_q) and W_E* = [W_p^T; 0] (n_q x n_p).  Needs n_q >= n. */
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

#endif
