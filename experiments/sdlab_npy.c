#define _POSIX_C_SOURCE 200809L
#include "sdlab_npy.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

size_t
sdlab_npy_dtype_size(sdlab_dtype t)
{
  return t == SDLAB_F32 || t == SDLAB_I32 ? 4 : 8;
}

const char *
sdlab_npy_dtype_descr(sdlab_dtype t)
{
  switch (t) {
  case SDLAB_F32: return "<f4";
  case SDLAB_F64: return "<f8";
  case SDLAB_I32: return "<i4";
  case SDLAB_I64: return "<i8";
  }
  return "?";
}

void
sdlab_npy_array_release(sdlab_array *a)
{
  if (a == NULL)
    return;
  free(a->data);
  a->data = NULL;
}

/* ---- header parsing: a Python dict literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }                                   */

typedef struct {
  const char *p, *end;
} cursor;

static void
skip_space(cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int
expect(cursor *c, char ch)
{
  skip_space(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* a quoted string into buf (quotes ' or "), no escapes (none occur in valid headers) */
static int
parse_string(cursor *c, char *buf, size_t len)
{
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    return 0;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (n + 1 >= len)
      return 0;
    buf[n++] = *c->p++;
  }
  if (c->p >= c->end)
    return 0;
  c->p++;
  buf[n] = '\0';
  return 1;
}

static int
parse_header_dict(const char *text, size_t len, char *descr, size_t descr_len, int *fortran,
                  size_t *ndim, size_t *shape, const char **why)
{
  cursor c = {text, text + len};
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  if (!expect(&c, '{')) {
    *why = "the header is not a dict";
    return 0;
  }
  for (;;) {
    if (expect(&c, '}'))
      break;
    char key[32];
    if (!parse_string(&c, key, sizeof key) || !expect(&c, ':')) {
      *why = "the header dict has a malformed key";
      return 0;
    }
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (!parse_string(&c, descr, descr_len)) {
        *why = "descr is not a string";
        return 0;
      }
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
      skip_space(&c);
      if ((size_t)(c.end - c.p) >= 4 && strncmp(c.p, "True", 4) == 0) {
        *fortran = 1;
        c.p += 4;
      } else if ((size_t)(c.end - c.p) >= 5 && strncmp(c.p, "False", 5) == 0) {
        *fortran = 0;
        c.p += 5;
      } else {
        *why = "fortran_order is neither True nor False";
        return 0;
      }
      have_fortran = 1;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      if (!expect(&c, '(')) {
        *why = "shape is not a tuple";
        return 0;
      }
      *ndim = 0;
      for (;;) {
        skip_space(&c);
        if (expect(&c, ')'))
          break;
        if (c.p >= c.end || !isdigit((unsigned char)*c.p)) {
          *why = "shape holds something other than non-negative integers";
          return 0;
        }
        unsigned long long v = 0;
        while (c.p < c.end && isdigit((unsigned char)*c.p)) {
          unsigned d = (unsigned)(*c.p++ - '0');
          if (v > (ULLONG_MAX - d) / 10) {
            *why = "a dimension in shape overflows";
            return 0;
          }
          v = v * 10 + d;
        }
        if (*ndim == SDLAB_NPY_MAXDIM) {
          *why = "more dimensions than sdlab supports (8)";
          return 0;
        }
        shape[(*ndim)++] = (size_t)v;
        if (!expect(&c, ',')) {
          if (expect(&c, ')'))
            break;
          *why = "shape is not a well-formed tuple";
          return 0;
        }
      }
      have_shape = 1;
    } else {
      *why = "the header has an unknown or repeated key";
      return 0;
    }
    if (!expect(&c, ',')) {
      if (expect(&c, '}'))
        break;
      *why = "the header dict is not well formed";
      return 0;
    }
  }
  if (!(have_descr && have_fortran && have_shape)) {
    *why = "the header lacks descr, fortran_order or shape";
    return 0;
  }
  skip_space(&c);
  if (c.p != c.end) {
    *why = "the header has text after its dict";
    return 0;
  }
  return 1;
}

static void
byteswap(void *data, size_t count, size_t size)
{
  unsigned char *b = data;
  for (size_t i = 0; i < count; i++, b += size)
    for (size_t j = 0; j < size / 2; j++) {
      unsigned char t = b[j];
      b[j] = b[size - 1 - j];
      b[size - 1 - j] = t;
    }
}

int
sdlab_npy_read(const char *path, sdlab_array *out)
{
  memset(out, 0, sizeof *out);
  int checked = sdlab_io_input_check(path);
  if (checked)
    return checked;
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return sdlab_fail(SDLAB_EIO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  int status = SDLAB_SUCCESS;
  char *header = NULL;
  unsigned char pre[12];
  if (fstat(fileno(fp), &st) != 0 || fread(pre, 1, 10, fp) != 10 || memcmp(pre, MAGIC, 6) != 0) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s is not a .npy file (no NumPy magic string)", path);
    goto done;
  }
  unsigned major = pre[6];
  size_t hlen, prefix;
  if (pre[7] != 0) { /* NEP 1: versions 1.0, 2.0 and 3.0 exist; NumPy refuses any other */
    status = sdlab_fail(SDLAB_EBADNPY, "%s: unsupported .npy format version %u.%u", path, major, pre[7]);
    goto done;
  }
  if (major == 1) {
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (fread(pre + 10, 1, 2, fp) != 2) {
      status = sdlab_fail(SDLAB_EBADNPY, "%s: truncated header", path);
      goto done;
    }
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    prefix = 12;
  } else {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: unsupported .npy format version %u.%u", path, major, pre[7]);
    goto done;
  }
  if ((off_t)(prefix + hlen) > st.st_size) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: truncated header (%zu bytes announced, file has %lld)", path,
                        hlen, (long long)st.st_size);
    goto done;
  }
  header = malloc(hlen + 1);
  if (header == NULL || fread(header, 1, hlen, fp) != hlen) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: cannot read the header", path);
    goto done;
  }
  header[hlen] = '\0';
  char descr[16];
  int fortran = 0;
  const char *why = NULL;
  if (!parse_header_dict(header, hlen, descr, sizeof descr, &fortran, &out->ndim, out->shape, &why)) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: %s", path, why);
    goto done;
  }
  if (fortran) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: Fortran-ordered arrays are not supported (save with "
                        "numpy.ascontiguousarray)", path);
    goto done;
  }
  int swap = 0;
  if (strlen(descr) != 3 || (descr[0] != '<' && descr[0] != '>' && descr[0] != '|' && descr[0] != '=')) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: unsupported dtype '%s' (float32, float64, int32 or int64 only)",
                        path, descr);
    goto done;
  }
  swap = descr[0] == '>';
  if (strcmp(descr + 1, "f4") == 0)
    out->dtype = SDLAB_F32;
  else if (strcmp(descr + 1, "f8") == 0)
    out->dtype = SDLAB_F64;
  else if (strcmp(descr + 1, "i4") == 0)
    out->dtype = SDLAB_I32;
  else if (strcmp(descr + 1, "i8") == 0)
    out->dtype = SDLAB_I64;
  else {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: unsupported dtype '%s' (float32, float64, int32 or int64 only)",
                        path, descr);
    goto done;
  }
  /* the shape's byte count, multiplied with an overflow check, compared in unsigned arithmetic with what the
   * file holds after its header (st_size >= prefix + hlen was checked above) */
  size_t size = sdlab_npy_dtype_size(out->dtype), count = 1;
  for (size_t i = 0; i < out->ndim; i++) {
    if (out->shape[i] != 0 && count > SIZE_MAX / size / out->shape[i]) {
      status = sdlab_fail(SDLAB_EBADNPY, "%s: the shape's extents multiply to more than %zu bytes", path, SIZE_MAX);
      goto done;
    }
    count *= out->shape[i];
  }
  out->count = count;
  const uintmax_t bytes = (uintmax_t)count * size, have = (uintmax_t)st.st_size - (uintmax_t)(prefix + hlen);
  if (bytes != have) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: the header announces %zu elements (%ju bytes of data) but the file "
                        "has %ju bytes after its header (%s)", path, count, bytes, have,
                        have < bytes ? "truncated" : "trailing data");
    goto done;
  }
  out->data = malloc(count * size + 1);
  if (out->data == NULL) {
    status = sdlab_fail(GSL_ENOMEM, "%s: out of memory for %zu elements", path, count);
    goto done;
  }
  if (fread(out->data, size, count, fp) != count) {
    status = sdlab_fail(SDLAB_EBADNPY, "%s: truncated data", path);
    goto done;
  }
  if (swap)
    byteswap(out->data, count, size);
