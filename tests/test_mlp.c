/* Real representations: the IDX reader against well-formed and malformed files, the MLP's gradients against
 * central differences, and the Fashion-MNIST network end to end (accuracy, activations, class means). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_errno.h"
#include "sdlab_idx.h"
#include "sdlab_mlp.h"
#include "sdlab_npy.h"

TestSuite(mlp, .init = test_dir_setup, .fini = test_dir_teardown, .timeout = 300);

/* Write bytes to test_dir/name, gzip-compressed when gz. */
static char *
put_bytes(const char *name, const unsigned char *b, size_t n, int gz)
{
  char *p = malloc(4200);
  snprintf(p, 4200, "%s/%s", test_dir, name);
  if (gz) {
    gzFile f = gzopen(p, "wb");
    cr_assert_not_null(f);
    if (n)
      cr_assert_eq(gzwrite(f, b, (unsigned)n), (int)n);
    gzclose(f);
  } else {
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fwrite(b, 1, n, f);
    fclose(f);
  }
  return p;
}

Test(mlp, idx_reads_good_files_plain_and_compressed)
{
  /* 2 x 3 bytes */
  unsigned char b[8 + 8 + 6] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 250};
  for (int gz = 0; gz < 2; gz++) {
    char *p = put_bytes(gz ? "good.gz" : "good", b, 18, gz);
    sdlab_idx x;
    cr_assert_eq(sdlab_idx_read(p, &x), 0, "%s", sdlab_error_message(1));
    cr_assert(x.ndim == 2 && x.dims[0] == 2 && x.dims[1] == 3 && x.count == 6);
    cr_assert(memcmp(x.data, b + 12, 6) == 0);
    sdlab_idx_free(&x);
    free(p);
  }
}

