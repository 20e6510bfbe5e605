/* .npy reading and writing: round trips, NumPy itself on both sides (Debian's python3-numpy), and
 * every malformed file we can think of rejected with a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "sdlab_errno.h"
#include "sdlab_json.h"
#include "sdlab_npy.h"

TestSuite(npy, .init = test_dir_setup, .fini = test_dir_teardown);

static char *
path(const char *name)
{
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", test_dir, name);
  return buf;
}

static void
write_bytes(const char *p, const void *data, size_t len)
{
  FILE *fp = fopen(p, "wb");
  cr_assert_not_null(fp);
  fwrite(data, 1, len, fp);
  fclose(fp);
}

Test(npy, round_trips_every_dtype_and_rank)
{
  double d[24];
  float f[24];
  int32_t i4[24];
  int64_t i8[24];
  for (int k = 0; k < 24; k++) {
    d[k] = k * 0.1 - 1.0 / 3;
    f[k] = (float)d[k];
    i4[k] = k * 1000 - 7;
    i8[k] = (int64_t)k * 10000000000LL - 5;
  }
  const void *datas[4] = {f, d, i4, i8};
  const size_t shapes[3][3] = {{24, 0, 0}, {4, 6, 0}, {2, 3, 4}};
  for (int t = 0; t < 4; t++)
    for (size_t rank = 1; rank <= 3; rank++) {
      cr_assert_eq(sdlab_npy_write(path("a.npy"), (sdlab_dtype)t, rank, shapes[rank - 1], datas[t]), 0);
      sdlab_array a;
      cr_assert_eq(sdlab_npy_read(path("a.npy"), &a), 0, "%s", sdlab_error_message(1));
      cr_assert(a.dtype == (sdlab_dtype)t && a.ndim == rank && a.count == 24);
      for (size_t k = 0; k < rank; k++)
        cr_assert_eq(a.shape[k], shapes[rank - 1][k]);
      cr_assert(memcmp(a.data, datas[t], 24 * sdlab_npy_dtype_size((sdlab_dtype)t)) == 0);
      sdlab_npy_array_release(&a);
      /* the data starts at a multiple of 64 bytes, as NumPy writes it */
      struct stat st;
      stat(path("a.npy"), &st);
      cr_assert_eq((st.st_size - 24 * (off_t)sdlab_npy_dtype_size((sdlab_dtype)t)) % 64, 0);
    }
}

Test(npy, streaming_writer_counts_rows_and_leaves_nothing_on_failure)
{
  size_t shape[2] = {5, 3};
  sdlab_npy_writer w;
  double rows[15];
  for (int k = 0; k < 15; k++)
    rows[k] = k;
  cr_assert_eq(sdlab_npy_writer_open(&w, path("s.npy"), SDLAB_F32, 2, shape), 0);
  cr_assert_eq(sdlab_npy_writer_append(&w, rows, 2), 0);
  cr_assert_eq(sdlab_npy_writer_append(&w, rows + 6, 3), 0);
  cr_assert_eq(sdlab_npy_writer_append(&w, rows, 1), GSL_EINVAL, "more rows than the shape");
  cr_assert_eq(sdlab_npy_writer_close(&w), 0);
  gsl_matrix *m;
  cr_assert_eq(sdlab_npy_load_matrix(path("s.npy"), "s", &m), 0);
  for (int k = 0; k < 15; k++)
    cr_assert_eq(m->data[k], k);
  gsl_matrix_free(m);
  cr_assert_eq(sdlab_npy_writer_open(&w, path("t.npy"), SDLAB_F64, 2, shape), 0);
  sdlab_npy_writer_append(&w, rows, 4);
  cr_assert_eq(sdlab_npy_writer_close(&w), GSL_EINVAL, "4 of 5 rows");
  struct stat st;
  cr_assert_neq(stat(path("t.npy"), &st), 0, "no half-written file");
  char *listing = NULL;
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "ls -A '%s'", test_dir);
  test_run(cmd, &listing, NULL);
  cr_assert_str_eq(listing, "s.npy\n", "no temporary files left behind: %s", listing);
  free(listing);
}

static int
python(const char *script, char **out)
{
  char cmd[8192 + 64];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"%s\"", script);
  return test_run(cmd, out, NULL);
}

