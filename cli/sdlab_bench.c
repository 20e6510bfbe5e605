/* sdlab-bench: speed of the foundation at the paper's sizes, set beside this machine's BLAS rate
 * measured in the same run (the machine is shared: ratios are what compare across runs).
 *
 *   bench generation    n = 1000, n_p = 768, N = 100,000, S = 0.99, M = 0.1 (Table 3): C.1 + C.2 + C.3
 *   L~ and gradients    n = 1000, n_p = n_r = 768, n_q = 1000 and 16,000, TopK(32)
 *   MCC                 1000 features x 16,000 latents (optimal matching, certified)
 *   training            n_p = 768, n_q = 16,000, batch 256: every method beside the GEMM and memory floors
 *   landscape census    n = 5, n_p = 3, n_q = 3, ReLU (2,300 pieces): the pieces stage on 1 and 2 threads
 * Usage: sdlab-bench [--quick | --roofline | --census] [--table1-epochs E]
 * --table1-epochs: the epochs of Table 1's rows (make bench sums the committed rows'), so that the roofline
 * also prints what those epochs cost at the floors measured in the run. */
#include "sdlab_clock.h"
#include "sdlab_errno.h"
#include "sdlab_landscape.h"
#include "sdlab_loss.h"
#include "sdlab_lrb.h"
#include "sdlab_metrics.h"
#include "sdlab_blas.h"
#include "sdlab_train.h"

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_cblas.h>
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

/* The landscape census's pieces stage (each piece's lower bound and alternating search from 4 starts) on the
 * 2,300-piece census of `sdlab landscape --features 5 --dim 3 --seed 1 --latents 3 --activation relu`, without
 * SGD runs or branch and bound; pieces and seconds on `threads` threads. */
static int
bench_census(int threads, size_t *pieces, double *seconds)
{
  gsl_matrix *Wp;
  int status = sdlab_lrb_directions(5, 3, 0.3, 1, &Wp);
  if (status)
    return status;
  gsl_vector *Md = gsl_vector_alloc(Wp->size2);
  if (Md == NULL) {
    gsl_matrix_free(Wp);
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  gsl_vector_set_all(Md, 1.0);
  sdlab_activation act;
  sdlab_landscape_params p;
  sdlab_landscape_params_default(&p);
  p.sgd_runs = 0;
  p.bnb_nodes = 0;
  p.threads = threads;
  sdlab_landscape l;
  if (!(status = sdlab_activation_parse("relu", &act)) &&
      !(status = sdlab_landscape_run_census(Wp, Wp, Md, 3, &act, &p, &l, NULL, NULL))) {
    *pieces = l.count;
    *seconds = l.seconds_pieces;
    sdlab_landscape_free(&l);
  }
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
  return status;
}

/* the census's line of the table: 2 threads, and 1 beside it */
static int
report_census(void)
{
  size_t pieces;
  double s1, s2;
  int status = bench_census(1, &pieces, &s1);
  if (!status)
    status = bench_census(2, &pieces, &s2);
  if (status) {
    fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status));
    return status;
  }
  char what[64], note[96];
  snprintf(what, sizeof what, "census pieces n=5 n_p=3 n_q=3 (%zu), 2 thr", pieces);
  snprintf(note, sizeof note, "ReLU, 4 starts a piece; 1 thread %.2f s (%.2fx)", s1, s1 / s2);
  printf("%-44s %10.2f %12s %s\n", what, s2, "", note);
  return SDLAB_SUCCESS;
}

/* ---- training at the paper's sizes: n_p = 768, n_q = 16,000, batch 256 (issue: the trainers' roofline) ---- */

enum { TP = 768, TQ = 16000, TB = 256, TN = 1000, TBATCHES = 8, TN_EPOCH = 100000 /* the bench's N */ };

/* The encoder product B x n_p times n_p x n_q through the trainer's GEMM (oneDNN, `threads` blocks) or
 * OpenBLAS (as this machine's environment configures it), GFLOP/s, best of 5 after a warm-up. */
