#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "sdlab_train.h"
#include "sdlab_adam.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"
#include "sdlab_activation.h"

#include <float.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <omp.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

/* ---- the methods: one table ---- */

static const struct {
  const char *name;
  sdlab_activation_kind activation;
  sdlab_train_objective objective;
} METHOD[] = {
  [SDLAB_TRAIN_RELU] = {"relu", SDLAB_ACT_RELU, SDLAB_OBJECTIVE_PLAIN},
  [SDLAB_TRAIN_JUMPRELU] = {"jumprelu", SDLAB_ACT_JUMPRELU, SDLAB_OBJECTIVE_PLAIN},
  [SDLAB_TRAIN_TOPK] = {"topk", SDLAB_ACT_TOPK_RELU, SDLAB_OBJECTIVE_PLAIN},
  [SDLAB_TRAIN_BATCHTOPK] = {"batchtopk", SDLAB_ACT_BATCHTOPK, SDLAB_OBJECTIVE_PLAIN},
  [SDLAB_TRAIN_MATRYOSHKA] = {"matryoshka", SDLAB_ACT_TOPK_RELU, SDLAB_OBJECTIVE_MATRYOSHKA},
  [SDLAB_TRAIN_TOPK_AUXK] = {"topk-auxk", SDLAB_ACT_TOPK_RELU, SDLAB_OBJECTIVE_AUXK},
  [SDLAB_TRAIN_GATED] = {"gated", SDLAB_ACT_RELU, SDLAB_OBJECTIVE_GATED},
};
_Static_assert(sizeof METHOD / sizeof *METHOD == SDLAB_TRAIN_METHODS, "one entry a method");

const char *
sdlab_train_method_name(sdlab_train_method m)
{
  return (unsigned)m < SDLAB_TRAIN_METHODS ? METHOD[m].name : NULL;
}

int
sdlab_train_method_parse(const char *name, sdlab_train_method *m)
{
  for (int k = 0; k < SDLAB_TRAIN_METHODS; k++)
    if (strcmp(name, METHOD[k].name) == 0) {
      *m = (sdlab_train_method)k;
      return SDLAB_SUCCESS;
    }
  return sdlab_fail(SDLAB_EPARAM, "unknown method '%s' (relu, jumprelu, topk, batchtopk, matryoshka, topk-auxk, "
                    "gated)", name);
}

sdlab_activation_kind
sdlab_train_method_activation(sdlab_train_method m)
{
  return METHOD[m].activation;
}

sdlab_train_objective
sdlab_train_method_objective(sdlab_train_method m)
{
  return METHOD[m].objective;
}

sdlab_train_method
sdlab_train_method_of(sdlab_activation_kind kind)
{
  for (int k = 0; k < SDLAB_TRAIN_METHODS; k++)
    if (METHOD[k].objective == SDLAB_OBJECTIVE_PLAIN && METHOD[k].activation == kind)
      return (sdlab_train_method)k;
  return SDLAB_TRAIN_METHODS;
}

void
sdlab_train_config_default(sdlab_train_config *c)
{
  memset(c, 0, sizeof *c);
  c->method = SDLAB_TRAIN_TOPK;
  c->sae = 1;
  c->k = 32;
  c->l1 = 1e-3;
  c->theta0 = 0.05;
  c->bandwidth = 0.05;
  c->l0 = 1e-3;
  c->k_aux = 512;
  c->lambda_aux = 1.0 / 32;
  c->dead_window = 1000;
  c->opt = SDLAB_OPT_ADAM;
  c->lr = 1e-3;
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
  c->warmup = 100;
  c->decay = SDLAB_DECAY_LINEAR;
  c->clip = 0;
  c->unit_decoder = 1;
  c->tied_init = 1;
  c->biases = 0;
  c->anchor_weight = 0.1;
  c->batch = 1024;
  c->total_steps = 1000;
  c->sparse_below = SDLAB_TRAIN_SPARSE_BELOW;
  c->lazy_decoder = 1;
}

static size_t
max_k(const sdlab_train_config *c)
{
  switch (c->method) {
  case SDLAB_TRAIN_MATRYOSHKA:
    if (c->nprefixes)
      return c->k;
    {
      size_t m = 0;
      for (size_t i = 0; i < c->nks; i++)
        m = c->ks[i] > m ? c->ks[i] : m;
      return m;
    }
  case SDLAB_TRAIN_TOPK:
  case SDLAB_TRAIN_BATCHTOPK:
  case SDLAB_TRAIN_TOPK_AUXK:
    return c->k;
  default:
    return c->q;
  }
}

double
sdlab_trainer_bytes(const sdlab_train_config *c)
{
  const double p = (double)c->p, q = (double)c->q, r = (double)c->r, B = (double)c->batch;
  return 4.0 * (5.0 * q * (p + r) + 4.0 * B * q + (c->bf16 ? 0.5 * (q * p + B * p) : 0.0));
}

int
sdlab_train_config_check(const sdlab_train_config *c)
{
  if ((unsigned)c->method >= SDLAB_TRAIN_METHODS)
    return sdlab_fail(SDLAB_EPARAM, "no training method %d", (int)c->method);
  if (c->p == 0 || c->q == 0 || c->r == 0)
    return sdlab_fail(SDLAB_EPARAM, "the dimensions must be positive (p %zu, q %zu, r %zu)", c->p, c->q, c->r);
  if (c->sae && c->p != c->r)
    return sdlab_fail(SDLAB_EPARAM, "an SAE reconstructs its input: p = %zu must equal r = %zu", c->p, c->r);
  if (c->batch == 0)
    return sdlab_fail(SDLAB_EPARAM, "the batch size must be positive");
  const int topk_like = c->method == SDLAB_TRAIN_TOPK || c->method == SDLAB_TRAIN_BATCHTOPK ||
                        c->method == SDLAB_TRAIN_TOPK_AUXK || (c->method == SDLAB_TRAIN_MATRYOSHKA && c->nprefixes);
  if (topk_like && (c->k == 0 || c->k >= c->q))
    return sdlab_fail(SDLAB_EPARAM, "k must satisfy 1 <= k < the number of latents (k = %zu, latents = %zu)", c->k, c->q);
  if ((c->method == SDLAB_TRAIN_RELU || c->method == SDLAB_TRAIN_GATED) && !(c->l1 >= 0 && isfinite(c->l1)))
    return sdlab_fail(SDLAB_EPARAM, "the L1 coefficient must be finite and >= 0 (got %g)", c->l1);
  if (c->method == SDLAB_TRAIN_JUMPRELU &&
      (!(c->theta0 >= 0) || !isfinite(c->theta0) || !(c->bandwidth > 0) || !(c->l0 >= 0) || !isfinite(c->l0)))
    return sdlab_fail(SDLAB_EPARAM, "jumprelu needs theta >= 0, bandwidth > 0, L0 weight >= 0");
  if (c->method == SDLAB_TRAIN_MATRYOSHKA) {
    if (c->nprefixes) {
      for (size_t j = 0; j < c->nprefixes; j++)
        if (c->prefixes[j] == 0 || c->prefixes[j] > c->q || (j && c->prefixes[j] <= c->prefixes[j - 1]))
          return sdlab_fail(SDLAB_EPARAM, "matryoshka prefixes must increase within [1, %zu]", c->q);
    } else {
      if (c->nks == 0)
        return sdlab_fail(SDLAB_EPARAM, "matryoshka needs its k values (--ks k1,k2,...) or prefixes");
      for (size_t j = 0; j < c->nks; j++)
        if (c->ks[j] == 0 || c->ks[j] >= c->q || (j && c->ks[j] <= c->ks[j - 1]) || !(c->lambdas[j] >= 0))
          return sdlab_fail(SDLAB_EPARAM, "matryoshka k values must increase within [1, %zu) with weights >= 0", c->q);
    }
  }
  if (c->method == SDLAB_TRAIN_TOPK_AUXK && (c->k_aux == 0 || !(c->lambda_aux >= 0)))
    return sdlab_fail(SDLAB_EPARAM, "topk-auxk needs k_aux >= 1 and lambda_aux >= 0");
  if (!(c->lr > 0) || !isfinite(c->lr) || !(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) ||
      !(c->eps > 0))
    return sdlab_fail(SDLAB_EPARAM, "the optimiser needs lr > 0, beta1 and beta2 in [0, 1), eps > 0 (lr %g)", c->lr);
  if (!(c->clip >= 0))
    return sdlab_fail(SDLAB_EPARAM, "the clipping norm must be >= 0");
  if (c->anchors > c->q || (c->anchors && (!c->anchor_p || !c->anchor_r || !(c->anchor_weight >= 0))))
    return sdlab_fail(SDLAB_EPARAM, "%zu anchors for %zu latents (with targets and a weight >= 0 needed)", c->anchors, c->q);
  if (!(c->sparse_below >= 0 && c->sparse_below <= 1))
    return sdlab_fail(SDLAB_EPARAM, "the sparse-path crossover must be a fraction in [0, 1] (got %g)", c->sparse_below);
  if ((c->resample_at || c->resample_every) && c->dead_window == 0)
    return sdlab_fail(SDLAB_EPARAM, "resampling needs a dead window of at least one step");
  if (c->bf16 && !sdlab_blas_bf16_native())
    return sdlab_fail(GSL_EUNSUP, "bfloat16 products need a CPU with bf16 instructions (AVX-512 BF16 or AMX): "
                      "emulated, they would be slower than float32");
  return SDLAB_SUCCESS;
}

/* the learning-rate schedule's and Adam's bias corrections' scalars of one step (see "the update") */
typedef sdlab_adam_coef adam_coef; /* of step + 1: lr / (1 - beta1^(step+1)), 1 / (1 - beta2^(step+1)), lr */
static adam_coef coef_of(const sdlab_train_config *c, size_t step);
struct sdlab_trainer;
static void decoder_sync_all(struct sdlab_trainer *t);
static void state_is_current(struct sdlab_trainer *t);

#define SDLAB_BATCH_BINS 65536u /* batchtopk's selection: bins of the top 16 bits of a positive float */

struct sdlab_trainer {
  sdlab_train_config c;
  int threads;
  sdlab_train_state s;
  float *anchor_p, *anchor_r;
  /* pool for resampling */
  const float *pool_p, *pool_r;
  size_t pool_rows;
  /* batch workspace */
  size_t B, kcap, nnzcap;
  float *Xc, *Z, *A, *E, *GA;   /* B x p, B x q, B x q (dense path), B x r, B x q (dense) */
  sdlab_bf16 *Xb, *Wb;          /* bf16 products: Xc and W_E rounded (B x p, q x p) */
  int wb_current;                /* Wb is W_E rounded (each row rounded as Adam writes it); 0: round it whole */
  float *Elev;                   /* levels x B x r residuals (matryoshka), suffix-weighted */
  size_t *rowptr, *col;          /* CSR of the selected entries */
  float *val, *gval;
  float *mval, *gmval;           /* gated on the entry path: per entry, its magnitude code and that code's gradient */
  uint32_t *order;               /* per entry: its level key (rank or latent index) */
  size_t *cscptr, *cscent;       /* per latent: its entries (for latent-owned accumulation) */
  uint32_t *sample;              /* per entry: its sample */
  uint32_t *idx;                 /* selection scratch */
  float *topv;                   /* threads x topv_stride: the selection heap's values */
  size_t topv_stride;            /* kcap rounded up to 16 floats, plus 16: no two threads' heaps share a cache line */
  uint32_t *hist;                /* batchtopk: threads x SDLAB_BATCH_BINS histograms */
  float *gWE, *gWDt, *gbE, *gbD, *gth;
  int gE_deferred;               /* W_E's gradient from the entries not in gWE yet: the update sums it row by row */
  float *grow;                   /* threads x p: that row's sum */
  float *grm, *gbm;              /* gated: r_mag and b_mag gradients */
  float *PM, *GM;                /* gated: B x q magnitude pre-activations, then their gradient */
  float *aux_z; size_t *aux_i;   /* auxk: threads x q codes of the dead latents, the dead latents */
  uint32_t *aux_ord, *aux_lat;   /* auxk: threads x q ranking scratch; B x k_aux kept latents */
  float *aux_val, *aux_gz;       /* auxk: B x k_aux kept codes and their gradients */
  size_t *aux_cnt, *aux_ptr, *aux_ent, *aux_fill; /* auxk: per sample; per latent (q + 1); entries; q */
  double *aux_sq;                /* auxk: B squared residuals */
  float *Ehat;                   /* B x r: auxk reconstruction */
  /* rows with a gradient this step (see "the update"): stamp[i] == cur, listed in touched[0..ntouched) */
  uint64_t *stamp, cur;
  size_t *touched, ntouched;
  int all_touched;               /* a dense step: every row */
  int grad_pending;              /* gWE, gWDt hold a gradient no step has consumed (and zeroed) */
  uint64_t *wd_synced;           /* W_D^T row i (and its moments) has had the updates of steps < wd_synced[i] */
  int exposed;                   /* the state was handed out: take it as current at the next step */
  adam_coef *coef;        /* per step: the schedule's scalars (steps < total_steps) */
};

