#include "sdlab_mlp.h"
#include "sdlab_adam.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sdlab_mlp {
  sdlab_mlp_config c;
  int threads;
  size_t step;
  float *W[SDLAB_MLP_MAX_LAYERS + 1], *b[SDLAB_MLP_MAX_LAYERS + 1];   /* 1-based layers */
  float *gW[SDLAB_MLP_MAX_LAYERS + 1], *gb[SDLAB_MLP_MAX_LAYERS + 1];
  float *mW[SDLAB_MLP_MAX_LAYERS + 1], *vW[SDLAB_MLP_MAX_LAYERS + 1];
  float *mb[SDLAB_MLP_MAX_LAYERS + 1], *vb[SDLAB_MLP_MAX_LAYERS + 1];
  float *H[SDLAB_MLP_MAX_LAYERS + 1];   /* batch x sizes[l]; H[0] unused (the caller's X) */
  float *G[SDLAB_MLP_MAX_LAYERS + 1];   /* batch x sizes[l]: d loss / d pre-activation of layer l */
  const float *X;                       /* the last forward's input */
};

void
sdlab_mlp_config_default(sdlab_mlp_config *c)
{
  memset(c, 0, sizeof *c);
  c->batch = 128;
  c->lr = 1e-3;
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
  c->seed = 1;
}

void
sdlab_mlp_free(sdlab_mlp *m)
{
  if (m == NULL)
    return;
  for (size_t l = 0; l <= SDLAB_MLP_MAX_LAYERS; l++) {
    free(m->W[l]); free(m->b[l]); free(m->gW[l]); free(m->gb[l]);
    free(m->mW[l]); free(m->vW[l]); free(m->mb[l]); free(m->vb[l]);
    free(m->H[l]); free(m->G[l]);
  }
  free(m);
}

sdlab_mlp *
sdlab_mlp_alloc(const sdlab_mlp_config *c, int threads)
{
  if (c->nlayers < 1 || c->nlayers > SDLAB_MLP_MAX_LAYERS) {
    sdlab_fail(GSL_EINVAL, "an MLP has 1 to %d weight layers (got %zu)", SDLAB_MLP_MAX_LAYERS, c->nlayers);
    return NULL;
  }
  for (size_t l = 0; l <= c->nlayers; l++)
    if (c->sizes[l] == 0) {
      sdlab_fail(GSL_EINVAL, "layer %zu of the MLP has size 0", l);
      return NULL;
    }
  if (c->sizes[c->nlayers] < 2 || c->batch == 0 || !(c->lr > 0) || !isfinite(c->lr) || !(c->beta1 >= 0 && c->beta1 < 1) ||
      !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0)) {
    sdlab_fail(GSL_EINVAL, "the MLP needs at least 2 classes, a positive batch, lr > 0, betas in [0, 1), eps > 0");
    return NULL;
  }
  sdlab_mlp *m = calloc(1, sizeof *m);
  if (m == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory");
    return NULL;
  }
  m->c = *c;
  m->threads = threads > 0 ? threads : 1;
  int ok = 1;
  for (size_t l = 1; ok && l <= c->nlayers; l++) {
    const size_t nw = c->sizes[l] * c->sizes[l - 1], nb = c->sizes[l], nh = c->batch * c->sizes[l];
    ok = (m->W[l] = calloc(nw, sizeof(float))) && (m->gW[l] = calloc(nw, sizeof(float))) &&
         (m->mW[l] = calloc(nw, sizeof(float))) && (m->vW[l] = calloc(nw, sizeof(float))) &&
         (m->b[l] = calloc(nb, sizeof(float))) && (m->gb[l] = calloc(nb, sizeof(float))) &&
         (m->mb[l] = calloc(nb, sizeof(float))) && (m->vb[l] = calloc(nb, sizeof(float))) &&
         (m->H[l] = calloc(nh, sizeof(float))) && (m->G[l] = calloc(nh, sizeof(float)));
  }
  if (!ok) {
    sdlab_mlp_free(m);
    double need = 0; /* the bytes asked for: weights, gradients and Adam's moments, activations of a batch */
    for (size_t l = 1; l <= c->nlayers; l++)
      need += 4.0 * (4.0 * ((double)c->sizes[l] * (double)c->sizes[l - 1] + (double)c->sizes[l]) +
                     2.0 * (double)c->batch * (double)c->sizes[l]);
    sdlab_fail(GSL_ENOMEM, "out of memory for the MLP: it needs %.4g bytes (widths and batch %zu)", need, c->batch);
    return NULL;
  }
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, (unsigned long)(c->seed & 0xffffffffu) ^ 0x31415u);
  for (size_t l = 1; l <= c->nlayers; l++) {
    const double sd = sqrt(2.0 / (double)c->sizes[l - 1]);
    for (size_t k = 0; k < c->sizes[l] * c->sizes[l - 1]; k++)
      m->W[l][k] = (float)gsl_ran_gaussian_ziggurat(g, sd);
  }
  gsl_rng_free(g);
  sdlab_blas_single_threaded();
  return m;
}

int
sdlab_mlp_forward(sdlab_mlp *m, const float *X, size_t B)
{
  const sdlab_mlp_config *c = &m->c;
  if (B == 0 || B > c->batch)
    return sdlab_fail(GSL_EINVAL, "a batch of %zu rows (1 to %zu allowed)", B, c->batch);
  m->X = X;
  for (size_t l = 1; l <= c->nlayers; l++) {
    const size_t in = c->sizes[l - 1], out = c->sizes[l];
    const float *prev = l == 1 ? X : m->H[l - 1];
    float *h = m->H[l];
    for (size_t s = 0; s < B; s++)
      memcpy(h + s * out, m->b[l], out * sizeof(float));
    sdlab_blas_par_sgemm(m->threads, CblasNoTrans, CblasTrans, B, out, in, 1.0f, prev, in, m->W[l], in, 1.0f, h, out);
    if (l < c->nlayers)
      for (size_t k = 0; k < B * out; k++)
        h[k] = h[k] > 0 ? h[k] : 0.0f;
  }
  return SDLAB_SUCCESS;
}

