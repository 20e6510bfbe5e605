/* sdlab train: train an SDL model on a bench directory or on activations a user brings. */
#define _POSIX_C_SOURCE 200809L
#include "sdlab_cli.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_metrics.h"
#include "sdlab_npy.h"
#include "sdlab_safetensors.h"
#include "sdlab_sae.h"
#include "sdlab_train.h"

#include <dirent.h>
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
#include <zlib.h>

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
  "                     Rajamanoharan et al. 2024, gate and magnitude biases always trained)\n"
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

static int
exists_path(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0;
}

typedef struct {
  double loss, mse, l0, dead, lr;
} curve_point;

typedef struct {
  double loss, l0, dead, mgt, mip, dmgt, dmip; /* M_GT and M_IP of the encoder rows, then of the decoder columns */
} epoch_point;

typedef struct {
  curve_point *curve;
  size_t ncurve;
  epoch_point *epochs;
  size_t nepochs;
} history;

/* The inputs a run reads.  A checkpoint records each one's shape and CRC-32, so that a resumed run refuses
 * data that changed since: the shapes fix the number of steps (the history buffers are sized from them), the
 * CRC catches values edited in place. */
enum { IN_XP, IN_XR, IN_WP, IN_WR, IN_ANCHORS, IN_COUNT };
static const char *const IN_NAMES[IN_COUNT] = {"the data x_p", "the targets x_r", "the ground truth W_p",
                                               "the target directions W_r", "the anchor file"};

typedef struct {
  uint64_t rows, cols; /* 0 x 0: the run has no such input */
  uint32_t crc;
} input_print;

typedef struct {
  char *path[IN_COUNT];          /* owned; NULL when absent */
  const float *f[IN_COUNT];      /* float32 inputs as the trainer reads them (x_p, x_r, the anchor rows) */
  const gsl_matrix *m[IN_COUNT]; /* float64 inputs (W_p, W_r) */
  size_t rows[IN_COUNT], cols[IN_COUNT];
  input_print print[IN_COUNT];
  int printed;
} train_inputs;

/* Record input k (taking ownership of path). */
static void
inputs_set(train_inputs *in, int k, char *path, const float *f, const gsl_matrix *m, size_t rows, size_t cols)
{
  free(in->path[k]);
  in->path[k] = path;
  in->f[k] = f;
  in->m[k] = m;
  in->rows[k] = rows;
  in->cols[k] = cols;
}

static void
inputs_free(train_inputs *in)
{
  for (int k = 0; k < IN_COUNT; k++)
    free(in->path[k]);
}

static uint32_t
crc_bytes(uint32_t crc, const void *p, size_t n)
{
  const unsigned char *b = p;
  while (n > 0) { /* zlib takes at most UINT_MAX bytes at a time */
    const uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return crc;
}

/* The inputs' shapes and CRC-32s, computed when first needed (a checkpoint or a resume; a plain run pays
 * nothing). */
static const input_print *
inputs_print(train_inputs *in)
{
  for (int k = 0; !in->printed && k < IN_COUNT; k++) {
    input_print *ip = &in->print[k];
    ip->rows = in->path[k] ? in->rows[k] : 0;
    ip->cols = in->path[k] ? in->cols[k] : 0;
    ip->crc = crc_bytes(0, NULL, 0);
    if (in->f[k])
      ip->crc = crc_bytes(ip->crc, in->f[k], in->rows[k] * in->cols[k] * sizeof(float));
    for (size_t i = 0; in->m[k] && i < in->rows[k]; i++)
      ip->crc = crc_bytes(ip->crc, gsl_matrix_const_ptr(in->m[k], i, 0), in->cols[k] * sizeof(double));
  }
  in->printed = 1;
  return in->print;
}

/* Checkpoint format 2, in the byte order of the machine that wrote it:
 *   "SDLABCKP", uint32 version (2);
 *   the arguments: uint64 count, then each as uint64 length and bytes (--stop-after and --quiet left out);
 *   the inputs x_p, x_r, W_p, W_r and the anchor file: each uint64 rows, uint64 columns (0 x 0 when absent)
 *   and uint32 CRC-32 of the values as the run read them (float32 x_p, x_r, anchor rows; float64 W_p, W_r);
 *   uint64 p, q, r, step; the trainer's 21 float arrays; last_active (q uint64); the batchtopk threshold;
 *   the history: uint64 count and the curve points (one per step), uint64 count and the epoch points;
 *   uint32 CRC-32 of every byte before it.
 * Format 1 ("SDLABCK1": no version, input record or checksum) is refused. */
static const char CKPT_MAGIC[8] = {'S', 'D', 'L', 'A', 'B', 'C', 'K', 'P'};
static const char CKPT_MAGIC_V1[8] = {'S', 'D', 'L', 'A', 'B', 'C', 'K', '1'};
enum { CKPT_VERSION = 2, CKPT_HEADER = 12 };
/* the way forward every refused resume names */
#define START_OVER "start over: rerun the original command with --force"

/* Whether argv[*i] is left out of the options a resumed run repeats: --stop-after (it would stop again at once;
 * *i then steps over its value) and --quiet. */
static int
not_resumed(char **argv, int *i)
{
  if (strcmp(argv[*i], "--stop-after") == 0) {
    (*i)++;
    return 1;
  }
  return strcmp(argv[*i], "--quiet") == 0 || strncmp(argv[*i], "--stop-after=", 13) == 0;
}

typedef struct {
  FILE *fp;
  uint32_t crc; /* of everything written so far */
} ckpt_writer;

static void
ckpt_put(ckpt_writer *w, const void *p, size_t size, size_t n)
{
  fwrite(p, size, n, w->fp);
  w->crc = crc_bytes(w->crc, p, size * n);
}

static void
ckpt_put_u64(ckpt_writer *w, uint64_t v)
{
  ckpt_put(w, &v, sizeof v, 1);
}

/* The trainer's float arrays and their lengths, in checkpoint order. */
#define CKPT_ARRAYS(s) {s->WE, s->WDt, s->bE, s->bD, s->theta, s->mWE, s->vWE, s->mWDt, s->vWDt, s->mbE, s->vbE, \
                        s->mbD, s->vbD, s->mth, s->vth, s->rmag, s->bmag, s->mrm, s->vrm, s->mbm, s->vbm}
#define CKPT_SIZES {q * p, q * r, q, r, q, q * p, q * p, q * r, q * r, q, q, r, r, q, q, q, q, q, q, q, q}

static int
write_checkpoint(const char *path, int argc, char **argv, sdlab_trainer *t, const history *h, train_inputs *in)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t p = c->p, q = c->q, r = c->r;
  const input_print *ip = inputs_print(in);
  sdlab_atomic_file f;
  int status = sdlab_atomic_open(&f, path);
  if (status)
    return status;
  ckpt_writer w = {f.fp, crc_bytes(0, NULL, 0)};
  const uint32_t version = CKPT_VERSION;
  ckpt_put(&w, CKPT_MAGIC, 1, 8);
  ckpt_put(&w, &version, sizeof version, 1);
  uint64_t n = 0;
  for (int i = 0; i < argc; i++)
    n += !not_resumed(argv, &i);
  ckpt_put_u64(&w, n);
  for (int i = 0; i < argc; i++) {
    if (not_resumed(argv, &i))
      continue;
    ckpt_put_u64(&w, strlen(argv[i]));
    ckpt_put(&w, argv[i], 1, strlen(argv[i]));
  }
  for (int k = 0; k < IN_COUNT; k++) {
    ckpt_put_u64(&w, ip[k].rows);
    ckpt_put_u64(&w, ip[k].cols);
    ckpt_put(&w, &ip[k].crc, sizeof ip[k].crc, 1);
  }
  const uint64_t dims[4] = {p, q, r, s->step};
  ckpt_put(&w, dims, sizeof *dims, 4);
  const float *arrays[] = CKPT_ARRAYS(s);
  const size_t sizes[] = CKPT_SIZES;
  for (size_t k = 0; k < 21; k++)
    ckpt_put(&w, arrays[k], sizeof(float), sizes[k]);
  ckpt_put(&w, s->last_active, sizeof *s->last_active, q);
  ckpt_put(&w, &s->threshold, sizeof s->threshold, 1);
  ckpt_put_u64(&w, h->ncurve);
  ckpt_put(&w, h->curve, sizeof *h->curve, h->ncurve);
  ckpt_put_u64(&w, h->nepochs);
  ckpt_put(&w, h->epochs, sizeof *h->epochs, h->nepochs);
  fwrite(&w.crc, sizeof w.crc, 1, f.fp);
  return sdlab_atomic_commit(&f);
}

