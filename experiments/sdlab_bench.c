/* sdlab-bench: speed of the foundation at the paper's sizes, set beside this machine's BLAS rate
 * measured in the same run (the machine is shared: ratios are what compare across runs).
 *
 *   bench generation    n = 1000, n_p = 768, N = 100,000, S = 0.99, M = 0.1 (Table 3): C.1 + C.2 + C.3
 *   L~ and gradients    n = 1000, n_p = n_r = 768, n_q = 1000 and 16,000, TopK(32)
 *   MCC                 1000 features x 16,000 latents (optimal matching, certified)
 * Usage: sdlab-bench [--quick] */
#include "sdlab_cli.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_lrb.h"
#include "sdlab_metrics.h"
#include "sdlab_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

void openblas_set_num_threads(int n);

static double
dgemm_gflops(size_t m, size_t k, size_t n)
{
  gsl_matrix *A = gsl_matrix_alloc(m, k), *B = gsl_matrix_alloc(k, n), *C = gsl_matrix_alloc(m, n);
  gsl_matrix_set_all(A, 0.5);
  gsl_matrix_set_all(B, 0.25);
  gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, A, B, 0.0, C); /* warm-up */
  double best = INFINITY;
  for (int r = 0; r < 3; r++) {
    double t0 = sdlab_now();
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, A, B, 0.0, C);
    best = fmin(best, sdlab_now() - t0);
  }
  gsl_matrix_free(A);
  gsl_matrix_free(B);
  gsl_matrix_free(C);
  return 2.0 * (double)m * (double)k * (double)n / best / 1e9;
}

static int
bench_generation(size_t N, double *seconds)
{
  sdlab_lrb_params p;
  sdlab_lrb_params_default(&p);
  p.samples = N;
  p.seed = 1;
  double t0 = sdlab_now();
  sdlab_lrb_truth t;
  int status = sdlab_lrb_truth_make(&p, &t, NULL, NULL);
  if (status)
    return status;
  sdlab_lrb_sampler *s = sdlab_lrb_sampler_alloc(&p);
  const size_t chunk = 4096;
  gsl_matrix *X = gsl_matrix_alloc(chunk, p.n), *Xp = gsl_matrix_alloc(chunk, p.dim);
  double checksum = 0;
  for (size_t done = 0; done < N; done += chunk) {
    size_t b = N - done < chunk ? N - done : chunk;
    sdlab_lrb_sampler_next(s, b, X->data);
    gsl_matrix_view Xb = gsl_matrix_submatrix(X, 0, 0, b, p.n), Pb = gsl_matrix_submatrix(Xp, 0, 0, b, p.dim);
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, &Xb.matrix, t.Wp, 0.0, &Pb.matrix);
    checksum += gsl_matrix_get(Xp, 0, 0);
  }
  *seconds = sdlab_now() - t0;
  gsl_matrix_free(X);
  gsl_matrix_free(Xp);
  sdlab_lrb_sampler_free(s);
  sdlab_lrb_truth_free(&t);
  return isfinite(checksum) ? SDLAB_SUCCESS : SDLAB_ENONFINITE;
}

/* L~ and both gradients: the first call (which also touches the workspace's fresh pages) and the best
 * of three further calls. */
static int
bench_ltilde(size_t nq, double *first, double *seconds)
{
  const size_t n = 1000, np = 768;
  sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 32};
  sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, np, nq, np, 1, &act);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  for (size_t k = 0; k < nq * np; k++)
    m->WE->data[k] = gsl_ran_gaussian_ziggurat(r, 0.05);
  for (size_t k = 0; k < nq * np; k++)
    m->WD->data[k] = gsl_ran_gaussian_ziggurat(r, 0.05);
  gsl_matrix *Wp = gsl_matrix_alloc(np, n), *gE = gsl_matrix_alloc(nq, np), *gD = gsl_matrix_alloc(np, nq);
  for (size_t k = 0; k < np * n; k++)
    Wp->data[k] = gsl_ran_gaussian_ziggurat(r, 1.0 / sqrt((double)np));
  gsl_vector *Md = gsl_vector_alloc(n);
  gsl_vector_set_all(Md, 1e-3);
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(n, m);
  double L;
  double t0 = sdlab_now();
  int status = sdlab_loss_tilde(m, Wp, Wp, Md, &L, gE, gD, w);
  *first = sdlab_now() - t0;
  *seconds = INFINITY;
  for (int rep = 0; rep < 3 && !status; rep++) {
    t0 = sdlab_now();
    status = sdlab_loss_tilde(m, Wp, Wp, Md, &L, gE, gD, w);
    *seconds = fmin(*seconds, sdlab_now() - t0);
  }
  sdlab_loss_workspace_free(w);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
  gsl_matrix_free(gE);
  gsl_matrix_free(gD);
  gsl_rng_free(r);
  sdlab_model_free(m);
  return status;
}

static int
bench_mcc(size_t n, size_t q, double *seconds)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_matrix *S = gsl_matrix_alloc(q, n);
  for (size_t k = 0; k < q * n; k++)
    S->data[k] = fabs(gsl_ran_gaussian_ziggurat(r, 0.05));
  for (size_t i = 0; i < n; i++) /* a learned dictionary that recovered most features */
    gsl_matrix_set(S, (i * 7919) % q, i, 0.9 + 0.1 * gsl_rng_uniform(r));
  double mcc, t0 = sdlab_now();
  int status = sdlab_metrics_mcc(S, NULL, &mcc, NULL);
  *seconds = sdlab_now() - t0;
  gsl_matrix_free(S);
  gsl_rng_free(r);
  return status;
}