Test(npy, numpy_loads_what_sdlab_writes)
{
  gsl_matrix *m = gsl_matrix_alloc(3, 4);
  for (size_t k = 0; k < 12; k++)
    m->data[k] = (double)k / 7 - 0.5;
  cr_assert_eq(sdlab_npy_write_matrix(path("m64.npy"), m, SDLAB_F64), 0);
  cr_assert_eq(sdlab_npy_write_matrix(path("m32.npy"), m, SDLAB_F32), 0);
  char script[8192], *out = NULL;
  snprintf(script, sizeof script,
           "import numpy as np; d='%s'; a=np.load(d+'/m64.npy'); b=np.load(d+'/m32.npy'); "
           "e=np.arange(12).reshape(3,4)/7-0.5; "
           "print(a.dtype, a.shape, b.dtype, int((a==e).all()), int((b==e.astype(np.float32)).all()))",
           test_dir);
  cr_assert_eq(python(script, &out), 0, "python3 with numpy is needed (make deps installs python3-numpy)");
  cr_assert_str_eq(out, "float64 (3, 4) float32 1 1\n");
  free(out);
  gsl_matrix_free(m);
}

Test(npy, sdlab_loads_what_numpy_writes)
{
  char script[8192];
  snprintf(script, sizeof script,
           "import numpy as np; from numpy.lib import format as f; d='%s'; "
           "a=np.arange(12,dtype='<f8').reshape(3,4)/3; np.save(d+'/f8.npy', a); "
           "np.save(d+'/f4.npy', a.astype('<f4')); np.save(d+'/be.npy', a.astype('>f8')); "
           "np.save(d+'/i8.npy', np.array([3,1,4,1,5],dtype='<i8')); "
           "np.save(d+'/i4.npy', np.array([2,7],dtype='<i4')); "
           "fh=open(d+'/v2.npy','wb'); f.write_array(fh, a, version=(2,0)); fh.close(); "
           "np.save(d+'/fortran.npy', np.asfortranarray(a)); np.save(d+'/c16.npy', a.astype(complex)); "
           "np.save(d+'/u1.npy', np.zeros(3, dtype=np.uint8))",
           test_dir);
  cr_assert_eq(python(script, NULL), 0);
  const char *ok[] = {"f8.npy", "f4.npy", "be.npy", "v2.npy"};
  for (int k = 0; k < 4; k++) {
    gsl_matrix *m;
    cr_assert_eq(sdlab_npy_load_matrix(path(ok[k]), ok[k], &m), 0, "%s: %s", ok[k], sdlab_error_message(1));
    cr_assert(m->size1 == 3 && m->size2 == 4);
    for (size_t i = 0; i < 12; i++)
      cr_assert(k == 1 ? m->data[i] == (double)(float)(i / 3.0) : m->data[i] == i / 3.0, "%s[%zu] = %g", ok[k], i,
                m->data[i]);
    gsl_matrix_free(m);
  }
  size_t *idx, cnt;
  cr_assert_eq(sdlab_npy_load_indices(path("i8.npy"), "i8", 6, &idx, &cnt), 0);
  cr_assert(cnt == 5 && idx[0] == 3 && idx[4] == 5);
  free(idx);
  cr_assert_eq(sdlab_npy_load_indices(path("i8.npy"), "i8", 5, &idx, &cnt), GSL_EINVAL, "5 is out of [0, 5)");
  cr_assert_eq(sdlab_npy_load_indices(path("i4.npy"), "i4", 8, &idx, &cnt), 0);
  cr_assert(cnt == 2 && idx[1] == 7);
  free(idx);
  sdlab_array a;
  sdlab_error_clear();
  cr_assert_eq(sdlab_npy_read(path("fortran.npy"), &a), SDLAB_EBADNPY);
  cr_assert(strstr(sdlab_error_message(SDLAB_EBADNPY), "Fortran") != NULL);
  cr_assert_eq(sdlab_npy_read(path("c16.npy"), &a), SDLAB_EBADNPY);
  cr_assert(strstr(sdlab_error_message(SDLAB_EBADNPY), "c16") != NULL);
  cr_assert_eq(sdlab_npy_read(path("u1.npy"), &a), SDLAB_EBADNPY);
}

/* A hand-made .npy: magic, version 1.0, the header text padded with spaces, then `data_len` bytes. */
static void
handmade(const char *name, const char *header, size_t data_len, const char *magic)
{
  unsigned char buf[4096];
  size_t hl = strlen(header), total = 10 + hl + 1;
  size_t padded = (total + 63) / 64 * 64;
  memcpy(buf, magic, 6);
  buf[6] = 1;
  buf[7] = 0;
  buf[8] = (unsigned char)((padded - 10) & 0xff);
  buf[9] = (unsigned char)((padded - 10) >> 8);
  memcpy(buf + 10, header, hl);
  memset(buf + 10 + hl, ' ', padded - total);
  buf[padded - 1] = '\n';
  memset(buf + padded, 0, data_len);
  write_bytes(path(name), buf, padded + data_len);
}

