#define _POSIX_C_SOURCE 200809L
#include "sdlab_export.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_npy.h"
#include "sdlab_safetensors.h"
#include "sdlab_train.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* the SAELens release whose loader the layouts were written against (its cfg.json's sae_lens_version: 6.x
 * configurations skip SAELens' pre-6 conversion) */
#define SAELENS_VERSION "6.18.0"

enum { T_SAE, T_TRANSCODER, T_CROSSCODER };

/* a run read back */
typedef struct {
  sdlab_train_method method; /* the trainer's (sdlab_train.h) */
  int target, biases, unit_decoder;
  size_t p, r, q, k;
  double threshold;
  float *WE;             /* q x p */
  float *WD;             /* r x q */
  float *WEt, *WDt;      /* p x q, q x r */
  float *bE, *bD, *theta, *rmag, *bmag, *thr;
} run_t;

static void
run_free(run_t *m)
{
  free(m->WE), free(m->WD), free(m->WEt), free(m->WDt);
  free(m->bE), free(m->bD), free(m->theta), free(m->rmag), free(m->bmag), free(m->thr);
}

int
sdlab_export_format_parse(const char *name, sdlab_export_format *f)
{
  static const char *const names[] = {"saelens", "saelens-compat", "sparsify", "dictionary-learning"};
  for (int k = 0; k < 4; k++)
    if (strcmp(name, names[k]) == 0) {
      *f = (sdlab_export_format)k;
      return SDLAB_SUCCESS;
    }
  return sdlab_fail(SDLAB_EUSAGE, "--format %s: one of saelens, saelens-compat, sparsify, dictionary-learning",
                    name);
}

/* a 1-D float array of n values from run/name */
static int
load_vector(const char *run, const char *name, size_t n, float **out)
{
  char *path = sdlab_io_path_join(run, name);
  int status = path ? sdlab_npy_load_vector(path, name, n, out) : sdlab_fail(GSL_ENOMEM, "out of memory");
  free(path);
  return status;
}

/* a rows x cols float matrix from run/name */
static int
load_matrix(const char *run, const char *name, size_t rows, size_t cols, float **out)
{
  char *path = sdlab_io_path_join(run, name);
  size_t r, c;
  int status = path ? sdlab_npy_load_floats(path, name, out, &r, &c) : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status && (r != rows || c != cols)) {
    status = sdlab_fail(SDLAB_EBADFILE, "%s is %zu x %zu; run.json says %zu x %zu", path, r, c, rows, cols);
    free(*out);
    *out = NULL;
  }
  free(path);
  return status;
}

/* an integer member of run.json, >= 1 */
static int
record_size(json_t *rec, const char *path, const char *key, size_t *out)
{
  json_t *v = sdlab_json_at(rec, key);
  if (!json_is_integer(v) || json_integer_value(v) < 1)
    return sdlab_fail(SDLAB_EBADFILE, "%s: \"%s\" is not a positive integer", path, key);
  *out = (size_t)json_integer_value(v);
  return SDLAB_SUCCESS;
}

static int
record_bool(json_t *rec, const char *path, const char *key, int *out)
{
  json_t *v = sdlab_json_at(rec, key);
  if (!json_is_boolean(v))
    return sdlab_fail(SDLAB_EBADFILE, "%s: \"%s\" is not true or false", path, key);
  *out = json_is_true(v);
  return SDLAB_SUCCESS;
}

