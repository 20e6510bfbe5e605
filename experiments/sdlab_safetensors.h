/* sdlab_safetensors.h: write and read the safetensors format (what SAELens loads): an 8-byte little-endian
 * header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...,
 * "__metadata__": {...}} padded with spaces to a multiple of 8, then the tensors' bytes, little-endian,
 * row-major.  Writing takes float32, bfloat16, int32 and int64 tensors; reading takes float32, float64 and
 * bfloat16 and checks every offset against the file's size. */
#ifndef SDLAB_SAFETENSORS_H
#define SDLAB_SAFETENSORS_H

#include <gsl/gsl_matrix.h>
#include <stddef.h>

/* A tensor's element type when written: float32 (the default, 0), bfloat16 (from float data, rounded to
 * nearest even), int32 or int64 (from int32_t or int64_t data). */
typedef enum { SDLAB_ST_F32 = 0, SDLAB_ST_BF16, SDLAB_ST_I32, SDLAB_ST_I64 } sdlab_st_dtype;

typedef struct {
  const char *name;
  size_t ndim;      /* 0 for a scalar */
  size_t shape[4];
  const void *data; /* float for F32 and BF16, int32_t, int64_t */
  sdlab_st_dtype dtype;
} sdlab_tensor;

/* Write the tensors (and string metadata pairs key, value, ...; n_meta pairs) atomically. */
int sdlab_safetensors_write(const char *path, const sdlab_tensor *t, size_t n, const char *const *meta, size_t n_meta);

/* A safetensors file opened for reading: its header parsed (JSON, Jansson; duplicate keys refused) and checked
 * against the file's size.  SDLAB_EBADFILE naming the file when it is not safetensors. */
typedef struct sdlab_safetensors sdlab_safetensors;
int sdlab_safetensors_open(const char *path, sdlab_safetensors **out);
void sdlab_safetensors_free(sdlab_safetensors *st);
/* Whether the header names a tensor `name`. */
int sdlab_safetensors_has(const sdlab_safetensors *st, const char *name);
/* Tensor `name` as float32 (F32 as is, F64 and BF16 converted): its shape (ndim <= 4) and data (malloc'd,
 * row-major).  SDLAB_EBADFILE for a missing or malformed entry (dtype, shape, offsets beyond the file),
 * SDLAB_ENONFINITE for a NaN or infinity (or a float64 beyond float32's range). */
int sdlab_safetensors_tensor(sdlab_safetensors *st, const char *name, size_t *ndim, size_t *shape, float **data);

#endif
