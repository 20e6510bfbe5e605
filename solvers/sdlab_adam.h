/* sdlab_adam.h: Adam (Kingma and Ba 2015) in float32, as the minibatch trainer (sdlab_train.h) and the
 * perceptron (sdlab_mlp.h) take its step: for each element, with the gradient g times a factor f (clipping),
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   w <- w - a m / (sqrt(v ic2) + eps),
 * a = lr / (1 - b1^t) and ic2 = 1 / (1 - b2^t) formed in double and rounded to float once (sdlab_adam_coef_of).
 * Elementwise, so any split of the elements over threads, and the AVX-512 and baseline builds chosen at load
 * time, give the same bytes (no contraction: -ffp-contract=off).  Full-batch gradient descent on L~ (sdlab_gd.h)
 * takes the double-precision step below, in the form its committed censuses were computed with. */
#ifndef SDLAB_ADAM_H
#define SDLAB_ADAM_H

#include <stddef.h>

typedef struct {
  float a, ic2, lr; /* lr / (1 - b1^t), 1 / (1 - b2^t), lr (SGD's step) */
} sdlab_adam_coef;

/* The scalars of step t >= 1 at learning rate lr. */
sdlab_adam_coef sdlab_adam_coef_of(double lr, double beta1, double beta2, size_t t);

/* n elements of w, their moments m and v, with gradient g times f (g NULL: a zero gradient). */
void sdlab_adam_update(float *w, float *m, float *v, const float *g, float f, size_t n, float b1, float b2, float eps,
                       sdlab_adam_coef k);

/* The double-precision step: for each element, m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
 * w <- w - lr (m / c1) / (sqrt(v / c2) + eps), with c1 = 1 - b1^t and c2 = 1 - b2^t (sdlab_adam_bias). */
void sdlab_adam_update_double(double *w, double *m, double *v, const double *g, size_t n, double lr, double b1,
                              double b2, double eps, double c1, double c2);

/* The bias corrections of step t >= 1: c1 = 1 - b1^t, c2 = 1 - b2^t. */
void sdlab_adam_bias(double beta1, double beta2, size_t t, double *c1, double *c2);

#endif
