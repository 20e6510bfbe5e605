/* sdlab absorption: classify a dictionary's latents on a hierarchy bench by their activation sets
 * (parent, absorbing, sub-concept, feature, other, dead) and measure the absorption rate. */
#include "sdlab_absorption.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_lp.h"
#include "sdlab_lrb.h"
#include "sdlab_npy.h"
#include "sdlab_sae.h"

#include <math.h>
#include <gsl/gsl_blas.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *USAGE =
  "usage: sdlab absorption --bench DIR [--hierarchy P:K] (--codes CODES.npy | --sae DIR) [--decoder W_D.npy]\n"
  "                        [--tau T] [--out FILE.json] [--rates FILE.tsv]\n"
  "       sdlab absorption --bench DIR [--hierarchy P:K] --construct [--parent I] [--repair]\n"
  "                        [--encoder-out W_E.npy] [--out FILE.json] [--rates FILE.tsv]\n"
  "\n"
  "Feature absorption measured (Example 3.7, Definition 3.2, Theorem 3.8 of arXiv:2512.05534) on a bench made\n"
  "with sdlab lrb --hierarchy P:K.  A latent fires where its code is > 0; its activation set F is the features\n"
  "on whose samples it fires at least a fraction tau of the time.  Latents are classified:\n"
  "  parent       F within one parent's family, holding the parent or >= 2 of its sub-concepts\n"
  "  absorbing    F = {c}, a sub-concept that no parent latent covers (it took the parent's place on c)\n"
  "  sub-concept  F = {c}, a sub-concept that a parent latent also covers\n"
  "  feature      F = {d}, an independent feature\n"
  "  other        F empty, spanning families, or firing without its features more than 1 - tau of the time\n"
  "  dead         never fires\n"
  "and the absorption rate is the fraction of sub-concepts absorbed.  Prints JSON (also to --out).\n"
  "\n"
  "  --bench DIR        the bench: x.npy (N x n ground-truth codes) and W_p.npy\n"
  "  --hierarchy P:K    the bench's hierarchy (features 0..P-1 parents, P + p K + j their sub-concepts); by\n"
  "                     default the one its meta.json records, which a given one must agree with\n"
  "  --codes CODES.npy  N x n_q latent codes of the same N samples (sdlab train --codes writes them; any\n"
  "                     dictionary's codes will do)\n"
  "  --sae DIR          instead of --codes: another tool's dictionary (SAELens, sparsify or dictionary_learning\n"
  "                     layout, as sdlab export writes them), its codes of the bench's x_p.npy computed as that\n"
  "                     library does (its architecture, k, thresholds and b_dec subtraction from its\n"
  "                     configuration), and its decoder used as --decoder\n"
  "  --decoder W_D.npy  n_p x n_q decoder: also report the cosine of each latent's decoder column with its\n"
  "                     family's parent direction (an absorbing latent carries the parent's direction)\n"
  "  --tau T            reliability level of the activation sets, in (1/2, 1] (default 0.9)\n"
  "  --rates FILE.tsv   P(latent fires | feature active) as a gnuplot heat map, latents in display order\n"
  "\n"
  "  --construct        instead of codes, Theorem 3.8's construction on the bench's W_p: the pattern P with one\n"
  "                     neuron per parent firing on exactly its sub-concepts (realized by an exact LP, its witness\n"
  "                     tilted so that the members' values differ: the proof needs a unique minimum a_min; step\n"
  "                     1's threshold c is half the smallest active value), then the proof's steps 2-4 for the\n"
  "                     parent I (default 0).  The pattern the expanded encoder actually realizes under its one\n"
  "                     threshold c'' (Definition 3.1, single features) is compared with the P' the proof claims,\n"
  "                     and classified as above (rates 0 or 1)\n"
  "  --repair           scale the rows the proof leaves unchanged by c''/c, so that the one threshold c'' keeps\n"
  "                     their sets (as written, step 4 silences every feature of theirs whose value lies in\n"
  "                     (c, c''], which sdlab check reports as a failed step)\n"
  "  --encoder-out F    write the construction's encoder W_E' ((P + 1) x n_p, float64; threshold c'' in the JSON)\n";

enum { O_BENCH, O_HIER, O_CODES, O_DECODER, O_TAU, O_OUT, O_RATES, O_CONSTRUCT, O_PARENT, O_ENCOUT, O_REPAIR, O_SAE,
       O_COUNT };

