#define _POSIX_C_SOURCE 200809L
#include "sdlab_safetensors.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t count = 1;
    for (size_t d = 0; d < t[i].ndim; d++)
      count *= t[i].shape[d];
    sdlab_json_object_begin(&j, t[i].name);
    sdlab_json_string(&j, "dtype", "F32");
    sdlab_json_array_begin(&j, "shape");
    for (size_t d = 0; d < t[i].ndim; d++)
      sdlab_json_integer(&j, NULL, (long long)t[i].shape[d]);
    sdlab_json_array_end(&j);
    sdlab_json_array_begin(&j, "data_offsets");
    sdlab_json_integer(&j, NULL, (long long)off);
    sdlab_json_integer(&j, NULL, (long long)(off + 4 * count));
    sdlab_json_array_end(&j);
    sdlab_json_object_end(&j);
    off += 4 * count;
  }
  sdlab_json_object_end(&j);
  const char *text = sdlab_json_text(&j);
  if (text == NULL) {
    sdlab_json_free(&j);
    return sdlab_fail(GSL_ENOMEM, "out of memory for a safetensors header");
  }
  size_t hl = strlen(text), padded = (hl + 7) / 8 * 8;
  sdlab_atomic_file f;
  int status = sdlab_atomic_open(&f, path);
  if (!status) {
    unsigned char len[8];
    for (int b = 0; b < 8; b++)
      len[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    fwrite(len, 1, 8, f.fp);
    fwrite(text, 1, hl, f.fp);
    for (size_t k = hl; k < padded; k++)
      fputc(' ', f.fp);
    for (size_t i = 0; i < n; i++) {
      size_t count = 1;
      for (size_t d = 0; d < t[i].ndim; d++)
        count *= t[i].shape[d];
      fwrite(t[i].data, sizeof(float), count, f.fp); /* little-endian host */
    }
    status = sdlab_atomic_commit(&f);
  }
  sdlab_json_free(&j);
  return status;
}

/* find "name": { ... } in the header and parse its shape and offsets (the header is our own JSON or any
 * well-formed safetensors header: keys are strings, values objects with the three fields) */
int
sdlab_safetensors_read(const char *path, const char *name, size_t *ndim, size_t *shape, float **data)
{
  *data = NULL;
  int checked = sdlab_input_check(path);
  if (checked)
    return checked;
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return sdlab_fail(SDLAB_EIO, "cannot open %s", path);
  struct stat st;
  unsigned char len[8];
  int status = SDLAB_SUCCESS;
  char *h = NULL;
  if (fstat(fileno(fp), &st) != 0 || fread(len, 1, 8, fp) != 8) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: too short for safetensors", path);
    goto done;
  }
  uint64_t hl = 0;
  for (int b = 0; b < 8; b++)
    hl |= (uint64_t)len[b] << (8 * b);
  if (hl > (uint64_t)st.st_size - 8 || hl > 100000000) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: the header length %llu exceeds the file", path, (unsigned long long)hl);
    goto done;
  }
  h = malloc(hl + 1);
  if (h == NULL || fread(h, 1, hl, fp) != hl) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: cannot read the header", path);
    goto done;
  }
  h[hl] = '\0';
  char key[256];
  snprintf(key, sizeof key, "\"%s\"", name);
  char *at = strstr(h, key);
  if (at == NULL) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s has no tensor '%s'", path, name);
    goto done;
  }
  char *end = strchr(at, '}');
  char *dt = strstr(at, "\"dtype\""), *sh = strstr(at, "\"shape\""), *of = strstr(at, "\"data_offsets\"");
  if (!end || !dt || !sh || !of || dt > end || sh > end || of > end || !strstr(dt, "\"F32\"") || strstr(dt, "\"F32\"") > end) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: tensor '%s' is not a float32 entry", path, name);
    goto done;
  }
  char *p = strchr(sh, '[');
  *ndim = 0;
  for (;;) {
    while (p && (*p == '[' || *p == ' ' || *p == ','))
      p++;
    if (p == NULL || *p == ']')
      break;
    char *e;
    unsigned long long v = strtoull(p, &e, 10);
    if (e == p || *ndim == 4) {
      status = sdlab_fail(SDLAB_EBADNPY, "%s: tensor '%s' has a malformed shape", path, name);
      goto done;
    }
    shape[(*ndim)++] = (size_t)v;
    p = e;
  }
  unsigned long long b0 = 0, b1 = 0;
  if (sscanf(strchr(of, '['), "[%llu, %llu]", &b0, &b1) != 2 && sscanf(strchr(of, '['), "[%llu,%llu]", &b0, &b1) != 2) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: tensor '%s' has malformed offsets", path, name);
    goto done;
  }
  size_t count = 1;
  for (size_t d = 0; d < *ndim; d++)
    count *= shape[d];
  if (b1 < b0 || b1 - b0 != 4 * count || 8 + hl + b1 > (uint64_t)st.st_size) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: tensor '%s' does not fit its offsets or the file", path, name);
    goto done;
  }
  *data = malloc(4 * count + 4);
  if (*data == NULL || fseek(fp, (long)(8 + hl + b0), SEEK_SET) != 0 || fread(*data, 4, count, fp) != count) {
    free(*data);
    *data = NULL;
    status = sdlab_fail(SDLAB_EBADNPY, "%s: cannot read tensor '%s'", path, name);
  }
done:
  free(h);
  fclose(fp);
  return status;
}
