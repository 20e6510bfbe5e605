/* sdlab lrb: generate a Linear Representation Bench data set (Appendix C) into a directory. */
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_lrb.h"
#include "sdlab_npy.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab lrb --features N --dim D --samples K --sparsity S --interference M --seed R --out DIR\n"
  "                 [--cmin C] [--beta B] [--cmax C] [--target sae|transcoder|crosscoder]\n"
  "                 [--sources m] [--target-dim R] [--hierarchy P:K] [--dtype f32|f64]\n"
  "                 [--lrb-eps E] [--lrb-lambda L] [--lrb-eta H] [--lrb-iter I] [--force] [--quiet]\n"
  "\n"
  "Generate the Linear Representation Bench (Appendix C of arXiv:2512.05534) into DIR:\n"
  "  W_p.npy   D x N ground-truth feature directions, unit columns, float64 (C.1)\n"
  "  x.npy     K x N ground-truth codes x_d = Bernoulli(1-S) * (C + Exp(B)) (C.2)\n"
  "  x_p.npy   K x D inputs x_p = W_p x (C.3)\n"
  "  W_r.npy, x_r.npy   targets, for --target transcoder or crosscoder\n"
  "  meta.json every parameter, the seed, the achieved interference and iteration count, M_d\n"
  "\n"
  "  --features N      number of ground-truth features n\n"
  "  --dim D           input dimension n_p (a crosscoder: total over its sources)\n"
  "  --samples K       number of samples\n"
  "  --sparsity S      probability that a feature is inactive (the paper's S, e.g. 0.99)\n"
  "  --interference M  maximum interference max_{i!=j} <w_p^i, w_p^j> to reach (e.g. 0.1)\n"
  "  --seed R          seed of every random choice\n"
  "  --cmin C          minimum magnitude c_min (default 0)\n"
  "  --beta B          scale (mean) of the exponential magnitude (default 1)\n"
  "  --cmax C          truncate magnitudes at C (default: no truncation, as in the paper)\n"
  "  --target T        sae (x_r = x_p, default), transcoder (independent W_r, x_r = W_r x) or\n"
  "                    crosscoder (m stacked sources, x_r = x_p)\n"
  "  --sources m       crosscoder sources (default 2 for a crosscoder)\n"
  "  --target-dim R    transcoder target dimension n_r (default D)\n"
  "  --hierarchy P:K   P parent features with K exclusive sub-concepts each (Definition 3.2)\n"
  "  --dtype f32|f64   type of x, x_p, x_r (default f32; W_p and W_r are always float64)\n"
  "  --lrb-eps E --lrb-lambda L --lrb-eta H --lrb-iter I\n"
  "                    C.1 constants the paper leaves open (defaults 0.01, 0.001, 0.05, 10000)\n"
  "  --force           replace DIR if it exists\n"
  "  --quiet           no progress on the terminal\n";

enum {
  O_FEATURES, O_DIM, O_SAMPLES, O_SPARSITY, O_INTERFERENCE, O_SEED, O_OUT, O_CMIN, O_BETA, O_CMAX, O_TARGET,
  O_SOURCES, O_TARGET_DIM, O_HIERARCHY, O_DTYPE, O_EPS, O_LAMBDA, O_ETA, O_ITER, O_FORCE, O_QUIET, O_COUNT
};

