/* sdlab_loss.h: the SDL losses and their analytic gradients.
 *
 *   sampled loss (eq. 3 on a data set):  L = (1/N) sum_s ||x_r(s) - W_D sigma(W_E x_p(s))||^2
 *   per-feature loss (eq. 11):           L~ = sum_d M_d ||w_r^d - W_D sigma(W_E w_p^d)||^2
 *
 * Both are instances of one weighted loss  sum_s c_s ||r_s||^2,  r_s = x_r(s) - W_D sigma(W_E x_p(s)),
 * whose gradients, with a_s = sigma(W_E x_p(s)) and the selection mask m_s of sigma, are
 *   dL/dW_D = -2 sum_s c_s r_s a_s^T,
 *   dL/dW_E = -2 sum_s c_s (m_s o (W_D^T r_s)) x_p(s)^T,
 * exact wherever no pre-activation sits on a kink of sigma (sdlab_activation_margin > 0).
 *
 * Samples are processed in chunks of the workspace's batch size.  For batchtopk the chunk is the batch
 * over which the K*B largest entries are chosen; for L~ the "batch" is the set of feature directions.
 *
 * Speed: the encoder product X_p W_E^T is one dense GEMM.  When fewer than 1/8 of a chunk's codes are
 * selected (Top-k with k << n_q, for example), the decoder product, both gradients and the masked
 * back-propagation run over the selected entries only (O(B k n) instead of O(B n_q n)); the result is
 * the same up to the order of floating-point summation. */
#ifndef SDLAB_LOSS_H
#define SDLAB_LOSS_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_model.h"

typedef struct {
  size_t batch, np, nq, nr;
  gsl_matrix *Z;  /* batch x n_q pre-activations, then the gradient with respect to them */
  gsl_matrix *A;  /* batch x n_q codes */
  gsl_matrix *R;  /* batch x n_r residuals */
  unsigned char *sel;
  size_t *act_idx;   /* batch * n_q: the selected latents of each sample (sparse path) */
  size_t *act_count; /* batch */
  gsl_matrix *WDt;   /* n_q x n_r: W_D^T, contiguous decoder columns (sparse path) */
  gsl_matrix *gDt;   /* n_q x n_r: the decoder gradient accumulated in that layout */
  double *xrow;      /* n_p: one input sample made contiguous */
  int dense_only;    /* 1: never take the sparse path (for tests and benchmarks); 0 by default */
  sdlab_activation_workspace *aw;
} sdlab_loss_workspace;

sdlab_loss_workspace *sdlab_loss_workspace_alloc(size_t batch, const sdlab_model *m);
void sdlab_loss_workspace_free(sdlab_loss_workspace *w);

/* The weighted loss sum_s scale*c_s ||r_s||^2 with c_s = weights[s] (all 1 when weights is NULL).
 * When `columns` is 0 the samples are the rows of Xp (N x n_p) and Xr (N x n_r); when it is 1 they are
 * the columns (n_p x N, n_r x N), as for W_p and W_r.  Outputs, each optional (NULL to skip):
 * *loss; terms[s] = ||r_s||^2 (unweighted); gE (n_q x n_p) and gD (n_r x n_q), overwritten with the
 * gradients.  Returns 0, SDLAB_ESHAPE or SDLAB_ENONFINITE. */
int sdlab_loss_weighted(const sdlab_model *m, const gsl_matrix *Xp, const gsl_matrix *Xr, int columns,
                        const double *weights, double scale, double *loss, double *terms,
                        gsl_matrix *gE, gsl_matrix *gD, sdlab_loss_workspace *w);

/* Eq. 3 on a data set of N rows: L and its gradients (either may be NULL). */
int sdlab_loss_sampled(const sdlab_model *m, const gsl_matrix *Xp, const gsl_matrix *Xr, double *loss,
                       gsl_matrix *gE, gsl_matrix *gD, sdlab_loss_workspace *w);

/* Eq. 11: L~ for feature matrices Wp (n_p x n), Wr (n_r x n) and weights Md (length n). */
int sdlab_loss_tilde(const sdlab_model *m, const gsl_matrix *Wp, const gsl_matrix *Wr,
                     const gsl_vector *Md, double *loss, gsl_matrix *gE, gsl_matrix *gD,
                     sdlab_loss_workspace *w);

/* M_d of Theorem 3.1 for independent features: feature d is active with probability p[d] and, when
 * active, has second moment m2[d] = E[x_d^2 | x_d > 0]; then
 *   M_d = P(x = x_d e_d) E[x_d^2 | x_d > 0] = p_d prod_{e != d} (1 - p_e) m2_d.
 * Requires p in [0, 1] and m2 >= 0. */
int sdlab_loss_md_independent(size_t n, const double *p, const double *m2, double *Md);

/* Estimate of M_d from ground-truth codes: adds, for every row of X (N x n) with exactly one non-zero
 * entry x_d, x_d^2 to sum[d]; *rows_with_one counts those rows.  M_d ~ sum[d] / N over all N rows. */
int sdlab_loss_md_accumulate(const gsl_matrix *X, double *sum, size_t *rows_with_one);

#endif
