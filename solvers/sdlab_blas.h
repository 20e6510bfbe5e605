/* sdlab_blas.h: deterministic multi-threaded float32 products for the minibatch trainers.
 *
 * The products go through oneDNN's SGEMM (dnnl_sgemm, Debian's libdnnl), whose kernels are compiled at run
 * time for the CPU's widest vector unit (AVX-512 where present: about 1.7x OpenBLAS's Haswell kernel, which
 * this machine's environment forces, on the encoder's 256 x 768 x 16,000 product; `make bench` measures both).
 * Parallelism comes from OpenMP: each thread computes an independent block of C (rows, or columns when C is
 * wider than tall, so that each thread reads only its part of the larger operand) with a single-threaded call.
 * The blocks depend only on the thread count, so the same thread count gives the same bytes. */
#ifndef SDLAB_BLAS_H
#define SDLAB_BLAS_H

#include <stddef.h>
#include <gsl/gsl_cblas.h>

/* C (rows x n, row-major, ldc) = alpha op(A) op(B) + beta C, with C split across `threads` blocks along its
 * longer side: rows (op(A)'s rows offset per block) or columns (op(B)'s columns offset per block). */
void sdlab_blas_par_sgemm(int threads, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, size_t rows, size_t n, size_t k,
                          float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                          size_t ldc);

/* OpenBLAS (GSL's products, cblas_sgemv) and oneDNN single-threaded from here on: the trainers' parallelism is
 * their own OpenMP blocks.  (Sets OpenMP's default team size to 1; sdlab's own regions name their size.) */
void sdlab_blas_single_threaded(void);

#endif