sdlab_train_state *
sdlab_trainer_state(sdlab_trainer *t)
{
  t->wb_current = 0; /* the caller may write W_E (a checkpoint, anchors) */
  if (t->exposed) /* handed out before, and no step since: as the caller left it (a checkpoint may have set it) */
    state_is_current(t);
  else
    decoder_sync_all(t);
  t->exposed = 1;
  return &t->s;
}

const sdlab_train_config *
sdlab_trainer_config(const sdlab_trainer *t)
{
  return &t->c;
}

void
sdlab_trainer_free(sdlab_trainer *t)
{
  if (t == NULL)
    return;
  float *fs[] = {t->s.WE, t->s.WDt, t->s.bE, t->s.bD, t->s.theta, t->s.mWE, t->s.vWE, t->s.mWDt, t->s.vWDt,
                 t->s.mbE, t->s.vbE, t->s.mbD, t->s.vbD, t->s.mth, t->s.vth, t->anchor_p, t->anchor_r, t->Xc, t->Z,
                 t->A, t->E, t->GA, t->Elev, t->val, t->gval, t->gWE, t->gWDt, t->gbE, t->gbD, t->gth, t->aux_z,
                 t->grow, t->Ehat, t->s.rmag, t->s.bmag, t->s.mrm, t->s.vrm, t->s.mbm, t->s.vbm, t->grm, t->gbm, t->PM, t->GM,
                 t->mval, t->gmval, t->topv};
  for (size_t i = 0; i < sizeof fs / sizeof *fs; i++)
    free(fs[i]);
  free(t->s.last_active);
  free(t->Xb);
  free(t->Wb);
  free(t->rowptr);
  free(t->col);
  free(t->order);
  free(t->cscptr);
  free(t->cscent);
  free(t->sample);
  free(t->idx);
  free(t->aux_i);
  free(t->aux_ord);
  free(t->aux_lat);
  free(t->aux_val);
  free(t->aux_gz);
  free(t->aux_cnt);
  free(t->aux_ptr);
  free(t->aux_ent);
  free(t->aux_fill);
  free(t->aux_sq);
  free(t->hist);
  free(t->stamp);
  free(t->touched);
  free(t->wd_synced);
  free(t->coef);
  free(t);
}

static int
dense_method(const sdlab_train_config *c)
{
  const sdlab_activation_kind a = sdlab_train_method_activation(c->method);
  return a == SDLAB_ACT_RELU || a == SDLAB_ACT_JUMPRELU;
}

/* the encoder bias is trained (and added): with --biases, and always as gated's gate bias */
static int
encoder_bias(const sdlab_train_config *c)
{
  return c->biases || c->method == SDLAB_TRAIN_GATED;
}

static size_t
levels(const sdlab_train_config *c)
{
  if (c->method != SDLAB_TRAIN_MATRYOSHKA)
    return 1;
  return c->nprefixes ? c->nprefixes : c->nks;
}

static void *
zalloc(size_t n, size_t size)
{
  const size_t bytes = (n ? n : 1) * size, huge = (size_t)2 << 20;
  if (bytes < 4 * huge)
    return calloc(n ? n : 1, size);
  /* the parameters, their moments and gradients: 2 MB aligned, backed by huge pages where the kernel allows
   * (fewer TLB misses and page faults on rows that are touched rarely), zeroed now */
  void *ptr = NULL;
  if (posix_memalign(&ptr, huge, (bytes + huge - 1) / huge * huge) != 0)
    return NULL;
  madvise(ptr, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
  memset(ptr, 0, bytes);
  return ptr;
}

sdlab_trainer *
sdlab_trainer_alloc(const sdlab_train_config *c, int threads)
{
  if (sdlab_train_config_check(c))
    return NULL;
  sdlab_trainer *t = calloc(1, sizeof *t);
  if (t == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory");
    return NULL;
  }
  t->c = *c;
  t->threads = threads > 0 ? threads : 1;
  const size_t p = c->p, q = c->q, r = c->r, B = c->batch, L = levels(c);
  t->B = B;
  t->kcap = max_k(c);
  t->topv_stride = (t->kcap + 15) / 16 * 16 + 16;
  t->nnzcap = dense_method(c) ? (size_t)(c->sparse_below * (double)B * (double)q) + 1 : B * t->kcap;
  sdlab_train_state *s = &t->s;
#define ALLOC(ptr, count) ((ptr) = zalloc((count), sizeof *(ptr)))
  int ok = ALLOC(s->WE, q * p) && ALLOC(s->WDt, q * r) && ALLOC(s->bE, q) && ALLOC(s->bD, r) && ALLOC(s->theta, q) &&
           ALLOC(s->mWE, q * p) && ALLOC(s->vWE, q * p) && ALLOC(s->mWDt, q * r) && ALLOC(s->vWDt, q * r) &&
           ALLOC(s->mbE, q) && ALLOC(s->vbE, q) && ALLOC(s->mbD, r) && ALLOC(s->vbD, r) && ALLOC(s->mth, q) &&
           ALLOC(s->vth, q) && ALLOC(s->last_active, q) && ALLOC(t->Xc, B * p) && ALLOC(t->Z, B * q) &&
           ALLOC(t->E, B * r) && ALLOC(t->Elev, L * B * r) && ALLOC(t->rowptr, B + 1) && ALLOC(t->col, t->nnzcap) &&
           ALLOC(t->val, t->nnzcap) && ALLOC(t->gval, t->nnzcap) && ALLOC(t->order, t->nnzcap) &&
           ALLOC(t->cscptr, q + 1) && ALLOC(t->cscent, t->nnzcap) && ALLOC(t->sample, t->nnzcap) && ALLOC(t->idx, B * q) && ALLOC(t->gWE, q * p) &&
           ALLOC(t->gWDt, q * r) && ALLOC(t->gbE, q) && ALLOC(t->gbD, r) && ALLOC(t->gth, q) && ALLOC(t->aux_z, (size_t)t->threads * q) &&
           ALLOC(t->grow, (size_t)t->threads * p) && ALLOC(t->topv, (size_t)t->threads * t->topv_stride) &&
           ALLOC(t->aux_i, q) && ALLOC(t->Ehat, B * r) && ALLOC(t->hist, c->method == SDLAB_TRAIN_BATCHTOPK ? (size_t)t->threads * SDLAB_BATCH_BINS : 1);
  if (ok && dense_method(c))
    ok = ALLOC(t->A, B * q) && ALLOC(t->GA, B * q);
  if (ok && c->bf16)
    ok = ALLOC(t->Xb, B * p) && ALLOC(t->Wb, q * p);
  if (ok)
    ok = ALLOC(s->rmag, q) && ALLOC(s->bmag, q) && ALLOC(s->mrm, q) && ALLOC(s->vrm, q) && ALLOC(s->mbm, q) &&
         ALLOC(s->vbm, q) && ALLOC(t->grm, q) && ALLOC(t->gbm, q);
  if (ok && c->method == SDLAB_TRAIN_GATED)
    ok = ALLOC(t->PM, B * q) && ALLOC(t->GM, B * q) && ALLOC(t->mval, t->nnzcap) && ALLOC(t->gmval, t->nnzcap);
  if (ok && c->anchors)
    ok = ALLOC(t->anchor_p, c->anchors * p) && ALLOC(t->anchor_r, c->anchors * r);
  if (ok)
    ok = ALLOC(t->stamp, q) && ALLOC(t->touched, q) && ALLOC(t->wd_synced, q) && ALLOC(t->coef, c->total_steps);
  if (ok && c->method == SDLAB_TRAIN_TOPK_AUXK) {
    const size_t ka = B * (c->k_aux < q ? c->k_aux : q);
    ok = ALLOC(t->aux_ord, (size_t)t->threads * q) && ALLOC(t->aux_lat, ka) && ALLOC(t->aux_val, ka) &&
         ALLOC(t->aux_gz, ka) && ALLOC(t->aux_cnt, B) && ALLOC(t->aux_ptr, q + 1) && ALLOC(t->aux_ent, ka) &&
         ALLOC(t->aux_fill, q) && ALLOC(t->aux_sq, B);
  }
#undef ALLOC
  if (!ok) {
    sdlab_trainer_free(t);
    sdlab_fail(GSL_ENOMEM, "out of memory for a %zu x %zu trainer with batch %zu (it needs about %.3g bytes: W_E, "
               "W_D, their gradients and Adam's moments, and the batch's codes)", q, p, B, sdlab_trainer_bytes(c));
    return NULL;
  }
  if (c->anchors) {
    memcpy(t->anchor_p, c->anchor_p, c->anchors * p * sizeof(float));
    memcpy(t->anchor_r, c->anchor_r, c->anchors * r * sizeof(float));
    t->c.anchor_p = t->anchor_p;
    t->c.anchor_r = t->anchor_r;
  }
  /* initialisation: decoder rows Gaussian, unit norm (or 1/sqrt(r)); tied encoder when p == r */
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, (unsigned long)(c->seed & 0xffffffffu) ^ 0x5dab1u);
  for (size_t i = 0; i < q; i++) {
    double nn = 0;
    for (size_t a = 0; a < r; a++) {
      double v = gsl_ran_gaussian_ziggurat(g, 1.0);
      s->WDt[i * r + a] = (float)v;
      nn += v * v;
    }
    float scale = (float)(c->unit_decoder ? 1.0 / sqrt(nn) : 1.0 / sqrt((double)r));
    for (size_t a = 0; a < r; a++)
      s->WDt[i * r + a] *= scale;
  }
  if (c->tied_init && p == r)
    memcpy(s->WE, s->WDt, q * p * sizeof(float));
  else
    for (size_t k = 0; k < q * p; k++)
      s->WE[k] = (float)gsl_ran_gaussian_ziggurat(g, 1.0 / sqrt((double)p));
  gsl_rng_free(g);
  for (size_t i = 0; i < q; i++)
    s->theta[i] = (float)c->theta0;
  for (size_t k = 0; k < c->total_steps; k++)
    t->coef[k] = coef_of(c, k);
  sdlab_blas_single_threaded(); /* parallelism comes from OpenMP (see encode_pre) */
  return t;
}

void
sdlab_trainer_set_pool(sdlab_trainer *t, const float *xp, const float *xr, size_t rows)
{
  t->pool_p = xp;
  t->pool_r = xr ? xr : xp;
  t->pool_rows = rows;
}

static double
learning_rate(const sdlab_train_config *c, size_t step)
{
  double lr = c->lr;
  if (c->warmup && step < c->warmup)
    lr *= (double)(step + 1) / (double)c->warmup;
  if (c->decay != SDLAB_DECAY_NONE && c->total_steps > c->warmup && step >= c->warmup) {
    double f = fmin(1.0, (double)(step - c->warmup) / (double)(c->total_steps - c->warmup));
    lr *= c->decay == SDLAB_DECAY_LINEAR ? 1.0 - f : 0.5 * (1.0 + cos(3.14159265358979323846 * f));
  }
  return lr;
}

static adam_coef
coef_of(const sdlab_train_config *c, size_t step)
{
  return sdlab_adam_coef_of(learning_rate(c, step), c->beta1, c->beta2, step + 1);
}

static adam_coef
coef_at(const sdlab_trainer *t, size_t step)
{
  return step < t->c.total_steps ? t->coef[step] : coef_of(&t->c, step);
}

