/* sdlab construct: the paper's explicit configurations written as .npy files, with the theorem's
 * quantities evaluated on them (result.json). */
#include "sdlab_claims.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_metrics.h"
#include "sdlab_loss.h"
#include "sdlab_npy.h"
#include "sdlab_pattern.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab construct thm33     --truth W_p.npy [--target W_r.npy] --latents Q --activation A [--md M] --out DIR\n"
  "       sdlab construct zero-loss --truth W_p.npy [--target W_r.npy] --latents Q [--md M] --out DIR\n"
  "       sdlab construct example35 --out DIR\n"
  "\n"
  "Write one of the paper's configurations (W_E.npy n_q x n_p, W_D.npy n_r x n_q, float64) and result.json with\n"
  "L~ (eq. 11, every M_d = M, default 1) and the activation pattern's predicates (Definition 3.1):\n"
  "  thm33      eq. 15: W_E* = [W_p^T; 0], W_D* = [W_r, 0]; also Theorem 3.3's bound terms\n"
  "             (middle = M^2 sum_d M_d (K_d-1)^2, bound = n^2 M^2 sum_d M_d) and whether the theorem held\n"
  "  zero-loss  W_E = A W_p^+, W_D = W_r Z^+ (ReLU; n <= n_p): L~ = 0 without recovering the features\n"
  "  example35  Example 3.5's spurious partial minimum (also writes W_p.npy, W_r.npy): L~ = 1, zero gradients\n"
  "\n"
  "  --truth W_p.npy    n_p x n ground-truth directions   --target W_r.npy  n_r x n (default W_p: an SAE)\n"
  "  --latents Q        n_q (>= n)                          --activation A    relu, jumprelu:T, topk:K, ...\n"
  "  --md M             the weight M_d of every feature (the bench's M_d is the same for all; see meta.json)\n"
  "  --force            replace DIR if it exists\n";

enum { O_TRUTH, O_TARGET, O_LATENTS, O_ACT, O_MD, O_OUT, O_FORCE, O_COUNT };

/* A matrix of the user's size.  gsl_matrix_alloc leaks its struct when the data cannot be allocated (GSL 2.7:
 * it returns without freeing it); the block first, then the struct over it, frees everything on failure.  NULL
 * when out of memory or when n1 x n2 doubles do not fit in a size_t. */
static gsl_matrix *
matrix_alloc(size_t n1, size_t n2)
{
  if (n1 == 0 || n2 == 0 || n1 > SIZE_MAX / sizeof(double) / n2)
    return NULL;
  gsl_block *b = gsl_block_alloc(n1 * n2);
  gsl_matrix *m = b ? gsl_matrix_alloc_from_block(b, 0, n1, n2, n2) : NULL;
  if (m == NULL) {
    if (b)
      gsl_block_free(b);
    return NULL;
  }
  m->owner = 1; /* gsl_matrix_free frees the block with it */
  return m;
}

static void
pattern_json(sdlab_json *j, const sdlab_activation *act, const gsl_matrix *WE, const gsl_matrix *Wp)
{
  sdlab_pattern *P = sdlab_pattern_alloc(WE->size1, Wp->size2);
  if (P == NULL || sdlab_pattern_of(act, WE, Wp, P)) {
    sdlab_pattern_free(P);
    return;
  }
  sdlab_json_object_begin(j, "pattern");
  sdlab_json_bool(j, "polysemantic", sdlab_pattern_is_polysemantic(P));
  sdlab_json_bool(j, "partition", sdlab_pattern_is_partition(P));
  sdlab_json_integer(j, "dead_neurons", (long long)sdlab_pattern_dead_count(P));
  sdlab_json_array_begin(j, "F");
  for (size_t i = 0; i < P->nq; i++) {
    sdlab_json_array_begin(j, NULL);
    for (size_t d = 0; d < P->n; d++)
      if (P->F[i * P->n + d])
        sdlab_json_integer(j, NULL, (long long)d);
    sdlab_json_array_end(j);
  }
  sdlab_json_array_end(j);
  sdlab_json_object_end(j);
  sdlab_pattern_free(P);
}

/* Example 3.5's instance (n = n_p = n_q = 2) and its configuration */
static int
example35(sdlab_activation *act, gsl_matrix **Wp, gsl_matrix **Wr, gsl_matrix **WE, gsl_matrix **WD, gsl_vector **Md)
{
  *Wp = gsl_matrix_alloc(2, 2);
  *Wr = gsl_matrix_alloc(2, 2);
  *WE = gsl_matrix_alloc(2, 2);
  *WD = gsl_matrix_alloc(2, 2);
  *Md = gsl_vector_alloc(2);
  return *Wp && *Wr && *WE && *WD && *Md ? sdlab_construct_example35(*Wp, *Wr, *Md, *WE, *WD, act)
                                         : sdlab_fail(GSL_ENOMEM, "out of memory");
}

