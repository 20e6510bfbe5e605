/* sdlab tsv: a .npy array as a tab-separated table with a '#' header line, for gnuplot and spreadsheets. */
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab tsv IN.npy [--out FILE] [--rows N] [--transpose] [--header NAMES]\n"
  "\n"
  "Print a 1-D or 2-D .npy array as tab-separated text: a '#' header line (NAMES, comma-separated, or\n"
  "c0 c1 ...), then one row per line with 17 significant digits.  An empty 1-D array prints the header\n"
  "line alone: an empty data set, which gnuplot reports as having no valid points.\n"
  "  --out FILE    write to FILE (atomically) instead of standard output\n"
  "  --rows N      only the first N rows\n"
  "  --transpose   rows become columns (W_p.npy's columns are the feature directions)\n";

enum { O_OUT, O_ROWS, O_TRANSPOSE, O_HEADER, O_COUNT };

int
sdlab_cmd_tsv(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--out", "--rows", "--transpose", "--header"};
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? SDLAB_EXIT_USAGE : SDLAB_EXIT_OK;
  }
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--transpose");
  if (sdlab_cli_parse("tsv", argc - 1, argv + 1, o, O_COUNT))
    return SDLAB_EXIT_USAGE;
  if (argv[1][0] == '\0') {
    fprintf(stderr, "sdlab tsv: error: IN.npy is an empty file name\n");
    return SDLAB_EXIT_USAGE;
  }
  size_t limit = (size_t)-1;
  if (o[O_ROWS].value && sdlab_cli_size("tsv", "--rows", o[O_ROWS].value, &limit))
    return SDLAB_EXIT_USAGE;
  gsl_matrix *m = NULL;
  sdlab_array a;
  int status = sdlab_npy_read(argv[1], &a), empty = 0;
  if (!status && a.ndim == 1) { /* a vector: one column; an empty one prints the header alone */
    sdlab_npy_array_release(&a);
    status = sdlab_npy_read(argv[1], &a);
    if (!status) {
      size_t n = a.shape[0];
      empty = n == 0;
      m = gsl_matrix_alloc(n ? n : 1, 1);
      if (m == NULL)
        status = sdlab_fail(GSL_ENOMEM, "out of memory for %zu values", n);
      for (size_t i = 0; m && i < n; i++)
        gsl_matrix_set(m, i, 0, a.dtype == SDLAB_F32 ? ((float *)a.data)[i]
                                : a.dtype == SDLAB_F64 ? ((double *)a.data)[i]
                                : a.dtype == SDLAB_I32 ? ((int32_t *)a.data)[i]
                                                       : (double)((int64_t *)a.data)[i]);
      sdlab_npy_array_release(&a);
    }
  } else if (!status) {
    sdlab_npy_array_release(&a);
    status = sdlab_npy_load_matrix(argv[1], "IN.npy", &m);
  }
  if (status)
    return sdlab_cli_fail("tsv", status);
  if (o[O_TRANSPOSE].value && !empty) {
    gsl_matrix *t = gsl_matrix_alloc(m->size2, m->size1);
    if (t == NULL) {
      gsl_matrix_free(m);
      return sdlab_cli_fail("tsv", sdlab_fail(GSL_ENOMEM, "out of memory"));
    }
    gsl_matrix_transpose_memcpy(t, m);
    gsl_matrix_free(m);
    m = t;
  }
  sdlab_io_atomic_file af;
  FILE *fp = stdout;
  if (o[O_OUT].value) {
    if ((status = sdlab_io_atomic_open(&af, o[O_OUT].value))) {
      gsl_matrix_free(m);
      return sdlab_cli_fail("tsv", status);
    }
    fp = af.fp;
  }
  fprintf(fp, "#");
  if (o[O_HEADER].value) {
    for (const char *c = o[O_HEADER].value; *c; c++)
      fputc(*c == ',' ? '\t' : *c, fp);
  } else {
    for (size_t j = 0; j < m->size2; j++)
      fprintf(fp, "%sc%zu", j ? "\t" : "", j);
  }
  fputc('\n', fp);
  for (size_t i = 0; !empty && i < m->size1 && i < limit; i++)
    for (size_t j = 0; j < m->size2; j++)
      fprintf(fp, "%.17g%c", gsl_matrix_get(m, i, j), j + 1 < m->size2 ? '\t' : '\n');
  gsl_matrix_free(m);
  if (o[O_OUT].value && (status = sdlab_io_atomic_commit(&af)))
    return sdlab_cli_fail("tsv", status);
  return SDLAB_EXIT_OK;
}