/* Theorem 3.8's construction on Wp for the hierarchy parent_of with P parents: the realized pattern of the
 * expanded encoder into pat ((P + 1) x n bytes), the construction's quantities into j, the encoder into
 * *WEout. */
static int
construct_thm38(const gsl_matrix *Wp, const long *parent_of, size_t P, size_t istar, int repair, unsigned char *pat,
                gsl_matrix **WEout, sdlab_json *j)
{
  const size_t np = Wp->size1, n = Wp->size2;
  unsigned char *F = calloc(P * n, 1), *want = malloc(n);
  double *x = malloc(np * sizeof *x);
  gsl_matrix *WE = gsl_matrix_alloc(P, np);
  sdlab_lp_halfspace *h = sdlab_lp_halfspace_alloc(Wp, 0);
  *WEout = gsl_matrix_alloc(P + 1, np);
  int status = F && want && x && WE && h && *WEout ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t d = 0; !status && d < n; d++)
    if (parent_of[d] >= 0)
      F[(size_t)parent_of[d] * n + d] = 1;
  /* step 1: P = (F_1, ..., F_P), F_i = the sub-concepts of parent i and nothing else, realized exactly */
  double amin = INFINITY;
  for (size_t i = 0; !status && i < P; i++) {
    for (size_t d = 0; d < n; d++)
      want[d] = F[i * n + d] ? SDLAB_IN : SDLAB_OUT;
    sdlab_lp_realize_info info;
    status = sdlab_lp_halfspace_realize(h, want, x, &info);
    if (!status && !(info.realizable && info.verified))
      status = sdlab_fail(SDLAB_EIMPOSSIBLE, "Theorem 3.8's hypothesis fails on this W_p: no ReLU neuron fires on "
                          "exactly the sub-concepts of parent %zu (%s)", i,
                          info.verified ? "Farkas certificate verified" : "LP answer not verified");
    /* The LP's witness sits at a vertex where every member's value is often exactly 1: a tie at a_min, which
     * (78) cannot separate.  Tilt it by t sum_j (j/K) w_p^{d_j} over the K members d_1 < ... < d_K with
     * t = 1/(K + 1): each value moves by at most t (K + 1)/2 = 1/2 while the witness keeps margins >= 1, so the
     * pattern stays (checked below), and the members' values become distinct in general position. */
    size_t K = 0;
    for (size_t d = 0; d < n; d++)
      K += F[i * n + d];
    for (size_t a = 0; !status && a < np; a++)
      gsl_matrix_set(WE, i, a, x[a]);
    for (size_t d = 0, jj = 0; !status && d < n; d++)
      if (F[i * n + d]) {
        const double t = (double)++jj / (double)K / (double)(K + 1);
        for (size_t a = 0; a < np; a++)
          gsl_matrix_set(WE, i, a, gsl_matrix_get(WE, i, a) + t * gsl_matrix_get(Wp, a, d));
      }
    for (size_t d = 0; !status && d < n; d++) {
      gsl_vector_const_view w = gsl_matrix_const_row(WE, i), p = gsl_matrix_const_column(Wp, d);
      double v;
      gsl_blas_ddot(&w.vector, &p.vector, &v);
      if ((v > 0) != F[i * n + d])
        status = sdlab_fail(SDLAB_EIMPOSSIBLE, "the tilted witness of parent %zu lost feature %zu's side (%.17g)", i, d,
                            v);
      if (F[i * n + d])
        amin = fmin(amin, v);
    }
  }
  const double c = amin / 2;
  sdlab_thm38_info ti;
  if (!status)
    status = sdlab_construct_thm38(Wp, WE, c, F, istar, *WEout, &ti);
  /* --repair: the rows the proof leaves unchanged keep their sets under c'' once scaled by c''/c */
  for (size_t i = 0; !status && repair && i < P; i++)
    if (i != istar) {
      gsl_vector_view w = gsl_matrix_row(*WEout, i);
      gsl_vector_scale(&w.vector, ti.c2 / c);
    }
  /* the pattern the expanded encoder realizes with the one threshold c'' (the proof's step 4) */
  size_t differ = 0;
  for (size_t i = 0; !status && i <= P; i++)
    for (size_t d = 0; d < n; d++) {
      gsl_vector_const_view w = gsl_matrix_const_row(*WEout, i), p = gsl_matrix_const_column(Wp, d);
      double v;
      gsl_blas_ddot(&w.vector, &p.vector, &v);
      pat[i * n + d] = v > ti.c2;
      const int claimed = i < P ? F[i * n + d] && !(i == istar && d == ti.jstar) : d == ti.jstar;
      differ += pat[i * n + d] != claimed;
    }
  if (!status) {
    sdlab_json_object_begin(j, "theorem_3_8");
    sdlab_json_integer(j, "parent", (long long)istar);
    sdlab_json_bool(j, "repaired", repair);
    sdlab_json_number(j, "c", c);
    sdlab_json_integer(j, "absorbed_feature", (long long)ti.jstar);
    sdlab_json_number(j, "a_min", ti.amin);
    sdlab_json_number(j, "lambda", ti.lambda);
    sdlab_json_number(j, "c_prime", ti.c1);
    sdlab_json_number(j, "c_double_prime", ti.c2);
    sdlab_json_number(j, "M", ti.M);
    sdlab_json_number(j, "alpha", ti.alpha);
    sdlab_json_bool(j, "realizes_P_prime", differ == 0);
    sdlab_json_integer(j, "pairs_differing_from_P_prime", (long long)differ);
    sdlab_json_object_end(j);
  }
  free(F);
  free(want);
  free(x);
  if (WE) gsl_matrix_free(WE);
  sdlab_lp_halfspace_free(h);
  return status;
}