/* An 8 x 8 block of floats transposed: o[u][j] = row j's element a + u (rows r[j] + a), in vector registers */
typedef float sdlab_v8f __attribute__((vector_size(32)));
typedef double sdlab_v8d __attribute__((vector_size(64)));
typedef int sdlab_v8i __attribute__((vector_size(32)));

static inline void
transpose8(const float *const *r, size_t a, sdlab_v8f *o)
{
  sdlab_v8f x[8], t[8], s[8];
  for (int j = 0; j < 8; j++)
    memcpy(&x[j], r[j] + a, sizeof x[j]);
  const sdlab_v8i lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
  const sdlab_v8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
  const sdlab_v8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
  for (int j = 0; j < 8; j += 2) {
    t[j] = __builtin_shuffle(x[j], x[j + 1], lo);
    t[j + 1] = __builtin_shuffle(x[j], x[j + 1], hi);
  }
  for (int j = 0; j < 8; j += 4) {
    s[j] = __builtin_shuffle(t[j], t[j + 2], lo2);
    s[j + 1] = __builtin_shuffle(t[j], t[j + 2], hi2);
    s[j + 2] = __builtin_shuffle(t[j + 1], t[j + 3], lo2);
    s[j + 3] = __builtin_shuffle(t[j + 1], t[j + 3], hi2);
  }
  for (int j = 0; j < 4; j++) {
    o[j] = __builtin_shuffle(s[j], s[j + 4], lo4);
    o[j + 4] = __builtin_shuffle(s[j], s[j + 4], hi4);
  }
}

/* ---- the update ----
 *
 * A step's gradient reaches W_E and W_D only in the rows of the latents it touched (the selected entries,
 * anchors, AuxK's dead latents; every row on the dense path).  Adam still moves the other rows (their moments
 * decay), so W_E, which the next encoder product reads whole, is updated in full, reading the gradient only
 * where it exists and zeroing it there in the same pass.  W_D's untouched rows are not read until a later step
 * selects them: each row keeps the step it is current to (wd_synced) and catches up, when read, with exactly
 * the operations the missed steps would have applied (the zero-gradient Adam update, then the
 * renormalisation), so the bytes are those of updating every row every step (lazy_decoder = 0 does that, for
 * the tests).  sdlab_trainer_state brings every row up to date. */

/* one row's update with gradient g times f (g NULL: a zero gradient).  Elementwise, so compiled for AVX-512 and
 * for the baseline and chosen at load time: the same bytes either way (no contraction, no reassociation). */
__attribute__((target_clones("avx512f", "default"))) static void
row_update(const sdlab_train_config *c, float *w, float *m, float *v, const float *g, float f, size_t n,
           adam_coef k)
{
  if (c->opt == SDLAB_OPT_SGD) {
    for (size_t a = 0; g && a < n; a++) /* w - lr 0 = w exactly */
      w[a] -= k.lr * (f == 1.0f ? g[a] : g[a] * f);
    return;
  }
  sdlab_adam_update(w, m, v, g, f, n, (float)c->beta1, (float)c->beta2, (float)c->eps, k);
}

/* d[j] = <g[j], w[j]> for up to ROW_GROUP pairs of rows of length n, each summed in order in double, as one pair
 * alone would be (a float product is exact in double, so a sum's rounding is that of its additions only).  Each
 * full set of 8 rows sums in the lanes of one vector over 8 x 8 blocks transposed, instead of one latency-bound
 * chain after another; two such sets run side by side, their chains independent (ROW_GROUP = 16). */
enum { LANES = 8, ROW_GROUP = 2 * LANES };

/* the 8 rows' block at a: their products, converted to double, added to acc in the order of a (h non-NULL: g's
 * rows are all h, broadcast instead of transposed) */
__attribute__((always_inline)) static inline void
block_dots(const float *const *g, const float *h, const float *const *w, size_t a, sdlab_v8d *acc)
{
  sdlab_v8f ow[LANES];
  transpose8(w, a, ow);
  if (h) {
    for (int u = 0; u < LANES; u++)
      *acc += (double)h[a + u] * __builtin_convertvector(ow[u], sdlab_v8d);
    return;
  }
  if (g == w) { /* squared norms: one transpose */
    for (int u = 0; u < LANES; u++) {
      const sdlab_v8d x = __builtin_convertvector(ow[u], sdlab_v8d);
      *acc += x * x;
    }
    return;
  }
  sdlab_v8f og[LANES];
  transpose8(g, a, og);
  for (int u = 0; u < LANES; u++)
    *acc += __builtin_convertvector(og[u], sdlab_v8d) * __builtin_convertvector(ow[u], sdlab_v8d);
}

/* d[j] = <g[j], w[j]>, or <h, w[j]> for every j when h is non-NULL (g is then not read) */
__attribute__((target_clones("avx512f", "default"))) static void
rows_dots(const float *const *g, const float *h, const float *const *w, size_t m, size_t n, double *d)
{
  const size_t sets = m / LANES, nv = n / LANES * LANES; /* rows in full sets of 8; their columns in blocks */
  for (size_t j = 0; j < m; j++)
    d[j] = 0;
  if (sets == 2) {
    const float *const *g1 = h ? NULL : g == w ? w + LANES : g + LANES;
    sdlab_v8d acc0 = {0}, acc1 = {0};
    for (size_t a = 0; a < nv; a += LANES) {
      block_dots(g, h, w, a, &acc0);
      block_dots(g1, h, w + LANES, a, &acc1);
    }
    for (size_t j = 0; j < LANES; j++)
      d[j] = acc0[j], d[LANES + j] = acc1[j];
  } else if (sets == 1) {
    sdlab_v8d acc = {0};
    for (size_t a = 0; a < nv; a += LANES)
      block_dots(g, h, w, a, &acc);
    for (size_t j = 0; j < LANES; j++)
      d[j] = acc[j];
  }
  const size_t done = sets * LANES; /* those rows' last columns, and the other rows whole, one at a time */
  for (size_t j = 0; j < m; j++) {
    const float *gj = h ? h : g[j];
    for (size_t a = j < done ? nv : 0; a < n; a++)
      d[j] += (double)gj[a] * w[j][a];
  }
}

/* Unit-norm renormalisation of up to ROW_GROUP rows side by side (their squared norms by rows_dots) */
__attribute__((target_clones("avx512f", "default"))) static void
rows_renormalise(float *const *w, size_t m, size_t n)
{
  double nn[ROW_GROUP];
  rows_dots((const float *const *)w, NULL, (const float *const *)w, m, n, nn);
  for (size_t j = 0; j < m; j++)
    if (nn[j] > 0) {
      const float f = (float)(1.0 / sqrt(nn[j]));
      for (size_t a = 0; a < n; a++)
        w[j][a] *= f;
    }
}

/* W_D^T's rows rows[from..to) (rows NULL: the rows from..to) brought up to date: the zero-gradient updates of
 * the steps each missed, up to (not including) step `upto`.  ROW_GROUP rows at a time, each at its own step, so
 * that their renormalisations run side by side; each row sees the operations of its own catch-up alone. */
static void
decoder_rows_sync(sdlab_trainer *t, const size_t *rows, size_t from, size_t to, size_t upto)
{
  const sdlab_train_config *c = &t->c;
  const size_t r = c->r;
  size_t row[ROW_GROUP], at[ROW_GROUP], live = 0, next = from;
  for (;;) {
    while (live < ROW_GROUP && next < to) { /* fill the free slots with rows behind */
      const size_t i = rows ? rows[next] : next;
      next++;
      if (t->wd_synced[i] < upto) {
        row[live] = i;
        at[live] = t->wd_synced[i];
        live++;
      }
    }
    if (live == 0)
      return;
    float *w[ROW_GROUP];
    for (size_t j = 0; j < live; j++) {
      const size_t i = row[j];
      row_update(c, t->s.WDt + i * r, t->s.mWDt + i * r, t->s.vWDt + i * r, NULL, 1.0f, r, coef_at(t, at[j]));
      w[j] = t->s.WDt + i * r;
    }
    if (c->unit_decoder)
      rows_renormalise(w, live, r);
    size_t kept = 0;
    for (size_t j = 0; j < live; j++)
      if (++at[j] < upto) {
        row[kept] = row[j];
        at[kept++] = at[j];
      } else {
        t->wd_synced[row[j]] = upto;
      }
    live = kept;
  }
}

/* one row of W_D^T brought up to date */
static void
decoder_row_sync(sdlab_trainer *t, size_t i, size_t upto)
{
  decoder_rows_sync(t, &i, 0, 1, upto);
}

/* the same over the threads, in chunks of rows */
static void
decoder_rows_sync_par(sdlab_trainer *t, const size_t *rows, size_t from, size_t to, size_t upto)
{
  enum { CHUNK = 16 * ROW_GROUP };
#pragma omp parallel for schedule(dynamic, 1) num_threads(t->threads)
  for (size_t g = from; g < to; g += CHUNK)
    decoder_rows_sync(t, rows, g, to - g < CHUNK ? to : g + CHUNK, upto);
}

static void
decoder_sync_all(sdlab_trainer *t)
{
  decoder_rows_sync_par(t, NULL, 0, t->c.q, t->s.step);
}

/* every row taken as current at the present step (the caller had the state and may have replaced it) */
static void
state_is_current(sdlab_trainer *t)
{
  for (size_t i = 0; i < t->c.q; i++)
    t->wd_synced[i] = t->s.step;
}

/* a new gradient: no row touched yet */
static void
touch_reset(sdlab_trainer *t)
{
  t->cur++;
  t->ntouched = 0;
  t->all_touched = 0;
}

static inline void
touch(sdlab_trainer *t, size_t i)
{
  if (t->stamp[i] != t->cur) {
    t->stamp[i] = t->cur;
    t->touched[t->ntouched++] = i;
  }
}

/* the rows touched so far from `from` on: brought up to date before the step reads them */
static void
touch_sync(sdlab_trainer *t, size_t from)
{
  decoder_rows_sync_par(t, t->touched, from, t->ntouched, t->s.step);
}

/* the rows of the entries and the anchored latents */
static void
touch_entries(sdlab_trainer *t, size_t B)
{
  const size_t from = t->ntouched;
  for (size_t k = 0; k < t->rowptr[B]; k++)
    touch(t, t->col[k]);
  for (size_t j = 0; j < t->c.anchors; j++)
    touch(t, j);
  touch_sync(t, from);
}

/* ---- selection ---- */

SDLAB_SELECT_TOP_DEFINE(before, select_top, float, uint32_t)

/* BatchTopK: ReLU, then the k B best codes of the whole batch (value descending, then position ascending, as
 * select_top ranks them).  Positive floats order as their bit patterns, so a histogram of the top 16 bits, built
 * by the threads over their rows and summed, finds the bin holding the (k B)-th best; that bin's entries are
 * ranked exactly, which gives the threshold value v and the last position kept among the codes equal to v.  A
 * code is kept when it exceeds v, or equals it at or before that position: the same set as ranking all B q
 * codes, collected in parallel, sample-major and latent-ascending. */
