#include "sdlab_blas.h"
#include "sdlab_errno.h"

#include <gsl/gsl_errno.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

/* ---- OpenBLAS's kernels ---- */

const char *
sdlab_blas_kernel(void)
{
  return openblas_get_corename();
}

int
sdlab_blas_pin_kernel(char **argv)
{
  if (getenv("OPENBLAS_CORETYPE") != NULL || strcasecmp(openblas_get_corename(), SDLAB_BLAS_KERNEL) == 0)
    return 0; /* the environment chose, or OpenBLAS found the kernel itself */
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return 0;
  /* OpenBLAS reads the variable once, as it is loaded: so the program starts again with it, from its own file
   * (by that file's name, which ps and top show) */
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0 || setenv("OPENBLAS_CORETYPE", SDLAB_BLAS_KERNEL, 1) != 0)
    return -1;
  self[len] = '\0';
  execv(self, argv);
  unsetenv("OPENBLAS_CORETYPE");
  return -1;
#else
  (void)argv;
  return 0;
#endif
}

static char
trans_flag(enum CBLAS_TRANSPOSE t)
{
  return t == CblasNoTrans ? 'N' : 'T';
}

/* One block of C through oneDNN's single-precision GEMM (row-major, JIT-compiled for this CPU's widest
 * vector unit).  Called inside an OpenMP region, it runs on the calling thread alone. */
static void
block_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, size_t rows, size_t n, size_t k, float alpha,
            const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
  dnnl_sgemm(trans_flag(ta), trans_flag(tb), (dnnl_dim_t)rows, (dnnl_dim_t)n, (dnnl_dim_t)k, alpha, A,
             (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb, beta, C, (dnnl_dim_t)ldc);
}

void
sdlab_blas_par_sgemm(int threads, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, size_t rows, size_t n, size_t k,
                     float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc)
{
  if (rows == 0 || n == 0)
    return;
  const int by_rows = rows >= n;
  const size_t extent = by_rows ? rows : n;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int blk = 0; blk < threads; blk++) {
    const size_t i0 = extent * (size_t)blk / (size_t)threads, i1 = extent * (size_t)(blk + 1) / (size_t)threads;
    if (i1 <= i0)
      continue;
    if (by_rows) /* rows i0..i1 of C and of op(A) */
      block_sgemm(ta, tb, i1 - i0, n, k, alpha, ta == CblasNoTrans ? A + i0 * lda : A + i0, lda, B, ldb, beta,
                  C + i0 * ldc, ldc);
    else /* columns i0..i1 of C and of op(B) */
      block_sgemm(ta, tb, rows, i1 - i0, k, alpha, A, lda, tb == CblasNoTrans ? B + i0 : B + i0 * ldb, ldb, beta,
                  C + i0, ldc);
  }
}

void
sdlab_blas_single_threaded(void)
{
  openblas_set_num_threads(1);
  /* oneDNN (OpenMP runtime) opens a region of omp_get_max_threads() threads when called outside an active one,
   * as in a one-thread block: one thread, so that --threads 1 uses one core */
  omp_set_num_threads(1);
}

/* OpenBLAS's kernels take C's rows in tiles from the start of each call (2 to 24 rows, by CPU): blocks that
 * start at multiples of 48 rows keep every tile of the whole product, so each element is summed as there */
enum { DGEMM_ALIGN = 48 };

void
sdlab_blas_par_dgemm(int threads, size_t rows, size_t n, size_t k, const double *A, size_t lda, const double *B,
                     size_t ldb, double *C, size_t ldc)
{
  if (rows == 0 || n == 0)
    return;
  if (threads < 1)
    threads = 1;
  const size_t tiles = (rows + DGEMM_ALIGN - 1) / DGEMM_ALIGN;
  const int saved = sdlab_blas_openblas_single(); /* inside the blocks, then as it was */
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int blk = 0; blk < threads; blk++) {
    size_t i0 = tiles * (size_t)blk / (size_t)threads * DGEMM_ALIGN,
           i1 = tiles * (size_t)(blk + 1) / (size_t)threads * DGEMM_ALIGN;
    i0 = i0 < rows ? i0 : rows, i1 = i1 < rows ? i1 : rows;
    if (i1 > i0)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(i1 - i0), (int)n, (int)k, 1.0, A + i0 * lda,
                  (int)lda, B, (int)ldb, 0.0, C + i0 * ldc, (int)ldc);
  }
  sdlab_blas_openblas_restore(saved);
}

int
sdlab_blas_openblas_threads(int threads)
{
  const int saved = openblas_get_num_threads();
  if (saved != threads)
    openblas_set_num_threads(threads);
  return saved;
}

int
sdlab_blas_openblas_single(void)
{
  return sdlab_blas_openblas_threads(1);
}

