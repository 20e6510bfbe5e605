/* sdlab_lrb.h: the Linear Representation Bench (Appendix C).
 *
 * C.1  W_p (n_p x n): Gaussian entries, unit columns (27), then projected gradient descent on
 *        L_int = sum_{i!=j} [<w_i,w_j> - (M - eps)]_+^2 + lambda sum_{i!=j} [<w_i,w_j>]_+^2      (28)
 *      W <- W - eta grad L_int, columns renormalised (29), until max_{i!=j} <w_i,w_j> <= M.
 *      With G = W^T W and D_ij = 2[G_ij - (M-eps)]_+ + 2 lambda [G_ij]_+ (D_ii = 0): grad = 2 W D.
 *      The paper leaves eps, lambda, eta and the iteration cap open; sdlab's defaults are
 *      eps = 0.01, lambda = 1e-3, eta = 0.05, cap = 10000 (see sdlab_lrb_params_default).  The step is
 *      eta / max(1, max_i sum_j D_ij), so no column moves more than 2 eta in one step.
 * C.2  x_d = m_d (c_min + Exp(beta)), m_d ~ Bernoulli(1 - S) independently (30-31); beta is the scale
 *      (mean).  Optional c_max truncates the magnitudes to [c_min, c_max] (not in the paper: it makes
 *      Theorem 3.1's C finite).
 * C.3  x_p = W_p x (32).
 *
 * Targets (not specified by the paper; sdlab's choices):
 *   sae          x_r = x_p.
 *   transcoder   an independent W_r (n_r x n) made by C.1 with its own random stream; x_r = W_r x.
 *   crosscoder   m sources: W_p stacks m independent C.1 matrices (each n_p/m x n), scaled by 1/sqrt(m)
 *                so every stacked column has unit norm (Assumption 2.1); x_r = x_p (the crosscoder
 *                reconstructs its concatenated multi-layer input, Figure 3), so W_r = W_p.
 * Hierarchy P:K (Definition 3.2): features 0..P-1 are parents; parent p's sub-concepts are features
 *   P + p K + j (j < K); the rest are independent.  Each parent is active with probability 1 - S
 *   (independently of everything else) and then exactly one of its K sub-concepts, chosen uniformly,
 *   is active too: a parent is active exactly when one of its sub-concepts is (sub-concepts exclude
 *   each other, like the breeds of Example 3.7).  Magnitudes are drawn independently as in C.2.
 *
 * Random streams: the seed is expanded (splitmix64) into independent MT19937 streams for W_p (one per
 * source), W_r and the codes, so changing the number of samples does not change W_p. */
#ifndef SDLAB_LRB_H
#define SDLAB_LRB_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>

#include "sdlab_progress.h"

typedef enum { SDLAB_TARGET_SAE, SDLAB_TARGET_TRANSCODER, SDLAB_TARGET_CROSSCODER } sdlab_lrb_target;

typedef struct {
  size_t n;          /* ground-truth features */
  size_t dim;        /* n_p (a crosscoder: the total over its sources) */
  size_t samples;    /* N */
  double S;          /* probability that a feature is inactive */
  double M;          /* maximum interference */
  double cmin, beta, cmax; /* magnitudes c_min + Exp(beta), truncated at cmax (INFINITY: none) */
  sdlab_lrb_target target;
  size_t target_dim; /* transcoder n_r (0: same as dim) */
  size_t sources;    /* crosscoder m */
  size_t parents, children; /* hierarchy P:K, 0:0 for none */
  uint64_t seed;
  /* C.1 constants the paper leaves open */
  double eps, lambda, eta;
  size_t max_iter;
} sdlab_lrb_params;

void sdlab_lrb_params_default(sdlab_lrb_params *p);

/* The largest magnitude C.2 can draw is cmin + beta (-log(1 - u)) with u at most 1 - 2^-32 (gsl_rng_uniform on
 * mt19937), i.e. cmin + 32 ln 2 beta, or cmax when smaller; a coordinate of x_p = W_p x (unit columns) is at most
 * n times that.  sdlab_lrb_largest_value returns that bound; the check refuses parameters where it is not finite
 * in float64, and `sdlab lrb` where it exceeds float32's range for float32 samples. */
