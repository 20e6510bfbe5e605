/* sdlab train: train an SDL model on a bench directory or on activations a user brings. */
#define _POSIX_C_SOURCE 200809L
#include "sdlab_activation.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_npy.h"
#include "sdlab_run.h"
#include "sdlab_train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static const char *USAGE =
  "usage: sdlab train --data DIR|FILE.npy --method relu|jumprelu|topk|batchtopk|matryoshka|topk-auxk|gated\n"
  "                   --latents Q\n"
  "                   --out RUN [--k K] [--l1 L] [--theta T] [--bandwidth H] [--l0 L] [--ks k1,k2,...]\n"
  "                   [--lambdas w1,w2,...] [--prefixes m1,m2,...] [--k-aux K] [--aux-weight W] [--dead-window S]\n"
  "                   [--anchors K] [--anchor-weight W] [--anchor-file F] [--resample-at S] [--resample-every S]\n"
  "                   [--epochs E] [--converge TOL] [--batch B] [--lr LR] [--warmup S]\n"
  "                   [--decay none|linear|cosine] [--clip C]\n"
  "                   [--optimizer adam|sgd] [--biases] [--no-unit-decoder] [--no-tied-init] [--seed R]\n"
  "                   [--threads T] [--precision fp32|bf16] [--init DIR] [--checkpoint-every S] [--stop-after S]\n"
  "                   [--top K]\n"
  "                   [--codes] [--force] [--quiet]\n"
  "       sdlab train --resume RUN\n"
  "\n"
  "Train an SAE (x_r = x_p), a transcoder or a crosscoder (the bench's x_r.npy) with the losses of\n"
  "arXiv:2512.05534 eqs. 5-9 in float32, and write to RUN:\n"
  "  W_E.npy (Q x n_p), W_D.npy (n_r x Q), b_E.npy, b_D.npy, theta.npy (jumprelu), r_mag.npy and b_mag.npy\n"
  "  (gated, whose b_E is the gate bias), anchors.npy (anchored\n"
  "  ground-truth features, to pass to sdlab eval --exclude), metrics.json (per epoch and final: loss, L0,\n"
  "  dead fraction, explained variance, and M_GT, M_IP, MCC when DIR holds the ground truth), curve.tsv (per\n"
  "  step), run.json (method, target, sizes, inference k: what sdlab export reads), sae.safetensors and\n"
  "  cfg.json in SAELens' pre-6 layout (W_enc d_in x d_sae, W_dec d_sae x d_in; sdlab export writes 6.x's).\n"
  "\n"
  "  --data DIR|FILE    a bench directory (x_p.npy, x_r.npy, W_p.npy, W_r.npy) or one .npy of activations\n"
  "  --method M         relu (L1 --l1), jumprelu (--theta, --bandwidth, --l0), topk (--k), batchtopk (--k),\n"
  "                     matryoshka (--ks with --lambdas: eq. 9's sum over several k; or --prefixes with --k:\n"
  "                     nested prefix groups), topk-auxk (--k, --k-aux, --aux-weight), gated (--l1:\n"
  "                     Rajamanoharan et al. 2024, gate and magnitude biases always trained); or the\n"
  "                     activation as the other commands spell it: jumprelu:T (= jumprelu --theta T),\n"
  "                     topk-relu:K (= topk --k K: the trainer's TopK keeps the positive codes among the k\n"
  "                     largest), batchtopk:K (= batchtopk --k K)\n"
  "  --latents Q        dictionary size n_q\n"
  "  --anchors K        anchor the first K latents to K random ground-truth features (bench), weight\n"
  "                     --anchor-weight (default 0.1); or to the rows of --anchor-file F (K x n_p .npy)\n"
  "  --resample-at S    resample dead latents (none active for --dead-window steps) at step S, then every\n"
  "                     --resample-every steps (Bricken et al. 2023)\n"
  "  --epochs E --batch B --lr LR --warmup S --decay D --clip C --optimizer O   (defaults 1, 1024,\n"
  "                     1e-3, 100 steps, linear, none, adam)\n"
  "  --converge TOL     stop after the first epoch whose mean loss is less than TOL (relative) below the\n"
  "                     previous epoch's, both after the warm-up; --epochs is then the cap (default 1000) and\n"
  "                     the default --decay is none (a given decay runs over the cap)\n"
  "  --biases           train b_E and b_D (off by default, as in the theory)\n"
  "  --seed R --threads T   the same seed and thread count give the same bytes\n"
  "  --precision P      fp32 (default) or bf16: the encoder's product in bfloat16 (inputs rounded, float32\n"
  "                     accumulation, float32 weights and optimiser), on a CPU with bf16 instructions\n"
  "  --init DIR         start from a trained model instead of the random initialisation: an sdlab run\n"
  "                     (W_E.npy, W_D.npy; b_E.npy, b_D.npy with --biases, theta.npy for jumprelu) or a\n"
  "                     dictionary SAELens, sparsify or dictionary_learning saved (its W_E and W_D; biases\n"
  "                     and thresholds start as usual); with the unit-norm decoder its columns are normalised\n"
  "  --checkpoint-every S   write RUN.partial/checkpoint.bin every S steps (and on SIGINT or SIGTERM);\n"
  "                     sdlab train --resume RUN continues to exactly the uninterrupted result\n"
  "  --stop-after S     stop at step S as an interruption would (checkpoint written), e.g. for time limits\n"
  "  --top K            also write each latent's K most activating rows: top.npy (Q x K row indices, -1 when\n"
  "                     fewer rows activate it) and top_values.npy\n"
  "  --codes            also write codes.npy: the trained model's inference codes of every input row (N x Q\n"
  "                     float32), for sdlab absorption\n";

