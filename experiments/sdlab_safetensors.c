#define _POSIX_C_SOURCE 200809L
#include "sdlab_safetensors.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
sdlab_safetensors_write(const char *path, const sdlab_tensor *t, size_t n, const char *const *meta, size_t n_meta)
{
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  if (n_meta) {
    sdlab_json_object_begin(&j, "__metadata__");
    for (size_t m = 0; m < n_meta; m++)
      sdlab_json_string(&j, meta[2 * m], meta[2 * m + 1]);
    sdlab_json_object_end(&j);
  }
  static const char *const names[] = {"F32", "BF16", "I32", "I64"};
  static const size_t widths[] = {4, 2, 4, 8};
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t count = 1;
    for (size_t d = 0; d < t[i].ndim; d++)
      count *= t[i].shape[d];
    const size_t w = widths[t[i].dtype];
    sdlab_json_object_begin(&j, t[i].name);
    sdlab_json_string(&j, "dtype", names[t[i].dtype]);
    sdlab_json_array_begin(&j, "shape");
    for (size_t d = 0; d < t[i].ndim; d++)
      sdlab_json_integer(&j, NULL, (long long)t[i].shape[d]);
    sdlab_json_array_end(&j);
    sdlab_json_array_begin(&j, "data_offsets");
    sdlab_json_integer(&j, NULL, (long long)off);
    sdlab_json_integer(&j, NULL, (long long)(off + w * count));
    sdlab_json_array_end(&j);
    sdlab_json_object_end(&j);
    off += w * count;
  }
  sdlab_json_object_end(&j);
  const char *text = sdlab_json_text_compact(&j);
  if (text == NULL) {
    sdlab_json_free(&j);
    return sdlab_fail(GSL_ENOMEM, "out of memory for a safetensors header");
  }
  size_t hl = strlen(text), padded = (hl + 7) / 8 * 8;
  sdlab_io_atomic_file f;
  int status = sdlab_io_atomic_open(&f, path);
  if (!status) {
    unsigned char len[8];
    for (int b = 0; b < 8; b++)
      len[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    fwrite(len, 1, 8, f.fp);
    fwrite(text, 1, hl, f.fp);
    for (size_t k = hl; k < padded; k++)
      fputc(' ', f.fp);
    for (size_t i = 0; i < n; i++) { /* little-endian host */
      size_t count = 1;
      for (size_t d = 0; d < t[i].ndim; d++)
        count *= t[i].shape[d];
      if (t[i].dtype != SDLAB_ST_BF16) {
        fwrite(t[i].data, widths[t[i].dtype], count, f.fp);
        continue;
      }
      sdlab_bf16 buf[1024];
      for (size_t k = 0; k < count; k += 1024) {
        const size_t m = count - k < 1024 ? count - k : 1024;
        sdlab_blas_bf16_round(m, (const float *)t[i].data + k, buf);
        fwrite(buf, sizeof *buf, m, f.fp);
      }
    }
    status = sdlab_io_atomic_commit(&f);
  }
  sdlab_json_free(&j);
  return status;
}

struct sdlab_safetensors {
  char *path;
  FILE *fp;
  json_t *header;  /* the parsed header: name -> {dtype, shape, data_offsets} */
  uint64_t data0;  /* where the tensors' bytes begin: 8 + the header's length */
  uint64_t size;   /* the file's size */
};

void
sdlab_safetensors_free(sdlab_safetensors *st)
{
  if (st == NULL)
    return;
  if (st->fp)
    fclose(st->fp);
  json_decref(st->header);
  free(st->path);
  free(st);
}

