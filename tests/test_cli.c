/* The sdlab command line, run as a user runs it: help, one clear error line and no output for each bad
 * input, deterministic outputs, and eval's answers on configurations whose metrics are known. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"
#include "sdlab_construct.h"
#include "sdlab_json.h"
#include "sdlab_npy.h"

TestSuite(cli, .init = test_dir_setup, .fini = test_dir_teardown, .timeout = 60);

/* Run `sdlab ARGS` (ARGS may use %D for the temporary directory). */
static int
sdlab(const char *args, char **out, char **err)
{
  char expanded[8192], cmd[8400];
  size_t k = 0;
  for (const char *a = args; *a && k + 4200 < sizeof expanded; a++) {
    if (a[0] == '%' && a[1] == 'D') {
      k += (size_t)snprintf(expanded + k, sizeof expanded - k, "%s", test_dir);
      a++;
    } else {
      expanded[k++] = *a;
    }
  }
  expanded[k] = '\0';
  snprintf(cmd, sizeof cmd, "'%s' %s", test_sdlab_bin(), expanded);
  return test_run(cmd, out, err);
}

static int
exists(const char *rel)
{
  char p[4200];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", test_dir, rel);
  return stat(p, &st) == 0;
}

/* The directory holds exactly `expect` entries (no staging or temporary leftovers). */
static void
assert_entries(size_t expect)
{
  char cmd[4200], *out = NULL;
  snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", test_dir);
  test_run(cmd, &out, NULL);
  cr_assert_eq((size_t)atoi(out), expect, "the directory holds %s entries, expected %zu", out, expect);
  free(out);
}

Test(cli, help_and_version)
{
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("--help", &out, NULL), 0);
  cr_assert(strstr(out, "lrb") && strstr(out, "eval"));
  free(out);
  cr_assert_eq(sdlab("lrb --help", &out, NULL), 0);
  cr_assert(strstr(out, "--features") && strstr(out, "--hierarchy"));
  free(out);
  cr_assert_eq(sdlab("eval --help", &out, NULL), 0);
  cr_assert(strstr(out, "--truth") && strstr(out, "--exclude"));
  free(out);
  cr_assert_eq(sdlab("help eval", &out, NULL), 0);
  free(out);
  cr_assert_eq(sdlab("--version", &out, NULL), 0);
  free(out);
  cr_assert_eq(sdlab("frobnicate", NULL, &err), 2);
  cr_assert(test_lines(err) == 1 && strstr(err, "unknown command"));
  free(err);
  cr_assert_eq(sdlab("", NULL, NULL), 2);
}

/* OpenBLAS's kernels are pinned (sdlab_blas.h): with OPENBLAS_CORETYPE unset, on a CPU with AVX2 and FMA, both
 * the command line and this test binary run the Haswell kernels whatever OpenBLAS would pick for this CPU (here
 * an Intel Xeon that OpenBLAS 0.3.21 does not know: its SSE3 kernels, whose sums differ) */
Test(cli, openblas_runs_the_pinned_kernels)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    cr_skip_test("no AVX2 and FMA: OpenBLAS keeps its own kernels");
#else
  cr_skip_test("not an x86 CPU: OpenBLAS keeps its own kernels");
#endif
  char *out = NULL, cmd[4200];
  snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE '%s' --version", test_sdlab_bin());
  cr_assert_eq(test_run(cmd, &out, NULL), 0);
  cr_assert(out && strstr(out, "(OpenBLAS kernels: " SDLAB_BLAS_KERNEL ")"), "sdlab --version printed: %s", out);
  free(out);
  const char *preset = getenv("OPENBLAS_CORETYPE");
  if (preset == NULL || strcasecmp(preset, SDLAB_BLAS_KERNEL) == 0)
    cr_assert(strcasecmp(sdlab_blas_kernel(), SDLAB_BLAS_KERNEL) == 0, "the tests run OpenBLAS's %s kernels",
              sdlab_blas_kernel());
  /* a kernel set beforehand is left as it is */
  snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Sandybridge '%s' --version", test_sdlab_bin());
  cr_assert_eq(test_run(cmd, &out, NULL), 0);
  cr_assert(out && strstr(out, "(OpenBLAS kernels: Sandybridge)"), "sdlab --version printed: %s", out);
  free(out);
}

#define LRB_OK "lrb --features 6 --dim 4 --samples 50 --sparsity 0.9 --interference 0.4 --seed 3 --quiet"

Test(cli, lrb_bad_input_gives_one_error_line_and_no_output)
{
  /* exit 2: the command line is wrong (a value out of range or impossible included); 1: the computation failed */
  const struct {
    const char *args, *says;
    int code;
  } cases[] = {
    {LRB_OK " --out %D/o --bogus 1", "unknown option '--bogus'", 2},
    {"lrb --features 6 --dim 4 --samples 50 --sparsity 1.5 --interference 0.4 --seed 3 --out %D/o", "[0, 1)", 2},
    {"lrb --features 6 --dim 4 --samples 50 --sparsity nan --interference 0.4 --seed 3 --out %D/o", "finite", 2},
    {"lrb --features 6 --dim 0 --samples 50 --sparsity 0.9 --interference 0.4 --seed 3 --out %D/o", "--dim", 2},
    {"lrb --features six --dim 4 --samples 50 --sparsity 0.9 --interference 0.4 --seed 3 --out %D/o", "--features", 2},
    {"lrb --features -6 --dim 4 --samples 50 --sparsity 0.9 --interference 0.4 --seed 3 --out %D/o", "--features", 2},
    {"lrb --features 6 --dim 4 --samples 50 --sparsity 0.9 --interference 0.4 --seed 3", "--out is required", 2},
    {"lrb --features 9 --dim 4 --samples 50 --sparsity 0.9 --interference -0.1 --seed 3 --out %D/o", "cannot be reached", 2},
    {"lrb --features 40 --dim 4 --samples 50 --sparsity 0.9 --interference 0.05 --seed 3 --lrb-iter 5 --out %D/o",
     "stopped after 5 iterations", 1},
    {LRB_OK " --out %D/o --hierarchy 3", "P:K", 2},
    {LRB_OK " --out %D/o --hierarchy 2:3", "P (K + 1)", 2},
    {LRB_OK " --out %D/o --target decoder", "--target", 2},
    {LRB_OK " --out %D/o --dtype f16", "--dtype", 2},
    {LRB_OK " --out %D/o --seed 4", "more than once", 2},
    {LRB_OK " --out %D/o stray", "unexpected argument", 2},
    {LRB_OK " --out %D/o --sources 2", "crosscoder", 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char *err = NULL;
    int code = sdlab(cases[c].args, NULL, &err);
    cr_assert_eq(code, cases[c].code, "case %zu exited %d: %s", c, code, err);
    cr_assert_eq(test_lines(err), 1, "case %zu: stderr is not one line: %s", c, err);
    cr_assert(strncmp(err, "sdlab lrb: error: ", 18) == 0 && strstr(err, cases[c].says), "case %zu: %s", c, err);
    cr_assert(!exists("o"), "case %zu left output behind", c);
    assert_entries(0);
    free(err);
  }
}

Test(cli, lrb_refuses_to_overwrite_without_force)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/o", NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab(LRB_OK " --out %D/o", NULL, &err), 1);
  cr_assert(test_lines(err) == 1 && strstr(err, "already exists"));
  free(err);
  cr_assert_eq(sdlab(LRB_OK " --out %D/o --force", NULL, &err), 0, "%s", err);
  free(err);
  assert_entries(1);
}

static char *
slurp_rel(const char *rel, size_t *len)
{
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", test_dir, rel);
  return test_slurp(p, len);
}

Test(cli, lrb_same_seed_same_bytes_and_shapes)
{
  cr_assert_eq(sdlab(LRB_OK " --target transcoder --target-dim 5 --out %D/a", NULL, NULL), 0);
  cr_assert_eq(sdlab(LRB_OK " --target transcoder --target-dim 5 --out %D/b", NULL, NULL), 0);
  const char *files[] = {"W_p.npy", "W_r.npy", "x.npy", "x_p.npy", "x_r.npy", "meta.json"};
  for (int f = 0; f < 6; f++) {
    char ra[64], rb[64];
    snprintf(ra, sizeof ra, "a/%s", files[f]);
    snprintf(rb, sizeof rb, "b/%s", files[f]);
    size_t la, lb;
    char *A = slurp_rel(ra, &la), *B = slurp_rel(rb, &lb);
    cr_assert(A && B && la == lb && memcmp(A, B, la) == 0, "%s differs between two runs with one seed", files[f]);
    free(A);
    free(B);
  }
  const struct {
    const char *file;
    size_t r, c;
  } shapes[] = {{"a/W_p.npy", 4, 6}, {"a/W_r.npy", 5, 6}, {"a/x.npy", 50, 6}, {"a/x_p.npy", 50, 4}, {"a/x_r.npy", 50, 5}};
  for (int s = 0; s < 5; s++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", test_dir, shapes[s].file);
    sdlab_array a;
    cr_assert_eq(sdlab_npy_read(p, &a), 0);
    cr_assert(a.ndim == 2 && a.shape[0] == shapes[s].r && a.shape[1] == shapes[s].c, "%s", shapes[s].file);
    sdlab_npy_array_release(&a);
  }
  char *meta = slurp_rel("a/meta.json", NULL);
  cr_assert(strstr(meta, "\"achieved_interference\"") && strstr(meta, "\"iterations\"") && strstr(meta, "\"seed\": 3"));
  free(meta);
  /* a different seed changes the data */
  cr_assert_eq(sdlab("lrb --features 6 --dim 4 --samples 50 --sparsity 0.9 --interference 0.4 --seed 4 --quiet "
                     "--target transcoder --target-dim 5 --out %D/c", NULL, NULL), 0);
  size_t la, lc;
  char *A = slurp_rel("a/x.npy", &la), *C = slurp_rel("c/x.npy", &lc);
  cr_assert(la == lc && memcmp(A, C, la) != 0);
  free(A);
  free(C);
}

/* C.1's products run on a fixed count of OpenBLAS threads (sdlab_lrb.c), not on its default, the machine's cores
 * (OMP_NUM_THREADS in Debian's OpenMP build): the directions' bytes are the same under 1 and 4.  At 300 x 64 one
 * thread and several sum W^T W differently, so the test fails with the default count. */
Test(cli, lrb_bytes_do_not_depend_on_the_machine_s_cores)
{
  const int threads[2] = {1, 4};
  for (int t = 0; t < 2; t++) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d '%s' lrb --features 300 --dim 64 --samples 100 "
             "--sparsity 0.95 --interference 0.3 --seed 3 --quiet --out '%s/t%d'", threads[t], threads[t],
             test_sdlab_bin(), test_dir, threads[t]);
    cr_assert_eq(test_run(cmd, NULL, NULL), 0);
  }
  size_t la, lb;
  char *A = slurp_rel("t1/W_p.npy", &la), *B = slurp_rel("t4/W_p.npy", &lb);
  cr_assert(A && B && la == lb && memcmp(A, B, la) == 0, "W_p.npy differs between 1 and 4 OpenBLAS threads");
  free(A);
  free(B);
  char *meta = slurp_rel("t1/meta.json", NULL);
  cr_assert(meta && !strstr(meta, "\"iterations\": 0,"), "C.1 ran no product");
  free(meta);
}