static volatile sig_atomic_t interrupted;
static void
on_signal(int sig)
{
  interrupted = sig;
}

enum {
  O_DATA, O_METHOD, O_LATENTS, O_OUT, O_K, O_L1, O_THETA, O_BW, O_L0, O_KS, O_LAMBDAS, O_PREFIXES, O_KAUX, O_AUXW,
  O_DEADW, O_ANCHORS, O_ANCHORW, O_ANCHORF, O_RESAT, O_RESEV, O_EPOCHS, O_BATCH, O_LR, O_WARMUP, O_DECAY, O_CLIP,
  O_OPT, O_BIASES, O_NOUNIT, O_NOTIED, O_SEED, O_THREADS, O_CKPT, O_RESUME, O_FORCE, O_QUIET, O_STOP, O_TOP, O_CODES,
  O_CONVERGE, O_PRECISION, O_INIT, O_COUNT
};
static const char *NAMES[O_COUNT] = {
  "--data", "--method", "--latents", "--out", "--k", "--l1", "--theta", "--bandwidth", "--l0", "--ks", "--lambdas",
  "--prefixes", "--k-aux", "--aux-weight", "--dead-window", "--anchors", "--anchor-weight", "--anchor-file",
  "--resample-at", "--resample-every", "--epochs", "--batch", "--lr", "--warmup", "--decay", "--clip", "--optimizer",
  "--biases", "--no-unit-decoder", "--no-tied-init", "--seed", "--threads", "--checkpoint-every", "--resume",
  "--force", "--quiet", "--stop-after", "--top", "--codes", "--converge", "--precision", "--init"};

/* a comma list of sizes or numbers */
static int
parse_list(const char *opt, const char *text, double *out, size_t max, size_t *n, int whole)
{
  *n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || (whole && (v < 1 || v != floor(v))) || *n == max) {
      fprintf(stderr, "sdlab train: error: %s takes up to %zu comma-separated %s (got '%s')\n", opt, max,
              whole ? "positive whole numbers" : "numbers", text);
      return SDLAB_EUSAGE;
    }
    out[(*n)++] = v;
    p = end;
    if (*p == ',')
      p++;
    else if (*p) {
      fprintf(stderr, "sdlab train: error: %s takes a comma-separated list (got '%s')\n", opt, text);
      return SDLAB_EUSAGE;
    }
  }
  if (*n == 0) {
    fprintf(stderr, "sdlab train: error: %s is empty\n", opt);
    return SDLAB_EUSAGE;
  }
  return 0;
}