static inline uint32_t
float_bits(float v)
{
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static void
batch_threshold(sdlab_trainer *t, size_t total, size_t kk, float *v, size_t *cut)
{
  const int T = t->threads;
  uint32_t *hist = t->hist;
  memset(hist, 0, (size_t)T * SDLAB_BATCH_BINS * sizeof *hist);
#pragma omp parallel for schedule(static) num_threads(T)
  for (int th = 0; th < T; th++) {
    uint32_t *h = hist + (size_t)th * SDLAB_BATCH_BINS;
    for (size_t j = total * (size_t)th / (size_t)T; j < total * (size_t)(th + 1) / (size_t)T; j++) {
      /* z > 0 read from the bits (0 < bits <= those of +inf), without a branch: about half the codes are
       * positive, in no order, and a branch on it mispredicts half the time */
      const uint32_t u = float_bits(t->Z[j]), pos = (uint32_t)((int32_t)u > 0) & (uint32_t)(u <= 0x7f800000u);
      h[(u >> 16) & (0u - pos)] += pos;
    }
  }
  size_t above = 0, bin = SDLAB_BATCH_BINS, inbin = 0;
  while (bin > 0) { /* from the largest values down to the bin where the count reaches kk */
    bin--;
    inbin = 0;
    for (int th = 0; th < T; th++)
      inbin += hist[(size_t)th * SDLAB_BATCH_BINS + bin];
    if (above + inbin >= kk)
      break;
    above += inbin;
  }
  if (above + inbin < kk) { /* fewer than kk positive codes: all of them */
    *v = 0;
    *cut = SIZE_MAX;
    return;
  }
  uint32_t *cand = t->idx; /* the bin's positions, in increasing order: each thread fills its share */
  size_t n = 0;
#pragma omp parallel for schedule(static) num_threads(T) reduction(+ : n)
  for (int th = 0; th < T; th++) {
    size_t at = 0;
    for (int u = 0; u < th; u++)
      at += hist[(size_t)u * SDLAB_BATCH_BINS + bin];
    for (size_t j = total * (size_t)th / (size_t)T; j < total * (size_t)(th + 1) / (size_t)T; j++)
      if ((t->Z[j] > 0) & (float_bits(t->Z[j]) >> 16 == bin)) /* one rarely taken branch, not two */
        cand[at++] = (uint32_t)j;
    n += hist[(size_t)th * SDLAB_BATCH_BINS + bin];
  }
  const size_t want = kk - above; /* 1 <= want <= n */
  select_top(t->Z, cand, n, want);
  size_t worst = cand[0]; /* the lowest-ranked kept code: the smallest value, then the latest position */
  for (size_t j = 1; j < want; j++)
    if (t->Z[cand[j]] < t->Z[worst] || (t->Z[cand[j]] == t->Z[worst] && cand[j] > worst))
      worst = cand[j];
  *v = t->Z[worst];
  *cut = worst;
}

static void
batch_select(sdlab_trainer *t, size_t B)
{
  const size_t q = t->c.q, total = B * q, kk = t->c.k * B;
  float v;
  size_t cut;
  batch_threshold(t, total, kk, &v, &cut);
#define KEPT(j) (t->Z[j] > v || (t->Z[j] == v && t->Z[j] > 0 && (j) <= cut))
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t s = 0; s < B; s++) {
    size_t n = 0;
    for (size_t i = 0; i < q; i++)
      n += KEPT(s * q + i);
    t->rowptr[s + 1] = n;
  }
  t->rowptr[0] = 0;
  for (size_t s = 0; s < B; s++)
    t->rowptr[s + 1] += t->rowptr[s];
  float minkept = INFINITY;
#pragma omp parallel for schedule(static) num_threads(t->threads) reduction(min : minkept)
  for (size_t s = 0; s < B; s++) {
    size_t e = t->rowptr[s];
    for (size_t i = 0; i < q; i++)
      if (KEPT(s * q + i)) {
        t->col[e] = i;
        t->val[e] = t->Z[s * q + i];
        t->order[e] = 0;
        minkept = fminf(minkept, t->val[e]);
        e++;
      }
  }
#undef KEPT
  /* the inference threshold: an exponential moving average (rate SDLAB_TRAIN_THRESHOLD_RATE) of each batch's
   * smallest kept value, so that it follows the codes' scale as training moves them */
  if (isfinite(minkept))
    t->s.threshold = t->s.step == 0 ? (double)minkept
                     : t->s.threshold + SDLAB_TRAIN_THRESHOLD_RATE * ((double)minkept - t->s.threshold);
}

/* The k highest-ranked positions of v[0..len) into idx[0..k) by a bounded min-heap (the heap's root is the
 * worst kept entry: smallest value, then highest index), scanning positions in increasing order so that a
 * later equal value never displaces an earlier one.  The same set as select_top; much cheaper for k << len.
 * The heap keeps each entry's value beside its position (hv[0..k), scratch), so that a sift compares values it
 * holds instead of loading v[h[.]] after h[.]; the order "worse" is strict and total (positions differ), so the
 * sift moves the same entries as one that reads v: the same heap, position by position. */
static inline int
worse(float va, uint32_t a, float vb, uint32_t b)
{
  return (va < vb) | ((va == vb) & (a > b)); /* no branch: heap_sift picks a child by it */
}

/* Entry top of the heap (h, hv) set to (xv, x) and sifted down within top's subtree, in Floyd's order: the hole at
 * top sinks along the worse children to a leaf (one branch-free comparison of two children a level), then x rises
 * from there to its place, not above top.  "worse" being a strict total order, x ends where the textbook sift-down
 * (each level moving up the worse child while it is worse than x) puts it and every entry on the path moves as
 * that one moves it: the same heap, position by position, without that loop's unpredictable exit. */
static inline void
heap_sift(float *hv, uint32_t *h, size_t k, size_t top, float xv, uint32_t x)
{
  size_t i = top;
  for (;;) {
    size_t m = 2 * i + 1;
    if (m >= k)
      break;
    if (m + 1 < k)
      m += (size_t)worse(hv[m + 1], h[m + 1], hv[m], h[m]);
    hv[i] = hv[m];
    h[i] = h[m];
    i = m;
  }
  while (i > top) {
    const size_t up = (i - 1) / 2;
    if (!worse(xv, x, hv[up], h[up]))
      break;
    hv[i] = hv[up];
    h[i] = h[up];
    i = up;
  }
  hv[i] = xv;
  h[i] = x;
}

/* Once the heap is full, few positions displace its root (about k ln(len / k) of len): the scan tests
 * SCAN_BLOCK positions at a time against the root's value (one vector compare, no branch inside a block) and
 * visits, in order, only the positions of a block that passed, each tested again against the root as it is
 * then (a root only rises, so a position that failed an earlier root fails it too): the heap sees the same
 * sequence of replacements as the one-position loop. */
enum { SCAN_BLOCK = 16 };
typedef float sdlab_v16f __attribute__((vector_size(SCAN_BLOCK * sizeof(float))));
typedef int32_t sdlab_v16i __attribute__((vector_size(SCAN_BLOCK * sizeof(int32_t))));

__attribute__((target_clones("avx512f", "default"))) static void
select_top_heap(const float *v, uint32_t *idx, float *hv, size_t len, size_t k)
{
  for (size_t i = 0; i < k; i++) {
    idx[i] = (uint32_t)i;
    hv[i] = v[i];
  }
  for (size_t i = k / 2; i-- > 0;)
    heap_sift(hv, idx, k, i, hv[i], idx[i]);
  float root = hv[0]; /* v and hv may alias for all the compiler knows: the root kept here, not reloaded */
  size_t i = k;
  for (; i + SCAN_BLOCK <= len; i += SCAN_BLOCK) {
    sdlab_v16f x;
    memcpy(&x, v + i, sizeof x);
    const sdlab_v16i pass = x > root;
    uint64_t any[SCAN_BLOCK / 2];
    memcpy(any, &pass, sizeof any);
    if (!(any[0] | any[1] | any[2] | any[3] | any[4] | any[5] | any[6] | any[7]))
      continue;
    uint32_t mask = 0;
    for (int l = 0; l < SCAN_BLOCK; l++)
      mask |= ((uint32_t)pass[l] >> 31) << l;
    while (mask) {
      const int l = __builtin_ctz(mask);
      mask &= mask - 1;
      if (x[l] > root) { /* strictly better than the worst kept (an equal value has a higher index) */
        heap_sift(hv, idx, k, 0, x[l], (uint32_t)(i + (size_t)l));
        root = hv[0];
      }
    }
  }
  for (; i < len; i++)
    if (v[i] > root) {
      heap_sift(hv, idx, k, 0, v[i], (uint32_t)i);
      root = hv[0];
    }
}

/* insertion sort of idx[0..k) by rank (k is small) */
static void
sort_top(const float *v, uint32_t *idx, size_t k)
{
  for (size_t i = 1; i < k; i++)
    for (size_t j = i; j > 0 && before(v, idx[j], idx[j - 1]); j--) {
      uint32_t x = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = x;
    }
}

/* Fill the CSR of selected entries (val > 0) and their level keys. */
static void
select_entries(sdlab_trainer *t, size_t B)
{
  const sdlab_train_config *c = &t->c;
  const size_t q = c->q;
  size_t nnz = 0;
  if (c->method == SDLAB_TRAIN_BATCHTOPK) {
    batch_select(t, B);
    return;
  }
  const size_t kmax = t->kcap;
  const int by_rank = c->method == SDLAB_TRAIN_MATRYOSHKA && !c->nprefixes;
  /* rows are independent: each fills its own slots [s kmax, s kmax + count), compacted afterwards */
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t s = 0; s < B; s++) {
    const float *z = t->Z + s * q;
    uint32_t *idx = t->idx + s * q;
    select_top_heap(z, idx, t->topv + (size_t)omp_get_thread_num() * t->topv_stride, q, kmax);
    if (by_rank)
      sort_top(z, idx, kmax);
    size_t cnt = 0;
    for (size_t j = 0; j < kmax; j++)
      if (z[idx[j]] > 0) {
        const size_t e = s * kmax + cnt++;
        t->col[e] = idx[j];
        t->val[e] = z[idx[j]];
        t->order[e] = by_rank ? (uint32_t)j : idx[j];
      }
    t->rowptr[s + 1] = cnt;
  }
  t->rowptr[0] = 0;
  for (size_t s = 0; s < B; s++) {
    const size_t cnt = t->rowptr[s + 1], from = s * kmax;
    t->rowptr[s + 1] = t->rowptr[s] + cnt;
    if (from != t->rowptr[s])
      for (size_t e = 0; e < cnt; e++) {
        t->col[t->rowptr[s] + e] = t->col[from + e];
        t->val[t->rowptr[s] + e] = t->val[from + e];
        t->order[t->rowptr[s] + e] = t->order[from + e];
      }
  }
  (void)nnz;
}


/* ---- the step ---- */

/* A dot product with eight fixed partial sums: a deterministic order the compiler can map onto SIMD lanes. */
static inline float
dotf(const float *a, const float *b, size_t n)
{
  float acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t l = 0; l < 8; l++)
      acc[l] += a[i + l] * b[i + l];
  float t = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; i++)
    t += a[i] * b[i];
  return t;
}

/* dotf(e, w[j], n) for four rows w[j] at once (each summed as dotf sums it) */
static inline void
dotf4(const float *e, const float *const *w, size_t n, float *out)
{
  float acc[4][8] = {{0}};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 4; j++)
      for (size_t l = 0; l < 8; l++)
        acc[j][l] += e[i + l] * w[j][i + l];
  for (size_t j = 0; j < 4; j++) {
    float t = ((acc[j][0] + acc[j][1]) + (acc[j][2] + acc[j][3])) + ((acc[j][4] + acc[j][5]) + (acc[j][6] + acc[j][7]));
    for (size_t a = i; a < n; a++)
      t += e[a] * w[j][a];
    out[j] = t;
  }
}

/* Xc = x_p (- b_D for an SAE), Z = Xc W_E^T + b_E, for B rows (the product in bfloat16 when c->bf16) */
static int
encode_pre(sdlab_trainer *t, const float *xp, size_t B)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q;
  memcpy(t->Xc, xp, B * p * sizeof(float));
  if (c->sae && c->biases)
    for (size_t s = 0; s < B; s++)
      for (size_t a = 0; a < p; a++)
        t->Xc[s * p + a] -= t->s.bD[a];
  if (c->bf16) { /* the batch rounded here; W_E as the last update left it, else rounded here, each thread a block */
    sdlab_blas_bf16_round(B * p, t->Xc, t->Xb);
    if (!t->wb_current) {
#pragma omp parallel for schedule(static) num_threads(t->threads)
      for (int blk = 0; blk < t->threads; blk++) {
        const size_t i0 = q * (size_t)blk / (size_t)t->threads, i1 = q * (size_t)(blk + 1) / (size_t)t->threads;
        sdlab_blas_bf16_round((i1 - i0) * p, t->s.WE + i0 * p, t->Wb + i0 * p);
      }
      t->wb_current = 1;
    }
    int status = sdlab_blas_par_bf16_gemm_nt(t->threads, B, q, p, t->Xb, p, t->Wb, p, t->Z, q);
    if (status)
      return status;
  } else { /* one runtime for all threads: OpenBLAS runs single-threaded inside OpenMP's row blocks */
    sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasTrans, B, q, p, 1.0f, t->Xc, p, t->s.WE, p, 0.0f, t->Z, q);
  }
  if (encoder_bias(c))
    for (size_t s = 0; s < B; s++)
      for (size_t i = 0; i < q; i++)
        t->Z[s * q + i] += t->s.bE[i];
  return SDLAB_SUCCESS;
}