#define SDLAB_LRB_EXP_MAX 22.18070977791825 /* 32 ln 2 */
double sdlab_lrb_largest_value(const sdlab_lrb_params *p);

/* Validate every parameter, including whether M can be reached at all: for n unit vectors,
 * max_{i!=j} <w_i,w_j> >= -1/(n-1) always; it is >= 0 once n > n_p + 1; and > 0 once n > 2 n_p.
 * Returns SDLAB_EPARAM (a value out of range) or SDLAB_EIMPOSSIBLE (values that cannot hold together)
 * with a message. */
int sdlab_lrb_check(const sdlab_lrb_params *p);

/* n_p and n_r of the bench described by p. */
size_t sdlab_lrb_input_dim(const sdlab_lrb_params *p);
size_t sdlab_lrb_target_dim(const sdlab_lrb_params *p);

typedef struct {
  size_t iterations;  /* projected-gradient steps taken */
  double achieved;    /* max_{i!=j} <w_i, w_j> at the end */
} sdlab_lrb_features_info;

/* C.1 for one dim x n matrix W with the constants in p (p->M, eps, lambda, eta, max_iter).
 * SDLAB_EUNREACHED (with the achieved value in info and the message) when the cap is hit. */
int sdlab_lrb_features(const sdlab_lrb_params *p, size_t dim, gsl_rng *r, gsl_matrix *W,
                       sdlab_lrb_features_info *info, sdlab_progress_fn progress, void *ctx);

/* The bench's ground truth: Wp (n_p x n) and Wr (n_r x n), allocated here.  For an SAE and a
 * crosscoder Wr is a copy of Wp. */
typedef struct {
  gsl_matrix *Wp, *Wr;
  sdlab_lrb_features_info info_p, info_r;
} sdlab_lrb_truth;

int sdlab_lrb_truth_make(const sdlab_lrb_params *p, sdlab_lrb_truth *t, sdlab_progress_fn progress, void *ctx);
void sdlab_lrb_truth_free(sdlab_lrb_truth *t);
/* C.1's directions alone, for an SAE's small instances (the landscape census, the atlas): n unit vectors in dim
 * dimensions at interference M from seed, the bench's other parameters at their defaults; *Wp is dim x n. */
int sdlab_lrb_directions(size_t n, size_t dim, double M, uint64_t seed, gsl_matrix **Wp);

/* C.2: a stream of ground-truth code vectors.  Deterministic: the k-th sample depends only on the seed
 * and k, whatever the chunk sizes asked for. */
typedef struct sdlab_lrb_sampler sdlab_lrb_sampler;
sdlab_lrb_sampler *sdlab_lrb_sampler_alloc(const sdlab_lrb_params *p);
void sdlab_lrb_sampler_free(sdlab_lrb_sampler *s);
/* Fill X (count x n, row-major, overwritten) with the next `count` samples. */
int sdlab_lrb_sampler_next(sdlab_lrb_sampler *s, size_t count, double *X);

/* E[x_d^2 | x_d > 0] of the magnitude distribution. */
double sdlab_lrb_second_moment(const sdlab_lrb_params *p);
/* M_d of Theorem 3.1 for this bench in closed form (Md of length n): for an independent feature
 * (1-S) S^(n_ind - 1 + P) E[x^2 | x > 0]; for a parent or a sub-concept 0 (never active alone). */
int sdlab_lrb_md(const sdlab_lrb_params *p, double *Md);

/* The activation probability of feature d (1 - S for independent features and parents, (1-S)/K for
 * sub-concepts). */
double sdlab_lrb_active_probability(const sdlab_lrb_params *p, size_t d);

/* A hierarchy written "P:K" (two whole numbers >= 1, digits only): SDLAB_SUCCESS with *parents, *children set,
 * else GSL_EINVAL (nothing set). */
int sdlab_lrb_hierarchy_parse(const char *text, size_t *parents, size_t *children);

/* The parent of feature d under the hierarchy, or -1. */
long sdlab_lrb_parent_of(const sdlab_lrb_params *p, size_t d);

/* The seed of named stream `stream` derived from `seed` (splitmix64). */
unsigned long sdlab_lrb_stream_seed(uint64_t seed, uint64_t stream);

#endif