/* --sae DIR: the dictionary in DIR and its codes of the bench's inputs x_p.npy into *Z (N x n_q), as its library
 * computes them (two threads: the same bytes on every machine) */
static int
sae_codes(const char *dir, const char *bench, sdlab_sae **sae, gsl_matrix **Z)
{
  char *path = sdlab_io_path_join(bench, "x_p.npy");
  float *X = NULL, *A = NULL;
  size_t N = 0, p = 0;
  int status = path ? sdlab_npy_load_floats(path, "the bench's x_p.npy", &X, &N, &p)
                    : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status && (status = sdlab_sae_load(dir, 1, sae)))
    status = sdlab_fail(status, "--sae: %s", sdlab_error_message(status));
  if (!status && (*sae)->p != p)
    status = sdlab_fail(SDLAB_ESHAPE, "--sae %s reads %zu-dimensional inputs but the bench's x_p.npy has %zu columns",
                        dir, (*sae)->p, p);
  const size_t q = status ? 0 : (*sae)->q;
  if (!status && ((A = malloc(N * q * sizeof *A + 1)) == NULL || (*Z = gsl_matrix_alloc(N, q)) == NULL))
    status = sdlab_fail(GSL_ENOMEM, "out of memory for %zu x %zu codes", N, q);
  if (!status)
    status = sdlab_sae_encode(*sae, X, N, A, 2);
  for (size_t k = 0; !status && k < N * q; k++)
    (*Z)->data[k] = A[k];
  free(path);
  free(X);
  free(A);
  return status;
}

/* The hierarchy into p: the bench's record (meta.json, written by sdlab lrb) when it has one, which a given
 * --hierarchy must then agree with; else the flag, which is then needed.  *meta is the parsed record (or NULL). */
static int
bench_hierarchy(const char *mpath, const char *flag, sdlab_lrb_params *p, json_t **meta)
{
  *meta = NULL;
  if (access(mpath, F_OK) != 0)
    return flag ? SDLAB_SUCCESS : sdlab_fail(SDLAB_EUSAGE, "--hierarchy P:K is needed: the bench has no %s to "
                                             "take it from", mpath);
  int status = sdlab_json_load(mpath, meta);
  if (status)
    return status;
  json_t *h = sdlab_json_at(*meta, "parameters/hierarchy"), *f = sdlab_json_at(*meta, "parameters/features");
  size_t P = 0, K = 0;
  if (h && json_is_string(h)) { /* P:K, two whole numbers whose hierarchy fits the recorded features */
    if (sdlab_lrb_hierarchy_parse(json_string_value(h), &P, &K) || !json_is_integer(f) ||
        P > (size_t)json_integer_value(f) / (K + 1))
      P = K = 0, h = NULL;
  } else if (h && !json_is_null(h)) {
    h = NULL;
  }
  if (h == NULL)
    return sdlab_fail(SDLAB_EBADFILE, "%s: parameters/hierarchy is not P:K with P (K + 1) at most its features, nor "
                      "null (sdlab lrb writes one)", mpath);
  if (P == 0)
    return flag ? sdlab_fail(SDLAB_EPARAM, "--hierarchy %s, but the bench was made without one (%s)", flag, mpath)
                : sdlab_fail(SDLAB_EBADFILE, "the bench was made without a hierarchy (%s); sdlab lrb --hierarchy P:K "
                             "makes one", mpath);
  if (flag && (P != p->parents || K != p->children))
    return sdlab_fail(SDLAB_EPARAM, "--hierarchy %s contradicts the bench's %zu:%zu (%s)", flag, P, K, mpath);
  p->parents = P;
  p->children = K;
  return SDLAB_SUCCESS;
}