done:
  free(header);
  fclose(fp);
  if (status)
    sdlab_npy_array_release(out);
  return status;
}

static double
element(const sdlab_array *a, size_t i)
{
  switch (a->dtype) {
  case SDLAB_F32: return ((const float *)a->data)[i];
  case SDLAB_F64: return ((const double *)a->data)[i];
  case SDLAB_I32: return ((const int32_t *)a->data)[i];
  case SDLAB_I64: return (double)((const int64_t *)a->data)[i];
  }
  return NAN;
}

/* Read `path` as a non-empty 2-D float32 or float64 matrix of finite values into *a (release it); errors name
 * `what` and the file, and a 3-D [N, seq, d] array of activations gets the reshape that would work. */
static int
read_float_matrix(const char *path, const char *what, sdlab_array *a)
{
  int status = sdlab_npy_read(path, a);
  if (status)
    return status;
  if (a->ndim != 2 || a->shape[0] == 0 || a->shape[1] == 0 || (a->dtype != SDLAB_F32 && a->dtype != SDLAB_F64)) {
    if (a->ndim == 3 && (a->dtype == SDLAB_F32 || a->dtype == SDLAB_F64)) /* activations as saved per token */
      status = sdlab_fail(SDLAB_ESHAPE, "%s (%s) is %zu x %zu x %zu: sdlab reads one sample a row; flatten the "
                          "leading dimensions (NumPy: np.save(path, a.reshape(-1, %zu)))", what, path, a->shape[0],
                          a->shape[1], a->shape[2], a->shape[2]);
    else
      status = sdlab_fail(SDLAB_ESHAPE, "%s (%s) must be a non-empty 2-D float32 or float64 array", what, path);
  }
  for (size_t i = 0; !status && i < a->count; i++)
    if (!isfinite(element(a, i)))
      status = sdlab_fail(SDLAB_ENONFINITE, "%s (%s) has a non-finite value at row %zu, column %zu", what, path,
                          i / a->shape[1], i % a->shape[1]);
  if (status)
    sdlab_npy_array_release(a);
  return status;
}

