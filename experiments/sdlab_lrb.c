#include "sdlab_lrb.h"
#include "sdlab_blas.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_randist.h>

enum { STREAM_WP = 1, STREAM_WR = 1000, STREAM_CODES_IND = 2000, STREAM_CODES_GRP = 2001 };
/* OpenBLAS's threads in C.1's products: two, the default on the 2-core machines that made the committed data sets
 * (one thread changes paper-repro/results/ablations-full/data/t4-n1100's directions) */
enum { LRB_BLAS_THREADS = 2 };

void
sdlab_lrb_params_default(sdlab_lrb_params *p)
{
  memset(p, 0, sizeof *p);
  p->n = 1000;
  p->dim = 768;
  p->samples = 100000;
  p->S = 0.99;
  p->M = 0.1;
  p->cmin = 0.0;
  p->beta = 1.0;
  p->cmax = INFINITY;
  p->target = SDLAB_TARGET_SAE;
  p->sources = 1;
  p->seed = 0;
  p->eps = 0.01;
  p->lambda = 1e-3;
  p->eta = 0.05;
  p->max_iter = 10000;
}

size_t
sdlab_lrb_input_dim(const sdlab_lrb_params *p)
{
  return p->dim;
}

size_t
sdlab_lrb_target_dim(const sdlab_lrb_params *p)
{
  if (p->target == SDLAB_TARGET_TRANSCODER)
    return p->target_dim ? p->target_dim : p->dim;
  return p->dim;
}

/* Whether `n` unit vectors in R^dim can have every pairwise inner product <= M. */
static int
interference_possible(size_t n, size_t dim, double M, const char **why)
{
  if (n < 2)
    return 1;
  if (M < -1.0 / (double)(n - 1)) {
    *why = "n unit vectors always have max_{i!=j} <w_i,w_j> >= -1/(n-1), since ||sum w_i||^2 >= 0";
    return 0;
  }
  if (M < 0 && n > dim + 1) {
    *why = "at most n_p + 1 vectors in R^n_p can have pairwise negative inner products";
    return 0;
  }
  if (M <= 0 && n > 2 * dim) {
    *why = "at most 2 n_p vectors in R^n_p can have pairwise non-positive inner products";
    return 0;
  }
  return 1;
}

double
sdlab_lrb_largest_value(const sdlab_lrb_params *p)
{
  const double c = fmin(p->cmin + p->beta * SDLAB_LRB_EXP_MAX, p->cmax);
  return (double)p->n * c;
}