/* The rest of the bench's record agrees with its data: n features, and parent_of as the hierarchy gives it. */
static int
bench_record_agrees(json_t *meta, const char *mpath, size_t n, const long *parent_of)
{
  json_t *f = sdlab_json_at(meta, "parameters/features"), *a = sdlab_json_at(meta, "parent_of");
  if (!json_is_integer(f) || json_integer_value(f) != (json_int_t)n)
    return sdlab_fail(SDLAB_EBADFILE, "%s records %s features but the bench's x.npy has %zu", mpath,
                      json_is_integer(f) ? "other than its" : "no number of", n);
  if (!json_is_array(a) || json_array_size(a) != n)
    return sdlab_fail(SDLAB_EBADFILE, "%s: parent_of is not an array of %zu entries", mpath, n);
  for (size_t d = 0; d < n; d++) {
    json_t *v = json_array_get(a, d);
    if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)parent_of[d])
      return sdlab_fail(SDLAB_EBADFILE, "%s: parent_of[%zu] contradicts its hierarchy (%ld expected)", mpath, d,
                        parent_of[d]);
  }
  return SDLAB_SUCCESS;
}

/* Each classified latent's decoder column against its parent feature's direction (cosine; 0 for a zero vector and
 * for latents without a parent), into a new array *cosv of nq */
static int
decoder_cosines(const sdlab_absorption *a, const long *parent_of, const gsl_matrix *WD, const gsl_matrix *Wp,
                size_t nq, double **cosv)
{
  if ((*cosv = calloc(nq, sizeof **cosv)) == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t i = 0; i < nq; i++) {
    long f = a->cls[i] == SDLAB_LATENT_PARENT ? a->owner[i]
           : a->cls[i] == SDLAB_LATENT_ABSORBING || a->cls[i] == SDLAB_LATENT_SUBCONCEPT ? parent_of[a->owner[i]] : -1;
    if (f < 0)
      continue;
    double dot = 0, nd = 0, nw = 0;
    for (size_t k = 0; k < Wp->size1; k++) {
      const double u = gsl_matrix_get(WD, k, i), w = gsl_matrix_get(Wp, k, (size_t)f);
      dot += u * w;
      nd += u * u;
      nw += w * w;
    }
    (*cosv)[i] = nd > 0 && nw > 0 ? dot / sqrt(nd * nw) : 0;
  }
  return SDLAB_SUCCESS;
}

/* The flags' combinations: one line and nonzero on the first that does not hold */
static int
check_flags(const sdlab_opt *o)
{
  const int construct = o[O_CONSTRUCT].value != NULL;
  if (construct + (o[O_CODES].value != NULL) + (o[O_SAE].value != NULL) != 1) {
    fprintf(stderr, "sdlab absorption: error: give exactly one of --codes (a dictionary's codes), --sae (another "
            "tool's dictionary) and --construct (Theorem 3.8's construction)\n");
    return 1;
  }
  if (!construct && (o[O_PARENT].value || o[O_ENCOUT].value || o[O_REPAIR].value)) {
    fprintf(stderr, "sdlab absorption: error: --parent, --repair and --encoder-out go with --construct\n");
    return 1;
  }
  if (construct && o[O_DECODER].value) {
    fprintf(stderr, "sdlab absorption: error: --decoder goes with --codes (the construction has no decoder)\n");
    return 1;
  }
  return 0;
}

