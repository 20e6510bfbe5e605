/* sdlab_fashion.c: Fashion-MNIST and the perceptron trained on it (sdlab_fashion.h). */
#define _POSIX_C_SOURCE 200809L
#include "sdlab_fashion.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_npy.h"

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const SDLAB_FASHION_CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                               "Shirt", "Sneaker", "Bag", "Ankle boot"};

static int
idx_path(const char *dir, const char *name, char **out)
{
  char *p = sdlab_io_path_join(dir, name);
  if (p == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  if (access(p, R_OK) != 0) {
    size_t n = strlen(p);
    char *gz = malloc(n + 4);
    if (gz == NULL) {
      free(p);
      return sdlab_fail(GSL_ENOMEM, "out of memory");
    }
    memcpy(gz, p, n);
    memcpy(gz + n, ".gz", 4);
    free(p);
    p = gz;
    if (access(p, R_OK) != 0) {
      free(p);
      return sdlab_fail(SDLAB_EIO, "no %s[.gz] in %s (install dataset-fashion-mnist, or give --data)", name, dir);
    }
  }
  *out = p;
  return SDLAB_SUCCESS;
}

void
sdlab_fashion_free(sdlab_fashion *f)
{
  for (int k = 0; k < 2; k++) {
    sdlab_idx_free(&f->img[k]);
    sdlab_idx_free(&f->lab[k]);
  }
}

int
sdlab_fashion_read(const char *dir, sdlab_fashion *f)
{
  static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                 "t10k-labels-idx1-ubyte"};
  memset(f, 0, sizeof *f);
  int status = SDLAB_SUCCESS;
  for (int k = 0; k < 4 && !status; k++) {
    char *p = NULL;
    status = idx_path(dir, names[k], &p);
    sdlab_idx *x = k % 2 == 0 ? &f->img[k / 2] : &f->lab[k / 2];
    if (!status)
      status = sdlab_idx_read(p, x);
    if (!status && k % 2 == 0 && (x->ndim != 3 || x->dims[1] != 28 || x->dims[2] != 28))
      status = sdlab_fail(SDLAB_EBADFILE, "%s: expected N x 28 x 28 images", p);
    if (!status && k % 2 == 1 && (x->ndim != 1 || x->dims[0] != f->img[k / 2].dims[0]))
      status = sdlab_fail(SDLAB_EBADFILE, "%s: expected %zu labels, one per image", p, f->img[k / 2].dims[0]);
    for (size_t s = 0; !status && k % 2 == 1 && s < x->count; s++)
      if (x->data[s] > 9)
        status = sdlab_fail(SDLAB_EBADFILE, "%s: label %u of image %zu is not a class 0-9", p, x->data[s], s);
    free(p);
  }
  if (status)
    sdlab_fashion_free(f);
  return status;
}

/* rows [from, from + B) of a split's images as floats in [0, 1] */
void
sdlab_fashion_pixels(const sdlab_idx *img, const size_t *order, size_t from, size_t B, float *X)
{
  for (size_t s = 0; s < B; s++) {
    const unsigned char *src = img->data + (order ? order[from + s] : from + s) * 784;
    for (size_t a = 0; a < 784; a++)
      X[s * 784 + a] = (float)src[a] / 255.0f;
  }
}

/* Test accuracy: the share of images whose largest logit is the label. */
int
sdlab_fashion_accuracy(sdlab_mlp *m, const sdlab_idx *img, const sdlab_idx *lab, float *X, double *acc)
{
  const sdlab_mlp_config *c = sdlab_mlp_get_config(m);
  const size_t N = img->dims[0], K = c->sizes[c->nlayers];
  size_t right = 0;
  for (size_t s0 = 0; s0 < N; s0 += c->batch) {
    const size_t B = N - s0 < c->batch ? N - s0 : c->batch;
    sdlab_fashion_pixels(img, NULL, s0, B, X);
    int status = sdlab_mlp_forward(m, X, B);
    if (status)
      return status;
    const float *z = sdlab_mlp_activation(m, c->nlayers);
    for (size_t s = 0; s < B; s++) {
      size_t arg = 0;
      for (size_t k = 1; k < K; k++)
        if (z[s * K + k] > z[s * K + arg])
          arg = k;
      right += arg == lab->data[s0 + s];
    }
  }
  *acc = (double)right / (double)N;
  return SDLAB_SUCCESS;
}