/* An option a method does not read is a usage error, not a silent no-op: which methods read which. */
static int
options_apply(const sdlab_opt *o, sdlab_train_method m)
{
  const int topk = m == SDLAB_TRAIN_TOPK || m == SDLAB_TRAIN_BATCHTOPK || m == SDLAB_TRAIN_TOPK_AUXK ||
                   (m == SDLAB_TRAIN_MATRYOSHKA && o[O_PREFIXES].value);
  const struct {
    int id, applies;
    const char *to;
  } rule[] = {
    {O_K, topk, "topk, batchtopk, topk-auxk and matryoshka with --prefixes"},
    {O_L1, m == SDLAB_TRAIN_RELU || m == SDLAB_TRAIN_GATED, "relu and gated"},
    {O_THETA, m == SDLAB_TRAIN_JUMPRELU, "jumprelu"},
    {O_BW, m == SDLAB_TRAIN_JUMPRELU, "jumprelu"},
    {O_L0, m == SDLAB_TRAIN_JUMPRELU, "jumprelu"},
    {O_KS, m == SDLAB_TRAIN_MATRYOSHKA, "matryoshka"},
    {O_LAMBDAS, m == SDLAB_TRAIN_MATRYOSHKA, "matryoshka"},
    {O_PREFIXES, m == SDLAB_TRAIN_MATRYOSHKA, "matryoshka"},
    {O_KAUX, m == SDLAB_TRAIN_TOPK_AUXK, "topk-auxk"},
    {O_AUXW, m == SDLAB_TRAIN_TOPK_AUXK, "topk-auxk"},
  };
  for (size_t i = 0; i < sizeof rule / sizeof *rule; i++)
    if (o[rule[i].id].value && !rule[i].applies) {
      fprintf(stderr, "sdlab train: error: %s does not apply to --method %s (it applies to %s)\n", NAMES[rule[i].id],
              o[O_METHOD].value, rule[i].to);
      return SDLAB_EUSAGE;
    }
  return 0;
}

/* --method in the activation spelling every other command takes (sdlab_activation_parse): relu, jumprelu:T
 * (the threshold --theta), topk-relu:K and batchtopk:K (--k), rewritten as the trainer's method and its option
 * (pointing into the argument), so that what follows, run.json and the checkpoint's resume read the same
 * options.  Pure topk:K (negative codes kept) is not a trainer; an option the spelling already gives is refused. */
static int
method_alias(sdlab_opt *o)
{
  const char *m = o[O_METHOD].value, *colon = strchr(m, ':');
  if (colon == NULL)
    return 0; /* the trainer's own names (relu, jumprelu, topk, batchtopk, matryoshka, topk-auxk, gated) */
  sdlab_activation act;
  const int st = sdlab_activation_parse(m, &act);
  if (st) {
    fprintf(stderr, "sdlab train: error: --method: %s\n", sdlab_error_message(st));
    return SDLAB_EUSAGE;
  }
  const int opt = act.kind == SDLAB_ACT_JUMPRELU ? O_THETA : O_K;
  const sdlab_train_method method = sdlab_train_method_of(act.kind);
  if (method == SDLAB_TRAIN_METHODS) {
    fprintf(stderr, "sdlab train: error: --method %s: the trainer's TopK keeps the positive codes among the k largest "
            "(topk-relu:K); pure top-k is not trained\n", m);
    return SDLAB_EUSAGE;
  }
  if (o[opt].value) {
    fprintf(stderr, "sdlab train: error: --method %s gives %s already\n", m, NAMES[opt]);
    return SDLAB_EUSAGE;
  }
  o[O_METHOD].value = sdlab_train_method_name(method);
  o[opt].value = colon + 1;
  return 0;
}

/* Build the trainer configuration from the options (data sizes known).  One statement or check per option, in the
 * options' order (about 130 lines): splitting the list would only scatter it. */