static double
encoder_gflops(int threads, int openblas)
{
  float *A = malloc((size_t)TB * TP * sizeof *A), *W = malloc((size_t)TQ * TP * sizeof *W),
        *C = malloc((size_t)TB * TQ * sizeof *C);
  if (!A || !W || !C) {
    free(A), free(W), free(C);
    return NAN;
  }
  for (size_t i = 0; i < (size_t)TB * TP; i++)
    A[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)TQ * TP; i++)
    W[i] = (float)(i % 5) * 0.1f;
  double best = INFINITY;
  sdlab_blas_openblas_threads(threads);
  for (int r = 0; r < 6; r++) {
    double t0 = sdlab_now();
    if (openblas)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TB, TQ, TP, 1.0f, A, TP, W, TP, 0.0f, C, TQ);
    else
      sdlab_blas_par_sgemm(threads, CblasNoTrans, CblasTrans, TB, TQ, TP, 1.0f, A, TP, W, TP, 0.0f, C, TQ);
    if (r > 0)
      best = fmin(best, sdlab_now() - t0);
  }
  sdlab_blas_openblas_threads(1);
  free(A), free(W), free(C);
  return 2.0 * TB * TP * TQ / best / 1e9;
}

/* The same encoder product in bfloat16 (inputs rounded once, outside the timing; float32 accumulation) through
 * oneDNN's matmul, `threads` column blocks, GFLOP/s, best of 5 after a warm-up; NAN when oneDNN fails. */
static double
encoder_gflops_bf16(int threads)
{
  float *Af = malloc((size_t)TB * TP * sizeof *Af), *Wf = malloc((size_t)TQ * TP * sizeof *Wf),
        *C = malloc((size_t)TB * TQ * sizeof *C);
  sdlab_bf16 *A = malloc((size_t)TB * TP * sizeof *A), *W = malloc((size_t)TQ * TP * sizeof *W);
  double best = INFINITY;
  if (Af && Wf && C && A && W) {
    for (size_t i = 0; i < (size_t)TB * TP; i++)
      Af[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)TQ * TP; i++)
      Wf[i] = (float)(i % 5) * 0.1f;
    sdlab_blas_bf16_round((size_t)TB * TP, Af, A);
    sdlab_blas_bf16_round((size_t)TQ * TP, Wf, W);
    for (int r = 0; r < 6; r++) {
      double t0 = sdlab_now();
      if (sdlab_blas_par_bf16_gemm_nt(threads, TB, TQ, TP, A, TP, W, TP, C, TQ))
        break;
      if (r > 0)
        best = fmin(best, sdlab_now() - t0);
    }
  }
  free(Af), free(Wf), free(C), free(A), free(W);
  return isfinite(best) ? 2.0 * TB * TP * TQ / best / 1e9 : NAN;
}

/* Copy bandwidth (bytes read plus bytes written per second) over 256 MB split across the threads, best of 5. */
static double
copy_bandwidth(int threads)
{
  const size_t n = (size_t)64 << 20; /* floats */
  float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  if (!a || !b) {
    free(a), free(b);
    return NAN;
  }
  memset(a, 1, n * sizeof *a);
  memset(b, 2, n * sizeof *b);
  double best = INFINITY;
  for (int r = 0; r < 6; r++) {
    double t0 = sdlab_now();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int blk = 0; blk < threads; blk++) {
      const size_t i0 = n * (size_t)blk / (size_t)threads, i1 = n * (size_t)(blk + 1) / (size_t)threads;
      memcpy(b + i0, a + i0, (i1 - i0) * sizeof *a);
    }
    if (r > 0)
      best = fmin(best, sdlab_now() - t0);
  }
  free(a), free(b);
  return 2.0 * (double)(n * sizeof(float)) / best;
}