/* Begin a JSON document with the network's layer sizes. */
static void
json_begin(sdlab_json *j, const sdlab_mlp_config *c)
{
  sdlab_json_init(j);
  sdlab_json_object_begin(j, NULL);
  double sizes[SDLAB_MLP_MAX_LAYERS + 1];
  for (size_t l = 0; l <= c->nlayers; l++)
    sizes[l] = (double)c->sizes[l];
  sdlab_json_numbers(j, "sizes", sizes, c->nlayers + 1);
}

/* Publish the staging directory when all went well, else delete it; the final status. */
static int
sdlab_fashion_finish(int status, char *staging, const char *out, int force)
{
  if (!status)
    return sdlab_io_outdir_commit(staging, out, force);
  sdlab_io_outdir_abort(staging);
  return status;
}

/* Write a float matrix (rows x cols) as .npy in dir/sub/name. */
static int
write_f32(const char *dir, const char *name, size_t rows, size_t cols, const float *data)
{
  char *p = sdlab_io_path_join(dir, name);
  size_t shape[2] = {rows, cols};
  int status = p ? sdlab_npy_write(p, SDLAB_F32, cols ? 2 : 1, shape, data) : GSL_ENOMEM;
  free(p);
  return status;
}

/* Normalised class means over the first `ntrain` rows of A (N x w): W_p (w x 10), columns unit (eqs. 23-24). */
static int
class_means(const float *A, size_t ntrain, size_t w, const long long *labels, double *Wp)
{
  size_t count[10] = {0};
  memset(Wp, 0, w * 10 * sizeof *Wp);
  for (size_t s = 0; s < ntrain; s++) {
    const long long c = labels[s];
    count[c]++;
    for (size_t a = 0; a < w; a++)
      Wp[a * 10 + (size_t)c] += A[s * w + a];
  }
  for (size_t c = 0; c < 10; c++) {
    if (count[c] == 0)
      return sdlab_fail(SDLAB_EIMPOSSIBLE, "class %zu has no training image", c);
    double nn = 0;
    for (size_t a = 0; a < w; a++)
      nn += Wp[a * 10 + c] * Wp[a * 10 + c];
    if (!(nn > 0))
      return sdlab_fail(SDLAB_EIMPOSSIBLE, "the mean activation of class %zu is zero", c);
    for (size_t a = 0; a < w; a++)
      Wp[a * 10 + c] /= sqrt(nn);
  }
  return SDLAB_SUCCESS;
}

static int
write_means(const char *dir, const double *Wp, size_t w, const char *name)
{
  char *p = sdlab_io_path_join(dir, name);
  size_t shape[2] = {w, 10};
  int status = p ? sdlab_npy_write(p, SDLAB_F64, 2, shape, Wp) : GSL_ENOMEM;
  free(p);
  return status;
}