static int
configure(const sdlab_opt *o, sdlab_train_config *c, int *threads, size_t *epochs, size_t *ckpt_every,
          double *converge)
{
  if (sdlab_train_method_parse(o[O_METHOD].value, &c->method)) {
    fprintf(stderr, "sdlab train: error: %s\n", sdlab_error_message(SDLAB_EPARAM));
    return SDLAB_EUSAGE;
  }
  if (options_apply(o, c->method))
    return SDLAB_EUSAGE;
  size_t v;
  double d;
  uint64_t u;
#define SIZE_OPT(id, field) \
  if (o[id].value) { if (sdlab_cli_size("train", NAMES[id], o[id].value, &v)) return SDLAB_EUSAGE; field = v; }
#define REAL_OPT(id, field) \
  if (o[id].value) { if (sdlab_cli_double("train", NAMES[id], o[id].value, &d)) return SDLAB_EUSAGE; field = d; }
  SIZE_OPT(O_LATENTS, c->q)
  SIZE_OPT(O_K, c->k)
  REAL_OPT(O_L1, c->l1)
  REAL_OPT(O_THETA, c->theta0)
  REAL_OPT(O_BW, c->bandwidth)
  REAL_OPT(O_L0, c->l0)
  SIZE_OPT(O_KAUX, c->k_aux)
  REAL_OPT(O_AUXW, c->lambda_aux)
  SIZE_OPT(O_DEADW, c->dead_window)
  REAL_OPT(O_ANCHORW, c->anchor_weight)
  SIZE_OPT(O_RESAT, c->resample_at)
  SIZE_OPT(O_RESEV, c->resample_every)
  SIZE_OPT(O_BATCH, c->batch)
  REAL_OPT(O_LR, c->lr)
  SIZE_OPT(O_WARMUP, c->warmup)
  REAL_OPT(O_CLIP, c->clip)
  REAL_OPT(O_CONVERGE, *converge)
  if (o[O_CONVERGE].value && !(*converge > 0 && *converge < 1)) {
    fprintf(stderr, "sdlab train: error: --converge takes a relative improvement in (0, 1) (got %s)\n",
            o[O_CONVERGE].value);
    return SDLAB_EUSAGE;
  }
  if (o[O_CONVERGE].value) {
    *epochs = 1000;
    c->decay = SDLAB_DECAY_NONE;
  }
  SIZE_OPT(O_EPOCHS, *epochs)
  SIZE_OPT(O_CKPT, *ckpt_every)
  if (o[O_THREADS].value) {
    if (sdlab_cli_size("train", "--threads", o[O_THREADS].value, &v))
      return SDLAB_EUSAGE;
    if (v == 0 || v > 256) {
      fprintf(stderr, "sdlab train: error: --threads must lie in [1, 256]\n");
      return SDLAB_EUSAGE;
    }
    *threads = (int)v;
  }
  if (o[O_SEED].value) {
    if (sdlab_cli_u64("train", "--seed", o[O_SEED].value, &u))
      return SDLAB_EUSAGE;
    c->seed = u;
  }
  if (o[O_PRECISION].value) {
    if (strcmp(o[O_PRECISION].value, "fp32") != 0 && strcmp(o[O_PRECISION].value, "bf16") != 0) {
      fprintf(stderr, "sdlab train: error: --precision is fp32 or bf16 (got '%s')\n", o[O_PRECISION].value);
      return SDLAB_EUSAGE;
    }
    c->bf16 = strcmp(o[O_PRECISION].value, "bf16") == 0;
  }
#undef SIZE_OPT
#undef REAL_OPT
  if (o[O_DECAY].value) {
    if (strcmp(o[O_DECAY].value, "none") == 0) c->decay = SDLAB_DECAY_NONE;
    else if (strcmp(o[O_DECAY].value, "linear") == 0) c->decay = SDLAB_DECAY_LINEAR;
    else if (strcmp(o[O_DECAY].value, "cosine") == 0) c->decay = SDLAB_DECAY_COSINE;
    else {
      fprintf(stderr, "sdlab train: error: --decay must be none, linear or cosine (got '%s')\n", o[O_DECAY].value);
      return SDLAB_EUSAGE;
    }
  }
  if (o[O_OPT].value) {
    if (strcmp(o[O_OPT].value, "adam") == 0) c->opt = SDLAB_OPT_ADAM;
    else if (strcmp(o[O_OPT].value, "sgd") == 0) c->opt = SDLAB_OPT_SGD;
    else {
      fprintf(stderr, "sdlab train: error: --optimizer must be adam or sgd (got '%s')\n", o[O_OPT].value);
      return SDLAB_EUSAGE;
    }
  }
  c->biases = o[O_BIASES].value != NULL;
  c->unit_decoder = o[O_NOUNIT].value == NULL;
  c->tied_init = o[O_NOTIED].value == NULL;
  double list[SDLAB_TRAIN_MAX_KS];
  size_t n;
  if (o[O_KS].value) {
    if (parse_list("--ks", o[O_KS].value, list, SDLAB_TRAIN_MAX_KS, &n, 1))
      return SDLAB_EUSAGE;
    c->nks = n;
    for (size_t i = 0; i < n; i++) {
      c->ks[i] = (size_t)list[i];
      c->lambdas[i] = 1.0;
    }
  }
  if (o[O_LAMBDAS].value) {
    if (parse_list("--lambdas", o[O_LAMBDAS].value, list, SDLAB_TRAIN_MAX_KS, &n, 0))
      return SDLAB_EUSAGE;
    if (n != c->nks) {
      fprintf(stderr, "sdlab train: error: --lambdas needs one weight per --ks value (%zu vs %zu)\n", n, c->nks);
      return SDLAB_EUSAGE;
    }
    for (size_t i = 0; i < n; i++)
      c->lambdas[i] = list[i];
  }
  if (o[O_PREFIXES].value) {
    if (parse_list("--prefixes", o[O_PREFIXES].value, list, SDLAB_TRAIN_MAX_KS, &n, 1))
      return SDLAB_EUSAGE;
    c->nprefixes = n;
    for (size_t i = 0; i < n; i++)
      c->prefixes[i] = (size_t)list[i];
  }
  if (c->method == SDLAB_TRAIN_MATRYOSHKA && c->nprefixes && c->nks) {
    fprintf(stderr, "sdlab train: error: matryoshka takes either --ks (eq. 9) or --prefixes (nested groups)\n");
    return SDLAB_EUSAGE;
  }
  if (*epochs == 0) {
    fprintf(stderr, "sdlab train: error: --epochs must be positive\n");
    return SDLAB_EUSAGE;
  }
  return 0;
}

