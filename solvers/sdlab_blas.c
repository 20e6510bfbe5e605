#include "sdlab_blas.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

void openblas_set_num_threads(int n);

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