/* The CRC-32 in a checkpoint's last four bytes against every byte before them. */
static int
ckpt_verify(FILE *fp, const char *path)
{
  long size;
  if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
    return sdlab_fail(SDLAB_EIO, "cannot read %s: %s", path, strerror(errno));
  uint32_t crc = crc_bytes(0, NULL, 0), stored = 0;
  unsigned char buf[65536];
  for (long left = size - 4; left > 0;) {
    const size_t want = left < (long)sizeof buf ? (size_t)left : sizeof buf;
    if (fread(buf, 1, want, fp) != want)
      return sdlab_fail(SDLAB_EIO, "cannot read %s", path);
    crc = crc_bytes(crc, buf, want);
    left -= (long)want;
  }
  if (size < CKPT_HEADER + 4 || fread(&stored, sizeof stored, 1, fp) != 1 || stored != crc)
    return sdlab_fail(SDLAB_EBADFILE, "%s is damaged: its checksum does not match its contents (the file was altered "
                      "or truncated), so it is not resumed; " START_OVER, path);
  return SDLAB_SUCCESS;
}

/* Open a checkpoint and check it whole before anything in it is used: magic, version, checksum.  *fp_out is
 * left just after the header. */
static int
ckpt_open(const char *path, FILE **fp_out)
{
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return sdlab_input_check(path);
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return sdlab_fail(SDLAB_EIO, "no checkpoint at %s (was the run started with --checkpoint-every?)", path);
  char magic[8];
  uint32_t version;
  int status = SDLAB_SUCCESS;
  if (fread(magic, 1, 8, fp) != 8 || (memcmp(magic, CKPT_MAGIC, 8) != 0 && memcmp(magic, CKPT_MAGIC_V1, 8) != 0))
    status = sdlab_fail(SDLAB_EBADFILE, "%s is not an sdlab checkpoint", path);
  else if (memcmp(magic, CKPT_MAGIC_V1, 8) == 0)
    status = sdlab_fail(SDLAB_EBADFILE, "%s has checkpoint format 1 (from an earlier sdlab, without checksum or record "
                        "of its data), which is not resumed; " START_OVER, path);
  else if (fread(&version, sizeof version, 1, fp) != 1)
    status = sdlab_fail(SDLAB_EBADFILE, "%s is truncated inside its header", path);
  else if (version != CKPT_VERSION)
    status = sdlab_fail(SDLAB_EBADFILE, "%s has checkpoint format %lu; this sdlab resumes format %d only ("
                        START_OVER ")", path, (unsigned long)version, CKPT_VERSION);
  if (!status)
    status = ckpt_verify(fp, path);
  if (!status && fseek(fp, CKPT_HEADER, SEEK_SET) != 0)
    status = sdlab_fail(SDLAB_EIO, "cannot read %s", path);
  if (status) {
    fclose(fp);
    return status;
  }
  *fp_out = fp;
  return SDLAB_SUCCESS;
}

/* Read the stored arguments of a checkpoint (argv malloc'd; argv[0] is "train"); *fp_out is left at the
 * input record. */
static int
read_checkpoint_args(const char *path, int *argc, char ***argv, FILE **fp_out)
{
  FILE *fp = NULL;
  int status = ckpt_open(path, &fp);
  if (status)
    return status;
  uint64_t n;
  if (fread(&n, sizeof n, 1, fp) != 1 || n == 0 || n > 1000) {
    fclose(fp);
    return sdlab_fail(SDLAB_EBADFILE, "%s: a checkpoint with an impossible argument count", path);
  }
  char **v = calloc(n + 1, sizeof *v);
  for (uint64_t i = 0; v && i < n; i++) {
    uint64_t len;
    if (fread(&len, sizeof len, 1, fp) != 1 || len > 4096 || (v[i] = calloc(len + 1, 1)) == NULL ||
        fread(v[i], 1, len, fp) != len) {
      for (uint64_t k = 0; k <= i; k++)
        free(v[k]);
      free(v);
      v = NULL;
    }
  }
  if (v == NULL) {
    fclose(fp);
    return sdlab_fail(SDLAB_EBADFILE, "%s: a checkpoint with unreadable arguments", path);
  }
  *argc = (int)n;
  *argv = v;
  *fp_out = fp;
  return SDLAB_SUCCESS;
}

/* The checkpoint's input record against the inputs the resumed run has just read. */
static int
ckpt_check_inputs(FILE *fp, const char *path, train_inputs *in)
{
  const input_print *now = inputs_print(in);
  for (int k = 0; k < IN_COUNT; k++) {
    uint64_t rows, cols;
    uint32_t crc;
    if (fread(&rows, sizeof rows, 1, fp) != 1 || fread(&cols, sizeof cols, 1, fp) != 1 ||
        fread(&crc, sizeof crc, 1, fp) != 1)
      return sdlab_fail(SDLAB_EBADFILE, "%s: truncated checkpoint", path);
    if (rows == 0 && cols == 0 && in->path[k] == NULL)
      continue;
    if (in->path[k] == NULL)
      return sdlab_fail(SDLAB_EBADFILE, "cannot resume from %s: it was made with %s (%llu x %llu), which is now "
                        "missing (" START_OVER ")", path, IN_NAMES[k], (unsigned long long)rows,
                        (unsigned long long)cols);
    if (rows != now[k].rows || cols != now[k].cols)
      return sdlab_fail(SDLAB_EBADFILE, "cannot resume from %s: it was made from %s with %llu x %llu values, and %s "
                        "now holds %zu x %zu (the data changed since; " START_OVER ")", path, IN_NAMES[k],
                        (unsigned long long)rows, (unsigned long long)cols, in->path[k], in->rows[k], in->cols[k]);
    if (crc != now[k].crc)
      return sdlab_fail(SDLAB_EBADFILE, "cannot resume from %s: %s holds different values than when the checkpoint "
                        "was made (same %zu x %zu shape, CRC-32 %08lx, was %08lx); " START_OVER, path, in->path[k],
                        in->rows[k], in->cols[k], (unsigned long)now[k].crc, (unsigned long)crc);
  }
  return SDLAB_SUCCESS;
}

/* The trainer's state and the history, every count bounded by the run's sizes (total steps, steps per
 * epoch): the curve holds one point per step done, the epochs one per epoch completed. */
static int
read_checkpoint_state(FILE *fp, const char *path, sdlab_trainer *t, history *h, size_t total, size_t spe)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t p = c->p, q = c->q, r = c->r;
  uint64_t dims[4];
  if (fread(dims, sizeof *dims, 4, fp) != 4 || dims[0] != p || dims[1] != q || dims[2] != r)
    return sdlab_fail(SDLAB_EBADFILE, "%s does not match the run's sizes", path);
  if (dims[3] > total)
    return sdlab_fail(SDLAB_EBADFILE, "%s is at step %llu, beyond the run's %zu steps", path,
                      (unsigned long long)dims[3], total);
  s->step = dims[3];
  float *arrays[] = CKPT_ARRAYS(s);
  const size_t sizes[] = CKPT_SIZES;
  for (size_t k = 0; k < 21; k++)
    if (fread(arrays[k], sizeof(float), sizes[k], fp) != sizes[k])
      return sdlab_fail(SDLAB_EBADFILE, "%s: truncated checkpoint", path);
  uint64_t nc, ne;
  if (fread(s->last_active, sizeof *s->last_active, q, fp) != q ||
      fread(&s->threshold, sizeof s->threshold, 1, fp) != 1 || fread(&nc, sizeof nc, 1, fp) != 1)
    return sdlab_fail(SDLAB_EBADFILE, "%s: truncated checkpoint", path);
  if (nc != s->step)
    return sdlab_fail(SDLAB_EBADFILE, "%s holds %llu curve points for %zu steps", path, (unsigned long long)nc,
                      s->step);
  if (fread(h->curve, sizeof *h->curve, nc, fp) != nc || fread(&ne, sizeof ne, 1, fp) != 1)
    return sdlab_fail(SDLAB_EBADFILE, "%s: truncated checkpoint", path);
  if (ne != s->step / spe)
    return sdlab_fail(SDLAB_EBADFILE, "%s holds %llu epochs for %zu steps of %zu", path, (unsigned long long)ne,
                      s->step, spe);
  uint32_t crc;
  if (fread(h->epochs, sizeof *h->epochs, ne, fp) != ne || fread(&crc, sizeof crc, 1, fp) != 1 || fgetc(fp) != EOF)
    return sdlab_fail(SDLAB_EBADFILE, "%s: the checkpoint's length does not match its contents", path);
  h->ncurve = nc;
  h->nepochs = ne;
  return SDLAB_SUCCESS;
}