/* Vector peaks on `threads` threads (one a core), GFLOP/s, best of 3 (the wall time of a parallel region in which
 * each thread runs the same loop): AVX-512 float32 FMAs (16 lanes, a product and a sum each) and AVX-512 BF16
 * dot products (vdpbf16ps: 16 float32 lanes, each adding two bf16 products), over 12 independent accumulators a
 * thread so that their latency does not bind; NAN where the CPU lacks the instructions.  They say how near the
 * encoder's product runs to the cores' float32 peak and what a bf16 product can gain here (AMX tiles aside). */
enum { PEAK_ACC = 12, PEAK_ITER = 4000000 };

__attribute__((target("avx512f"))) static float
peak_fma_loop(void)
{
  __m512 acc[PEAK_ACC];
  const __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-9f);
  for (int i = 0; i < PEAK_ACC; i++)
    acc[i] = _mm512_set1_ps((float)i);
  for (long r = 0; r < PEAK_ITER; r++)
#pragma GCC unroll 12 /* PEAK_ACC: the accumulators stay in registers */
    for (int i = 0; i < PEAK_ACC; i++)
      acc[i] = _mm512_fmadd_ps(x, y, acc[i]);
  float sum = 0;
  for (int i = 0; i < PEAK_ACC; i++)
    sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

__attribute__((target("avx512f,avx512bf16"))) static float
peak_bf16_loop(void)
{
  __m512 acc[PEAK_ACC];
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3000); /* 1, 2^-31 */
  for (int i = 0; i < PEAK_ACC; i++)
    acc[i] = _mm512_set1_ps((float)i);
  for (long r = 0; r < PEAK_ITER; r++)
#pragma GCC unroll 12
    for (int i = 0; i < PEAK_ACC; i++)
      acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  float sum = 0;
  for (int i = 0; i < PEAK_ACC; i++)
    sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

static double
peak_rate(int threads, int bf16)
{
  double best = INFINITY;
  volatile float sink = 0;
  for (int r = 0; r < 3; r++) {
    const double t0 = sdlab_now();
#pragma omp parallel num_threads(threads)
    {
      const float v = bf16 ? peak_bf16_loop() : peak_fma_loop();
#pragma omp atomic
      sink += v;
    }
    best = fmin(best, sdlab_now() - t0);
  }
  return (bf16 ? 4.0 : 2.0) * 16 * PEAK_ACC * (double)PEAK_ITER * threads / best / 1e9;
}

static void
vector_peaks(int threads, double *fma, double *bf16)
{
  __builtin_cpu_init();
  *fma = __builtin_cpu_supports("avx512f") ? peak_rate(threads, 0) : NAN;
  *bf16 = __builtin_cpu_supports("avx512bf16") ? peak_rate(threads, 1) : NAN;
}

/* TBATCHES batches of bench-like rows: 10 of 1000 random unit-ish directions per row, Exp(1) magnitudes. */
static float *
bench_batches(void)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  float *W = malloc((size_t)TN * TP * sizeof *W), *X = calloc((size_t)TBATCHES * TB * TP, sizeof *X);
  if (r && W && X) {
    for (size_t i = 0; i < (size_t)TN * TP; i++)
      W[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0 / sqrt((double)TP));
    for (size_t s = 0; s < (size_t)TBATCHES * TB; s++)
      for (int a = 0; a < 10; a++) {
        const size_t d = gsl_rng_uniform_int(r, TN);
        const float m = (float)gsl_ran_exponential(r, 1.0);
        for (size_t j = 0; j < TP; j++)
          X[s * TP + j] += m * W[d * TP + j];
      }
  } else {
    free(X);
    X = NULL;
  }
  free(W);
  gsl_rng_free(r);
  return X;
}

typedef struct {
  const char *name;
  sdlab_train_method method;
  double density;      /* relu, jumprelu, gated: the active fraction the encoder bias is set to (0: as initialised) */
  double sparse_below; /* relu, jumprelu: the entry path's crossover (< 0: the default) */
  int bf16;            /* the encoder's product in bfloat16 (--precision bf16) */
} train_case;

/* The code value exceeded by a fraction `density` of the batch's pre-activations (the trainer's inference
 * codes of a ReLU model without bias are max(z, 0)). */