/* --resume: the options replaced by those the checkpoint at ckpath recorded (argv malloc'd, the file left open
 * at its input record), less --quiet, --stop-after and --threads, which a resume may give; the exit code when
 * it cannot go on, else -1. */
static int
resume_options(sdlab_opt *o, const char *ckpath, int *sargc, char ***sargv, FILE **ckfp)
{
  for (int k = 0; k < O_COUNT; k++)
    if (o[k].value && k != O_RESUME && k != O_QUIET && k != O_STOP && k != O_THREADS) {
      fprintf(stderr, "sdlab train: error: --resume takes no other options (%s): they come from the checkpoint\n",
              NAMES[k]);
      return SDLAB_EXIT_USAGE;
    }
  int status = sdlab_run_checkpoint_args(ckpath, sargc, sargv, ckfp);
  if (status)
    return sdlab_cli_fail("train", status);
  const char *stop = o[O_STOP].value, *quiet = o[O_QUIET].value;
  for (int k = 0; k < O_COUNT; k++)
    o[k].value = NULL;
  if (sdlab_cli_parse("train", *sargc, *sargv, o, O_COUNT)) {
    fclose(*ckfp);
    return SDLAB_EXIT_USAGE;
  }
  if (quiet)
    o[O_QUIET].value = "1";
  o[O_STOP].value = stop;
  return -1;
}

/* The loop's progress on stderr: a line rewritten in place on a terminal (5 times a second), else a line every
 * 5 seconds. */
typedef struct {
  int quiet, tty;
  double t0, last;
  size_t start, batch;
} progress;

static void
show_progress(void *ctx, const char *stage, size_t step, size_t total, const sdlab_progress_figure *fig, size_t nfig)
{
  (void)stage; /* SDLAB_RUN_STEP, with its loss, L0 and dead fraction */
  progress *pr = ctx;
  const double now = sdlab_now();
  if (nfig < 3 || pr->quiet || (pr->tty ? now - pr->last <= 0.2 : now - pr->last <= 5.0))
    return;
  const double rate = (double)((step - pr->start) * pr->batch) / (now - pr->t0);
  const double left = (double)((total - step) * pr->batch) / rate;
  fprintf(stderr, "%sstep %zu/%zu  loss %.5g  L0 %.1f  dead %.1f%%  %.0f samples/s  %.0f s left%s",
          pr->tty ? "\r\033[K" : "sdlab train: ", step, total, fig[0].value, fig[1].value, 100 * fig[2].value, rate, left,
          pr->tty ? "" : "\n");
  pr->last = now;
}

/* One sequence of set-up steps (options, data, anchors, trainer, staging), the loop and the outputs, each step
 * guarded by the status of the ones before, so that every exit path shares the one clean-up at the end: split
 * further, each part would carry that clean-up with it.  The work is in experiments/sdlab_run.c. */
/* The configuration fitted to the data d: sizes and target, the batch and --top checked against the samples, the
 * anchors (random ground-truth features, or a file; into an) */
