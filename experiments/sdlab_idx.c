#include "sdlab_idx.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void
sdlab_idx_free(sdlab_idx *x)
{
  if (x == NULL)
    return;
  free(x->data);
  memset(x, 0, sizeof *x);
}

/* read exactly n bytes; the number read otherwise (0 on a decompression error, reported by *err) */
static size_t
read_all(gzFile f, unsigned char *buf, size_t n, int *err)
{
  size_t got = 0;
  while (got < n) {
    const unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
    int r = gzread(f, buf + got, chunk);
    if (r < 0) {
      *err = 1;
      return got;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return got;
}

int
sdlab_idx_read(const char *path, sdlab_idx *x)
{
  memset(x, 0, sizeof *x);
  int checked = sdlab_io_input_check(path);
  if (checked)
    return checked;
  gzFile f = gzopen(path, "rb");
  if (f == NULL)
    return sdlab_fail(SDLAB_EIO, "cannot open %s", path);
  int err = 0, status = SDLAB_SUCCESS;
  unsigned char head[4], sz[16];
  if (read_all(f, head, 4, &err) != 4 || err)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: %s before the IDX header ends", path, err ? "corrupt compressed data"
                                                                                       : "file ends");
  else if (head[0] != 0 || head[1] != 0)
    status = sdlab_fail(SDLAB_EBADFILE, "%s is not an IDX file (magic bytes %02x %02x, expected 00 00)", path, head[0],
                        head[1]);
  else if (head[2] != 0x08)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: IDX type 0x%02x; only unsigned bytes (0x08) are read", path, head[2]);
  else if (head[3] < 1 || head[3] > 4)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: %u dimensions (1 to 4 are read)", path, head[3]);
  if (!status) {
    x->ndim = head[3];
    if (read_all(f, sz, 4 * x->ndim, &err) != 4 * x->ndim || err)
      status = sdlab_fail(SDLAB_EBADFILE, "%s: the header is truncated", path);
  }
  uint64_t count = 1;
  for (size_t d = 0; !status && d < x->ndim; d++) {
    const uint32_t v = (uint32_t)sz[4 * d] << 24 | (uint32_t)sz[4 * d + 1] << 16 | (uint32_t)sz[4 * d + 2] << 8 |
                       sz[4 * d + 3];
    if (v == 0)
      status = sdlab_fail(SDLAB_EBADFILE, "%s: dimension %zu is 0", path, d);
    x->dims[d] = v;
    count *= v;
    if (count >= (1ull << 31))
      status = sdlab_fail(SDLAB_EBADFILE, "%s: the sizes claim %llu bytes or more", path, (unsigned long long)count);
  }
  if (!status) {
    x->count = (size_t)count;
    x->data = malloc(x->count);
    if (x->data == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for %zu bytes of %s", x->count, path);
  }
  if (!status) {
    size_t got = read_all(f, x->data, x->count, &err);
    unsigned char extra;
    if (err)
      status = sdlab_fail(SDLAB_EBADFILE, "%s: corrupt compressed data", path);
    else if (got != x->count)
      status = sdlab_fail(SDLAB_EBADFILE, "%s is truncated: %zu of %zu data bytes", path, got, x->count);
    else if (read_all(f, &extra, 1, &err) != 0 || err)
      status = sdlab_fail(SDLAB_EBADFILE, "%s has bytes after the %zu its header announces", path, x->count);
  }
  gzclose(f);
  if (status)
    sdlab_idx_free(x);
  return status;
}
