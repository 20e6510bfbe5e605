/* sdlab eval: the recovery metrics of §5.1 for a learned dictionary against a known ground truth. */
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_loss.h"
#include "sdlab_metrics.h"
#include "sdlab_model.h"
#include "sdlab_npy.h"
#include "sdlab_sae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab eval --truth W_p.npy (--encoder W_E.npy [--decoder W_D.npy] | --sae DIR) [--truth-target W_r.npy]\n"
  "                  [--tau T] [--exclude anchors.npy] [--raw] [--out FILE] [--sweep FILE.tsv]\n"
  "                  [--activation A] [--data X.npy [--data-target X_r.npy]]\n"
  "\n"
  "Print one JSON object with the recovery metrics of arXiv:2512.05534 §5.1 for the encoder rows\n"
  "(the paper's metrics, also repeated at the top level) and, given --decoder, for the decoder columns:\n"
  "  M_GT       GT Recovery: share of ground-truth features whose best match exceeds tau\n"
  "  M_IP       Maximum Inner Product: mean best-match score\n"
  "  MCC        mean similarity under the optimal one-to-one matching (Hungarian, certified exact)\n"
  "  tau_sweep  M_GT at tau = 0, 0.01, ..., 1\n"
  "\n"
  "  --truth W_p.npy        n_p x n ground-truth directions (columns)\n"
  "  --encoder W_E.npy      n_q x n_p encoder (rows are the learned directions)\n"
  "  --decoder W_D.npy      n_r x n_q decoder (columns are compared with the target truth)\n"
  "  --sae DIR              instead of --encoder and --decoder: another tool's dictionary in DIR, SAELens\n"
  "                         (sae_weights.safetensors), sparsify (sae.safetensors) or dictionary_learning\n"
  "                         (model.safetensors), detected by its file and tensor names\n"
  "  --truth-target W_r.npy n_r x n target directions for the decoder (default: --truth)\n"
  "  --tau T                threshold of M_GT (default 0.95, Table 1)\n"
  "  --exclude anchors.npy  1-D integer array of ground-truth features not evaluated (anchors)\n"
  "  --raw                  similarity |W_E W_p| without normalising (default: cosine similarity)\n"
  "  --out FILE             also write the JSON to FILE (atomically)\n"
  "  --sweep FILE.tsv       also write the tau sweep as text: tau, encoder M_GT [, decoder M_GT]\n"
  "  --data X.npy           N x n_p inputs: also report the model's L0 (mean active latents per sample),\n"
  "                         dead fraction (latents that never fire) and explained variance (relative to\n"
  "                         the mean); needs --decoder and --activation, or --sae (without --activation:\n"
  "                         the dictionary's own inference, biases, thresholds and k from its configuration)\n"
  "  --activation A         sigma of the model: relu, jumprelu:T, topk:K, topk-relu:K, batchtopk:K; with\n"
  "                         --decoder, also report L_tilde, eq. 11 on the ground truth with every M_d = 1\n"
  "  --data-target X_r.npy  N x n_r targets (default: X.npy, an SAE)\n";

enum { O_TRUTH, O_ENCODER, O_DECODER, O_TRUTH_TARGET, O_TAU, O_EXCLUDE, O_RAW, O_OUT, O_DATA, O_ACT, O_DATA_TARGET,
       O_SWEEP, O_SAE, O_COUNT };

/* One batch's codes A and reconstructions Xhat by another tool's dictionary, as its library computes them
 * (float32, two threads). */
static int
sae_batch(const sdlab_sae *sae, const gsl_matrix *X, gsl_matrix *A, gsl_matrix *Xhat)
{
  const size_t b = X->size1, p = sae->p, q = sae->q, r = sae->r;
  float *x = malloc(b * p * sizeof *x), *a = malloc(b * q * sizeof *a), *h = malloc(b * r * sizeof *h);
  int status = x && a && h ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t s = 0; !status && s < b; s++)
    for (size_t k = 0; k < p; k++)
      x[s * p + k] = (float)gsl_matrix_get(X, s, k);
  if (!status)
    status = sdlab_sae_encode(sae, x, b, a, 2);
  if (!status)
    status = sdlab_sae_decode(sae, a, b, h, 2);
  for (size_t s = 0; !status && s < b; s++) {
    for (size_t i = 0; i < q; i++)
      gsl_matrix_set(A, s, i, a[s * q + i]);
    for (size_t k = 0; k < r; k++)
      gsl_matrix_set(Xhat, s, k, h[s * r + k]);
  }
  free(x), free(a), free(h);
  return status;
}