/* run.json and the arrays of the run in `dir` */
static int
run_load(const char *dir, run_t *m)
{
  memset(m, 0, sizeof *m);
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return sdlab_fail(SDLAB_EIO, "RUN %s is not a directory", dir);
  char *path = sdlab_io_path_join(dir, "run.json");
  json_t *rec = NULL;
  int status = path ? sdlab_json_load(path, &rec) : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (status == SDLAB_EIO)
    status = sdlab_fail(SDLAB_EBADFILE, "%s has no run.json: not a run of sdlab train (or one older than the "
                        "record, to retrain)", dir);
  json_t *v = rec ? sdlab_json_at(rec, "format") : NULL;
  if (!status && (!json_is_string(v) || strcmp(json_string_value(v), "sdlab run") != 0))
    status = sdlab_fail(SDLAB_EBADFILE, "%s: not an sdlab run record (\"format\")", path);
  v = rec ? sdlab_json_at(rec, "method") : NULL;
  if (!status && (!json_is_string(v) || sdlab_train_method_parse(json_string_value(v), &m->method)))
    status = sdlab_fail(SDLAB_EBADFILE, "%s: unknown \"method\"", path);
  v = rec ? sdlab_json_at(rec, "target") : NULL;
  m->target = -1;
  if (!status && json_is_string(v))
    m->target = strcmp(json_string_value(v), "sae") == 0 ? T_SAE
                : strcmp(json_string_value(v), "transcoder") == 0 ? T_TRANSCODER
                : strcmp(json_string_value(v), "crosscoder") == 0 ? T_CROSSCODER : -1;
  if (!status && m->target < 0)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: \"target\" is not sae, transcoder or crosscoder", path);
  if (!status)
    status = record_size(rec, path, "d_in", &m->p);
  if (!status)
    status = record_size(rec, path, "d_out", &m->r);
  if (!status)
    status = record_size(rec, path, "latents", &m->q);
  const sdlab_activation_kind act = sdlab_train_method_activation(m->method);
  const int topk_family = act == SDLAB_ACT_TOPK_RELU || act == SDLAB_ACT_BATCHTOPK;
  if (!status && topk_family)
    status = record_size(rec, path, "k", &m->k);
  if (!status && m->method == SDLAB_TRAIN_BATCHTOPK) {
    v = sdlab_json_at(rec, "threshold");
    if (!json_is_number(v))
      status = sdlab_fail(SDLAB_EBADFILE, "%s: BatchTopK's \"threshold\" is missing", path);
    else
      m->threshold = json_number_value(v);
  }
  if (!status)
    status = record_bool(rec, path, "biases", &m->biases);
  if (!status)
    status = record_bool(rec, path, "unit_decoder", &m->unit_decoder);
  if (!status && m->target == T_SAE && m->p != m->r)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: an SAE with d_in %zu and d_out %zu", path, m->p, m->r);
  json_decref(rec);
  free(path);
  /* the arrays, checked against the record */
  if (!status)
    status = load_matrix(dir, "W_E.npy", m->q, m->p, &m->WE);
  if (!status)
    status = load_matrix(dir, "W_D.npy", m->r, m->q, &m->WD);
  if (!status)
    status = load_vector(dir, "b_E.npy", m->q, &m->bE);
  if (!status)
    status = load_vector(dir, "b_D.npy", m->r, &m->bD);
  if (!status && m->method == SDLAB_TRAIN_JUMPRELU)
    status = load_vector(dir, "theta.npy", m->q, &m->theta);
  if (!status && m->method == SDLAB_TRAIN_GATED)
    status = load_vector(dir, "r_mag.npy", m->q, &m->rmag);
  if (!status && m->method == SDLAB_TRAIN_GATED)
    status = load_vector(dir, "b_mag.npy", m->q, &m->bmag);
  /* the transposes the layouts store */
  if (!status && (!(m->WEt = malloc(m->p * m->q * sizeof(float))) || !(m->WDt = malloc(m->q * m->r * sizeof(float))) ||
                  !(m->thr = malloc(m->q * sizeof(float)))))
    status = sdlab_fail(GSL_ENOMEM, "out of memory for the exported tensors");
  for (size_t i = 0; !status && i < m->q; i++) {
    for (size_t a = 0; a < m->p; a++)
      m->WEt[a * m->q + i] = m->WE[i * m->p + a];
    for (size_t a = 0; a < m->r; a++)
      m->WDt[i * m->r + a] = m->WD[a * m->q + i];
    m->thr[i] = m->method == SDLAB_TRAIN_JUMPRELU ? m->theta[i] : (float)m->threshold;
  }
  if (status)
    run_free(m);
  return status;
}