/* A resumed run rewrites every output: remove whatever a killed run left in RUN.partial besides the
 * checkpoint (outputs, the sae_weights.safetensors link, temporary files), so that none of it is published. */
static int
clean_staging(const char *staging)
{
  DIR *d = opendir(staging);
  if (d == NULL)
    return sdlab_fail(SDLAB_EIO, "cannot read %s: %s", staging, strerror(errno));
  int status = SDLAB_SUCCESS;
  struct dirent *e;
  while (!status && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "checkpoint.bin") == 0)
      continue;
    char *p = sdlab_path_join(staging, e->d_name);
    struct stat st;
    if (p == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    else if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      sdlab_outdir_abort(strdup(p)); /* removes the tree */
    else if (unlink(p) != 0 && errno != ENOENT)
      status = sdlab_fail(SDLAB_EIO, "cannot remove %s: %s", p, strerror(errno));
    free(p);
  }
  closedir(d);
  return status;
}

/* A fresh RUN.partial for a new run.  --force starts over: RUN.partial left by an interrupted or killed run
 * goes, checkpoint and all.  Without it a leftover is refused with what to do.  RUN.old-PID left by a killed
 * process (one replacing RUN) goes. */
static int
begin_staging(const char *staging, const char *out, int force)
{
  if (exists_path(out) && !force)
    return sdlab_fail(GSL_EINVAL, "%s already exists (use --force to replace it)", out);
  int status = sdlab_outdir_clean_stale(out); /* RUN.old-PID of a killed run */
  if (status)
    return status;
  if (exists_path(staging) && force) {
    sdlab_outdir_abort(strdup(staging));
  } else if (exists_path(staging)) {
    char cp[4300];
    snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
    if (exists_path(cp))
      return sdlab_fail(GSL_EINVAL, "%s exists from an interrupted run: continue it with sdlab train --resume %s, "
                        "or start over with --force", staging, out);
    return sdlab_fail(GSL_EINVAL, "%s is left from a run stopped before its first checkpoint: start over with "
                      "--force", staging);
  }
  if (mkdir(staging, 0777) != 0)
    return sdlab_fail(SDLAB_EIO, "cannot create %s: %s", staging, strerror(errno));
  return SDLAB_SUCCESS;
}

/* M_GT (tau = 0.95), M_IP and MCC of q learned directions (rows of D, q x dim: encoder rows or decoder
 * columns) against the ground truth's columns (excluded features skipped). */
static void
recovery(const float *D, size_t q, size_t dim, const gsl_matrix *truth, const unsigned char *exclude, int threads,
         double *mgt, double *mip, double *mcc)
{
  gsl_matrix *L = gsl_matrix_alloc(q, dim);
  for (size_t k = 0; k < q * dim; k++)
    L->data[k] = D[k];
  *mgt = *mip = NAN; /* left so when the similarity cannot be formed */
  if (sdlab_metrics_recovery(L, truth, 1, exclude, 0.95, threads, NULL, mgt, mip, mcc) && mcc)
    *mcc = NAN;
  gsl_matrix_free(L);
}

/* L0, dead fraction and explained variance of the trained model on the first `rows` inputs, in blocks of 1024
 * rows (the statistics accumulate sample by sample, so the blocks change nothing but the memory: a block of
 * n_q = 16,000 codes in double is 131 MB where all 8,192 rows at once took 1 GB). */
static int
final_stats(sdlab_trainer *t, const float *xp, const float *xr, size_t rows, double *l0, double *dead, double *ev)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  const sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t q = c->q, rr = c->r, blk = rows < 1024 ? rows : 1024;
  const float *tgt = xr ? xr : xp;
  float *a = malloc(blk * q * sizeof *a);
  gsl_matrix *A = gsl_matrix_alloc(blk, q), *X = gsl_matrix_alloc(blk, rr), *Xh = gsl_matrix_alloc(blk, rr);
  sdlab_metrics_stats ms;
  int status = a && A && X && Xh ? sdlab_metrics_stats_init(&ms, q, rr) : GSL_ENOMEM;
  for (size_t r0 = 0; !status && r0 < rows; r0 += blk) {
    const size_t b = rows - r0 < blk ? rows - r0 : blk;
    gsl_matrix_view Av = gsl_matrix_submatrix(A, 0, 0, b, q), Xv = gsl_matrix_submatrix(X, 0, 0, b, rr),
                    Hv = gsl_matrix_submatrix(Xh, 0, 0, b, rr);
    status = sdlab_trainer_encode(t, xp + r0 * c->p, b, a);
    for (size_t k = 0; !status && k < b * q; k++)
      A->data[k] = a[k];
    for (size_t sidx = 0; !status && sidx < b; sidx++) { /* x_hat = b_D + sum over the active latents */
      double *xh = gsl_matrix_ptr(Xh, sidx, 0);
      for (size_t j = 0; j < rr; j++) {
        xh[j] = c->biases ? s->bD[j] : 0.0;
        gsl_matrix_set(X, sidx, j, tgt[(r0 + sidx) * rr + j]);
      }
      for (size_t i = 0; i < q; i++) {
        const float ai = a[sidx * q + i];
        if (ai != 0)
          for (size_t j = 0; j < rr; j++)
            xh[j] += (double)ai * s->WDt[i * rr + j];
      }
    }
    if (!status)
      status = sdlab_metrics_stats_add(&ms, &Av.matrix, &Xv.matrix, &Hv.matrix);
  }
  if (a && A && X && Xh) {
    if (!status)
      sdlab_metrics_stats_result(&ms, l0, dead, ev);
    sdlab_metrics_stats_free(&ms);
  }
  free(a);
  if (A) gsl_matrix_free(A);
  if (X) gsl_matrix_free(X);
  if (Xh) gsl_matrix_free(Xh);
  return status;
}

/* run.json: what sdlab export (and any reader) needs to know of the trained model beyond its arrays: the
 * method, the target (sae, transcoder or crosscoder: the bench's meta.json says which; an x_r.npy without one
 * is a transcoder), the sizes, the inference k and BatchTopK's threshold, the biases and the decoder's norm. */
