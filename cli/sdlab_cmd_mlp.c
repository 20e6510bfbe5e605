/* sdlab mlp: real neural representations made here.  `train` fits a multilayer perceptron to Fashion-MNIST
 * (Debian's dataset-fashion-mnist); `extract` writes its hidden activations for all 70,000 images in the
 * layout `sdlab train --data DIR` reads, with the normalised class means (eqs. 23-24) as ground-truth proxy. */
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_fashion.h"
#include "sdlab_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab mlp train --out DIR [--data DIR] [--hidden 512,256] [--epochs 10] [--batch 128] [--lr 1e-3]\n"
  "                       [--seed 1] [--threads T] [--force] [--quiet]\n"
  "       sdlab mlp extract --model DIR --out DIR [--data DIR] [--force] [--quiet]\n"
  "       sdlab mlp grid --run RUN --truth W_p.npy --features f1,f2,... --out PREFIX [--count 8] [--data DIR]\n"
  "\n"
  "train: a ReLU multilayer perceptron 784 -> hidden ... -> 10 on Fashion-MNIST's 60,000 training images\n"
  "(pixels / 255), softmax cross-entropy, Adam, shuffled each epoch from the seed; the test accuracy on the\n"
  "10,000 test images after each epoch.  Writes W1.npy (h1 x 784), b1.npy, W2.npy, ..., metrics.json.\n"
  "\n"
  "extract: the trained network's hidden activations for all 70,000 images (the 60,000 training images,\n"
  "then the 10,000 test images), as data directories for sdlab train --data:\n"
  "  h1/, h2/, ...   x_p.npy (70000 x width, float32) and W_p.npy: the normalised class means of the\n"
  "                  training images (width x 10; eqs. 23-24), the ground-truth proxy and anchors\n"
  "  block/          the MLP block of layer 2 (input h1, output h2): x_p.npy, x_r.npy, W_p.npy, W_r.npy,\n"
  "                  for a transcoder\n"
  "  cross/          h1 and h2 concatenated (x_p.npy and its class means W_p.npy), for a crosscoder\n"
  "  labels.npy (70000, int64), meta.json (sizes, order, accuracy)\n"
  "\n"
  "grid: for each feature f (a column of W_p, here a class), the latent of RUN whose encoder row matches it best\n"
  "(|cos|), and its top-activating images (RUN/top.npy, from sdlab train --top on the extracted activations),\n"
  "tiled into PREFIX.bin (raw bytes, 30 pixels per image; gnuplot reads binary array=(width,height)) and\n"
  "PREFIX.json (the latents, cosines, the images' labels, and the purity: the share of shown images of class f).\n"
  "\n"
  "  --data DIR    the IDX files (train-images-idx3-ubyte[.gz], ...; default " SDLAB_FASHION_DIR ")\n"
  "  --hidden W    hidden widths (default 512,256)\n"
  "  --model DIR   a directory written by sdlab mlp train\n";

static int
parse_widths(const char *text, sdlab_mlp_config *c)
{
  const char *p = text;
  c->nlayers = 0;
  c->sizes[0] = 784;
  while (*p) {
    char *e;
    unsigned long v = strtoul(p, &e, 10);
    if (e == p || v == 0 || v > 65536 || (*e && *e != ',') || c->nlayers + 1 >= SDLAB_MLP_MAX_LAYERS) {
      fprintf(stderr, "sdlab mlp: error: --hidden needs 1 to %d positive widths separated by commas (got '%s')\n",
              SDLAB_MLP_MAX_LAYERS - 1, text);
      return SDLAB_EUSAGE;
    }
    c->sizes[++c->nlayers] = v;
    p = *e ? e + 1 : e;
  }
  c->sizes[++c->nlayers] = 10;
  return SDLAB_SUCCESS;
}

enum { T_OUT, T_DATA, T_HIDDEN, T_EPOCHS, T_BATCH, T_LR, T_SEED, T_THREADS, T_FORCE, T_QUIET, T_COUNT };