int
sdlab_lrb_check(const sdlab_lrb_params *p)
{
  if (p->n == 0)
    return sdlab_fail(SDLAB_EPARAM, "--features must be positive");
  if (p->dim == 0)
    return sdlab_fail(SDLAB_EPARAM, "--dim must be positive");
  if (p->samples == 0)
    return sdlab_fail(SDLAB_EPARAM, "--samples must be positive");
  if (!(p->S >= 0 && p->S < 1))
    return sdlab_fail(SDLAB_EPARAM, "--sparsity is the probability that a feature is inactive: it must lie in "
                      "[0, 1) (got %g; at 1 every sample is zero)", p->S);
  if (!(p->M >= -1 && p->M <= 1))
    return sdlab_fail(SDLAB_EPARAM, "--interference bounds inner products of unit vectors: it must lie in [-1, 1] "
                      "(got %g)", p->M);
  if (!(p->cmin >= 0) || !isfinite(p->cmin))
    return sdlab_fail(SDLAB_EPARAM, "--cmin must be finite and >= 0 (got %g)", p->cmin);
  if (!(p->beta > 0) || !isfinite(p->beta))
    return sdlab_fail(SDLAB_EPARAM, "--beta (the exponential's scale) must be finite and > 0 (got %g)", p->beta);
  if (!(p->cmax > p->cmin))
    return sdlab_fail(SDLAB_EPARAM, "--cmax must exceed --cmin (got %g <= %g)", p->cmax, p->cmin);
  if (!(sdlab_lrb_largest_value(p) < DBL_MAX))
    return sdlab_fail(SDLAB_EPARAM, "--beta %g with --cmin %g and %zu features can draw samples beyond float64's range "
                      "(a coordinate can reach %zu x (cmin + %.4g beta))", p->beta, p->cmin, p->n, p->n,
                      SDLAB_LRB_EXP_MAX);
  if (!(p->eps > 0) || !isfinite(p->eps) || !(p->lambda >= 0) || !isfinite(p->lambda) || !(p->eta > 0) ||
      !isfinite(p->eta))
    return sdlab_fail(SDLAB_EPARAM, "the C.1 constants need --lrb-eps > 0, --lrb-lambda >= 0, --lrb-eta > 0 (got %g, "
                      "%g, %g)", p->eps, p->lambda, p->eta);
  if (p->eps > 2) /* C.1 pushes cosines (in [-1, 1]) below M - eps: a margin beyond their range means nothing */
    return sdlab_fail(SDLAB_EPARAM, "--lrb-eps %g is wider than the cosines' range [-1, 1] (at most 2)", p->eps);
  if (p->target == SDLAB_TARGET_CROSSCODER) {
    if (p->sources < 1 || p->dim % p->sources)
      return sdlab_fail(SDLAB_EPARAM, "a crosscoder with m = %zu sources needs m >= 1 dividing --dim = %zu",
                        p->sources, p->dim);
  } else if (p->sources != 1) {
    return sdlab_fail(SDLAB_EPARAM, "--sources applies to --target crosscoder only");
  }
  if ((p->parents == 0) != (p->children == 0))
    return sdlab_fail(SDLAB_EPARAM, "a hierarchy needs both P >= 1 parents and K >= 1 sub-concepts (got %zu:%zu)",
                      p->parents, p->children);
  if (p->parents && (p->children > SIZE_MAX / p->parents - 1 || p->parents * (p->children + 1) > p->n))
    return sdlab_fail(SDLAB_EPARAM, "a hierarchy %zu:%zu needs P (K + 1) = %zu features, more than --features %zu",
                      p->parents, p->children, p->parents * (p->children + 1), p->n);
  const char *why = NULL;
  size_t block = p->target == SDLAB_TARGET_CROSSCODER ? p->dim / p->sources : p->dim;
  if (!interference_possible(p->n, block, p->M, &why))
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "--interference %g cannot be reached with %zu features in %zu "
                      "dimensions: %s", p->M, p->n, block, why);
  if (p->target == SDLAB_TARGET_TRANSCODER && !interference_possible(p->n, sdlab_lrb_target_dim(p), p->M, &why))
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "--interference %g cannot be reached by the transcoder target with %zu "
                      "features in %zu dimensions: %s", p->M, p->n, sdlab_lrb_target_dim(p), why);
  return SDLAB_SUCCESS;
}

unsigned long
sdlab_lrb_stream_seed(uint64_t seed, uint64_t stream)
{
  /* splitmix64 of (seed, stream): well-mixed, distinct streams for distinct names */
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (unsigned long)(z & 0xFFFFFFFFUL); /* MT19937 takes 32 bits */
}

static void
normalise_columns(gsl_matrix *W)
{
  for (size_t j = 0; j < W->size2; j++) {
    gsl_vector_view c = gsl_matrix_column(W, j);
    double norm = gsl_blas_dnrm2(&c.vector);
    if (norm > 0)
      gsl_vector_scale(&c.vector, 1.0 / norm);
  }
}

