/* sdlab_safetensors.h: write and read the safetensors format (what SAELens loads): an 8-byte little-endian
 * header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...,
 * "__metadata__": {...}} padded with spaces to a multiple of 8, then the tensors' bytes, little-endian,
 * row-major.  Only float32 tensors are written; reading checks every offset against the file's size. */
#ifndef SDLAB_SAFETENSORS_H
#define SDLAB_SAFETENSORS_H

#include <stddef.h>

typedef struct {
  const char *name;
  size_t ndim;
  size_t shape[4];
  const float *data;
} sdlab_tensor;

/* Write the tensors (and string metadata pairs key, value, ...; n_meta pairs) atomically. */
int sdlab_safetensors_write(const char *path, const sdlab_tensor *t, size_t n, const char *const *meta, size_t n_meta);

/* Read one float32 tensor by name: its shape (ndim <= 4) and data (malloc'd).  SDLAB_EBADNPY on a malformed file. */
int sdlab_safetensors_read(const char *path, const char *name, size_t *ndim, size_t *shape, float **data);

#endif