Test(cli, lrb_crosscoder_and_hierarchy_outputs)
{
  cr_assert_eq(sdlab("lrb --features 12 --dim 8 --samples 30 --sparsity 0.8 --interference 0.5 --seed 1 --quiet "
                     "--target crosscoder --sources 2 --hierarchy 2:3 --dtype f64 --out %D/x", NULL, NULL), 0);
  cr_assert(exists("x/W_r.npy") && exists("x/x_r.npy"));
  char path[4096];
  snprintf(path, sizeof path, "%s/x/meta.json", test_dir);
  json_t *meta;
  cr_assert_eq(sdlab_json_load(path, &meta), 0, "%s", sdlab_error_message(1));
  const long long want[] = {-1, -1, 0, 0, 0, 1, 1, 1, -1, -1, -1, -1};
  json_t *parent = sdlab_json_at(meta, "parent_of");
  cr_assert(json_is_array(parent) && json_array_size(parent) == 12);
  for (size_t d = 0; d < 12; d++)
    cr_assert(json_integer_value(json_array_get(parent, d)) == want[d], "parent_of[%zu]", d);
  cr_assert_str_eq(json_string_value(sdlab_json_at(meta, "parameters/dtype")), "float64");
  json_decref(meta);
}

/* absorption: a trained dictionary's codes (train --codes) and Theorem 3.8's construction, classified; bad input */
Test(cli, absorption_codes_construction_and_bad_input)
{
  cr_assert_eq(sdlab("lrb --features 10 --dim 12 --samples 3000 --sparsity 0.9 --interference 0.05 --cmin 1 --beta 0.5 "
                     "--hierarchy 2:3 --seed 3 --quiet --out %D/h", NULL, NULL), 0);
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("train --data %D/h --method topk --k 2 --latents 10 --epochs 2 --batch 256 --biases --seed 1 "
                     "--threads 1 --codes --quiet --out %D/r", NULL, &err), 0, "%s", err);
  free(err);
  char p[4200];
  snprintf(p, sizeof p, "%s/r/codes.npy", test_dir);
  gsl_matrix *Z = NULL;
  cr_assert_eq(sdlab_npy_load_matrix(p, "codes", &Z), 0);
  cr_expect(Z->size1 == 3000 && Z->size2 == 10, "codes.npy is %zu x %zu", Z->size1, Z->size2);
  size_t l0 = 0;
  for (size_t k = 0; k < Z->size1 * Z->size2; k++)
    l0 += Z->data[k] > 0;
  cr_expect(l0 <= 2 * Z->size1, "TopK k = 2 codes have %zu nonzeros in %zu rows", l0, Z->size1);
  gsl_matrix_free(Z);
  cr_assert_eq(sdlab("absorption --bench %D/h --hierarchy 2:3 --codes %D/r/codes.npy --decoder %D/r/W_D.npy "
                     "--rates %D/rates.tsv --out %D/a.json", &out, &err), 0, "%s", err);
  cr_expect(strstr(out, "\"absorption_rate\": ") && strstr(out, "\"sub_concepts\": 6,") &&
            strstr(out, "\"decoder_parent_cos\""), "%s", out);
  char *rates = slurp_rel("rates.tsv", NULL);
  cr_expect_eq(test_lines(rates), 1 + 10 * 11, "a header, then 10 rows of 10 features and a blank line each");
  free(rates);
  free(out);
  free(err);
  /* the repaired construction realizes P' on every bench tried: one absorbing neuron, every parent kept */
  for (int seed = 1; seed <= 4; seed++) {
    char args[600];
    snprintf(args, sizeof args, "lrb --features 10 --dim 12 --samples 10 --sparsity 0.9 --interference 0.05 "
             "--hierarchy 2:3 --seed %d --quiet --force --out %%D/c", seed);
    cr_assert_eq(sdlab(args, NULL, NULL), 0);
    cr_assert_eq(sdlab("absorption --bench %D/c --hierarchy 2:3 --construct --repair --parent 1 --encoder-out %D/we.npy",
                       &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"realizes_P_prime\": true") && strstr(out, "\"parent\": 2,") &&
              strstr(out, "\"absorbing\": 1,") && strstr(out, "\"absorbed\": 1,"), "seed %d: %s", seed, out);
    free(out);
    free(err);
  }
  static const char *bad[] = {
    "absorption --bench %D/h --hierarchy 2:3 --codes %D/r/codes.npy --construct --out %D/o.json",
    "absorption --bench %D/h --hierarchy 2:3 --codes %D/h/W_p.npy --out %D/o.json",
    "absorption --bench %D/c --hierarchy 2:3 --codes %D/r/codes.npy --out %D/o.json",
    "absorption --bench %D/h --hierarchy 3:3 --codes %D/r/codes.npy --out %D/o.json",
    "absorption --bench %D/h --hierarchy 2:3 --codes %D/r/codes.npy --tau 0.3 --out %D/o.json",
    "absorption --bench %D/h --hierarchy 2:3 --construct --parent 2 --out %D/o.json",
    "absorption --bench %D/h --hierarchy 2:x --construct --out %D/o.json",
    "absorption --bench %D/h --hierarchy 2:3 --codes %D/r/codes.npy --repair --out %D/o.json",
    "absorption --bench %D/h --hierarchy 2:3 --codes %D/r/codes.npy --decoder %D/r/W_E.npy --out %D/o.json"};
  /* 2: the command line is wrong (a hierarchy the bench cannot hold, tau out of range); 1: the files are */
  static const int code[] = {2, 1, 1, 2, 2, 2, 2, 2, 1};
  for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
    int got = sdlab(bad[c], &out, &err);
    cr_expect_eq(got, code[c], "case %zu exited %d: %s", c, got, err);
    cr_expect(test_lines(err) == 1 && strstr(err, "sdlab absorption: error: "), "case %zu: %s", c, err);
    cr_expect(!exists("o.json"), "case %zu wrote output", c);
    free(out);
    free(err);
  }
}

/* absorption reads the bench's hierarchy back from its meta.json (issue 22: a --hierarchy contradicting the bench
 * was accepted): by default it takes the recorded one; a given one must agree; a record whose parent_of
 * contradicts its hierarchy, a bench made without one, or no record and no flag are refused with one line. */
Test(cli, absorption_takes_the_hierarchy_from_the_bench_and_refuses_contradictions)
{
  cr_assert_eq(sdlab("lrb --features 10 --dim 12 --samples 200 --sparsity 0.9 --interference 0.05 --hierarchy 2:3 "
                     "--seed 3 --quiet --out %D/h", NULL, NULL), 0);
  cr_assert_eq(sdlab("lrb --features 10 --dim 12 --samples 200 --sparsity 0.9 --interference 0.05 --seed 3 --quiet "
                     "--out %D/flat", NULL, NULL), 0);
  char *with = NULL, *without = NULL, *err = NULL;
  cr_assert_eq(sdlab("absorption --bench %D/h --hierarchy 2:3 --construct", &with, NULL), 0);
  cr_assert_eq(sdlab("absorption --bench %D/h --construct", &without, &err), 0, "%s", err);
  cr_assert_str_eq(with, without, "the recorded hierarchy and the same one given differ");
  free(with);
  free(without);
  free(err);
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "cp -r '%s/h' '%s/edited' && cp -r '%s/h' '%s/bare' && rm '%s/bare/meta.json'", test_dir,
           test_dir, test_dir, test_dir, test_dir);
  cr_assert_eq(test_run(cmd, NULL, &err), 0, "%s", err);
  free(err);
  /* the same bench with its record's parent_of edited (feature 5 given to parent 0 instead of 1) */
  char path[4096];
  snprintf(path, sizeof path, "%s/edited/meta.json", test_dir);
  json_t *meta;
  cr_assert_eq(sdlab_json_load(path, &meta), 0, "%s", sdlab_error_message(1));
  json_t *parent = sdlab_json_at(meta, "parent_of");
  cr_assert(json_integer_value(json_array_get(parent, 5)) == 1 && json_integer_value(json_array_get(parent, 4)) == 0);
  cr_assert_eq(json_array_set_new(parent, 5, json_integer(0)), 0);
  cr_assert_eq(json_dump_file(meta, path, JSON_INDENT(2)), 0);
  json_decref(meta);
  static const struct { const char *args, *says; int code; } bad[] = {
    {"absorption --bench %D/h --hierarchy 1:3 --construct", "contradicts the bench's 2:3", 2},
    {"absorption --bench %D/flat --construct", "made without a hierarchy", 1},
    {"absorption --bench %D/flat --hierarchy 2:3 --construct", "made without one", 2},
    {"absorption --bench %D/edited --construct", "parent_of[5] contradicts", 1},
    {"absorption --bench %D/bare --construct", "--hierarchy P:K is needed", 2}};
  for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
    char *out = NULL;
    int got = sdlab(bad[c].args, &out, &err);
    cr_expect_eq(got, bad[c].code, "case %zu exited %d: %s", c, got, err);
    cr_expect(test_lines(err) == 1 && strstr(err, bad[c].says), "case %zu: %s", c, err);
    free(out);
    free(err);
  }
  cr_assert_eq(sdlab("absorption --bench %D/bare --hierarchy 2:3 --construct", NULL, &err), 0, "%s", err);
  free(err);
}

/* eval --sae: another tool's dictionary, in each layout, gives the metrics of the same weights as .npy.  The
 * sparsify and dictionary_learning files are written here by a separate writer from the safetensors
 * specification (8-byte little-endian header length, JSON header, raw little-endian tensors), one in float64. */
Test(cli, eval_reads_saelens_sparsify_and_dictionary_learning_layouts)
{
  cr_assert_eq(sdlab("lrb --features 20 --dim 12 --samples 500 --sparsity 0.8 --interference 0.2 --seed 4 --quiet "
                     "--out %D/b", NULL, NULL), 0);
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 3 --latents 30 --epochs 2 --batch 50 --quiet --out %D/r",
                     NULL, NULL), 0);
  char cmd[8400], *want = NULL, *got = NULL, *err = NULL;
  snprintf(cmd, sizeof cmd, "cd '%s' && mkdir sp dl && /usr/bin/python3 -c \"\n"
           "import json, struct, numpy as np\n"
           "WE = np.load('r/W_E.npy'); WD = np.load('r/W_D.npy')\n"
           "def save(path, tensors, dtype):\n"
           "    head, off, blobs = {}, 0, []\n"
           "    for name, a in tensors:\n"
           "        b = np.ascontiguousarray(a, dtype='<f8' if dtype == 'F64' else '<f4').tobytes()\n"
           "        head[name] = {'dtype': dtype, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}\n"
           "        off += len(b); blobs.append(b)\n"
           "    h = json.dumps(head).encode(); h += b' ' * (-len(h) %% 8)\n"
           "    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))\n"
           "save('sp/sae.safetensors', [('encoder.weight', WE), ('W_dec', WD.T), ('b_dec', np.zeros(12))], 'F32')\n"
           "save('dl/model.safetensors', [('encoder.weight', WE), ('decoder.weight', WD)], 'F64')\n\"", test_dir);
  cr_assert_eq(test_run(cmd, NULL, &err), 0, "%s", err);
  free(err);
  cr_assert_eq(sdlab("eval --truth %D/b/W_p.npy --encoder %D/r/W_E.npy --decoder %D/r/W_D.npy", &want, NULL), 0);
  static const char *dirs[] = {"r", "sp", "dl"}, *layouts[] = {"SAELens", "sparsify", "dictionary_learning"};
  for (int k = 0; k < 3; k++) {
    char args[600], line[96];
    snprintf(args, sizeof args, "eval --truth %%D/b/W_p.npy --sae %%D/%s", dirs[k]);
    cr_assert_eq(sdlab(args, &got, &err), 0, "%s: %s", dirs[k], err);
    snprintf(line, sizeof line, "  \"sae_layout\": \"%s\",\n", layouts[k]);
    char *at = strstr(got, line);
    cr_assert(at != NULL, "%s: no %s in %s", dirs[k], line, got);
    memmove(at, at + strlen(line), strlen(at + strlen(line)) + 1);
    cr_assert_str_eq(got, want, "%s: the metrics differ from the .npy weights'", dirs[k]);
    free(got);
    free(err);
  }
  free(want);
  static const struct { const char *args, *says; int code; } bad[] = {
    {"eval --truth %D/b/W_p.npy --sae %D/b", "holds no SAE weights", 1},
    {"eval --truth %D/b/W_p.npy --sae %D/r --decoder %D/r/W_D.npy", "--sae DIR", 2},
    {"eval --truth %D/b/W_p.npy --sae %D/r --encoder %D/r/W_E.npy", "--sae DIR", 2}};
  for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
    int code = sdlab(bad[c].args, NULL, &err);
    cr_expect_eq(code, bad[c].code, "case %zu exited %d: %s", c, code, err);
    cr_expect(test_lines(err) == 1 && strstr(err, bad[c].says), "case %zu: %s", c, err);
    free(err);
  }
}

