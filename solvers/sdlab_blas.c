#include "sdlab_blas.h"

void openblas_set_num_threads(int n);

void
sdlab_blas_par_sgemm(int threads, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, size_t rows, size_t n, size_t k,
                     float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc)
{
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int blk = 0; blk < threads; blk++) {
    const size_t r0 = rows * (size_t)blk / (size_t)threads, r1 = rows * (size_t)(blk + 1) / (size_t)threads;
    if (r1 > r0)
      cblas_sgemm(CblasRowMajor, ta, tb, (int)(r1 - r0), (int)n, (int)k, alpha,
                  ta == CblasNoTrans ? A + r0 * lda : A + r0, (int)lda, B, (int)ldb, beta, C + r0 * ldc, (int)ldc);
  }
}

void
sdlab_blas_single_threaded(void)
{
  openblas_set_num_threads(1);
}