int
sdlab_lrb_features(const sdlab_lrb_params *p, size_t dim, gsl_rng *r, gsl_matrix *W,
                   sdlab_lrb_features_info *info, sdlab_progress_fn progress, void *ctx)
{
  const size_t n = p->n;
  if (W->size1 != dim || W->size2 != n)
    return sdlab_fail(SDLAB_ESHAPE, "C.1: W is %zu x %zu, expected %zu x %zu", W->size1, W->size2, dim, n);
  /* (27): Gaussian entries (unit variance; the scale is irrelevant after normalising), unit columns.
   * A zero column has probability 0 but is redrawn to be safe. */
  for (size_t j = 0; j < n; j++) {
    gsl_vector_view c = gsl_matrix_column(W, j);
    do {
      for (size_t i = 0; i < dim; i++)
        gsl_vector_set(&c.vector, i, gsl_ran_gaussian_ziggurat(r, 1.0));
    } while (gsl_blas_dnrm2(&c.vector) == 0);
  }
  normalise_columns(W);
  info->iterations = 0;
  info->achieved = -INFINITY;
  if (n < 2)
    return SDLAB_SUCCESS;
  gsl_matrix *G = gsl_matrix_alloc(n, n);
  gsl_matrix *step = gsl_matrix_alloc(dim, n);
  double *rowsum = malloc(n * sizeof *rowsum);
  if (G == NULL || step == NULL || rowsum == NULL) {
    if (G) gsl_matrix_free(G);
    if (step) gsl_matrix_free(step);
    free(rowsum);
    return sdlab_fail(GSL_ENOMEM, "out of memory for C.1 with n = %zu", n);
  }
  const double target = p->M - p->eps;
  int status = SDLAB_SUCCESS;
  /* OpenBLAS on LRB_BLAS_THREADS threads: its threads sum W^T W and W D differently, so their number, by default
   * the machine's cores, is fixed */
  const int blas = sdlab_blas_openblas_threads(LRB_BLAS_THREADS);
  for (size_t it = 0;; it++) {
    /* G = W^T W (upper triangle) */
    gsl_blas_dsyrk(CblasUpper, CblasTrans, 1.0, W, 0.0, G);
    double maxoff = -INFINITY;
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++)
        maxoff = fmax(maxoff, gsl_matrix_get(G, i, j));
    info->iterations = it;
    info->achieved = maxoff;
    if (progress) {
      const sdlab_progress_figure fig = {"largest interference", maxoff};
      progress(ctx, "C.1 interference", it, p->max_iter, &fig, 1);
    }
    if (maxoff <= p->M)
      break;
    if (it == p->max_iter) {
      status = sdlab_fail(SDLAB_EUNREACHED, "C.1 stopped after %zu iterations at max interference %.6g > M = %g "
                          "(raise --interference or --lrb-iter, or lower --features, --lrb-eps or the step --lrb-eta)", it,
                          maxoff, p->M);
      break;
    }
    /* D (upper triangle, symmetric, zero diagonal) overwrites G; rowsum[i] = sum_j D_ij */
    memset(rowsum, 0, n * sizeof *rowsum);
    for (size_t i = 0; i < n; i++) {
      gsl_matrix_set(G, i, i, 0.0);
      for (size_t j = i + 1; j < n; j++) {
        double g = gsl_matrix_get(G, i, j);
        double d = 2.0 * fmax(0.0, g - target) + 2.0 * p->lambda * fmax(0.0, g);
        gsl_matrix_set(G, i, j, d);
        rowsum[i] += d;
        rowsum[j] += d;
      }
    }
    /* W <- W - eta' 2 W D, then (29) renormalise.  Column i moves by at most 2 eta sum_j D_ij, so
     * eta' = eta / max(1, max_i sum_j D_ij) keeps every move within 2 eta: with many violated pairs a
     * plain step overshoots and can merge columns. */
    double dmax = 1.0;
    for (size_t i = 0; i < n; i++)
      dmax = fmax(dmax, rowsum[i]);
    gsl_blas_dsymm(CblasRight, CblasUpper, 2.0 * p->eta / dmax, G, W, 0.0, step);
    gsl_matrix_sub(W, step);
    normalise_columns(W);
  }
  sdlab_blas_openblas_restore(blas);
  gsl_matrix_free(G);
  gsl_matrix_free(step);
  free(rowsum);
  return status;
}

int
sdlab_lrb_directions(size_t n, size_t dim, double M, uint64_t seed, gsl_matrix **Wp)
{
  sdlab_lrb_params lp;
  sdlab_lrb_params_default(&lp);
  lp.n = n;
  lp.dim = dim;
  lp.M = M;
  lp.samples = 1;
  lp.seed = seed;
  sdlab_lrb_truth t;
  int status = sdlab_lrb_truth_make(&lp, &t, NULL, NULL);
  *Wp = status ? NULL : t.Wp;
  if (!status)
    gsl_matrix_free(t.Wr);
  return status;
}

void
sdlab_lrb_truth_free(sdlab_lrb_truth *t)
{
  if (t == NULL)
    return;
  if (t->Wp) gsl_matrix_free(t->Wp);
  if (t->Wr) gsl_matrix_free(t->Wr);
  t->Wp = t->Wr = NULL;
}