/* the level thresholds and weights: entry t counts at level l when order_t < T_l */
static size_t
level_table(const sdlab_train_config *c, uint32_t *T, double *lam)
{
  if (c->method == SDLAB_TRAIN_MATRYOSHKA && c->nprefixes) {
    for (size_t l = 0; l < c->nprefixes; l++) {
      T[l] = (uint32_t)c->prefixes[l];
      lam[l] = 1.0;
    }
    return c->nprefixes;
  }
  if (c->method == SDLAB_TRAIN_MATRYOSHKA) {
    for (size_t l = 0; l < c->nks; l++) {
      T[l] = (uint32_t)c->ks[l];
      lam[l] = c->lambdas[l];
    }
    return c->nks;
  }
  T[0] = UINT32_MAX;
  lam[0] = 1.0;
  return 1;
}

/* sparse forward: the residuals per level E^l (levels x B x r, into Eout) of the entries' codes val, returns
 * sum_l lam_l mean ||E^l||^2 */
__attribute__((target_clones("avx512f", "default"))) static double
sparse_forward(sdlab_trainer *t, const float *xr, size_t B, const float *val, float *Eout, const uint32_t *T,
               const double *lam, size_t L)
{
  const size_t r = t->c.r;
  const float *bD = t->s.bD;
  double mse = 0;
#pragma omp parallel for schedule(static) num_threads(t->threads) reduction(+ : mse)
  for (size_t s = 0; s < B; s++) {
    for (size_t l = 0; l < L; l++) {
      float *e = Eout + (l * B + s) * r;
      for (size_t a = 0; a < r; a++)
        e[a] = (t->c.biases ? bD[a] : 0.0f) - xr[s * r + a];
      for (size_t k = t->rowptr[s]; k < t->rowptr[s + 1]; k++) {
        if (t->order[k] >= T[l])
          continue;
        const float v = val[k], *w = t->s.WDt + t->col[k] * r;
        for (size_t a = 0; a < r; a++)
          e[a] += v * w[a];
      }
      mse += lam[l] * (double)dotf(e, e, r) / (double)B;
    }
  }
  return mse;
}

/* the latent-major index of the entries (a stable counting sort keeps sample order within a latent) */
static void
build_csc(sdlab_trainer *t, size_t nnz)
{
  const size_t q = t->c.q;
  memset(t->cscptr, 0, (q + 1) * sizeof *t->cscptr);
  for (size_t k = 0; k < nnz; k++)
    t->cscptr[t->col[k] + 1]++;
  for (size_t i = 0; i < q; i++)
    t->cscptr[i + 1] += t->cscptr[i];
  size_t *fill = t->aux_i; /* q scratch */
  memcpy(fill, t->cscptr, q * sizeof *fill);
  for (size_t k = 0; k < nnz; k++)
    t->cscent[fill[t->col[k]]++] = k;
}

/* sample[k]: the sample of entry k */
static void
entry_samples(sdlab_trainer *t, size_t B)
{
  for (size_t s = 0; s < B; s++)
    for (size_t k = t->rowptr[s]; k < t->rowptr[s + 1]; k++)
      t->sample[k] = (uint32_t)s;
}

/* d loss / d a_k = (2/B) sum_l lam_l [order_k < T_l] <E^l_s, w_D^{col_k}> for every entry, E^l from Ein
 * (levels x B x r), into out */
__attribute__((target_clones("avx512f", "default"))) static void
entry_gradients(sdlab_trainer *t, size_t B, const float *Ein, float *out, const uint32_t *T, const double *lam,
                size_t L)
{
  const size_t r = t->c.r;
  const float scale = 2.0f / (float)B;
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t s = 0; s < B; s++)
    for (size_t k0 = t->rowptr[s]; k0 < t->rowptr[s + 1]; k0 += 4) { /* four entries' products side by side */
      const size_t m = t->rowptr[s + 1] - k0 < 4 ? t->rowptr[s + 1] - k0 : 4;
      const float *w[4];
      double g[4] = {0};
      for (size_t j = 0; j < 4; j++)
        w[j] = t->s.WDt + t->col[k0 + (j < m ? j : 0)] * r;
      for (size_t l = 0; l < L; l++) {
        float d[4];
        dotf4(Ein + (l * B + s) * r, w, r, d);
        for (size_t j = 0; j < m; j++)
          if (t->order[k0 + j] < T[l])
            g[j] += lam[l] * d[j];
      }
      for (size_t j = 0; j < m; j++)
        out[k0 + j] = scale * (float)g[j];
    }
}

/* The parameters' gradients from the entries' codes val and the code gradients gval (d loss / d z_k, penalties
 * included), the residuals in Elev; b_E's too unless `gate` (Gated adds its gate's gradient itself). */
__attribute__((target_clones("avx512f", "default"))) static void
sparse_backward(sdlab_trainer *t, size_t B, const float *val, const uint32_t *T, const double *lam, size_t L,
                int gate)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r, nnz = t->rowptr[B];
  const float scale = 2.0f / (float)B;
  build_csc(t, nnz);
  entry_samples(t, B);
  /* W_E's rows are summed by the update, as it reads them, unless clipping needs the gradient's norm first or
   * AuxK adds its own terms after these */
  t->gE_deferred = !(c->clip > 0) && c->method != SDLAB_TRAIN_TOPK_AUXK;
  /* latent-owned accumulation: each latent's rows are written by one thread, in sample order */
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t i = 0; i < q; i++) {
    float *gD = t->gWDt + i * r, *gE = t->gWE + i * p;
    for (size_t e = t->cscptr[i]; e < t->cscptr[i + 1]; e++) {
      const size_t k = t->cscent[e], s = t->sample[k];
      const float v = val[k], gz = t->gval[k], *x = t->Xc + s * p;
      for (size_t l = 0; l < L; l++) {
        if (t->order[k] >= T[l])
          continue;
        const float f = scale * v * (float)lam[l], *er = t->Elev + (l * B + s) * r;
        for (size_t a = 0; a < r; a++)
          gD[a] += f * er[a];
      }
      if (!t->gE_deferred) /* else the update sums it (encoder_row_gradient) */
        for (size_t a = 0; a < p; a++)
          gE[a] += gz * x[a];
      if (!gate)
        t->gbE[i] += gz;
    }
  }
  if (c->biases) {
    for (size_t l = 0; l < L; l++)
      for (size_t s = 0; s < B; s++)
        for (size_t a = 0; a < r; a++)
          t->gbD[a] += scale * (float)lam[l] * t->Elev[(l * B + s) * r + a];
    if (c->sae) /* z = W_E (x - b_D) + b_E: d z / d b_D = -W_E */
      for (size_t k = 0; k < nnz; k++) {
        const float *w = t->s.WE + t->col[k] * p;
        for (size_t a = 0; a < p; a++)
          t->gbD[a] -= t->gval[k] * w[a];
      }
  }
}

/* AuxK: the dead latents' top k_aux codes reconstruct the residual x_r - x_hat (held constant).  Samples are
 * independent: each thread ranks its samples' dead codes in its own scratch, forms the reconstruction and keeps
 * the entries with their code gradients; the parameters' gradients are then added latent by latent in sample
 * order, the order of a serial loop over the samples.  (Compiled for AVX-512 beside the baseline: its row
 * loops are elementwise, its sums sequential, so both give the same bytes.) */
__attribute__((target_clones("avx512f", "default"))) static double
auxk(sdlab_trainer *t, size_t B)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r;
  size_t nd = 0;
  for (size_t i = 0; i < q; i++)
    if (t->s.step + 1 >= t->s.last_active[i] + c->dead_window)
      t->aux_i[nd++] = i;
  if (nd == 0 || c->lambda_aux == 0)
    return 0;
  const size_t from = t->ntouched; /* the dead rows are read (and may get a gradient): bring them up to date */
  for (size_t j = 0; j < nd; j++)
    touch(t, t->aux_i[j]);
  touch_sync(t, from);
  const size_t ka = c->k_aux < nd ? c->k_aux : nd;
  const double weight = c->lambda_aux * fmin((double)nd / (double)c->k_aux, 1.0);
  const float scale = (float)(2.0 * weight / (double)B);
  const size_t *dead = t->aux_i;
#pragma omp parallel num_threads(t->threads)
  {
    float *zd = t->aux_z + (size_t)omp_get_thread_num() * q;
    uint32_t *order = t->aux_ord + (size_t)omp_get_thread_num() * q;
#pragma omp for schedule(static)
    for (size_t s = 0; s < B; s++) {
      const float *z = t->Z + s * q, *e = t->Elev + s * r; /* level 0: x_hat - x_r */
      for (size_t j = 0; j < nd; j++) {
        zd[j] = z[dead[j]];
        order[j] = (uint32_t)j;
      }
      select_top(zd, order, nd, ka);
      float *h = t->Ehat + s * r;
      for (size_t a = 0; a < r; a++)
        h[a] = e[a]; /* e_hat - (x_r - x_hat) = e_hat + E */
      size_t n = 0;
      for (size_t j = 0; j < ka; j++)
        if (zd[order[j]] > 0) {
          const float v = zd[order[j]], *w = t->s.WDt + dead[order[j]] * r;
          for (size_t a = 0; a < r; a++)
            h[a] += v * w[a];
          t->aux_lat[s * ka + n] = (uint32_t)dead[order[j]];
          t->aux_val[s * ka + n++] = v;
        }
      t->aux_cnt[s] = n;
      double sq = 0;
      for (size_t a = 0; a < r; a++)
        sq += (double)h[a] * h[a];
      t->aux_sq[s] = sq;
      for (size_t k0 = s * ka; k0 < s * ka + n; k0 += ROW_GROUP) { /* <h, w_D^i>, ROW_GROUP entries at once */
        const size_t m = s * ka + n - k0 < ROW_GROUP ? s * ka + n - k0 : ROW_GROUP;
        const float *ws[ROW_GROUP];
        double d[ROW_GROUP];
        for (size_t j = 0; j < m; j++)
          ws[j] = t->s.WDt + t->aux_lat[k0 + j] * r;
        rows_dots(NULL, h, ws, m, r, d);
        for (size_t j = 0; j < m; j++)
          t->aux_gz[k0 + j] = scale * (float)d[j];
      }
    }
  }
  double total = 0;
  for (size_t s = 0; s < B; s++)
    total += weight * t->aux_sq[s] / (double)B;
  /* each dead latent's entries in sample order (a counting sort), then its rows' gradients */
  size_t *ptr = t->aux_ptr, *ent = t->aux_ent;
  memset(ptr, 0, (q + 1) * sizeof *ptr);
  for (size_t s = 0; s < B; s++)
    for (size_t k = s * ka; k < s * ka + t->aux_cnt[s]; k++)
      ptr[t->aux_lat[k] + 1]++;
  for (size_t i = 0; i < q; i++)
    ptr[i + 1] += ptr[i];
  for (size_t s = 0; s < B; s++)
    for (size_t k = s * ka; k < s * ka + t->aux_cnt[s]; k++)
      ent[t->aux_fill[t->aux_lat[k]]++ + ptr[t->aux_lat[k]]] = k;
  memset(t->aux_fill, 0, q * sizeof *t->aux_fill);
#pragma omp parallel for schedule(dynamic, 16) num_threads(t->threads)
  for (size_t j = 0; j < nd; j++) {
    const size_t i = dead[j];
    float *gD = t->gWDt + i * r, *gE = t->gWE + i * p;
    for (size_t m = ptr[i]; m < ptr[i + 1]; m++) {
      const size_t k = ent[m], s = k / ka;
      const float v = t->aux_val[k], gz = t->aux_gz[k], *h = t->Ehat + s * r, *x = t->Xc + s * p;
      for (size_t a = 0; a < r; a++)
        gD[a] += scale * v * h[a];
      for (size_t a = 0; a < p; a++)
        gE[a] += gz * x[a];
      t->gbE[i] += gz;
    }
  }
  return total;
}