static double
sgemm_gflops(size_t m, size_t k, size_t n)
{
  float *A = malloc(m * k * sizeof *A), *B = malloc(k * n * sizeof *B), *C = malloc(m * n * sizeof *C);
  for (size_t i = 0; i < m * k; i++)
    A[i] = 0.5f;
  for (size_t i = 0; i < k * n; i++)
    B[i] = 0.25f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, A, (int)k, B, (int)k, 0.0f, C, (int)n);
  double best = INFINITY;
  for (int r = 0; r < 5; r++) {
    double t0 = sdlab_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, A, (int)k, B, (int)k, 0.0f, C,
                (int)n);
    best = fmin(best, sdlab_now() - t0);
  }
  free(A);
  free(B);
  free(C);
  return 2.0 * (double)m * (double)k * (double)n / best / 1e9;
}

/* Training throughput: method, n_p = 768, Q = 4096, batch 1024, on bench-like sparse data (10 active features
 * of 1000 per sample), 2 threads; samples/s over steps after a warm-up. */
static int
bench_train(sdlab_train_method method, size_t k, int threads, size_t steps, double *rate)
{
  const size_t p = 768, q = 4096, B = 1024, n = 1000;
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  c.method = method;
  c.p = c.r = p;
  c.q = q;
  c.k = k;
  c.batch = B;
  c.total_steps = steps + 3;
  c.l1 = 1e-3;
  c.seed = 1;
  sdlab_trainer *t = sdlab_trainer_alloc(&c, threads);
  if (t == NULL)
    return GSL_EINVAL;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  float *W = malloc(n * p * sizeof *W), *X = calloc(B * p, sizeof *X);
  for (size_t i = 0; i < n * p; i++)
    W[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0 / sqrt((double)p));
  for (size_t s = 0; s < B; s++)
    for (int a = 0; a < 10; a++) {
      size_t d = gsl_rng_uniform_int(r, n);
      float m = (float)gsl_ran_exponential(r, 1.0);
      for (size_t j = 0; j < p; j++)
        X[s * p + j] += m * W[d * p + j];
    }
  sdlab_train_stats st;
  int status = 0;
  for (int w = 0; w < 3 && !status; w++)
    status = sdlab_trainer_step(t, X, NULL, &st);
  double t0 = sdlab_now();
  for (size_t i = 0; i < steps && !status; i++)
    status = sdlab_trainer_step(t, X, NULL, &st);
  *rate = (double)(steps * B) / (sdlab_now() - t0);
  free(W);
  free(X);
  gsl_rng_free(r);
  sdlab_trainer_free(t);
  return status;
}

int
main(int argc, char **argv)
{
  gsl_set_error_handler_off();
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  double gf = dgemm_gflops(1000, 768, 1000);
  printf("sdlab-bench: machine DGEMM rate (1000 x 768 x 1000, best of 3): %.1f GFLOP/s\n\n", gf);
  printf("%-44s %10s %12s %s\n", "what", "seconds", "target", "note");
  double s;
  int status = bench_generation(quick ? 10000 : 100000, &s);
  if (status)
    return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
  printf("%-44s %10.2f %12s %s\n", quick ? "bench n=1000 n_p=768 N=10k (no disk)" : "bench n=1000 n_p=768 N=100k (no disk)", s,
         "< 60", "C.1 + C.2 + C.3 in memory; `sdlab lrb` adds the .npy writes");
  const size_t nqs[2] = {1000, 16000};
  for (int k = 0; k < (quick ? 1 : 2); k++) {
    double first;
    if ((status = bench_ltilde(nqs[k], &first, &s)))
      return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
    char what[64], note[160];
    snprintf(what, sizeof what, "L~ + gradients, n=1000 n_p=768 n_q=%zu", nqs[k]);
    /* the one dense GEMM that any method needs: the encoder codes, n x n_p x n_q */
    double gemm = 2.0 * 1000 * 768 * (double)nqs[k] / 1e9 / gf;
    snprintf(note, sizeof note, "TopK(32); first call %.3f s; %.1fx the encoder-GEMM time %.3f s", first, s / gemm, gemm);
    printf("%-44s %10.3f %12s %s\n", what, s, "< 1", note);
  }
  {
    /* the encoder product bounds any trainer: B x n_p times n_p x Q, measured now with the threads used */
    openblas_set_num_threads(2);
    double sg = sgemm_gflops(1024, 768, 4096), bound = sg * 1e9 / (2.0 * 768 * 4096);
    double rt;
    if ((status = bench_train(SDLAB_TRAIN_TOPK, 32, 2, quick ? 5 : 20, &rt)))
      return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
    printf("%-44s %10.0f %12s SGEMM %.0f GFLOP/s (2 threads): encoder-GEMM bound %.0f samples/s; %.0f%% of it\n",
           "TopK SAE train, n_p=768 Q=4096 k=32 B=1024", rt, ">= 30000", sg, bound, 100 * rt / bound);
    if ((status = bench_train(SDLAB_TRAIN_RELU, 0, 2, quick ? 3 : 10, &rt)))
      return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
    printf("%-44s %10.0f %12s samples/s (dense products: four GEMMs of the encoder's size)\n",
           "ReLU SAE train, n_p=768 Q=4096 B=1024", rt, "");
  }
  if ((status = bench_mcc(1000, quick ? 2000 : 16000, &s)))
    return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
  printf("%-44s %10.3f %12s %s\n", quick ? "MCC 1000 features x 2000 latents" : "MCC 1000 features x 16000 latents", s, "",
         "exact (dual certificate)");
  return 0;
}
