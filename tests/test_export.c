/* sdlab export (issue 20): every method and target in every layout, read back by tests/interop/read_export.py,
 * a reader written from the safetensors specification and the SAELens, sparsify and dictionary_learning
 * loaders' documented semantics, which recomputes the codes those libraries would produce from the exported
 * tensors and compares them with sdlab's own codes.npy.  The models a layout cannot express are refused with
 * exit 2 and one line; the reader is shown to fail on damaged exports. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "sdlab_errno.h"
#include "sdlab_npy.h"
#include "sdlab_sae.h"

TestSuite(export, .init = test_dir_setup, .fini = test_dir_teardown, .timeout = 240);


static const char *const METHODS[] = {"relu", "jumprelu", "topk", "batchtopk", "matryoshka", "topk-auxk", "gated"};
static const char *const ARGS[] = {"--l1 0.01", "--theta 0.05 --l0 0.001", "--k 3", "--k 3", "--ks 2,3 --lambdas 1,1",
                                   "--k 3", "--l1 0.01"};
static const char *const FORMATS[] = {"saelens", "saelens-compat", "sparsify", "dictionary-learning"};

/* Whether a layout expresses a method on a target (0 SAE, 1 transcoder of width 6 from 8, 2 transcoder of equal
 * widths, 3 crosscoder), as each library's classes allow */
static int
expressible(int target, int method, int format)
{
  const int topk = method == 2 || method == 4 || method == 5;
  if (target == 3)
    return 0;
  switch (format) {
  case 0: /* SAELens 6: every SAE; transcoders ReLU, JumpReLU (and BatchTopK as JumpReLU) */
    return target == 0 || method == 0 || method == 1 || method == 3;
  case 1: /* SAELens 5.x and 6.x: SAEs */
    return target == 0;
  case 2: /* sparsify: TopK of ReLU; transcoders of equal widths */
    return topk && target != 1;
  default: /* dictionary_learning: SAEs */
    return target == 0;
  }
}

static void
benches(void)
{
  static const char *const opts[] = {"", "--target transcoder --target-dim 6", "--target transcoder",
                                     "--target crosscoder"};
  static const char *const name[] = {"sae", "tc6", "tc8", "cc"};
  for (int b = 0; b < 4; b++) { /* two stacked sources need a looser interference bound */
    char cmd[512];
    char *err = NULL;
    snprintf(cmd, sizeof cmd, "'%%S' lrb --features 12 --dim 8 --samples 512 --sparsity 0.8 --interference %s %s "
             "--seed 1 --quiet --out '%%D/%s'", b == 3 ? "0.3" : "0.1", opts[b], name[b]);
    cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
    free(err);
  }
}