int
sdlab_safetensors_open(const char *path, sdlab_safetensors **out)
{
  *out = NULL;
  int status = sdlab_io_input_check(path);
  if (status)
    return status;
  sdlab_safetensors *st = calloc(1, sizeof *st);
  if (st == NULL || (st->path = strdup(path)) == NULL) {
    free(st);
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  struct stat sb;
  unsigned char len[8];
  char *h = NULL;
  if ((st->fp = fopen(path, "rb")) == NULL)
    status = sdlab_fail(SDLAB_EIO, "cannot open %s", path);
  else if (fstat(fileno(st->fp), &sb) != 0 || fread(len, 1, 8, st->fp) != 8)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: too short for safetensors (8 bytes of header length first)", path);
  uint64_t hl = 0;
  for (int b = 0; !status && b < 8; b++)
    hl |= (uint64_t)len[b] << (8 * b);
  st->size = status ? 0 : (uint64_t)sb.st_size;
  /* the format caps the header at 100 MB (safetensors' own reader refuses more) */
  if (!status && (hl > st->size - 8 || hl > 100000000))
    status = sdlab_fail(SDLAB_EBADFILE, "%s: the header length %llu exceeds the file or 100 MB", path,
                        (unsigned long long)hl);
  if (!status && ((h = malloc(hl + 1)) == NULL || fread(h, 1, hl, st->fp) != hl))
    status = sdlab_fail(SDLAB_EBADFILE, "%s: cannot read its %llu-byte header", path, (unsigned long long)hl);
  if (!status) {
    json_error_t e;
    st->header = json_loadb(h, hl, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(st->header))
      status = sdlab_fail(SDLAB_EBADFILE, "%s: the header is not a JSON object (%s, column %d)", path,
                          st->header ? "another value" : e.text, e.column);
    st->data0 = 8 + hl;
  }
  free(h);
  if (status)
    sdlab_safetensors_free(st);
  else
    *out = st;
  return status;
}

int
sdlab_safetensors_has(const sdlab_safetensors *st, const char *name)
{
  return json_object_get(st->header, name) != NULL;
}

/* A little-endian element of `size` bytes as float32: bfloat16 widens, float64 narrows (beyond float32's range it
 * reads as infinity, refused as non-finite: C leaves that conversion undefined) */
static float
element(const unsigned char *b, int size)
{
  if (size == 2)
    return sdlab_blas_bf16_value((sdlab_bf16)(b[0] | b[1] << 8));
  if (size == 8) {
    double d;
    memcpy(&d, b, 8);
    return fabs(d) > FLT_MAX ? INFINITY : (float)d;
  }
  const uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

int
sdlab_safetensors_tensor(sdlab_safetensors *st, const char *name, size_t *ndim, size_t *shape, float **data)
{
  *data = NULL;
  *ndim = 0;
  json_t *t = json_object_get(st->header, name);
  if (t == NULL)
    return sdlab_fail(SDLAB_EBADFILE, "%s has no tensor '%s'", st->path, name);
  json_t *dt = json_object_get(t, "dtype"), *sh = json_object_get(t, "shape"), *of = json_object_get(t, "data_offsets");
  const char *dtype = json_is_string(dt) ? json_string_value(dt) : "";
  const int size = strcmp(dtype, "F32") == 0 ? 4 : strcmp(dtype, "F64") == 0 ? 8 : strcmp(dtype, "BF16") == 0 ? 2 : 0;
  if (size == 0)
    return sdlab_fail(SDLAB_EBADFILE, "%s: tensor '%s' has dtype '%s' (F32, F64 and BF16 are read)", st->path, name,
                      dtype);
  if (!json_is_array(sh) || json_array_size(sh) > 4)
    return sdlab_fail(SDLAB_EBADFILE, "%s: tensor '%s' has no shape of at most 4 extents", st->path, name);
  uint64_t count = 1;
  for (size_t d = 0; d < json_array_size(sh); d++) {
    json_t *v = json_array_get(sh, d);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (json_integer_value(v) > 0 && count > (UINT64_MAX / 8) / (uint64_t)json_integer_value(v)))
      return sdlab_fail(SDLAB_EBADFILE, "%s: tensor '%s' has a malformed shape", st->path, name);
    shape[d] = (size_t)json_integer_value(v);
    count *= shape[d];
  }
  *ndim = json_array_size(sh);
  json_t *b0 = json_array_get(of, 0), *b1 = json_array_get(of, 1);
  if (!json_is_array(of) || json_array_size(of) != 2 || !json_is_integer(b0) || !json_is_integer(b1) ||
      json_integer_value(b0) < 0 || json_integer_value(b1) < json_integer_value(b0))
    return sdlab_fail(SDLAB_EBADFILE, "%s: tensor '%s' has malformed data_offsets", st->path, name);
  const uint64_t o0 = (uint64_t)json_integer_value(b0), o1 = (uint64_t)json_integer_value(b1);
  if (o1 - o0 != (uint64_t)size * count || o1 > st->size - st->data0)
    return sdlab_fail(SDLAB_EBADFILE, "%s: tensor '%s' (%llu values of %d bytes) does not fit its offsets [%llu, %llu] "
                      "or the file", st->path, name, (unsigned long long)count, size, (unsigned long long)o0,
                      (unsigned long long)o1);
  unsigned char *raw = malloc(o1 - o0 + 1);
  float *out = malloc((size_t)count * sizeof *out + 1);
  int status = SDLAB_SUCCESS;
  if (raw == NULL || out == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory for tensor '%s' of %s", name, st->path);
  else if (fseeko(st->fp, (off_t)(st->data0 + o0), SEEK_SET) != 0 || fread(raw, 1, o1 - o0, st->fp) != o1 - o0)
    status = sdlab_fail(SDLAB_EIO, "%s: cannot read tensor '%s'", st->path, name);
  for (uint64_t i = 0; !status && i < count; i++) {
    out[i] = element(raw + i * (uint64_t)size, size);
    if (!isfinite(out[i]))
      status = sdlab_fail(SDLAB_ENONFINITE, "%s: tensor '%s' has a non-finite value at %llu", st->path, name,
                          (unsigned long long)i);
  }
  free(raw);
  if (status)
    free(out);
  else
    *data = out;
  return status;
}