static int
parse_params(int argc, char **argv, sdlab_lrb_params *p, sdlab_opt *o, sdlab_dtype *dtype)
{
  static const char *names[O_COUNT] = {"--features", "--dim", "--samples", "--sparsity", "--interference",
                                       "--seed", "--out", "--cmin", "--beta", "--cmax", "--target", "--sources",
                                       "--target-dim", "--hierarchy", "--dtype", "--lrb-eps", "--lrb-lambda",
                                       "--lrb-eta", "--lrb-iter", "--force", "--quiet"};
  sdlab_cli_options(o, names, O_COUNT, "--force --quiet");
  int r = sdlab_cli_parse("lrb", argc, argv, o, O_COUNT);
  if (r)
    return r;
  if ((r = sdlab_cli_require("lrb", o, O_COUNT, names, 7)))
    return r;
  sdlab_lrb_params_default(p);
  if ((r = sdlab_cli_size("lrb", "--features", o[O_FEATURES].value, &p->n)) ||
      (r = sdlab_cli_size("lrb", "--dim", o[O_DIM].value, &p->dim)) ||
      (r = sdlab_cli_size("lrb", "--samples", o[O_SAMPLES].value, &p->samples)) ||
      (r = sdlab_cli_double("lrb", "--sparsity", o[O_SPARSITY].value, &p->S)) ||
      (r = sdlab_cli_double("lrb", "--interference", o[O_INTERFERENCE].value, &p->M)) ||
      (r = sdlab_cli_u64("lrb", "--seed", o[O_SEED].value, &p->seed)))
    return r;
  if ((o[O_CMIN].value && (r = sdlab_cli_double("lrb", "--cmin", o[O_CMIN].value, &p->cmin))) ||
      (o[O_BETA].value && (r = sdlab_cli_double("lrb", "--beta", o[O_BETA].value, &p->beta))) ||
      (o[O_CMAX].value && (r = sdlab_cli_double("lrb", "--cmax", o[O_CMAX].value, &p->cmax))) ||
      (o[O_EPS].value && (r = sdlab_cli_double("lrb", "--lrb-eps", o[O_EPS].value, &p->eps))) ||
      (o[O_LAMBDA].value && (r = sdlab_cli_double("lrb", "--lrb-lambda", o[O_LAMBDA].value, &p->lambda))) ||
      (o[O_ETA].value && (r = sdlab_cli_double("lrb", "--lrb-eta", o[O_ETA].value, &p->eta))) ||
      (o[O_ITER].value && (r = sdlab_cli_size("lrb", "--lrb-iter", o[O_ITER].value, &p->max_iter))) ||
      (o[O_TARGET_DIM].value && (r = sdlab_cli_size("lrb", "--target-dim", o[O_TARGET_DIM].value, &p->target_dim))))
    return r;
  const char *t = o[O_TARGET].value;
  if (t == NULL || strcmp(t, "sae") == 0)
    p->target = SDLAB_TARGET_SAE;
  else if (strcmp(t, "transcoder") == 0)
    p->target = SDLAB_TARGET_TRANSCODER;
  else if (strcmp(t, "crosscoder") == 0) {
    p->target = SDLAB_TARGET_CROSSCODER;
    p->sources = 2;
  } else {
    fprintf(stderr, "sdlab lrb: error: --target must be sae, transcoder or crosscoder (got '%s')\n", t);
    return SDLAB_EUSAGE;
  }
  if (o[O_SOURCES].value && (r = sdlab_cli_size("lrb", "--sources", o[O_SOURCES].value, &p->sources)))
    return r;
  if (o[O_TARGET_DIM].value && p->target != SDLAB_TARGET_TRANSCODER) {
    fprintf(stderr, "sdlab lrb: error: --target-dim applies to --target transcoder only\n");
    return SDLAB_EUSAGE;
  }
  if (o[O_TARGET_DIM].value && p->target_dim == 0) {
    fprintf(stderr, "sdlab lrb: error: --target-dim must be positive\n");
    return SDLAB_EUSAGE;
  }
  if (o[O_HIERARCHY].value &&
      (r = sdlab_cli_hierarchy("lrb", "--hierarchy", o[O_HIERARCHY].value, &p->parents, &p->children)))
    return r;
  *dtype = SDLAB_F32;
  if (o[O_DTYPE].value) {
    if (strcmp(o[O_DTYPE].value, "f64") == 0)
      *dtype = SDLAB_F64;
    else if (strcmp(o[O_DTYPE].value, "f32") != 0) {
      fprintf(stderr, "sdlab lrb: error: --dtype must be f32 or f64 (got '%s')\n", o[O_DTYPE].value);
      return SDLAB_EUSAGE;
    }
  }
  return 0;
}