static int
write_run_record(const sdlab_train_config *c, const char *method, const char *bench, double threshold,
                 const char *staging)
{
  const char *target = c->sae ? "sae" : "transcoder";
  json_t *meta = NULL;
  char *mp = bench ? sdlab_path_join(bench, "meta.json") : NULL;
  int status = bench && !mp ? sdlab_fail(GSL_ENOMEM, "out of memory") : SDLAB_SUCCESS;
  if (!status && mp && exists_path(mp) && !(status = sdlab_json_load(mp, &meta))) {
    json_t *tg = sdlab_json_at(meta, "parameters/target");
    if (tg && json_is_string(tg) && strcmp(json_string_value(tg), "crosscoder") == 0 && !c->sae)
      target = "crosscoder";
  }
  free(mp);
  if (status) {
    json_decref(meta);
    return status;
  }
  const int topk_family = c->method == SDLAB_TRAIN_TOPK || c->method == SDLAB_TRAIN_TOPK_AUXK ||
                          c->method == SDLAB_TRAIN_MATRYOSHKA || c->method == SDLAB_TRAIN_BATCHTOPK;
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_string(&j, "format", "sdlab run");
  sdlab_json_integer(&j, "format_version", 1);
  sdlab_json_string(&j, "method", method);
  sdlab_json_string(&j, "target", target);
  sdlab_json_integer(&j, "d_in", (long long)c->p);
  sdlab_json_integer(&j, "d_out", (long long)c->r);
  sdlab_json_integer(&j, "latents", (long long)c->q);
  if (topk_family) /* the k of the inference codes: Matryoshka's largest */
    sdlab_json_integer(&j, "k", (long long)(c->method == SDLAB_TRAIN_MATRYOSHKA && c->nks ? c->ks[c->nks - 1] : c->k));
  if (c->method == SDLAB_TRAIN_BATCHTOPK) /* inference: z > threshold (and z > 0) */
    sdlab_json_number(&j, "threshold", (double)(float)threshold);
  sdlab_json_bool(&j, "biases", c->biases);
  sdlab_json_bool(&j, "input_minus_b_dec", c->sae); /* codes read x - b_D (b_D = 0 without --biases) */
  sdlab_json_bool(&j, "unit_decoder", c->unit_decoder);
  sdlab_json_object_end(&j);
  json_decref(meta);
  return sdlab_json_write(&j, staging, "run.json");
}

/* --init DIR: the state from a trained model (an sdlab run's arrays, or another tool's W_E and W_D), checked
 * against the run's sizes; the unit-norm decoder's columns normalised as every step leaves them. */
static int
init_from(sdlab_trainer *t, const char *dir, const sdlab_train_config *c)
{
  sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t p = c->p, q = c->q, r = c->r;
  char *path = sdlab_path_join(dir, "W_E.npy");
  if (path == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  float *WE = NULL, *WD = NULL;
  size_t er = 0, ec = 0, dr = 0, dc = 0;
  int status = SDLAB_SUCCESS;
  const char *layout = "sdlab";
  if (exists_path(path)) { /* an sdlab run */
    status = sdlab_npy_load_floats(path, "--init W_E", &WE, &er, &ec);
    free(path);
    path = sdlab_path_join(dir, "W_D.npy");
    if (!status)
      status = path ? sdlab_npy_load_floats(path, "--init W_D", &WD, &dr, &dc) : sdlab_fail(GSL_ENOMEM, "out of memory");
  } else { /* another tool's layout */
    gsl_matrix *E = NULL, *D = NULL;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
      status = sdlab_fail(SDLAB_EIO, "--init %s is not a directory", dir);
    if (!status && (status = sdlab_sae_load_matrices(dir, &E, &D, &layout)))
      status = sdlab_fail(status, "--init: %s", sdlab_error_message(status));
    if (!status && (!(WE = malloc(E->size1 * E->size2 * sizeof *WE)) || !(WD = malloc(D->size1 * D->size2 * sizeof *WD))))
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    if (!status) {
      er = E->size1, ec = E->size2, dr = D->size1, dc = D->size2;
      for (size_t k = 0; k < er * ec; k++)
        WE[k] = (float)E->data[k];
      for (size_t k = 0; k < dr * dc; k++)
        WD[k] = (float)D->data[k];
    }
    if (E) gsl_matrix_free(E);
    if (D) gsl_matrix_free(D);
  }
  free(path);
  if (!status && (er != q || ec != p || dr != r || dc != q))
    status = sdlab_fail(SDLAB_ESHAPE, "--init %s (%s): W_E is %zu x %zu and W_D %zu x %zu; this run needs %zu x %zu "
                        "and %zu x %zu (--latents %zu, the data's %zu and %zu columns)", dir, layout, er, ec, dr, dc,
                        q, p, r, q, q, p, r);
  if (!status) {
    memcpy(s->WE, WE, q * p * sizeof *WE);
    for (size_t i = 0; i < q; i++) {
      double nn = 0;
      for (size_t a = 0; a < r; a++) {
        s->WDt[i * r + a] = WD[a * q + i];
        nn += (double)WD[a * q + i] * WD[a * q + i];
      }
      if (c->unit_decoder && nn > 0) {
        const float f = (float)(1.0 / sqrt(nn));
        for (size_t a = 0; a < r; a++)
          s->WDt[i * r + a] *= f;
      }
    }
  }
  free(WE);
  free(WD);
  /* an sdlab run's biases and thresholds, where this run trains them */
  static const char *const vecs[] = {"b_E.npy", "b_D.npy", "theta.npy"};
  float *const into[] = {s->bE, s->bD, s->theta};
  const size_t lens[] = {q, r, q};
  const int want[] = {c->biases, c->biases, c->method == SDLAB_TRAIN_JUMPRELU};
  for (size_t v = 0; !status && strcmp(layout, "sdlab") == 0 && v < 3; v++) {
    char *vp = want[v] ? sdlab_path_join(dir, vecs[v]) : NULL;
    float *x = NULL;
    if (vp && exists_path(vp) && !(status = sdlab_npy_load_vector(vp, "--init", lens[v], &x)))
      memcpy(into[v], x, lens[v] * sizeof *x);
    free(x);
    free(vp);
  }
  return status;
}

/* --top K: each latent's K most activating rows under the trained model's inference codes, as top.npy
 * (q x K int64 row indices, by activation descending, the lower row first on ties, -1 where fewer rows
 * activate the latent) and top_values.npy (q x K float32). */
/* --codes: the inference codes of every row (N x q float32) as codes.npy. */
static int
write_codes(sdlab_trainer *t, const float *xp, size_t N, const char *staging)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  const size_t q = c->q, p = c->p, B = c->batch;
  float *a = malloc(B * q * sizeof *a);
  double *rows = malloc(B * q * sizeof *rows);
  char *path = sdlab_path_join(staging, "codes.npy");
  int status = a && rows && path ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for --codes");
  sdlab_npy_writer w;
  const size_t shape[2] = {N, q};
  if (!status)
    status = sdlab_npy_writer_open(&w, path, SDLAB_F32, 2, shape);
  for (size_t s0 = 0; !status && s0 < N; s0 += B) {
    const size_t b = N - s0 < B ? N - s0 : B;
    status = sdlab_trainer_encode(t, xp + s0 * p, b, a);
    for (size_t k = 0; !status && k < b * q; k++)
      rows[k] = a[k];
    if (!status)
      status = sdlab_npy_writer_append(&w, rows, b);
    if (status)
      sdlab_npy_writer_abort(&w);
  }
  if (!status)
    status = sdlab_npy_writer_close(&w);
  free(a);
  free(rows);
  free(path);
  return status;
}

