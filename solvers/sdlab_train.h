/* sdlab_train.h: minibatch training of SDL models (SAE, transcoder, crosscoder) in float32.
 *
 * Model (SAELens' convention when biases are on; the theory's when off):
 *   z = W_E (x_p - b_D [SAE only]) + b_E,   a = sigma(z),   x_hat = W_D a + b_D
 * W_E is q x p (rows: encoder directions); the decoder is stored transposed, W_D^T (q x r), so a latent's
 * decoder column is a contiguous row.
 *
 * Methods and their losses (mean over the batch, squared error summed over coordinates):
 *   relu        ||x_r - x_hat||^2 + l1 ||a||_1                                   (eq. 5)
 *   jumprelu    ||x_r - x_hat||^2 + l0 sum_i H(z_i - theta_i); theta per latent, parameterised directly;
 *               straight-through estimates with a rectangle kernel of bandwidth h      (eq. 6)
 *   topk        Top-k then ReLU                                                    (eq. 7)
 *   batchtopk   ReLU, then the k B largest of the batch; at inference a threshold, the exponential moving
 *               average (rate 0.01) of each batch's smallest kept value (Bussmann et al. 2024)
 *   matryoshka  sum_i lambda_i ||x_r - W_D TopK_{k_i}(z) - b_D||^2                   (eq. 9), or with
 *               prefixes m_1 < ... : sum_j ||x_r - W_D[:, :m_j] a[:m_j] - b_D||^2 (nested groups)
 *   topk-auxk   topk plus lambda_aux ||e - W_D TopK_{k_aux}(z restricted to dead latents)||^2 with e the
 *               residual held constant, scaled by min(n_dead / k_aux, 1) (eq. 8, Gao et al. 2024)
 *   gated       Rajamanoharan et al. 2024: pi_gate = z (with b_E the gate bias), pi_mag = exp(r_mag) o (z - b_E)
 *               + b_mag, a = 1[pi_gate > 0] o ReLU(pi_mag);  ||x_r - x_hat||^2 + l1 ||ReLU(pi_gate)||_1
 *               + ||x_r - (W_D ReLU(pi_gate) + b_D)||^2 with W_D and b_D held constant in the last term (the
 *               auxiliary loss that trains the gate).  The gate and magnitude biases are always trained; the
 *               L1 term omits the decoder-norm factor, which is 1 with unit-norm decoder columns.
 * Options: Adam or SGD; linear warm-up and linear or cosine decay; global-norm gradient clipping;
 * unit-norm decoder columns (the gradient's component along each column removed before the step, the
 * columns renormalised after); anchoring (eqs. 25-26): lambda (||W_E[:k] - A_p^T||^2 + ||W_D[:, :k] - A_r||^2);
 * dead-latent resampling (Bricken et al. 2023).
 * Top-k codes have at most k nonzeros a sample: the decoder, its gradient and the encoder's gradient touch only
 * the selected entries (O(k (2 r + p)) a sample); ReLU, JumpReLU and Gated (its open gates) take the same entry
 * path for batches whose active codes are at most sparse_below of B q, and four dense products (Gated: six)
 * otherwise.  The encoder's product is
 * always dense (sdlab_blas_par_sgemm).
 * The hot path allocates nothing; the same seed and thread count give the same bytes. */
#ifndef SDLAB_TRAIN_H
#define SDLAB_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "sdlab_activation.h"

/* A training method is an activation of theory/ (sdlab_activation_kind) and an objective beside it: the plain
 * loss of eqs. 5-8, Matryoshka's sum over nested dictionaries (eq. 9), TopK's auxiliary loss on dead latents
 * (AuxK), or Gated's two paths (a ReLU gate and a magnitude).  sdlab_train_method_* below is the one table of
 * them: names, activations, objectives. */
typedef enum {
  SDLAB_TRAIN_RELU, SDLAB_TRAIN_JUMPRELU, SDLAB_TRAIN_TOPK, SDLAB_TRAIN_BATCHTOPK, SDLAB_TRAIN_MATRYOSHKA,
  SDLAB_TRAIN_TOPK_AUXK, SDLAB_TRAIN_GATED, SDLAB_TRAIN_METHODS
} sdlab_train_method;

typedef enum { SDLAB_OBJECTIVE_PLAIN, SDLAB_OBJECTIVE_MATRYOSHKA, SDLAB_OBJECTIVE_AUXK, SDLAB_OBJECTIVE_GATED }
sdlab_train_objective;