int
sdlab_lrb_truth_make(const sdlab_lrb_params *p, sdlab_lrb_truth *t, sdlab_progress_fn progress, void *ctx)
{
  memset(t, 0, sizeof *t);
  int status = sdlab_lrb_check(p);
  if (status)
    return status;
  const size_t np = sdlab_lrb_input_dim(p), nr = sdlab_lrb_target_dim(p), m = p->sources;
  t->Wp = gsl_matrix_alloc(np, p->n);
  t->Wr = gsl_matrix_alloc(nr, p->n);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!t->Wp || !t->Wr || !r) {
    status = sdlab_fail(GSL_ENOMEM, "out of memory for the bench's feature matrices W_p and W_r (--dim %zu, "
                        "--features %zu: %.4g bytes)", np, p->n, 8.0 * ((double)np + (double)nr) * (double)p->n);
    goto done;
  }
  if (p->target == SDLAB_TARGET_CROSSCODER) {
    const size_t block = np / m;
    gsl_matrix *Wb = gsl_matrix_alloc(block, p->n);
    if (Wb == NULL) {
      status = sdlab_fail(GSL_ENOMEM, "out of memory for a crosscoder source");
      goto done;
    }
    for (size_t b = 0; b < m && !status; b++) {
      sdlab_lrb_features_info info;
      gsl_rng_set(r, sdlab_lrb_stream_seed(p->seed, STREAM_WP + b));
      status = sdlab_lrb_features(p, block, r, Wb, &info, progress, ctx);
      t->info_p.iterations += info.iterations;
      if (!status) {
        gsl_matrix_view dst = gsl_matrix_submatrix(t->Wp, b * block, 0, block, p->n);
        gsl_matrix_memcpy(&dst.matrix, Wb);
        gsl_matrix_scale(&dst.matrix, 1.0 / sqrt((double)m));
      }
    }
    gsl_matrix_free(Wb);
    t->info_p.achieved = sdlab_construct_max_interference(t->Wp);
  } else {
    gsl_rng_set(r, sdlab_lrb_stream_seed(p->seed, STREAM_WP));
    status = sdlab_lrb_features(p, np, r, t->Wp, &t->info_p, progress, ctx);
  }
  if (status)
    goto done;
  if (p->target == SDLAB_TARGET_TRANSCODER) {
    gsl_rng_set(r, sdlab_lrb_stream_seed(p->seed, STREAM_WR));
    status = sdlab_lrb_features(p, nr, r, t->Wr, &t->info_r, progress, ctx);
  } else {
    gsl_matrix_memcpy(t->Wr, t->Wp);
    t->info_r = t->info_p;
  }
done:
  if (r)
    gsl_rng_free(r);
  if (status)
    sdlab_lrb_truth_free(t);
  return status;
}

/* ---- C.2 ---- */

struct sdlab_lrb_sampler {
  sdlab_lrb_params p;
  size_t n_ind, first_ind; /* independent features: indices first_ind .. n-1 */
  gsl_rng *r_ind, *r_grp;
  uint64_t next_ind, next_grp; /* flat index of the next active (sample, feature) / (sample, parent) */
  uint64_t sample;             /* samples produced so far */
};

#define NEVER UINT64_MAX

/* Trials up to and including the first success of Bernoulli(p): floor(log U / log(1-p)) + 1. */
static uint64_t
geometric(gsl_rng *r, double p)
{
  if (p <= 0)
    return NEVER;
  if (p >= 1)
    return 1;
  double k = floor(log(gsl_rng_uniform_pos(r)) / log1p(-p)) + 1.0;
  return k >= 9.2e18 ? NEVER : (uint64_t)k;
}

static uint64_t
advance(uint64_t at, uint64_t by)
{
  return by == NEVER || at > NEVER - by ? NEVER : at + by;
}

static double
magnitude(const sdlab_lrb_params *p, gsl_rng *r)
{
  if (isinf(p->cmax))
    return p->cmin + gsl_ran_exponential(r, p->beta);
  /* inverse CDF of Exp(beta) truncated to [0, cmax - cmin] */
  double L = p->cmax - p->cmin;
  double u = gsl_rng_uniform(r);
  return p->cmin - p->beta * log1p(-u * -expm1(-L / p->beta));
}

sdlab_lrb_sampler *
sdlab_lrb_sampler_alloc(const sdlab_lrb_params *p)
{
  if (sdlab_lrb_check(p))
    return NULL;
  sdlab_lrb_sampler *s = calloc(1, sizeof *s);
  if (s == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for a sampler");
    return NULL;
  }
  s->p = *p;
  s->first_ind = p->parents * (p->children + 1);
  s->n_ind = p->n - s->first_ind;
  s->r_ind = gsl_rng_alloc(gsl_rng_mt19937);
  s->r_grp = gsl_rng_alloc(gsl_rng_mt19937);
  if (!s->r_ind || !s->r_grp) {
    sdlab_lrb_sampler_free(s);
    sdlab_fail(GSL_ENOMEM, "out of memory for a sampler");
    return NULL;
  }
  gsl_rng_set(s->r_ind, sdlab_lrb_stream_seed(p->seed, STREAM_CODES_IND));
  gsl_rng_set(s->r_grp, sdlab_lrb_stream_seed(p->seed, STREAM_CODES_GRP));
  double act = 1.0 - p->S;
  s->next_ind = s->n_ind ? advance(0, geometric(s->r_ind, act)) - 1 : NEVER;
  s->next_grp = p->parents ? advance(0, geometric(s->r_grp, act)) - 1 : NEVER;
  if (s->next_ind == NEVER - 1) s->next_ind = NEVER;
  if (s->next_grp == NEVER - 1) s->next_grp = NEVER;
  return s;
}