/* mlp train's report: progress on a terminal, a line after each epoch */
typedef struct {
  sdlab_cli_progress prog; /* within an epoch */
  int quiet;
  double t0;
} mlp_report;

static void
epoch_report(void *ctx, const char *stage, size_t done, size_t total, const sdlab_progress_figure *fig, size_t nfig)
{
  mlp_report *r = ctx;
  if (strcmp(stage, SDLAB_FASHION_EPOCH) != 0 || nfig < 3) { /* within an epoch */
    sdlab_cli_progress_update(&r->prog, stage, done, total, fig, nfig);
    return;
  }
  if (r->quiet)
    return;
  sdlab_cli_progress_done(&r->prog);
  fprintf(stderr, "sdlab mlp train: epoch %zu: loss %.4f, train accuracy %.4f, test accuracy %.4f (%.0f s)\n", done,
          fig[0].value, fig[1].value, fig[2].value, sdlab_now() - r->t0);
}

static int
mlp_train(int argc, char **argv)
{
  static const char *names[T_COUNT] = {"--out", "--data", "--hidden", "--epochs", "--batch", "--lr", "--seed",
                                       "--threads", "--force", "--quiet"};
  sdlab_opt o[T_COUNT];
  sdlab_cli_options(o, names, T_COUNT, "--force --quiet");
  int r = sdlab_cli_parse("mlp train", argc, argv, o, T_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r || sdlab_cli_require("mlp train", o, T_COUNT, names, 1))
    return SDLAB_EXIT_USAGE;
  sdlab_mlp_config c;
  sdlab_mlp_config_default(&c);
  size_t epochs = 10, threads = 2;
  if (parse_widths(o[T_HIDDEN].value ? o[T_HIDDEN].value : "512,256", &c) ||
      (o[T_EPOCHS].value && sdlab_cli_size("mlp train", "--epochs", o[T_EPOCHS].value, &epochs)) ||
      (o[T_BATCH].value && sdlab_cli_size("mlp train", "--batch", o[T_BATCH].value, &c.batch)) ||
      (o[T_LR].value && sdlab_cli_double("mlp train", "--lr", o[T_LR].value, &c.lr)) ||
      (o[T_SEED].value && sdlab_cli_u64("mlp train", "--seed", o[T_SEED].value, &c.seed)) ||
      (o[T_THREADS].value && sdlab_cli_size("mlp train", "--threads", o[T_THREADS].value, &threads)))
    return SDLAB_EXIT_USAGE;
  if (epochs == 0 || c.batch == 0 || threads == 0 || threads > 64 || !(c.lr > 0)) {
    fprintf(stderr, "sdlab mlp train: error: --epochs, --batch, --threads (at most 64) and --lr must be positive\n");
    return SDLAB_EXIT_USAGE;
  }
  const char *out = o[T_OUT].value, *data = o[T_DATA].value ? o[T_DATA].value : SDLAB_FASHION_DIR;
  const int force = o[T_FORCE].value != NULL, quiet = o[T_QUIET].value != NULL;
  mlp_report rep = {{0, 0}, quiet, sdlab_now()};
  sdlab_cli_progress_init(&rep.prog, quiet);
  double acc = NAN;
  int status = sdlab_fashion_train(&c, epochs, (int)threads, data, out, force, epoch_report, &rep, &acc);
  sdlab_cli_progress_done(&rep.prog);
  if (!status && !quiet)
    fprintf(stderr, "sdlab mlp train: wrote %s (test accuracy %.4f, %.1f s)\n", out, acc, sdlab_now() - rep.t0);
  return status ? sdlab_cli_fail("mlp train", status) : SDLAB_EXIT_OK;
}

enum { E_MODEL, E_OUT, E_DATA, E_FORCE, E_QUIET, E_COUNT };