static int
make_subdir(const char *staging, const char *name, char **out)
{
  char *p = sdlab_io_path_join(staging, name);
  if (p == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  if (mkdir(p, 0777) != 0) {
    free(p);
    return sdlab_fail(SDLAB_EIO, "cannot create %s/%s", staging, name);
  }
  *out = p;
  return SDLAB_SUCCESS;
}

/* Load W_l / b_l of a trained network into m (shapes checked). */
static int
load_layer(const char *dir, size_t l, sdlab_mlp *m)
{
  const sdlab_mlp_config *c = sdlab_mlp_get_config(m);
  char name[32];
  int status = SDLAB_SUCCESS;
  for (int which = 0; which < 2 && !status; which++) {
    snprintf(name, sizeof name, which ? "b%zu.npy" : "W%zu.npy", l);
    char *p = sdlab_io_path_join(dir, name);
    sdlab_array a;
    status = sdlab_npy_read(p, &a);
    const size_t want0 = c->sizes[l], want1 = which ? 0 : c->sizes[l - 1];
    if (!status && (a.ndim != (which ? 1u : 2u) || a.shape[0] != want0 || (!which && a.shape[1] != want1)))
      status = sdlab_fail(SDLAB_ESHAPE, "%s does not fit the network's layer %zu (%zu x %zu)", p, l, want0, want1);
    if (!status && a.dtype != SDLAB_F32 && a.dtype != SDLAB_F64)
      status = sdlab_fail(SDLAB_EBADNPY, "%s holds integers, not weights", p);
    if (!status) {
      float *dst = which ? sdlab_mlp_bias(m, l) : sdlab_mlp_weights(m, l);
      for (size_t k = 0; k < a.count; k++) {
        dst[k] = a.dtype == SDLAB_F32 ? ((const float *)a.data)[k] : (float)((const double *)a.data)[k];
        if (!isfinite(dst[k]))
          status = sdlab_fail(SDLAB_ENONFINITE, "%s holds NaN or infinity", p);
      }
    }
    sdlab_npy_array_release(&a);
    free(p);
  }
  return status;
}

int
sdlab_fashion_train(const sdlab_mlp_config *c, size_t epochs, int threads, const char *data, const char *out, int force,
                    sdlab_progress_fn progress, void *ctx, double *test_accuracy)
{
  sdlab_fashion f;
  int status = sdlab_fashion_read(data, &f);
  if (status)
    return status;
  char *staging = NULL;
  sdlab_mlp *m = NULL;
  float *X = NULL;
  size_t *order = NULL;
  double *tl = calloc(epochs, sizeof *tl), *ta = calloc(epochs, sizeof *ta), *te = calloc(epochs, sizeof *te);
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  const size_t N = f.img[0].dims[0];
  if (!tl || !ta || !te || !g || !(order = malloc(N * sizeof *order)))
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status && c->batch > N)
    status = sdlab_fail(SDLAB_ESHAPE, "--batch %zu exceeds the %zu training images of %s", c->batch, N, data);
  if (!status)
    status = sdlab_io_outdir_begin(out, force, &staging);
  if (!status && !(m = sdlab_mlp_alloc(c, threads)))
    status = GSL_EINVAL;
  if (!status && !(X = malloc(c->batch * 784 * sizeof *X)))
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    gsl_rng_set(g, (unsigned long)(c->seed & 0xffffffffu) ^ 0x2718u);
    for (size_t s = 0; s < N; s++)
      order[s] = s;
  }
  const size_t steps = (N + c->batch - 1) / c->batch;
  for (size_t e = 0; !status && e < epochs; e++) {
    gsl_ran_shuffle(g, order, N, sizeof *order);
    double loss_sum = 0;
    size_t right = 0;
    unsigned char *y = malloc(c->batch);
    if (y == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    for (size_t k = 0; !status && k < steps; k++) {
      const size_t s0 = k * c->batch, B = N - s0 < c->batch ? N - s0 : c->batch;
      sdlab_fashion_pixels(&f.img[0], order, s0, B, X);
      for (size_t s = 0; s < B; s++)
        y[s] = f.lab[0].data[order[s0 + s]];
      double loss;
      size_t ok;
      status = sdlab_mlp_step(m, X, y, B, &loss, &ok);
      loss_sum += loss * (double)B;
      right += ok;
      char stage[64];
      snprintf(stage, sizeof stage, "epoch %zu/%zu", e + 1, epochs);
      if (progress)
        progress(ctx, stage, k + 1, steps, NULL, 0);
    }
    free(y);
    if (!status) {
      tl[e] = loss_sum / (double)N;
      ta[e] = (double)right / (double)N;
      status = sdlab_fashion_accuracy(m, &f.img[1], &f.lab[1], X, &te[e]);
    }
    if (!status && progress) {
      const sdlab_progress_figure fig[] = {{"loss", tl[e]}, {"train accuracy", ta[e]}, {"test accuracy", te[e]}};
      progress(ctx, SDLAB_FASHION_EPOCH, e + 1, epochs, fig, 3);
    }
  }
  for (size_t l = 1; !status && l <= c->nlayers; l++) {
    char name[32];
    size_t shape[2] = {c->sizes[l], c->sizes[l - 1]};
    snprintf(name, sizeof name, "W%zu.npy", l);
    char *p = sdlab_io_path_join(staging, name);
    status = sdlab_npy_write(p, SDLAB_F32, 2, shape, sdlab_mlp_weights(m, l));
    free(p);
    snprintf(name, sizeof name, "b%zu.npy", l);
    p = sdlab_io_path_join(staging, name);
    if (!status)
      status = sdlab_npy_write(p, SDLAB_F32, 1, shape, sdlab_mlp_bias(m, l));
    free(p);
  }
  if (!status) {
    sdlab_json j;
    json_begin(&j, c);
    sdlab_json_integer(&j, "epochs", (long long)epochs);
    sdlab_json_integer(&j, "batch", (long long)c->batch);
    sdlab_json_number(&j, "lr", c->lr);
    sdlab_json_integer(&j, "seed", (long long)c->seed);
    sdlab_json_integer(&j, "threads", (long long)threads);
    sdlab_json_string(&j, "data", data);
    sdlab_json_number(&j, "test_accuracy", te[epochs - 1]);
    sdlab_json_number(&j, "train_accuracy", ta[epochs - 1]);
    sdlab_json_numbers(&j, "epoch_train_loss", tl, epochs);
    sdlab_json_numbers(&j, "epoch_train_accuracy", ta, epochs);
    sdlab_json_numbers(&j, "epoch_test_accuracy", te, epochs);
    sdlab_json_object_end(&j);
    status = sdlab_json_write(&j, staging, "metrics.json");
  }
  status = sdlab_fashion_finish(status, staging, out, force);
  if (!status && test_accuracy)
    *test_accuracy = te[epochs - 1];
  free(X);
  free(order);
  free(tl);
  free(ta);
  free(te);
  gsl_rng_free(g);
  sdlab_mlp_free(m);
  sdlab_fashion_free(&f);
  return status;
}