/* The truth (and target: the truth's copy when absent) from their files, every M_d = md, and eq. 15's (thm33)
 * or the zero-loss configuration with nq latents */
static int
instance_of(const char *truth, const char *target, int k33, size_t nq, double md, const sdlab_activation *act,
            gsl_matrix **Wp, gsl_matrix **Wr, gsl_matrix **WE, gsl_matrix **WD, gsl_vector **Md)
{
  int status = sdlab_npy_load_matrix(truth, "--truth", Wp);
  if (!status && target)
    status = sdlab_npy_load_matrix(target, "--target", Wr);
  if (!status && *Wr && (*Wr)->size2 != (*Wp)->size2)
    status = sdlab_fail(SDLAB_ESHAPE, "--target has %zu features, --truth %zu", (*Wr)->size2, (*Wp)->size2);
  if (!status && *Wr == NULL) {
    if ((*Wr = gsl_matrix_alloc((*Wp)->size1, (*Wp)->size2)) != NULL)
      gsl_matrix_memcpy(*Wr, *Wp);
    else
      status = sdlab_fail(GSL_ENOMEM, "out of memory for a copy of --truth");
  }
  if (!status)
    status = sdlab_activation_check(act, nq);
  if (!status) { /* n_q is the user's: the matrices may not fit in memory */
    *WE = matrix_alloc(nq, (*Wp)->size1);
    *WD = matrix_alloc((*Wr)->size1, nq);
    *Md = gsl_vector_alloc((*Wp)->size2);
    if (!*WE || !*WD || !*Md)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for W_E (%zu x %zu) and W_D (%zu x %zu) with --latents %zu",
                          nq, (*Wp)->size1, (*Wr)->size1, nq, nq);
  }
  if (!status) {
    gsl_vector_set_all(*Md, md);
    status = k33 ? sdlab_construct_thm33(*Wp, *Wr, *WE, *WD) : sdlab_construct_zero_loss(*Wp, *Wr, NULL, act, *WE, *WD,
                                                                                       NULL);
  }
  return status;
}

/* The configuration's record into j: sizes, L~ and its gradients' norms through the model, the activation pattern,
 * and for thm33 Theorem 3.3's bound terms */
static int
result_of(sdlab_json *j, const char *kind, int k33, const sdlab_activation *act, const gsl_matrix *Wp,
          const gsl_matrix *Wr, const gsl_matrix *WE, const gsl_matrix *WD, const gsl_vector *Md, size_t nq)
{
  sdlab_model *m = sdlab_model_alloc(Wr->size1 == Wp->size1 ? SDLAB_SAE : SDLAB_TRANSCODER, Wp->size1, nq, Wr->size1,
                                     1, act);
  sdlab_loss_workspace *w = m ? sdlab_loss_workspace_alloc(Wp->size2, m) : NULL;
  gsl_matrix *gE = gsl_matrix_alloc(nq, Wp->size1), *gD = gsl_matrix_alloc(Wr->size1, nq);
  double L = NAN;
  int status = w && gE && gD ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory evaluating L~ with %zu latents",
                                                          nq);
  if (!status) {
    gsl_matrix_memcpy(m->WE, WE);
    gsl_matrix_memcpy(m->WD, WD);
    status = sdlab_loss_tilde(m, Wp, Wr, Md, &L, gE, gD, w);
  }
  if (!status) {
    char an[64];
    sdlab_activation_format(act, an, sizeof an);
    sdlab_json_object_begin(j, NULL);
    sdlab_json_string(j, "construction", kind);
    sdlab_json_string(j, "activation", an);
    sdlab_json_integer(j, "n", (long long)Wp->size2);
    sdlab_json_integer(j, "n_p", (long long)Wp->size1);
    sdlab_json_integer(j, "n_q", (long long)nq);
    sdlab_json_integer(j, "n_r", (long long)Wr->size1);
    sdlab_json_number(j, "L_tilde", L);
    sdlab_json_number(j, "grad_W_E_norm", sdlab_metrics_frobenius(gE));
    sdlab_json_number(j, "grad_W_D_norm", sdlab_metrics_frobenius(gD));
    pattern_json(j, act, WE, Wp);
    if (k33) {
      sdlab_thm33_values v;
      status = sdlab_claims_thm33(Wp, Wr, Md, act, nq, &v);
      if (!status) {
        sdlab_json_object_begin(j, "theorem_3_3");
        sdlab_json_number(j, "M", v.M);
        sdlab_json_number(j, "middle", v.middle);
        sdlab_json_number(j, "bound", v.bound);
        sdlab_json_integer(j, "nonpositive_codes_selected", (long long)v.nonpositive_selected);
        sdlab_json_bool(j, "L_tilde_le_middle", L <= v.middle);
        sdlab_json_bool(j, "L_tilde_le_bound", L <= v.bound);
        sdlab_json_object_end(j);
      }
    }
    sdlab_json_object_end(j);
  }
  if (gE) gsl_matrix_free(gE);
  if (gD) gsl_matrix_free(gD);
  sdlab_loss_workspace_free(w);
  sdlab_model_free(m);
  return status;
}