Test(npy, malformed_files_are_rejected_with_a_message)
{
  const char *M = "\x93NUMPY";
  const struct {
    const char *name, *header;
    size_t data;
    const char *magic, *says;
  } cases[] = {
    {"good.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, M, NULL},
    {"truncated.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 40, M, "truncated"},
    {"trailing.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 56, M, "trailing"},
    {"lying.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (200, 300), }", 48, M, "truncated"},
    {"magic.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, "\x93NUMPX", "magic"},
    {"dtype.npy", "{'descr': '<U8', 'fortran_order': False, 'shape': (2, 3), }", 48, M, "dtype"},
    {"nokey.npy", "{'descr': '<f8', 'shape': (2, 3), }", 48, M, "lacks"},
    {"extra.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 48, M, "unknown"},
    {"tuple.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2; 3), }", 48, M, "tuple"},
    {"negative.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }", 48, M, "non-negative"},
    {"notdict.npy", "['descr', '<f8']", 48, M, "not a dict"},
    {"fortran.npy", "{'descr': '<f8', 'fortran_order': 1, 'shape': (2, 3), }", 48, M, "fortran_order"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    handmade(cases[c].name, cases[c].header, cases[c].data, cases[c].magic);
    sdlab_array a;
    sdlab_error_clear();
    int status = sdlab_npy_read(path(cases[c].name), &a);
    if (cases[c].says == NULL) {
      cr_assert_eq(status, 0, "%s: %s", cases[c].name, sdlab_error_message(status));
      sdlab_npy_array_release(&a);
      continue;
    }
    const char *msg = sdlab_error_message(status);
    cr_assert_eq(status, SDLAB_EBADNPY, "%s was accepted", cases[c].name);
    cr_assert(strstr(msg, cases[c].says) != NULL && strstr(msg, cases[c].name) != NULL, "%s: '%s'", cases[c].name,
              msg);
    cr_assert_null(a.data);
  }
  /* an unsupported version, an empty file, a missing file */
  unsigned char v4[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 4, 0};
  write_bytes(path("v4.npy"), v4, 16);
  sdlab_array a;
  cr_assert_eq(sdlab_npy_read(path("v4.npy"), &a), SDLAB_EBADNPY);
  write_bytes(path("empty.npy"), "", 0);
  cr_assert_eq(sdlab_npy_read(path("empty.npy"), &a), SDLAB_EBADNPY);
  cr_assert_eq(sdlab_npy_read(path("missing.npy"), &a), SDLAB_EIO);
}

Test(npy, load_matrix_checks_rank_type_and_finiteness)
{
  double v[4] = {1, NAN, 3, 4};
  size_t s1[1] = {4}, s2[2] = {2, 2};
  int32_t ints[4] = {1, 2, 3, 4};
  sdlab_npy_write(path("vec.npy"), SDLAB_F64, 1, s1, v);
  sdlab_npy_write(path("nan.npy"), SDLAB_F64, 2, s2, v);
  sdlab_npy_write(path("int.npy"), SDLAB_I32, 2, s2, ints);
  gsl_matrix *m = NULL;
  cr_assert_eq(sdlab_npy_load_matrix(path("vec.npy"), "v", &m), SDLAB_ESHAPE);
  cr_assert_eq(sdlab_npy_load_matrix(path("nan.npy"), "v", &m), SDLAB_ENONFINITE);
  cr_assert(strstr(sdlab_error_message(SDLAB_ENONFINITE), "row 0, column 1") != NULL);
  cr_assert_eq(sdlab_npy_load_matrix(path("int.npy"), "v", &m), SDLAB_ESHAPE);
  cr_assert_null(m);
  double frac[2] = {1.5, 2};
  size_t s3[1] = {2};
  sdlab_npy_write(path("frac.npy"), SDLAB_F64, 1, s3, frac);
  size_t *idx, cnt;
  cr_assert_eq(sdlab_npy_load_indices(path("frac.npy"), "x", 10, &idx, &cnt), GSL_EINVAL);
  int32_t neg[1] = {-1};
  size_t s4[1] = {1};
  sdlab_npy_write(path("neg.npy"), SDLAB_I32, 1, s4, neg);
  cr_assert_eq(sdlab_npy_load_indices(path("neg.npy"), "x", 10, &idx, &cnt), GSL_EINVAL);
}

/* Issue 22 (3c): shapes whose byte counts approach or pass 2^63 and 2^64.  The byte count is multiplied with an
 * overflow check and compared in unsigned arithmetic (a signed off_t sum overflowed: UBSan reports it under make
 * check), and the message states the announced data size exactly. */
Test(npy, huge_shapes_are_refused_without_overflow)
{
  const struct {
    const char *name, *header, *says;
  } cases[] = {
    /* (2^60 - 1) float64 = 2^63 - 8 bytes: below SIZE_MAX, beyond any off_t sum with the header */
    {"h63.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846975,), }",
     "9223372036854775800 bytes of data"},
    /* 2^62 x 2 float32 = 2^65 bytes: the product overflows size_t */
    {"h65.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 2), }", "multiply"},
    /* 2^64 - 1 in one extent */
    {"hmax.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (18446744073709551615,), }", "multiply"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    handmade(cases[c].name, cases[c].header, 16, "\x93NUMPY");
    sdlab_array a;
    sdlab_error_clear();
    int status = sdlab_npy_read(path(cases[c].name), &a);
    const char *msg = sdlab_error_message(status);
    cr_assert_eq(status, SDLAB_EBADNPY, "%s: status %d", cases[c].name, status);
    cr_assert(strstr(msg, cases[c].says) && strstr(msg, cases[c].name), "%s: '%s'", cases[c].name, msg);
    cr_assert_null(a.data);
  }
}

/* A 1-D float vector of a given length: float32 and float64 read to the same floats; another length, rank or an
 * integer dtype is a shape error, a NaN a non-finite one, each naming the file. */
Test(npy, float_vectors_of_a_given_length)
{
  const double d[3] = {0.5, -2, 3.25};
  const float f[3] = {0.5f, -2, 3.25f};
  const int32_t k[3] = {1, 2, 3};
  const size_t s3[1] = {3}, s13[2] = {1, 3};
  cr_assert_eq(sdlab_npy_write(path("d.npy"), SDLAB_F64, 1, s3, d), 0);
  cr_assert_eq(sdlab_npy_write(path("f.npy"), SDLAB_F32, 1, s3, f), 0);
  cr_assert_eq(sdlab_npy_write(path("k.npy"), SDLAB_I32, 1, s3, k), 0);
  cr_assert_eq(sdlab_npy_write(path("m.npy"), SDLAB_F64, 2, s13, d), 0);
  const double nan[3] = {1, NAN, 2};
  cr_assert_eq(sdlab_npy_write(path("n.npy"), SDLAB_F64, 1, s3, nan), 0);
  float *x = NULL;
  cr_assert_eq(sdlab_npy_load_vector(path("d.npy"), "v", 3, &x), 0);
  cr_assert(memcmp(x, f, sizeof f) == 0);
  free(x);
  cr_assert_eq(sdlab_npy_load_vector(path("f.npy"), "v", 3, &x), 0);
  cr_assert(memcmp(x, f, sizeof f) == 0);
  free(x);
  const char *bad[] = {"f.npy", "k.npy", "m.npy"};
  const size_t len[] = {4, 3, 3};
  for (int b = 0; b < 3; b++) {
    cr_assert_eq(sdlab_npy_load_vector(path(bad[b]), "v", len[b], &x), SDLAB_ESHAPE, "%s", bad[b]);
    cr_assert_null(x);
    cr_assert(strstr(sdlab_error_message(SDLAB_ESHAPE), bad[b]));
  }
  cr_assert_eq(sdlab_npy_load_vector(path("n.npy"), "v", 3, &x), SDLAB_ENONFINITE);
  cr_assert_null(x);
}

/* The JSON writer (Jansson underneath) takes any string: a path need not be UTF-8, and each byte that does not begin a
 * valid UTF-8 sequence (a stray byte, a cut sequence, an overlong form, a surrogate) is written as U+FFFD; valid
 * text, multibyte included, passes unchanged.  The text is read back by Jansson's own parser. */
Test(npy, json_strings_that_are_not_utf8_are_written_as_replacement_characters)
{
  static const struct { const char *in, *out; } cases[] = {
    {"plain/path.npy", "plain/path.npy"},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
    {"/tmp/u\xffx", "/tmp/u\xef\xbf\xbdx"},
    {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},
    {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
    {"surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    sdlab_json j;
    sdlab_json_init(&j);
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_string(&j, "s", cases[c].in);
    sdlab_json_object_end(&j);
    const char *text = sdlab_json_text(&j);
    cr_assert(text, "case %zu: no text", c);
    json_error_t e;
    json_t *root = json_loads(text, 0, &e);
    cr_assert(root, "case %zu: %s", c, e.text);
    cr_assert_str_eq(json_string_value(json_object_get(root, "s")), cases[c].out, "case %zu", c);
    json_decref(root);
    sdlab_json_free(&j);
  }
}