Test(export, every_method_and_target_in_every_layout_reads_back_independently)
{
  benches();
  static const char *const name[] = {"sae", "tc6", "tc8", "cc"};
  int accepted = 0, refused = 0;
  for (int b = 0; b < 4; b++)
    for (int m = 0; m < 7; m++) {
      if (b == 3 && m != 2)
        continue; /* a crosscoder is refused whatever its method: one suffices */
      char cmd[1024];
      char *err = NULL;
      snprintf(cmd, sizeof cmd, "'%%S' train --data '%%D/%s' --method %s %s --latents 16 --epochs 3 --batch 64 --biases "
               "--codes --quiet --out '%%D/%s-%s'", name[b], METHODS[m], ARGS[m], name[b], METHODS[m]);
      cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
      free(err);
      for (int f = 0; f < 4; f++) {
        snprintf(cmd, sizeof cmd, "'%%S' export '%%D/%s-%s' --format %s --out '%%D/%s-%s-%s'", name[b], METHODS[m],
                 FORMATS[f], name[b], METHODS[m], FORMATS[f]);
        err = NULL;
        const int st = test_run_expanded(cmd, &err);
        if (!expressible(b, m, f)) {
          cr_assert_eq(st, 2, "%s: exit %d, expected a refusal (2): %s", cmd, st, err);
          cr_assert(err && test_lines(err) == 1 && strstr(err, "sdlab export: error: "), "%s: %s", cmd, err);
          free(err);
          refused++;
          continue;
        }
        cr_assert_eq(st, 0, "%s: %s", cmd, err);
        free(err);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/interop/read_export.py %s '%%D/%s-%s-%s' '%%D/%s/x_p.npy' "
                 "'%%D/%s-%s/codes.npy'", FORMATS[f], name[b], METHODS[m], FORMATS[f], name[b], name[b], METHODS[m]);
        err = NULL;
        cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
        free(err);
        if (b == 0) { /* read back by sdlab eval --sae: the run's own scores to the byte */
          snprintf(cmd, sizeof cmd, "cd '%%D' && '%%S' eval --truth sae/W_p.npy --sae %s-%s-%s | grep -v sae_layout > a.json "
                   "&& '%%S' eval --truth sae/W_p.npy --encoder %s-%s/W_E.npy --decoder %s-%s/W_D.npy > b.json && "
                   "cmp a.json b.json", name[b], METHODS[m], FORMATS[f], name[b], METHODS[m], name[b], METHODS[m]);
          err = NULL;
          cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
          free(err);
        }
        accepted++;
      }
      if (b == 0 || (b == 1 && m == 0)) { /* bfloat16 tensors: within bf16's rounding of sdlab's codes */
        const int f = m == 2 ? 2 : 0;
        snprintf(cmd, sizeof cmd, "'%%S' export '%%D/%s-%s' --format %s --dtype bfloat16 --out '%%D/%s-%s-bf16' && "
                 "/usr/bin/python3 tests/interop/read_export.py %s '%%D/%s-%s-bf16' '%%D/%s/x_p.npy' "
                 "'%%D/%s-%s/codes.npy'", name[b], METHODS[m], FORMATS[f], name[b], METHODS[m], FORMATS[f], name[b],
                 METHODS[m], name[b], name[b], METHODS[m]);
        err = NULL;
        cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
        free(err);
      }
    }
  /* SAEs: 7 + 7 + 3 + 7; transcoders 8 -> 6: 3 (SAELens); 8 -> 8: 3 (SAELens) + 3 (sparsify) */
  cr_assert(accepted == 33 && refused == 55, "%d accepted, %d refused", accepted, refused);
}

/* The reader must fail where a library would load something else: a weight changed beyond the rounding bound,
 * a tensor renamed (a strict load), a different k, no sae_lens_version (SAELens' pre-6 conversion), a
 * transcoder flag that drops the b_dec subtraction, the dictionary_learning k out of step with its config. */