static const char *const TARGETS[] = {"SAE", "transcoder", "crosscoder"};

/* ---- SAELens ---- */

/* SAELens 6's architecture for the run (NULL: none; *why says what would do) */
static const char *
saelens_architecture(const run_t *m, const char **why)
{
  *why = NULL;
  if (m->target == T_SAE) {
    static const char *const arch[SDLAB_TRAIN_METHODS] = {
      [SDLAB_TRAIN_RELU] = "standard", [SDLAB_TRAIN_JUMPRELU] = "jumprelu", [SDLAB_TRAIN_TOPK] = "topk",
      [SDLAB_TRAIN_BATCHTOPK] = "jumprelu", [SDLAB_TRAIN_MATRYOSHKA] = "topk", [SDLAB_TRAIN_TOPK_AUXK] = "topk",
      [SDLAB_TRAIN_GATED] = "gated"};
    return arch[m->method];
  }
  if (m->target == T_TRANSCODER) {
    if (m->method == SDLAB_TRAIN_RELU)
      return "transcoder";
    if (m->method == SDLAB_TRAIN_JUMPRELU || m->method == SDLAB_TRAIN_BATCHTOPK)
      return "jumprelu_transcoder";
    *why = m->method == SDLAB_TRAIN_GATED ? "SAELens has no gated transcoder"
           : "SAELens has no TopK transcoder (its transcoders are transcoder, skip_transcoder and "
             "jumprelu_transcoder); sparsify loads TopK transcoders of equal widths (--format sparsify)";
    return NULL;
  }
  *why = "SAELens has no crosscoder architecture";
  return NULL;
}

static void
saelens_metadata(sdlab_json *j, const run_t *m, const sdlab_export_options *o)
{
  sdlab_json_object_begin(j, "metadata");
  sdlab_json_string(j, "sae_lens_version", SAELENS_VERSION);
  sdlab_json_string(j, "model_name", o->model_name);
  sdlab_json_string(j, "hook_name", o->hook_name);
  sdlab_json_null(j, "hook_head_index");
  if (m->target == T_TRANSCODER) {
    sdlab_json_string(j, "hook_name_out", o->hook_name_out ? o->hook_name_out : o->hook_name);
    sdlab_json_null(j, "hook_head_index_out");
  }
  sdlab_json_null(j, "context_size");
  sdlab_json_bool(j, "prepend_bos", 1);
  sdlab_json_null(j, "dataset_path");
  sdlab_json_string(j, "exported_by", "sdlab export");
  sdlab_json_object_end(j);
}