/* eval on configurations with known metrics */
Test(cli, eval_reports_known_metrics_and_bad_inputs)
{
  cr_assert_eq(sdlab("lrb --features 6 --dim 8 --samples 5 --sparsity 0.9 --interference 0.2 --seed 2 --quiet "
                     "--out %D/b", NULL, NULL), 0);
  char p[4200];
  snprintf(p, sizeof p, "%s/b/W_p.npy", test_dir);
  gsl_matrix *Wp;
  cr_assert_eq(sdlab_npy_load_matrix(p, "W_p", &Wp), 0);
  /* Theorem 3.3's encoder W_E* = [W_p^T; 0] (7 latents) recovers every feature exactly */
  gsl_matrix *WE = gsl_matrix_alloc(7, 8), *WD = gsl_matrix_alloc(8, 7);
  cr_assert_eq(sdlab_construct_thm33(Wp, Wp, WE, WD), 0);
  snprintf(p, sizeof p, "%s/WE.npy", test_dir);
  sdlab_npy_write_matrix(p, WE, SDLAB_F64);
  snprintf(p, sizeof p, "%s/WD.npy", test_dir);
  sdlab_npy_write_matrix(p, WD, SDLAB_F32);
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("eval --truth %D/b/W_p.npy --encoder %D/WE.npy --decoder %D/WD.npy --out %D/m.json", &out, &err), 0,
               "%s", err);
  cr_assert(strstr(out, "\"M_GT\": 1,") && strstr(out, "\"MCC\": 1") && strstr(out, "\"similarity\": \"cosine\""),
            "%s", out);
  cr_assert(strstr(out, "\"decoder\"") && strstr(out, "\"tau_sweep\""));
  char *saved = slurp_rel("m.json", NULL);
  cr_assert_str_eq(saved, out, "--out holds what was printed");
  free(saved);
  free(out);
  free(err);
  /* excluding two features evaluates the other four */
  int32_t anchors[2] = {0, 5};
  size_t sh[1] = {2};
  snprintf(p, sizeof p, "%s/anchors.npy", test_dir);
  sdlab_npy_write(p, SDLAB_I32, 1, sh, anchors);
  cr_assert_eq(sdlab("eval --truth %D/b/W_p.npy --encoder %D/WE.npy --exclude %D/anchors.npy --tau 0.5", &out, NULL), 0);
  cr_assert(strstr(out, "\"excluded\": 2") && strstr(out, "\"evaluated\": 4") && strstr(out, "\"tau\": 0.5"), "%s", out);
  free(out);
  /* bad inputs: one line each, exit 1 or 2 */
  const struct {
    const char *args, *says;
  } cases[] = {
    {"eval --truth %D/b/W_p.npy", "--encoder is required"},
    {"eval --truth %D/b/W_p.npy --encoder %D/b/W_p.npy", "transposed"},
    {"eval --truth %D/nothere.npy --encoder %D/WE.npy", "cannot open"},
    {"eval --truth %D/b/meta.json --encoder %D/WE.npy", "not a .npy"},
    {"eval --truth %D/b/W_p.npy --encoder %D/WE.npy --decoder %D/WE.npy", "n_r x n_q"},
    {"eval --truth %D/b/W_p.npy --encoder %D/WE.npy --tau x", "--tau"},
    {"eval --truth %D/b/W_p.npy --encoder %D/WE.npy --exclude %D/WE.npy", "1-D"},
    {"eval --truth %D/b/W_p.npy --encoder %D/WE.npy --truth-target %D/b/W_p.npy", "needs --decoder"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    int code = sdlab(cases[c].args, &out, &err);
    cr_assert(code == 1 || code == 2, "case %zu exited %d", c, code);
    cr_assert(test_lines(err) == 1 && strncmp(err, "sdlab eval: error: ", 19) == 0 && strstr(err, cases[c].says),
              "case %zu: %s", c, err);
    cr_assert_str_eq(out, "", "case %zu printed a partial answer", c);
    free(out);
    free(err);
  }
  gsl_matrix_free(Wp);
  gsl_matrix_free(WE);
  gsl_matrix_free(WD);
}

Test(cli, construct_writes_the_paper_configurations)
{
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("construct example35 --out %D/e", &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "\"L_tilde\": 1,") && strstr(out, "\"grad_W_E_norm\": 0,") && strstr(out, "\"dead_neurons\": 1"),
            "%s", out);
  cr_assert(exists("e/W_E.npy") && exists("e/W_D.npy") && exists("e/W_p.npy") && exists("e/result.json"));
  free(out);
  free(err);
  /* Theorem 3.3 on a near-orthoplex (M ~ 1e-9) with pure TopK: the pinned counterexample, from the CLI */
  cr_assert_eq(sdlab("lrb --features 4 --dim 2 --samples 5 --sparsity 0.9 --interference 1e-9 --seed 1 --quiet "
                     "--out %D/o", NULL, NULL), 0);
  cr_assert_eq(sdlab("construct thm33 --truth %D/o/W_p.npy --latents 4 --activation topk:4 --out %D/t", &out, NULL), 0);
  cr_assert(strstr(out, "\"L_tilde_le_bound\": false"), "%s", out);
  free(out);
  cr_assert_eq(sdlab("construct thm33 --truth %D/o/W_p.npy --latents 4 --activation topk-relu:4 --out %D/t2", &out,
                     NULL), 0);
  cr_assert(strstr(out, "\"L_tilde_le_bound\": true"), "%s", out);
  free(out);
  cr_assert_eq(sdlab("construct zero-loss --truth %D/o/W_p.npy --latents 4 --out %D/z", NULL, &err), 1);
  cr_assert(test_lines(err) == 1 && strstr(err, "n <= n_p"), "%s", err);
  free(err);
  cr_assert(!exists("z"));
  const char *bad[] = {"construct", "construct thm99 --out %D/x", "construct example35 --out %D/x --latents 3",
                       "construct thm33 --truth %D/o/W_p.npy --latents 3 --activation topk:4 --out %D/x",
                       "construct thm33 --truth %D/o/W_p.npy --latents 4 --activation relu --md 0 --out %D/x"};
  for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
    int code = sdlab(bad[c], NULL, &err);
    cr_assert(code == 1 || code == 2, "case %zu exited %d", c, code);
    cr_assert(c == 0 || test_lines(err) == 1, "case %zu: %s", c, err);
    cr_assert(!exists("x"));
    free(err);
  }
}

Test(cli, tsv_prints_what_the_array_holds)
{
  double v[6] = {1.5, -2, 0.1, 4, 5, 6};
  size_t sh[2] = {3, 2};
  char p[4200];
  snprintf(p, sizeof p, "%s/a.npy", test_dir);
  sdlab_npy_write(p, SDLAB_F64, 2, sh, v);
  char *out = NULL;
  cr_assert_eq(sdlab("tsv %D/a.npy --header x,y", &out, NULL), 0);
  cr_assert_str_eq(out, "#x\ty\n1.5\t-2\n0.10000000000000001\t4\n5\t6\n");
  free(out);
  cr_assert_eq(sdlab("tsv %D/a.npy --transpose --rows 1 --out %D/a.tsv", NULL, NULL), 0);
  char *t = slurp_rel("a.tsv", NULL);
  cr_assert_str_eq(t, "#c0\tc1\tc2\n1.5\t0.10000000000000001\t5\n");
  free(t);
  cr_assert_eq(sdlab("tsv %D/none.npy", NULL, NULL), 1);
}

Test(cli, eval_model_statistics_match_a_direct_computation)
{
  /* W_E = W_D^T = I on data with known zeros: L0 counts positive entries (ReLU), EV = 1 - (negative part
   * energy) / variance */
  double x[8] = {1, -2, 0, 3, -1, -1, 2, 0.5}, eye[4] = {1, 0, 0, 1};
  size_t sx[2] = {4, 2}, se[2] = {2, 2}, sw[2] = {2, 3};
  char p[4200];
  snprintf(p, sizeof p, "%s/x.npy", test_dir);
  sdlab_npy_write(p, SDLAB_F64, 2, sx, x);
  snprintf(p, sizeof p, "%s/I.npy", test_dir);
  sdlab_npy_write(p, SDLAB_F64, 2, se, eye);
  double w[6] = {1, 0, 0, 0, 1, 0};
  snprintf(p, sizeof p, "%s/W.npy", test_dir);
  sdlab_npy_write(p, SDLAB_F64, 2, sw, w);
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("eval --truth %D/W.npy --encoder %D/I.npy --decoder %D/I.npy --data %D/x.npy --activation relu",
                     &out, &err), 0, "%s", err);
  /* positives: 1, 3, 2, 0.5 -> L0 = 4/4 = 1; both latents fire; residual = negatives: 4 + 1 + 1 = 6;
   * column means (0.5, 0.125): variance sum = (0.25+0.25+2.25+2.25) + (4.515625+8.265625+1.265625+0.140625) = 19.1875 */
  double ev = 1 - 6 / 19.1875;
  char expect[128];
  snprintf(expect, sizeof expect, "\"explained_variance\": %.17g", ev);
  cr_assert(strstr(out, "\"L0\": 1,") && strstr(out, "\"dead_fraction\": 0,"), "%s", out);
  cr_assert(strstr(out, expect), "expected %s in %s", expect, out);
  free(out);
  free(err);
  cr_assert_eq(sdlab("eval --truth %D/W.npy --encoder %D/I.npy --data %D/x.npy --activation relu", NULL, &err), 2);
  cr_assert(strstr(err, "needs --decoder"));
  free(err);
  /* L~ with every M_d = 1: features (1, 0), (-1, 0), (0.6, -0.8) through W_E = W_D = I and ReLU lose their
   * negative parts, 0 + 1 + 0.64 */
  double w2[6] = {1, -1, 0.6, 0, 0, -0.8};
  snprintf(p, sizeof p, "%s/W2.npy", test_dir);
  sdlab_npy_write(p, SDLAB_F64, 2, sw, w2);
  cr_assert_eq(sdlab("eval --truth %D/W2.npy --encoder %D/I.npy --decoder %D/I.npy --activation relu", &out, &err), 0,
               "%s", err);
  const char *lt = strstr(out, "\"L_tilde\": ");
  cr_assert_not_null(lt, "%s", out);
  cr_assert(fabs(strtod(lt + 11, NULL) - 1.64) <= 8 * 2.22e-16, "%s", out); /* a few roundings of numbers <= 2 */
  free(out);
}

