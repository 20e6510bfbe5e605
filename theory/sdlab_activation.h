/* sdlab_activation.h: the sparsity-inducing activations of §2.4 (eqs. 6-7) and their (sub)gradients.
 *
 * Every activation here has property (10): sigma(z)_i is either 0 or z_i.  So an activation is fully
 * described by its selection set, the entries passed through unchanged, and the derivative of
 * sigma(z)_i with respect to z_i is 1 on the selection and 0 elsewhere (exact away from kinks).
 *
 *   relu          sigma(z)_i = z_i  iff z_i > 0
 *   jumprelu:T    sigma(z)_i = z_i  iff z_i > T                 (eq. 6, T >= 0)
 *   topk:K        sigma(z)_i = z_i  iff z_i is among the K largest of its row (eq. 7; may pass negatives)
 *   topk-relu:K   Top-K followed by ReLU (Example 3.5's sigma_Top-1 . sigma_ReLU; Gao et al.'s TopK)
 *   batchtopk:K   ReLU, then the K*B largest entries of the whole B-row batch (Bussmann et al. 2024)
 *
 * Ties are broken deterministically: of equal values the lower latent index (for batchtopk, the lower
 * row-major position) ranks first.  Matrices are B x n_q, one row per sample. */
#ifndef SDLAB_ACTIVATION_H
#define SDLAB_ACTIVATION_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>

typedef enum {
  SDLAB_ACT_RELU,
  SDLAB_ACT_JUMPRELU,
  SDLAB_ACT_TOPK,
  SDLAB_ACT_TOPK_RELU,
  SDLAB_ACT_BATCHTOPK
} sdlab_activation_kind;

typedef struct {
  sdlab_activation_kind kind;
  double theta; /* jumprelu threshold */
  size_t k;     /* topk, topk-relu, batchtopk */
} sdlab_activation;

/* Parse "relu", "jumprelu:T", "topk:K", "topk-relu:K" or "batchtopk:K".  Returns SDLAB_EPARAM with a
 * message naming the accepted forms on anything else. */
int sdlab_activation_parse(const char *text, sdlab_activation *act);

/* Write the canonical text of `act` (the form sdlab_activation_parse reads) into buf. */
void sdlab_activation_format(const sdlab_activation *act, char *buf, size_t len);

/* Check that `act` is usable with n_q latents: K in [1, n_q], T finite and >= 0.  SDLAB_EPARAM otherwise. */
int sdlab_activation_check(const sdlab_activation *act, size_t nq);

/* True (1) for activations with sigma(a z) = a sigma(z) for every a > 0 (all but jumprelu with T > 0).
 * Theorem 3.1's m = 1 identity and the scale symmetry used by the exact solvers need this. */
int sdlab_activation_is_homogeneous(const sdlab_activation *act);

typedef struct {
  size_t rows, cols;
  size_t *idx;  /* rows*cols indices (batchtopk ranks the whole batch) */
  double *vals; /* rows*cols values: the batch made contiguous */
} sdlab_activation_workspace;

sdlab_activation_workspace *sdlab_activation_workspace_alloc(size_t rows, size_t cols);
void sdlab_activation_workspace_free(sdlab_activation_workspace *w);

/* A = sigma(Z) row by row (batchtopk: over the whole batch), and sel[r*cols+i] = 1 exactly where
 * A keeps Z.  A may be Z (in place).  sel may be NULL.  Z must be finite; the workspace must have at
 * least Z's rows and columns.  Returns 0, GSL_EBADLEN on shape mismatch, SDLAB_ENONFINITE on NaN/inf. */
int sdlab_activation_apply(const sdlab_activation *act, const gsl_matrix *Z, gsl_matrix *A,
                           unsigned char *sel, sdlab_activation_workspace *w);

/* margin[r*cols+i] = a lower bound on how far Z(r,i) alone can move, either way, before the selection
 * of row r (batchtopk: of the batch) changes; 0 at a kink or a tie.  Gradient checks use it to stay
 * inside one piece; the exact solvers use it to tell the interior of a pattern region from its
 * boundary.  Same workspace and shape rules as sdlab_activation_apply. */
int sdlab_activation_margin(const sdlab_activation *act, const gsl_matrix *Z, double *margin,
                            sdlab_activation_workspace *w);

/* Rectangle-kernel straight-through pseudo-derivatives of JumpReLU with respect to its threshold
 * (Rajamanoharan et al. 2024b) with bandwidth h > 0:
 *   d sigma(z)/d theta  ~ -(theta/h) 1{|z - theta| < h/2}
 *   d H(z - theta)/d theta ~ -(1/h) 1{|z - theta| < h/2}      (the L0 penalty's term) */
double sdlab_activation_jumprelu_dtheta(double z, double theta, double h);
double sdlab_activation_jumprelu_l0_dtheta(double z, double theta, double h);

/* Top-k's ranking order: larger value first, then lower position.  It is a strict total order on (value,
 * position) pairs, so the selected set does not depend on the selection algorithm.  For values of type VT
 * and positions of type IT, SDLAB_SELECT_TOP_DEFINE(before, select, VT, IT) defines
 *   static int before(const VT *v, IT a, IT b)                    a ranks before b
 *   static void select(const VT *v, IT *idx, size_t len, size_t k) idx[0..k) becomes the k highest-ranked
 *                                                                 positions of idx[0..len) (Hoare-style
 *                                                                 quickselect, median-of-three pivot)
 * one algorithm for the theory's doubles and the trainer's floats. */
#define SDLAB_SELECT_TOP_DEFINE(before, select, VT, IT)                                                        \
  static inline int before(const VT *v, IT a, IT b) { return v[a] > v[b] || (v[a] == v[b] && a < b); }        \
  static void select(const VT *v, IT *idx, size_t len, size_t k)                                                \
  {                                                                                                             \
    size_t lo = 0, hi = len; /* the boundary k lies in [lo, hi) */                                              \
    while (hi - lo > 1 && k > lo && k < hi) {                                                                   \
      size_t mid = lo + (hi - lo) / 2, last = hi - 1;                                                           \
      /* median of three moved to idx[last] */                                                                  \
      if (before(v, idx[mid], idx[lo])) { IT t = idx[mid]; idx[mid] = idx[lo]; idx[lo] = t; }                  \
      if (before(v, idx[last], idx[lo])) { IT t = idx[last]; idx[last] = idx[lo]; idx[lo] = t; }               \
      if (before(v, idx[mid], idx[last])) { IT t = idx[mid]; idx[mid] = idx[last]; idx[last] = t; }            \
      IT pivot = idx[last];                                                                                     \
      size_t store = lo;                                                                                        \
      for (size_t j = lo; j < last; j++)                                                                        \
        if (before(v, idx[j], pivot)) {                                                                         \
          IT t = idx[j]; idx[j] = idx[store]; idx[store] = t;                                                   \
          store++;                                                                                              \
        }                                                                                                       \
      idx[last] = idx[store];                                                                                   \
      idx[store] = pivot;                                                                                       \
      /* idx[lo..store) rank before the pivot, idx[store] is the pivot, the rest rank after it */              \
      if (store == k || store + 1 == k)                                                                         \
        return;                                                                                                 \
      if (store > k)                                                                                            \
        hi = store;                                                                                             \
      else                                                                                                      \
        lo = store + 1;                                                                                         \
    }                                                                                                           \
  }

#endif