/* The dictionary whose absorption is measured, checked against the bench (X, W_p) and its hierarchy p: --codes (with
 * --decoder), or --sae's codes of the bench's samples (and its decoder unless --decoder gives one) */
static int
dictionary_of(const sdlab_opt *o, const sdlab_lrb_params *p, const gsl_matrix *X, const gsl_matrix *Wp,
              sdlab_sae **sae, gsl_matrix **Z, gsl_matrix **WD)
{
  int status = SDLAB_SUCCESS;
  if (o[O_CODES].value)
    status = sdlab_npy_load_matrix(o[O_CODES].value, "--codes", Z);
  if (!status && o[O_SAE].value)
    status = sae_codes(o[O_SAE].value, o[O_BENCH].value, sae, Z);
  const size_t N = X->size1, n = X->size2;
  if (!status && Wp->size2 != n)
    status = sdlab_fail(SDLAB_ESHAPE, "the bench's W_p.npy has %zu features but x.npy has %zu", Wp->size2, n);
  if (!status && *Z && (*Z)->size1 != N)
    status = sdlab_fail(SDLAB_ESHAPE, "--codes has %zu rows but the bench has %zu samples: give the codes of the "
                        "bench's own samples, in order", (*Z)->size1, N);
  if (!status && p->parents * (p->children + 1) > n)
    status = sdlab_fail(SDLAB_EPARAM, "--hierarchy %zu:%zu needs %zu features but the bench has %zu", p->parents,
                        p->children, p->parents * (p->children + 1), n);
  if (!status && !o[O_DECODER].value && *sae && (*sae)->r == Wp->size1) { /* its decoder, unless given one */
    *WD = (*sae)->WD;
    (*sae)->WD = NULL;
  }
  if (!status && o[O_DECODER].value) {
    status = sdlab_npy_load_matrix(o[O_DECODER].value, "--decoder", WD);
    if (!status && ((*WD)->size1 != Wp->size1 || (*WD)->size2 != (*Z)->size2))
      status = sdlab_fail(SDLAB_ESHAPE, "--decoder is %zu x %zu but must be n_p x n_q = %zu x %zu (columns are the "
                          "decoder directions)", (*WD)->size1, (*WD)->size2, Wp->size1, (*Z)->size2);
  }
  return status;
}

/* Each feature's parent (-1 for parents), from the hierarchy p, checked against the bench's own record when it has
 * one (meta, read from mpath) */
static int
hierarchy_of(const sdlab_lrb_params *p, json_t *meta, const char *mpath, size_t n, long **parent_of)
{
  if ((*parent_of = malloc(n * sizeof **parent_of)) == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t d = 0; d < n; d++)
    (*parent_of)[d] = sdlab_lrb_parent_of(p, d);
  return meta ? bench_record_agrees(meta, mpath, n, *parent_of) : SDLAB_SUCCESS;
}