int
sdlab_npy_load_matrix(const char *path, const char *what, gsl_matrix **out)
{
  *out = NULL;
  sdlab_array a;
  int status = read_float_matrix(path, what, &a);
  if (status)
    return status;
  gsl_matrix *m = gsl_matrix_alloc(a.shape[0], a.shape[1]);
  if (m == NULL) {
    sdlab_npy_array_release(&a);
    return sdlab_fail(GSL_ENOMEM, "out of memory loading %s", path);
  }
  for (size_t i = 0; i < a.count; i++)
    m->data[i] = element(&a, i);
  sdlab_npy_array_release(&a);
  *out = m;
  return SDLAB_SUCCESS;
}

int
sdlab_npy_load_floats(const char *path, const char *what, float **out, size_t *rows, size_t *cols)
{
  *out = NULL;
  sdlab_array a;
  int status = read_float_matrix(path, what, &a);
  if (status)
    return status;
  float *f = malloc(a.count * sizeof *f);
  if (f == NULL) {
    sdlab_npy_array_release(&a);
    return sdlab_fail(GSL_ENOMEM, "out of memory loading %s", path);
  }
  for (size_t i = 0; i < a.count; i++)
    f[i] = (float)element(&a, i);
  *rows = a.shape[0];
  *cols = a.shape[1];
  sdlab_npy_array_release(&a);
  *out = f;
  return SDLAB_SUCCESS;
}

