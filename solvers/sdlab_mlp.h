/* sdlab_mlp.h: a multilayer perceptron classifier trained in float32, the source of sdlab's real neural
 * representations (the paper's CLIP and Llama activations cannot be downloaded here).
 *
 * Layers l = 1..L: H_l = ReLU(H_{l-1} W_l^T + b_l) for the hidden layers, logits H_L = H_{L-1} W_L^T + b_L,
 * loss the mean softmax cross-entropy of the batch.  W_l is sizes[l] x sizes[l-1] (row-major), initialised
 * N(0, 2 / sizes[l-1]) (He et al. 2015) from the seed, biases 0; Adam.  Products run on OpenMP row blocks of
 * single-threaded SGEMMs (sdlab_blas.h): the same seed and thread count give the same bytes.  The hot path
 * allocates nothing. */
#ifndef SDLAB_MLP_H
#define SDLAB_MLP_H

#include <stddef.h>
#include <stdint.h>

#define SDLAB_MLP_MAX_LAYERS 6

typedef struct {
  size_t nlayers;                          /* weight layers L, 1..SDLAB_MLP_MAX_LAYERS */
  size_t sizes[SDLAB_MLP_MAX_LAYERS + 1];  /* input, hidden ..., classes (>= 2) */
  size_t batch;                            /* the largest batch a call may pass */
  double lr, beta1, beta2, eps;
  uint64_t seed;
} sdlab_mlp_config;

typedef struct sdlab_mlp sdlab_mlp;

/* Defaults: Adam lr 1e-3, betas 0.9 and 0.999, eps 1e-8, batch 128, seed 1 (sizes left to the caller). */
void sdlab_mlp_config_default(sdlab_mlp_config *c);

/* A network with fresh parameters; NULL with a message (GSL_EINVAL for a bad configuration). */
sdlab_mlp *sdlab_mlp_alloc(const sdlab_mlp_config *c, int threads);
void sdlab_mlp_free(sdlab_mlp *m);

/* Forward B <= batch rows of X (B x sizes[0]); afterwards sdlab_mlp_activation(m, l) holds H_l (B x sizes[l]),
 * l = 1..L (the last are the logits). */
int sdlab_mlp_forward(sdlab_mlp *m, const float *X, size_t B);
const float *sdlab_mlp_activation(const sdlab_mlp *m, size_t l);

/* The loss of a batch and its gradients (kept in the network), without a step: *loss the mean
 * cross-entropy, *correct the number of rows whose largest logit (lowest index on ties) is the label.
 * Labels must be below the number of classes (GSL_EINVAL otherwise). */
int sdlab_mlp_gradient(sdlab_mlp *m, const float *X, const unsigned char *y, size_t B, double *loss, size_t *correct);
/* sdlab_mlp_gradient, then one Adam step. */
int sdlab_mlp_step(sdlab_mlp *m, const float *X, const unsigned char *y, size_t B, double *loss, size_t *correct);

/* The parameters of layer l = 1..L (W_l sizes[l] x sizes[l-1], b_l sizes[l]) and their gradients, owned by
 * the network (writable: to load a trained network, or for gradient checks). */
float *sdlab_mlp_weights(sdlab_mlp *m, size_t l);
float *sdlab_mlp_bias(sdlab_mlp *m, size_t l);
const float *sdlab_mlp_weights_gradient(const sdlab_mlp *m, size_t l);
const float *sdlab_mlp_bias_gradient(const sdlab_mlp *m, size_t l);
const sdlab_mlp_config *sdlab_mlp_get_config(const sdlab_mlp *m);

#endif