static int
write_saelens(const run_t *m, const sdlab_export_options *o, int compat, const char *dir)
{
  const char *why, *arch = saelens_architecture(m, &why);
  if (arch == NULL)
    return sdlab_fail(SDLAB_EPARAM, "a %s %s cannot be exported for SAELens: %s", sdlab_train_method_name(m->method),
                      TARGETS[m->target], why);
  if (compat && m->target != T_SAE)
    return sdlab_fail(SDLAB_EPARAM, "SAELens 5.x has no transcoders: export this %s with --format saelens (6.x)",
                      TARGETS[m->target]);
  const sdlab_st_dtype dt = o->bf16 ? SDLAB_ST_BF16 : SDLAB_ST_F32;
  const size_t p = m->p, q = m->q, r = m->r;
  sdlab_tensor t[6];
  size_t n = 0;
  t[n++] = (sdlab_tensor){"W_enc", 2, {p, q}, m->WEt, dt};
  if (m->method == SDLAB_TRAIN_GATED) {
    t[n++] = (sdlab_tensor){"b_gate", 1, {q}, m->bE, dt};
    t[n++] = (sdlab_tensor){"r_mag", 1, {q}, m->rmag, dt};
    t[n++] = (sdlab_tensor){"b_mag", 1, {q}, m->bmag, dt};
  } else {
    t[n++] = (sdlab_tensor){"b_enc", 1, {q}, m->bE, dt};
  }
  t[n++] = (sdlab_tensor){"W_dec", 2, {q, r}, m->WDt, dt};
  t[n++] = (sdlab_tensor){"b_dec", 1, {r}, m->bD, dt};
  if (strstr(arch, "jumprelu"))
    t[n++] = (sdlab_tensor){"threshold", 1, {q}, m->thr, dt};
  const char *meta[] = {"format", "pt", "producer", "sdlab"};
  char *path = sdlab_io_path_join(dir, "sae_weights.safetensors");
  int status = path ? sdlab_safetensors_write(path, t, n, meta, 2) : sdlab_fail(GSL_ENOMEM, "out of memory");
  free(path);
  if (status)
    return status;
  const int topk = strcmp(arch, "topk") == 0;
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_string(&j, "architecture", arch);
  sdlab_json_integer(&j, "d_in", (long long)p);
  sdlab_json_integer(&j, "d_sae", (long long)q);
  if (m->target == T_TRANSCODER)
    sdlab_json_integer(&j, "d_out", (long long)r);
  sdlab_json_string(&j, "dtype", o->bf16 ? "bfloat16" : "float32");
  sdlab_json_string(&j, "device", "cpu");
  /* sdlab's SAE codes read x - b_D (b_D = 0 without --biases); a transcoder's read x */
  sdlab_json_bool(&j, "apply_b_dec_to_input", m->target == T_SAE);
  sdlab_json_string(&j, "normalize_activations", "none");
  sdlab_json_string(&j, "reshape_activations", "none");
  if (topk) {
    sdlab_json_integer(&j, "k", (long long)m->k);
    sdlab_json_bool(&j, "rescale_acts_by_decoder_norm", 0);
  }
  if (compat) { /* SAELens 5.x's required keys, which 6.x ignores */
    sdlab_json_string(&j, "model_name", o->model_name);
    sdlab_json_string(&j, "hook_name", o->hook_name);
    sdlab_json_integer(&j, "hook_layer", o->hook_layer);
    sdlab_json_null(&j, "hook_head_index");
    sdlab_json_null(&j, "context_size");
    sdlab_json_string(&j, "dataset_path", "");
    sdlab_json_bool(&j, "dataset_trust_remote_code", 0);
    sdlab_json_bool(&j, "prepend_bos", 1);
    sdlab_json_bool(&j, "finetuning_scaling_factor", 0);
    /* 5.x knows relu, tanh-relu and topk; its jumprelu architecture applies the threshold itself */
    sdlab_json_string(&j, "activation_fn_str", topk ? "topk" : "relu");
    sdlab_json_object_begin(&j, "activation_fn_kwargs");
    if (topk)
      sdlab_json_integer(&j, "k", (long long)m->k);
    sdlab_json_object_end(&j);
  }
  saelens_metadata(&j, m, o);
  sdlab_json_object_end(&j);
  return sdlab_json_write(&j, dir, "cfg.json");
}

/* ---- sparsify ---- */

