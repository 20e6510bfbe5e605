#include "sdlab_atlas.h"
#include "sdlab_errno.h"
#include "sdlab_landscape.h"
#include "sdlab_lrb.h"

#include <gsl/gsl_errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CLASSES[SDLAB_ATLAS_CLASSES] = {"global", "spurious", "spurious_dead", "undecided",
                                                         "unconverged"};

const char *
sdlab_atlas_class_name(int k)
{
  return k >= 0 && k < SDLAB_ATLAS_CLASSES ? CLASSES[k] : "?";
}

void
sdlab_atlas_cell_default(sdlab_atlas_cell *c)
{
  memset(c, 0, sizeof *c);
  c->n = 4;
  c->np = 2;
  c->nq = 2;
  c->act.kind = SDLAB_ACT_RELU;
  c->interference = 0.3;
  c->sgd_runs = 20;
  c->sgd_steps = 20000;
  c->lr = 0.01;
  c->tol = 1e-6;
  c->bnb_nodes = 100000;
  c->anchor_weight = 0.1;
  c->threads = 1;
}

int
sdlab_atlas_cell_check(const sdlab_atlas_cell *c)
{
  if (c->act.kind != SDLAB_ACT_RELU && c->act.kind != SDLAB_ACT_JUMPRELU && c->act.kind != SDLAB_ACT_TOPK_RELU)
    return sdlab_fail(SDLAB_EPARAM, "the atlas takes relu, jumprelu:T and topk-relu:K");
  if (c->n < 2 || c->n > 12 || c->np < 2 || c->np > c->n || c->nq < 1 || c->nq > 8)
    return sdlab_fail(SDLAB_EPARAM, "the atlas's instances need 2 <= n_p <= n <= 12 features and 1 to 8 latents (got "
                      "n = %zu, n_p = %zu, n_q = %zu)", c->n, c->np, c->nq);
  if (c->act.kind == SDLAB_ACT_TOPK_RELU && (c->act.k < 1 || c->act.k > c->nq))
    return sdlab_fail(SDLAB_EPARAM, "topk-relu:%zu needs 1 <= k <= n_q = %zu", c->act.k, c->nq);
  if (c->sgd_runs == 0 || c->sgd_steps == 0 || !(c->lr > 0) || !(c->tol > 0) || !isfinite(c->lr))
    return sdlab_fail(SDLAB_EPARAM, "the atlas needs runs, steps, a learning rate and a tolerance above 0");
  if (c->anchors > c->nq || c->anchors > c->n || !(c->anchor_weight > 0) || !isfinite(c->anchor_weight))
    return sdlab_fail(SDLAB_EPARAM, "--anchors %zu needs at most min(n_q, n) = %zu latents and a positive finite "
                      "--anchor-weight", c->anchors, c->nq < c->n ? c->nq : c->n);
  if (!(c->interference > -1) || !(c->interference < 1))
    return sdlab_fail(SDLAB_EPARAM, "--interference %g: C.1's M lies in (-1, 1)", c->interference);
  return SDLAB_SUCCESS;
}