Test(cli, patterns_counts_and_errors)
{
  cr_assert_eq(sdlab("lrb --features 16 --dim 3 --samples 5 --sparsity 0.9 --interference 0.7 --seed 2 --quiet "
                     "--out %D/b", NULL, NULL), 0);
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("patterns --truth %D/b/W_p.npy --latents 4 --activation relu --out %D/p.tsv", &out, &err), 0,
               "%s", err);
  /* 16 directions in general position in R^3: Cover's 242 dichotomies, plus the dead pattern when no
   * strict half-space holds every direction */
  cr_assert(strstr(out, "\"cover\": 242,") && strstr(out, "\"exact\": true"), "%s", out);
  cr_assert(strstr(out, "\"single\": 242,") || strstr(out, "\"single\": 243,"), "%s", out);
  char *tsv = slurp_rel("p.tsv", NULL);
  cr_assert(tsv && test_lines(tsv) >= 243);
  free(tsv);
  free(out);
  free(err);
  const struct {
    const char *args, *says;
  } cases[] = {
    {"patterns --truth %D/b/W_p.npy --latents 4 --activation batchtopk:2", "batchtopk"},
    {"patterns --truth %D/b/W_p.npy --latents 4 --activation topk:5", "K = 5"},
    {"patterns --truth %D/b/W_p.npy --latents 4 --activation relu --max 10", "limit 10"},
    {"patterns --truth %D/b/W_p.npy --latents 17 --activation topk:2", "16 latents"},
    {"patterns --truth %D/b/W_p.npy --activation relu", "--latents is required"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    int code = sdlab(cases[c].args, &out, &err);
    cr_assert(code == 1 || code == 2, "case %zu exited %d", c, code);
    cr_assert(test_lines(err) == 1 && strstr(err, cases[c].says), "case %zu: %s", c, err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
  }
}

Test(cli, check_writes_its_report)
{
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("check --trials 5 --seed 3 --quiet --report %D/check.md", &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "| claim | tried | held | failed | undecided |") && strstr(out, "Theorem 3.6, step 4 (65)"));
  char *rep = slurp_rel("check.md", NULL);
  cr_assert_str_eq(rep, out);
  free(rep);
  free(out);
  free(err);
  cr_assert_eq(sdlab("check --trials 0", NULL, &err), 2);
  cr_assert(test_lines(err) == 1 && strstr(err, "--trials"));
  free(err);
}

/* Two antipodal features (--interference -1): GLPK's floating-point simplex fails (GLP_EFAIL) on the infeasible
 * pattern whose rows are nearly opposite (found by make fuzz); the exact simplex then decides, and the census
 * completes with every piece certified. */
Test(cli, landscape_on_antipodal_features)
{
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("landscape --features 2 --dim 2 --seed 1 --latents 1 --activation relu --sgd-runs 1 --steps 50 "
                     "--interference -1 --quiet --out %D/l", &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "4 pieces") && strstr(out, "4 certified"), "%s", out);
  free(out);
  free(err);
}

Test(cli, landscape_outputs_and_errors)
{
  char *out = NULL, *err = NULL;
  cr_assert_eq(sdlab("landscape --features 3 --dim 2 --seed 4 --latents 2 --activation relu --sgd-runs 5 --quiet "
                     "--out %D/l", &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "pieces") && strstr(out, "global minimum of L~"), "%s", out);
  cr_assert(exists("l/landscape.json") && exists("l/pieces.tsv") && exists("l/sgd.tsv"));
  char *sgd = slurp_rel("l/sgd.tsv", NULL);
  cr_assert_eq(test_lines(sgd), 6, "a header and five runs");
  free(sgd);
  free(out);
  free(err);
  /* the branch and bound on the pieces the relaxation leaves open: counted in the JSON, never fewer pieces
   * certified than without it, every bracket ordered */
  long certified[2];
  for (int k = 0; k < 2; k++) {
    cr_assert_eq(sdlab(k ? "landscape --features 4 --dim 2 --seed 1 --latents 3 --activation relu --sgd-runs 5 --quiet "
                           "--bnb-nodes 2000 --out %D/b1"
                         : "landscape --features 4 --dim 2 --seed 1 --latents 3 --activation relu --sgd-runs 5 --quiet "
                           "--bnb-nodes 0 --out %D/b0", &out, &err), 0, "%s", err);
    char *json = slurp_rel(k ? "b1/landscape.json" : "b0/landscape.json", NULL);
    const char *at = strstr(json, "\"certified_pieces\": ");
    cr_assert_not_null(at);
    certified[k] = strtol(at + strlen("\"certified_pieces\": "), NULL, 10);
    at = strstr(json, "\"branch_and_bound_pieces\": ");
    cr_assert_not_null(at);
    long run = strtol(at + strlen("\"branch_and_bound_pieces\": "), NULL, 10);
    cr_assert(k ? run > 0 : run == 0, "branch and bound on %ld pieces", run);
    free(json);
    free(out);
    free(err);
  }
  cr_assert(certified[1] >= certified[0], "%ld certified with the branch and bound, %ld without", certified[1], certified[0]);
  char *tsv = slurp_rel("b1/pieces.tsv", NULL);
  size_t rows = 0;
  for (char *line = strchr(tsv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
    const char *f = line + 1;
    for (int c = 0; c < 8; c++) /* rank, piece, F_1..F_3, open, dead, polysemantic: the lower bound is the 9th */
      f = strchr(f, '\t') + 1;
    char *end;
    double lower = strtod(f, &end), upper = strtod(end + 1, NULL);
    cr_assert(lower <= upper, "row %zu: lower %.17g above upper %.17g", rows, lower, upper);
    rows++;
  }
  cr_assert(rows > 100, "%zu pieces", rows);
  free(tsv);
  const struct {
    const char *args, *says;
  } cases[] = {
    {"landscape --latents 2 --activation relu --sgd-runs 5 --out %D/x", "either --truth"},
    {"landscape --features 3 --dim 2 --latents 2 --activation relu --sgd-runs 5 --out %D/x", "go together"},
    {"landscape --features 3 --dim 2 --seed 1 --latents 2 --activation batchtopk:1 --sgd-runs 5 --out %D/x", "batchtopk"},
    {"landscape --features 3 --dim 2 --seed 1 --latents 17 --activation relu --sgd-runs 5 --out %D/x", "16 latents"},
    {"landscape --features 3 --dim 2 --seed 1 --latents 2 --activation relu --sgd-runs 5 --tol 0 --out %D/x", "positive"},
    {"landscape --features 3 --dim 2 --seed 1 --latents 2 --activation relu --sgd-runs 5 --bnb-nodes x --out %D/x",
     "--bnb-nodes"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    int code = sdlab(cases[c].args, NULL, &err);
    cr_assert(code == 1 || code == 2, "case %zu exited %d", c, code);
    cr_assert(test_lines(err) == 1 && strstr(err, cases[c].says), "case %zu: %s", c, err);
    cr_assert(!exists("x"), "case %zu left output", c);
    free(err);
  }
}

#define TRAIN_BENCH "lrb --features 48 --dim 40 --samples 4096 --sparsity 0.96 --interference 0.2 --seed 5 --quiet --out %D/b"

Test(cli, train_writes_every_output_and_saelens_reads_its_layout)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 3 --latents 64 --epochs 2 --batch 256 --anchors 4 --seed 1 "
                     "--threads 1 --quiet --out %D/r", NULL, &err), 0, "%s", err);
  free(err);
  const char *files[] = {"W_E.npy", "W_D.npy", "b_E.npy", "b_D.npy", "anchors.npy", "metrics.json", "curve.tsv",
                         "sae.safetensors", "sae_weights.safetensors", "cfg.json"};
  for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
    char rel[64];
    snprintf(rel, sizeof rel, "r/%s", files[k]);
    cr_assert(exists(rel), "%s missing", files[k]);
  }
  cr_assert(!exists("r.partial") && !exists("r/checkpoint.bin"));
  /* the safetensors header is JSON with SAELens' names, shapes and dtypes */
  char cmd[8192], *out = NULL;
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import json,struct; f=open('%s/r/sae.safetensors','rb'); n=struct.unpack('<Q', "
           "f.read(8))[0]; h=json.loads(f.read(n)); print(h['W_enc']['shape'], h['W_dec']['shape'], h['b_enc']['shape'], "
           "h['b_dec']['shape'], h['W_enc']['dtype'])\"", test_dir);
  cr_assert_eq(test_run(cmd, &out, NULL), 0);
  cr_assert_str_eq(out, "[40, 64] [64, 40] [64] [40] F32\n");
  free(out);
  char *cfg = slurp_rel("r/cfg.json", NULL), *met = slurp_rel("r/metrics.json", NULL);
  cr_assert(strstr(cfg, "\"d_in\": 40") && strstr(cfg, "\"d_sae\": 64") && strstr(cfg, "\"architecture\": \"topk\""));
  cr_assert(strstr(met, "\"M_GT\"") && strstr(met, "\"explained_variance\"") && strstr(met, "\"anchors\": 4"));
  free(cfg);
  free(met);
  /* eval reads the run: W_E is Q x n_p, W_D n_r x Q */
  cr_assert_eq(sdlab("eval --truth %D/b/W_p.npy --encoder %D/r/W_E.npy --decoder %D/r/W_D.npy --exclude %D/r/anchors.npy",
                     &out, NULL), 0);
  cr_assert(strstr(out, "\"excluded\": 4"));
  free(out);
}

/* A gated SAE writes its magnitude parameters and SAELens' gated layout (b_gate, r_mag, b_mag). */
Test(cli, train_gated_writes_saelens_gated_layout)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("train --data %D/b --method gated --l1 0.05 --latents 64 --epochs 2 --batch 256 --seed 1 "
                     "--threads 1 --quiet --out %D/r", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(exists("r/r_mag.npy") && exists("r/b_mag.npy") && !exists("r/theta.npy"));
  char cmd[8192], *out = NULL;
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import json,struct; f=open('%s/r/sae.safetensors','rb'); n=struct.unpack('<Q', "
           "f.read(8))[0]; h=json.loads(f.read(n)); h.pop('__metadata__', None); "
           "print(sorted((k, v['shape'][0]) for k, v in h.items()))\"", test_dir);
  cr_assert_eq(test_run(cmd, &out, NULL), 0);
  cr_assert_str_eq(out, "[('W_dec', 64), ('W_enc', 40), ('b_dec', 40), ('b_gate', 64), ('b_mag', 64), ('r_mag', 64)]\n");
  free(out);
  char *cfg = slurp_rel("r/cfg.json", NULL);
  cr_assert(strstr(cfg, "\"architecture\": \"gated\""));
  free(cfg);
}

/* The run directories a and b hold the same bytes in each of the listed files. */
static void
assert_same_run(const char *a, const char *b)
{
  const char *files[] = {"W_E.npy", "W_D.npy", "curve.tsv", "metrics.json", "sae.safetensors",
                         "sae_weights.safetensors", "cfg.json"};
  for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
    char ra[256], rb[256];
    snprintf(ra, sizeof ra, "%s/%s", a, files[k]);
    snprintf(rb, sizeof rb, "%s/%s", b, files[k]);
    size_t la, lb;
    char *A = slurp_rel(ra, &la), *B = slurp_rel(rb, &lb);
    cr_assert(A && B && la == lb && memcmp(A, B, la) == 0, "%s and %s differ", ra, rb);
    free(A);
    free(B);
  }
}

