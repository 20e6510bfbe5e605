/* sdlab_piece.h: one biconvex piece of L~ (Theorem 3.2) and the exact block minimisations on it.
 *
 * A joint pattern P = (F_1, ..., F_{n_q}) fixes, for every feature d, the active neurons A_d = {i : d in F_i}.
 * On the closure of its region Omega_P the codes are linear in W_E,
 *   z_d(W_E)_i = <w_E^i, w_p^d> for i in A_d, 0 otherwise             (eq. 37)
 * so L~(W_D, W_E) = sum_d M_d || w_r^d - sum_{i in A_d} <w_E^i, w_p^d> w_D^i ||^2 is convex in each block.
 * The closure of Omega_P is the polyhedron C vec(W_E) >= b (vec row-major): for ReLU <w_E^i, w_p^d> >= 0 on
 * F_i and <= 0 off it; for JumpReLU(theta) the same about theta; for Top-k the ranking constraints of
 * sdlab_patterns_topk.  `strict` marks the rows that are strict in the open region.
 *
 *   decoder step  the minimum-norm minimiser in W_D: W_D = T S^+, S = sum_d M_d z_d z_d^T,
 *                 T = sum_d M_d w_r^d z_d^T (dead neurons get W_D^i = 0, as in Theorem 3.6's proof)
 *   encoder step  the minimiser in W_E over the closure: a convex QP (sdlab_qp), with KKT residuals
 *   ACS           alternating the two (Gorski et al. 2007), set / iterate / test as GSL's minimisers do;
 *                 L~ never increases; the limit is a partial optimum on the closure, inside the open
 *                 piece when every strict row keeps a positive margin, else on its boundary. */
#ifndef SDLAB_PIECE_H
#define SDLAB_PIECE_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"
#include "sdlab_qp.h"

typedef struct {
  size_t n, np, nq, nr;
  sdlab_activation act;
  uint64_t *F;            /* n_q masks over the features */
  size_t m;               /* rows of the closure C x >= b, x = vec(W_E) */
  double *C, *b;
  unsigned char *strict;
} sdlab_piece;

/* The piece of pattern F (n_q masks) for directions Wp (n_p x n, n <= 64) under act (relu, jumprelu,
 * topk-relu; pure topk only with k = n_q, where it is ReLU), with n_r target dimensions.  Pure Top-k with
 * k < n_q is refused: it passes selected non-positive codes, which the pattern (sigma > 0) does not fix,
 * so L~ is not quadratic on a pattern's region (the finding reported by `sdlab check` for Theorem 3.2).
 * NULL on error. */
sdlab_piece *sdlab_piece_alloc(const gsl_matrix *Wp, size_t nr, const sdlab_activation *act, size_t nq, const uint64_t *F);
void sdlab_piece_free(sdlab_piece *P);

/* L~ with the piece's linear codes, and its gradients (either may be NULL). */
int sdlab_piece_loss(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                     const gsl_matrix *WE, const gsl_matrix *WD, double *loss, gsl_matrix *gE, gsl_matrix *gD);

/* min over strict rows of C_i x - b_i (> 0: W_E inside the open piece) and the largest violation of any
 * row (<= 0 up to rounding: W_E in the closure). */
void sdlab_piece_margin(const sdlab_piece *P, const gsl_matrix *WE, double *strict_margin, double *violation);

/* The two block Hessians at (W_D, W_E): of W_D (n_q x n_q: 2 S, the same for every row of W_D) and of
 * W_E (n_q n_p square, Q of the encoder QP).  Theorem 3.2 says both are positive semidefinite. */
int sdlab_piece_hessians(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_vector *Md, const gsl_matrix *WE,
                         const gsl_matrix *WD, gsl_matrix *HD, gsl_matrix *HE);

/* The decoder step in place (WD overwritten); *grad receives || dL~/dW_D ||_inf after it. */
int sdlab_piece_decoder_step(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                             const gsl_matrix *WE, gsl_matrix *WD, double *grad);

typedef struct sdlab_piece_workspace sdlab_piece_workspace;
sdlab_piece_workspace *sdlab_piece_workspace_alloc(const sdlab_piece *P);
void sdlab_piece_workspace_free(sdlab_piece_workspace *w);

/* The encoder step in place: WE must lie in the closure on entry; kkt receives the QP's residuals. */
int sdlab_piece_encoder_step(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                             const gsl_matrix *WD, gsl_matrix *WE, sdlab_qp_kkt *kkt, sdlab_piece_workspace *w);

/* A rigorous lower bound on L~ over the piece, from dropping the region's sign constraints.  The codes
 * of neuron i form the vector c_i = (z_di)_d, which lies in S_i = {v : v_d = 0 off F_i} restricted to
 * the range of W_p^T; with weights sqrt(M_d), L~ = sum_a dist^2(r_a, span{c_i}) over the target rows r_a.
 *   in general          L~ >= sum_a dist^2(r_a, S_1 + ... + S_{n_q})                       (*kind = 0)
 *   when the supports of the active neurons are identical or disjoint, exactly the relaxed minimum:
 *                       energy off every support + sum over groups (energy on F minus the g largest
 *                       eigenvalues of the targets projected on S_F, g = neurons in the group) (*kind = 1)
 * A rounding margin (gamma of the sizes times the target energy) is subtracted so the bound is rigorous. */
int sdlab_piece_lower_bound(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                            double *lb, int *kind);

/* An orthonormal basis (the first returned-count columns of Q, rows x at least min(rows, cols)) of the span
 * of A's columns, by the SVD, with the numerical-rank cut max(rows, cols) eps sigma_max. */
size_t sdlab_piece_span_basis(const gsl_matrix *A, gsl_matrix *Q);
/* The sum of the g largest eigenvalues of B^T R R^T B, B the first b columns of an orthonormal matrix: the
 * most of ||R||_F^2 that a g-dimensional subspace of span B captures (Ky Fan). */
double sdlab_piece_top_energy(const gsl_matrix *B, size_t b, const gsl_matrix *R, size_t g);

/* Alternating convex search on one piece. */
typedef struct {
  const sdlab_piece *P;
  const gsl_matrix *Wp, *Wr;
  const gsl_vector *Md;
  gsl_matrix *WE, *WD;
  double loss, previous;  /* L~ after the last and the previous iteration */
  double grad_D;          /* || dL~/dW_D ||_inf after the last decoder step */
  sdlab_qp_kkt kkt_E;     /* the last encoder step's KKT residuals */
  size_t iterations;
  sdlab_piece_workspace *w;
} sdlab_piece_acs;

sdlab_piece_acs *sdlab_piece_acs_alloc(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md);
void sdlab_piece_acs_free(sdlab_piece_acs *a);
/* Start from WE0 (in the closure); W_D is set by a decoder step. */
int sdlab_piece_acs_set(sdlab_piece_acs *a, const gsl_matrix *WE0);
/* One decoder step and one encoder step. */
int sdlab_piece_acs_iterate(sdlab_piece_acs *a);
/* GSL_SUCCESS when the last iteration lowered L~ by at most rtol * L~ (+ abstol), GSL_CONTINUE otherwise. */
int sdlab_piece_acs_test(const sdlab_piece_acs *a, double rtol, double abstol);

#endif