/* mlp extract's files into staging: h1/, h2/, ..., block/, cross/, labels.npy, meta.json (sdlab_fashion.h) from
 * the activations acts[h] (N x width) and class means Wp[h] of each hidden layer h. */
static int
write_extraction(const char *staging, const char *model, const sdlab_mlp_config *c, const float *const *acts,
                 const double *const *Wp, size_t N, size_t Ntr, const long long *labels, double accuracy)
{
  const size_t H = c->nlayers - 1;
  int status = SDLAB_SUCCESS;
  for (size_t h = 1; !status && h <= H; h++) {
    char name[16], *sub = NULL;
    snprintf(name, sizeof name, "h%zu", h);
    status = make_subdir(staging, name, &sub);
    if (!status)
      status = write_f32(sub, "x_p.npy", N, c->sizes[h], acts[h]);
    if (!status)
      status = write_means(sub, Wp[h], c->sizes[h], "W_p.npy");
    free(sub);
  }
  if (!status) { /* the block of layer 2: input h1, output h2 */
    char *sub = NULL;
    status = make_subdir(staging, "block", &sub);
    if (!status)
      status = write_f32(sub, "x_p.npy", N, c->sizes[1], acts[1]);
    if (!status)
      status = write_f32(sub, "x_r.npy", N, c->sizes[2], acts[2]);
    if (!status)
      status = write_means(sub, Wp[1], c->sizes[1], "W_p.npy");
    if (!status)
      status = write_means(sub, Wp[2], c->sizes[2], "W_r.npy");
    free(sub);
  }
  if (!status) { /* h1 and h2 concatenated, with their class means stacked (each part unit norm) */
    const size_t w1 = c->sizes[1], w2 = c->sizes[2], w = w1 + w2;
    float *cat = malloc(N * w * sizeof *cat);
    double *Wc = malloc(w * 10 * sizeof *Wc);
    char *sub = NULL;
    if (!cat || !Wc)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for the concatenated layers");
    for (size_t s = 0; !status && s < N; s++) {
      memcpy(cat + s * w, acts[1] + s * w1, w1 * sizeof(float));
      memcpy(cat + s * w + w1, acts[2] + s * w2, w2 * sizeof(float));
    }
    if (!status)
      status = class_means(cat, Ntr, w, labels, Wc);
    if (!status)
      status = make_subdir(staging, "cross", &sub);
    if (!status)
      status = write_f32(sub, "x_p.npy", N, w, cat);
    if (!status)
      status = write_means(sub, Wc, w, "W_p.npy");
    free(sub);
    free(cat);
    free(Wc);
  }
  if (!status) {
    char *p = sdlab_io_path_join(staging, "labels.npy");
    size_t shape[1] = {N};
    status = sdlab_npy_write(p, SDLAB_I64, 1, shape, labels);
    free(p);
  }
  if (!status) {
    sdlab_json j;
    json_begin(&j, c);
    sdlab_json_string(&j, "model", model);
    sdlab_json_integer(&j, "images", (long long)N);
    sdlab_json_string(&j, "order", "the 60,000 training images, then the 10,000 test images, in IDX order");
    sdlab_json_integer(&j, "train_images", (long long)Ntr);
    sdlab_json_number(&j, "test_accuracy", accuracy);
    sdlab_json_string(&j, "class_means", "normalised means of the training images' activations, eqs. 23-24");
    sdlab_json_object_end(&j);
    status = sdlab_json_write(&j, staging, "meta.json");
  }
  return status;
}