Test(cli, train_interrupted_or_stopped_resumes_to_the_same_bytes)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  const char *opts = "train --data %D/b --method batchtopk --k 3 --latents 64 --epochs 40 --batch 128 --seed 2 "
                     "--threads 1 --quiet";
  char args[512];
  snprintf(args, sizeof args, "%s --out %%D/a", opts);
  cr_assert_eq(sdlab(args, NULL, NULL), 0);
  snprintf(args, sizeof args, "%s --stop-after 300 --out %%D/s", opts);
  cr_assert_eq(sdlab(args, NULL, NULL), 0);
  cr_assert(exists("s.partial/checkpoint.bin") && !exists("s"));
  cr_assert_eq(sdlab("train --resume %D/s --quiet", NULL, NULL), 0);
  /* a real SIGINT part-way (timeout sends it), then resume */
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "timeout --preserve-status -s INT 0.3 '%s' train --data '%s/b' --method batchtopk --k 3 --latents 64 "
           "--epochs 40 --batch 128 --seed 2 --threads 1 --quiet --out '%s/i'", test_sdlab_bin(), test_dir, test_dir);
  int code = test_run(cmd, NULL, NULL);
  if (code == 130) { /* interrupted: a checkpoint was written */
    cr_assert(exists("i.partial/checkpoint.bin"));
    cr_assert_eq(sdlab("train --resume %D/i --quiet", NULL, NULL), 0);
  } else {
    cr_assert_eq(code, 0, "the run neither finished nor stopped on SIGINT (%d)", code);
  }
  assert_same_run("a", "s");
  assert_same_run("a", "i");
}

/* --method in the other commands' activation spelling is the trainer's method with its option: the same bytes
 * (run.json included, which names the trainer's method), through a stop and a resume too; spellings the trainer
 * cannot honour, or that repeat an option, are usage errors with one line. */
Test(cli, train_takes_the_activation_spelling_of_the_other_commands)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  static const char *const pairs[][2] = {{"topk-relu:3", "topk --k 3"}, {"batchtopk:3", "batchtopk --k 3"},
                                         {"jumprelu:0.05 --l0 0.01", "jumprelu --theta 0.05 --l0 0.01"}};
  for (int k = 0; k < 3; k++) {
    char args[512];
    snprintf(args, sizeof args, "train --data %%D/b --method %s --latents 32 --epochs 3 --batch 128 --quiet "
             "--out %%D/x%d", pairs[k][0], k);
    cr_assert_eq(sdlab(args, NULL, NULL), 0, "%s", args);
    snprintf(args, sizeof args, "train --data %%D/b --method %s --latents 32 --epochs 3 --batch 128 --quiet "
             "--out %%D/y%d", pairs[k][1], k);
    cr_assert_eq(sdlab(args, NULL, NULL), 0, "%s", args);
    char a[32], b[32];
    snprintf(a, sizeof a, "x%d", k);
    snprintf(b, sizeof b, "y%d", k);
    assert_same_run(a, b);
    snprintf(a, sizeof a, "x%d/run.json", k);
    snprintf(b, sizeof b, "y%d/run.json", k);
    size_t la, lb;
    char *A = slurp_rel(a, &la), *B = slurp_rel(b, &lb);
    cr_assert(A && B && la == lb && memcmp(A, B, la) == 0, "%s and %s differ", a, b);
    free(A);
    free(B);
  }
  cr_assert_eq(sdlab("train --data %D/b --method topk-relu:3 --latents 32 --epochs 3 --batch 128 --quiet "
                     "--checkpoint-every 2 --stop-after 3 --out %D/s", NULL, NULL), 0);
  cr_assert_eq(sdlab("train --resume %D/s --quiet", NULL, NULL), 0);
  assert_same_run("y0", "s");
  static const char *const bad[] = {"topk:3", "topk-relu:3 --k 3", "jumprelu:0.1 --theta 0.1", "topk-relu:x",
                                    "relu:2"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char args[512], *err = NULL;
    snprintf(args, sizeof args, "train --data %%D/b --method %s --latents 32 --quiet --out %%D/bad", bad[k]);
    cr_assert_eq(sdlab(args, NULL, &err), 2, "%s", args);
    cr_assert(err && test_lines(err) == 1 && strstr(err, "sdlab train: error: --method"), "%s: %s", args, err);
    free(err);
  }
}

Test(cli, train_rejects_bad_input)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  double nanv[4] = {1, NAN, 2, 3};
  size_t sh[2] = {2, 2};
  char p[4200];
  snprintf(p, sizeof p, "%s/nan.npy", test_dir);
  sdlab_npy_write(p, SDLAB_F64, 2, sh, nanv);
  /* exit 2: the command line is wrong, including values out of range or options the method does not read; 1: the
   * data or the machine */
  const struct {
    const char *args, *says;
    int code;
  } cases[] = {
    {"train --data %D/b --method ista --latents 64 --out %D/x", "unknown method", 2},
    {"train --data %D/b --method gated --l1 -1 --latents 64 --out %D/x", "L1", 2},
    {"train --data %D/b --method topk --k 64 --latents 64 --out %D/x", "k must satisfy", 2},
    {"train --data %D/b --method relu --l1 -0.1 --latents 64 --out %D/x", "L1", 2},
    {"train --data %D/nan.npy --method topk --k 1 --latents 4 --batch 1 --out %D/x", "non-finite", 1},
    /* the data's size is at fault (a resumed run meets it with no --batch on its command line): exit 1 */
    {"train --data %D/b --method topk --k 3 --latents 64 --batch 100000 --out %D/x", "fewer than the batch", 1},
    {"train --data %D/b --method topk --k 3 --latents 64 --out %D/b", "already exists", 1},
    {"train --data %D/none --method topk --k 3 --latents 64 --out %D/x", "does not exist", 1},
    {"train --data %D/b --method matryoshka --latents 64 --out %D/x", "matryoshka", 2},
    {"train --data %D/b --method topk --k 3 --latents 64 --anchors 100 --out %D/x", "exceeds", 2},
    {"train --resume %D/nothing", "no checkpoint", 1},
    {"train --data %D/b --method relu --k 4 --latents 64 --out %D/x", "--k does not apply to --method relu", 2},
    {"train --data %D/b --method topk --k 3 --l1 0.1 --latents 64 --out %D/x", "--l1 does not apply", 2},
    {"train --data %D/b --method topk --k 3 --theta 0.1 --latents 64 --out %D/x", "--theta does not apply", 2},
    {"train --data %D/b --method topk --k 3 --latents 64 --top x --out %D/x", "--top needs", 2},
    {"train --data %D/b --method topk --k 3 --latents 64 --anchors x --out %D/x", "--anchors needs", 2},
    {"train --data %D/b --method topk --k 3 --latents 64 --lr -1 --out %D/x", "optimiser", 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char *err = NULL;
    int code = sdlab(cases[c].args, NULL, &err);
    cr_assert_eq(code, cases[c].code, "case %zu exited %d: %s", c, code, err);
    cr_assert(test_lines(err) == 1 && strstr(err, cases[c].says), "case %zu: %s", c, err);
    cr_assert(!exists("x") && !exists("x.partial"), "case %zu left output", c);
    free(err);
  }
}

/* Issue 22, exit codes: a value out of range or one that does not apply is a usage error (exit 2) in every
 * command, whether the command line or a library check finds it; a bad data file exits 1. */
Test(cli, values_out_of_range_exit_2_in_every_command)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  cr_assert_eq(sdlab("construct thm33 --truth %D/b/W_p.npy --latents 6 --activation relu --out %D/c", NULL, NULL), 0);
  const struct {
    const char *args, *says;
    int code;
  } cases[] = {
    {"eval --truth %D/b/W_p.npy --encoder %D/c/W_E.npy --decoder %D/c/W_D.npy --activation frob", "unknown activation", 2},
    {"eval --truth %D/b/W_p.npy --encoder %D/c/W_E.npy --decoder %D/c/W_D.npy --activation topk:7", "n_q = 6", 2},
    {"eval --truth %D/b/meta.json --encoder %D/c/W_E.npy", "meta.json", 1},
    {"patterns --truth %D/b/W_p.npy --latents 2 --activation topk:3 --out %D/x", "n_q = 2", 2},
    {"patterns --truth %D/b/W_p.npy --latents 2 --activation softmax --out %D/x", "unknown activation", 2},
    {"landscape --truth %D/b --latents 20 --activation relu --sgd-runs 1 --out %D/x", "1 to 16 latents", 2},
    {"landscape --truth %D/b --latents 2 --activation topk:x --sgd-runs 1 --out %D/x", "positive integer", 2},
    {"construct thm33 --truth %D/b/W_p.npy --latents 2 --activation relu --out %D/x", "n_q >= n", 2},
    {"construct thm33 --truth %D/b/W_p.npy --latents 6 --activation jumprelu:-1 --out %D/x", "jumprelu", 2},
    {"construct thm33 --truth %D/b/meta.json --latents 6 --activation relu --out %D/x", "meta.json", 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char *out = NULL, *err = NULL;
    int code = sdlab(cases[c].args, &out, &err);
    cr_expect_eq(code, cases[c].code, "case %zu exited %d: %s", c, code, err);
    cr_expect(test_lines(err) == 1 && strstr(err, ": error: ") && strstr(err, cases[c].says), "case %zu: %s", c, err);
    cr_expect_str_eq(out, "", "case %zu printed a partial answer", c);
    cr_expect(!exists("x"), "case %zu left output", c);
    free(out);
    free(err);
  }
  assert_entries(2);
}

/* On a bench with low interference a TopK SAE recovers the ground truth: every decoder column matches a
 * feature (M_GT at tau = 0.9), across seeds.  (The paper's metric reads the encoder rows; with k at or above
 * the true L0 their components away from the feature are barely constrained, see README.) */
Test(cli, topk_sae_recovers_the_bench_across_seeds, .timeout = 120)
{
  for (int seed = 1; seed <= 3; seed++) {
    char args[512];
    snprintf(args, sizeof args, "lrb --features 120 --dim 96 --samples 65536 --sparsity 0.99 --interference 0.1 "
             "--seed %d --quiet --force --out %%D/b", seed);
    cr_assert_eq(sdlab(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train --data %%D/b --method topk --k 2 --latents 240 --epochs 10 --batch 256 --lr 1e-3 "
             "--seed %d --threads 1 --quiet --force --out %%D/r", seed);
    cr_assert_eq(sdlab(args, NULL, NULL), 0);
    char *out = NULL;
    cr_assert_eq(sdlab("eval --truth %D/b/W_p.npy --encoder %D/r/W_E.npy --decoder %D/r/W_D.npy --tau 0.9", &out, NULL),
                 0);
    const char *dec = strstr(out, "\"decoder\"");
    cr_assert_not_null(dec);
    double mgt = strtod(strstr(dec, "\"M_GT\": ") + 8, NULL);
    cr_assert(mgt >= 0.9, "seed %d: decoder M_GT(0.9) = %g", seed, mgt);
    free(out);
  }
}

/* BatchTopK keeps k B codes per batch in training; at inference its threshold (a moving average of each
 * batch's smallest kept code) must keep about k per sample on the training data.  A factor of two either
 * way is far outside the batch-to-batch spread of that smallest value at these sizes, and catches a
 * threshold stuck at an old scale (a plain mean over the run kept 2.2 of k = 8 on Table 1's quick bench). */
Test(cli, batchtopk_inference_threshold_keeps_about_k)
{
  cr_assert_eq(sdlab("lrb --features 120 --dim 96 --samples 16384 --sparsity 0.99 --interference 0.1 --seed 2 "
                     "--quiet --out %D/b", NULL, NULL), 0);
  cr_assert_eq(sdlab("train --data %D/b --method batchtopk --k 4 --latents 240 --epochs 4 --batch 256 --seed 2 "
                     "--threads 1 --quiet --out %D/r", NULL, NULL), 0);
  char path[4200];
  snprintf(path, sizeof path, "%s/r/metrics.json", test_dir);
  size_t len;
  char *m = test_slurp(path, &len);
  cr_assert_not_null(m);
  const char *f = strstr(m, "\"final\"");
  cr_assert_not_null(f);
  double l0 = strtod(strstr(f, "\"L0\": ") + 6, NULL);
  cr_assert(l0 >= 2 && l0 <= 8, "inference L0 %g for k = 4", l0);
  free(m);
}

/* --top K lists each latent's K most activating rows: recomputed here with NumPy in float64 from the written
 * parameters (TopK then ReLU of W_E (x - b_D) + b_E), each listed row's activation equals its listed value and
 * the values are the K largest of that latent, to float32 rounding of a 40-term dot product. */
Test(cli, train_top_rows_match_a_numpy_recomputation)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 3 --latents 64 --epochs 2 --batch 256 --biases --seed 1 "
                     "--threads 1 --quiet --top 5 --out %D/r", NULL, &err), 0, "%s", err);
  free(err);
  char cmd[8192], *out = NULL;
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"\n"
           "import numpy as np\n"
           "d='%s'; X=np.load(d+'/b/x_p.npy').astype(np.float64); E=np.load(d+'/r/W_E.npy').astype(np.float64)\n"
           "bE=np.load(d+'/r/b_E.npy').astype(np.float64); bD=np.load(d+'/r/b_D.npy').astype(np.float64)\n"
           "T=np.load(d+'/r/top.npy'); V=np.load(d+'/r/top_values.npy').astype(np.float64)\n"
           "Z=(X-bD)@E.T+bE; A=np.zeros_like(Z); idx=np.argsort(-Z,axis=1,kind='stable')[:,:3]\n"
           "r=np.arange(len(Z))[:,None]; A[r,idx]=np.maximum(Z[r,idx],0)\n"
           "tol=1e-4*(1+np.abs(Z).max()); bad=0\n"
           "for i in range(E.shape[0]):\n"
           "  col=A[:,i]; best=np.sort(col[col>0])[::-1][:5]\n"
           "  n=len(best); bad+=int((T[i,:n]<0).any() or (T[i,n:]>=0).any())\n"
           "  bad+=int(np.abs(V[i,:n]-best).max(initial=0)>tol)\n"
           "  bad+=int(np.abs(A[T[i,:n],i]-V[i,:n]).max(initial=0)>tol)\n"
           "print(bad)\"", test_dir);
  cr_assert_eq(test_run(cmd, &out, &err), 0, "%s", err);
  cr_assert_str_eq(out, "0\n");
  free(out);
  free(err);
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 3 --latents 64 --top 0 --out %D/x", NULL, &err), 2);
  cr_assert(strstr(err, "--top needs"));
  free(err);
}