/* The method's name as `sdlab train --method` and run.json spell it (relu, jumprelu, topk, batchtopk,
 * matryoshka, topk-auxk, gated); NULL for a value that is not a method. */
const char *sdlab_train_method_name(sdlab_train_method m);
/* The method named `name`: SDLAB_EPARAM, with a message listing the names, for any other. */
int sdlab_train_method_parse(const char *name, sdlab_train_method *m);
/* The activation its codes go through (Gated's gate: ReLU; TopK, Matryoshka and AuxK: Top-k then ReLU) */
sdlab_activation_kind sdlab_train_method_activation(sdlab_train_method m);
sdlab_train_objective sdlab_train_method_objective(sdlab_train_method m);
/* The method with the plain objective whose activation is `kind` (SDLAB_TRAIN_METHODS for pure Top-k, which
 * the trainer does not train: its codes keep the negative values they select) */
sdlab_train_method sdlab_train_method_of(sdlab_activation_kind kind);

typedef enum { SDLAB_OPT_ADAM, SDLAB_OPT_SGD } sdlab_optimizer;
typedef enum { SDLAB_DECAY_NONE, SDLAB_DECAY_LINEAR, SDLAB_DECAY_COSINE } sdlab_decay;

#define SDLAB_TRAIN_MAX_KS 8
#define SDLAB_TRAIN_THRESHOLD_RATE 0.01 /* batchtopk: the inference threshold's moving-average rate */
/* relu, jumprelu, gated: the active fraction of a batch's codes at or below which a step takes the entry path;
 * `make bench` timed both paths at n_p = 768, n_q = 16,000, batch 256 and found them equal between 1% and 2%
 * when this was set.  The entry path has since become faster (it now wins up to about 3.5%), but the switch
 * stays here: moving it changes the bytes of the committed ReLU and JumpReLU runs. */
#define SDLAB_TRAIN_SPARSE_BELOW 0.015

typedef struct {
  sdlab_train_method method;
  size_t p, q, r;           /* input, latent, target dimensions */
  int sae;                  /* x_r = x_p: the pre-encoder bias b_D is subtracted from the input */
  size_t k;                 /* topk, batchtopk, topk-auxk, matryoshka (prefix form) */
  double l1;                /* relu */
  double theta0, bandwidth, l0; /* jumprelu: initial threshold, STE bandwidth, L0 weight */
  size_t nks;               /* matryoshka, eq. 9 form: the k_i and lambda_i */
  size_t ks[SDLAB_TRAIN_MAX_KS];
  double lambdas[SDLAB_TRAIN_MAX_KS];
  size_t nprefixes;         /* matryoshka, nested form: prefix sizes m_j (then ks unused) */
  size_t prefixes[SDLAB_TRAIN_MAX_KS];
  size_t k_aux;             /* topk-auxk */
  double lambda_aux;
  size_t dead_window;       /* steps without activation that make a latent dead (auxk, resampling, stats) */
  sdlab_optimizer opt;
  double lr, beta1, beta2, eps;
  size_t warmup;            /* steps of linear warm-up */
  sdlab_decay decay;        /* over the whole run, after warm-up */
  double clip;              /* global-norm clipping; 0: none */
  int unit_decoder;         /* unit-norm decoder columns */
  int tied_init;            /* W_E = W_D^T at initialisation */
  int biases;               /* train b_E and b_D */
  size_t anchors;           /* the first `anchors` latents are anchored */
  double anchor_weight;
  const float *anchor_p;    /* anchors x p: the anchored encoder rows' targets (copied) */
  const float *anchor_r;    /* anchors x r: the anchored decoder columns' targets (copied) */
  size_t resample_at;       /* step of the (first) resampling; 0: never */
  size_t resample_every;    /* then every this many steps; 0: once */
  size_t batch;
  size_t total_steps;       /* for the decay schedule */
  double sparse_below;      /* relu, jumprelu, gated: a batch whose active codes are at most this fraction of its B q
                             * takes the entry path (default SDLAB_TRAIN_SPARSE_BELOW); 0: always dense unless
                             * nothing fires, 1: always entries */
  int lazy_decoder;         /* 1 (default): W_D's rows without a gradient catch up when next read, with the
                             * same bytes; 0: every row updated every step (the reference, for tests) */
  int bf16;                 /* 1: the encoder's product in bfloat16 (its inputs, x_p and W_E, rounded to bf16 each
                             * step; float32 accumulation, float32 master weights and optimiser; sdlab_blas.h),
                             * on a CPU with bf16 instructions only; 0 (default): float32 throughout */
  uint64_t seed;
} sdlab_train_config;

