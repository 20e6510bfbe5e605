/* sdlab_model.h: the SDL model of Definition 2.3 (eqs. 1-4), without biases, as in the theory.
 *
 *   x_q = sigma(W_E x_p)   (1)        x_r_hat = W_D x_q   (2)
 *
 * W_E is n_q x n_p (row i is the encoder direction w_E^i), W_D is n_r x n_q (column i is the decoder
 * direction w_D^i).  The three instantiations of §2.4 differ only in what x_r is:
 *   SAE         x_r = x_p, so n_r = n_p;
 *   transcoder  x_r is a separate target (for example an MLP block's output);
 *   crosscoder  x_p and x_r are concatenations of m sources; n_p and n_r are multiples of m here
 *               (every source of equal width), which sdlab_model_crosscoder_concat builds.
 * Data matrices hold one sample per row (B x n_p, B x n_r), row-major. */
#ifndef SDLAB_MODEL_H
#define SDLAB_MODEL_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>

#include "sdlab_activation.h"

typedef enum { SDLAB_SAE, SDLAB_TRANSCODER, SDLAB_CROSSCODER } sdlab_model_kind;

typedef struct {
  sdlab_model_kind kind;
  size_t np, nq, nr;
  size_t nsources; /* m for a crosscoder, 1 otherwise */
  sdlab_activation act;
  gsl_matrix *WE; /* n_q x n_p */
  gsl_matrix *WD; /* n_r x n_q */
} sdlab_model;

/* Allocate a model with zero weights.  Checks: every size positive; an SAE has n_r = n_p; a crosscoder
 * has m >= 1 sources dividing both n_p and n_r; the activation fits n_q.  Returns NULL (with
 * sdlab_error_message set) on failure. */
sdlab_model *sdlab_model_alloc(sdlab_model_kind kind, size_t np, size_t nq, size_t nr, size_t nsources,
                               const sdlab_activation *act);
void sdlab_model_free(sdlab_model *m);

/* A = sigma(Xp W_E^T) for a B x n_p batch; Z receives the pre-activations when not NULL; sel (B*n_q)
 * the selection when not NULL.  Shapes are checked. */
int sdlab_model_encode(const sdlab_model *m, const gsl_matrix *Xp, gsl_matrix *Z, gsl_matrix *A,
                       unsigned char *sel, sdlab_activation_workspace *w);

/* Xhat = A W_D^T for a B x n_q batch of codes. */
int sdlab_model_decode(const sdlab_model *m, const gsl_matrix *A, gsl_matrix *Xhat);

/* Concatenate m sources, each B x d, side by side into the B x (m d) matrix out (eq. 1's crosscoder
 * input [x_p^(1); ...; x_p^(m)] written one sample per row). */
int sdlab_model_crosscoder_concat(const gsl_matrix *const *sources, size_t m, gsl_matrix *out);

#endif