static int
fit_to_data(const sdlab_opt *o, sdlab_run_data *d, sdlab_run_inputs *in, size_t topk_rows, size_t nanch,
            sdlab_train_config *c, sdlab_run_anchors *an)
{
  c->p = d->p;
  c->r = d->xr ? d->r : d->p;
  c->sae = d->xr == NULL;
  int status = SDLAB_SUCCESS;
  if (d->N < c->batch)
    status = sdlab_fail(SDLAB_ESHAPE, "%s holds %zu samples, fewer than the batch size %zu", in->path[SDLAB_RUN_XP],
                        d->N, c->batch);
  if (!status && o[O_TOP].value && (topk_rows == 0 || topk_rows > d->N))
    status = sdlab_fail(SDLAB_EPARAM, "--top needs 1 to %zu rows per latent", d->N);
  if (!status && (o[O_ANCHORF].value || nanch))
    status = sdlab_run_anchors_make(d, o[O_ANCHORF].value, nanch, c->seed, c->r, an, in);
  c->anchors = an->count;
  c->anchor_p = an->p;
  c->anchor_r = an->r;
  if (!status && !d->dir && o[O_ANCHORS].value && !o[O_ANCHORF].value)
    status = sdlab_fail(SDLAB_EPARAM, "--anchors needs a bench directory or --anchor-file");
  return status;
}

/* A run stopped (--stop-after) or interrupted (a signal) with its checkpoint written: says so, and returns -256 or
 * minus the signal's number (the exit statuses 0 and 128 + the number) */
static int
report_stop(sdlab_run_end end, int sig, int tty, size_t step, size_t total, const char *out)
{
  if (tty)
    fprintf(stderr, "\r\033[K");
  fprintf(stderr, "sdlab train: %s at step %zu of %zu; checkpoint written; continue with sdlab train --resume %s\n",
          end == SDLAB_RUN_INTERRUPTED ? "interrupted" : "stopped", step, total, out);
  return end == SDLAB_RUN_INTERRUPTED ? -sig : -256;
}

/* The disk a run's outputs need, estimated before training (a gross shortfall is refused then; a near one meets
 * the write that fails, with the run kept when it has a checkpoint): W_E and W_D as .npy and safetensors, the
 * per-step curve, a checkpoint (parameters, Adam's two moments, the curve), codes and top rows when asked for, and
 * a block's slack for each of about 16 files */
static uint64_t
disk_needed(const sdlab_train_config *c, size_t total, size_t ckpt_every, int codes, size_t N, size_t topk_rows)
{
  const uint64_t params = (uint64_t)c->q * c->p + (uint64_t)c->r * c->q;
  return 8 * params + 128 * (uint64_t)total + (ckpt_every ? 12 * params + 64 * (uint64_t)total : 0) +
         (codes ? 4 * (uint64_t)N * c->q : 0) + 16 * (uint64_t)c->q * topk_rows + 65536;
}

/* A finished run: its outputs into staging, the summary line unless quiet, then the checkpoint dropped and
 * staging published as out (replacing an existing out when replace) */