/* L0, dead fraction and explained variance of the model (W_E, W_D, sigma), or of another tool's dictionary `sae`
 * with its own inference, on data X (targets Y), in batches of 4096 samples (batchtopk's batch). */
static int
model_statistics(sdlab_json *j, const gsl_matrix *WE, const gsl_matrix *WD, const sdlab_activation *act,
                 const sdlab_sae *sae, const gsl_matrix *X, const gsl_matrix *Y)
{
  const size_t nq = WE->size1, np = WE->size2, nr = WD->size1, N = X->size1, B = 4096;
  if (X->size2 != np)
    return sdlab_fail(SDLAB_ESHAPE, "--data has %zu columns but the encoder reads n_p = %zu", X->size2, np);
  if (Y->size1 != N || Y->size2 != nr)
    return sdlab_fail(SDLAB_ESHAPE, "the targets are %zu x %zu, expected %zu x %zu (N x n_r)%s", Y->size1, Y->size2,
                      N, nr, Y == X ? "; give --data-target for a transcoder" : "");
  sdlab_model *m = sae ? NULL : sdlab_model_alloc(nr == np ? SDLAB_SAE : SDLAB_TRANSCODER, np, nq, nr, 1, act);
  if (!sae && m == NULL)
    return GSL_EINVAL;
  if (m) {
    gsl_matrix_memcpy(m->WE, WE);
    gsl_matrix_memcpy(m->WD, WD);
  }
  gsl_matrix *A = gsl_matrix_alloc(B, nq), *Xhat = gsl_matrix_alloc(B, nr);
  sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(B, nq);
  sdlab_metrics_stats st;
  int status = A && Xhat && w ? sdlab_metrics_stats_init(&st, nq, nr) : sdlab_fail(GSL_ENOMEM, "out of memory");
  int have_stats = status == 0;
  for (size_t s0 = 0; !status && s0 < N; s0 += B) {
    size_t b = N - s0 < B ? N - s0 : B;
    gsl_matrix_const_view xb = gsl_matrix_const_submatrix(X, s0, 0, b, np), yb = gsl_matrix_const_submatrix(Y, s0, 0, b, nr);
    gsl_matrix_view ab = gsl_matrix_submatrix(A, 0, 0, b, nq), hb = gsl_matrix_submatrix(Xhat, 0, 0, b, nr);
    if (sae) {
      status = sae_batch(sae, &xb.matrix, &ab.matrix, &hb.matrix);
    } else {
      status = sdlab_model_encode(m, &xb.matrix, NULL, &ab.matrix, NULL, w);
      if (!status)
        status = sdlab_model_decode(m, &ab.matrix, &hb.matrix);
    }
    if (!status)
      status = sdlab_metrics_stats_add(&st, &ab.matrix, &yb.matrix, &hb.matrix);
  }
  if (!status) {
    double l0, dead, ev;
    sdlab_metrics_stats_result(&st, &l0, &dead, &ev);
    sdlab_json_object_begin(j, "model");
    sdlab_json_integer(j, "samples", (long long)N);
    if (sae)
      sdlab_json_string(j, "inference", sae->kind);
    sdlab_json_number(j, "L0", l0);
    sdlab_json_number(j, "dead_fraction", dead);
    sdlab_json_number(j, "explained_variance", ev);
    sdlab_json_object_end(j);
  }
  if (have_stats)
    sdlab_metrics_stats_free(&st);
  if (A) gsl_matrix_free(A);
  if (Xhat) gsl_matrix_free(Xhat);
  sdlab_activation_workspace_free(w);
  sdlab_model_free(m);
  return status;
}

/* L~ (eq. 11) of the model (W_E, W_D, sigma) on the ground truth with every M_d = 1: zero exactly when every
 * feature direction is reconstructed from its own codes. */