int
sdlab_npy_load_vector(const char *path, const char *what, size_t n, float **out)
{
  *out = NULL;
  sdlab_array a;
  int status = sdlab_npy_read(path, &a);
  if (status)
    return status;
  if (a.ndim != 1 || a.shape[0] != n || (a.dtype != SDLAB_F32 && a.dtype != SDLAB_F64))
    status = sdlab_fail(SDLAB_ESHAPE, "%s (%s) must be a 1-D float32 or float64 array of %zu values", what, path, n);
  for (size_t i = 0; !status && i < n; i++)
    if (!isfinite(element(&a, i)))
      status = sdlab_fail(SDLAB_ENONFINITE, "%s (%s) has a non-finite value at %zu", what, path, i);
  float *f = status ? NULL : malloc((n ? n : 1) * sizeof *f);
  if (!status && f == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory loading %s", path);
  for (size_t i = 0; !status && i < n; i++)
    f[i] = (float)element(&a, i);
  sdlab_npy_array_release(&a);
  *out = f;
  return status;
}

int
sdlab_npy_load_indices(const char *path, const char *what, size_t limit, size_t **idx, size_t *count)
{
  *idx = NULL;
  *count = 0;
  sdlab_array a;
  int status = sdlab_npy_read(path, &a);
  if (status)
    return status;
  if (a.ndim != 1) {
    sdlab_npy_array_release(&a);
    return sdlab_fail(SDLAB_ESHAPE, "%s (%s) must be a 1-D array of feature indices", what, path);
  }
  size_t *v = malloc((a.count ? a.count : 1) * sizeof *v);
  if (v == NULL) {
    sdlab_npy_array_release(&a);
    return sdlab_fail(GSL_ENOMEM, "out of memory loading %s", path);
  }
  for (size_t i = 0; i < a.count; i++) {
    double x = element(&a, i);
    if (!(x >= 0) || x != floor(x) || x >= (double)limit) {
      status = sdlab_fail(GSL_EINVAL, "%s (%s): entry %zu is %g, not an index in [0, %zu)", what, path, i, x,
                          limit);
      break;
    }
    v[i] = (size_t)x;
  }
  sdlab_npy_array_release(&a);
  if (status) {
    free(v);
    return status;
  }
  *idx = v;
  *count = a.count;
  return SDLAB_SUCCESS;
}

/* ---- writing ---- */

/* The header's dict text for these dtype and shape, in dict; its length. */
static size_t
header_dict(char *dict, size_t size, sdlab_dtype dtype, size_t ndim, const size_t *shape)
{
  int n = snprintf(dict, size, "{'descr': '%s', 'fortran_order': False, 'shape': (", sdlab_npy_dtype_descr(dtype));
  for (size_t i = 0; i < ndim; i++)
    n += snprintf(dict + n, size - (size_t)n, "%zu%s", shape[i], ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
  n += snprintf(dict + n, size - (size_t)n, "), }");
  return (size_t)n;
}

/* The header's length after the magic and version (padded so that the data starts at a multiple of 64). */
static size_t
header_length(size_t dlen, size_t *prefix)
{
  /* version 1.0 unless the header would not fit a 2-byte length */
  *prefix = dlen + 1 + 10 + 64 <= 65535 ? 10 : 12;
  return (*prefix + dlen + 1 + 63) / 64 * 64 - *prefix;
}

uint64_t
sdlab_npy_file_bytes(sdlab_dtype dtype, size_t ndim, const size_t *shape)
{
  char dict[512];
  size_t prefix, hlen = header_length(header_dict(dict, sizeof dict, dtype, ndim, shape), &prefix);
  uint64_t bytes = sdlab_npy_dtype_size(dtype);
  for (size_t i = 0; i < ndim; i++) {
    if (shape[i] && bytes > UINT64_MAX / shape[i])
      return UINT64_MAX;
    bytes *= shape[i];
  }
  return bytes > UINT64_MAX - prefix - hlen ? UINT64_MAX : bytes + prefix + hlen;
}

static int
write_header(FILE *fp, sdlab_dtype dtype, size_t ndim, const size_t *shape)
{
  char dict[512];
  size_t dlen = header_dict(dict, sizeof dict, dtype, ndim, shape), prefix;
  size_t hlen = header_length(dlen, &prefix);
  const int v1 = prefix == 10;
  unsigned char pre[12];
  memcpy(pre, MAGIC, 6);
  pre[6] = v1 ? 1 : 2;
  pre[7] = 0;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8 & 0xff);
  pre[10] = (unsigned char)(hlen >> 16 & 0xff);
  pre[11] = (unsigned char)(hlen >> 24 & 0xff);
  fwrite(pre, 1, prefix, fp);
  fwrite(dict, 1, dlen, fp);
  for (size_t i = dlen; i + 1 < hlen; i++)
    fputc(' ', fp);
  fputc('\n', fp);
  return ferror(fp) ? SDLAB_EIO : SDLAB_SUCCESS;
}

static int
check_write_args(const char *path, sdlab_dtype dtype, size_t ndim, const size_t *shape)
{
  if (ndim == 0 || ndim > SDLAB_NPY_MAXDIM)
    return sdlab_fail(GSL_EINVAL, "%s: %zu dimensions (1 to 8 are supported)", path, ndim);
  if (dtype != SDLAB_F32 && dtype != SDLAB_F64 && dtype != SDLAB_I32 && dtype != SDLAB_I64)
    return sdlab_fail(GSL_EINVAL, "%s: unknown dtype", path);
  (void)shape;
  return SDLAB_SUCCESS;
}

int
sdlab_npy_write(const char *path, sdlab_dtype dtype, size_t ndim, const size_t *shape, const void *data)
{
  int status = check_write_args(path, dtype, ndim, shape);
  if (status)
    return status;
  size_t count = 1;
  for (size_t i = 0; i < ndim; i++)
    count *= shape[i];
  sdlab_io_atomic_file f;
  if ((status = sdlab_io_atomic_open(&f, path)))
    return status;
  status = write_header(f.fp, dtype, ndim, shape);
  if (!status && count && fwrite(data, sdlab_npy_dtype_size(dtype), count, f.fp) != count)
    status = SDLAB_EIO;
  if (status) {
    sdlab_io_atomic_abort(&f);
    return sdlab_fail(SDLAB_EIO, "writing %s failed", path);
  }
  return sdlab_io_atomic_commit(&f);
}

int
sdlab_npy_write_matrix(const char *path, const gsl_matrix *m, sdlab_dtype dtype)
{
  if (dtype != SDLAB_F32 && dtype != SDLAB_F64)
    return sdlab_fail(GSL_EINVAL, "%s: a matrix is written as float32 or float64", path);
  size_t shape[2] = {m->size1, m->size2};
  sdlab_npy_writer w;
  int status = sdlab_npy_writer_open(&w, path, dtype, 2, shape);
  for (size_t i = 0; !status && i < m->size1; i++)
    status = sdlab_npy_writer_append(&w, gsl_matrix_const_ptr(m, i, 0), 1);
  if (status) {
    sdlab_npy_writer_abort(&w);
    return status;
  }
  return sdlab_npy_writer_close(&w);
}

int
sdlab_npy_writer_open(sdlab_npy_writer *w, const char *path, sdlab_dtype dtype, size_t ndim, const size_t *shape)
{
  memset(w, 0, sizeof *w);
  int status = check_write_args(path, dtype, ndim, shape);
  if (status)
    return status;
  w->dtype = dtype;
  w->rows_expected = shape[0];
  w->row_len = 1;
  for (size_t i = 1; i < ndim; i++)
    w->row_len *= shape[i];
  w->buf_rows = w->row_len ? (1u << 16) / w->row_len + 1 : 1;
  w->buf = malloc(w->buf_rows * (w->row_len ? w->row_len : 1) * sdlab_npy_dtype_size(dtype));
  if (w->buf == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory writing %s", path);
  if ((status = sdlab_io_atomic_open(&w->file, path))) {
    free(w->buf);
    w->buf = NULL;
    return status;
  }
  if ((status = write_header(w->file.fp, dtype, ndim, shape))) {
    sdlab_npy_writer_abort(w);
    return sdlab_fail(SDLAB_EIO, "writing %s failed", path);
  }
  return SDLAB_SUCCESS;
}

int
sdlab_npy_writer_append(sdlab_npy_writer *w, const double *rows, size_t nrows)
{
  if (w->rows_written + nrows > w->rows_expected)
    return sdlab_fail(GSL_EINVAL, "%s: more rows appended than its shape allows (%zu)", w->file.final_path,
                      w->rows_expected);
  size_t size = sdlab_npy_dtype_size(w->dtype);
  for (size_t r0 = 0; r0 < nrows; r0 += w->buf_rows) {
    size_t nr = nrows - r0 < w->buf_rows ? nrows - r0 : w->buf_rows, cnt = nr * w->row_len;
    const double *src = rows + r0 * w->row_len;
    for (size_t i = 0; i < cnt; i++) {
      switch (w->dtype) {
      case SDLAB_F32: ((float *)w->buf)[i] = (float)src[i]; break;
      case SDLAB_F64: ((double *)w->buf)[i] = src[i]; break;
      case SDLAB_I32: ((int32_t *)w->buf)[i] = (int32_t)src[i]; break;
      case SDLAB_I64: ((int64_t *)w->buf)[i] = (int64_t)src[i]; break;
      }
    }
    if (cnt && fwrite(w->buf, size, cnt, w->file.fp) != cnt)
      return sdlab_fail(SDLAB_EIO, "writing %s failed: %s", w->file.final_path, strerror(errno));
  }
  w->rows_written += nrows;
  return SDLAB_SUCCESS;
}

int
sdlab_npy_writer_close(sdlab_npy_writer *w)
{
  if (w->rows_written != w->rows_expected) {
    int status = sdlab_fail(GSL_EINVAL, "%s: %zu of %zu rows written", w->file.final_path, w->rows_written,
                            w->rows_expected);
    sdlab_npy_writer_abort(w);
    return status;
  }
  free(w->buf);
  w->buf = NULL;
  return sdlab_io_atomic_commit(&w->file);
}

void
sdlab_npy_writer_abort(sdlab_npy_writer *w)
{
  free(w->buf);
  w->buf = NULL;
  sdlab_io_atomic_abort(&w->file);
}