static int
write_top(sdlab_trainer *t, const float *xp, size_t N, size_t K, const char *staging)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  const size_t q = c->q, p = c->p, B = c->batch;
  long long *idx = malloc(q * K * sizeof *idx);
  float *val = malloc(q * K * sizeof *val), *a = malloc(B * q * sizeof *a);
  size_t *fill = calloc(q, sizeof *fill);
  int status = idx && val && a && fill ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for --top");
  /* per latent a min-heap of its K best (value, row); rows arrive in increasing order, so a later equal value
   * never displaces an earlier one */
  for (size_t s0 = 0; !status && s0 < N; s0 += B) {
    const size_t b = N - s0 < B ? N - s0 : B;
    status = sdlab_trainer_encode(t, xp + s0 * p, b, a);
    for (size_t s = 0; !status && s < b; s++)
      for (size_t i = 0; i < q; i++) {
        const float v = a[s * q + i];
        if (!(v > 0))
          continue;
        long long *hi = idx + i * K;
        float *hv = val + i * K;
        size_t n = fill[i], at;
        if (n < K) {
          at = n++;
          fill[i] = n;
          while (at > 0 && hv[(at - 1) / 2] >= v) { /* sift up: an equal value with an earlier row is better */
            hv[at] = hv[(at - 1) / 2];
            hi[at] = hi[(at - 1) / 2];
            at = (at - 1) / 2;
          }
        } else if (v > hv[0]) {
          at = 0;
          for (;;) { /* sift down from the root: children smaller (or equal and later) move up */
            size_t l = 2 * at + 1, r = l + 1, m = at;
            float mv = v;
            long long mi = (long long)(s0 + s);
            if (l < K && (hv[l] < mv || (hv[l] == mv && hi[l] > mi))) { m = l; mv = hv[l]; mi = hi[l]; }
            if (r < K && (hv[r] < mv || (hv[r] == mv && hi[r] > mi))) { m = r; }
            if (m == at)
              break;
            hv[at] = hv[m];
            hi[at] = hi[m];
            at = m;
          }
        } else {
          continue;
        }
        hv[at] = v;
        hi[at] = (long long)(s0 + s);
      }
  }
  for (size_t i = 0; !status && i < q; i++) { /* sort each latent's entries: value descending, row ascending */
    long long *hi = idx + i * K;
    float *hv = val + i * K;
    for (size_t x = 1; x < fill[i]; x++)
      for (size_t y = x; y > 0 && (hv[y] > hv[y - 1] || (hv[y] == hv[y - 1] && hi[y] < hi[y - 1])); y--) {
        float tv = hv[y]; hv[y] = hv[y - 1]; hv[y - 1] = tv;
        long long ti = hi[y]; hi[y] = hi[y - 1]; hi[y - 1] = ti;
      }
    for (size_t x = fill[i]; x < K; x++) {
      hi[x] = -1;
      hv[x] = 0;
    }
  }
  if (!status) {
    size_t shape[2] = {q, K};
    char *path = sdlab_path_join(staging, "top.npy");
    status = sdlab_npy_write(path, SDLAB_I64, 2, shape, idx);
    free(path);
    path = sdlab_path_join(staging, "top_values.npy");
    if (!status)
      status = sdlab_npy_write(path, SDLAB_F32, 2, shape, val);
    free(path);
  }
  free(idx);
  free(val);
  free(a);
  free(fill);
  return status;
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

