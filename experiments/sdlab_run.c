/* sdlab_run.c: a training run on disk (sdlab_run.h). */
#define _POSIX_C_SOURCE 200809L
#include "sdlab_run.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_metrics.h"
#include "sdlab_npy.h"
#include "sdlab_safetensors.h"
#include "sdlab_sae.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The inputs' names in messages */
static const char *const IN_NAMES[SDLAB_RUN_NINPUTS] = {"the data x_p", "the targets x_r", "the ground truth W_p",
                                                        "the target directions W_r", "the anchor file"};

/* Record input k (taking ownership of path). */
void
sdlab_run_inputs_set(sdlab_run_inputs *in, int k, char *path, const float *f, const gsl_matrix *m, size_t rows,
                     size_t cols)
{
  free(in->path[k]);
  in->path[k] = path;
  in->f[k] = f;
  in->m[k] = m;
  in->rows[k] = rows;
  in->cols[k] = cols;
}

void
sdlab_run_inputs_free(sdlab_run_inputs *in)
{
  for (int k = 0; k < SDLAB_RUN_NINPUTS; k++)
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
static const sdlab_run_print *
inputs_print(sdlab_run_inputs *in)
{
  for (int k = 0; !in->printed && k < SDLAB_RUN_NINPUTS; k++) {
    sdlab_run_print *ip = &in->print[k];
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

int
sdlab_run_checkpoint_write(const char *path, int argc, char **argv, sdlab_trainer *t, const sdlab_run_history *h,
                           sdlab_run_inputs *in)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t p = c->p, q = c->q, r = c->r;
  const sdlab_run_print *ip = inputs_print(in);
  sdlab_io_atomic_file f;
  int status = sdlab_io_atomic_open(&f, path);
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
  for (int k = 0; k < SDLAB_RUN_NINPUTS; k++) {
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
  return sdlab_io_atomic_commit(&f);
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
    return sdlab_io_input_check(path);
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
int
sdlab_run_checkpoint_args(const char *path, int *argc, char ***argv, FILE **fp_out)
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
int
sdlab_run_checkpoint_inputs(FILE *fp, const char *path, sdlab_run_inputs *in)
{
  const sdlab_run_print *now = inputs_print(in);
  for (int k = 0; k < SDLAB_RUN_NINPUTS; k++) {
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
int
sdlab_run_checkpoint_state(FILE *fp, const char *path, sdlab_trainer *t, sdlab_run_history *h, size_t total,
                           size_t spe)
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
int
sdlab_run_staging_clean(const char *staging)
{
  DIR *d = opendir(staging);
  if (d == NULL)
    return sdlab_fail(SDLAB_EIO, "cannot read %s: %s", staging, strerror(errno));
  int status = SDLAB_SUCCESS;
  struct dirent *e;
  while (!status && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "checkpoint.bin") == 0)
      continue;
    char *p = sdlab_io_path_join(staging, e->d_name);
    struct stat st;
    if (p == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    else if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      sdlab_io_outdir_abort(strdup(p)); /* removes the tree */
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
int
sdlab_run_staging_begin(const char *staging, const char *out, int force)
{
  if (sdlab_io_path_exists(out) && !force)
    return sdlab_fail(GSL_EINVAL, "%s already exists (use --force to replace it)", out);
  int status = sdlab_io_outdir_clean_stale(out); /* RUN.old-PID of a killed run */
  if (status)
    return status;
  if (sdlab_io_path_exists(staging) && force) {
    sdlab_io_outdir_abort(strdup(staging));
  } else if (sdlab_io_path_exists(staging)) {
    char cp[4300];
    snprintf(cp, sizeof cp, "%s/checkpoint.bin", staging);
    if (sdlab_io_path_exists(cp))
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
void
sdlab_run_recovery(const float *D, size_t q, size_t dim, const gsl_matrix *truth, const unsigned char *exclude,
                   int threads, double *mgt, double *mip, double *mcc)
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
write_record(const sdlab_train_config *c, const char *method, const char *bench, double threshold,
             const char *staging)
{
  const char *target = c->sae ? "sae" : "transcoder";
  json_t *meta = NULL;
  char *mp = bench ? sdlab_io_path_join(bench, "meta.json") : NULL;
  int status = bench && !mp ? sdlab_fail(GSL_ENOMEM, "out of memory") : SDLAB_SUCCESS;
  if (!status && mp && sdlab_io_path_exists(mp) && !(status = sdlab_json_load(mp, &meta))) {
    json_t *tg = sdlab_json_at(meta, "parameters/target");
    if (tg && json_is_string(tg) && strcmp(json_string_value(tg), "crosscoder") == 0 && !c->sae)
      target = "crosscoder";
  }
  free(mp);
  if (status) {
    json_decref(meta);
    return status;
  }
  const sdlab_activation_kind act = sdlab_train_method_activation(c->method);
  const int topk_family = act == SDLAB_ACT_TOPK_RELU || act == SDLAB_ACT_BATCHTOPK;
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
int
sdlab_run_init(sdlab_trainer *t, const char *dir, const sdlab_train_config *c)
{
  sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t p = c->p, q = c->q, r = c->r;
  char *path = sdlab_io_path_join(dir, "W_E.npy");
  if (path == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  float *WE = NULL, *WD = NULL;
  size_t er = 0, ec = 0, dr = 0, dc = 0;
  int status = SDLAB_SUCCESS;
  const char *layout = "sdlab";
  if (sdlab_io_path_exists(path)) { /* an sdlab run */
    status = sdlab_npy_load_floats(path, "--init W_E", &WE, &er, &ec);
    free(path);
    path = sdlab_io_path_join(dir, "W_D.npy");
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
    char *vp = want[v] ? sdlab_io_path_join(dir, vecs[v]) : NULL;
    float *x = NULL;
    if (vp && sdlab_io_path_exists(vp) && !(status = sdlab_npy_load_vector(vp, "--init", lens[v], &x)))
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
  char *path = sdlab_io_path_join(staging, "codes.npy");
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
    char *path = sdlab_io_path_join(staging, "top.npy");
    status = sdlab_npy_write(path, SDLAB_I64, 2, shape, idx);
    free(path);
    path = sdlab_io_path_join(staging, "top_values.npy");
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

/* Every output of a trained run (sdlab_run.h); the caller publishes staging.  The writes' failures are recorded
 * and the first returned: RUN.partial then holds what was written, which the caller removes or keeps. */
/* The arrays (W_E n_q x n_p, W_D n_r x n_q, biases; theta for JumpReLU, r_mag and b_mag for Gated; the anchors'
 * feature ids) as .npy; WD is W_D in that layout */
static int
write_arrays(const sdlab_train_config *c, const sdlab_train_state *s, const float *WD, const sdlab_run_info *info,
             const char *staging)
{
  const size_t p = c->p, q = c->q, rr = c->r;
  int st2 = SDLAB_SUCCESS;
  struct { const char *name; size_t nd, s0, s1; const float *d; } outs[] = {
    {"W_E.npy", 2, q, p, s->WE}, {"W_D.npy", 2, rr, q, WD}, {"b_E.npy", 1, q, 0, s->bE}, {"b_D.npy", 1, rr, 0, s->bD},
    {"theta.npy", 1, q, 0, s->theta}, {"r_mag.npy", 1, q, 0, s->rmag}, {"b_mag.npy", 1, q, 0, s->bmag}};
  for (size_t k = 0; !st2 && k < 7; k++) {
    if ((k == 4 && c->method != SDLAB_TRAIN_JUMPRELU) || (k >= 5 && c->method != SDLAB_TRAIN_GATED))
      continue;
    size_t shape[2] = {outs[k].s0, outs[k].s1};
    char *path = sdlab_io_path_join(staging, outs[k].name);
    st2 = sdlab_npy_write(path, SDLAB_F32, outs[k].nd, shape, outs[k].d);
    free(path);
  }
  if (!st2 && info->anchor_ids) {
    size_t shape[1] = {info->anchors};
    char *path = sdlab_io_path_join(staging, "anchors.npy");
    st2 = sdlab_npy_write(path, SDLAB_I64, 1, shape, info->anchor_ids);
    free(path);
  }
  return st2;
}

/* sae.safetensors in SAELens' layout (W_enc d_in x d_sae: Wenc; W_dec d_sae x d_in; the threshold for JumpReLU and
 * BatchTopK; Gated's b_gate, r_mag, b_mag), and the same file linked as sae_weights.safetensors, the name SAELens
 * stores its weights under beside cfg.json */
static int
write_safetensors(const sdlab_train_config *c, const sdlab_train_state *s, const float *Wenc, const char *staging)
{
  const size_t p = c->p, q = c->q, rr = c->r;
  float *thr = malloc(q * sizeof *thr);
  for (size_t i = 0; thr && i < q; i++)
    thr[i] = c->method == SDLAB_TRAIN_BATCHTOPK ? (float)s->threshold : s->theta[i];
  const sdlab_st_dtype f32 = SDLAB_ST_F32;
  sdlab_tensor ts[] = {{"W_enc", 2, {p, q}, Wenc, f32}, {"W_dec", 2, {q, rr}, s->WDt, f32},
                       {"b_enc", 1, {q}, s->bE, f32}, {"b_dec", 1, {rr}, s->bD, f32}, {"threshold", 1, {q}, thr, f32}};
  const char *meta[] = {"format", "pt", "producer", "sdlab"};
  char *path = sdlab_io_path_join(staging, "sae.safetensors");
  const int with_thr = c->method == SDLAB_TRAIN_JUMPRELU || c->method == SDLAB_TRAIN_BATCHTOPK;
  /* SAELens' gated layout: b_gate (our b_E), r_mag, b_mag in place of b_enc */
  sdlab_tensor gated[] = {{"W_enc", 2, {p, q}, Wenc, f32}, {"W_dec", 2, {q, rr}, s->WDt, f32},
                          {"b_gate", 1, {q}, s->bE, f32}, {"b_dec", 1, {rr}, s->bD, f32},
                          {"r_mag", 1, {q}, s->rmag, f32}, {"b_mag", 1, {q}, s->bmag, f32}};
  int st2 = !thr ? GSL_ENOMEM
            : c->method == SDLAB_TRAIN_GATED ? sdlab_safetensors_write(path, gated, 6, meta, 2)
            : sdlab_safetensors_write(path, ts, with_thr ? 5 : 4, meta, 2);
  char *alias = sdlab_io_path_join(staging, "sae_weights.safetensors");
  if (!st2 && !alias)
    st2 = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!st2 && unlink(alias) != 0 && errno != ENOENT) /* a killed run's link */
    st2 = sdlab_fail(SDLAB_EIO, "cannot replace %s: %s", alias, strerror(errno));
  if (!st2 && link(path, alias) != 0)
    st2 = sdlab_fail(SDLAB_EIO, "cannot link %s to %s: %s", alias, path, strerror(errno));
  free(alias);
  free(path);
  free(thr);
  return st2;
}

/* cfg.json beside sae_weights.safetensors: SAELens' pre-6 configuration (`sdlab export` writes the current one) */
static int
write_saelens_cfg(const sdlab_train_config *c, const sdlab_run_info *info, const char *staging)
{
  static const char *arch[SDLAB_TRAIN_METHODS] = {
    [SDLAB_TRAIN_RELU] = "standard", [SDLAB_TRAIN_JUMPRELU] = "jumprelu", [SDLAB_TRAIN_TOPK] = "topk",
    [SDLAB_TRAIN_BATCHTOPK] = "batchtopk", [SDLAB_TRAIN_MATRYOSHKA] = "matryoshka", [SDLAB_TRAIN_TOPK_AUXK] = "topk",
    [SDLAB_TRAIN_GATED] = "gated"};
  const sdlab_activation_kind act = sdlab_train_method_activation(c->method);
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_string(&j, "architecture", arch[c->method]);
  sdlab_json_integer(&j, "d_in", (long long)c->p);
  sdlab_json_integer(&j, "d_sae", (long long)c->q);
  sdlab_json_string(&j, "dtype", "float32");
  sdlab_json_string(&j, "device", "cpu");
  sdlab_json_string(&j, "model_name", "sdlab");
  sdlab_json_string(&j, "hook_name", info->bench ? "linear-representation-bench" : "activations");
  sdlab_json_integer(&j, "hook_layer", 0);
  sdlab_json_bool(&j, "apply_b_dec_to_input", c->sae && c->biases);
  sdlab_json_string(&j, "normalize_activations", "none");
  sdlab_json_string(&j, "activation_fn_str", act == SDLAB_ACT_RELU ? "relu" : act == SDLAB_ACT_JUMPRELU ? "jumprelu"
                    : "topk");
  sdlab_json_object_begin(&j, "activation_fn_kwargs");
  if (act != SDLAB_ACT_RELU && act != SDLAB_ACT_JUMPRELU)
    sdlab_json_integer(&j, "k", (long long)(c->method == SDLAB_TRAIN_MATRYOSHKA && c->nks ? c->ks[c->nks - 1] : c->k));
  sdlab_json_object_end(&j);
  sdlab_json_bool(&j, "finetuning_scaling_factor", 0);
  sdlab_json_object_end(&j);
  return sdlab_json_write(&j, staging, "cfg.json");
}

/* curve.tsv: each step's loss, reconstruction error, L0 and dead fraction */
static int
write_curve(const sdlab_run_history *h, const char *staging)
{
  sdlab_io_atomic_file cf;
  char *path = sdlab_io_path_join(staging, "curve.tsv");
  int st2 = sdlab_io_atomic_open(&cf, path);
  if (!st2) {
    fprintf(cf.fp, "# step\tloss\tmse\tL0\tdead_fraction\n");
    for (size_t k = 0; k < h->ncurve; k++)
      fprintf(cf.fp, "%zu\t%.9g\t%.9g\t%.6g\t%.6g\n", k + 1, h->curve[k].loss, h->curve[k].mse, h->curve[k].l0,
              h->curve[k].dead);
    st2 = sdlab_io_atomic_commit(&cf);
  }
  free(path);
  return st2;
}

/* metrics.json: the run's sizes and settings, its final statistics on the first rows and recovery against the
 * truth (encoder rows and decoder columns), and each epoch's; the final numbers into *fin when fin */
static int
write_metrics(sdlab_trainer *t, const sdlab_run_history *h, const sdlab_run_info *info, const char *staging,
              sdlab_run_final *fin)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  const sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t q = c->q;
  const size_t rows = info->N < 8192 ? info->N : 8192;
  double l0 = NAN, dead = NAN, ev = NAN;
  if (final_stats(t, info->xp, info->xr, rows, &l0, &dead, &ev))
    return sdlab_fail(GSL_ENOMEM, "out of memory for the final statistics");
  double mgt = NAN, mip = NAN, mcc = NAN, dmgt = NAN, dmip = NAN, dmcc = NAN;
  if (info->Wp) {
    sdlab_run_recovery(s->WE, q, c->p, info->Wp, info->exclude, info->threads, &mgt, &mip, &mcc);
    sdlab_run_recovery(s->WDt, q, c->r, info->Wr ? info->Wr : info->Wp, info->exclude, info->threads, &dmgt, &dmip, &dmcc);
  }
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_string(&j, "method", info->method);
  sdlab_json_integer(&j, "latents", (long long)q);
  sdlab_json_integer(&j, "samples", (long long)info->N);
  sdlab_json_integer(&j, "steps", (long long)info->steps);
  sdlab_json_integer(&j, "epochs_run", (long long)h->nepochs);
  sdlab_json_integer(&j, "steps_per_epoch", (long long)info->steps_per_epoch);
  sdlab_json_integer(&j, "warmup", (long long)c->warmup);
  if (info->converge > 0) {
    sdlab_json_number(&j, "converge_tol", info->converge);
    sdlab_json_bool(&j, "converged", info->converged);
  }
  sdlab_json_integer(&j, "batch", (long long)c->batch);
  sdlab_json_integer(&j, "seed", (long long)c->seed);
  sdlab_json_integer(&j, "threads", info->threads);
  if (c->bf16) /* float32 runs keep the bytes they had before the option existed */
    sdlab_json_string(&j, "precision", "bf16");
  sdlab_json_integer(&j, "anchors", (long long)info->anchors);
  if (c->method == SDLAB_TRAIN_BATCHTOPK)
    sdlab_json_number(&j, "inference_threshold", s->threshold);
  sdlab_json_object_begin(&j, "final");
  sdlab_json_number(&j, "loss", h->ncurve ? h->curve[h->ncurve - 1].loss : NAN);
  sdlab_json_number(&j, "L0", l0);
  sdlab_json_number(&j, "dead_fraction", dead);
  sdlab_json_number(&j, "explained_variance", ev);
  sdlab_json_integer(&j, "evaluated_rows", (long long)rows);
  if (info->Wp) {
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
  for (size_t e = 0; e < h->nepochs; e++) {
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_number(&j, "loss", h->epochs[e].loss);
    sdlab_json_number(&j, "L0", h->epochs[e].l0);
    sdlab_json_number(&j, "dead_fraction", h->epochs[e].dead);
    if (info->Wp) {
      sdlab_json_number(&j, "M_GT", h->epochs[e].mgt);
      sdlab_json_number(&j, "M_IP", h->epochs[e].mip);
      sdlab_json_object_begin(&j, "decoder");
      sdlab_json_number(&j, "M_GT", h->epochs[e].dmgt);
      sdlab_json_number(&j, "M_IP", h->epochs[e].dmip);
      sdlab_json_object_end(&j);
    }
    sdlab_json_object_end(&j);
  }
  sdlab_json_array_end(&j);
  sdlab_json_object_end(&j);
  int st2 = sdlab_json_write(&j, staging, "metrics.json");
  if (fin)
    *fin = (sdlab_run_final){l0, dead, ev, mgt, mip};
  return st2;
}

int
sdlab_run_write(sdlab_trainer *t, const sdlab_run_history *h, const sdlab_run_info *info, const char *staging,
                sdlab_run_final *fin)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  const sdlab_train_state *s = sdlab_trainer_state(t);
  const size_t p = c->p, q = c->q, rr = c->r;
  int st2 = 0;
  float *WD = malloc(rr * q * sizeof *WD), *Wenc = malloc(p * q * sizeof *Wenc);
  if (!WD || !Wenc)
    st2 = sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t i = 0; !st2 && i < q; i++) { /* W_D (n_r x n_q) and W_E^T (n_p x n_q) from the state's rows */
    for (size_t a = 0; a < rr; a++)
      WD[a * q + i] = s->WDt[i * rr + a];
    for (size_t a = 0; a < p; a++)
      Wenc[a * q + i] = s->WE[i * p + a];
  }
  if (!st2)
    st2 = write_arrays(c, s, WD, info, staging);
  if (!st2)
    st2 = write_safetensors(c, s, Wenc, staging);
  if (!st2)
    st2 = write_saelens_cfg(c, info, staging);
  if (!st2)
    st2 = write_record(c, info->method, info->bench, s->threshold, staging);
  if (!st2 && info->top)
    st2 = write_top(t, info->xp, info->N, info->top, staging);
  if (!st2 && info->codes)
    st2 = write_codes(t, info->xp, info->N, staging);
  if (!st2)
    st2 = write_curve(h, staging);
  if (!st2)
    st2 = write_metrics(t, h, info, staging, fin);
  free(WD);
  free(Wenc);
  return st2;
}

int
sdlab_run_train(sdlab_trainer *t, sdlab_run_history *h, const sdlab_run_loop *L, size_t *steps, sdlab_run_end *end,
                int *signal)
{
  const sdlab_train_config *c = sdlab_trainer_config(t);
  const size_t p = c->p, N = L->N, spe = L->steps_per_epoch;
  size_t total = L->steps;
  *end = SDLAB_RUN_DONE;
  *signal = 0;
  float *bp = malloc(c->batch * p * sizeof *bp), *br = L->xr ? malloc(c->batch * c->r * sizeof *br) : NULL;
  size_t *perm = malloc(N * sizeof *perm);
  int status = !bp || (L->xr && !br) || !perm ? sdlab_fail(GSL_ENOMEM, "out of memory") : SDLAB_SUCCESS;
  if (!status)
    sdlab_trainer_set_pool(t, L->xp, L->xr, N);
  const size_t start = sdlab_trainer_state(t)->step;
  size_t perm_epoch = (size_t)-1;
  double ep_loss = 0, ep_l0 = 0;
  for (size_t step = start; !status && step < total; step++) {
    const size_t epoch = step / spe, pos = step % spe;
    if (epoch != perm_epoch) { /* the epoch's shuffle depends only on (seed, epoch) */
      gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
      gsl_rng_set(g, (unsigned long)((c->seed * 1000003ULL + epoch + 1) & 0xffffffffu));
      for (size_t i = 0; i < N; i++)
        perm[i] = i;
      gsl_ran_shuffle(g, perm, N, sizeof *perm);
      gsl_rng_free(g);
      perm_epoch = epoch;
      ep_loss = ep_l0 = 0;
      for (size_t k = epoch * spe; k < step; k++) { /* a resumed epoch: its earlier steps */
        ep_loss += h->curve[k].loss;
        ep_l0 += h->curve[k].l0;
      }
    }
    for (size_t b = 0; b < c->batch; b++) {
      const size_t row = perm[pos * c->batch + b];
      memcpy(bp + b * p, L->xp + row * p, p * sizeof *bp);
      if (L->xr)
        memcpy(br + b * c->r, L->xr + row * c->r, c->r * sizeof *br);
    }
    sdlab_train_stats stt;
    if ((status = sdlab_trainer_step(t, bp, br, &stt)))
      break;
    h->curve[step] = (sdlab_run_point){stt.loss, stt.mse, stt.l0, stt.dead_fraction, 0};
    h->ncurve = step + 1;
    ep_loss += stt.loss;
    ep_l0 += stt.l0;
    int converged = 0;
    if (pos + 1 == spe) {
      sdlab_run_epoch e = {ep_loss / (double)spe, ep_l0 / (double)spe, stt.dead_fraction, NAN, NAN, NAN, NAN};
      if (L->Wp) {
        const sdlab_train_state *cur = sdlab_trainer_state(t);
        sdlab_run_recovery(cur->WE, c->q, c->p, L->Wp, L->exclude, L->threads, &e.mgt, &e.mip, NULL);
        sdlab_run_recovery(cur->WDt, c->q, c->r, L->Wr ? L->Wr : L->Wp, L->exclude, L->threads, &e.dmgt, &e.dmip,
                           NULL);
      }
      h->epochs[epoch] = e;
      h->nepochs = epoch + 1;
      /* R1 compares two whole epochs after the warm-up */
      converged = L->converge > 0 && epoch > 0 && (epoch - 1) * spe >= c->warmup &&
                  h->epochs[epoch - 1].loss - e.loss < L->converge * h->epochs[epoch - 1].loss;
    }
    if (L->progress) {
      const sdlab_progress_figure fig[] = {{"loss", stt.loss}, {"L0", stt.l0}, {"dead fraction", stt.dead_fraction}};
      L->progress(L->ctx, SDLAB_RUN_STEP, step + 1, total, fig, 3);
    }
    if (converged) { /* the rule is met: this is the run's last step */
      total = step + 1;
      *end = SDLAB_RUN_CONVERGED;
      break;
    }
    const int stop = L->stop_after && step + 1 == L->stop_after && step + 1 < total;
    const int sig = L->interrupted && *L->interrupted ? *L->interrupted : 0;
    if ((L->checkpoint_every && (step + 1) % L->checkpoint_every == 0) || sig || stop) {
      if ((status = sdlab_run_checkpoint_write(L->checkpoint, L->argc, L->argv, t, h, L->in)))
        break;
      if (sig || stop) {
        *end = sig ? SDLAB_RUN_INTERRUPTED : SDLAB_RUN_STOPPED;
        *signal = sig;
        break;
      }
    }
  }
  *steps = total;
  free(bp);
  free(br);
  free(perm);
  return status;
}

int
sdlab_run_data_load(const char *data, sdlab_run_data *d, sdlab_run_inputs *in)
{
  memset(d, 0, sizeof *d);
  struct stat st;
  if (stat(data, &st) != 0)
    return sdlab_fail(SDLAB_EIO, "--data %s does not exist", data);
  d->dir = S_ISDIR(st.st_mode);
  size_t Nr = 0;
  char *f = d->dir ? sdlab_io_path_join(data, "x_p.npy") : strdup(data);
  int status = f ? sdlab_npy_load_floats(f, "--data x_p", &d->xp, &d->N, &d->p) : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status)
    sdlab_run_inputs_set(in, SDLAB_RUN_XP, f, d->xp, NULL, d->N, d->p);
  else
    free(f);
  if (!status && d->dir) {
    f = sdlab_io_path_join(data, "x_r.npy");
    if (f && sdlab_io_path_exists(f) && !(status = sdlab_npy_load_floats(f, "--data x_r", &d->xr, &Nr, &d->r)))
      sdlab_run_inputs_set(in, SDLAB_RUN_XR, f, d->xr, NULL, Nr, d->r);
    else
      free(f);
    f = sdlab_io_path_join(data, "W_p.npy");
    if (!status && f && sdlab_io_path_exists(f) && !(status = sdlab_npy_load_matrix(f, "W_p", &d->Wp)))
      sdlab_run_inputs_set(in, SDLAB_RUN_WP, f, NULL, d->Wp, d->Wp->size1, d->Wp->size2);
    else
      free(f);
    f = sdlab_io_path_join(data, "W_r.npy");
    if (!status && f && sdlab_io_path_exists(f) && !(status = sdlab_npy_load_matrix(f, "W_r", &d->Wr)))
      sdlab_run_inputs_set(in, SDLAB_RUN_WR, f, NULL, d->Wr, d->Wr->size1, d->Wr->size2);
    else
      free(f);
  }
  if (!d->xr)
    d->r = d->p;
  if (!status && d->xr && Nr != d->N)
    status = sdlab_fail(SDLAB_ESHAPE, "x_r.npy has %zu rows, x_p.npy %zu", Nr, d->N);
  if (!status && d->Wp && d->Wp->size1 != d->p)
    status = sdlab_fail(SDLAB_ESHAPE, "W_p.npy has %zu rows, the data %zu columns", d->Wp->size1, d->p);
  if (!status && d->Wr && (!d->xr || d->Wr->size1 != d->r || !d->Wp || d->Wr->size2 != d->Wp->size2))
    status = sdlab_fail(SDLAB_ESHAPE, "W_r.npy is %zu x %zu; it needs x_r.npy's %zu columns and W_p.npy's features",
                        d->Wr->size1, d->Wr->size2, d->xr ? d->r : 0);
  return status;
}

void
sdlab_run_data_free(sdlab_run_data *d)
{
  free(d->xp);
  free(d->xr);
  if (d->Wp)
    gsl_matrix_free(d->Wp);
  if (d->Wr)
    gsl_matrix_free(d->Wr);
  memset(d, 0, sizeof *d);
}

int
sdlab_run_anchors_make(const sdlab_run_data *d, const char *file, size_t count, uint64_t seed, size_t r,
                       sdlab_run_anchors *an, sdlab_run_inputs *in)
{
  const size_t p = d->p;
  memset(an, 0, sizeof *an);
  int status = SDLAB_SUCCESS;
  if (file) {
    size_t rows, cols;
    status = sdlab_npy_load_floats(file, "--anchor-file", &an->p, &rows, &cols);
    if (!status && cols != p)
      status = sdlab_fail(SDLAB_ESHAPE, "--anchor-file has %zu columns, the data %zu", cols, p);
    if (!status && d->xr)
      status = sdlab_fail(SDLAB_EPARAM, "--anchor-file anchors an SAE's directions; a transcoder needs bench anchors");
    if (!status && count && count != rows)
      status = sdlab_fail(SDLAB_EPARAM, "--anchors %zu but --anchor-file has %zu rows", count, rows);
    if (!status) {
      an->count = rows;
      for (size_t j = 0; j < rows; j++) { /* unit rows (eq. 24) */
        double nn = 0;
        for (size_t a = 0; a < p; a++)
          nn += (double)an->p[j * p + a] * an->p[j * p + a];
        for (size_t a = 0; a < p && nn > 0; a++)
          an->p[j * p + a] = (float)(an->p[j * p + a] / sqrt(nn));
      }
      an->r = malloc(rows * p * sizeof *an->r);
      if (an->r)
        memcpy(an->r, an->p, rows * p * sizeof *an->r);
      sdlab_run_inputs_set(in, SDLAB_RUN_ANCHORS, strdup(file), an->p, NULL, rows, p);
    }
    return status;
  }
  if (d->Wp == NULL)
    return sdlab_fail(SDLAB_EPARAM, "--anchors without --anchor-file needs the ground truth W_p.npy in --data");
  if (count > d->Wp->size2)
    return sdlab_fail(SDLAB_EPARAM, "--anchors %zu exceeds the %zu ground-truth features", count, d->Wp->size2);
  /* a random subset K of the features (eq. 22), seeded */
  const size_t n = d->Wp->size2;
  size_t *perm = malloc(n * sizeof *perm);
  an->count = count;
  an->ids = malloc(count * sizeof *an->ids);
  an->p = malloc(count * p * sizeof *an->p);
  an->r = malloc(count * r * sizeof *an->r);
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, (unsigned long)((seed ^ 0xa9c4) & 0xffffffffu));
  for (size_t i = 0; i < n; i++)
    perm[i] = i;
  gsl_ran_shuffle(g, perm, n, sizeof *perm);
  for (size_t j = 0; j < count; j++) {
    an->ids[j] = perm[j];
    for (size_t a = 0; a < p; a++)
      an->p[j * p + a] = (float)gsl_matrix_get(d->Wp, a, perm[j]);
    for (size_t a = 0; a < r; a++)
      an->r[j * r + a] = (float)(d->Wr ? gsl_matrix_get(d->Wr, a, perm[j]) : gsl_matrix_get(d->Wp, a, perm[j]));
  }
  gsl_rng_free(g);
  free(perm);
  return SDLAB_SUCCESS;
}

void
sdlab_run_anchors_free(sdlab_run_anchors *an)
{
  free(an->p);
  free(an->r);
  free(an->ids);
  memset(an, 0, sizeof *an);
}