static int
model_ltilde(sdlab_json *j, const gsl_matrix *WE, const gsl_matrix *WD, const sdlab_activation *act,
             const gsl_matrix *W, const gsl_matrix *WR)
{
  const size_t nq = WE->size1, np = WE->size2, nr = WD->size1, n = W->size2;
  sdlab_model *m = sdlab_model_alloc(nr == np && WR == NULL ? SDLAB_SAE : SDLAB_TRANSCODER, np, nq, nr, 1, act);
  if (m == NULL)
    return GSL_EINVAL;
  gsl_matrix_memcpy(m->WE, WE);
  gsl_matrix_memcpy(m->WD, WD);
  gsl_vector *Md = gsl_vector_alloc(n);
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(n, m);
  double lt = NAN;
  int status = Md && w ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for L~");
  if (!status) {
    gsl_vector_set_all(Md, 1.0);
    status = sdlab_loss_tilde(m, W, WR ? WR : W, Md, &lt, NULL, NULL, w);
  }
  if (!status) {
    sdlab_json_number(j, "L_tilde", lt);
    sdlab_json_string(j, "L_tilde_weights", "every M_d = 1");
  }
  if (Md) gsl_vector_free(Md);
  sdlab_loss_workspace_free(w);
  sdlab_model_free(m);
  return status;
}