/* --converge: the run ends after the first epoch whose mean loss improved by less than the tolerance on the
 * previous one, both after the warm-up, which python recomputes from metrics.json's epochs (every earlier such
 * epoch improved by at least it);
 * each epoch reports the decoder columns' recovery beside the encoder rows'; and a run stopped part-way and
 * resumed ends at the same epoch with the same bytes. */
Test(cli, train_converge_stops_by_its_rule_and_resumes_to_the_same_bytes)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  const char *opts = "train --data %D/b --method topk --k 3 --latents 64 --converge 0.02 --epochs 60 --batch 128 "
                     "--seed 3 --threads 1 --quiet";
  char args[512];
  snprintf(args, sizeof args, "%s --out %%D/c", opts);
  cr_assert_eq(sdlab(args, NULL, NULL), 0);
  char cmd[8192], *out = NULL;
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import json; m=json.load(open('%s/c/metrics.json')); e=[x['loss'] for x in m['epochs']]; "
           "s=m['steps_per_epoch']; imp=[(e[i-1]-e[i])/e[i-1] for i in range(1,len(e)) if (i-1)*s>=m['warmup']]; "
           "ok=m['converged'] and m['epochs_run']==len(e)<60 and imp[-1]<0.02 and all(v>=0.02 for v in imp[:-1]); "
           "ok=ok and all('M_GT' in x['decoder'] and 0<=x['decoder']['M_IP']<=1 for x in m['epochs']); "
           "ok=ok and m['steps']==len(e)*(4096//128); print('ok' if ok else ('bad', imp, m['epochs_run']))\"",
           test_dir);
  cr_assert_eq(test_run(cmd, &out, NULL), 0);
  cr_assert_str_eq(out, "ok\n");
  free(out);
  snprintf(args, sizeof args, "%s --stop-after 100 --out %%D/s", opts);
  cr_assert_eq(sdlab(args, NULL, NULL), 0);
  cr_assert_eq(sdlab("train --resume %D/s --quiet", NULL, NULL), 0);
  assert_same_run("c", "s");
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 3 --latents 64 --converge 1.5 --out %D/x", NULL, NULL), 2);
}

/* Issue 22: resuming from a checkpoint. */
#define RESUME_OPTS "train --data %D/b --method topk --k 3 --latents 32 --epochs 4 --batch 128 --seed 2 --threads 1 --quiet"

/* Change one byte of a file in the test directory (offset from the start, or from the end when negative). */
static void
flip_byte(const char *rel, long offset)
{
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", test_dir, rel);
  FILE *fp = fopen(p, "r+b");
  cr_assert(fp, "cannot open %s", p);
  cr_assert_eq(fseek(fp, offset, offset < 0 ? SEEK_END : SEEK_SET), 0);
  int c = fgetc(fp);
  cr_assert_neq(c, EOF);
  cr_assert_eq(fseek(fp, -1, SEEK_CUR), 0);
  fputc(c ^ 0x10, fp);
  fclose(fp);
}


/* A checkpoint with one flipped byte (in the header, the body or the checksum) is refused with one line and
 * exit 1, never resumed; so are a truncated one and one of the earlier format without checksum. */
Test(cli, train_resume_refuses_a_damaged_checkpoint)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  cr_assert_eq(sdlab(RESUME_OPTS " --stop-after 40 --out %D/s", NULL, NULL), 0);
  size_t len;
  char *ck = slurp_rel("s.partial/checkpoint.bin", &len);
  cr_assert(ck && len > 1000);
  char path[4200];
  snprintf(path, sizeof path, "%s/s.partial/checkpoint.bin", test_dir);
  const struct {
    long offset;
    const char *says;
  } flips[] = {{(long)len / 2, "checksum"}, {(long)len - 300, "checksum"}, {-1, "checksum"}, {40, "checksum"},
               {8, "format"}, {0, "not an sdlab checkpoint"}};
  for (size_t c = 0; c < sizeof flips / sizeof *flips; c++) {
    FILE *fp = fopen(path, "wb");
    fwrite(ck, 1, len, fp);
    fclose(fp);
    flip_byte("s.partial/checkpoint.bin", flips[c].offset);
    char *err = NULL;
    int code = sdlab("train --resume %D/s --quiet", NULL, &err);
    cr_assert_eq(code, 1, "flip %zu: exit %d (%s)", c, code, err);
    cr_assert(test_lines(err) == 1 && strncmp(err, "sdlab train: error: ", 20) == 0 && strstr(err, flips[c].says),
              "flip %zu: %s", c, err);
    cr_assert(!exists("s"), "flip %zu: a run was published", c);
    free(err);
  }
  /* truncated, and the earlier format (magic SDLABCK1) */
  FILE *fp = fopen(path, "wb");
  fwrite(ck, 1, len - 100, fp);
  fclose(fp);
  char *err = NULL;
  cr_assert_eq(sdlab("train --resume %D/s --quiet", NULL, &err), 1);
  cr_assert(test_lines(err) == 1 && strstr(err, "checksum"), "%s", err);
  free(err);
  fp = fopen(path, "wb");
  fwrite("SDLABCK1", 1, 8, fp);
  fwrite(ck + 12, 1, len - 12, fp);
  fclose(fp);
  cr_assert_eq(sdlab("train --resume %D/s --quiet", NULL, &err), 1);
  cr_assert(test_lines(err) == 1 && strstr(err, "format 1") && strstr(err, "--force"), "%s", err);
  free(err);
  /* the intact checkpoint still resumes */
  fp = fopen(path, "wb");
  fwrite(ck, 1, len, fp);
  fclose(fp);
  cr_assert_eq(sdlab("train --resume %D/s --quiet", NULL, &err), 0, "%s", err);
  free(err);
  free(ck);
}

/* The data a checkpoint was made from is replaced: by a smaller bench (more steps done than the new data has:
 * the curve and epoch counts would overflow their buffers), or by other values of the same shape.  Refused,
 * naming the file and saying why; no crash (also under the sanitizers). */
Test(cli, train_resume_refuses_other_data)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  cr_assert_eq(sdlab(RESUME_OPTS " --stop-after 100 --out %D/s", NULL, NULL), 0);
  cr_assert(exists("s.partial/checkpoint.bin"));
  /* 4096 -> 512 samples: 4 epochs of 4 steps, fewer than the 100 the checkpoint holds */
  cr_assert_eq(sdlab("lrb --features 48 --dim 40 --samples 512 --sparsity 0.96 --interference 0.2 --seed 5 --quiet "
                     "--force --out %D/b", NULL, NULL), 0);
  char *err = NULL;
  int code = sdlab("train --resume %D/s --quiet", NULL, &err);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  cr_assert(test_lines(err) == 1 && strstr(err, "x_p.npy") && strstr(err, "4096") && strstr(err, "512"), "%s", err);
  free(err);
  /* same shape, other values */
  cr_assert_eq(sdlab("lrb --features 48 --dim 40 --samples 4096 --sparsity 0.96 --interference 0.2 --seed 6 --quiet "
                     "--force --out %D/b", NULL, NULL), 0);
  code = sdlab("train --resume %D/s --quiet", NULL, &err);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  cr_assert(test_lines(err) == 1 && strstr(err, "x_p.npy") && strstr(err, "different values"), "%s", err);
  free(err);
  cr_assert(!exists("s") && exists("s.partial/checkpoint.bin"));
}

/* Leftovers of killed runs (issue 22): RUN.partial without a checkpoint blocks a rerun only until --force;
 * --force starts over even over a checkpoint; --resume completes over outputs a killed output step left
 * (a stale sae_weights.safetensors link, a half-written temporary file).  Each gives the uninterrupted bytes. */