static float
density_offset(sdlab_trainer *t, const float *X, double density)
{
  float *a = malloc((size_t)TB * TQ * sizeof *a);
  float v = 0;
  if (a && sdlab_trainer_encode(t, X, TB, a) == 0) {
    const size_t want = (size_t)(density * TB * TQ);
    size_t n = 0; /* the positive codes, then bisection on their value range */
    for (size_t k = 0; k < (size_t)TB * TQ; k++)
      if (a[k] > 0)
        a[n++] = a[k];
    if (want < n) {
      float lo = 0, hi = 0;
      for (size_t k = 0; k < n; k++)
        hi = fmaxf(hi, a[k]);
      for (int it = 0; it < 40; it++) {
        const float mid = 0.5f * (lo + hi);
        size_t c = 0;
        for (size_t k = 0; k < n; k++)
          c += a[k] > mid;
        if (c > want)
          lo = mid;
        else
          hi = mid;
      }
      v = hi;
    }
  }
  free(a);
  return v;
}

/* Samples per second of `steps` training steps (after 3 warm-up steps) and the mean L0. */
static int
bench_train(const train_case *tc, int threads, size_t steps, const float *X, double *rate, double *l0)
{
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  c.method = tc->method;
  c.bf16 = tc->bf16;
  c.p = c.r = TP;
  c.q = TQ;
  c.k = 32;
  c.batch = TB;
  c.total_steps = steps + 3;
  c.l1 = 1e-3;
  c.seed = 1;
  c.nks = 3;
  c.ks[0] = 16, c.ks[1] = 32, c.ks[2] = 64;
  c.lambdas[0] = c.lambdas[1] = c.lambdas[2] = 1;
  c.k_aux = 512;
  c.dead_window = 2; /* so that AuxK has dead latents to work on */
  if (tc->sparse_below >= 0)
    c.sparse_below = tc->sparse_below;
  if (tc->density > 0) { /* a ReLU-family run at a given sparsity: biases on, the encoder bias at the quantile */
    c.biases = 1;
    c.lr = 1e-6;
    c.theta0 = 0;
  }
  sdlab_trainer *t = sdlab_trainer_alloc(&c, threads);
  if (t == NULL)
    return GSL_EINVAL;
  if (tc->density > 0) {
    const float off = density_offset(t, X, tc->density);
    sdlab_train_state *s = sdlab_trainer_state(t);
    for (size_t i = 0; i < TQ; i++)
      s->bE[i] = -off;
  }
  sdlab_train_stats st;
  int status = 0;
  for (int w = 0; w < 3 && !status; w++)
    status = sdlab_trainer_step(t, X + (size_t)(w % TBATCHES) * TB * TP, NULL, &st);
  double t0 = sdlab_now(), sum_l0 = 0;
  for (size_t i = 0; i < steps && !status; i++) {
    status = sdlab_trainer_step(t, X + ((i + 3) % TBATCHES) * TB * TP, NULL, &st);
    sum_l0 += st.l0;
  }
  *rate = (double)(steps * TB) / (sdlab_now() - t0);
  *l0 = sum_l0 / (double)steps;
  sdlab_trainer_free(t);
  return status;
}

/* The roofline: every method's samples/s beside the two floors measured in the same run.  GEMM floor: the
 * encoder product (one per step on the entry path; five on the dense path: codes, reconstruction, code
 * gradients, both weight gradients; Gated's seven add its gate's reconstruction and code gradients) at the trainer's GEMM rate.  Memory floor: one fused Adam pass over W_E
 * and W_D (read parameter, both moments and the gradient, write three: 28 bytes a parameter) at the copy
 * bandwidth.  Ratio: the larger floor's time over the step's time. */