void
sdlab_lrb_sampler_free(sdlab_lrb_sampler *s)
{
  if (s == NULL)
    return;
  if (s->r_ind) gsl_rng_free(s->r_ind);
  if (s->r_grp) gsl_rng_free(s->r_grp);
  free(s);
}

int
sdlab_lrb_sampler_next(sdlab_lrb_sampler *s, size_t count, double *X)
{
  const sdlab_lrb_params *p = &s->p;
  const size_t n = p->n, P = p->parents, K = p->children;
  const double act = 1.0 - p->S;
  memset(X, 0, count * n * sizeof *X);
  const uint64_t end = s->sample + count;
  /* independent features: flat grid of samples x n_ind */
  if (s->n_ind) {
    const uint64_t limit = end * s->n_ind;
    while (s->next_ind < limit) {
      uint64_t sample = s->next_ind / s->n_ind, f = s->next_ind % s->n_ind;
      X[(sample - s->sample) * n + s->first_ind + f] = magnitude(p, s->r_ind);
      s->next_ind = advance(s->next_ind, geometric(s->r_ind, act));
    }
  }
  /* hierarchy groups: flat grid of samples x P; an active parent picks one sub-concept uniformly */
  if (P) {
    const uint64_t limit = end * P;
    while (s->next_grp < limit) {
      uint64_t sample = s->next_grp / P, g = s->next_grp % P;
      double *row = X + (sample - s->sample) * n;
      size_t child = (size_t)gsl_rng_uniform_int(s->r_grp, K);
      row[g] = magnitude(p, s->r_grp);
      row[P + g * K + child] = magnitude(p, s->r_grp);
      s->next_grp = advance(s->next_grp, geometric(s->r_grp, act));
    }
  }
  s->sample = end;
  return SDLAB_SUCCESS;
}

double
sdlab_lrb_second_moment(const sdlab_lrb_params *p)
{
  const double c = p->cmin, b = p->beta;
  double m1, m2; /* E[Y], E[Y^2] of the (possibly truncated) exponential part */
  if (isinf(p->cmax)) {
    m1 = b;
    m2 = 2 * b * b;
  } else {
    /* Exp(scale b) truncated to [0, L]: E[Y] = b - L/(e^{L/b} - 1), E[Y^2] = 2b^2 - (L^2 + 2bL)/(e^{L/b} - 1) */
    double L = p->cmax - c, e = expm1(L / b);
    m1 = b - L / e;
    m2 = 2 * b * b - (L * L + 2 * b * L) / e;
  }
  return c * c + 2 * c * m1 + m2;
}

double
sdlab_lrb_active_probability(const sdlab_lrb_params *p, size_t d)
{
  const size_t P = p->parents, K = p->children;
  if (d < P)
    return 1.0 - p->S;
  if (d < P * (K + 1))
    return (1.0 - p->S) / (double)K;
  return 1.0 - p->S;
}

int
sdlab_lrb_hierarchy_parse(const char *text, size_t *parents, size_t *children)
{
  unsigned long long v[2] = {0, 0};
  const char *t = text;
  for (int k = 0; k < 2; k++) {
    if (!isdigit((unsigned char)*t))
      return GSL_EINVAL;
    char *end;
    errno = 0;
    v[k] = strtoull(t, &end, 10);
    if (errno || v[k] == 0 || v[k] > SIZE_MAX || *end != (k ? '\0' : ':'))
      return GSL_EINVAL;
    t = end + 1;
  }
  *parents = (size_t)v[0];
  *children = (size_t)v[1];
  return SDLAB_SUCCESS;
}

long
sdlab_lrb_parent_of(const sdlab_lrb_params *p, size_t d)
{
  const size_t P = p->parents, K = p->children;
  if (d >= P && d < P * (K + 1))
    return (long)((d - P) / K);
  return -1;
}

int
sdlab_lrb_md(const sdlab_lrb_params *p, double *Md)
{
  int status = sdlab_lrb_check(p);
  if (status)
    return status;
  const size_t first_ind = p->parents * (p->children + 1), n_ind = p->n - first_ind;
  const double m2 = sdlab_lrb_second_moment(p);
  /* an independent feature is alone when the other n_ind - 1 independent features and all P groups
   * are off */
  double alone = n_ind ? (1.0 - p->S) * pow(p->S, (double)(n_ind - 1 + p->parents)) : 0.0;
  for (size_t d = 0; d < p->n; d++)
    Md[d] = d < first_ind ? 0.0 : alone * m2;
  return SDLAB_SUCCESS;
}
