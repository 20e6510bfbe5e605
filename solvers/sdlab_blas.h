/* sdlab_blas.h: deterministic multi-threaded float32 products for the minibatch trainers.
 *
 * The products go through oneDNN's SGEMM (dnnl_sgemm, Debian's libdnnl), whose kernels are compiled at run
 * time for the CPU's widest vector unit (AVX-512 where present: about 1.7x OpenBLAS's Haswell kernel, which
 * sdlab pins (see sdlab_blas_pin_kernel), on the encoder's 256 x 768 x 16,000 product; `make bench` measures both).
 * Parallelism comes from OpenMP: each thread computes an independent block of C (rows, or columns when C is
 * wider than tall, so that each thread reads only its part of the larger operand) with a single-threaded call.
 * The blocks depend only on the thread count, so the same thread count gives the same bytes. */
#ifndef SDLAB_BLAS_H
#define SDLAB_BLAS_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_cblas.h>

/* C (rows x n, row-major, ldc) = alpha op(A) op(B) + beta C, with C split across `threads` blocks along its
 * longer side: rows (op(A)'s rows offset per block) or columns (op(B)'s columns offset per block). */
void sdlab_blas_par_sgemm(int threads, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, size_t rows, size_t n, size_t k,
                          float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                          size_t ldc);

/* bfloat16: the upper 16 bits of a float32 (8 significant bits, unit roundoff 2^-8). */
typedef uint16_t sdlab_bf16;
/* y[i] = x[i] rounded to the nearest bfloat16, ties to even (NaN stays NaN, overflow rounds to infinity). */
void sdlab_blas_bf16_round(size_t n, const float *x, sdlab_bf16 *y);
float sdlab_blas_bf16_value(sdlab_bf16 v);
/* Whether oneDNN runs bfloat16 products on this CPU's own instructions (AVX-512 BF16 or AMX); else it emulates
 * them, more slowly than float32. */
int sdlab_blas_bf16_native(void);
/* C (rows x n float32, row-major, ldc) = A B^T for bfloat16 A (rows x k, lda) and B (n x k, ldb), products
 * accumulated in float32 (oneDNN's matmul), C split across `threads` blocks of its columns (B's rows); the
 * same thread count gives the same bytes.  GSL_EFAILED naming oneDNN's status when it cannot run. */
int sdlab_blas_par_bf16_gemm_nt(int threads, size_t rows, size_t n, size_t k, const sdlab_bf16 *A, size_t lda,
                                const sdlab_bf16 *B, size_t ldb, float *C, size_t ldc);
/* OpenBLAS (GSL's products, cblas_sgemv) and oneDNN single-threaded from here on: the trainers' parallelism is
 * their own OpenMP blocks.  (Sets OpenMP's default team size to 1; sdlab's own regions name their size.) */
void sdlab_blas_single_threaded(void);
/* OpenBLAS on one thread (its own threads change some products' sums, and Debian's OpenMP build of it takes its
 * thread count from OpenMP, not from OPENBLAS_NUM_THREADS), its previous thread count returned; and back to that
 * count.  (In the OpenMP build the count is also OpenMP's default team size.) */
int sdlab_blas_openblas_single(void);
void sdlab_blas_openblas_restore(int saved);
/* OpenBLAS on `threads` threads, whatever the machine's cores (its sums depend on the count, not on the cores),
 * its previous count returned (for sdlab_blas_openblas_restore). */
int sdlab_blas_openblas_threads(int threads);
/* C (rows x n) = A (rows x k) B (k x n) in double, all row-major with leading dimensions lda, ldb, ldc, C's rows
 * split over `threads` blocks, each a single-threaded OpenBLAS call (OpenBLAS's own thread count is set to 1
 * for the call and restored).  The
 * blocks start at multiples of OpenBLAS's row tiles, so each element is summed over k as in one call over all
 * rows and the result does not depend on the thread count (tests/test_metrics.c checks it; OpenBLAS's own
 * threads do not promise this, and change small products). */
void sdlab_blas_par_dgemm(int threads, size_t rows, size_t n, size_t k, const double *A, size_t lda, const double *B,
                          size_t ldb, double *C, size_t ldc);

/* OpenBLAS's kernels.  Debian's OpenBLAS picks its kernels for the CPU it finds (DYNAMIC_ARCH), and kernels sum
 * products in different orders: the same seed then gives different bytes on different CPUs (an Intel Xeon that
 * OpenBLAS 0.3.21 does not know runs its SSE3 kernels, "Prescott", where an AMD EPYC runs "Zen", the Haswell
 * ones).  sdlab pins the Haswell kernels (AVX2 and FMA, any x86-64 CPU since 2013), so that every CPU that has
 * them gives the same bytes.  sdlab_blas_pin_kernel, first thing in main: where OPENBLAS_CORETYPE is unset,
 * OpenBLAS did not choose SDLAB_BLAS_KERNEL itself and the CPU has AVX2 and FMA, it sets the variable and starts
 * the program again (execv of its own file, the target of /proc/self/exe, with the same arguments; OpenBLAS reads
 * the variable only as it is loaded); otherwise it returns 0 and the kernels stay OpenBLAS's choice (a variable
 * set beforehand is left as it is).  Returns -1 if the program could not be started again (it goes on with
 * OpenBLAS's choice).  sdlab_blas_kernel: the kernels' name, as OpenBLAS gives it. */
#define SDLAB_BLAS_KERNEL "Haswell"
int sdlab_blas_pin_kernel(char **argv);
const char *sdlab_blas_kernel(void);

#endif