int
sdlab_cmd_construct(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--truth", "--target", "--latents", "--activation", "--md", "--out", "--force"};
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? SDLAB_EXIT_USAGE : SDLAB_EXIT_OK;
  }
  const char *kind = argv[1];
  int k33 = strcmp(kind, "thm33") == 0, kzero = strcmp(kind, "zero-loss") == 0, k35 = strcmp(kind, "example35") == 0;
  if (!k33 && !kzero && !k35) {
    fprintf(stderr, "sdlab construct: error: unknown construction '%s' (thm33, zero-loss or example35)\n", kind);
    return SDLAB_EXIT_USAGE;
  }
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--force");
  int r = sdlab_cli_parse("construct", argc - 1, argv + 1, o, O_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r)
    return SDLAB_EXIT_USAGE;
  static const char *need33[] = {"--truth", "--latents", "--activation", "--out"};
  static const char *needzero[] = {"--truth", "--latents", "--out"};
  static const char *need35[] = {"--out"};
  if (sdlab_cli_require("construct", o, O_COUNT, k33 ? need33 : kzero ? needzero : need35, k33 ? 4 : kzero ? 3 : 1))
    return SDLAB_EXIT_USAGE;
  if (k35 && (o[O_TRUTH].value || o[O_TARGET].value || o[O_LATENTS].value || o[O_ACT].value || o[O_MD].value)) {
    fprintf(stderr, "sdlab construct: error: example35 is a fixed instance: it takes only --out and --force\n");
    return SDLAB_EXIT_USAGE;
  }
  size_t nq = 2;
  double md = 1.0;
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  if (o[O_LATENTS].value && sdlab_cli_size("construct", "--latents", o[O_LATENTS].value, &nq))
    return SDLAB_EXIT_USAGE;
  if (o[O_MD].value && sdlab_cli_double("construct", "--md", o[O_MD].value, &md))
    return SDLAB_EXIT_USAGE;
  if (!(md > 0)) {
    fprintf(stderr, "sdlab construct: error: --md must be positive (Theorem 3.4 assumes M_d > 0)\n");
    return SDLAB_EXIT_USAGE;
  }
  if (kzero && o[O_ACT].value) {
    fprintf(stderr, "sdlab construct: error: the zero-loss construction uses ReLU; --activation does not apply\n");
    return SDLAB_EXIT_USAGE;
  }
  int act_status = o[O_ACT].value ? sdlab_activation_parse(o[O_ACT].value, &act) : SDLAB_SUCCESS;
  if (act_status)
    return sdlab_cli_fail("construct", act_status);

  gsl_matrix *Wp = NULL, *Wr = NULL, *WE = NULL, *WD = NULL;
  gsl_vector *Md = NULL;
  char *staging = NULL, *f = NULL;
  const int force = o[O_FORCE].value != NULL;
  int status = k35 ? example35(&act, &Wp, &Wr, &WE, &WD, &Md)
                   : instance_of(o[O_TRUTH].value, o[O_TARGET].value, k33, nq, md, &act, &Wp, &Wr, &WE, &WD, &Md);
  if (k35)
    nq = 2;
  sdlab_json j;
  sdlab_json_init(&j);
  if (!status)
    status = sdlab_io_outdir_begin(o[O_OUT].value, force, &staging);
  if (!status)
    status = result_of(&j, kind, k33, &act, Wp, Wr, WE, WD, Md, nq);
  const char *files[4] = {"W_E.npy", "W_D.npy", "W_p.npy", "W_r.npy"};
  const gsl_matrix *mats[4] = {WE, WD, Wp, Wr};
  for (int k = 0; !status && k < (k35 ? 4 : 2); k++) {
    f = sdlab_io_path_join(staging, files[k]);
    status = sdlab_npy_write_matrix(f, mats[k], SDLAB_F64);
    free(f);
  }
  const char *text = status ? NULL : sdlab_json_text(&j);
  if (!status) {
    f = sdlab_io_path_join(staging, "result.json");
    status = text && f ? sdlab_io_atomic_write_text(f, text) : sdlab_fail(GSL_ENOMEM, "out of memory");
    free(f);
  }
  if (!status)
    status = sdlab_io_outdir_commit(staging, o[O_OUT].value, force);
  else
    sdlab_io_outdir_abort(staging);
  if (!status)
    fputs(text, stdout);
  sdlab_json_free(&j);
  if (Wp) gsl_matrix_free(Wp);
  if (Wr) gsl_matrix_free(Wr);
  if (WE) gsl_matrix_free(WE);
  if (WD) gsl_matrix_free(WD);
  if (Md) gsl_vector_free(Md);
  return status ? sdlab_cli_fail("construct", status) : SDLAB_EXIT_OK;
}