/* ReLU and JumpReLU: dense products throughout */
static void
dense_step(sdlab_trainer *t, const float *xr, size_t B, double *mse, double *pen, size_t *active)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r;
  const int jump = c->method == SDLAB_TRAIN_JUMPRELU;
  size_t act = 0;
  double penalty = 0;
  for (size_t k = 0; k < B * q; k++) {
    const float z = t->Z[k], th = jump ? t->s.theta[k % q] : 0.0f;
    const int on = z > th;
    t->A[k] = on ? z : 0.0f;
    act += on;
    penalty += jump ? on : (on ? z : 0.0f);
  }
  *active = act;
  *pen = (jump ? c->l0 : c->l1) * penalty / (double)B;
  /* E = A W_D^T + b_D - x_r */
  for (size_t s = 0; s < B; s++)
    for (size_t a = 0; a < r; a++)
      t->E[s * r + a] = (c->biases ? t->s.bD[a] : 0.0f) - xr[s * r + a];
  sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasNoTrans, B, r, q, 1.0f, t->A, q, t->s.WDt, r, 1.0f, t->E, r);
  double m = 0;
  for (size_t k = 0; k < B * r; k++)
    m += (double)t->E[k] * t->E[k];
  *mse = m / (double)B;
  const float scale = 2.0f / (float)B;
  /* GA = (2/B) E W_D (B x q); gW_D^T = (2/B) A^T E */
  sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasTrans, B, q, r, scale, t->E, r, t->s.WDt, r, 0.0f, t->GA, q);
  sdlab_blas_par_sgemm(t->threads, CblasTrans, CblasNoTrans, q, r, B, scale, t->A, q, t->E, r, 1.0f, t->gWDt, r);
  const float h = (float)c->bandwidth, l0 = (float)(c->l0 / (double)B), l1 = (float)(c->l1 / (double)B);
  for (size_t s = 0; s < B; s++)
    for (size_t i = 0; i < q; i++) {
      const size_t k = s * q + i;
      const float z = t->Z[k];
      if (jump) {
        const float th = t->s.theta[i];
        if (fabsf(z - th) < 0.5f * h) /* rectangle-kernel straight-through estimates for theta */
          t->gth[i] += t->GA[k] * (-th / h) + l0 * (-1.0f / h);
        t->GA[k] = z > th ? t->GA[k] : 0.0f;
      } else {
        t->GA[k] = z > 0 ? t->GA[k] + l1 : 0.0f;
      }
    }
  /* gW_E = GZ^T Xc, gb_E = sum GZ, gb_D */
  sdlab_blas_par_sgemm(t->threads, CblasTrans, CblasNoTrans, q, p, B, 1.0f, t->GA, q, t->Xc, p, 1.0f, t->gWE, p);
  if (c->biases) {
    for (size_t s = 0; s < B; s++)
      for (size_t i = 0; i < q; i++)
        t->gbE[i] += t->GA[s * q + i];
    for (size_t s = 0; s < B; s++)
      for (size_t a = 0; a < r; a++)
        t->gbD[a] += scale * t->E[s * r + a];
    if (c->sae)
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)q, (int)p, -1.0f, t->s.WE, (int)p, t->gbE, 1, 1.0f, t->gbD, 1);
  }
}

/* ReLU and JumpReLU codes are sparse once training has found its sparsity: below the crossover
 * c->sparse_below (a fraction of the batch's B q codes, measured by `make bench`) they take the entry path the
 * Top-k methods use, O(nnz (2 r + p)) instead of four dense B x q products.  The two paths compute the same
 * loss and gradients up to float rounding. */

/* a latent fires where its pre-activation exceeds its threshold: 0 (ReLU) or theta_i (JumpReLU) */
static inline float
code_threshold(const sdlab_trainer *t, size_t i)
{
  return t->c.method == SDLAB_TRAIN_JUMPRELU ? t->s.theta[i] : 0.0f;
}

/* the active codes of the batch; each sample's count into rowptr[s + 1], for threshold_entries */
static size_t
count_active(sdlab_trainer *t, size_t B)
{
  const size_t q = t->c.q;
  size_t total = 0;
#pragma omp parallel for schedule(static) num_threads(t->threads) reduction(+ : total)
  for (size_t s = 0; s < B; s++) {
    size_t n = 0;
    for (size_t i = 0; i < q; i++)
      n += t->Z[s * q + i] > code_threshold(t, i);
    t->rowptr[s + 1] = n;
    total += n;
  }
  return total;
}

/* the active codes as entries, sample-major and latent-ascending within a sample (the dense path's order),
 * from the per-sample counts count_active left in rowptr */
static void
threshold_entries(sdlab_trainer *t, size_t B)
{
  const size_t q = t->c.q;
  t->rowptr[0] = 0;
  for (size_t s = 0; s < B; s++)
    t->rowptr[s + 1] += t->rowptr[s];
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t s = 0; s < B; s++) {
    size_t e = t->rowptr[s];
    for (size_t i = 0; i < q; i++) {
      const float z = t->Z[s * q + i];
      if (z > code_threshold(t, i)) {
        t->col[e] = i;
        t->val[e] = z;
        t->order[e] = 0;
        e++;
      }
    }
  }
}

/* JumpReLU's threshold gradient (straight-through, rectangle kernel of width h): every code within h/2 of its
 * threshold, active or not, contributes (d loss / d a) (-theta / h) - (l0 / B) / h; an inactive one's
 * d loss / d a is (2/B) <E_s, w_D^i>, computed here.  Each thread owns a block of latents and adds their terms
 * in sample order, as the dense path does (a row it brings up to date is its own). */
static void
jump_theta_gradient(sdlab_trainer *t, size_t B)
{
  const sdlab_train_config *c = &t->c;
  const size_t q = c->q, r = c->r;
  const float h = (float)c->bandwidth, l0 = (float)(c->l0 / (double)B), scale = 2.0f / (float)B;
#pragma omp parallel num_threads(t->threads)
  {
    const size_t nt = (size_t)omp_get_num_threads(), th_ = (size_t)omp_get_thread_num();
    const size_t i0 = q * th_ / nt, i1 = q * (th_ + 1) / nt;
    for (size_t s = 0; s < B; s++) {
      size_t e = t->rowptr[s];
      const size_t end = t->rowptr[s + 1];
      while (e < end && t->col[e] < i0)
        e++;
      for (size_t i = i0; i < i1; i++) {
        const float z = t->Z[s * q + i], th = t->s.theta[i];
        if (!(fabsf(z - th) < 0.5f * h))
          continue;
        while (e < end && t->col[e] < i)
          e++;
        const int on = e < end && t->col[e] == i;
        if (!on)
          decoder_row_sync(t, i, t->s.step);
        const float ga = on ? t->gval[e] : scale * dotf(t->Elev + s * r, t->s.WDt + i * r, r);
        t->gth[i] += ga * (-th / h) + l0 * (-1.0f / h);
      }
    }
  }
}

/* ReLU, JumpReLU and Gated on the entry path: one level, the active codes as entries (count_active's counts),
 * their decoder rows brought up to date; the number of entries. */
static size_t
threshold_begin(sdlab_trainer *t, size_t B, uint32_t *T, double *lam)
{
  level_table(&t->c, T, lam);
  threshold_entries(t, B);
  touch_entries(t, B);
  return t->rowptr[B];
}

/* ReLU and JumpReLU on the entry path: the penalty in the dense path's order, L1's gradient added to the
 * entries' code gradients, JumpReLU's threshold gradient, then the parameters' gradients */
static void
threshold_step(sdlab_trainer *t, const float *xr, size_t B, double *mse, double *pen)
{
  const sdlab_train_config *c = &t->c;
  const int jump = c->method == SDLAB_TRAIN_JUMPRELU;
  uint32_t T[1];
  double lam[1];
  const size_t nnz = threshold_begin(t, B, T, lam);
  double penalty = 0;
  for (size_t k = 0; k < nnz; k++)
    penalty += jump ? 1.0 : t->val[k];
  *pen = (jump ? c->l0 : c->l1) * penalty / (double)B;
  *mse = sparse_forward(t, xr, B, t->val, t->Elev, T, lam, 1);
  entry_gradients(t, B, t->Elev, t->gval, T, lam, 1);
  if (jump) {
    jump_theta_gradient(t, B);
  } else {
    const float l1 = (float)(c->l1 / (double)B);
    for (size_t k = 0; k < nnz; k++)
      t->gval[k] += l1;
  }
  sparse_backward(t, B, t->val, T, lam, 1, 0);
}

/* Gated (Rajamanoharan et al. 2024): dense products like ReLU, plus the gate's auxiliary reconstruction */
static void
gated_step(sdlab_trainer *t, const float *xr, size_t B, double *mse, double *pen, double *aux, size_t *active)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r;
  const float *bE = t->s.bE, *rm = t->s.rmag, *bm = t->s.bmag;
  size_t act = 0;
  double penalty = 0;
  for (size_t s = 0; s < B; s++)
    for (size_t i = 0; i < q; i++) {
      const size_t k = s * q + i;
      const float z = t->Z[k], pm = expf(rm[i]) * (z - bE[i]) + bm[i];
      t->PM[k] = pm;
      t->A[k] = z > 0 && pm > 0 ? pm : 0.0f;
      t->GM[k] = z > 0 ? z : 0.0f; /* ReLU(pi_gate), the auxiliary codes */
      act += t->A[k] != 0;
      penalty += t->GM[k];
    }
  *active = act;
  *pen = c->l1 * penalty / (double)B;
  /* E = A W_D^T + b_D - x_r, and the auxiliary residual Ehat = ReLU(pi_gate) W_D^T + b_D - x_r */
  for (size_t s = 0; s < B; s++)
    for (size_t a = 0; a < r; a++)
      t->E[s * r + a] = t->Ehat[s * r + a] = (c->biases ? t->s.bD[a] : 0.0f) - xr[s * r + a];
  sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasNoTrans, B, r, q, 1.0f, t->A, q, t->s.WDt, r, 1.0f, t->E, r);
  sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasNoTrans, B, r, q, 1.0f, t->GM, q, t->s.WDt, r, 1.0f, t->Ehat, r);
  double m = 0, ma = 0;
  for (size_t k = 0; k < B * r; k++) {
    m += (double)t->E[k] * t->E[k];
    ma += (double)t->Ehat[k] * t->Ehat[k];
  }
  *mse = m / (double)B;
  *aux = ma / (double)B;
  const float scale = 2.0f / (float)B, l1 = (float)(c->l1 / (double)B);
  /* d/dA = (2/B) E W_D, d aux/d ReLU(pi_gate) = (2/B) Ehat W_D (W_D held constant there); gW_D^T = (2/B) A^T E */
  sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasTrans, B, q, r, scale, t->E, r, t->s.WDt, r, 0.0f, t->GA, q);
  sdlab_blas_par_sgemm(t->threads, CblasNoTrans, CblasTrans, B, q, r, scale, t->Ehat, r, t->s.WDt, r, 0.0f, t->GM, q);
  sdlab_blas_par_sgemm(t->threads, CblasTrans, CblasNoTrans, q, r, B, scale, t->A, q, t->E, r, 1.0f, t->gWDt, r);
  /* pi_mag = exp(r) (W_E x) + b_mag and pi_gate = W_E x + b_E share W_E x: its gradient is
   * g_gate + exp(r) g_mag, kept in GA; b_E takes g_gate only, r_mag g_mag (pi_mag - b_mag), b_mag g_mag */
  float *colsum = t->aux_z;
  memset(colsum, 0, q * sizeof *colsum);
  for (size_t s = 0; s < B; s++)
    for (size_t i = 0; i < q; i++) {
      const size_t k = s * q + i;
      const float z = t->Z[k], pm = t->PM[k];
      const float gmag = z > 0 && pm > 0 ? t->GA[k] : 0.0f, ggate = z > 0 ? t->GM[k] + l1 : 0.0f;
      t->grm[i] += gmag * (pm - bm[i]);
      t->gbm[i] += gmag;
      t->gbE[i] += ggate;
      t->GA[k] = ggate + expf(rm[i]) * gmag;
      colsum[i] += t->GA[k];
    }
  sdlab_blas_par_sgemm(t->threads, CblasTrans, CblasNoTrans, q, p, B, 1.0f, t->GA, q, t->Xc, p, 1.0f, t->gWE, p);
  if (c->biases) {
    for (size_t s = 0; s < B; s++)
      for (size_t a = 0; a < r; a++)
        t->gbD[a] += scale * t->E[s * r + a];
    if (c->sae) /* both pre-activations read x - b_D */
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)q, (int)p, -1.0f, t->s.WE, (int)p, colsum, 1, 1.0f, t->gbD, 1);
  }
}

