/* sdlab_npy.h: NumPy .npy files (format versions 1.0, 2.0 and 3.0), so that Python users numpy.load
 * what sdlab writes and sdlab loads what they save.
 *
 * Read: dtypes float32, float64, int32, int64 in either byte order ('<f4', '>f8', ...), C order,
 * any number of dimensions up to SDLAB_NPY_MAXDIM.  Fortran order, other dtypes, a header that is not
 * a well-formed dict with exactly the keys descr, fortran_order and shape, and a file whose data is
 * shorter or longer than the header says are all rejected with SDLAB_EBADNPY and a message naming
 * the file and the fault.
 * Write: little-endian float32/float64/int32/int64, C order; version 1.0 when the header fits in
 * 65535 bytes, else 2.0; the header padded so the data starts at a multiple of 64 bytes.  Every write
 * goes to a temporary name and is renamed into place when complete. */
#ifndef SDLAB_NPY_H
#define SDLAB_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>

#include "sdlab_io.h"

#define SDLAB_NPY_MAXDIM 8

typedef enum { SDLAB_F32, SDLAB_F64, SDLAB_I32, SDLAB_I64 } sdlab_dtype;

typedef struct {
  sdlab_dtype dtype;
  size_t ndim;
  size_t shape[SDLAB_NPY_MAXDIM];
  size_t count;  /* product of the shape */
  void *data;    /* count elements in native byte order, malloc'd */
} sdlab_array;

size_t sdlab_npy_dtype_size(sdlab_dtype t);
/* The exact size in bytes of the .npy file sdlab_npy_write (or the writer) makes for this dtype and shape,
 * header included; UINT64_MAX when it does not fit 64 bits. */
uint64_t sdlab_npy_file_bytes(sdlab_dtype dtype, size_t ndim, const size_t *shape);
const char *sdlab_npy_dtype_descr(sdlab_dtype t); /* "<f4", ... */

/* Read a whole .npy file.  On success `out->data` is owned by the caller (sdlab_npy_array_release). */
int sdlab_npy_read(const char *path, sdlab_array *out);
void sdlab_npy_array_release(sdlab_array *a);

/* Read a 2-D float32/float64 array as a double matrix (rows x cols, both > 0); integer data and other
 * ranks are rejected.  Non-finite values are rejected with SDLAB_ENONFINITE.  `what` names the array
 * in messages ("--truth", ...). */
int sdlab_npy_load_matrix(const char *path, const char *what, gsl_matrix **out);
/* The same matrix as row-major float32 (*out malloc'd, rows x cols), with the same checks and errors. */
int sdlab_npy_load_floats(const char *path, const char *what, float **out, size_t *rows, size_t *cols);

/* Read a 1-D float32/float64 array of exactly n values as float32 (*out malloc'd), non-finite values rejected
 * with SDLAB_ENONFINITE; `what` names it in messages. */
int sdlab_npy_load_vector(const char *path, const char *what, size_t n, float **out);

/* Read a 1-D array of non-negative integers (any of the four dtypes; floats must be whole numbers)
 * each below `limit`.  *idx is malloc'd. */
int sdlab_npy_load_indices(const char *path, const char *what, size_t limit, size_t **idx, size_t *count);

/* Write an array given in native layout (data of `dtype`), atomically. */
int sdlab_npy_write(const char *path, sdlab_dtype dtype, size_t ndim, const size_t *shape, const void *data);

/* Write a double matrix, converted to dtype (SDLAB_F32 or SDLAB_F64). */
int sdlab_npy_write_matrix(const char *path, const gsl_matrix *m, sdlab_dtype dtype);

/* Streaming writer for arrays too large to hold: open with the full shape, append rows of doubles
 * (converted to dtype), close.  Closing checks that exactly shape[0] rows were appended. */
typedef struct {
  sdlab_io_atomic_file file;
  sdlab_dtype dtype;
  size_t row_len, rows_expected, rows_written;
  void *buf;
  size_t buf_rows;
} sdlab_npy_writer;

int sdlab_npy_writer_open(sdlab_npy_writer *w, const char *path, sdlab_dtype dtype, size_t ndim,
                          const size_t *shape);
int sdlab_npy_writer_append(sdlab_npy_writer *w, const double *rows, size_t nrows);
int sdlab_npy_writer_close(sdlab_npy_writer *w);
void sdlab_npy_writer_abort(sdlab_npy_writer *w);

#endif
