#define _POSIX_C_SOURCE 200809L
#include "sdlab_sae.h"
#include "sdlab_activation.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

SDLAB_SELECT_TOP_DEFINE(ranks_before, select_top, float, uint32_t)

enum { L_SAELENS, L_SPARSIFY, L_DICTIONARY_LEARNING };

/* what a directory holds: its weights file, configuration, and the layout by file name */
static const char *const FILES[] = {"sae_weights.safetensors", "sae.safetensors", "model.safetensors"};
static const char *const CONFIGS[] = {"cfg.json", "cfg.json", "config.json"};
static const char *const LAYOUTS[] = {"SAELens", "sparsify", "dictionary_learning"};

/* the encoder's and decoder's tensor names, and whether the file holds each transposed (columns the latents) */
static const struct {
  const char *enc;
  int enc_t;
  const char *dec;
  int dec_t;
} NAMES[] = {{"W_enc", 1, "W_dec", 1}, {"encoder.weight", 0, "W_dec", 1}, {"encoder.weight", 0, "decoder.weight", 0}};

/* A tensor of `st` as a gsl_matrix, transposed when `transpose`.  SDLAB_ESHAPE naming the tensor when it is not a
 * non-empty 2-D matrix. */
static int
tensor_matrix(sdlab_safetensors *st, const char *path, const char *name, int transpose, gsl_matrix **out)
{
  size_t nd, shape[4];
  float *d = NULL;
  *out = NULL;
  int status = sdlab_safetensors_tensor(st, name, &nd, shape, &d);
  if (!status && (nd != 2 || shape[0] == 0 || shape[1] == 0))
    status = sdlab_fail(SDLAB_ESHAPE, "%s: tensor '%s' is not a non-empty matrix", path, name);
  if (!status && (*out = gsl_matrix_alloc(transpose ? shape[1] : shape[0], transpose ? shape[0] : shape[1])) == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory for tensor '%s' of %s", name, path);
  for (size_t i = 0; !status && i < shape[0]; i++)
    for (size_t j = 0; j < shape[1]; j++)
      gsl_matrix_set(*out, transpose ? j : i, transpose ? i : j, d[i * shape[1] + j]);
  free(d);
  return status;
}

/* A vector tensor of n entries (a scalar too when `scalar`, repeated n times) into *out. */
static int
tensor_vector(sdlab_safetensors *st, const char *path, const char *name, size_t n, int scalar, float **out)
{
  size_t nd, shape[4];
  float *d = NULL;
  *out = NULL;
  int status = sdlab_safetensors_tensor(st, name, &nd, shape, &d);
  if (!status && !((nd == 1 && shape[0] == n) || (scalar && nd == 0)))
    status = sdlab_fail(SDLAB_ESHAPE, "%s: tensor '%s' is not a vector of %zu entries%s", path, name, n,
                        scalar ? " or a scalar" : "");
  if (!status && nd == 0) {
    float *v = malloc(n * sizeof *v + 1);
    if (v == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for tensor '%s' of %s", name, path);
    for (size_t i = 0; !status && i < n; i++)
      v[i] = d[0];
    free(d);
    d = v;
  }
  if (status)
    free(d);
  else
    *out = d;
  return status;
}

/* cfg's integer `key` (a path for sdlab_json_at) into *v, or `def` when absent (def < 0: required) */
static int
config_size(json_t *cfg, const char *path, const char *key, long long def, size_t *v)
{
  json_t *x = sdlab_json_at(cfg, key);
  if (x == NULL && def >= 0) {
    *v = (size_t)def;
    return SDLAB_SUCCESS;
  }
  if (!json_is_integer(x) || json_integer_value(x) < 1)
    return sdlab_fail(SDLAB_EBADFILE, "%s: %s is %s, not a positive integer", path, key, x ? "present" : "missing");
  *v = (size_t)json_integer_value(x);
  return SDLAB_SUCCESS;
}

/* cfg's string `key` or `def` when absent; NULL when present but not a string */
static const char *
config_string(json_t *cfg, const char *key, const char *def)
{
  json_t *x = sdlab_json_at(cfg, key);
  return x == NULL ? def : json_is_string(x) ? json_string_value(x) : NULL;
}

/* cfg's boolean `key` or `def` when absent; -1 when present but not a boolean */
static int
config_bool(json_t *cfg, const char *key, int def)
{
  json_t *x = sdlab_json_at(cfg, key);
  return x == NULL ? def : json_is_boolean(x) ? json_is_true(x) : -1;
}

/* SAELens: the architecture (6.x's field, else 5.x's activation function and tensors), k, the b_dec subtraction */
static int
saelens_codes(sdlab_sae *s, sdlab_safetensors *st, const char *wpath, json_t *cfg, const char *cpath)
{
  static const char *const known[] = {"standard", "topk", "jumprelu", "gated", "transcoder", "jumprelu_transcoder",
                                      "skip_transcoder"};
  const char *arch = config_string(cfg, "architecture", NULL);
  if (sdlab_json_at(cfg, "architecture") == NULL) { /* SAELens 5.x */
    const char *fn = config_string(cfg, "activation_fn_str", "relu");
    arch = fn && strcmp(fn, "topk") == 0 ? "topk"
           : sdlab_safetensors_has(st, "threshold") ? "jumprelu"
           : sdlab_safetensors_has(st, "b_gate") ? "gated" : fn && strcmp(fn, "relu") == 0 ? "standard" : NULL;
    if (arch == NULL)
      return sdlab_fail(SDLAB_EBADFILE, "%s: activation_fn_str '%s' is not one whose codes sdlab computes (relu, topk)",
                        cpath, fn ? fn : "(not a string)");
  }
  size_t a = 0;
  while (arch && a < sizeof known / sizeof *known && strcmp(arch, known[a]) != 0)
    a++;
  if (arch == NULL || a == sizeof known / sizeof *known)
    return sdlab_fail(SDLAB_EBADFILE, "%s: architecture '%s' is not one whose codes sdlab computes (standard, topk, "
                      "jumprelu, gated, transcoder, jumprelu_transcoder, skip_transcoder)", cpath,
                      arch ? arch : "(not a string)");
  s->kind = known[a];
  const char *norm = config_string(cfg, "normalize_activations", "none");
  if (norm == NULL || strcmp(norm, "none") != 0)
    return sdlab_fail(SDLAB_EBADFILE, "%s: normalize_activations is '%s': the inputs' scaling is not stored with the "
                      "weights, so sdlab cannot reproduce the codes (only 'none')", cpath, norm ? norm : "(not a string)");
  const int apply = config_bool(cfg, "apply_b_dec_to_input", 1);
  if (apply < 0)
    return sdlab_fail(SDLAB_EBADFILE, "%s: apply_b_dec_to_input is not a boolean", cpath);
  if (apply && s->r != s->p)
    return sdlab_fail(SDLAB_ESHAPE, "%s: apply_b_dec_to_input with d_out %zu != d_in %zu", cpath, s->r, s->p);
  int status = tensor_vector(st, wpath, "b_dec", s->r, 0, &s->b_out);
  if (!status && apply)
    status = tensor_vector(st, wpath, "b_dec", s->p, 0, &s->b_in);
  if (!status && strcmp(s->kind, "gated") == 0) {
    s->act = SDLAB_SAE_GATED;
    status = tensor_vector(st, wpath, "b_gate", s->q, 0, &s->b_enc);
    if (!status)
      status = tensor_vector(st, wpath, "r_mag", s->q, 0, &s->r_mag);
    if (!status)
      status = tensor_vector(st, wpath, "b_mag", s->q, 0, &s->b_mag);
    return status;
  }
  if (!status)
    status = tensor_vector(st, wpath, "b_enc", s->q, 0, &s->b_enc);
  if (!status && strstr(s->kind, "jumprelu")) {
    s->act = SDLAB_SAE_JUMPRELU;
    status = tensor_vector(st, wpath, "threshold", s->q, 0, &s->threshold);
  } else if (!status && strcmp(s->kind, "topk") == 0) {
    s->act = SDLAB_SAE_TOPK;
    status = config_size(cfg, cpath, sdlab_json_at(cfg, "k") ? "k" : "activation_fn_kwargs/k", -1, &s->k);
  }
  return status;
}

static int
sparsify_codes(sdlab_sae *s, sdlab_safetensors *st, const char *wpath, json_t *cfg, const char *cpath)
{
  const char *act = config_string(cfg, "activation", "topk");
  if (act == NULL || strcmp(act, "topk") != 0)
    return sdlab_fail(SDLAB_EBADFILE, "%s: activation '%s' is not one whose codes sdlab computes (topk)", cpath,
                      act ? act : "(not a string)");
  const int transcode = config_bool(cfg, "transcode", 0);
  if (transcode < 0)
    return sdlab_fail(SDLAB_EBADFILE, "%s: transcode is not a boolean", cpath);
  s->kind = "topk";
  s->act = SDLAB_SAE_TOPK;
  int status = config_size(cfg, cpath, "k", 32, &s->k);
  if (!status)
    status = tensor_vector(st, wpath, "encoder.bias", s->q, 0, &s->b_enc);
  if (!status)
    status = tensor_vector(st, wpath, "b_dec", s->r, 0, &s->b_out);
  if (!status && !transcode)
    status = tensor_vector(st, wpath, "b_dec", s->p, 0, &s->b_in);
  return status;
}

static int
dictionary_learning_codes(sdlab_sae *s, sdlab_safetensors *st, const char *wpath, json_t *cfg, const char *cpath)
{
  static const char *const known[] = {"AutoEncoder", "AutoEncoderTopK", "BatchTopKSAE", "JumpReluAutoEncoder",
                                      "GatedAutoEncoder"};
  const char *cls = config_string(cfg, "trainer/dict_class", NULL);
  size_t a = 0;
  while (cls && a < sizeof known / sizeof *known && strcmp(cls, known[a]) != 0)
    a++;
  if (cls == NULL || a == sizeof known / sizeof *known)
    return sdlab_fail(SDLAB_EBADFILE, "%s: trainer.dict_class '%s' is not one whose codes sdlab computes "
                      "(AutoEncoder, AutoEncoderTopK, BatchTopKSAE, JumpReluAutoEncoder, GatedAutoEncoder)", cpath,
                      cls ? cls : "(missing)");
  s->kind = known[a];
  int status = SDLAB_SUCCESS;
  switch (a) {
  case 0:
    s->act = SDLAB_SAE_RELU;
    status = tensor_vector(st, wpath, "bias", s->p, 0, &s->b_in);
    if (!status)
      status = tensor_vector(st, wpath, "bias", s->r, 0, &s->b_out);
    if (!status)
      status = tensor_vector(st, wpath, "encoder.bias", s->q, 0, &s->b_enc);
    break;
  case 1:
  case 2: /* BatchTopKSAE infers with its one threshold (use_threshold), not its k */
    s->act = a == 1 ? SDLAB_SAE_TOPK : SDLAB_SAE_JUMPRELU;
    status = tensor_vector(st, wpath, "b_dec", s->p, 0, &s->b_in);
    if (!status)
      status = tensor_vector(st, wpath, "b_dec", s->r, 0, &s->b_out);
    if (!status)
      status = tensor_vector(st, wpath, "encoder.bias", s->q, 0, &s->b_enc);
    if (!status && a == 1)
      status = config_size(cfg, cpath, "trainer/k", -1, &s->k);
    if (!status && a == 2)
      status = tensor_vector(st, wpath, "threshold", s->q, 1, &s->threshold);
    if (!status && a == 2 && s->threshold[0] < 0)
      status = sdlab_fail(SDLAB_EBADFILE, "%s: BatchTopKSAE's threshold %g was never set (negative)", wpath,
                          (double)s->threshold[0]);
    break;
  case 3: /* no b_dec subtraction in this class */
    s->act = SDLAB_SAE_JUMPRELU;
    status = tensor_vector(st, wpath, "b_enc", s->q, 0, &s->b_enc);
    if (!status)
      status = tensor_vector(st, wpath, "threshold", s->q, 0, &s->threshold);
    if (!status)
      status = tensor_vector(st, wpath, "b_dec", s->r, 0, &s->b_out);
    break;
  default:
    s->act = SDLAB_SAE_GATED;
    status = tensor_vector(st, wpath, "decoder_bias", s->p, 0, &s->b_in);
    if (!status)
      status = tensor_vector(st, wpath, "decoder_bias", s->r, 0, &s->b_out);
    if (!status)
      status = tensor_vector(st, wpath, "gate_bias", s->q, 0, &s->b_enc);
    if (!status)
      status = tensor_vector(st, wpath, "r_mag", s->q, 0, &s->r_mag);
    if (!status)
      status = tensor_vector(st, wpath, "mag_bias", s->q, 0, &s->b_mag);
  }
  return status;
}

int
sdlab_sae_load(const char *dir, int codes, sdlab_sae **out)
{
  *out = NULL;
  char *wpath = NULL, *cpath = NULL;
  size_t f = 0;
  for (; f < 3; f++) {
    if ((wpath = sdlab_io_path_join(dir, FILES[f])) == NULL)
      return sdlab_fail(GSL_ENOMEM, "out of memory");
    if (access(wpath, F_OK) == 0)
      break;
    free(wpath);
    wpath = NULL;
  }
  if (wpath == NULL)
    return sdlab_fail(SDLAB_EIO, "%s holds no SAE weights (sae_weights.safetensors for SAELens, sae.safetensors for "
                      "sparsify, model.safetensors for dictionary_learning)", dir);
  sdlab_sae *s = calloc(1, sizeof *s);
  sdlab_safetensors *st = NULL;
  json_t *cfg = NULL;
  int status = s ? sdlab_safetensors_open(wpath, &st) : sdlab_fail(GSL_ENOMEM, "out of memory");
  size_t l = 0; /* the tensor names; dictionary_learning's JumpReluAutoEncoder uses SAELens' */
  while (!status && l < 3 && !(sdlab_safetensors_has(st, NAMES[l].enc) && sdlab_safetensors_has(st, NAMES[l].dec)))
    l++;
  if (!status && l == 3)
    status = sdlab_fail(SDLAB_EBADFILE, "%s holds neither SAELens' W_enc and W_dec, sparsify's encoder.weight and "
                        "W_dec, nor dictionary_learning's encoder.weight and decoder.weight", wpath);
  if (!status) {
    s->layout = LAYOUTS[f];
    status = tensor_matrix(st, wpath, NAMES[l].enc, NAMES[l].enc_t, &s->WE);
  }
  if (!status)
    status = tensor_matrix(st, wpath, NAMES[l].dec, NAMES[l].dec_t, &s->WD);
  if (!status && s->WD->size2 != s->WE->size1)
    status = sdlab_fail(SDLAB_ESHAPE, "%s: the encoder has %zu latents and the decoder %zu", wpath, s->WE->size1,
                        s->WD->size2);
  if (!status) {
    s->q = s->WE->size1;
    s->p = s->WE->size2;
    s->r = s->WD->size1;
  }
  if (!status && codes) {
    if ((cpath = sdlab_io_path_join(dir, CONFIGS[f])) == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    else if (access(cpath, F_OK) != 0)
      status = sdlab_fail(SDLAB_EIO, "%s has %s but no %s: its codes need the %s configuration", dir, FILES[f],
                          CONFIGS[f], LAYOUTS[f]);
    else
      status = sdlab_json_load(cpath, &cfg);
  }
  if (!status && codes)
    status = f == L_SAELENS ? saelens_codes(s, st, wpath, cfg, cpath)
             : f == L_SPARSIFY ? sparsify_codes(s, st, wpath, cfg, cpath)
             : dictionary_learning_codes(s, st, wpath, cfg, cpath);
  if (!status && codes && s->act == SDLAB_SAE_TOPK && s->k > s->q)
    status = sdlab_fail(SDLAB_EBADFILE, "%s: k = %zu exceeds the %zu latents", cpath, s->k, s->q);
  if (!status && codes) { /* the float32 matrices the products read, made once */
    s->we = malloc(s->q * s->p * sizeof *s->we);
    s->wdt = malloc(s->q * s->r * sizeof *s->wdt);
    if (!s->we || !s->wdt)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for a %zu x %zu dictionary", s->q, s->p);
    for (size_t i = 0; !status && i < s->q; i++) {
      for (size_t a = 0; a < s->p; a++)
        s->we[i * s->p + a] = (float)gsl_matrix_get(s->WE, i, a);
      for (size_t a = 0; a < s->r; a++)
        s->wdt[i * s->r + a] = (float)gsl_matrix_get(s->WD, a, i);
    }
  }
  if (status) {
    sdlab_sae_free(s);
    s = NULL;
  }
  json_decref(cfg);
  sdlab_safetensors_free(st);
  free(wpath);
  free(cpath);
  *out = s;
  return status;
}

void
sdlab_sae_free(sdlab_sae *s)
{
  if (s == NULL)
    return;
  if (s->WE)
    gsl_matrix_free(s->WE);
  if (s->WD)
    gsl_matrix_free(s->WD);
  free(s->we);
  free(s->wdt);
  free(s->b_in);
  free(s->b_out);
  free(s->b_enc);
  free(s->threshold);
  free(s->r_mag);
  free(s->b_mag);
  free(s);
}

int
sdlab_sae_load_matrices(const char *dir, gsl_matrix **WE, gsl_matrix **WD, const char **layout)
{
  sdlab_sae *s = NULL;
  *WE = *WD = NULL;
  *layout = NULL;
  int status = sdlab_sae_load(dir, 0, &s);
  if (!status) {
    *WE = s->WE, *WD = s->WD, *layout = s->layout;
    s->WE = s->WD = NULL;
  }
  sdlab_sae_free(s);
  return status;
}

int
sdlab_sae_encode(const sdlab_sae *s, const float *X, size_t N, float *A, int threads)
{
  enum { CHUNK = 1024 };
  const size_t p = s->p, q = s->q;
  if (s->we == NULL)
    return sdlab_fail(GSL_EINVAL, "the dictionary was read without what its codes need (sdlab_sae_load codes = 0)");
  const float *W = s->we;
  float *Xc = malloc(CHUNK * p * sizeof *Xc), *keep = malloc(q * sizeof *keep);
  uint32_t *idx = malloc(q * sizeof *idx);
  if (Xc == NULL || keep == NULL || idx == NULL) {
    free(Xc), free(keep), free(idx);
    return sdlab_fail(GSL_ENOMEM, "out of memory for the codes of a %zu x %zu dictionary", q, p);
  }
  for (size_t s0 = 0; s0 < N; s0 += CHUNK) {
    const size_t rows = N - s0 < CHUNK ? N - s0 : CHUNK;
    for (size_t t = 0; t < rows; t++)
      for (size_t a = 0; a < p; a++)
        Xc[t * p + a] = X[(s0 + t) * p + a] - (s->b_in ? s->b_in[a] : 0.0f);
    float *H = A + s0 * q; /* W_E (x - b_in), then the codes in place */
    sdlab_blas_par_sgemm(threads, CblasNoTrans, CblasTrans, rows, q, p, 1.0f, Xc, p, W, p, 0.0f, H, q);
    for (size_t t = 0; t < rows; t++) {
      float *h = H + t * q;
      if (s->act == SDLAB_SAE_GATED) {
        for (size_t i = 0; i < q; i++) {
          const float mag = expf(s->r_mag[i]) * h[i] + s->b_mag[i];
          h[i] = h[i] + s->b_enc[i] > 0 && mag > 0 ? mag : 0.0f;
        }
        continue;
      }
      for (size_t i = 0; i < q; i++)
        h[i] += s->b_enc[i];
      if (s->act == SDLAB_SAE_TOPK) { /* the k best positions, their values kept, the rest zeroed */
        for (size_t i = 0; i < q; i++)
          idx[i] = (uint32_t)i;
        select_top(h, idx, q, s->k);
        for (size_t j = 0; j < s->k; j++)
          keep[j] = h[idx[j]];
        memset(h, 0, q * sizeof *h);
        for (size_t j = 0; j < s->k; j++)
          h[idx[j]] = keep[j] > 0 ? keep[j] : 0.0f;
        continue;
      }
      for (size_t i = 0; i < q; i++) {
        const float th = s->act == SDLAB_SAE_JUMPRELU && s->threshold[i] > 0 ? s->threshold[i] : 0.0f;
        h[i] = h[i] > th ? h[i] : 0.0f;
      }
    }
  }
  free(Xc);
  free(keep);
  free(idx);
  return SDLAB_SUCCESS;
}

int
sdlab_sae_decode(const sdlab_sae *s, const float *A, size_t N, float *Xhat, int threads)
{
  const size_t q = s->q, r = s->r;
  if (s->wdt == NULL)
    return sdlab_fail(GSL_EINVAL, "the dictionary was read without what its codes need (sdlab_sae_load codes = 0)");
  for (size_t t = 0; t < N; t++)
    memcpy(Xhat + t * r, s->b_out, r * sizeof *Xhat);
  sdlab_blas_par_sgemm(threads, CblasNoTrans, CblasNoTrans, N, r, q, 1.0f, A, q, s->wdt, r, 1.0f, Xhat, r);
  return SDLAB_SUCCESS;
}