int
sdlab_cmd_absorption(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--bench", "--hierarchy", "--codes", "--decoder", "--tau", "--out", "--rates",
                                       "--construct", "--parent", "--encoder-out", "--repair", "--sae"};
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--construct --repair");
  int r = sdlab_cli_parse("absorption", argc, argv, o, O_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  const int construct = o[O_CONSTRUCT].value != NULL;
  if (r || sdlab_cli_require("absorption", o, O_COUNT, names, 1))
    return SDLAB_EXIT_USAGE;
  if (check_flags(o))
    return SDLAB_EXIT_USAGE;
  sdlab_lrb_params p;
  sdlab_lrb_params_default(&p);
  double tau = 0.9;
  size_t istar = 0;
  if ((o[O_HIER].value && sdlab_cli_hierarchy("absorption", "--hierarchy", o[O_HIER].value, &p.parents,
                                                &p.children)) ||
      (o[O_TAU].value && sdlab_cli_double("absorption", "--tau", o[O_TAU].value, &tau)) ||
      (o[O_PARENT].value && sdlab_cli_size("absorption", "--parent", o[O_PARENT].value, &istar)))
    return SDLAB_EXIT_USAGE;
  gsl_matrix *X = NULL, *Wp = NULL, *Z = NULL, *WD = NULL;
  char *xpath = sdlab_io_path_join(o[O_BENCH].value, "x.npy"), *wpath = sdlab_io_path_join(o[O_BENCH].value, "W_p.npy");
  char *mpath = sdlab_io_path_join(o[O_BENCH].value, "meta.json");
  int status = xpath && wpath && mpath ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  json_t *meta = NULL;
  if (!status)
    status = bench_hierarchy(mpath, o[O_HIER].value, &p, &meta);
  if (!status && istar >= p.parents)
    status = sdlab_fail(SDLAB_EPARAM, "--parent %zu out of range (parents 0..%zu)", istar, p.parents - 1);
  if (!status)
    status = sdlab_npy_load_matrix(xpath, "the bench's x.npy", &X);
  if (!status)
    status = sdlab_npy_load_matrix(wpath, "the bench's W_p.npy", &Wp);
  sdlab_sae *sae = NULL;
  if (!status)
    status = dictionary_of(o, &p, X, Wp, &sae, &Z, &WD);
  const size_t N = X ? X->size1 : 0, n = X ? X->size2 : 0;
  long *parent_of = NULL;
  sdlab_absorption *a = NULL;
  unsigned char *pat = NULL;
  gsl_matrix *WEc = NULL;
  sdlab_json j;
  sdlab_json_init(&j);
  if (!status)
    status = hierarchy_of(&p, meta, mpath, n, &parent_of);
  const size_t nq = construct ? p.parents + 1 : Z ? Z->size2 : 0;
  if (!status && (a = sdlab_absorption_alloc(nq, n)) == NULL)
    status = GSL_ENOMEM;
  if (!status) {
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_string(&j, "source", construct ? "Theorem 3.8 construction" : sae ? o[O_SAE].value : o[O_CODES].value);
    if (sae) {
      sdlab_json_string(&j, "sae_layout", sae->layout);
      sdlab_json_string(&j, "sae_kind", sae->kind);
    }
    sdlab_json_integer(&j, "samples", construct ? 0 : (long long)N);
    sdlab_json_integer(&j, "parents", (long long)p.parents);
    sdlab_json_integer(&j, "children", (long long)p.children);
  }
  if (!status && construct) {
    if ((pat = malloc(nq * n)) == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    if (!status)
      status = construct_thm38(Wp, parent_of, p.parents, istar, o[O_REPAIR].value != NULL, pat, &WEc, &j);
    if (!status)
      status = sdlab_absorption_pattern(a, pat, parent_of, tau);
  } else if (!status) {
    status = sdlab_absorption_measure(a, Z->data, X->data, N, parent_of, tau);
  }
  double *cosv = NULL;
  if (!status && WD)
    status = decoder_cosines(a, parent_of, WD, Wp, nq, &cosv);
  const char *text = NULL;
  if (!status) {
    sdlab_absorption_json(a, &j, cosv);
    sdlab_json_object_end(&j);
    if ((text = sdlab_json_text(&j)) == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory for the JSON answer");
  }
  /* the outputs as one: the rates and the JSON together, the encoder first and removed if they fail */
  const int enc = !status && WEc && o[O_ENCOUT].value;
  if (enc)
    status = sdlab_npy_write_matrix(o[O_ENCOUT].value, WEc, SDLAB_F64);
  char *rates = !status && o[O_RATES].value ? sdlab_absorption_rates_text(a) : NULL;
  if (!status && o[O_RATES].value && rates == NULL)
    status = GSL_ENOMEM;
  if (!status) {
    const char *paths[2] = {o[O_RATES].value, o[O_OUT].value};
    const void *texts[2] = {rates, text};
    status = sdlab_io_atomic_write_all(2, paths, texts, NULL);
  }
  free(rates);
  if (status && enc)
    unlink(o[O_ENCOUT].value);
  if (!status)
    fputs(text, stdout);
  sdlab_json_free(&j);
  sdlab_absorption_free(a);
  free(cosv);
  free(pat);
  if (WEc) gsl_matrix_free(WEc);
  free(parent_of);
  free(xpath);
  free(wpath);
  free(mpath);
  json_decref(meta);
  if (X) gsl_matrix_free(X);
  if (Wp) gsl_matrix_free(Wp);
  if (Z) gsl_matrix_free(Z);
  if (WD) gsl_matrix_free(WD);
  sdlab_sae_free(sae);
  return status ? sdlab_cli_fail("absorption", status) : SDLAB_EXIT_OK;
}