/* Metrics of learned directions L (rows) against truth W; writes one JSON object under `key`. */
static int
evaluate(sdlab_json *j, const char *key, const gsl_matrix *L, const gsl_matrix *W, int normalise, double tau,
         const unsigned char *exclude, double *mgt, double *mip, double *mcc, double sweep[101])
{
  const size_t n = W->size2;
  double *s = malloc(n * sizeof *s);
  if (s == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  int status = sdlab_metrics_recovery(L, W, normalise, exclude, tau, 2, s, mgt, mip, mcc);
  if (!status) {
    sdlab_json_object_begin(j, key);
    sdlab_json_number(j, "M_GT", *mgt);
    sdlab_json_number(j, "M_IP", *mip);
    sdlab_json_number(j, "MCC", *mcc);
    sdlab_json_object_begin(j, "tau_sweep");
    double taus[101];
    for (int k = 0; k <= 100; k++) {
      taus[k] = k / 100.0;
      sweep[k] = sdlab_metrics_mgt(s, n, exclude, taus[k]);
    }
    sdlab_json_numbers(j, "tau", taus, 101);
    sdlab_json_numbers(j, "M_GT", sweep, 101);
    sdlab_json_object_end(j);
    sdlab_json_object_end(j);
  }
  free(s);
  return status;
}

/* The tau sweep as tab-separated text (gnuplot reads it), malloc'd; NULL when out of memory. */
static char *
sweep_text(const double *enc, const double *dec)
{
  char *text = malloc(101 * 64 + 64);
  if (text == NULL)
    return NULL;
  size_t len = (size_t)sprintf(text, "# tau\tM_GT_encoder%s\n", dec ? "\tM_GT_decoder" : "");
  for (int k = 0; k <= 100; k++) {
    len += (size_t)sprintf(text + len, "%.2f\t%.17g", k / 100.0, enc[k]);
    len += dec ? (size_t)sprintf(text + len, "\t%.17g\n", dec[k]) : (size_t)sprintf(text + len, "\n");
  }
  return text;
}

/* The decoder (--decoder's file unless *WD already holds --sae's), the target truth (--truth-target, else the truth
 * W), their sizes checked against the encoder WE, and W_D^T into *DT (its columns scored against the target) */
static int
decoder_of(const sdlab_opt *o, const gsl_matrix *W, const gsl_matrix *WE, gsl_matrix **WD, gsl_matrix **WR,
           gsl_matrix **DT)
{
  int status = SDLAB_SUCCESS;
  if (o[O_DECODER].value)
    status = sdlab_npy_load_matrix(o[O_DECODER].value, "--decoder", WD);
  if (!status && o[O_TRUTH_TARGET].value)
    status = sdlab_npy_load_matrix(o[O_TRUTH_TARGET].value, "--truth-target", WR);
  const gsl_matrix *target = *WR ? *WR : W;
  if (!status && (*WD)->size2 != WE->size1)
    status = sdlab_fail(SDLAB_ESHAPE, "--decoder is %zu x %zu but the encoder has n_q = %zu latents: the decoder "
                        "must be n_r x n_q", (*WD)->size1, (*WD)->size2, WE->size1);
  if (!status && target->size2 != W->size2)
    status = sdlab_fail(SDLAB_ESHAPE, "--truth-target has %zu features, --truth %zu", target->size2, W->size2);
  if (!status && (*WD)->size1 != target->size1)
    status = sdlab_fail(SDLAB_ESHAPE, "--decoder has n_r = %zu rows but the target truth has %zu%s", (*WD)->size1,
                        target->size1, *WR ? "" : " (give --truth-target W_r.npy for a transcoder)");
  if (!status && (*DT = gsl_matrix_alloc((*WD)->size2, (*WD)->size1)) == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status)
    gsl_matrix_transpose_memcpy(*DT, *WD);
  return status;
}

/* The flags' combinations and --tau (into *tau), in the order they are reported: one line and nonzero on the first
 * that does not hold */
static int
check_flags(const sdlab_opt *o, double *tau)
{
  if (!o[O_ENCODER].value && !o[O_SAE].value) {
    fprintf(stderr, "sdlab eval: error: --encoder is required (or --sae DIR: another tool's dictionary)\n");
    return 1;
  }
  if (o[O_SAE].value && (o[O_ENCODER].value || o[O_DECODER].value)) {
    fprintf(stderr, "sdlab eval: error: --sae DIR replaces --encoder and --decoder: give one or the other\n");
    return 1;
  }
  const int has_decoder = o[O_DECODER].value || o[O_SAE].value;
  if (o[O_TAU].value && sdlab_cli_double("eval", "--tau", o[O_TAU].value, tau))
    return 1;
  if (o[O_RAW].value == NULL && !(*tau >= 0 && *tau <= 1)) {
    fprintf(stderr, "sdlab eval: error: --tau %g: a cosine similarity threshold lies in [0, 1] (or give --raw)\n", *tau);
    return 1;
  }
  if (o[O_DATA].value && !o[O_SAE].value && (!has_decoder || !o[O_ACT].value)) {
    fprintf(stderr, "sdlab eval: error: --data needs --decoder and --activation (the model's L0 and explained variance), "
            "or --sae\n");
    return 1;
  }
  if (!o[O_DATA].value && o[O_DATA_TARGET].value) {
    fprintf(stderr, "sdlab eval: error: --data-target goes with --data\n");
    return 1;
  }
  if (o[O_ACT].value && !has_decoder) {
    fprintf(stderr, "sdlab eval: error: --activation needs --decoder (the model's L~ and statistics)\n");
    return 1;
  }
  return 0;
}

/* --exclude: the features left out (a mask over the n features, and how many), refused when it leaves none */
static int
load_exclude(const char *path, size_t n, unsigned char **exclude, size_t *excluded)
{
  size_t *idx = NULL, nidx = 0;
  int status = sdlab_npy_load_indices(path, "--exclude", n, &idx, &nidx);
  if (!status && (*exclude = calloc(n, 1)) == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t i = 0; !status && i < nidx; i++)
    (*exclude)[idx[i]] = 1;
  free(idx);
  *excluded = 0;
  for (size_t i = 0; !status && i < n; i++)
    *excluded += (*exclude)[i];
  if (!status && *excluded == n)
    status = sdlab_fail(GSL_EINVAL, "--exclude leaves no ground-truth feature to evaluate");
  return status;
}

int
sdlab_cmd_eval(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--truth", "--encoder", "--decoder", "--truth-target", "--tau", "--exclude",
                                       "--raw", "--out", "--data", "--activation", "--data-target",
                                       "--sweep", "--sae"};
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--raw");
  int r = sdlab_cli_parse("eval", argc, argv, o, O_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r || (r = sdlab_cli_require("eval", o, O_COUNT, names, 1)))
    return SDLAB_EXIT_USAGE;
  const int has_decoder = o[O_DECODER].value || o[O_SAE].value;
  double tau = 0.95;
  const int normalise = o[O_RAW].value == NULL;
  if (check_flags(o, &tau))
    return SDLAB_EXIT_USAGE;
  sdlab_activation act;
  int act_status = o[O_ACT].value ? sdlab_activation_parse(o[O_ACT].value, &act) : SDLAB_SUCCESS;
  if (act_status)
    return sdlab_cli_fail("eval", act_status);
  gsl_matrix *W = NULL, *WE = NULL, *WD = NULL, *WR = NULL, *DT = NULL, *X = NULL, *Y = NULL;
  unsigned char *exclude = NULL;
  const char *layout = NULL;
  int status = sdlab_npy_load_matrix(o[O_TRUTH].value, "--truth", &W);
  /* --sae: another tool's dictionary, read once; what its own inference needs too when --data asks for the
   * model's statistics without --activation */
  sdlab_sae *sae = NULL;
  if (!status && o[O_SAE].value && !(status = sdlab_sae_load(o[O_SAE].value, o[O_DATA].value && !o[O_ACT].value,
                                                             &sae))) {
    WE = sae->WE, WD = sae->WD, layout = sae->layout;
    sae->WE = sae->WD = NULL;
  }
  if (!status && !o[O_SAE].value)
    status = sdlab_npy_load_matrix(o[O_ENCODER].value, "--encoder", &WE);
  if (!status && WE->size2 != W->size1)
    status = sdlab_fail(SDLAB_ESHAPE, "--encoder is %zu x %zu but --truth has n_p = %zu rows: the encoder must be "
                        "n_q x n_p (rows are encoder directions)%s", WE->size1, WE->size2, W->size1,
                        WE->size1 == W->size1 ? "; it looks transposed (SAELens' W_enc is d_in x d_sae)" : "");
  if (!status && o[O_ACT].value)
    status = sdlab_activation_check(&act, WE->size1); /* K against the encoder's n_q: a wrong --activation */
  if (!status && has_decoder)
    status = decoder_of(o, W, WE, &WD, &WR, &DT);
  else if (!status && o[O_TRUTH_TARGET].value)
    status = sdlab_fail(SDLAB_EPARAM, "--truth-target needs --decoder");
  size_t excluded = 0;
  if (!status && o[O_EXCLUDE].value)
    status = load_exclude(o[O_EXCLUDE].value, W->size2, &exclude, &excluded);
  sdlab_json j;
  sdlab_json_init(&j);
  if (!status) {
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_integer(&j, "n", (long long)W->size2);
    sdlab_json_integer(&j, "n_p", (long long)W->size1);
    sdlab_json_integer(&j, "n_q", (long long)WE->size1);
    if (layout)
      sdlab_json_string(&j, "sae_layout", layout);
    sdlab_json_number(&j, "tau", tau);
    sdlab_json_string(&j, "similarity", normalise ? "cosine" : "raw");
    sdlab_json_integer(&j, "excluded", (long long)excluded);
    sdlab_json_integer(&j, "evaluated", (long long)(W->size2 - excluded));
  }
  double mgt = NAN, mip = NAN, mcc = NAN, d1, d2, d3, esweep[101], dsweep[101];
  if (!status)
    status = evaluate(&j, "encoder", WE, W, normalise, tau, exclude, &mgt, &mip, &mcc, esweep);
  if (!status && DT)
    status = evaluate(&j, "decoder", DT, WR ? WR : W, normalise, tau, exclude, &d1, &d2, &d3, dsweep);
  if (!status && o[O_ACT].value)
    status = model_ltilde(&j, WE, WD, &act, W, WR);
  if (!status && o[O_DATA].value) {
    status = sdlab_npy_load_matrix(o[O_DATA].value, "--data", &X);
    if (!status && o[O_DATA_TARGET].value)
      status = sdlab_npy_load_matrix(o[O_DATA_TARGET].value, "--data-target", &Y);
    if (!status) /* with --sae and no --activation, the dictionary's own inference, biases included */
      status = model_statistics(&j, WE, WD, &act, o[O_ACT].value ? NULL : sae, X, Y ? Y : X);
  }
  const char *text = NULL;
  if (!status) {
    sdlab_json_number(&j, "M_GT", mgt);
    sdlab_json_number(&j, "M_IP", mip);
    sdlab_json_number(&j, "MCC", mcc);
    sdlab_json_object_end(&j);
    text = sdlab_json_text(&j);
    if (text == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for the JSON answer");
  }
  /* --out and --sweep as one: both files or neither */
  char *sweep = !status && o[O_SWEEP].value ? sweep_text(esweep, DT ? dsweep : NULL) : NULL;
  if (!status && o[O_SWEEP].value && sweep == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory for the sweep");
  if (!status) {
    const char *paths[2] = {o[O_OUT].value, o[O_SWEEP].value};
    const void *texts[2] = {text, sweep};
    status = sdlab_io_atomic_write_all(2, paths, texts, NULL);
  }
  free(sweep);
  if (!status)
    fputs(text, stdout);
  sdlab_json_free(&j);
  if (W) gsl_matrix_free(W);
  if (WE) gsl_matrix_free(WE);
  if (WD) gsl_matrix_free(WD);
  sdlab_sae_free(sae);
  if (WR) gsl_matrix_free(WR);
  if (DT) gsl_matrix_free(DT);
  if (X) gsl_matrix_free(X);
  if (Y) gsl_matrix_free(Y);
  free(exclude);
  return status ? sdlab_cli_fail("eval", status) : SDLAB_EXIT_OK;
}