/* meta.json holds no timings: the same seed gives the same bytes (timings go to the terminal). */
static void
write_meta(sdlab_json *j, const sdlab_lrb_params *p, const sdlab_lrb_truth *t, sdlab_dtype dtype, const double *Md,
           size_t active, size_t alone)
{
  static const char *targets[] = {"sae", "transcoder", "crosscoder"};
  sdlab_json_object_begin(j, NULL);
  sdlab_json_string(j, "generator", "sdlab lrb (Linear Representation Bench, arXiv:2512.05534 Appendix C)");
  sdlab_json_object_begin(j, "parameters");
  sdlab_json_integer(j, "features", (long long)p->n);
  sdlab_json_integer(j, "dim", (long long)p->dim);
  sdlab_json_integer(j, "samples", (long long)p->samples);
  sdlab_json_number(j, "sparsity", p->S);
  sdlab_json_number(j, "interference", p->M);
  sdlab_json_integer(j, "seed", (long long)p->seed);
  sdlab_json_number(j, "cmin", p->cmin);
  sdlab_json_number(j, "beta", p->beta);
  if (isinf(p->cmax))
    sdlab_json_null(j, "cmax");
  else
    sdlab_json_number(j, "cmax", p->cmax);
  sdlab_json_string(j, "target", targets[p->target]);
  sdlab_json_integer(j, "sources", (long long)p->sources);
  sdlab_json_integer(j, "target_dim", (long long)sdlab_lrb_target_dim(p));
  if (p->parents) {
    char h[64];
    snprintf(h, sizeof h, "%zu:%zu", p->parents, p->children);
    sdlab_json_string(j, "hierarchy", h);
  } else {
    sdlab_json_null(j, "hierarchy");
  }
  sdlab_json_string(j, "dtype", dtype == SDLAB_F32 ? "float32" : "float64");
  sdlab_json_number(j, "lrb_eps", p->eps);
  sdlab_json_number(j, "lrb_lambda", p->lambda);
  sdlab_json_number(j, "lrb_eta", p->eta);
  sdlab_json_integer(j, "lrb_iter", (long long)p->max_iter);
  sdlab_json_object_end(j);
  sdlab_json_number(j, "achieved_interference", t->info_p.achieved);
  sdlab_json_integer(j, "iterations", (long long)t->info_p.iterations);
  if (p->target == SDLAB_TARGET_TRANSCODER) {
    sdlab_json_number(j, "achieved_interference_target", t->info_r.achieved);
    sdlab_json_integer(j, "iterations_target", (long long)t->info_r.iterations);
  }
  sdlab_json_integer(j, "n_p", (long long)sdlab_lrb_input_dim(p));
  sdlab_json_integer(j, "n_r", (long long)sdlab_lrb_target_dim(p));
  sdlab_json_number(j, "second_moment", sdlab_lrb_second_moment(p));
  sdlab_json_number(j, "M_d_independent", Md[p->n - 1]);
  sdlab_json_integer(j, "active_entries", (long long)active);
  sdlab_json_integer(j, "samples_with_one_active", (long long)alone);
  if (p->parents) {
    sdlab_json_array_begin(j, "parent_of");
    for (size_t d = 0; d < p->n; d++)
      sdlab_json_integer(j, NULL, sdlab_lrb_parent_of(p, d));
    sdlab_json_array_end(j);
  }
  sdlab_json_object_end(j);
}