Test(export, the_independent_reader_fails_on_damaged_exports)
{
  benches();
  char *err = NULL;
  cr_assert_eq(test_run_expanded("'%S' train --data '%D/sae' --method topk --k 3 --latents 16 --epochs 3 --batch 64 --biases --codes "
                   "--quiet --out '%D/r' && '%S' export '%D/r' --format saelens --out '%D/s' && "
                   "'%S' export '%D/r' --format sparsify --out '%D/p' && "
                   "'%S' export '%D/r' --format dictionary-learning --out '%D/l'", &err), 0, "%s", err);
  free(err);
  /* a helper that rewrites a safetensors file: python3 - FILE OLD NEW [SCALE] renames tensor OLD to NEW, or scales
   * W's first element by SCALE */
  static const char *py =
    "import json,struct,sys\n"
    "f,old,new=sys.argv[1:4]; b=open(f,'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); d=b[8+n:]\n"
    "if len(sys.argv)>4:\n"
    "  o=h[old]['data_offsets'][0]; v=struct.unpack('<f',d[o:o+4])[0]*float(sys.argv[4])+float(sys.argv[4])\n"
    "  d=d[:o]+struct.pack('<f',v)+d[o+4:]\n"
    "else:\n"
    "  h[new]=h.pop(old)\n"
    "t=json.dumps(h).encode(); t+=b' '*(-len(t)%8); open(f,'wb').write(struct.pack('<Q',len(t))+t+d)\n";
  char path[4200];
  snprintf(path, sizeof path, "%s/edit.py", test_dir);
  FILE *fp = fopen(path, "w");
  cr_assert_not_null(fp);
  fputs(py, fp);
  fclose(fp);
  const char *reader = "/usr/bin/python3 tests/interop/read_export.py";
  struct {
    const char *edit, *format, *dir, *why;
  } cases[] = {
    {"/usr/bin/python3 '%D/edit.py' '%D/s2/sae_weights.safetensors' W_enc x 40", "saelens", "s2", "a weight"},
    {"/usr/bin/python3 '%D/edit.py' '%D/s2/sae_weights.safetensors' b_enc b_encoder", "saelens", "s2", "a name"},
    {"sed -i 's/\"k\": 3/\"k\": 4/' '%D/s2/cfg.json'", "saelens", "s2", "k"},
    {"sed -i '/sae_lens_version/d' '%D/s2/cfg.json'", "saelens", "s2", "the version"},
    {"sed -i 's/\"transcode\": false/\"transcode\": true/' '%D/s2/cfg.json'", "sparsify", "s2", "transcode"},
    {"sed -i 's/\"k\": 3/\"k\": 2/' '%D/s2/config.json'", "dictionary-learning", "s2", "trainer.k"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    const char *src = strcmp(cases[c].format, "saelens") == 0 ? "s" : strcmp(cases[c].format, "sparsify") == 0 ? "p" : "l";
    char cmd[4096], edit[1024];
    snprintf(edit, sizeof edit, "%s", cases[c].edit);
    snprintf(cmd, sizeof cmd, "rm -rf '%%D/s2' && cp -r '%%D/%s' '%%D/s2' && %s && %s %s '%%D/s2' '%%D/sae/x_p.npy' "
             "'%%D/r/codes.npy'", src, edit, reader, cases[c].format);
    err = NULL;
    const int st = test_run_expanded(cmd, &err);
    cr_assert_eq(st, 1, "the reader accepted a damaged export (%s): exit %d: %s", cases[c].why, st, err);
    cr_assert(err && strstr(err, "read_export: "), "%s", err);
    free(err);
  }
  /* and accepts the undamaged copies */
  err = NULL;
  cr_assert_eq(test_run_expanded("rm -rf '%D/s2' && cp -r '%D/s' '%D/s2' && /usr/bin/python3 tests/interop/read_export.py saelens "
                   "'%D/s2' '%D/sae/x_p.npy' '%D/r/codes.npy'", &err), 0, "%s", err);
  free(err);
}

Test(export, command_line_errors)
{
  benches();
  char *err = NULL;
  cr_assert_eq(test_run_expanded("'%S' train --data '%D/sae' --method topk --k 3 --latents 16 --epochs 1 --batch 64 --quiet "
                   "--out '%D/r'", &err), 0, "%s", err);
  free(err);
  struct {
    const char *args;
    int status;
    const char *says;
  } cases[] = {
    {"export '%D/r' --out '%D/o'", 2, "--format"},
    {"export '%D/r' --format safetensors --out '%D/o'", 2, "--format safetensors"},
    {"export '%D/r' --format saelens --out '%D/o' --dtype float16", 2, "--dtype float16"},
    {"export '%D/r' --format sparsify --out '%D/o' --hook-name-out h", 2, "--hook-name-out"},
    {"export '%D/r' --format saelens --out '%D/o' --hook-layer -1", 2, "--hook-layer"},
    {"export '%D/nothing' --format saelens --out '%D/o'", 1, "nothing is not a directory"},
    {"export '%D/sae' --format saelens --out '%D/o'", 1, "no run.json"},
    {"export '%D/r' --format saelens --out '%D/sae'", 1, "already exists"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%%S' %s", cases[c].args);
    err = NULL;
    const int st = test_run_expanded(cmd, &err);
    cr_assert_eq(st, cases[c].status, "%s: exit %d: %s", cases[c].args, st, err);
    cr_assert(err && test_lines(err) == 1 && strstr(err, cases[c].says), "%s: %s", cases[c].args, err);
    free(err);
  }
  cr_assert_eq(test_run_expanded("test ! -e '%D/o'", NULL), 0, "a refused export left its output");
}

/* train --init DIR starts from a trained model: from an sdlab run or from any of its exports (SAELens, sparsify,
 * dictionary_learning), the same bytes; sizes that do not fit are refused naming --init, leaving nothing. */
Test(export, train_init_from_a_run_or_its_exports_gives_the_same_bytes)
{
  benches();
  char *err = NULL;
  cr_assert_eq(test_run_expanded("'%S' train --data '%D/sae' --method topk --k 3 --latents 16 --epochs 4 --batch 64 "
                                 "--quiet --out '%D/a' && '%S' export '%D/a' --format saelens --out '%D/a-s' "
                                 "&& '%S' export '%D/a' --format sparsify --out '%D/a-p' && '%S' export '%D/a' "
                                 "--format dictionary-learning --out '%D/a-l'", &err), 0, "%s", err);
  free(err);
  static const char *const src[] = {"a", "a-s", "a-p", "a-l"};
  for (int k = 0; k < 4; k++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%%S' train --data '%%D/sae' --method topk --k 3 --latents 16 --epochs 1 --batch 64 "
             "--quiet --init '%%D/%s' --out '%%D/b-%s'", src[k], src[k]);
    err = NULL;
    cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
    free(err);
    if (k > 0) {
      snprintf(cmd, sizeof cmd, "cmp '%%D/b-a/W_E.npy' '%%D/b-%s/W_E.npy' && cmp '%%D/b-a/W_D.npy' '%%D/b-%s/W_D.npy' && "
               "cmp '%%D/b-a/metrics.json' '%%D/b-%s/metrics.json'", src[k], src[k], src[k]);
      cr_assert_eq(test_run_expanded(cmd, NULL), 0, "--init from %s differs from --init from the run", src[k]);
    }
  }
  /* the init is the trained model: with a negligible learning rate (8 steps of Adam at 1e-9, each moving a
   * weight by at most about 1e-9) the weights stay the trained run's within that and their float32 rounding */
  cr_assert_eq(test_run_expanded("'%S' train --data '%D/sae' --method topk --k 3 --latents 16 --epochs 1 --batch 64 "
                                 "--lr 1e-9 --quiet --init '%D/a-s' --out '%D/d' && /usr/bin/python3 -c \"import numpy as n\n"
                                 "for m in ('W_E', 'W_D'):\n"
                                 "  a = n.load('%D/a/' + m + '.npy').astype(float); b = n.load('%D/d/' + m + '.npy')\n"
                                 "  assert abs(a - b).max() <= 8 * 10 * 1e-9 + 4 * 2.0 ** -24 * abs(a).max(), m\"", NULL),
               0, "a run from --init starts at the trained weights");
  err = NULL;
  cr_assert_eq(test_run_expanded("'%S' train --data '%D/sae' --method topk --k 3 --latents 12 --epochs 1 --batch 64 "
                                 "--quiet --init '%D/a-s' --out '%D/bad'", &err), 1);
  cr_assert(err && test_lines(err) == 1 && strstr(err, "--init") && strstr(err, "--latents 12"), "%s", err);
  free(err);
  cr_assert_eq(test_run_expanded("test ! -e '%D/bad' && test ! -e '%D/bad.partial'", NULL), 0, "a refused --init left "
               "its output");
}

/* sdlab absorption --sae DIR reads every layout's dictionary and computes its codes as that library does: the
 * codes sdlab_sae_encode gives on the bench's inputs pass the independent reader (which recomputes them from the
 * library's documented inference and the exported tensors) against the export itself, and the absorption report
 * is the one the run's own codes and decoder give, line for line.  Directories a library could not load, or whose
 * codes sdlab does not compute, are refused with one line naming what is missing. */
Test(export, absorption_reads_every_layout_and_computes_its_codes_as_its_library)
{
  char *err = NULL;
  cr_assert_eq(test_run_expanded("'%S' lrb --features 12 --dim 8 --samples 2000 --sparsity 0.8 --interference 0.1 "
                                 "--hierarchy 2:3 --seed 1 --quiet --out '%D/h'", &err), 0, "%s", err);
  free(err);
  size_t N = 0, p = 0;
  float *X = NULL;
  char path[1024];
  snprintf(path, sizeof path, "%s/h/x_p.npy", test_dir);
  cr_assert_eq(sdlab_npy_load_floats(path, "x_p", &X, &N, &p), 0);
  int checked = 0;
  for (int m = 0; m < 7; m++) {
    if (m == 5)
      continue; /* topk-auxk infers as topk */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%%S' train --data '%%D/h' --method %s %s --latents 16 --epochs 3 --batch 64 --biases "
             "--codes --quiet --out '%%D/h-%s' && '%%S' absorption --bench '%%D/h' --codes '%%D/h-%s/codes.npy' "
             "--decoder '%%D/h-%s/W_D.npy' | grep -v '\"source\"' > '%%D/ref-%s.json'", METHODS[m], ARGS[m], METHODS[m],
             METHODS[m], METHODS[m], METHODS[m]);
    err = NULL;
    cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
    free(err);
    for (int f = 0; f < 4; f++) {
      if (!expressible(0, m, f))
        continue;
      snprintf(cmd, sizeof cmd, "'%%S' export '%%D/h-%s' --format %s --out '%%D/e-%s-%s' && '%%S' absorption --bench "
               "'%%D/h' --sae '%%D/e-%s-%s' | grep -v '\"source\"\\|\"sae_' > '%%D/got.json' && cmp '%%D/got.json' "
               "'%%D/ref-%s.json'", METHODS[m], FORMATS[f], METHODS[m], FORMATS[f], METHODS[m], FORMATS[f], METHODS[m]);
      err = NULL;
      cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
      free(err);
      snprintf(path, sizeof path, "%s/e-%s-%s", test_dir, METHODS[m], FORMATS[f]);
      sdlab_sae *s = NULL;
      cr_assert_eq(sdlab_sae_load(path, 1, &s), 0, "%s: %s", path, sdlab_error_message(1));
      cr_assert_eq(s->p, p);
      float *A = malloc(N * s->q * sizeof *A);
      cr_assert_eq(sdlab_sae_encode(s, X, N, A, 2), 0);
      snprintf(path, sizeof path, "%s/c.npy", test_dir);
      const size_t shape[2] = {N, s->q};
      cr_assert_eq(sdlab_npy_write(path, SDLAB_F32, 2, shape, A), 0);
      sdlab_sae_free(s);
      free(A);
      snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/interop/read_export.py %s '%%D/e-%s-%s' '%%D/h/x_p.npy' "
               "'%%D/c.npy'", FORMATS[f], METHODS[m], FORMATS[f]);
      err = NULL;
      cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
      free(err);
      /* eval --sae --data: the dictionary's own inference gives the run's L0 and dead fraction, and its explained
       * variance within the two float32 reconstructions' rounding (envelopes gamma_{p+8} of the codes' sums,
       * exp's and the subtractions' ulps included, carried through W_D, plus gamma_{q+2} of the decoder's sums) */
      snprintf(cmd, sizeof cmd, "'%%S' eval --truth '%%D/h/W_p.npy' --sae '%%D/e-%s-%s' --data '%%D/h/x_p.npy' > "
               "'%%D/ev.json' && /usr/bin/python3 -c \"import json, numpy as n\n"
               "R = '%%D/h-%s/'; g = lambda k: k * 2.0 ** -24 / (1 - k * 2.0 ** -24)\n"
               "e = json.load(open('%%D/ev.json'))['model']; f = json.load(open(R + 'metrics.json'))['final']\n"
               "assert f['evaluated_rows'] == e['samples'] and f['L0'] == e['L0'] and "
               "f['dead_fraction'] == e['dead_fraction'], (f, e)\n"
               "x = n.load('%%D/h/x_p.npy').astype(float); WE = n.abs(n.load(R + 'W_E.npy')); "
               "WD = n.load(R + 'W_D.npy').astype(float); bD = n.load(R + 'b_D.npy').astype(float)\n"
               "a = n.load(R + 'codes.npy').astype(float); p, q = x.shape[1], a.shape[1]\n"
               "S = n.abs(x - bD) @ WE.T + n.abs(n.load(R + 'b_E.npy'))\n"
               "if '%s' == 'gated': S = n.exp(n.load(R + 'r_mag.npy')) * 2 * S + n.abs(n.load(R + 'b_mag.npy'))\n"
               "env = g(q + 2) * (n.abs(a) @ n.abs(WD).T + n.abs(bD)) + g(p + 8) * S @ n.abs(WD).T\n"
               "E = n.abs(x - (a @ WD.T + bD)); sst = ((x - x.mean(0)) ** 2).sum()\n"
               "tol = (2 * E * 2 * env + (2 * env) ** 2).sum() / sst + 1e-12\n"
               "assert abs(f['explained_variance'] - e['explained_variance']) <= tol, (f, e, tol)\"", METHODS[m],
               FORMATS[f], METHODS[m], METHODS[m]);
      err = NULL;
      cr_assert_eq(test_run_expanded(cmd, &err), 0, "%s: %s", cmd, err);
      free(err);
      checked++;
    }
  }
  free(X);
  cr_assert_eq(checked, 20, "%d exports checked", checked); /* relu, jumprelu, batchtopk, gated 3 each; topk, matryoshka 4 */
  static const struct {
    const char *setup, *args;
    int status;
    const char *says;
  } cases[] = {
    {"", "--sae '%D/e-topk-saelens' --codes '%D/h-topk/codes.npy'", 2, "exactly one of"},
    {"", "--sae '%D/h'", 1, "holds no SAE weights"},
    {"cp -r '%D/e-topk-saelens' '%D/x1' && rm '%D/x1/cfg.json'", "--sae '%D/x1'", 1, "no cfg.json"},
    {"cp -r '%D/e-topk-saelens' '%D/x2' && sed -i 's/\"architecture\": \"topk\"/\"architecture\": \"matryoshka\"/' "
     "'%D/x2/cfg.json'", "--sae '%D/x2'", 1, "architecture 'matryoshka'"},
    {"cp -r '%D/e-relu-saelens' '%D/x3' && sed -i 's/\"normalize_activations\": \"none\"/\"normalize_activations\": "
     "\"expected_average_only_in\"/' '%D/x3/cfg.json'", "--sae '%D/x3'", 1, "normalize_activations"},
    {"cp -r '%D/e-topk-dictionary-learning' '%D/x4' && sed -i 's/\"AutoEncoderTopK\"/\"CrossCoder\"/' "
     "'%D/x4/config.json'", "--sae '%D/x4'", 1, "dict_class 'CrossCoder'"}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char cmd[1024];
    if (cases[c].setup[0])
      cr_assert_eq(test_run_expanded(cases[c].setup, NULL), 0, "%s", cases[c].setup);
    snprintf(cmd, sizeof cmd, "'%%S' absorption --bench '%%D/h' %s", cases[c].args);
    err = NULL;
    const int st = test_run_expanded(cmd, &err);
    cr_assert_eq(st, cases[c].status, "%s: exit %d: %s", cases[c].args, st, err);
    cr_assert(err && test_lines(err) == 1 && strstr(err, cases[c].says), "%s: %s", cases[c].args, err);
    free(err);
  }
}