int
sdlab_fashion_extract(const char *model, const char *data, const char *out, int force, sdlab_progress_fn progress,
                      void *ctx, size_t *images, double *test_accuracy)
{
  /* the network's sizes from its weight files */
  sdlab_mlp_config c;
  sdlab_mlp_config_default(&c);
  c.batch = 1000;
  c.sizes[0] = 784;
  int status = SDLAB_SUCCESS;
  for (size_t l = 1; l <= SDLAB_MLP_MAX_LAYERS; l++) {
    char name[32];
    snprintf(name, sizeof name, "W%zu.npy", l);
    char *p = sdlab_io_path_join(model, name);
    if (access(p, R_OK) != 0) {
      free(p);
      break;
    }
    sdlab_array a;
    status = sdlab_npy_read(p, &a);
    if (!status && (a.ndim != 2 || a.shape[1] != c.sizes[l - 1]))
      status = sdlab_fail(SDLAB_ESHAPE, "%s is not a %zu-column weight matrix", p, c.sizes[l - 1]);
    if (!status)
      c.sizes[l] = a.shape[0];
    sdlab_npy_array_release(&a);
    free(p);
    if (status)
      return status;
    c.nlayers = l;
  }
  if (c.nlayers < 3 || c.sizes[c.nlayers] != 10)
    return sdlab_fail(SDLAB_EBADFILE, "%s does not hold a network written by sdlab mlp train (W1.npy ... with two "
                      "hidden layers or more and 10 classes)", model);
  sdlab_fashion f;
  if ((status = sdlab_fashion_read(data, &f)))
    return status;
  const size_t Ntr = f.img[0].dims[0], N = Ntr + f.img[1].dims[0], H = c.nlayers - 1;
  sdlab_mlp *m = sdlab_mlp_alloc(&c, 2);
  float *X = malloc(c.batch * 784 * sizeof *X), *acts[SDLAB_MLP_MAX_LAYERS] = {0};
  long long *labels = malloc(N * sizeof *labels);
  double *Wp[SDLAB_MLP_MAX_LAYERS] = {0};
  char *staging = NULL;
  if (m == NULL)
    status = GSL_EINVAL;
  else if (!X || !labels)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t l = 1; !status && l <= c.nlayers; l++)
    status = load_layer(model, l, m);
  if (!status) { /* the disk, before the activations are computed: every hidden layer's, then the block's and the
                  * crosscoder's (h1 and h2 again, each), float32, with the labels and a slack for the rest */
    uint64_t width = 0;
    for (size_t h = 1; h <= H; h++)
      width += c.sizes[h];
    width += 2 * (c.sizes[1] + c.sizes[2]);
    status = sdlab_io_space_check(out, 4 * (uint64_t)N * width + 8 * (uint64_t)N + 1048576);
  }
  for (size_t h = 1; !status && h <= H; h++)
    if (!(acts[h] = malloc(N * c.sizes[h] * sizeof(float))) || !(Wp[h] = malloc(c.sizes[h] * 10 * sizeof(double))))
      status = sdlab_fail(GSL_ENOMEM, "out of memory for %zu x %zu activations", N, c.sizes[h]);
  size_t right = 0;
  for (int split = 0; split < 2; split++) { /* rows: the training images, then the test images */
    const size_t base = split ? Ntr : 0, Ns = f.img[split].dims[0];
    for (size_t s0 = 0; !status && s0 < Ns; s0 += c.batch) {
      const size_t B = Ns - s0 < c.batch ? Ns - s0 : c.batch, g0 = base + s0;
      sdlab_fashion_pixels(&f.img[split], NULL, s0, B, X);
      status = sdlab_mlp_forward(m, X, B);
      for (size_t h = 1; !status && h <= H; h++)
        memcpy(acts[h] + g0 * c.sizes[h], sdlab_mlp_activation(m, h), B * c.sizes[h] * sizeof(float));
      const float *z = status ? NULL : sdlab_mlp_activation(m, c.nlayers);
      for (size_t s = 0; z && s < B; s++) {
        labels[g0 + s] = f.lab[split].data[s0 + s];
        size_t arg = 0;
        for (size_t k = 1; k < 10; k++)
          if (z[s * 10 + k] > z[s * 10 + arg])
            arg = k;
        right += split && (long long)arg == labels[g0 + s];
      }
      if (progress)
        progress(ctx, "activations", g0 + B, N, NULL, 0);
    }
  }
  for (size_t h = 1; !status && h <= H; h++)
    status = class_means(acts[h], Ntr, c.sizes[h], labels, Wp[h]);
  if (!status)
    status = sdlab_io_outdir_begin(out, force, &staging);
  if (!status)
    status = write_extraction(staging, model, &c, (const float *const *)acts, (const double *const *)Wp, N, Ntr, labels,
                              (double)right / (double)(N - Ntr));
  status = sdlab_fashion_finish(status, staging, out, force);
  if (!status) {
    *images = N;
    *test_accuracy = (double)right / (double)(N - Ntr);
  }
  for (size_t h = 0; h < SDLAB_MLP_MAX_LAYERS; h++) {
    free(acts[h]);
    free(Wp[h]);
  }
  free(X);
  free(labels);
  sdlab_mlp_free(m);
  sdlab_fashion_free(&f);
  return status;
}