static int
bench_roofline(int quick, double t1_epochs)
{
  const int threads = 2;
  const double gf = encoder_gflops(threads, 0), gfo = encoder_gflops(threads, 1), bw = copy_bandwidth(threads);
  const double t_gemm = 2.0 * TB * TP * TQ / (gf * 1e9), t_mem = 28.0 * 2 * TP * TQ / bw;
  printf("\ntraining at n_p = %d, n_q = %d, batch %d, %d threads (Adam, unit-norm decoder, tied init)\n", TP, TQ, TB,
         threads);
  printf("  encoder product %d x %d x %d: %.0f GFLOP/s through the trainer's GEMM (oneDNN), %.0f through OpenBLAS "
         "(%.2fx)\n", TB, TP, TQ, gf, gfo, gf / gfo);
  const double gb = encoder_gflops_bf16(threads);
  printf("  the same product in bfloat16 (oneDNN matmul, float32 accumulation; %s): %.0f GFLOP/s (%.2fx float32)\n",
         sdlab_blas_bf16_native() ? "this CPU's bf16 instructions" : "emulated: no bf16 instructions here", gb,
         gb / gf);
  double pf, pb;
  vector_peaks(threads, &pf, &pb);
  printf("  vector peak on %d threads: float32 FMA %.0f GFLOP/s (the product runs at %.0f%% of it), bf16 dot "
         "products (AVX-512 BF16) %.0f GFLOP/s (%.2fx float32's)\n", threads, pf, 100 * gf / pf, pb, pb / pf);
  printf("  copy bandwidth %.1f GB/s (read + write); one fused Adam pass over %.1f M parameters: %.1f ms\n", bw / 1e9,
         2.0 * TP * TQ / 1e6, 1e3 * t_mem);
  float *X = bench_batches();
  if (X == NULL)
    return GSL_ENOMEM;
  const train_case cases[] = {
    {"topk k=32", SDLAB_TRAIN_TOPK, 0, -1, 0}, {"batchtopk k=32", SDLAB_TRAIN_BATCHTOPK, 0, -1, 0},
    {"matryoshka k=16,32,64", SDLAB_TRAIN_MATRYOSHKA, 0, -1, 0}, {"topk-auxk k=32", SDLAB_TRAIN_TOPK_AUXK, 0, -1, 0},
    {"relu at L0 ~ 32", SDLAB_TRAIN_RELU, 32.0 / TQ, -1, 0},
    {"jumprelu at L0 ~ 32", SDLAB_TRAIN_JUMPRELU, 32.0 / TQ, -1, 0},
    {"gated at L0 ~ 32", SDLAB_TRAIN_GATED, 32.0 / TQ, -1, 0},
    {"relu dense (as initialised)", SDLAB_TRAIN_RELU, 0, -1, 0}, {"gated (dense)", SDLAB_TRAIN_GATED, 0, -1, 0},
    {"topk k=32, bf16 encoder", SDLAB_TRAIN_TOPK, 0, -1, 1},
    {"relu at L0 ~ 32, bf16 encoder", SDLAB_TRAIN_RELU, 32.0 / TQ, -1, 1}};
  const size_t ncases = sizeof cases / sizeof *cases;
  printf("  %-30s %10s %8s %10s %10s %8s\n", "method", "samples/s", "L0", "GEMM floor", "mem floor", "of max");
  double topk_step = NAN;
  for (size_t k = 0; k < ncases; k++) {
    double rate, l0;
    if (cases[k].bf16 && !sdlab_blas_bf16_native())
      continue; /* emulated bf16 is slower than float32: the trainer refuses it */
    int status = bench_train(&cases[k], threads, quick ? 4 : 20, X, &rate, &l0);
    if (status) {
      free(X);
      return status;
    }
    const int dense = (cases[k].method == SDLAB_TRAIN_RELU || cases[k].method == SDLAB_TRAIN_GATED) &&
                      cases[k].density == 0;
    const double tg = (dense ? (cases[k].method == SDLAB_TRAIN_GATED ? 7 : 5) : 1) * t_gemm, floor_t = fmax(tg, t_mem), step = TB / rate;
    if (k == 0)
      topk_step = step;
    printf("  %-30s %10.0f %8.1f %10.0f %10.0f %7.0f%%   %.2fx TopK's step\n", cases[k].name, rate, l0, TB / tg,
           TB / t_mem, 100 * floor_t / step, step / topk_step);
  }
  if (t1_epochs > 0) { /* Table 1's epochs at this run's floors: every row takes the encoder product each step */
    const double steps = t1_epochs * (TN_EPOCH / TB);
    printf("  Table 1's %.0f epochs (%.0f steps of %d): encoder products at this run's GEMM rate %.1f min (at the "
           "cores' FMA peak %.1f), Adam passes at its bandwidth %.1f min, the two one after the other %.1f min; at "
           "TopK's step here %.1f min\n", t1_epochs, steps, TB, steps * t_gemm / 60, steps * t_gemm * gf / pf / 60,
           steps * t_mem / 60, steps * (t_gemm + t_mem) / 60, steps * topk_step / 60);
  }
  /* the entry path's crossover for ReLU: both paths timed at each density */
  printf("  relu crossover (entry path vs dense products, ms per step):\n");
  const double dens[] = {0.002, 0.01, 0.02, 0.05, 0.1, 0.2};
  for (size_t k = 0; k < (quick ? 3 : 6); k++) {
    double re, rd, l0e, l0d;
    train_case ce = {"", SDLAB_TRAIN_RELU, dens[k], 1, 0}, cd = {"", SDLAB_TRAIN_RELU, dens[k], 0, 0};
    int status = bench_train(&ce, threads, quick ? 2 : 6, X, &re, &l0e);
    if (!status)
      status = bench_train(&cd, threads, quick ? 2 : 6, X, &rd, &l0d);
    if (status) {
      free(X);
      return status;
    }
    printf("    density %5.3f (L0 %6.0f): entry %6.1f  dense %6.1f  -> %s\n", dens[k], l0e, 1e3 * TB / re, 1e3 * TB / rd,
           re > rd ? "entry" : "dense");
  }
  printf("    (the trainer switches at SDLAB_TRAIN_SPARSE_BELOW = %g)\n", SDLAB_TRAIN_SPARSE_BELOW);
  free(X);
  return SDLAB_SUCCESS;
}