/* Gated on the entry path: the entries are the open gates (pi_gate > 0), their codes the gate's ReLU (val, the
 * auxiliary reconstruction's) and the magnitude codes 1[pi_mag > 0] pi_mag (mval, the reconstruction's; zero
 * where the magnitude is closed, so those entries add nothing to x_hat or to W_D's gradient).  The same sums
 * as gated_step, in the dense path's order, up to float rounding. */
static void
gated_entry_step(sdlab_trainer *t, const float *xr, size_t B, double *mse, double *pen, double *aux, size_t *active)
{
  const sdlab_train_config *c = &t->c;
  const float *bE = t->s.bE, *rm = t->s.rmag, *bm = t->s.bmag;
  uint32_t T[1];
  double lam[1];
  const size_t nnz = threshold_begin(t, B, T, lam);
  size_t act = 0;
  double penalty = 0;
  for (size_t k = 0; k < nnz; k++) {
    const size_t i = t->col[k];
    const float z = t->val[k], pm = expf(rm[i]) * (z - bE[i]) + bm[i];
    t->mval[k] = pm > 0 ? pm : 0.0f;
    act += pm > 0;
    penalty += z;
  }
  *active = act;
  *pen = c->l1 * penalty / (double)B;
  *mse = sparse_forward(t, xr, B, t->mval, t->Elev, T, lam, 1);
  *aux = sparse_forward(t, xr, B, t->val, t->Ehat, T, lam, 1);
  entry_gradients(t, B, t->Elev, t->gmval, T, lam, 1);
  entry_gradients(t, B, t->Ehat, t->gval, T, lam, 1); /* W_D held constant: only the codes' gradients */
  /* W_E x's gradient g_gate + exp(r) g_mag into gval; b_E takes g_gate, r_mag g_mag (pi_mag - b_mag), b_mag g_mag */
  const float l1 = (float)(c->l1 / (double)B);
  for (size_t k = 0; k < nnz; k++) {
    const size_t i = t->col[k];
    const float gmag = t->mval[k] > 0 ? t->gmval[k] : 0.0f, ggate = t->gval[k] + l1;
    t->grm[i] += gmag * (t->mval[k] - bm[i]);
    t->gbm[i] += gmag;
    t->gbE[i] += ggate;
    t->gval[k] = ggate + expf(rm[i]) * gmag;
  }
  sparse_backward(t, B, t->mval, T, lam, 1, 1);
}

/* Unit-norm decoders: each gradient row g of W_D^T loses its component along its row w (g - <g, w> w), up to
 * ROW_GROUP rows side by side (the dot products by rows_dots). */
__attribute__((target_clones("avx512f", "default"))) static void
rows_project(float *const *g, const float *const *w, size_t m, size_t n)
{
  double d[ROW_GROUP];
  rows_dots((const float *const *)g, NULL, w, m, n, d);
  for (size_t j = 0; j < m; j++)
    for (size_t a = 0; a < n; a++)
      g[j][a] -= (float)d[j] * w[j][a];
}

/* the projection of every row with a gradient, before clipping reads them (without clipping, update_matrices
 * projects each row as it updates it) */
static void
project_decoder_gradients(sdlab_trainer *t)
{
  const size_t r = t->c.r, n = t->all_touched ? t->c.q : t->ntouched;
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t j0 = 0; j0 < n; j0 += ROW_GROUP) {
    const size_t m = n - j0 < ROW_GROUP ? n - j0 : ROW_GROUP;
    float *g[ROW_GROUP] = {0};
    const float *w[ROW_GROUP] = {0};
    for (size_t j = 0; j < m; j++) {
      const size_t i = t->all_touched ? j0 + j : t->touched[j0 + j];
      g[j] = t->gWDt + i * r;
      w[j] = t->s.WDt + i * r;
    }
    rows_project(g, w, m, r);
  }
}

/* Global-norm clipping's factor: the norm over every gradient (W_E, W_D^T, b_E, b_D, theta, r_mag, b_mag, in
 * that order; rows without a gradient are zero and add nothing) */
static float
clip_factor(const sdlab_trainer *t)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r;
  if (!(c->clip > 0))
    return 1.0f;
  double nn = 0;
  for (size_t i = 0; i < q; i++)
    if (t->all_touched || t->stamp[i] == t->cur)
      for (size_t a = 0; a < p; a++)
        nn += (double)t->gWE[i * p + a] * t->gWE[i * p + a];
  for (size_t i = 0; i < q; i++)
    if (t->all_touched || t->stamp[i] == t->cur)
      for (size_t a = 0; a < r; a++)
        nn += (double)t->gWDt[i * r + a] * t->gWDt[i * r + a];
  const float *gs[] = {t->gbE, t->gbD, t->gth, t->grm, t->gbm};
  const size_t ns[] = {q, r, q, q, q};
  for (size_t j = 0; j < 5; j++)
    for (size_t k = 0; k < ns[j]; k++)
      nn += (double)gs[j][k] * gs[j][k];
  nn = sqrt(nn);
  return nn > c->clip ? (float)(c->clip / nn) : 1.0f;
}

/* W_E's gradient row i when the entries' terms were deferred (gE_deferred), into g: the terms summed from zero in
 * sparse_backward's order, then what the step wrote into the row after them (anchoring's term): the bytes
 * sparse_backward's accumulation into the zeroed row followed by those writes gives, without writing the
 * row out and reading it back. */
__attribute__((target_clones("avx512f", "default"))) static const float *
encoder_row_gradient(const sdlab_trainer *t, size_t i, float *g)
{
  const size_t p = t->c.p;
  memset(g, 0, p * sizeof *g);
  for (size_t e = t->cscptr[i]; e < t->cscptr[i + 1]; e++) {
    const size_t k = t->cscent[e];
    const float gz = t->gval[k], *x = t->Xc + t->sample[k] * p;
    for (size_t a = 0; a < p; a++)
      g[a] += gz * x[a];
  }
  if (i < t->c.anchors)
    for (size_t a = 0; a < p; a++)
      g[a] += t->gWE[i * p + a];
  return g;
}

/* gWE made whole when its entries' terms were deferred (for a caller reading the gradient) */
static void
encoder_gradient_write(sdlab_trainer *t)
{
  const size_t p = t->c.p, q = t->c.q;
  if (!t->gE_deferred)
    return;
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t i = 0; i < q; i++)
    if (t->cscptr[i + 1] > t->cscptr[i] || i < t->c.anchors) {
      float *g = t->grow + (size_t)omp_get_thread_num() * p;
      memcpy(t->gWE + i * p, encoder_row_gradient(t, i, g), p * sizeof *g);
    }
  t->gE_deferred = 0;
}

/* W_E in full, gradients times f, zeroed once read (summed from the entries here when deferred) */
static void
update_encoder(sdlab_trainer *t, float f, adam_coef k)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q;
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t i = 0; i < q; i++) {
    float *g = t->all_touched || t->stamp[i] == t->cur ? t->gWE + i * p : NULL;
    const float *gi = g && t->gE_deferred ? encoder_row_gradient(t, i, t->grow + (size_t)omp_get_thread_num() * p) : g;
    row_update(c, t->s.WE + i * p, t->s.mWE + i * p, t->s.vWE + i * p, gi, f, p, k);
    if (t->Wb) /* the next step's bf16 encoder, while the row is in cache */
      sdlab_blas_bf16_round(p, t->s.WE + i * p, t->Wb + i * p);
    if (g && (!t->gE_deferred || i < c->anchors)) /* a deferred row's gWE holds only anchoring's term */
      memset(g, 0, p * sizeof *g);
  }
  t->gE_deferred = 0;
}

/* W_D's touched rows (every row when eager), gradients times f, zeroed once read; `project`: W_D's gradients are
 * projected here, row by row (unit-norm decoders without clipping) */
static void
update_decoder(sdlab_trainer *t, float f, int project, adam_coef k)
{
  const sdlab_train_config *c = &t->c;
  const size_t q = c->q, r = c->r, n = t->ntouched;
  const size_t *rows = t->touched;
  const int eager = t->all_touched || !c->lazy_decoder;
  const size_t nrows = eager ? q : n;
#pragma omp parallel for schedule(static) num_threads(t->threads)
  for (size_t j0 = 0; j0 < nrows; j0 += ROW_GROUP) { /* groups of rows, for rows_renormalise */
    size_t idx[ROW_GROUP];
    float *w[ROW_GROUP];
    const size_t m = nrows - j0 < ROW_GROUP ? nrows - j0 : ROW_GROUP;
    for (size_t j = 0; j < m; j++)
      idx[j] = eager ? j0 + j : rows[j0 + j];
    decoder_rows_sync(t, idx, 0, m, t->s.step);
    if (project) { /* the rows with a gradient */
      float *g[ROW_GROUP] = {0};
      const float *wg[ROW_GROUP] = {0};
      size_t mg = 0;
      for (size_t j = 0; j < m; j++)
        if (t->all_touched || t->stamp[idx[j]] == t->cur) {
          g[mg] = t->gWDt + idx[j] * r;
          wg[mg++] = t->s.WDt + idx[j] * r;
        }
      rows_project(g, wg, mg, r);
    }
    for (size_t j = 0; j < m; j++) {
      const size_t i = idx[j];
      float *g = t->all_touched || t->stamp[i] == t->cur ? t->gWDt + i * r : NULL;
      row_update(c, t->s.WDt + i * r, t->s.mWDt + i * r, t->s.vWDt + i * r, g, f, r, k);
      w[j] = t->s.WDt + i * r;
      t->wd_synced[i] = t->s.step + 1;
      if (g)
        memset(g, 0, r * sizeof *g);
    }
    if (c->unit_decoder)
      rows_renormalise(w, m, r);
  }
}

/* W_D's rows first, while the rows this step read and wrote may still be in the caches, then W_E's full pass */
static void
update_matrices(sdlab_trainer *t, float f, int project)
{
  const adam_coef k = coef_at(t, t->s.step);
  update_decoder(t, f, project, k);
  update_encoder(t, f, k);
}

/* a small parameter vector's update (biases, thresholds), gradient times f */
static void
update(const sdlab_trainer *t, float *w, float *g, float *m, float *v, size_t n, float f)
{
  const adam_coef k = coef_at(t, t->s.step);
  row_update(&t->c, w, m, v, g, f, n, k);
}

static int resample(sdlab_trainer *t, size_t *count);