void
sdlab_blas_openblas_restore(int saved)
{
  if (saved != openblas_get_num_threads())
    openblas_set_num_threads(saved);
}

/* ---- bfloat16 ---- */

void
sdlab_blas_bf16_round(size_t n, const float *x, sdlab_bf16 *y)
{
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, x + i, sizeof u);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16; /* to nearest, ties to even */
    y[i] = (sdlab_bf16)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded); /* NaN stays quiet NaN */
  }
}

float
sdlab_blas_bf16_value(sdlab_bf16 v)
{
  const uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

int
sdlab_blas_bf16_native(void)
{
  return dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core_bf16;
}

/* One block of C through a oneDNN matmul primitive (bf16 source and weights, f32 destination, strided views of
 * the caller's arrays).  oneDNN caches the compiled primitive by its description, so a repeated shape costs a
 * lookup.  Called inside an OpenMP region, it runs on the calling thread alone. */
static dnnl_status_t
bf16_block(dnnl_engine_t eng, size_t rows, size_t n, size_t k, const sdlab_bf16 *A, size_t lda, const sdlab_bf16 *B,
           size_t ldb, float *C, size_t ldc)
{
  dnnl_memory_desc_t src, wei, dst;
  const dnnl_dims_t sd = {(dnnl_dim_t)rows, (dnnl_dim_t)k}, ss = {(dnnl_dim_t)lda, 1};
  const dnnl_dims_t wd = {(dnnl_dim_t)k, (dnnl_dim_t)n}, ws = {1, (dnnl_dim_t)ldb}; /* B^T: column j is B's row j */
  const dnnl_dims_t dd = {(dnnl_dim_t)rows, (dnnl_dim_t)n}, ds = {(dnnl_dim_t)ldc, 1};
  dnnl_matmul_desc_t md;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  dnnl_memory_t ms = NULL, mw = NULL, mdst = NULL;
  dnnl_stream_t stream = NULL;
  dnnl_status_t st = dnnl_memory_desc_init_by_strides(&src, 2, sd, dnnl_bf16, ss);
  if (st == dnnl_success)
    st = dnnl_memory_desc_init_by_strides(&wei, 2, wd, dnnl_bf16, ws);
  if (st == dnnl_success)
    st = dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, ds);
  if (st == dnnl_success)
    st = dnnl_matmul_desc_init(&md, &src, &wei, NULL, &dst);
  if (st == dnnl_success)
    st = dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL);
  if (st == dnnl_success)
    st = dnnl_primitive_create(&prim, pd);
  if (st == dnnl_success)
    st = dnnl_memory_create(&ms, &src, eng, (void *)A);
  if (st == dnnl_success)
    st = dnnl_memory_create(&mw, &wei, eng, (void *)B);
  if (st == dnnl_success)
    st = dnnl_memory_create(&mdst, &dst, eng, C);
  if (st == dnnl_success)
    st = dnnl_stream_create(&stream, eng, dnnl_stream_default_flags);
  if (st == dnnl_success) {
    const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, mdst}};
    st = dnnl_primitive_execute(prim, stream, 3, args);
  }
  if (st == dnnl_success)
    st = dnnl_stream_wait(stream);
  if (stream)
    dnnl_stream_destroy(stream);
  if (mdst)
    dnnl_memory_destroy(mdst);
  if (mw)
    dnnl_memory_destroy(mw);
  if (ms)
    dnnl_memory_destroy(ms);
  if (prim)
    dnnl_primitive_destroy(prim);
  if (pd)
    dnnl_primitive_desc_destroy(pd);
  return st;
}

int
sdlab_blas_par_bf16_gemm_nt(int threads, size_t rows, size_t n, size_t k, const sdlab_bf16 *A, size_t lda,
                            const sdlab_bf16 *B, size_t ldb, float *C, size_t ldc)
{
  if (rows == 0 || n == 0)
    return SDLAB_SUCCESS;
  dnnl_engine_t eng = NULL;
  int failed = (int)dnnl_engine_create(&eng, dnnl_cpu, 0);
  if (failed != dnnl_success)
    return sdlab_fail(GSL_EFAILED, "oneDNN has no CPU engine (dnnl status %d)", failed);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int blk = 0; blk < threads; blk++) {
    const size_t j0 = n * (size_t)blk / (size_t)threads, j1 = n * (size_t)(blk + 1) / (size_t)threads;
    if (j1 <= j0)
      continue;
    dnnl_status_t s = bf16_block(eng, rows, j1 - j0, k, A, lda, B + j0 * ldb, ldb, C + j0, ldc);
    if (s != dnnl_success) {
#pragma omp atomic write
      failed = (int)s;
    }
  }
  dnnl_engine_destroy(eng);
  return failed ? sdlab_fail(GSL_EFAILED, "oneDNN's bfloat16 matmul failed (dnnl status %d)", failed) : SDLAB_SUCCESS;
}
