/* sdlab_gd.h: full-batch gradient descent (Adam) on L~ for small instances, the optimiser whose end points
 * the landscape census classifies.  Set / iterate / test, as GSL's minimisers: the caller owns logging
 * and stopping.  Deterministic: no randomness inside (the caller initialises W_E and W_D). */
#ifndef SDLAB_GD_H
#define SDLAB_GD_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_loss.h"
#include "sdlab_model.h"

typedef struct {
  sdlab_model *m;             /* the model being trained (owned by the caller) */
  const gsl_matrix *Wp, *Wr;
  const gsl_vector *Md;
  double lr, beta1, beta2, eps;
  size_t t;                   /* steps taken */
  double loss;                /* L~ before the last step */
  double grad_norm;           /* max-norm of the gradient before the last step */
  gsl_matrix *gE, *gD, *mE, *vE, *mD, *vD;
  sdlab_loss_workspace *w;
  /* feature anchoring (eq. 26; 0 by default): latent j < anchors is pulled towards feature j, the gradient of
   * anchor_weight (||W_E[j] - w_p^j||^2 + ||W_D[:, j] - w_r^j||^2) added to L~'s; loss stays L~ */
  size_t anchors;
  double anchor_weight;
} sdlab_gd;

/* Adam with the usual bias corrections; lr > 0, 0 <= beta1, beta2 < 1, eps > 0. */
sdlab_gd *sdlab_gd_alloc(sdlab_model *m, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, double lr,
                         double beta1, double beta2, double eps);
void sdlab_gd_free(sdlab_gd *g);
/* One Adam step on both blocks. */
int sdlab_gd_iterate(sdlab_gd *g);
/* GSL_SUCCESS when the last gradient's max-norm was at most gtol, else GSL_CONTINUE. */
int sdlab_gd_test(const sdlab_gd *g, double gtol);

#endif