Test(mlp, idx_rejects_malformed_files)
{
  static const struct {
    unsigned char b[24];
    size_t n;
    const char *says;
  } cases[] = {
    {{1, 0, 8, 1, 0, 0, 0, 1, 7}, 9, "not an IDX file"},
    {{0, 0, 9, 1, 0, 0, 0, 1, 7}, 9, "IDX type 0x09"},
    {{0, 0, 8, 0}, 4, "0 dimensions"},
    {{0, 0, 8, 5, 0, 0, 0, 1}, 8, "5 dimensions"},
    {{0, 0, 8, 2, 0, 0, 0, 1, 0, 0}, 10, "header is truncated"},
    {{0, 0, 8, 1, 0, 0, 0, 0}, 8, "dimension 0 is 0"},
    {{0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3}, 11, "truncated: 3 of 4"},
    {{0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3}, 11, "bytes after"},
    {{0, 0}, 2, "file ends"},
    {{0, 0, 8, 3, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 2}, 16, "claim"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (int gz = 0; gz < 2; gz++) {
      char name[32];
      snprintf(name, sizeof name, "bad%zu%s", c, gz ? ".gz" : "");
      char *p = put_bytes(name, cases[c].b, cases[c].n, gz);
      sdlab_idx x;
      int st = sdlab_idx_read(p, &x);
      cr_assert_eq(st, SDLAB_EBADFILE, "case %zu (gz %d): status %d", c, gz, st);
      cr_assert(strstr(sdlab_error_message(st), cases[c].says), "case %zu: %s", c, sdlab_error_message(st));
      cr_assert(x.data == NULL);
      free(p);
    }
  /* a gzip stream cut in the middle is reported, not read as a short file silently */
  unsigned char big[8 + 4000] = {0, 0, 8, 1, 0, 0, 0x0f, 0xa0};
  for (size_t k = 8; k < sizeof big; k++)
    big[k] = (unsigned char)(k * 2654435761u >> 13);
  char *p = put_bytes("cut.gz", big, sizeof big, 1);
  FILE *f = fopen(p, "rb");
  unsigned char buf[8192];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  free(p);
  p = put_bytes("cut2.gz", buf, n / 2, 0);
  sdlab_idx x;
  cr_assert_eq(sdlab_idx_read(p, &x), SDLAB_EBADFILE);
  free(p);
  snprintf((char *)buf, sizeof buf, "%s/none", test_dir);
  cr_assert_eq(sdlab_idx_read((char *)buf, &x), SDLAB_EIO);
}

static double
mlp_loss(sdlab_mlp *m, const float *X, const unsigned char *y, size_t B)
{
  double loss;
  cr_assert_eq(sdlab_mlp_gradient(m, X, y, B, &loss, NULL), 0, "%s", sdlab_error_message(1));
  return loss;
}

/* Which hidden units of the last forward pass are on (rows B, hidden layers of the 5-6-4-3 network). */
static void
pattern(const sdlab_mlp *m, size_t B, unsigned char *mask)
{
  const float *h1 = sdlab_mlp_activation(m, 1), *h2 = sdlab_mlp_activation(m, 2);
  for (size_t s = 0; s < B; s++) {
    for (size_t j = 0; j < 6; j++)
      mask[s * 10 + j] = h1[s * 6 + j] > 0;
    for (size_t j = 0; j < 4; j++)
      mask[s * 10 + 6 + j] = h2[s * 4 + j] > 0;
  }
}

/* The back-propagated gradients equal central differences of the mean cross-entropy wherever the step keeps
 * every ReLU on the same side (checked on both evaluations; the others are skipped, as the loss has a kink
 * there), within float32 rounding of the loss over the step. */
Test(mlp, gradients_match_central_differences)
{
  for (uint64_t seed = 1; seed <= 3; seed++) {
    sdlab_mlp_config c;
    sdlab_mlp_config_default(&c);
    c.nlayers = 3;
    c.sizes[0] = 5;
    c.sizes[1] = 6;
    c.sizes[2] = 4;
    c.sizes[3] = 3;
    c.batch = 8;
    c.seed = seed;
    sdlab_mlp *m = sdlab_mlp_alloc(&c, 1);
    cr_assert_not_null(m);
    gsl_rng *g = test_rng(seed + 10);
    float X[8 * 5];
    unsigned char y[8];
    for (size_t k = 0; k < 40; k++)
      X[k] = (float)gsl_ran_gaussian(g, 1.0);
    for (size_t s = 0; s < 8; s++)
      y[s] = (unsigned char)gsl_rng_uniform_int(g, 3);
    for (size_t l = 1; l <= 3; l++)
      for (size_t k = 0; k < c.sizes[l]; k++)
        sdlab_mlp_bias(m, l)[k] = (float)gsl_ran_gaussian(g, 0.2);
    gsl_rng_free(g);
    mlp_loss(m, X, y, 8);
    unsigned char mask0[8 * 10];
    pattern(m, 8, mask0);
    size_t tested = 0;
    for (size_t l = 1; l <= 3; l++) {
      const size_t nw = c.sizes[l] * c.sizes[l - 1];
      float *G = malloc((nw + c.sizes[l]) * sizeof *G);
      mlp_loss(m, X, y, 8); /* the gradient at the unperturbed point (the differences below overwrite it) */
      memcpy(G, sdlab_mlp_weights_gradient(m, l), nw * sizeof *G);
      memcpy(G + nw, sdlab_mlp_bias_gradient(m, l), c.sizes[l] * sizeof *G);
      for (size_t k = 0; k < nw + c.sizes[l]; k++) {
        float *w = k < nw ? &sdlab_mlp_weights(m, l)[k] : &sdlab_mlp_bias(m, l)[k - nw];
        /* Richardson's extrapolation of central differences at h and h/2 cancels the h^2 term, which the
         * softmax's curvature makes visible in float32 at any step large enough to beat rounding */
        const float w0 = *w;
        double d[2], rmax = 0;
        int smooth = 1;
        for (int j = 0; j < 2; j++) {
          const float h = j ? 1e-2f : 2e-2f;
          unsigned char mp[8 * 10], mm[8 * 10];
          *w = w0 + h;
          const double fp = mlp_loss(m, X, y, 8);
          pattern(m, 8, mp);
          *w = w0 - h;
          const double fm = mlp_loss(m, X, y, 8);
          pattern(m, 8, mm);
          *w = w0;
          smooth &= !memcmp(mp, mask0, sizeof mask0) && !memcmp(mm, mask0, sizeof mask0);
          const double hh = ((double)(w0 + h) - (double)(w0 - h)) / 2;
          d[j] = (fp - fm) / (2 * hh);
          rmax = fmax(rmax, (fabs(fp) + fabs(fm)) / (2 * hh));
        }
        if (!smooth)
          continue; /* a ReLU switched inside a step: the loss has a kink there */
        const double fd = (4 * d[1] - d[0]) / 3;
        /* float32 rounding of each loss value (gamma of the logits' dot products and the log-sum-exp), times
         * the extrapolation's weights 4/3 + 1/3, plus the gradient's own rounding */
        const double gam = 64 * 5.96e-8, tol = 2 * gam * rmax + gam * fabs(G[k]) + 1e-7;
        cr_assert(fabs(fd - G[k]) <= tol, "seed %llu layer %zu param %zu: g %.7g fd %.7g (tol %.2g)",
                  (unsigned long long)seed, l, k, G[k], fd, tol);
        tested++;
      }
      free(G);
    }
    cr_assert(tested > 60, "only %zu of 87 parameters tested", tested);
    sdlab_mlp_free(m);
  }
}

/* Fashion-MNIST end to end, as a user runs it: the documented network (784-512-256-10, seed 1, 10 epochs)
 * reaches at least 85% test accuracy; extract writes activations of the right shapes, non-negative (ReLU)
 * and neither all zero nor all positive, and W_p holds the normalised class means of the training rows,
 * recomputed here from x_p.npy and labels.npy. */
Test(mlp, fashion_mnist_network_accuracy_activations_and_class_means)
{
  char cmd[8192], *err = NULL;
  snprintf(cmd, sizeof cmd, "'%s' mlp train --threads 1 --quiet --out '%s/m' && '%s' mlp extract --model '%s/m' --quiet "
           "--out '%s/a'", test_sdlab_bin(), test_dir, test_sdlab_bin(), test_dir, test_dir);
  cr_assert_eq(test_run(cmd, NULL, &err), 0, "%s", err);
  free(err);
  char path[4200];
  size_t len;
  snprintf(path, sizeof path, "%s/m/metrics.json", test_dir);
  char *met = test_slurp(path, &len);
  cr_assert_not_null(met);
  double acc = strtod(strstr(met, "\"test_accuracy\": ") + 17, NULL);
  cr_assert(acc >= 0.85, "test accuracy %g", acc);
  free(met);
  sdlab_array x, lab, wp;
  snprintf(path, sizeof path, "%s/a/h1/x_p.npy", test_dir);
  cr_assert_eq(sdlab_npy_read(path, &x), 0);
  snprintf(path, sizeof path, "%s/a/labels.npy", test_dir);
  cr_assert_eq(sdlab_npy_read(path, &lab), 0);
  snprintf(path, sizeof path, "%s/a/h1/W_p.npy", test_dir);
  cr_assert_eq(sdlab_npy_read(path, &wp), 0);
  cr_assert(x.ndim == 2 && x.shape[0] == 70000 && x.shape[1] == 512 && x.dtype == SDLAB_F32);
  cr_assert(lab.ndim == 1 && lab.shape[0] == 70000 && lab.dtype == SDLAB_I64);
  cr_assert(wp.ndim == 2 && wp.shape[0] == 512 && wp.shape[1] == 10 && wp.dtype == SDLAB_F64);
  const float *a = x.data;
  const long long *y = lab.data;
  const double *W = wp.data;
  size_t zeros = 0, per[10] = {0};
  double mean[2][512] = {{0}};
  for (size_t s = 0; s < 70000; s++) {
    cr_assert(y[s] >= 0 && y[s] < 10);
    per[y[s]]++;
    for (size_t j = 0; j < 512; j++) {
      cr_assert(a[s * 512 + j] >= 0 && isfinite(a[s * 512 + j]));
      zeros += a[s * 512 + j] == 0;
      if (s < 60000 && y[s] < 2)
        mean[y[s]][j] += a[s * 512 + j];
    }
  }
  for (size_t k = 0; k < 10; k++)
    cr_assert_eq(per[k], 7000u, "class %zu has %zu images (Fashion-MNIST: 6,000 + 1,000)", k, per[k]);
  cr_assert(zeros > 0 && zeros < 70000u * 512, "%zu zeros", zeros);
  for (size_t k = 0; k < 2; k++) {
    double nn = 0;
    for (size_t j = 0; j < 512; j++)
      nn += mean[k][j] * mean[k][j];
    for (size_t j = 0; j < 512; j++)
      cr_assert(fabs(mean[k][j] / sqrt(nn) - W[j * 10 + k]) <= 1e-9, "class %zu coordinate %zu", k, j);
  }
  sdlab_npy_array_release(&x);
  sdlab_npy_array_release(&lab);
  sdlab_npy_array_release(&wp);
  /* the directories feed sdlab train: shapes of the transcoder's block and the crosscoder's concatenation */
  sdlab_array b;
  snprintf(path, sizeof path, "%s/a/block/x_r.npy", test_dir);
  cr_assert_eq(sdlab_npy_read(path, &b), 0);
  cr_assert(b.shape[0] == 70000 && b.shape[1] == 256);
  sdlab_npy_array_release(&b);
  snprintf(path, sizeof path, "%s/a/cross/x_p.npy", test_dir);
  cr_assert_eq(sdlab_npy_read(path, &b), 0);
  cr_assert(b.shape[0] == 70000 && b.shape[1] == 768);
  sdlab_npy_array_release(&b);
  /* grid: a TopK SAE on h1 with --top, then the best-matching latents of classes 0 and 7 and their top images;
   * the latent choice and the images' labels are recomputed with NumPy from W_E, W_p, top.npy and labels.npy */
  snprintf(cmd, sizeof cmd, "'%s' train --data '%s/a/h1' --method topk --k 8 --latents 64 --epochs 1 --batch 1024 "
           "--biases --threads 1 --quiet --top 4 --out '%s/s' && '%s' mlp grid --run '%s/s' --truth '%s/a/h1/W_p.npy' "
           "--features 0,7 --count 4 --out '%s/g'", test_sdlab_bin(), test_dir, test_dir, test_sdlab_bin(), test_dir,
           test_dir, test_dir);
  cr_assert_eq(test_run(cmd, NULL, &err), 0, "%s", err);
  free(err);
  snprintf(path, sizeof path, "%s/g.bin", test_dir);
  char *bin = test_slurp(path, &len);
  cr_assert(bin && len == (size_t)(4 * 30) * (2 * 30), "grid of %zu bytes", len);
  free(bin);
  char *out = NULL;
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"\n"
           "import numpy as np, json\n"
           "d='%s'; E=np.load(d+'/s/W_E.npy'); W=np.load(d+'/a/h1/W_p.npy'); T=np.load(d+'/s/top.npy')\n"
           "y=np.load(d+'/a/labels.npy'); g=json.load(open(d+'/g.json'))\n"
           "C=np.abs(E@W)/np.outer(np.linalg.norm(E,axis=1),np.linalg.norm(W,axis=0))\n"
           "ok=True\n"
           "for row,f in zip(g['rows'],[0,7]):\n"
           "  ok&=row['latent']==int(np.argmax(C[:,f]))\n"
           "  lab=[int(y[r]) if r>=0 else -1 for r in T[row['latent'],:4]]\n"
           "  ok&=lab==[int(v) for v in row['image_labels']]\n"
           "print(ok)\"", test_dir);
  cr_assert_eq(test_run(cmd, &out, &err), 0, "%s", err);
  cr_assert_str_eq(out, "True\n");
  free(out);
  free(err);
}