int
sdlab_fashion_grid(const char *run, const char *truth, const size_t *feats, size_t nf, size_t count, const char *data,
                   const char *out)
{
  gsl_matrix *W = NULL, *E = NULL;
  sdlab_array top = {0};
  char *p = sdlab_io_path_join(run, "W_E.npy");
  int status = sdlab_npy_load_matrix(truth, "--truth", &W);
  if (!status)
    status = sdlab_npy_load_matrix(p, "W_E", &E);
  free(p);
  p = sdlab_io_path_join(run, "top.npy");
  if (!status)
    status = sdlab_npy_read(p, &top);
  if (!status && (top.ndim != 2 || top.dtype != SDLAB_I64 || top.shape[0] != E->size1 || top.shape[1] < count))
    status = sdlab_fail(SDLAB_ESHAPE, "%s must be %zu x K (K >= %zu) row indices: train the run with --top", p,
                        E->size1, count);
  free(p);
  if (!status && E->size2 != W->size1)
    status = sdlab_fail(SDLAB_ESHAPE, "the encoder reads %zu dimensions, --truth has %zu", E->size2, W->size1);
  for (size_t f = 0; !status && f < nf; f++)
    if (feats[f] >= W->size2)
      status = sdlab_fail(SDLAB_EPARAM, "feature %zu is not below the %zu of --truth", feats[f], W->size2);
  sdlab_fashion fa;
  int have = 0;
  if (!status && !(status = sdlab_fashion_read(data, &fa)))
    have = 1;
  const size_t Ntr = have ? fa.img[0].dims[0] : 0, N = have ? Ntr + fa.img[1].dims[0] : 0;
  const size_t tw = 30, Wd = count * tw, Ht = nf * tw;
  unsigned char *img = status ? NULL : calloc(Wd * Ht, 1);
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_integer(&j, "width", (long long)Wd);
  sdlab_json_integer(&j, "height", (long long)Ht);
  sdlab_json_array_begin(&j, "rows");
  size_t match_total = 0, shown_total = 0;
  for (size_t f = 0; !status && f < nf; f++) {
    /* the best-matching encoder row: |cos| with the feature */
    size_t best = 0;
    double bc = -1, mm = 0;
    for (size_t a = 0; a < W->size1; a++)
      mm += gsl_matrix_get(W, a, feats[f]) * gsl_matrix_get(W, a, feats[f]);
    for (size_t i = 0; i < E->size1; i++) {
      double d = 0, nn = 0;
      for (size_t a = 0; a < E->size2; a++) {
        d += gsl_matrix_get(E, i, a) * gsl_matrix_get(W, a, feats[f]);
        nn += gsl_matrix_get(E, i, a) * gsl_matrix_get(E, i, a);
      }
      const double cs = nn > 0 && mm > 0 ? fabs(d) / sqrt(nn * mm) : 0;
      if (cs > bc) {
        bc = cs;
        best = i;
      }
    }
    const long long *rows = (const long long *)top.data + best * top.shape[1];
    size_t shown = 0, match = 0;
    double labels[64];
    for (size_t k = 0; k < count; k++) {
      labels[k] = -1;
      if (rows[k] < 0)
        continue;
      if ((size_t)rows[k] >= N) {
        status = sdlab_fail(SDLAB_ESHAPE, "top.npy names row %lld of %zu images: not this data set", rows[k], N);
        break;
      }
      const int split = (size_t)rows[k] >= Ntr;
      const size_t at = (size_t)rows[k] - (split ? Ntr : 0);
      const unsigned char *src = fa.img[split].data + at * 784;
      for (size_t y = 0; y < 28; y++)
        memcpy(img + (f * tw + 1 + y) * Wd + k * tw + 1, src + y * 28, 28);
      labels[k] = fa.lab[split].data[at];
      shown++;
      match += fa.lab[split].data[at] == feats[f];
    }
    match_total += match;
    shown_total += shown;
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_integer(&j, "feature", (long long)feats[f]);
    sdlab_json_string(&j, "class", feats[f] < 10 ? SDLAB_FASHION_CLASSES[feats[f]] : "");
    sdlab_json_integer(&j, "latent", (long long)best);
    sdlab_json_number(&j, "cosine", bc);
    sdlab_json_numbers(&j, "image_labels", labels, count);
    sdlab_json_number(&j, "purity", shown ? (double)match / (double)shown : NAN);
    sdlab_json_object_end(&j);
  }
  sdlab_json_array_end(&j);
  sdlab_json_number(&j, "purity", shown_total ? (double)match_total / (double)shown_total : NAN);
  sdlab_json_object_end(&j);
  if (!status && img == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) { /* the image as raw bytes (gnuplot: binary array=(width,height) format='%uchar'), then the JSON */
    size_t n = strlen(out);
    char *bin = malloc(n + 8), *js = malloc(n + 8);
    const char *text = sdlab_json_text(&j);
    if (!bin || !js || !text)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    if (!status) { /* both files or neither */
      snprintf(bin, n + 8, "%s.bin", out);
      snprintf(js, n + 8, "%s.json", out);
      const char *paths[2] = {bin, js};
      const void *bytes[2] = {img, text};
      const size_t lens[2] = {Wd * Ht, strlen(text)};
      status = sdlab_io_atomic_write_all(2, paths, bytes, lens);
    }
    free(bin);
    free(js);
  }
  sdlab_json_free(&j);
  free(img);
  if (have)
    sdlab_fashion_free(&fa);
  sdlab_npy_array_release(&top);
  if (W) gsl_matrix_free(W);
  if (E) gsl_matrix_free(E);
  return status;
}