static int
write_sparsify(const run_t *m, const sdlab_export_options *o, const char *dir)
{
  if (m->target == T_CROSSCODER)
    return sdlab_fail(SDLAB_EPARAM, "sparsify has no crosscoder layout");
  if (m->method != SDLAB_TRAIN_TOPK && m->method != SDLAB_TRAIN_TOPK_AUXK && m->method != SDLAB_TRAIN_MATRYOSHKA)
    return sdlab_fail(SDLAB_EPARAM, "sparsify's SparseCoder computes TopK codes (of ReLU); a %s %s does not: "
                      "export it with --format saelens%s", sdlab_train_method_name(m->method), TARGETS[m->target],
                      m->target == T_SAE ? " or dictionary-learning" : "");
  if (m->target == T_TRANSCODER && m->r != m->p)
    return sdlab_fail(SDLAB_EPARAM, "sparsify's transcoders write as many values as they read (d_in %zu, d_out %zu)",
                      m->p, m->r);
  const sdlab_st_dtype dt = o->bf16 ? SDLAB_ST_BF16 : SDLAB_ST_F32; /* one dtype: sparsify takes the first's */
  const size_t p = m->p, q = m->q, r = m->r;
  const sdlab_tensor t[] = {{"encoder.weight", 2, {q, p}, m->WE, dt}, {"encoder.bias", 1, {q}, m->bE, dt},
                            {"W_dec", 2, {q, r}, m->WDt, dt}, {"b_dec", 1, {r}, m->bD, dt}};
  const char *meta[] = {"format", "pt", "producer", "sdlab"};
  char *path = sdlab_io_path_join(dir, "sae.safetensors");
  int status = path ? sdlab_safetensors_write(path, t, 4, meta, 2) : sdlab_fail(GSL_ENOMEM, "out of memory");
  free(path);
  if (status)
    return status;
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_string(&j, "activation", "topk");
  sdlab_json_integer(&j, "expansion_factor", (long long)((q + p - 1) / p));
  sdlab_json_bool(&j, "normalize_decoder", m->unit_decoder);
  sdlab_json_integer(&j, "num_latents", (long long)q); /* takes precedence over the expansion factor */
  sdlab_json_integer(&j, "k", (long long)m->k);
  sdlab_json_bool(&j, "multi_topk", 0);
  sdlab_json_bool(&j, "skip_connection", 0);
  sdlab_json_bool(&j, "transcode", m->target == T_TRANSCODER); /* a transcoder's codes read x, not x - b_dec */
  sdlab_json_integer(&j, "d_in", (long long)p);
  sdlab_json_object_end(&j);
  return sdlab_json_write(&j, dir, "cfg.json");
}

/* ---- dictionary_learning ---- */

