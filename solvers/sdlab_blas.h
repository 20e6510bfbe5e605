/* sdlab_blas.h: deterministic multi-threaded float32 products for the minibatch trainers.
 *
 * OpenBLAS runs single-threaded (openblas_set_num_threads(1)); parallelism comes from OpenMP, each thread
 * computing an independent block of output rows with its own single-threaded SGEMM.  The blocks depend only
 * on the thread count, so the same thread count gives the same bytes. */
#ifndef SDLAB_BLAS_H
#define SDLAB_BLAS_H

#include <stddef.h>
#include <gsl/gsl_cblas.h>

/* C (rows x n, row-major, ldc) = alpha op(A) op(B) + beta C, with the output rows split across `threads`
 * blocks.  A's rows are offset per block: by rows (NoTrans) or by columns (Trans, A stored k x rows). */
void sdlab_blas_par_sgemm(int threads, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, size_t rows, size_t n, size_t k,
                          float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                          size_t ldc);

/* OpenBLAS single-threaded from here on (a no-op name for other BLAS libraries is not provided: sdlab links
 * OpenBLAS). */
void sdlab_blas_single_threaded(void);

#endif