int
sdlab_atlas_instance_run(const sdlab_atlas_cell *c, uint64_t seed, sdlab_atlas_instance *out)
{
  int status = sdlab_atlas_cell_check(c);
  if (status)
    return status;
  memset(out, 0, sizeof *out);
  out->seed = seed;
  gsl_matrix *Wp;
  if ((status = sdlab_lrb_directions(c->n, c->np, c->interference, seed, &Wp)))
    return status;
  gsl_vector *Md = gsl_vector_alloc(c->n);
  if (Md == NULL) {
    gsl_matrix_free(Wp);
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  gsl_vector_set_all(Md, 1.0);
  sdlab_landscape_params p;
  sdlab_landscape_params_default(&p);
  p.sgd_runs = c->sgd_runs;
  p.sgd_steps = c->sgd_steps;
  p.lr = c->lr;
  p.tol = c->tol;
  p.seed = seed;
  p.bnb_nodes = c->bnb_nodes;
  p.threads = c->threads;
  p.anchors = c->anchors;
  p.anchor_weight = c->anchor_weight;
  p.basin = c->basin;
  sdlab_landscape l;
  status = sdlab_landscape_run_census(Wp, Wp, Md, c->nq, &c->act, &p, &l, NULL, NULL);
  if (!status) {
    out->pieces = l.count;
    out->certified = l.certified;
    out->global_lower = l.global_lower;
    out->global_upper = l.global_upper;
    const double scale = c->tol * fmax(1.0, l.global_upper);
    out->global_certified = l.global_upper - l.global_lower <= scale;
    for (size_t r = 0; r < l.runs_count; r++) {
      const sdlab_landscape_run *run = &l.runs[r];
      int k;
      if (run->cls == SDLAB_SGD_NOT_CONVERGED)
        k = SDLAB_ATLAS_UNCONVERGED;
      else if (run->cls == SDLAB_SGD_GLOBAL) /* at the best point found */
        k = out->global_certified ? SDLAB_ATLAS_GLOBAL : SDLAB_ATLAS_UNDECIDED;
      else /* above a point the census found: spurious, certified or not */
        k = run->cls == SDLAB_SGD_DEAD ? SDLAB_ATLAS_SPURIOUS_DEAD : SDLAB_ATLAS_SPURIOUS;
      out->runs[k]++;
      if (k == SDLAB_ATLAS_SPURIOUS || k == SDLAB_ATLAS_SPURIOUS_DEAD)
        out->max_gap = fmax(out->max_gap, run->loss - l.global_upper);
    }
    sdlab_landscape_free(&l);
  }
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
  return status;
}

const char *
sdlab_atlas_instance_header(void)
{
  return "# seed\tpieces\tcertified\tglobal_certified\tglobal_lower\tglobal_upper\tglobal\tspurious\tspurious_dead\t"
         "undecided\tunconverged\tmax_gap";
}

int
sdlab_atlas_instance_format(const sdlab_atlas_instance *in, char *buf, size_t len)
{
  const int w = snprintf(buf, len, "%" PRIu64 "\t%zu\t%zu\t%d\t%.17g\t%.17g\t%zu\t%zu\t%zu\t%zu\t%zu\t%.17g", in->seed,
                         in->pieces, in->certified, in->global_certified, in->global_lower, in->global_upper,
                         in->runs[0], in->runs[1], in->runs[2], in->runs[3], in->runs[4], in->max_gap);
  return w > 0 && (size_t)w < len ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "an atlas line longer than %zu bytes", len);
}

int
sdlab_atlas_instance_parse(const char *line, const char *where, sdlab_atlas_instance *out)
{
  memset(out, 0, sizeof *out);
  int consumed = 0;
  const int got = sscanf(line, "%" SCNu64 "\t%zu\t%zu\t%d\t%lf\t%lf\t%zu\t%zu\t%zu\t%zu\t%zu\t%lf%n", &out->seed,
                         &out->pieces, &out->certified, &out->global_certified, &out->global_lower, &out->global_upper,
                         &out->runs[0], &out->runs[1], &out->runs[2], &out->runs[3], &out->runs[4], &out->max_gap,
                         &consumed);
  if (got != 12 || (line[consumed] != '\0' && line[consumed] != '\n') || out->certified > out->pieces ||
      (out->global_certified != 0 && out->global_certified != 1) || !isfinite(out->global_lower) ||
      !isfinite(out->global_upper) || !(out->max_gap >= 0))
    return sdlab_fail(SDLAB_EBADFILE, "%s: not an atlas instance line (%s)", where, sdlab_atlas_instance_header() + 2);
  return SDLAB_SUCCESS;
}

void
sdlab_atlas_wilson(size_t k, size_t n, double *lo, double *hi)
{
  if (n == 0) {
    *lo = 0, *hi = 1;
    return;
  }
  const double z = 1.959963984540054, p = (double)k / (double)n, z2n = z * z / (double)n;
  const double centre = (p + z2n / 2) / (1 + z2n);
  const double half = z * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n)) / (1 + z2n);
  *lo = k == 0 ? 0.0 : fmax(0.0, centre - half); /* exactly, where rounding would leave a few ulps */
  *hi = k == n ? 1.0 : fmin(1.0, centre + half);
}

void
sdlab_atlas_summarise(const sdlab_atlas_instance *in, size_t count, sdlab_atlas_summary *s)
{
  memset(s, 0, sizeof *s);
  s->instances = count;
  for (size_t i = 0; i < count; i++) {
    for (int k = 0; k < SDLAB_ATLAS_CLASSES; k++) {
      s->count[k] += in[i].runs[k];
      s->runs += in[i].runs[k];
    }
    s->with_spurious += in[i].runs[SDLAB_ATLAS_SPURIOUS] + in[i].runs[SDLAB_ATLAS_SPURIOUS_DEAD] > 0;
    s->certified_instances += in[i].certified == in[i].pieces;
  }
  for (int k = 0; k < SDLAB_ATLAS_CLASSES; k++) {
    s->frac[k] = s->runs ? (double)s->count[k] / (double)s->runs : NAN;
    sdlab_atlas_wilson(s->count[k], s->runs, &s->lo[k], &s->hi[k]);
  }
  s->with_spurious_frac = count ? (double)s->with_spurious / (double)count : NAN;
  sdlab_atlas_wilson(s->with_spurious, count, &s->with_spurious_lo, &s->with_spurious_hi);
}
