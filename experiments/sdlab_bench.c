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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>

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
  if ((status = bench_mcc(1000, quick ? 2000 : 16000, &s)))
    return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
  printf("%-44s %10.3f %12s %s\n", quick ? "MCC 1000 features x 2000 latents" : "MCC 1000 features x 16000 latents", s, "",
         "exact (dual certificate)");
  return 0;
}
