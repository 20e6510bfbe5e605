/* sdlab_idx.h: the IDX files of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed.
 *
 * Layout: two zero bytes, a type byte (0x08: unsigned byte, the only type these data sets use), the number
 * of dimensions d (1 to 4), d big-endian 32-bit sizes, then the data in row-major order.  Reading checks the
 * magic bytes, the type, each size (positive, the total below 2^31 bytes), a truncated body and bytes after
 * it; every failure is SDLAB_EBADFILE with a message naming the file and what is wrong. */
#ifndef SDLAB_IDX_H
#define SDLAB_IDX_H

#include <stddef.h>

typedef struct {
  size_t ndim;
  size_t dims[4];
  size_t count;           /* product of dims */
  unsigned char *data;    /* count bytes, owned */
} sdlab_idx;

/* Read `path` (gzip-compressed or not) into *x; on failure *x is left empty. */
int sdlab_idx_read(const char *path, sdlab_idx *x);
void sdlab_idx_free(sdlab_idx *x);

#endif