void sdlab_train_config_default(sdlab_train_config *c);
/* Validate: every size, weight and option combination.  SDLAB_EPARAM with a message. */
int sdlab_train_config_check(const sdlab_train_config *c);
/* About the bytes sdlab_trainer_alloc takes for c: W_E and W_D with their gradients and Adam's two moments (and
 * W_E's bf16 copy), and the batch's dense code arrays; for a check against the machine before allocating. */
double sdlab_trainer_bytes(const sdlab_train_config *c);

typedef struct {
  double loss, mse, aux, sparsity; /* the batch's loss, its squared-error part, auxk part, penalty part */
  double l0;                /* mean active latents per sample */
  double dead_fraction;     /* latents inactive for dead_window steps */
  size_t resampled;         /* latents resampled at this step */
} sdlab_train_stats;

typedef struct sdlab_trainer sdlab_trainer;

/* A trainer with freshly initialised parameters (seeded): W_D^T rows Gaussian, unit norm; W_E = W_D^T
 * (tied) or Gaussian; biases zero; jumprelu thresholds theta0.  NULL with a message on error. */
sdlab_trainer *sdlab_trainer_alloc(const sdlab_train_config *c, int threads);
void sdlab_trainer_free(sdlab_trainer *t);

/* One optimisation step on a batch of B = c->batch rows (x_p: B x p, x_r: B x r, or NULL for an SAE). */
int sdlab_trainer_step(sdlab_trainer *t, const float *xp, const float *xr, sdlab_train_stats *stats);

/* The loss of a batch and its gradients (stored in the trainer, see sdlab_trainer_gradients), without a step:
 * for gradient checks.  JumpReLU's threshold gradient is the straight-through estimate. */
int sdlab_trainer_gradient(sdlab_trainer *t, const float *xp, const float *xr, sdlab_train_stats *stats);
/* The gradients of the last sdlab_trainer_gradient (owned by the trainer): W_E, W_D^T, b_E, b_D, theta.  A step
 * consumes W_E's and W_D^T's (they read zero after it). */
void sdlab_trainer_gradients(sdlab_trainer *t, float **gWE, float **gWDt, float **gbE, float **gbD, float **gtheta);
/* The codes the last sdlab_trainer_gradient kept on the entry path (Top-k methods; ReLU and JumpReLU below the
 * crossover), as CSR over the batch: sample s's latents col[rowptr[s] .. rowptr[s+1]) in increasing order
 * (ranked order for matryoshka's eq. 9 form) with codes val.  Owned by the trainer; 0 when the step was dense. */
int sdlab_trainer_selected(const sdlab_trainer *t, const size_t **rowptr, const size_t **col, const float **val);
/* Gated: the gradients of r_mag and b_mag. */
void sdlab_trainer_gated_gradients(sdlab_trainer *t, float **grmag, float **gbmag);

/* Resampling needs inputs to choose from: a pool of rows (and their targets) the trainer may read when a
 * resampling step comes; the caller keeps them alive. */
void sdlab_trainer_set_pool(sdlab_trainer *t, const float *xp, const float *xr, size_t rows);

/* Encode a batch with the trained model (inference: batchtopk uses its threshold) into codes a (B x q). */
int sdlab_trainer_encode(sdlab_trainer *t, const float *xp, size_t B, float *a);

/* Parameters and state, for export and checkpoints: current when returned (rows that missed steps are
 * brought up to date), and taken as current, with any changes the caller makes, at the next step.  Call it
 * again after further steps. */
typedef struct {
  float *WE, *WDt, *bE, *bD, *theta; /* q x p, q x r, q, r, q */
  float *mWE, *vWE, *mWDt, *vWDt, *mbE, *vbE, *mbD, *vbD, *mth, *vth;
  float *rmag, *bmag, *mrm, *vrm, *mbm, *vbm; /* gated: r_mag, b_mag (q each) and their moments */
  uint64_t *last_active;    /* q: the step a latent last fired */
  double threshold;         /* batchtopk inference threshold */
  size_t step;
} sdlab_train_state;

sdlab_train_state *sdlab_trainer_state(sdlab_trainer *t);
const sdlab_train_config *sdlab_trainer_config(const sdlab_trainer *t);

#endif