int
sdlab_trainer_gradient(sdlab_trainer *t, const float *xp, const float *xr, sdlab_train_stats *st)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r, B = c->batch;
  if (xr == NULL) {
    if (!c->sae)
      return sdlab_fail(GSL_EINVAL, "a transcoder or crosscoder step needs targets");
    xr = xp;
  }
  memset(st, 0, sizeof *st);
  if (t->grad_pending) { /* a gradient no step consumed */
    memset(t->gWE, 0, q * p * sizeof(float));
    memset(t->gWDt, 0, q * r * sizeof(float));
  }
  t->grad_pending = 1;
  t->gE_deferred = 0;
  if (t->exposed) { /* the state was handed out (and may have been written): it is current as it is */
    state_is_current(t);
    t->exposed = 0;
  }
  touch_reset(t);
  memset(t->gbE, 0, q * sizeof(float));
  memset(t->gbD, 0, r * sizeof(float));
  memset(t->gth, 0, q * sizeof(float));
  memset(t->grm, 0, q * sizeof(float));
  memset(t->gbm, 0, q * sizeof(float));
  int status = encode_pre(t, xp, B);
  if (status)
    return status;
  double mse = 0, pen = 0, aux = 0;
  size_t active = 0;
  const size_t nactive = dense_method(c) ? count_active(t, B) : 0; /* Gated: its open gates */
  if (dense_method(c) && (double)nactive <= c->sparse_below * (double)(B * q) && nactive <= t->nnzcap) {
    if (c->method == SDLAB_TRAIN_GATED)
      gated_entry_step(t, xr, B, &mse, &pen, &aux, &active);
    else
      threshold_step(t, xr, B, &mse, &pen);
    if (c->method != SDLAB_TRAIN_GATED)
      active = nactive;
    for (size_t k = 0; k < nactive; k++)
      if (c->method != SDLAB_TRAIN_GATED || t->mval[k] > 0)
        t->s.last_active[t->col[k]] = t->s.step + 1;
  } else if (dense_method(c)) {
    decoder_sync_all(t);
    t->all_touched = 1;
    if (c->method == SDLAB_TRAIN_GATED)
      gated_step(t, xr, B, &mse, &pen, &aux, &active);
    else
      dense_step(t, xr, B, &mse, &pen, &active);
    for (size_t k = 0; k < B * q; k++)
      if (t->A[k] != 0)
        t->s.last_active[k % q] = t->s.step + 1;
  } else {
    uint32_t T[SDLAB_TRAIN_MAX_KS];
    double lam[SDLAB_TRAIN_MAX_KS];
    const size_t L = level_table(c, T, lam);
    select_entries(t, B);
    touch_entries(t, B);
    mse = sparse_forward(t, xr, B, t->val, t->Elev, T, lam, L);
    entry_gradients(t, B, t->Elev, t->gval, T, lam, L);
    sparse_backward(t, B, t->val, T, lam, L, 0);
    if (c->method == SDLAB_TRAIN_TOPK_AUXK)
      aux = auxk(t, B);
    active = t->rowptr[B];
    for (size_t k = 0; k < t->rowptr[B]; k++)
      t->s.last_active[t->col[k]] = t->s.step + 1;
  }
  double loss = mse + pen + aux;
  /* anchoring (eq. 26) */
  if (c->anchors) {
    const float w2 = (float)(2 * c->anchor_weight);
    double al = 0;
    for (size_t j = 0; j < c->anchors; j++) {
      for (size_t a = 0; a < p; a++) {
        float d = t->s.WE[j * p + a] - t->anchor_p[j * p + a];
        t->gWE[j * p + a] += w2 * d;
        al += (double)d * d;
      }
      for (size_t a = 0; a < r; a++) {
        float d = t->s.WDt[j * r + a] - t->anchor_r[j * r + a];
        t->gWDt[j * r + a] += w2 * d;
        al += (double)d * d;
      }
    }
    loss += c->anchor_weight * al;
  }
  if (!isfinite(loss))
    return sdlab_fail(SDLAB_ENONFINITE, "the loss became %g at step %zu (lower the learning rate)", loss, t->s.step);
  st->loss = loss;
  st->mse = mse;
  st->aux = aux;
  st->sparsity = pen;
  st->l0 = (double)active / (double)B;
  return SDLAB_SUCCESS;
}

int
sdlab_trainer_step(sdlab_trainer *t, const float *xp, const float *xr, sdlab_train_stats *st)
{
  const sdlab_train_config *c = &t->c;
  const size_t q = c->q, r = c->r;
  int status = sdlab_trainer_gradient(t, xp, xr, st);
  if (status)
    return status;
  const int clipped = c->clip > 0;
  if (c->unit_decoder && clipped)
    project_decoder_gradients(t);
  const float f = clip_factor(t);
  update_matrices(t, f, c->unit_decoder && !clipped);
  t->grad_pending = 0;
  if (encoder_bias(c))
    update(t, t->s.bE, t->gbE, t->s.mbE, t->s.vbE, q, f);
  if (c->biases)
    update(t, t->s.bD, t->gbD, t->s.mbD, t->s.vbD, r, f);
  if (c->method == SDLAB_TRAIN_GATED) {
    update(t, t->s.rmag, t->grm, t->s.mrm, t->s.vrm, q, f);
    update(t, t->s.bmag, t->gbm, t->s.mbm, t->s.vbm, q, f);
  }
  if (c->method == SDLAB_TRAIN_JUMPRELU) {
    update(t, t->s.theta, t->gth, t->s.mth, t->s.vth, q, f);
    for (size_t i = 0; i < q; i++)
      if (t->s.theta[i] < 0)
        t->s.theta[i] = 0;
  }
  t->s.step++;
  size_t dead = 0;
  for (size_t i = 0; i < q; i++)
    dead += t->s.step >= t->s.last_active[i] + c->dead_window;
  st->dead_fraction = (double)dead / (double)q;
  if (c->resample_at && (t->s.step == c->resample_at ||
                         (c->resample_every && t->s.step > c->resample_at &&
                          (t->s.step - c->resample_at) % c->resample_every == 0))) {
    decoder_sync_all(t);
    return resample(t, &st->resampled);
  }
  return SDLAB_SUCCESS;
}

/* Inference codes of rows xp[0..B) (B <= the batch size) into a (B x q). */
static int
infer(sdlab_trainer *t, const float *xp, size_t B, float *a)
{
  const sdlab_train_config *c = &t->c;
  const size_t q = c->q;
  encoder_gradient_write(t); /* a deferred gradient is summed from the batch this overwrites: write it out first */
  int status = encode_pre(t, xp, B);
  if (status)
    return status;
  if (c->method == SDLAB_TRAIN_GATED) {
    for (size_t s = 0; s < B; s++)
      for (size_t i = 0; i < q; i++) {
        const float z = t->Z[s * q + i], pm = expf(t->s.rmag[i]) * (z - t->s.bE[i]) + t->s.bmag[i];
        a[s * q + i] = z > 0 && pm > 0 ? pm : 0.0f;
      }
    return SDLAB_SUCCESS;
  }
  if (c->method == SDLAB_TRAIN_RELU || c->method == SDLAB_TRAIN_JUMPRELU || c->method == SDLAB_TRAIN_BATCHTOPK) {
    for (size_t k = 0; k < B * q; k++) {
      const float z = t->Z[k];
      const float th = c->method == SDLAB_TRAIN_JUMPRELU ? t->s.theta[k % q]
                       : c->method == SDLAB_TRAIN_BATCHTOPK ? (float)t->s.threshold : 0.0f;
      a[k] = z > th && z > 0 ? z : 0.0f;
    }
    return SDLAB_SUCCESS;
  }
  const size_t kk = t->kcap;
  memset(a, 0, B * q * sizeof *a);
  for (size_t s = 0; s < B; s++) {
    const float *z = t->Z + s * q;
    uint32_t *idx = t->idx + s * q;
    select_top_heap(z, idx, t->topv, q, kk);
    for (size_t j = 0; j < kk; j++)
      if (z[idx[j]] > 0)
        a[s * q + idx[j]] = z[idx[j]];
  }
  return SDLAB_SUCCESS;
}

int
sdlab_trainer_encode(sdlab_trainer *t, const float *xp, size_t B, float *a)
{
  int status = SDLAB_SUCCESS;
  for (size_t s0 = 0; !status && s0 < B; s0 += t->B) {
    size_t b = B - s0 < t->B ? B - s0 : t->B;
    status = infer(t, xp + s0 * t->c.p, b, a + s0 * t->c.q);
  }
  return status;
}

/* Bricken et al. 2023: dead latents get a decoder column along an input drawn with probability proportional
 * to its squared loss, an encoder row along it scaled to 0.2 times the mean alive encoder norm, a zero bias,
 * and fresh optimiser state for exactly those rows. */
static int
resample(sdlab_trainer *t, size_t *count)
{
  const sdlab_train_config *c = &t->c;
  const size_t p = c->p, q = c->q, r = c->r;
  t->wb_current = 0; /* resampled encoder rows */
  *count = 0;
  size_t nd = 0;
  for (size_t i = 0; i < q; i++)
    nd += t->s.step >= t->s.last_active[i] + c->dead_window;
  if (nd == 0 || t->pool_rows == 0)
    return SDLAB_SUCCESS;
  const size_t rows = t->pool_rows < 16384 ? t->pool_rows : 16384;
  double *w = malloc(rows * sizeof *w);
  float *a = malloc(t->B * q * sizeof *a), *xh = malloc(t->B * r * sizeof *xh);
  if (!w || !a || !xh) {
    free(w);
    free(a);
    free(xh);
    return sdlab_fail(GSL_ENOMEM, "out of memory for resampling");
  }
  /* the squared loss of each pool row under the current model (its weight is that squared) */
  double total = 0;
  int status = SDLAB_SUCCESS;
  for (size_t s0 = 0; !status && s0 < rows; s0 += t->B) {
    const size_t b = rows - s0 < t->B ? rows - s0 : t->B;
    if ((status = infer(t, t->pool_p + s0 * p, b, a)))
      break;
    for (size_t s = 0; s < b; s++)
      for (size_t j = 0; j < r; j++)
        xh[s * r + j] = c->biases ? t->s.bD[j] : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)r, (int)q, 1.0f, a, (int)q, t->s.WDt, (int)r,
                1.0f, xh, (int)r);
    for (size_t s = 0; s < b; s++) {
      double e = 0;
      for (size_t j = 0; j < r; j++) {
        double d = (double)xh[s * r + j] - t->pool_r[(s0 + s) * r + j];
        e += d * d;
      }
      w[s0 + s] = e * e;
      total += e * e;
    }
  }
  if (status) {
    free(w);
    free(a);
    free(xh);
    return status;
  }
  double alive_norm = 0;
  size_t alive = 0;
  for (size_t i = 0; i < q; i++)
    if (t->s.step < t->s.last_active[i] + c->dead_window) {
      double nn = 0;
      for (size_t j = 0; j < p; j++)
        nn += (double)t->s.WE[i * p + j] * t->s.WE[i * p + j];
      alive_norm += sqrt(nn);
      alive++;
    }
  alive_norm = alive ? alive_norm / (double)alive : 1.0;
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, (unsigned long)((c->seed ^ (0x9e3779b97f4a7c15ULL * t->s.step)) & 0xffffffffu));
  for (size_t i = 0; i < q; i++) {
    if (t->s.step < t->s.last_active[i] + c->dead_window)
      continue;
    /* draw a row with probability w / total */
    double u = gsl_rng_uniform(g) * total, acc = 0;
    size_t row = rows - 1;
    for (size_t s = 0; s < rows && total > 0; s++) {
      acc += w[s];
      if (u < acc) {
        row = s;
        break;
      }
    }
    if (total == 0)
      row = gsl_rng_uniform_int(g, rows);
    const float *xpr = t->pool_p + row * p, *xrr = t->pool_r + row * r;
    double np_ = 0, nr_ = 0;
    for (size_t j = 0; j < p; j++)
      np_ += (double)xpr[j] * xpr[j];
    for (size_t j = 0; j < r; j++)
      nr_ += (double)xrr[j] * xrr[j];
    if (!(np_ > 0) || !(nr_ > 0))
      continue;
    for (size_t j = 0; j < r; j++)
      t->s.WDt[i * r + j] = (float)(xrr[j] / sqrt(nr_));
    for (size_t j = 0; j < p; j++)
      t->s.WE[i * p + j] = (float)(xpr[j] / sqrt(np_) * 0.2 * alive_norm);
    t->s.bE[i] = 0;
    memset(t->s.mWE + i * p, 0, p * sizeof(float));
    memset(t->s.vWE + i * p, 0, p * sizeof(float));
    memset(t->s.mWDt + i * r, 0, r * sizeof(float));
    memset(t->s.vWDt + i * r, 0, r * sizeof(float));
    t->s.mbE[i] = t->s.vbE[i] = t->s.mth[i] = t->s.vth[i] = 0;
    t->s.rmag[i] = t->s.bmag[i] = t->s.mrm[i] = t->s.vrm[i] = t->s.mbm[i] = t->s.vbm[i] = 0;
    t->s.last_active[i] = t->s.step; /* a fresh window */
    (*count)++;
  }
  gsl_rng_free(g);
  free(w);
  free(a);
  free(xh);
  return SDLAB_SUCCESS;
}

void
sdlab_trainer_gradients(sdlab_trainer *t, float **gWE, float **gWDt, float **gbE, float **gbD, float **gtheta)
{
  encoder_gradient_write(t);
  *gWE = t->gWE;
  *gWDt = t->gWDt;
  *gbE = t->gbE;
  *gbD = t->gbD;
  *gtheta = t->gth;
}

int
sdlab_trainer_selected(const sdlab_trainer *t, const size_t **rowptr, const size_t **col, const float **val)
{
  if (t->all_touched)
    return 0;
  *rowptr = t->rowptr;
  *col = t->col;
  *val = t->val;
  return 1;
}

void
sdlab_trainer_gated_gradients(sdlab_trainer *t, float **grmag, float **gbmag)
{
  *grmag = t->grm;
  *gbmag = t->gbm;
}