static int
write_dictionary_learning(const run_t *m, const sdlab_export_options *o, const char *dir)
{
  if (m->target != T_SAE)
    return sdlab_fail(SDLAB_EPARAM, "dictionary_learning has no %s class", m->target == T_TRANSCODER ? "transcoder"
                      : "crosscoder");
  if (m->method == SDLAB_TRAIN_RELU && !m->unit_decoder)
    return sdlab_fail(SDLAB_EPARAM, "dictionary_learning's AutoEncoder.from_pretrained rescales decoder columns "
                      "to unit norm (and the codes with them): this run was trained with --no-unit-decoder");
  const sdlab_st_dtype dt = o->bf16 ? SDLAB_ST_BF16 : SDLAB_ST_F32;
  const size_t p = m->p, q = m->q;
  sdlab_tensor t[8];
  size_t n = 0;
  const char *cls = NULL;
  int32_t k32 = (int32_t)m->k;
  float thr = m->method == SDLAB_TRAIN_BATCHTOPK ? (float)m->threshold : -1.0f; /* -1: never set (AutoEncoderTopK's) */
  float *benc = NULL;
  switch (m->method) {
  case SDLAB_TRAIN_RELU:
    cls = "AutoEncoder";
    t[n++] = (sdlab_tensor){"bias", 1, {p}, m->bD, dt};
    t[n++] = (sdlab_tensor){"encoder.weight", 2, {q, p}, m->WE, dt};
    t[n++] = (sdlab_tensor){"encoder.bias", 1, {q}, m->bE, dt};
    t[n++] = (sdlab_tensor){"decoder.weight", 2, {p, q}, m->WD, dt};
    break;
  case SDLAB_TRAIN_JUMPRELU: /* its encoder reads x, not x - b_dec: b_enc - W_E b_D computes W_E (x - b_D) + b_E */
    cls = "JumpReluAutoEncoder";
    if ((benc = malloc(q * sizeof *benc)) == NULL)
      return sdlab_fail(GSL_ENOMEM, "out of memory");
    for (size_t i = 0; i < q; i++) {
      double s = m->bE[i];
      for (size_t a = 0; a < p; a++)
        s -= (double)m->WE[i * p + a] * m->bD[a];
      benc[i] = (float)s;
    }
    t[n++] = (sdlab_tensor){"W_enc", 2, {p, q}, m->WEt, dt};
    t[n++] = (sdlab_tensor){"b_enc", 1, {q}, benc, dt};
    t[n++] = (sdlab_tensor){"W_dec", 2, {q, p}, m->WDt, dt};
    t[n++] = (sdlab_tensor){"b_dec", 1, {p}, m->bD, dt};
    t[n++] = (sdlab_tensor){"threshold", 1, {q}, m->thr, dt};
    break;
  case SDLAB_TRAIN_GATED:
    cls = "GatedAutoEncoder";
    t[n++] = (sdlab_tensor){"decoder_bias", 1, {p}, m->bD, dt};
    t[n++] = (sdlab_tensor){"encoder.weight", 2, {q, p}, m->WE, dt};
    t[n++] = (sdlab_tensor){"r_mag", 1, {q}, m->rmag, dt};
    t[n++] = (sdlab_tensor){"gate_bias", 1, {q}, m->bE, dt};
    t[n++] = (sdlab_tensor){"mag_bias", 1, {q}, m->bmag, dt};
    t[n++] = (sdlab_tensor){"decoder.weight", 2, {p, q}, m->WD, dt};
    break;
  default: /* the TopK family: codes TopK of ReLU; BatchTopK's with its threshold instead */
    cls = m->method == SDLAB_TRAIN_BATCHTOPK ? "BatchTopKSAE" : "AutoEncoderTopK";
    t[n++] = (sdlab_tensor){"k", 0, {0}, &k32, SDLAB_ST_I32};
    t[n++] = (sdlab_tensor){"threshold", 0, {0}, &thr, SDLAB_ST_F32};
    t[n++] = (sdlab_tensor){"encoder.weight", 2, {q, p}, m->WE, dt};
    t[n++] = (sdlab_tensor){"encoder.bias", 1, {q}, m->bE, dt};
    t[n++] = (sdlab_tensor){"decoder.weight", 2, {p, q}, m->WD, dt};
    t[n++] = (sdlab_tensor){"b_dec", 1, {p}, m->bD, dt};
    break;
  }
  const char *meta[] = {"format", "pt", "producer", "sdlab"};
  char *path = sdlab_io_path_join(dir, "model.safetensors");
  int status = path ? sdlab_safetensors_write(path, t, n, meta, 2) : sdlab_fail(GSL_ENOMEM, "out of memory");
  free(path);
  free(benc);
  if (status)
    return status;
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_object_begin(&j, "trainer");
  sdlab_json_string(&j, "dict_class", cls);
  sdlab_json_string(&j, "trainer_class", "sdlab");
  sdlab_json_integer(&j, "activation_dim", (long long)p);
  sdlab_json_integer(&j, "dict_size", (long long)q);
  if (m->k)
    sdlab_json_integer(&j, "k", (long long)m->k);
  sdlab_json_string(&j, "lm_name", o->model_name);
  sdlab_json_integer(&j, "layer", o->hook_layer);
  sdlab_json_string(&j, "submodule_name", o->hook_name);
  sdlab_json_object_end(&j);
  sdlab_json_object_begin(&j, "buffer");
  sdlab_json_null(&j, "ctx_len");
  sdlab_json_object_end(&j);
  sdlab_json_object_end(&j);
  return sdlab_json_write(&j, dir, "config.json");
}

int
sdlab_export_run(const char *run, sdlab_export_format f, const sdlab_export_options *o, const char *out, int force)
{
  run_t m;
  int status = run_load(run, &m);
  if (status)
    return status;
  char *staging = NULL;
  if (!(status = sdlab_io_outdir_begin(out, force, &staging))) {
    status = f == SDLAB_EXPORT_SAELENS ? write_saelens(&m, o, 0, staging)
             : f == SDLAB_EXPORT_SAELENS_COMPAT ? write_saelens(&m, o, 1, staging)
             : f == SDLAB_EXPORT_SPARSIFY ? write_sparsify(&m, o, staging)
                                          : write_dictionary_learning(&m, o, staging);
    if (!status)
      status = sdlab_io_outdir_commit(staging, out, force);
    else
      sdlab_io_outdir_abort(staging);
  }
  run_free(&m);
  return status;
}