/* Write x, x_p (and x_r) in chunks of samples. */
static int
write_samples(const char *dir, const sdlab_lrb_params *p, const sdlab_lrb_truth *t, sdlab_dtype dtype,
              sdlab_cli_progress *prog, size_t *active, size_t *alone)
{
  const size_t n = p->n, np = t->Wp->size1, nr = t->Wr->size1, K = p->samples, chunk = 4096;
  const int has_r = p->target != SDLAB_TARGET_SAE;
  sdlab_npy_writer wx, wp, wr;
  memset(&wr, 0, sizeof wr);
  char *fx = sdlab_io_path_join(dir, "x.npy"), *fp = sdlab_io_path_join(dir, "x_p.npy"), *fr = sdlab_io_path_join(dir, "x_r.npy");
  double *X = malloc(chunk * n * sizeof *X), *Xp = malloc(chunk * np * sizeof *Xp);
  double *Xr = has_r ? malloc(chunk * nr * sizeof *Xr) : NULL;
  gsl_matrix *WpT = gsl_matrix_alloc(n, np), *WrT = gsl_matrix_alloc(n, nr);
  sdlab_lrb_sampler *s = sdlab_lrb_sampler_alloc(p);
  int status = SDLAB_SUCCESS, open_x = 0, open_p = 0, open_r = 0;
  if (!fx || !fp || !fr || !X || !Xp || (has_r && !Xr) || !WpT || !WrT || !s) {
    status = s ? sdlab_fail(GSL_ENOMEM, "out of memory for sample generation") : GSL_EINVAL;
    goto done;
  }
  gsl_matrix_transpose_memcpy(WpT, t->Wp);
  gsl_matrix_transpose_memcpy(WrT, t->Wr);
  size_t sx[2] = {K, n}, sp[2] = {K, np}, sr[2] = {K, nr};
  if ((status = sdlab_npy_writer_open(&wx, fx, dtype, 2, sx)))
    goto done;
  open_x = 1;
  if ((status = sdlab_npy_writer_open(&wp, fp, dtype, 2, sp)))
    goto done;
  open_p = 1;
  if (has_r) {
    if ((status = sdlab_npy_writer_open(&wr, fr, dtype, 2, sr)))
      goto done;
    open_r = 1;
  }
  for (size_t s0 = 0; s0 < K && !status; s0 += chunk) {
    size_t b = K - s0 < chunk ? K - s0 : chunk;
    sdlab_lrb_sampler_next(s, b, X);
    memset(Xp, 0, b * np * sizeof *Xp);
    if (has_r)
      memset(Xr, 0, b * nr * sizeof *Xr);
    for (size_t r = 0; r < b; r++) {
      size_t on = 0;
      for (size_t d = 0; d < n; d++) {
        double x = X[r * n + d];
        if (x == 0)
          continue;
        on++;
        const double *wp_d = gsl_matrix_const_ptr(WpT, d, 0), *wr_d = gsl_matrix_const_ptr(WrT, d, 0);
        double *xp = Xp + r * np, *xr = has_r ? Xr + r * nr : NULL;
        for (size_t i = 0; i < np; i++)
          xp[i] += x * wp_d[i];
        if (xr)
          for (size_t i = 0; i < nr; i++)
            xr[i] += x * wr_d[i];
      }
      *active += on;
      *alone += on == 1;
    }
    status = sdlab_npy_writer_append(&wx, X, b);
    if (!status)
      status = sdlab_npy_writer_append(&wp, Xp, b);
    if (!status && has_r)
      status = sdlab_npy_writer_append(&wr, Xr, b);
    sdlab_cli_progress_update(prog, "C.2-C.3 samples", s0 + b, K, NULL, 0);
  }
  /* a writer is finished by close whether it succeeds or not */
  if (!status) {
    open_x = 0;
    status = sdlab_npy_writer_close(&wx);
  }
  if (!status) {
    open_p = 0;
    status = sdlab_npy_writer_close(&wp);
  }
  if (!status && has_r) {
    open_r = 0;
    status = sdlab_npy_writer_close(&wr);
  }
done:
  if (open_x)
    sdlab_npy_writer_abort(&wx);
  if (open_p)
    sdlab_npy_writer_abort(&wp);
  if (open_r)
    sdlab_npy_writer_abort(&wr);
  sdlab_lrb_sampler_free(s);
  if (WpT) gsl_matrix_free(WpT);
  if (WrT) gsl_matrix_free(WrT);
  free(X);
  free(Xp);
  free(Xr);
  free(fx);
  free(fp);
  free(fr);
  return status;
}

/* The bytes DIR will hold: W_p (and W_r), x, x_p (and x_r), exactly; meta.json at most 4096 bytes plus 24 per
 * feature (its parent_of list).  UINT64_MAX when that does not fit 64 bits. */