static int
publish(sdlab_trainer *t, const sdlab_run_history *h, const sdlab_run_info *info, const char *staging,
        const char *out, int replace, int quiet, size_t steps, double seconds, double rate)
{
  sdlab_run_final fin;
  int st2 = sdlab_run_write(t, h, info, staging, &fin);
  if (!quiet && !st2)
    fprintf(stderr, "sdlab train: %s: %zu steps in %.1f s (%.0f samples/s); L0 %.1f, dead %.1f%%, explained "
            "variance %.4f%s", out, steps, seconds, rate, fin.l0, 100 * fin.dead, fin.ev, info->Wp ? "" : "\n");
  if (!quiet && !st2 && info->Wp)
    fprintf(stderr, "; M_GT %.4f, M_IP %.4f\n", fin.mgt, fin.mip);
  if (!st2) { /* the run is complete: drop the checkpoint, publish RUN */
    char cp[4300];
    snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
    unlink(cp);
    char *sdir = strdup(staging);
    st2 = sdir ? sdlab_io_outdir_commit(sdir, out, replace) : sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  return st2;
}

/* After a failure (a full disk, a diverged run): RUN.partial stays only to resume, with the error saying so;
 * without a checkpoint it is removed */
static void
keep_or_abort(int status, const char *staging, const char *out)
{
  char cp[4300];
  snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
  if (access(cp, F_OK) == 0)
    sdlab_fail(status, "%s; the run is kept in %s: sdlab train --resume %s continues from its last checkpoint",
               sdlab_error_message(status), staging, out);
  else
    sdlab_io_outdir_abort(strdup(staging));
}

/* A resumed run: the checkpoint's inputs checked against the files, the trainer and history restored, the staging
 * directory cleared of a killed run's partial outputs */
static int
resume_run(FILE *ckfp, const char *ckpath, sdlab_run_inputs *in, sdlab_trainer *t, sdlab_run_history *h, size_t total,
           size_t spe, const char *staging)
{
  int status = sdlab_run_checkpoint_inputs(ckfp, ckpath, in);
  if (!status)
    status = sdlab_run_checkpoint_state(ckfp, ckpath, t, h, total, spe);
  if (!status)
    status = sdlab_run_staging_clean(staging);
  return status;
}

/* A new run: the initial model from init (before RUN.partial exists: a refused --init leaves nothing), then the
 * staging directory begun */
static int
start_run(sdlab_trainer *t, const char *init, const sdlab_train_config *c, const char *staging, const char *out,
          int force)
{
  int status = init ? sdlab_run_init(t, init, c) : SDLAB_SUCCESS;
  if (!status)
    status = sdlab_run_staging_begin(staging, out, force);
  return status;
}

/* The command from its options to its exit status (about 145 lines): each step is one call (method_alias and
 * configure, fit_to_data, disk_needed, start_run or resume_run, sdlab_run_train, report_stop, publish,
 * keep_or_abort); what stays here is their order, the state they pass on and the cleanup they share. */
int
sdlab_cmd_train(int argc, char **argv)
{
  /* from the start: a signal during set-up takes effect after the first step, with a checkpoint */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, NAMES, O_COUNT, "--biases --no-unit-decoder --no-tied-init --force --quiet --codes");
  int pr = sdlab_cli_parse("train", argc, argv, o, O_COUNT);
  if (pr == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (pr)
    return SDLAB_EXIT_USAGE;
  /* --resume RUN: the options come from the checkpoint */
  char **sargv = NULL;
  int sargc = 0, quiet = o[O_QUIET].value != NULL;
  FILE *ckfp = NULL;
  const char *resume = o[O_RESUME].value;
  char ckpath[4200];
  if (resume) {
    snprintf(ckpath, sizeof ckpath, "%s.partial/checkpoint.bin", resume);
    const int r = resume_options(o, ckpath, &sargc, &sargv, &ckfp);
    if (r >= 0)
      return r;
  }
  static const char *need[] = {"--data", "--method", "--latents", "--out"};
  if (sdlab_cli_require("train", o, O_COUNT, need, 4))
    return SDLAB_EXIT_USAGE;
  quiet = o[O_QUIET].value != NULL;
  const char *out = o[O_OUT].value;
  const int force = o[O_FORCE].value != NULL;
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  int threads = 2;
  size_t epochs = 1, ckpt_every = 0, stop_after = 0;
  double converge = 0;
  if (method_alias(o) || configure(o, &c, &threads, &epochs, &ckpt_every, &converge))
    return SDLAB_EXIT_USAGE;
  if (o[O_STOP].value && sdlab_cli_size("train", "--stop-after", o[O_STOP].value, &stop_after))
    return SDLAB_EXIT_USAGE;
  size_t topk_rows = 0, nanch = 0; /* checked against the data below */
  if ((o[O_TOP].value && sdlab_cli_size("train", "--top", o[O_TOP].value, &topk_rows)) ||
      (o[O_ANCHORS].value && sdlab_cli_size("train", "--anchors", o[O_ANCHORS].value, &nanch)))
    return SDLAB_EXIT_USAGE;
  /* data */
  const char *data = o[O_DATA].value;
  sdlab_run_data d = {0};
  sdlab_run_inputs in = {0};
  int status = sdlab_run_data_load(data, &d, &in);
  if (status == SDLAB_EIO && !d.xp) /* a missing input is the data's fault (exit 1), as in every command */
    return sdlab_cli_fail("train", status);
  float *xp = d.xp, *xr = d.xr;
  const size_t N = d.N;
  const gsl_matrix *Wp = d.Wp, *Wr = d.Wr;
  const int dir = d.dir;
  sdlab_run_anchors an = {0};
  if (!status)
    status = fit_to_data(o, &d, &in, topk_rows, nanch, &c, &an);
  nanch = an.count;
  const uint64_t *anchor_ids = an.ids;
  const size_t spe = N / (c.batch ? c.batch : 1);
  size_t total = epochs * spe; /* the cap; with --converge the run may end sooner */
  c.total_steps = total;
  sdlab_trainer *t = NULL;
  if (!status)
    status = sdlab_train_config_check(&c);
  if (!status) /* the memory first: a trainer that cannot be held is refused whatever the disk */
    status = sdlab_io_memory_check("the trainer", sdlab_trainer_bytes(&c));
  if (!status && !resume)
    status = sdlab_io_space_check(out, disk_needed(&c, total, ckpt_every, o[O_CODES].value != NULL, N, topk_rows));
  if (!status && (t = sdlab_trainer_alloc(&c, threads)) == NULL)
    status = GSL_ENOMEM; /* the configuration passed its check: the allocation failed (its message is recorded) */
  /* the output: a persistent staging directory RUN.partial */
  char staging[4200];
  snprintf(staging, sizeof staging, "%s.partial", out);
  sdlab_run_history h = {0};
  if (!status) {
    h.curve = calloc(total + 1, sizeof *h.curve);
    h.epochs = calloc(epochs + 1, sizeof *h.epochs);
    if (!h.curve || !h.epochs)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  if (!status)
    status = resume ? resume_run(ckfp, ckpath, &in, t, &h, total, spe, staging)
                    : start_run(t, o[O_INIT].value, &c, staging, out, force);
  const int own_staging = !status; /* RUN.partial is this run's from here on */
  if (ckfp)
    fclose(ckfp);
  unsigned char *exclude = NULL; /* the anchored features, left out of the scores */
  if (!status && Wp && nanch && anchor_ids) {
    if ((exclude = calloc(Wp->size2, 1)) == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    for (size_t j = 0; exclude && j < nanch; j++)
      exclude[anchor_ids[j]] = 1;
  }
  /* the loop */
  const int tty = !quiet && isatty(STDERR_FILENO);
  sdlab_train_state *s = t ? sdlab_trainer_state(t) : NULL;
  const size_t start = s ? s->step : 0;
  progress prog = {quiet, tty, sdlab_now(), 0, start, c.batch};
  prog.last = prog.t0;
  sdlab_run_end end = SDLAB_RUN_DONE;
  int sig = 0;
  if (!status) {
    char cp[4300];
    snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
    const sdlab_run_loop loop = {xp, xr, N, Wp, Wr, exclude, threads, total, spe, converge, ckpt_every, stop_after, cp,
                                 resume ? sargc : argc, resume ? sargv : argv, &in, &interrupted, show_progress, &prog};
    status = sdlab_run_train(t, &h, &loop, &total, &end, &sig);
  }
  const int stopped_converged = end == SDLAB_RUN_CONVERGED;
  if (!status && (end == SDLAB_RUN_STOPPED || end == SDLAB_RUN_INTERRUPTED))
    status = report_stop(end, sig, tty, h.ncurve, total, out);
  if (tty && !quiet)
    fprintf(stderr, "\r\033[K");
  const double seconds = sdlab_now() - prog.t0;
  if (t)
    s = sdlab_trainer_state(t); /* every decoder row up to date (rows are updated when read, see sdlab_train.h) */
  /* outputs */
  if (!status) {
    const sdlab_run_info info = {o[O_METHOD].value, dir ? data : NULL, xp, xr, N, Wp, Wr, exclude, anchor_ids, nanch,
                                 threads, topk_rows, o[O_CODES].value != NULL, total, spe, converge, stopped_converged};
    const double rate = (double)((total - start) * c.batch) / seconds;
    status = publish(t, &h, &info, staging, out, force || resume, quiet, total - start, seconds, rate);
  }
  if (status > 0 && own_staging)
    keep_or_abort(status, staging, out);
  sdlab_trainer_free(t);
  sdlab_run_anchors_free(&an);
  free(exclude);
  free(h.curve);
  free(h.epochs);
  sdlab_run_inputs_free(&in);
  sdlab_run_data_free(&d);
  for (int i = 0; sargv && i < sargc; i++)
    free(sargv[i]);
  free(sargv);
  if (status == -256)
    return SDLAB_EXIT_OK; /* stopped as asked */
  if (status < 0)
    return 128 - status; /* interrupted by a signal: 128 + its number */
  return status ? sdlab_cli_fail("train", status) : SDLAB_EXIT_OK;
}