int
main(int argc, char **argv)
{
  if (sdlab_blas_pin_kernel(argv) != 0)
    fprintf(stderr, "sdlab-bench: warning: could not restart with OpenBLAS's %s kernels\n", SDLAB_BLAS_KERNEL);
  gsl_set_error_handler_off();
  int quick = 0, roofline = 0, census = 0;
  double t1_epochs = 0;
  for (int a = 1; a < argc; a++) {
    char *end = NULL;
    if (strcmp(argv[a], "--quick") == 0)
      quick = 1;
    else if (strcmp(argv[a], "--roofline") == 0) /* the trainers alone (make bench-compare) */
      roofline = 1;
    else if (strcmp(argv[a], "--census") == 0) /* the census alone */
      census = 1;
    else if (strcmp(argv[a], "--table1-epochs") == 0 && a + 1 < argc &&
             (t1_epochs = strtod(argv[a + 1], &end), end != argv[a + 1] && *end == '\0' && t1_epochs > 0))
      a++;
    else
      return fprintf(stderr, "sdlab-bench: error: bad argument '%s' (usage: sdlab-bench [--quick | --roofline | "
                     "--census] [--table1-epochs E > 0])\n", argv[a]), 2;
  }
  if (roofline) {
    int status = bench_roofline(0, t1_epochs);
    if (status)
      return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
    return 0;
  }
  if (census)
    return report_census() ? 1 : 0;
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
  if ((status = bench_roofline(quick, t1_epochs)))
    return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
  if (report_census())
    return 1;
  if ((status = bench_mcc(1000, quick ? 2000 : 16000, &s)))
    return fprintf(stderr, "sdlab-bench: error: %s\n", sdlab_error_message(status)), 1;
  printf("%-44s %10.3f %12s %s\n", quick ? "MCC 1000 features x 2000 latents" : "MCC 1000 features x 16000 latents", s, "",
         "exact (dual certificate)");
  return 0;
}