static uint64_t
output_bytes(const sdlab_lrb_params *p, sdlab_dtype dtype)
{
  const size_t n = p->n, np = sdlab_lrb_input_dim(p), nr = sdlab_lrb_target_dim(p), K = p->samples;
  const int has_r = p->target != SDLAB_TARGET_SAE;
  const size_t wp[2] = {np, n}, wr[2] = {nr, n}, x[2] = {K, n}, xp[2] = {K, np}, xr[2] = {K, nr};
  const uint64_t part[6] = {sdlab_npy_file_bytes(SDLAB_F64, 2, wp), has_r ? sdlab_npy_file_bytes(SDLAB_F64, 2, wr) : 0,
                            sdlab_npy_file_bytes(dtype, 2, x), sdlab_npy_file_bytes(dtype, 2, xp),
                            has_r ? sdlab_npy_file_bytes(dtype, 2, xr) : 0,
                            n > (UINT64_MAX - 4096) / 24 ? UINT64_MAX : 4096 + 24 * (uint64_t)n};
  uint64_t total = 0;
  for (int i = 0; i < 6; i++)
    total = part[i] > UINT64_MAX - total ? UINT64_MAX : total + part[i];
  return total;
}

int
sdlab_cmd_lrb(int argc, char **argv)
{
  sdlab_opt o[O_COUNT];
  sdlab_lrb_params p;
  sdlab_dtype dtype;
  int r = parse_params(argc, argv, &p, o, &dtype);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r)
    return SDLAB_EXIT_USAGE;
  int status = sdlab_lrb_check(&p);
  if (!status && dtype == SDLAB_F32 && !(sdlab_lrb_largest_value(&p) < FLT_MAX))
    status = sdlab_fail(SDLAB_EPARAM, "--beta %g with --cmin %g and %zu features can draw samples beyond float32's range "
                        "(up to %g); use --dtype f64 or a smaller scale", p.beta, p.cmin, p.n, sdlab_lrb_largest_value(&p));
  if (status)
    return sdlab_cli_invalid("lrb", status);
  const char *out = o[O_OUT].value;
  const int force = o[O_FORCE].value != NULL;
  char *staging = NULL;
  if ((status = sdlab_io_space_check(out, output_bytes(&p, dtype)))) /* say which sizes ask for it */
    return sdlab_cli_fail("lrb", sdlab_fail(status, "%s (--features %zu, --dim %zu, --samples %zu)",
                                             sdlab_error_message(status), p.n, p.dim, p.samples));
  if ((status = sdlab_io_outdir_begin(out, force, &staging)))
    return sdlab_cli_fail("lrb", status);
  sdlab_cli_progress prog;
  sdlab_cli_progress_init(&prog, o[O_QUIET].value != NULL);
  sdlab_lrb_truth t;
  double t0 = sdlab_now();
  status = sdlab_lrb_truth_make(&p, &t, sdlab_cli_progress_update, &prog);
  double t1 = sdlab_now();
  size_t active = 0, alone = 0;
  double *Md = malloc(p.n * sizeof *Md);
  char *f = NULL;
  if (!status && Md == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status)
    status = sdlab_lrb_md(&p, Md);
  if (!status) {
    f = sdlab_io_path_join(staging, "W_p.npy");
    status = sdlab_npy_write_matrix(f, t.Wp, SDLAB_F64);
    free(f);
  }
  if (!status && p.target != SDLAB_TARGET_SAE) {
    f = sdlab_io_path_join(staging, "W_r.npy");
    status = sdlab_npy_write_matrix(f, t.Wr, SDLAB_F64);
    free(f);
  }
  if (!status)
    status = write_samples(staging, &p, &t, dtype, &prog, &active, &alone);
  double t2 = sdlab_now();
  if (!status) {
    sdlab_json j;
    sdlab_json_init(&j);
    write_meta(&j, &p, &t, dtype, Md, active, alone);
    status = sdlab_json_write(&j, staging, "meta.json");
  }
  sdlab_cli_progress_done(&prog);
  if (!status)
    status = sdlab_io_outdir_commit(staging, out, force);
  else
    sdlab_io_outdir_abort(staging);
  free(Md);
  sdlab_lrb_features_info info = t.info_p;
  sdlab_lrb_truth_free(&t);
  if (status)
    return sdlab_cli_fail("lrb", status);
  if (!o[O_QUIET].value)
    fprintf(stderr, "sdlab lrb: wrote %s (n = %zu, n_p = %zu, N = %zu; max interference %.4g after %zu iterations; "
            "%.1f s + %.1f s)\n", out, p.n, sdlab_lrb_input_dim(&p), p.samples, info.achieved, info.iterations,
            t1 - t0, t2 - t1);
  return SDLAB_EXIT_OK;
}