const float *
sdlab_mlp_activation(const sdlab_mlp *m, size_t l)
{
  return l >= 1 && l <= m->c.nlayers ? m->H[l] : NULL;
}

int
sdlab_mlp_gradient(sdlab_mlp *m, const float *X, const unsigned char *y, size_t B, double *loss, size_t *correct)
{
  const sdlab_mlp_config *c = &m->c;
  const size_t L = c->nlayers, K = c->sizes[L];
  for (size_t s = 0; s < B; s++)
    if (y[s] >= K)
      return sdlab_fail(GSL_EINVAL, "label %u of row %zu is not below the %zu classes", y[s], s, K);
  int status = sdlab_mlp_forward(m, X, B);
  if (status)
    return status;
  /* softmax cross-entropy: G_L = (softmax - onehot) / B */
  double total = 0;
  size_t right = 0;
  const float *Z = m->H[L];
  float *GL = m->G[L];
  for (size_t s = 0; s < B; s++) {
    const float *z = Z + s * K;
    size_t arg = 0;
    for (size_t k = 1; k < K; k++)
      if (z[k] > z[arg])
        arg = k;
    right += arg == y[s];
    double sum = 0;
    for (size_t k = 0; k < K; k++)
      sum += exp((double)z[k] - z[arg]);
    const double lse = z[arg] + log(sum);
    total += lse - z[y[s]];
    for (size_t k = 0; k < K; k++)
      GL[s * K + k] = (float)((exp((double)z[k] - lse) - (k == y[s])) / (double)B);
  }
  if (!isfinite(total))
    return sdlab_fail(SDLAB_ENONFINITE, "the MLP's loss became %g (lower the learning rate)", total);
  *loss = total / (double)B;
  if (correct)
    *correct = right;
  /* back-propagation: gW_l = G_l^T H_{l-1}, gb_l = column sums, G_{l-1} = (G_l W_l) o 1[H_{l-1} > 0] */
  for (size_t l = L; l >= 1; l--) {
    const size_t in = c->sizes[l - 1], out = c->sizes[l];
    const float *prev = l == 1 ? X : m->H[l - 1];
    sdlab_blas_par_sgemm(m->threads, CblasTrans, CblasNoTrans, out, in, B, 1.0f, m->G[l], out, prev, in, 0.0f, m->gW[l],
                         in);
    memset(m->gb[l], 0, out * sizeof(float));
    for (size_t s = 0; s < B; s++)
      for (size_t k = 0; k < out; k++)
        m->gb[l][k] += m->G[l][s * out + k];
    if (l > 1) {
      float *Gp = m->G[l - 1];
      sdlab_blas_par_sgemm(m->threads, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, m->G[l], out, m->W[l], in, 0.0f,
                           Gp, in);
      for (size_t k = 0; k < B * in; k++)
        Gp[k] = m->H[l - 1][k] > 0 ? Gp[k] : 0.0f;
    }
  }
  return SDLAB_SUCCESS;
}

/* Adam on n parameters, a block of them a thread (elementwise: the same bytes for any thread count) */
static void
adam(const sdlab_mlp *m, float *w, const float *g, float *mo, float *v, size_t n, sdlab_adam_coef k)
{
  const int T = m->threads;
#pragma omp parallel for schedule(static) num_threads(T)
  for (int t = 0; t < T; t++) {
    const size_t i0 = n * (size_t)t / (size_t)T, i1 = n * (size_t)(t + 1) / (size_t)T;
    sdlab_adam_update(w + i0, mo + i0, v + i0, g + i0, 1.0f, i1 - i0, (float)m->c.beta1, (float)m->c.beta2,
                      (float)m->c.eps, k);
  }
}

int
sdlab_mlp_step(sdlab_mlp *m, const float *X, const unsigned char *y, size_t B, double *loss, size_t *correct)
{
  int status = sdlab_mlp_gradient(m, X, y, B, loss, correct);
  if (status)
    return status;
  const sdlab_mlp_config *c = &m->c;
  m->step++;
  const sdlab_adam_coef k = sdlab_adam_coef_of(c->lr, c->beta1, c->beta2, m->step);
  for (size_t l = 1; l <= c->nlayers; l++) {
    adam(m, m->W[l], m->gW[l], m->mW[l], m->vW[l], c->sizes[l] * c->sizes[l - 1], k);
    adam(m, m->b[l], m->gb[l], m->mb[l], m->vb[l], c->sizes[l], k);
  }
  return SDLAB_SUCCESS;
}

float *
sdlab_mlp_weights(sdlab_mlp *m, size_t l)
{
  return l >= 1 && l <= m->c.nlayers ? m->W[l] : NULL;
}

float *
sdlab_mlp_bias(sdlab_mlp *m, size_t l)
{
  return l >= 1 && l <= m->c.nlayers ? m->b[l] : NULL;
}

const float *
sdlab_mlp_weights_gradient(const sdlab_mlp *m, size_t l)
{
  return l >= 1 && l <= m->c.nlayers ? m->gW[l] : NULL;
}

const float *
sdlab_mlp_bias_gradient(const sdlab_mlp *m, size_t l)
{
  return l >= 1 && l <= m->c.nlayers ? m->gb[l] : NULL;
}

const sdlab_mlp_config *
sdlab_mlp_get_config(const sdlab_mlp *m)
{
  return &m->c;
}