static int
mlp_extract(int argc, char **argv)
{
  static const char *names[E_COUNT] = {"--model", "--out", "--data", "--force", "--quiet"};
  sdlab_opt o[E_COUNT];
  sdlab_cli_options(o, names, E_COUNT, "--force --quiet");
  int r = sdlab_cli_parse("mlp extract", argc, argv, o, E_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r || sdlab_cli_require("mlp extract", o, E_COUNT, names, 2))
    return SDLAB_EXIT_USAGE;
  const char *model = o[E_MODEL].value, *out = o[E_OUT].value;
  const char *data = o[E_DATA].value ? o[E_DATA].value : SDLAB_FASHION_DIR;
  const int force = o[E_FORCE].value != NULL, quiet = o[E_QUIET].value != NULL;
  sdlab_cli_progress prog;
  sdlab_cli_progress_init(&prog, quiet);
  size_t N = 0;
  double acc = NAN;
  int status = sdlab_fashion_extract(model, data, out, force, sdlab_cli_progress_update, &prog, &N, &acc);
  sdlab_cli_progress_done(&prog);
  if (!status && !quiet)
    fprintf(stderr, "sdlab mlp extract: wrote %s (%zu images; test accuracy %.4f)\n", out, N, acc);
  return status ? sdlab_cli_fail("mlp extract", status) : SDLAB_EXIT_OK;
}

enum { G_RUN, G_TRUTH, G_FEATURES, G_COUNT_, G_DATA, G_OUT, G_N };


/* grid: for each listed feature (a class mean, column of W_p), the run's latent whose encoder row matches it
 * best (|cos|), and that latent's top-activating images from RUN/top.npy, tiled 28 x 28 with 2-pixel gaps. */
static int
mlp_grid(int argc, char **argv)
{
  static const char *names[G_N] = {"--run", "--truth", "--features", "--count", "--data", "--out"};
  sdlab_opt o[G_N];
  sdlab_cli_options(o, names, G_N, NULL);
  int r = sdlab_cli_parse("mlp grid", argc, argv, o, G_N);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  static const char *req[] = {"--run", "--truth", "--features", "--out"};
  if (r || sdlab_cli_require("mlp grid", o, G_N, req, 4))
    return SDLAB_EXIT_USAGE;
  size_t count = 8, feats[16], nf = 0;
  if (o[G_COUNT_].value && sdlab_cli_size("mlp grid", "--count", o[G_COUNT_].value, &count))
    return SDLAB_EXIT_USAGE;
  if (count == 0 || count > 64) {
    fprintf(stderr, "sdlab mlp grid: error: --count must be 1 to 64\n");
    return SDLAB_EXIT_USAGE;
  }
  for (const char *p = o[G_FEATURES].value; *p;) {
    char *e;
    unsigned long v = strtoul(p, &e, 10);
    if (e == p || (*e && *e != ',') || nf == 16) {
      fprintf(stderr, "sdlab mlp grid: error: --features needs 1 to 16 feature indices separated by commas\n");
      return SDLAB_EXIT_USAGE;
    }
    feats[nf++] = v;
    p = *e ? e + 1 : e;
  }
  const char *run = o[G_RUN].value, *out = o[G_OUT].value;
  const char *data = o[G_DATA].value ? o[G_DATA].value : SDLAB_FASHION_DIR;
  const int status = sdlab_fashion_grid(run, o[G_TRUTH].value, feats, nf, count, data, out);
  return status ? sdlab_cli_fail("mlp grid", status) : SDLAB_EXIT_OK;
}

int
sdlab_cmd_mlp(int argc, char **argv)
{
  if (argc >= 2 && strcmp(argv[1], "train") == 0)
    return mlp_train(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "extract") == 0)
    return mlp_extract(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "grid") == 0)
    return mlp_grid(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  fprintf(stderr, "sdlab mlp: error: %s (train, extract or grid)\n", argc >= 2 ? "unknown subcommand" : "missing subcommand");
  return SDLAB_EXIT_USAGE;
}