/* Build the trainer configuration from the options (data sizes known). */
static int
configure(const sdlab_opt *o, sdlab_train_config *c, int *threads, size_t *epochs, size_t *ckpt_every,
          double *converge)
{
  static const char *methods[] = {"relu", "jumprelu", "topk", "batchtopk", "matryoshka", "topk-auxk", "gated"};
  int m = -1;
  for (int k = 0; k < 7; k++)
    if (strcmp(o[O_METHOD].value, methods[k]) == 0)
      m = k;
  if (m < 0) {
    fprintf(stderr, "sdlab train: error: unknown method '%s' (relu, jumprelu, topk, batchtopk, matryoshka, "
            "topk-auxk, gated)\n", o[O_METHOD].value);
    return SDLAB_EUSAGE;
  }
  c->method = (sdlab_train_method)m;
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
    for (int k = 0; k < O_COUNT; k++)
      if (o[k].value && k != O_RESUME && k != O_QUIET && k != O_STOP && k != O_THREADS) {
        fprintf(stderr, "sdlab train: error: --resume takes no other options (%s): they come from the checkpoint\n",
                NAMES[k]);
        return SDLAB_EXIT_USAGE;
      }
    snprintf(ckpath, sizeof ckpath, "%s.partial/checkpoint.bin", resume);
    int status = read_checkpoint_args(ckpath, &sargc, &sargv, &ckfp);
    if (status)
      return sdlab_cli_fail("train", status);
    const char *stop = o[O_STOP].value;
    for (int k = 0; k < O_COUNT; k++)
      o[k].value = NULL;
    if (sdlab_cli_parse("train", sargc, sargv, o, O_COUNT)) {
      fclose(ckfp);
      return SDLAB_EXIT_USAGE;
    }
    if (quiet)
      o[O_QUIET].value = "1";
    o[O_STOP].value = stop;
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
  if (configure(o, &c, &threads, &epochs, &ckpt_every, &converge))
    return SDLAB_EXIT_USAGE;
  if (o[O_STOP].value && sdlab_cli_size("train", "--stop-after", o[O_STOP].value, &stop_after))
    return SDLAB_EXIT_USAGE;
  size_t topk_rows = 0, nanch = 0; /* checked against the data below */
  if ((o[O_TOP].value && sdlab_cli_size("train", "--top", o[O_TOP].value, &topk_rows)) ||
      (o[O_ANCHORS].value && sdlab_cli_size("train", "--anchors", o[O_ANCHORS].value, &nanch)))
    return SDLAB_EXIT_USAGE;
  /* data */
  const char *data = o[O_DATA].value;
  struct stat st;
  if (stat(data, &st) != 0) /* a missing input is the data's fault (exit 1), as in every command */
    return sdlab_cli_fail("train", sdlab_fail(SDLAB_EIO, "--data %s does not exist", data));
  const int dir = S_ISDIR(st.st_mode);
  float *xp = NULL, *xr = NULL;
  size_t N = 0, p = 0, Nr = 0, r = 0;
  gsl_matrix *Wp = NULL, *Wr = NULL;
  train_inputs in = {0};
  char *f = dir ? sdlab_path_join(data, "x_p.npy") : strdup(data);
  int status = f ? sdlab_npy_load_floats(f, "--data x_p", &xp, &N, &p) : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status)
    inputs_set(&in, IN_XP, f, xp, NULL, N, p);
  else
    free(f);
  if (!status && dir) {
    f = sdlab_path_join(data, "x_r.npy");
    if (f && exists_path(f) && !(status = sdlab_npy_load_floats(f, "--data x_r", &xr, &Nr, &r)))
      inputs_set(&in, IN_XR, f, xr, NULL, Nr, r);
    else
      free(f);
    f = sdlab_path_join(data, "W_p.npy");
    if (!status && f && exists_path(f) && !(status = sdlab_npy_load_matrix(f, "W_p", &Wp)))
      inputs_set(&in, IN_WP, f, NULL, Wp, Wp->size1, Wp->size2);
    else
      free(f);
    f = sdlab_path_join(data, "W_r.npy");
    if (!status && f && exists_path(f) && !(status = sdlab_npy_load_matrix(f, "W_r", &Wr)))
      inputs_set(&in, IN_WR, f, NULL, Wr, Wr->size1, Wr->size2);
    else
      free(f);
  }
  if (!status && xr && Nr != N)
    status = sdlab_fail(SDLAB_ESHAPE, "x_r.npy has %zu rows, x_p.npy %zu", Nr, N);
  if (!status && Wp && Wp->size1 != p)
    status = sdlab_fail(SDLAB_ESHAPE, "W_p.npy has %zu rows, the data %zu columns", Wp->size1, p);
  if (!status && Wr && (!xr || Wr->size1 != r || !Wp || Wr->size2 != Wp->size2))
    status = sdlab_fail(SDLAB_ESHAPE, "W_r.npy is %zu x %zu; it needs x_r.npy's %zu columns and W_p.npy's features",
                        Wr->size1, Wr->size2, xr ? r : 0);
  c.p = p;
  c.r = xr ? r : p;
  c.sae = xr == NULL;
  if (!status && N < c.batch)
    status = sdlab_fail(SDLAB_ESHAPE, "%s holds %zu samples, fewer than the batch size %zu", in.path[IN_XP], N,
                        c.batch);
  if (!status && o[O_TOP].value && (topk_rows == 0 || topk_rows > N))
    status = sdlab_fail(SDLAB_EPARAM, "--top needs 1 to %zu rows per latent", N);
  /* anchors: random ground-truth features, or a file */
  uint64_t *anchor_ids = NULL;
  float *ap = NULL, *ar = NULL;
  if (!status && o[O_ANCHORF].value) {
    size_t ar_rows, ar_cols;
    status = sdlab_npy_load_floats(o[O_ANCHORF].value, "--anchor-file", &ap, &ar_rows, &ar_cols);
    if (!status && ar_cols != p)
      status = sdlab_fail(SDLAB_ESHAPE, "--anchor-file has %zu columns, the data %zu", ar_cols, p);
    if (!status && !c.sae)
      status = sdlab_fail(SDLAB_EPARAM, "--anchor-file anchors an SAE's directions; a transcoder needs bench anchors");
    if (!status && nanch && nanch != ar_rows)
      status = sdlab_fail(SDLAB_EPARAM, "--anchors %zu but --anchor-file has %zu rows", nanch, ar_rows);
    if (!status) {
      nanch = ar_rows;
      for (size_t j = 0; j < nanch; j++) { /* unit rows (eq. 24) */
        double nn = 0;
        for (size_t a = 0; a < p; a++)
          nn += (double)ap[j * p + a] * ap[j * p + a];
        for (size_t a = 0; a < p && nn > 0; a++)
          ap[j * p + a] = (float)(ap[j * p + a] / sqrt(nn));
      }
      ar = malloc(nanch * p * sizeof *ar);
      if (ar)
        memcpy(ar, ap, nanch * p * sizeof *ar);
      inputs_set(&in, IN_ANCHORS, strdup(o[O_ANCHORF].value), ap, NULL, nanch, p);
    }
  } else if (!status && nanch) {
    if (Wp == NULL)
      status = sdlab_fail(SDLAB_EPARAM, "--anchors without --anchor-file needs the ground truth W_p.npy in --data");
    else if (nanch > Wp->size2)
      status = sdlab_fail(SDLAB_EPARAM, "--anchors %zu exceeds the %zu ground-truth features", nanch, Wp->size2);
    else {
      /* a random subset K of the features (eq. 22), seeded */
      const size_t n = Wp->size2;
      size_t *perm = malloc(n * sizeof *perm);
      anchor_ids = malloc(nanch * sizeof *anchor_ids);
      ap = malloc(nanch * p * sizeof *ap);
      ar = malloc(nanch * c.r * sizeof *ar);
      gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
      gsl_rng_set(g, (unsigned long)((c.seed ^ 0xa9c4) & 0xffffffffu));
      for (size_t i = 0; i < n; i++)
        perm[i] = i;
      gsl_ran_shuffle(g, perm, n, sizeof *perm);
      for (size_t j = 0; j < nanch; j++) {
        anchor_ids[j] = perm[j];
        for (size_t a = 0; a < p; a++)
          ap[j * p + a] = (float)gsl_matrix_get(Wp, a, perm[j]);
        for (size_t a = 0; a < c.r; a++)
          ar[j * c.r + a] = (float)(Wr ? gsl_matrix_get(Wr, a, perm[j]) : gsl_matrix_get(Wp, a, perm[j]));
      }
      gsl_rng_free(g);
      free(perm);
    }
  }
  c.anchors = nanch;
  c.anchor_p = ap;
  c.anchor_r = ar;
  const size_t spe = N / (c.batch ? c.batch : 1);
  size_t total = epochs * spe; /* the cap; with --converge the run may end sooner */
  c.total_steps = total;
  if (!status && !dir && o[O_ANCHORS].value && !o[O_ANCHORF].value)
    status = sdlab_fail(SDLAB_EPARAM, "--anchors needs a bench directory or --anchor-file");
  sdlab_trainer *t = NULL;
  if (!status)
    status = sdlab_train_config_check(&c);
  if (!status && !resume) {
    /* the disk the outputs need, estimated before training (a gross shortfall is refused here; a near one meets
     * the write that fails, with the run kept when it has a checkpoint): W_E and W_D as .npy and safetensors,
     * the per-step curve, a checkpoint (parameters, Adam's two moments, the curve), codes and top rows when
     * asked for, and a block's slack for each of about 16 files */
    const uint64_t params = (uint64_t)c.q * c.p + (uint64_t)c.r * c.q;
    const uint64_t disk = 8 * params + 128 * (uint64_t)total + (ckpt_every ? 12 * params + 64 * (uint64_t)total : 0) +
                          (o[O_CODES].value ? 4 * (uint64_t)N * c.q : 0) + 16 * (uint64_t)c.q * topk_rows + 65536;
    status = sdlab_space_check(out, disk);
  }
  if (!status)
    status = sdlab_memory_check("the trainer", sdlab_trainer_bytes(&c));
  if (!status && (t = sdlab_trainer_alloc(&c, threads)) == NULL)
    status = GSL_ENOMEM; /* the configuration passed its check: the allocation failed (its message is recorded) */
  /* the output: a persistent staging directory RUN.partial */
  char staging[4200];
  snprintf(staging, sizeof staging, "%s.partial", out);
  history h = {0};
  if (!status) {
    h.curve = calloc(total + 1, sizeof *h.curve);
    h.epochs = calloc(epochs + 1, sizeof *h.epochs);
    if (!h.curve || !h.epochs)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  if (!status && resume) {
    status = ckpt_check_inputs(ckfp, ckpath, &in);
    if (!status)
      status = read_checkpoint_state(ckfp, ckpath, t, &h, total, spe);
    if (!status)
      status = clean_staging(staging);
  } else if (!status) {
    if (o[O_INIT].value) /* before RUN.partial exists: a refused --init leaves nothing */
      status = init_from(t, o[O_INIT].value, &c);
    if (!status)
      status = begin_staging(staging, out, force);
  }
  const int own_staging = !status; /* RUN.partial is this run's from here on */
  if (ckfp)
    fclose(ckfp);
  float *bp = NULL, *br = NULL;
  size_t *perm = NULL;
  if (!status) {
    bp = malloc(c.batch * p * sizeof *bp);
    br = xr ? malloc(c.batch * c.r * sizeof *br) : NULL;
    perm = malloc(N * sizeof *perm);
    if (!bp || (xr && !br) || !perm)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    sdlab_trainer_set_pool(t, xp, xr, N);
  }
  unsigned char *exclude = NULL;
  if (!status && Wp && nanch && anchor_ids) {
    exclude = calloc(Wp->size2, 1);
    for (size_t j = 0; j < nanch; j++)
      exclude[anchor_ids[j]] = 1;
  }
  /* the loop */
  const int tty = !quiet && isatty(STDERR_FILENO);
  double t0 = sdlab_now(), last_print = t0;
  sdlab_train_state *s = t ? sdlab_trainer_state(t) : NULL;
  const size_t start = s ? s->step : 0;
  size_t perm_epoch = (size_t)-1;
  int stopped_converged = 0;
  double ep_loss = 0, ep_l0 = 0;
  for (size_t step = start; !status && step < total; step++) {
    const size_t epoch = step / spe, pos = step % spe;
    if (epoch != perm_epoch) { /* the epoch's shuffle depends only on (seed, epoch) */
      gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
      gsl_rng_set(g, (unsigned long)((c.seed * 1000003ULL + epoch + 1) & 0xffffffffu));
      for (size_t i = 0; i < N; i++)
        perm[i] = i;
      gsl_ran_shuffle(g, perm, N, sizeof *perm);
      gsl_rng_free(g);
      perm_epoch = epoch;
      ep_loss = ep_l0 = 0;
      for (size_t k = epoch * spe; k < step; k++) { /* a resumed epoch: its earlier steps */
        ep_loss += h.curve[k].loss;
        ep_l0 += h.curve[k].l0;
      }
    }
    for (size_t b = 0; b < c.batch; b++) {
      const size_t row = perm[pos * c.batch + b];
      memcpy(bp + b * p, xp + row * p, p * sizeof *bp);
      if (xr)
        memcpy(br + b * c.r, xr + row * c.r, c.r * sizeof *br);
    }
    sdlab_train_stats stt;
    if ((status = sdlab_trainer_step(t, bp, br, &stt)))
      break;
    h.curve[step] = (curve_point){stt.loss, stt.mse, stt.l0, stt.dead_fraction, 0};
    h.ncurve = step + 1;
    ep_loss += stt.loss;
    ep_l0 += stt.l0;
    int converged = 0;
    if (pos + 1 == spe) {
      epoch_point e = {ep_loss / (double)spe, ep_l0 / (double)spe, stt.dead_fraction, NAN, NAN, NAN, NAN};
      if (Wp) {
        const sdlab_train_state *cur = sdlab_trainer_state(t);
        recovery(cur->WE, c.q, c.p, Wp, exclude, threads, &e.mgt, &e.mip, NULL);
        recovery(cur->WDt, c.q, c.r, Wr ? Wr : Wp, exclude, threads, &e.dmgt, &e.dmip, NULL);
      }
      h.epochs[epoch] = e;
      h.nepochs = epoch + 1;
      /* R1 compares two whole epochs after the warm-up */
      converged = converge > 0 && epoch > 0 && (epoch - 1) * spe >= c.warmup &&
                  h.epochs[epoch - 1].loss - e.loss < converge * h.epochs[epoch - 1].loss;
    }
    const double now = sdlab_now();
    if (!quiet && (tty ? now - last_print > 0.2 : now - last_print > 5.0)) {
      const double rate = (double)((step + 1 - start) * c.batch) / (now - t0);
      const double left = (double)((total - step - 1) * c.batch) / rate;
      fprintf(stderr, "%sstep %zu/%zu  loss %.5g  L0 %.1f  dead %.1f%%  %.0f samples/s  %.0f s left%s",
              tty ? "\r\033[K" : "sdlab train: ", step + 1, total, stt.loss, stt.l0, 100 * stt.dead_fraction, rate,
              left, tty ? "" : "\n");
      last_print = now;
    }
    if (converged) { /* the rule is met: this is the run's last step */
      total = step + 1;
      stopped_converged = 1;
      break;
    }
    const int stop = stop_after && step + 1 == stop_after && step + 1 < total;
    const int sig = interrupted ? interrupted : stop ? -1 : 0;
    if ((ckpt_every && (step + 1) % ckpt_every == 0) || sig) {
      char cp[4300];
      snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
      int ca = resume ? sargc : argc;
      char **cv = resume ? sargv : argv;
      if ((status = write_checkpoint(cp, ca, cv, t, &h, &in)))
        break;
      if (sig) {
        if (tty)
          fprintf(stderr, "\r\033[K");
        fprintf(stderr, "sdlab train: %s at step %zu of %zu; checkpoint written; continue with "
                "sdlab train --resume %s\n", sig > 0 ? "interrupted" : "stopped", step + 1, total, out);
        status = sig > 0 ? -sig : -256;
        break;
      }
    }
  }
  if (tty && !quiet)
    fprintf(stderr, "\r\033[K");
  const double seconds = sdlab_now() - t0;
  if (t)
    s = sdlab_trainer_state(t); /* every decoder row up to date (rows are updated when read, see sdlab_train.h) */
  /* outputs */
  if (!status) {
    const size_t q = c.q, rr = c.r;
    char *path;
    int st2 = 0;
    float *WD = malloc(rr * q * sizeof *WD), *Wenc = malloc(p * q * sizeof *Wenc);
    if (!WD || !Wenc)
      st2 = sdlab_fail(GSL_ENOMEM, "out of memory");
    for (size_t i = 0; !st2 && i < q; i++) {
      for (size_t a = 0; a < rr; a++)
        WD[a * q + i] = s->WDt[i * rr + a];
      for (size_t a = 0; a < p; a++)
        Wenc[a * q + i] = s->WE[i * p + a];
    }
    struct { const char *name; size_t nd, s0, s1; const float *d; } outs[] = {
      {"W_E.npy", 2, q, p, s->WE}, {"W_D.npy", 2, rr, q, WD}, {"b_E.npy", 1, q, 0, s->bE}, {"b_D.npy", 1, rr, 0, s->bD},
      {"theta.npy", 1, q, 0, s->theta}, {"r_mag.npy", 1, q, 0, s->rmag}, {"b_mag.npy", 1, q, 0, s->bmag}};
    for (size_t k = 0; !st2 && k < 7; k++) {
      if ((k == 4 && c.method != SDLAB_TRAIN_JUMPRELU) || (k >= 5 && c.method != SDLAB_TRAIN_GATED))
        continue;
      size_t shape[2] = {outs[k].s0, outs[k].s1};
      path = sdlab_path_join(staging, outs[k].name);
      st2 = sdlab_npy_write(path, SDLAB_F32, outs[k].nd, shape, outs[k].d);
      free(path);
    }
    if (!st2 && anchor_ids) {
      size_t shape[1] = {nanch};
      path = sdlab_path_join(staging, "anchors.npy");
      st2 = sdlab_npy_write(path, SDLAB_I64, 1, shape, anchor_ids);
      free(path);
    }
    /* safetensors in SAELens' layout: W_enc d_in x d_sae, W_dec d_sae x d_in */
    if (!st2) {
      float *thr = malloc(q * sizeof *thr);
      for (size_t i = 0; thr && i < q; i++)
        thr[i] = c.method == SDLAB_TRAIN_BATCHTOPK ? (float)s->threshold : s->theta[i];
      const sdlab_st_dtype f32 = SDLAB_ST_F32;
      sdlab_tensor ts[] = {{"W_enc", 2, {p, q}, Wenc, f32}, {"W_dec", 2, {q, rr}, s->WDt, f32},
                           {"b_enc", 1, {q}, s->bE, f32}, {"b_dec", 1, {rr}, s->bD, f32}, {"threshold", 1, {q}, thr, f32}};
      const char *meta[] = {"format", "pt", "producer", "sdlab"};
      path = sdlab_path_join(staging, "sae.safetensors");
      const int with_thr = c.method == SDLAB_TRAIN_JUMPRELU || c.method == SDLAB_TRAIN_BATCHTOPK;
      /* SAELens' gated layout: b_gate (our b_E), r_mag, b_mag in place of b_enc */
      sdlab_tensor gated[] = {{"W_enc", 2, {p, q}, Wenc, f32}, {"W_dec", 2, {q, rr}, s->WDt, f32},
                              {"b_gate", 1, {q}, s->bE, f32}, {"b_dec", 1, {rr}, s->bD, f32},
                              {"r_mag", 1, {q}, s->rmag, f32}, {"b_mag", 1, {q}, s->bmag, f32}};
      st2 = !thr ? GSL_ENOMEM
            : c.method == SDLAB_TRAIN_GATED ? sdlab_safetensors_write(path, gated, 6, meta, 2)
            : sdlab_safetensors_write(path, ts, with_thr ? 5 : 4, meta, 2);
      /* the same file under the name SAELens stores its weights with, beside cfg.json */
      char *alias = sdlab_path_join(staging, "sae_weights.safetensors");
      if (!st2 && !alias)
        st2 = sdlab_fail(GSL_ENOMEM, "out of memory");
      if (!st2 && unlink(alias) != 0 && errno != ENOENT) /* a killed run's link */
        st2 = sdlab_fail(SDLAB_EIO, "cannot replace %s: %s", alias, strerror(errno));
      if (!st2 && link(path, alias) != 0)
        st2 = sdlab_fail(SDLAB_EIO, "cannot link %s to %s: %s", alias, path, strerror(errno));
      free(alias);
      free(path);
      free(thr);
    }
    if (!st2) {
      static const char *arch[] = {"standard", "jumprelu", "topk", "batchtopk", "matryoshka", "topk", "gated"};
      sdlab_json j;
      sdlab_json_init(&j);
      sdlab_json_object_begin(&j, NULL);
      sdlab_json_string(&j, "architecture", arch[c.method]);
      sdlab_json_integer(&j, "d_in", (long long)p);
      sdlab_json_integer(&j, "d_sae", (long long)q);
      sdlab_json_string(&j, "dtype", "float32");
      sdlab_json_string(&j, "device", "cpu");
      sdlab_json_string(&j, "model_name", "sdlab");
      sdlab_json_string(&j, "hook_name", dir ? "linear-representation-bench" : "activations");
      sdlab_json_integer(&j, "hook_layer", 0);
      sdlab_json_bool(&j, "apply_b_dec_to_input", c.sae && c.biases);
      sdlab_json_string(&j, "normalize_activations", "none");
      sdlab_json_string(&j, "activation_fn_str", c.method == SDLAB_TRAIN_RELU || c.method == SDLAB_TRAIN_GATED ? "relu"
                        : c.method == SDLAB_TRAIN_JUMPRELU ? "jumprelu" : "topk");
      sdlab_json_object_begin(&j, "activation_fn_kwargs");
      if (c.method != SDLAB_TRAIN_RELU && c.method != SDLAB_TRAIN_JUMPRELU && c.method != SDLAB_TRAIN_GATED)
        sdlab_json_integer(&j, "k", (long long)(c.method == SDLAB_TRAIN_MATRYOSHKA && c.nks ? c.ks[c.nks - 1] : c.k));
      sdlab_json_object_end(&j);
      sdlab_json_bool(&j, "finetuning_scaling_factor", 0);
      sdlab_json_object_end(&j);
      st2 = sdlab_json_write(&j, staging, "cfg.json");
    }
    if (!st2)
      st2 = write_run_record(&c, o[O_METHOD].value, dir ? data : NULL, s->threshold, staging);
    if (!st2 && topk_rows)
      st2 = write_top(t, xp, N, topk_rows, staging);
    if (!st2 && o[O_CODES].value)
      st2 = write_codes(t, xp, N, staging);
    /* curve.tsv */
    if (!st2) {
      sdlab_atomic_file cf;
      path = sdlab_path_join(staging, "curve.tsv");
      if (!(st2 = sdlab_atomic_open(&cf, path))) {
        fprintf(cf.fp, "# step\tloss\tmse\tL0\tdead_fraction\n");
        for (size_t k = 0; k < h.ncurve; k++)
          fprintf(cf.fp, "%zu\t%.9g\t%.9g\t%.6g\t%.6g\n", k + 1, h.curve[k].loss, h.curve[k].mse, h.curve[k].l0,
                  h.curve[k].dead);
        st2 = sdlab_atomic_commit(&cf);
      }
      free(path);
    }
    /* metrics.json: final statistics on the first rows, recovery against the truth */
    if (!st2) {
      const size_t rows = N < 8192 ? N : 8192;
      double l0 = NAN, dead = NAN, ev = NAN;
      if (final_stats(t, xp, xr, rows, &l0, &dead, &ev))
        st2 = sdlab_fail(GSL_ENOMEM, "out of memory for the final statistics");
      double mgt = NAN, mip = NAN, mcc = NAN, dmgt = NAN, dmip = NAN, dmcc = NAN;
      if (Wp) {
        recovery(s->WE, q, c.p, Wp, exclude, threads, &mgt, &mip, &mcc);
        recovery(s->WDt, q, c.r, Wr ? Wr : Wp, exclude, threads, &dmgt, &dmip, &dmcc);
      }
      sdlab_json j;
      sdlab_json_init(&j);
      sdlab_json_object_begin(&j, NULL);
      sdlab_json_string(&j, "method", o[O_METHOD].value);
      sdlab_json_integer(&j, "latents", (long long)q);
      sdlab_json_integer(&j, "samples", (long long)N);
      sdlab_json_integer(&j, "steps", (long long)total);
      sdlab_json_integer(&j, "epochs_run", (long long)h.nepochs);
      sdlab_json_integer(&j, "steps_per_epoch", (long long)spe);
      sdlab_json_integer(&j, "warmup", (long long)c.warmup);
      if (converge > 0) {
        sdlab_json_number(&j, "converge_tol", converge);
        sdlab_json_bool(&j, "converged", stopped_converged);
      }
      sdlab_json_integer(&j, "batch", (long long)c.batch);
      sdlab_json_integer(&j, "seed", (long long)c.seed);
      sdlab_json_integer(&j, "threads", threads);
      if (c.bf16) /* float32 runs keep the bytes they had before the option existed */
        sdlab_json_string(&j, "precision", "bf16");
      sdlab_json_integer(&j, "anchors", (long long)nanch);
      if (c.method == SDLAB_TRAIN_BATCHTOPK)
        sdlab_json_number(&j, "inference_threshold", s->threshold);
      sdlab_json_object_begin(&j, "final");
      sdlab_json_number(&j, "loss", h.ncurve ? h.curve[h.ncurve - 1].loss : NAN);
      sdlab_json_number(&j, "L0", l0);
      sdlab_json_number(&j, "dead_fraction", dead);
      sdlab_json_number(&j, "explained_variance", ev);
      sdlab_json_integer(&j, "evaluated_rows", (long long)rows);
      if (Wp) {
        sdlab_json_number(&j, "M_GT", mgt);
        sdlab_json_number(&j, "M_IP", mip);
        sdlab_json_number(&j, "MCC", mcc);
        sdlab_json_number(&j, "tau", 0.95);
        sdlab_json_object_begin(&j, "decoder");
        sdlab_json_number(&j, "M_GT", dmgt);
        sdlab_json_number(&j, "M_IP", dmip);
        sdlab_json_number(&j, "MCC", dmcc);
        sdlab_json_object_end(&j);
      }
      sdlab_json_object_end(&j);
      sdlab_json_array_begin(&j, "epochs");
      for (size_t e = 0; e < h.nepochs; e++) {
        sdlab_json_object_begin(&j, NULL);
        sdlab_json_number(&j, "loss", h.epochs[e].loss);
        sdlab_json_number(&j, "L0", h.epochs[e].l0);
        sdlab_json_number(&j, "dead_fraction", h.epochs[e].dead);
        if (Wp) {
          sdlab_json_number(&j, "M_GT", h.epochs[e].mgt);
          sdlab_json_number(&j, "M_IP", h.epochs[e].mip);
          sdlab_json_object_begin(&j, "decoder");
          sdlab_json_number(&j, "M_GT", h.epochs[e].dmgt);
          sdlab_json_number(&j, "M_IP", h.epochs[e].dmip);
          sdlab_json_object_end(&j);
        }
        sdlab_json_object_end(&j);
      }
      sdlab_json_array_end(&j);
      sdlab_json_object_end(&j);
      st2 = sdlab_json_write(&j, staging, "metrics.json");
      if (!quiet && !st2)
        fprintf(stderr, "sdlab train: %s: %zu steps in %.1f s (%.0f samples/s); L0 %.1f, dead %.1f%%, explained "
                "variance %.4f%s", out, total - start, seconds, (double)((total - start) * c.batch) / seconds, l0,
                100 * dead, ev, Wp ? "" : "\n");
      if (!quiet && !st2 && Wp)
        fprintf(stderr, "; M_GT %.4f, M_IP %.4f\n", mgt, mip);
    }
    free(WD);
    free(Wenc);
    if (!st2) { /* the run is complete: drop the checkpoint, publish RUN */
      char cp[4300];
      snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
      unlink(cp);
      char *sdir = strdup(staging);
      st2 = sdir ? sdlab_outdir_commit(sdir, out, force || resume) : sdlab_fail(GSL_ENOMEM, "out of memory");
    }
    status = st2;
  }
  if (status > 0 && own_staging) { /* a failure (a full disk, a diverged run): RUN.partial stays only to resume */
    char cp[4300];
    snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
    if (access(cp, F_OK) == 0)
      sdlab_fail(status, "%s; the run is kept in %s: sdlab train --resume %s continues from its last checkpoint",
                 sdlab_error_message(status), staging, out);
    else
      sdlab_outdir_abort(strdup(staging));
  }
  sdlab_trainer_free(t);
  free(xp);
  free(xr);
  free(bp);
  free(br);
  free(perm);
  free(ap);
  free(ar);
  free(anchor_ids);
  free(exclude);
  free(h.curve);
  free(h.epochs);
  inputs_free(&in);
  if (Wp) gsl_matrix_free(Wp);
  if (Wr) gsl_matrix_free(Wr);
  for (int i = 0; sargv && i < sargc; i++)
    free(sargv[i]);
  free(sargv);
  if (status == -256)
    return SDLAB_EXIT_OK; /* stopped as asked */
  if (status < 0)
    return 128 - status; /* interrupted by a signal: 128 + its number */
  return status ? sdlab_cli_fail("train", status) : SDLAB_EXIT_OK;
}