Test(cli, train_force_and_resume_recover_from_leftovers)
{
  cr_assert_eq(sdlab(TRAIN_BENCH, NULL, NULL), 0);
  cr_assert_eq(sdlab(RESUME_OPTS " --out %D/a", NULL, NULL), 0);
  char cmd[8400], *err = NULL;
  /* killed before its first checkpoint: RUN.partial with a stray output */
  snprintf(cmd, sizeof cmd, "mkdir '%s/n.partial' && echo x > '%s/n.partial/W_E.npy.tmp.Ab12Cd'", test_dir, test_dir);
  cr_assert_eq(test_run(cmd, NULL, NULL), 0);
  cr_assert_eq(sdlab(RESUME_OPTS " --out %D/n", NULL, &err), 1);
  cr_assert(test_lines(err) == 1 && strstr(err, "n.partial") && strstr(err, "--force"), "%s", err);
  free(err);
  cr_assert_eq(sdlab(RESUME_OPTS " --force --out %D/n", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(!exists("n.partial") && !exists("n/W_E.npy.tmp.Ab12Cd"));
  assert_same_run("a", "n");
  /* --force over a checkpoint: starts over */
  cr_assert_eq(sdlab(RESUME_OPTS " --stop-after 50 --out %D/f", NULL, NULL), 0);
  cr_assert(exists("f.partial/checkpoint.bin"));
  cr_assert_eq(sdlab(RESUME_OPTS " --force --out %D/f", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(!exists("f.partial"));
  assert_same_run("a", "f");
  /* killed while writing its outputs: the checkpoint, some outputs, the link, a temporary file */
  cr_assert_eq(sdlab(RESUME_OPTS " --stop-after 50 --out %D/k", NULL, NULL), 0);
  snprintf(cmd, sizeof cmd, "cd '%s/k.partial' && echo stale > sae.safetensors && ln sae.safetensors "
           "sae_weights.safetensors && echo half > W_D.npy.tmp.Xy34Zw && cp ../a/W_E.npy W_E.npy", test_dir);
  cr_assert_eq(test_run(cmd, NULL, NULL), 0);
  cr_assert_eq(sdlab("train --resume %D/k --quiet", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(!exists("k.partial") && !exists("k/W_D.npy.tmp.Xy34Zw") && !exists("k/checkpoint.bin"));
  assert_same_run("a", "k");
}

/* Issue 22 (3a): an n_q whose matrices do not fit in memory is refused with one line, exit 1, no output.
 * Under AddressSanitizer (make check) a memory limit stops the sanitizer itself from starting, so there its
 * allocator is told to serve at most 1000 MB and to return NULL beyond, as malloc does under the limit; it
 * warns of each refusal in its log, so the child logs to the test directory, and the test reads that log:
 * the warnings and nothing else (no leak, no error). */
Test(cli, construct_out_of_memory_is_an_error_not_a_crash)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  char cmd[8400], *err = NULL;
#if defined(__SANITIZE_ADDRESS__)
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=\"$ASAN_OPTIONS:allocator_may_return_null=1:max_allocation_size_mb=1000:"
           "log_path=%s/san\" '%s' construct thm33 --truth '%s/b/W_p.npy' --latents 2000000000 --activation relu "
           "--out '%s/c'", test_dir, test_sdlab_bin(), test_dir, test_dir);
#else
  snprintf(cmd, sizeof cmd, "sh -c \"ulimit -v 1000000; exec '%s' construct thm33 --truth '%s/b/W_p.npy' --latents "
           "2000000000 --activation relu --out '%s/c'\"", test_sdlab_bin(), test_dir, test_dir);
#endif
  int code = test_run(cmd, NULL, &err);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  cr_assert(test_lines(err) == 1 && strncmp(err, "sdlab construct: error: ", 24) == 0 && strstr(err, "out of memory"),
            "%s", err);
  cr_assert(!exists("c"));
  free(err);
#if defined(__SANITIZE_ADDRESS__)
  char *log = NULL;
  snprintf(cmd, sizeof cmd, "cat '%s'/san.* 2>/dev/null; rm -f '%s'/san.*", test_dir, test_dir);
  test_run(cmd, &log, NULL);
  cr_assert(log && !strstr(log, "ERROR") && !strstr(log, "leak"), "the sanitizer reported: %s", log);
  free(log);
#endif
  assert_entries(1);
}

/* Issue 22 (3b): finite entries too large for GLPK's arithmetic (they aborted it, exit 134) are refused before
 * it sees them, naming the file and the value; the landscape leaves no staging directory. */
Test(cli, patterns_and_landscape_refuse_entries_beyond_the_lp_limit)
{
  cr_assert_eq(sdlab("lrb --features 6 --dim 4 --samples 5 --sparsity 0.9 --interference 0.4 --seed 3 --quiet "
                     "--out %D/b", NULL, NULL), 0);
  char p[4200];
  snprintf(p, sizeof p, "%s/b/W_p.npy", test_dir);
  gsl_matrix *W = NULL;
  cr_assert_eq(sdlab_npy_load_matrix(p, "W_p", &W), 0);
  gsl_matrix_set(W, 0, 0, 1e200);
  cr_assert_eq(sdlab_npy_write_matrix(p, W, SDLAB_F64), 0);
  gsl_matrix_free(W);
  const char *cmds[] = {"patterns --truth %D/b/W_p.npy --latents 2 --activation relu",
                        "patterns --truth %D/b/W_p.npy --latents 2 --activation jumprelu:0.5",
                        "patterns --truth %D/b/W_p.npy --latents 2 --activation topk:1",
                        "landscape --truth %D/b --latents 2 --activation relu --sgd-runs 1 --quiet --out %D/land",
                        "landscape --truth %D/b --latents 2 --activation topk-relu:1 --sgd-runs 1 --quiet --out %D/land"};
  for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++) {
    char *out = NULL, *err = NULL;
    int code = sdlab(cmds[c], &out, &err);
    cr_assert_eq(code, 1, "case %zu: exit %d: %s", c, code, err);
    cr_assert(test_lines(err) == 1 && strstr(err, "b/W_p.npy") && strstr(err, "1e+200"), "case %zu: %s", c, err);
    cr_assert_str_eq(out, "");
    assert_entries(1); /* only the bench: no land, no land.partial-PID */
    free(out);
    free(err);
  }
}

/* Issue 22 (3d): an empty 1-D array prints the header line alone (an empty data set for gnuplot), exit 0. */
Test(cli, tsv_of_an_empty_vector_is_the_header_alone)
{
  double none[1] = {0};
  size_t sh[1] = {0};
  char p[4200];
  snprintf(p, sizeof p, "%s/e.npy", test_dir);
  cr_assert_eq(sdlab_npy_write(p, SDLAB_F64, 1, sh, none), 0);
  char *out = NULL;
  cr_assert_eq(sdlab("tsv %D/e.npy", &out, NULL), 0);
  cr_assert_str_eq(out, "#c0\n");
  free(out);
  cr_assert_eq(sdlab("tsv %D/e.npy --transpose --header loss", &out, NULL), 0);
  cr_assert_str_eq(out, "#loss\n");
  free(out);
}

/* Issue 22, silent acceptance: a scale whose draws leave float64's range (or float32's, for float32 samples), a
 * sparsity at which every sample is zero, and a cosine threshold outside [0, 1] are refused with one line naming
 * the value, and nothing is written; the same scale is accepted for float64 samples, and a threshold outside
 * [0, 1] for raw inner products. */
Test(cli, lrb_and_eval_refuse_values_they_cannot_honour)
{
  const char *base = "lrb --features 10 --dim 8 --samples 10 --interference 0.5 --seed 1";
  const char *bad[] = {"--sparsity 0.9 --beta 1e308", "--sparsity 0.9 --beta 1e37", "--sparsity 1"};
  const char *word[] = {"--beta 1e+308", "--beta 1e+37", "--sparsity"};
  for (size_t k = 0; k < 3; k++) {
    char args[512], *err = NULL;
    snprintf(args, sizeof args, "%s %s --out %%D/b%zu", base, bad[k], k);
    cr_assert_neq(sdlab(args, NULL, &err), 0, "%s accepted", bad[k]);
    cr_assert(err && strstr(err, word[k]) && strchr(err, '\n') == err + strlen(err) - 1, "%s: %s", bad[k], err);
    free(err);
    char rel[16];
    snprintf(rel, sizeof rel, "b%zu", k);
    cr_assert(!exists(rel));
  }
  cr_assert_eq(sdlab("lrb --features 8 --dim 8 --samples 10 --interference 0.5 --seed 1 --sparsity 0.9 --beta 1e37 "
                     "--dtype f64 --quiet --out %D/f", NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("eval --truth %D/f/W_p.npy --encoder %D/f/W_p.npy --tau 1.5", NULL, &err), 2);
  cr_assert(err && strstr(err, "--tau 1.5"), "%s", err);
  free(err);
  /* W_p (8 x 8) read as an encoder of 8 latents: raw inner products take any threshold */
  cr_assert_eq(sdlab("eval --truth %D/f/W_p.npy --encoder %D/f/W_p.npy --tau -0.5 --raw", NULL, NULL), 0);
}

/* Issue 22, partial outputs: eval's --out and --sweep are written as one, so a sweep that cannot be written (its
 * directory does not exist) leaves no --out file either, with one error line naming the sweep's path. */
Test(cli, eval_out_and_sweep_are_both_written_or_neither)
{
  cr_assert_eq(sdlab("lrb --features 8 --dim 8 --samples 10 --interference 0.5 --seed 1 --sparsity 0.9 --quiet "
                     "--out %D/f", NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("eval --truth %D/f/W_p.npy --encoder %D/f/W_p.npy --out %D/e.json --sweep %D/no/such/s.tsv",
                     NULL, &err), 1);
  cr_assert(err && strstr(err, "no/such/s.tsv") && test_lines(err) == 1, "%s", err);
  free(err);
  cr_assert(!exists("e.json"), "--out was written although --sweep failed");
  assert_entries(1); /* the bench alone: no temporary file left */
  cr_assert_eq(sdlab("eval --truth %D/f/W_p.npy --encoder %D/f/W_p.npy --out %D/e.json --sweep %D/s.tsv", NULL, NULL), 0);
  cr_assert(exists("e.json") && exists("s.tsv"));
}

/* Issue 22, partial outputs: absorption's rates and JSON (and the construction's encoder) are written as one. */
Test(cli, absorption_outputs_are_all_written_or_none)
{
  cr_assert_eq(sdlab("lrb --features 10 --dim 12 --samples 300 --sparsity 0.9 --interference 0.05 --cmin 1 --beta 0.5 "
                     "--hierarchy 2:3 --seed 3 --quiet --out %D/h", NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("absorption --bench %D/h --hierarchy 2:3 --construct --repair --encoder-out %D/we.npy "
                     "--out %D/a.json --rates %D/no/such/r.tsv", NULL, &err), 1);
  cr_assert(err && strstr(err, "no/such/r.tsv") && test_lines(err) == 1, "%s", err);
  free(err);
  cr_assert(!exists("a.json") && !exists("we.npy"), "an output was left although the rates failed");
  assert_entries(1);
  cr_assert_eq(sdlab("absorption --bench %D/h --hierarchy 2:3 --construct --repair --encoder-out %D/we.npy "
                     "--out %D/a.json --rates %D/r.tsv", NULL, NULL), 0);
  cr_assert(exists("a.json") && exists("we.npy") && exists("r.tsv"));
}

/* A process id that no process can have: above the kernel's pid_max. */
static long
dead_pid(void)
{
  long max = 0;
  FILE *fp = fopen("/proc/sys/kernel/pid_max", "r");
  cr_assert(fp && fscanf(fp, "%ld", &max) == 1 && max > 0, "cannot read /proc/sys/kernel/pid_max");
  fclose(fp);
  return max + 1;
}

static void
make_dir_rel(const char *rel, int with_file)
{
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", test_dir, rel);
  cr_assert_eq(mkdir(p, 0777), 0, "mkdir %s", p);
  if (with_file) {
    snprintf(p, sizeof p, "%s/%s/x.npy", test_dir, rel);
    FILE *fp = fopen(p, "w");
    cr_assert(fp && fputs("left by a killed run", fp) >= 0 && fclose(fp) == 0);
  }
}

/* Issue 22, stray outputs: DIR.partial-PID and DIR.old-PID left by killed processes are removed when a command
 * next makes DIR (lrb, construct, landscape, mlp through sdlab_io_outdir_begin; train for RUN.old-PID); those of a
 * live process (this test's) are kept. */
Test(cli, leftovers_of_dead_processes_are_removed)
{
  char dead_part[64], dead_old[64], live[64], run_old[64];
  snprintf(dead_part, sizeof dead_part, "b.partial-%ld", dead_pid());
  snprintf(dead_old, sizeof dead_old, "b.old-%ld", dead_pid());
  snprintf(live, sizeof live, "b.partial-%ld", (long)getpid());
  snprintf(run_old, sizeof run_old, "r.old-%ld", dead_pid());
  make_dir_rel(dead_part, 1);
  make_dir_rel(dead_old, 1);
  make_dir_rel(live, 0);
  make_dir_rel(run_old, 1);
  char *err = NULL;
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(!exists(dead_part) && !exists(dead_old), "a dead process's staging or old output was left");
  cr_assert(exists(live), "a live process's staging directory was removed");
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 2 --latents 4 --batch 10 --seed 1 --quiet --out %D/r", NULL,
                     &err), 0, "%s", err);
  free(err);
  cr_assert(!exists(run_old), "a dead process's RUN.old-PID was left");
  assert_entries(3); /* b, r and the live staging directory */
}

/* Issue 22, stray outputs: FILE.tmp-PID.XXXXXX, a file a killed process was writing (found by make fuzz: a kill
 * between mkstemp and rename left it forever), is removed when FILE is next written; a live process's is kept. */
Test(cli, temporary_files_of_dead_processes_are_removed)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  char dead[64], live[64], other[64], cmd[8400];
  snprintf(dead, sizeof dead, "t.tsv.tmp-%ld.Ab12Cd", dead_pid());
  snprintf(live, sizeof live, "t.tsv.tmp-%ld.Ef34Gh", (long)getpid());
  snprintf(other, sizeof other, "u.tsv.tmp-%ld.Ij56Kl", dead_pid());
  snprintf(cmd, sizeof cmd, "cd '%s' && echo half > %s && echo half > %s && echo half > %s", test_dir, dead, live,
           other);
  cr_assert_eq(test_run(cmd, NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("tsv %D/b/W_p.npy --out %D/t.tsv", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(exists("t.tsv") && !exists(dead), "a dead process's temporary file was left");
  cr_assert(exists(live), "a live process's temporary file was removed");
  cr_assert(exists(other), "another file's temporary file was removed");
  assert_entries(4); /* b, t.tsv, the live one, the other file's */
}

/* Issue 22, stray outputs: --force replaces a regular file as well as a directory, and leaves no FILE.old-PID. */
Test(cli, force_over_a_regular_file_leaves_nothing_behind)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "echo not a run > '%s/f' && echo not a bench > '%s/g'", test_dir, test_dir);
  cr_assert_eq(test_run(cmd, NULL, NULL), 0);
  char *err = NULL;
  cr_assert_eq(sdlab("train --data %D/b --method topk --k 2 --latents 4 --batch 10 --seed 1 --quiet --force --out %D/f",
                     NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(exists("f/W_E.npy"), "the run did not replace the file");
  assert_entries(3); /* b, f and g: no f.old-PID */
  cr_assert_eq(sdlab(LRB_OK " --force --out %D/g", NULL, &err), 0, "%s", err);
  free(err);
  cr_assert(exists("g/x_p.npy"), "the bench did not replace the file");
  assert_entries(3); /* b, f and g: no g.old-PID or staging either */
}

/* Issue 22, silent acceptance: an input that is not a regular file (a FIFO would block the open forever, a
 * directory is no data) is refused at once with one line naming it, exit 1.  timeout bounds a regression. */
Test(cli, inputs_that_are_not_regular_files_are_refused)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  char cmd[8400], fifo[4200];
  snprintf(fifo, sizeof fifo, "%s/f.npy", test_dir);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  const char *args[] = {"tsv %s", "eval --truth %s --encoder %s", "train --data %s --method relu --latents 4 --out %s.run",
                        "eval --truth %s/b --encoder %s/b/W_p.npy"};
  const char *path[] = {fifo, fifo, fifo, test_dir};
  const char *kind[] = {"a FIFO", "a FIFO", "a FIFO", "a directory"};
  for (size_t c = 0; c < 4; c++) {
    char a[4400], *err = NULL;
    snprintf(a, sizeof a, args[c], path[c], path[c]);
    snprintf(cmd, sizeof cmd, "timeout 5 '%s' %s", test_sdlab_bin(), a);
    int code = test_run(cmd, NULL, &err);
    cr_expect_eq(code, 1, "case %zu exited %d: %s", c, code, err);
    cr_expect(test_lines(err) == 1 && strstr(err, path[c]) && strstr(err, "not a regular file") && strstr(err, kind[c]),
              "case %zu: %s", c, err);
    free(err);
  }
  assert_entries(2); /* b and the FIFO */
}

/* Issue 22, resource checks: train estimates the disk its outputs need (W_E and W_D twice, the curve, 64 KiB of
 * files' slack) and refuses before allocating or writing anything when the filesystem has less: here a 256 KiB
 * tmpfs (root only; skipped otherwise) and 4,000 latents on 4 dimensions (W_E and W_D: 32,000 floats, at
 * least 8 x 32,000 bytes with the safetensors copy). */
Test(cli, train_refuses_outputs_larger_than_the_free_space)
{
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  char cmd[8400], *err = NULL;
  snprintf(cmd, sizeof cmd, "mkdir '%s/disk' && mount -t tmpfs -o size=262144 tmpfs '%s/disk'", test_dir, test_dir);
  if (test_run(cmd, NULL, NULL) != 0)
    cr_skip_test("no tmpfs to fill (not root)");
  int code = sdlab("train --data %D/b --method topk --k 2 --latents 4000 --batch 10 --seed 1 --quiet --out %D/disk/r",
                   NULL, &err);
  snprintf(cmd, sizeof cmd, "ls -A '%s/disk' | wc -l; umount '%s/disk'", test_dir, test_dir);
  char *left = NULL;
  cr_assert_eq(test_run(cmd, &left, NULL), 0);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  const char *need = err ? strstr(err, " needs ") : NULL;
  cr_assert(test_lines(err) == 1 && need && strstr(err, "free; nothing was written"), "%s", err);
  cr_expect(strtod(need + 7, NULL) >= 8.0 * 2 * 4 * 4000, "%s", err);
  cr_assert_str_eq(left, "0\n", "the refused run left files on the disk");
  free(left);
  free(err);
}

/* Issue 20: activations saved per token, [N, seq, d], are refused with the reshape that would work, by train and
 * by eval (one line, exit 1). */
Test(cli, a_3d_activation_array_gets_the_reshape_that_works)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/acts.npy", test_dir);
  float x[4 * 5 * 6];
  for (size_t i = 0; i < 120; i++)
    x[i] = (float)i;
  const size_t shape[3] = {4, 5, 6};
  cr_assert_eq(sdlab_npy_write(path, SDLAB_F32, 3, shape, x), 0);
  static const char *cmds[] = {"train --data %D/acts.npy --method topk --k 2 --latents 8 --out %D/r",
                               "eval --truth %D/acts.npy --encoder %D/acts.npy"};
  for (int c = 0; c < 2; c++) {
    char *err = NULL;
    int code = sdlab(cmds[c], NULL, &err);
    cr_expect_eq(code, 1, "%s: exit %d: %s", cmds[c], code, err);
    cr_expect(test_lines(err) == 1 && strstr(err, "4 x 5 x 6") && strstr(err, "a.reshape(-1, 6)"), "%s", err);
    free(err);
  }
}

/* Issue 22, resource checks: a trainer larger than the machine's memory (10^9 latents: about 1.6 10^11 bytes) is
 * refused before anything is allocated, with the bytes it needs (an address-space limit keeps a regression from
 * reaching the OOM killer). */
Test(cli, train_refuses_a_trainer_larger_than_the_memory)
{
  if (getenv("ASAN_OPTIONS")) /* the sanitizer build reserves terabytes of address space: no limit can guard it */
    cr_skip_test("under AddressSanitizer (make check runs it again on the plain build)");
  cr_assert_eq(sdlab(LRB_OK " --out %D/b", NULL, NULL), 0);
  char cmd[8400], *err = NULL;
  snprintf(cmd, sizeof cmd, "sh -c \"ulimit -S -v 4000000 2>/dev/null; exec '%s' train --data '%s/b' --method topk --k 2 --latents "
           "1000000000 --batch 10 --quiet --out '%s/r'\"", test_sdlab_bin(), test_dir, test_dir);
  int code = test_run(cmd, NULL, &err);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  const char *need = err ? strstr(err, " needs about ") : NULL;
  cr_assert(test_lines(err) == 1 && need && strstr(err, "bytes of memory but this machine has"), "%s", err);
  cr_expect(strtod(need + 13, NULL) >= 4.0 * 5 * 1e9 * 8, "%s", err); /* five float arrays of q (p + r) */
  assert_entries(1); /* b: nothing of the run */
  free(err);
}

/* Issue 22, resource checks: mlp extract states the disk its activations need and refuses before computing
 * them when the filesystem has less (a 256 KiB tmpfs, root only; a tiny Fashion-MNIST of 32 + 16 images). */
Test(cli, mlp_extract_refuses_outputs_larger_than_the_free_space)
{
  char cmd[8400], *err = NULL;
  snprintf(cmd, sizeof cmd, "cd '%s' && mkdir fm && python3 -c \"import struct, random\n"
           "g = random.Random(7)\n"
           "for split, n in (('train', 32), ('t10k', 16)):\n"
           "    open('fm/%%s-images-idx3-ubyte' %% split, 'wb').write(struct.pack('>BBBBIII', 0, 0, 8, 3, n, 28, 28) + "
           "bytes(g.randrange(256) for _ in range(n * 784)))\n"
           "    open('fm/%%s-labels-idx1-ubyte' %% split, 'wb').write(struct.pack('>BBBBI', 0, 0, 8, 1, n) + "
           "bytes(g.randrange(10) for _ in range(n)))\n\"", test_dir);
  cr_assert_eq(test_run(cmd, NULL, &err), 0, "%s", err);
  free(err);
  cr_assert_eq(sdlab("mlp train --data %D/fm --hidden 64,32 --epochs 1 --batch 16 --quiet --out %D/m", NULL, &err), 0,
               "%s", err);
  free(err);
  snprintf(cmd, sizeof cmd, "mkdir '%s/disk' && mount -t tmpfs -o size=262144 tmpfs '%s/disk'", test_dir, test_dir);
  if (test_run(cmd, NULL, NULL) != 0)
    cr_skip_test("no tmpfs to fill (not root)");
  int code = sdlab("mlp extract --model %D/m --data %D/fm --quiet --out %D/disk/x", NULL, &err);
  snprintf(cmd, sizeof cmd, "ls -A '%s/disk' | wc -l; umount '%s/disk'", test_dir, test_dir);
  char *left = NULL;
  cr_assert_eq(test_run(cmd, &left, NULL), 0);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  cr_assert(test_lines(err) == 1 && strstr(err, " needs ") && strstr(err, "free; nothing was written"), "%s", err);
  cr_assert_str_eq(left, "0\n", "the refused extraction left files on the disk");
  free(left);
  free(err);
}

/* Issue 22, resource checks: lrb states the bytes its outputs need and refuses, before writing anything, when
 * the filesystem has fewer free (here 10^15 samples: at least 4 10^16 bytes).  The file-size limit keeps a
 * regression from filling the disk. */
Test(cli, lrb_refuses_outputs_larger_than_the_free_space)
{
  char cmd[8400], *err = NULL;
  snprintf(cmd, sizeof cmd, "sh -c \"ulimit -f 20000; exec timeout 20 '%s' lrb --features 6 --dim 4 --samples "
           "1000000000000000 --sparsity 0.9 --interference 0.4 --seed 3 --quiet --out '%s/b'\"", test_sdlab_bin(),
           test_dir);
  int code = test_run(cmd, NULL, &err);
  cr_assert_eq(code, 1, "exit %d: %s", code, err);
  const char *need = err ? strstr(err, " needs ") : NULL;
  cr_assert(test_lines(err) == 1 && need && strstr(err, "bytes") && strstr(err, "free"), "%s", err);
  /* x and x_p alone are K (n + n_p) float32 values; W_p, the headers and meta.json add less than 8 KiB */
  const double samples = 1e15 * (6 + 4) * 4;
  const double bytes = strtod(need + 7, NULL);
  cr_expect(bytes >= samples && bytes < samples + 8192, "need %.17g bytes, samples alone %.17g", bytes, samples);
  assert_entries(0);
  free(err);
}
