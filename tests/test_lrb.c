/* The Linear Representation Bench (Appendix C): C.1's guarantees, C.2's distribution (frequencies,
 * magnitudes, M_d) against binomial and normal confidence intervals, Definition 3.2 for hierarchies,
 * determinism, and every rejection of an impossible request.
 * Confidence intervals use z = Phi^{-1}(1 - 1e-6 / (2 m)) for m simultaneous comparisons (Bonferroni):
 * a correct generator fails one of them with probability below 1e-6; the seeds are fixed. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <gsl/gsl_cdf.h>

#include "helpers.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_lrb.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(lrb, .init = init);

static double
bonferroni_z(double m)
{
  return gsl_cdf_ugaussian_Qinv(1e-6 / (2 * m));
}

static sdlab_lrb_params
params(size_t n, size_t dim, double S, double M, uint64_t seed)
{
  sdlab_lrb_params p;
  sdlab_lrb_params_default(&p);
  p.n = n;
  p.dim = dim;
  p.S = S;
  p.M = M;
  p.seed = seed;
  p.samples = 1;
  return p;
}

/* max_{i != j} <w_i, w_j> by plain loops (independent of the BLAS path of the generator) */
static double
plain_max_interference(const gsl_matrix *W, double *worst_norm_error)
{
  double M = -INFINITY, e = 0;
  for (size_t i = 0; i < W->size2; i++) {
    double nn = 0;
    for (size_t a = 0; a < W->size1; a++)
      nn += gsl_matrix_get(W, a, i) * gsl_matrix_get(W, a, i);
    e = fmax(e, fabs(sqrt(nn) - 1));
    for (size_t j = i + 1; j < W->size2; j++) {
      double g = 0;
      for (size_t a = 0; a < W->size1; a++)
        g += gsl_matrix_get(W, a, i) * gsl_matrix_get(W, a, j);
      M = fmax(M, g);
    }
  }
  *worst_norm_error = e;
  return M;
}

Test(lrb, c1_unit_columns_and_interference_at_most_M)
{
  const struct { size_t n, dim; double M; } cases[] = {
    {4, 3, -0.3}, /* near the regular tetrahedron (-1/3) */
    {6, 3, 1e-12}, /* the octahedron (M = 0 exactly) is reachable only to rounding: ask for slightly more */
    {50, 20, 0.3}, {200, 64, 0.2}, {300, 256, 0.1}, {7, 7, 0.0}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (uint64_t seed = 1; seed <= 3; seed++) {
      sdlab_lrb_params p = params(cases[c].n, cases[c].dim, 0.9, cases[c].M, seed);
      sdlab_lrb_truth t;
      int status = sdlab_lrb_truth_make(&p, &t, NULL, NULL);
      cr_assert_eq(status, 0, "n %zu dim %zu M %g seed %llu: %s", p.n, p.dim, p.M, (unsigned long long)seed,
                   sdlab_error_message(status));
      double norm_err, M = plain_max_interference(t.Wp, &norm_err);
      /* normalisation leaves each norm within gamma_dim of 1; the comparison with M uses the same
       * products, so only their rounding (gamma_dim) separates the two computations */
      cr_assert(norm_err <= test_gamma(2.0 * p.dim), "column norm off by %g", norm_err);
      cr_assert(M <= p.M + test_gamma(2.0 * p.dim), "max interference %.17g > M = %g", M, p.M);
      cr_assert(fabs(M - t.info_p.achieved) <= test_gamma(2.0 * p.dim), "reported %.17g, recomputed %.17g",
                t.info_p.achieved, M);
      sdlab_lrb_truth_free(&t);
    }
}

Test(lrb, c1_is_deterministic_and_seed_dependent)
{
  sdlab_lrb_params p = params(40, 16, 0.9, 0.2, 9);
  sdlab_lrb_truth a, b, c;
  cr_assert_eq(sdlab_lrb_truth_make(&p, &a, NULL, NULL), 0);
  cr_assert_eq(sdlab_lrb_truth_make(&p, &b, NULL, NULL), 0);
  p.seed = 10;
  cr_assert_eq(sdlab_lrb_truth_make(&p, &c, NULL, NULL), 0);
  cr_assert(memcmp(a.Wp->data, b.Wp->data, 40 * 16 * sizeof(double)) == 0);
  cr_assert(memcmp(a.Wp->data, c.Wp->data, 40 * 16 * sizeof(double)) != 0);
  sdlab_lrb_truth_free(&a);
  sdlab_lrb_truth_free(&b);
  sdlab_lrb_truth_free(&c);
}

Test(lrb, c1_reports_impossible_and_unreached_targets)
{
  sdlab_lrb_params p = params(4, 3, 0.9, -0.34, 1); /* below -1/(n-1) = -1/3 */
  sdlab_lrb_truth t;
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), SDLAB_EIMPOSSIBLE);
  p = params(5, 3, 0.9, -0.01, 1); /* negative M with n > n_p + 1 */
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), SDLAB_EIMPOSSIBLE);
  p = params(7, 3, 0.9, 0.0, 1); /* non-positive M with n > 2 n_p */
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), SDLAB_EIMPOSSIBLE);
  cr_assert(strstr(sdlab_error_message(SDLAB_EIMPOSSIBLE), "2 n_p") != NULL);
  p = params(6, 3, 0.9, 1e-12, 1); /* the octahedron: possible (M = 0 exactly only to rounding) */
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), 0);
  sdlab_lrb_truth_free(&t);
  p = params(60, 10, 0.9, 0.05, 1);
  p.max_iter = 2;
  sdlab_error_clear();
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), SDLAB_EUNREACHED);
  cr_assert(strstr(sdlab_error_message(SDLAB_EUNREACHED), "stopped after 2 iterations") != NULL, "%s",
            sdlab_error_message(SDLAB_EUNREACHED));
  cr_assert_null(t.Wp, "nothing is left allocated on failure");
  const double bad_S[] = {-0.1, 1.5, NAN};
  for (int i = 0; i < 3; i++) {
    p = params(5, 3, bad_S[i], 0.5, 1);
    cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
  }
  p = params(0, 3, 0.9, 0.5, 1);
  cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
  p = params(5, 0, 0.9, 0.5, 1);
  cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
  p = params(5, 3, 0.9, 1.5, 1);
  cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
  p = params(5, 3, 0.9, 0.5, 1);
  p.beta = 0;
  cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
  p.beta = 1;
  p.parents = 2;
  p.children = 3; /* needs 8 features */
  cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
}

/* Draw N samples into a matrix (rows). */
static gsl_matrix *
draw(const sdlab_lrb_params *p, size_t N, size_t chunk)
{
  gsl_matrix *X = gsl_matrix_alloc(N, p->n);
  sdlab_lrb_sampler *s = sdlab_lrb_sampler_alloc(p);
  cr_assert_not_null(s);
  for (size_t done = 0; done < N; done += chunk) {
    size_t b = N - done < chunk ? N - done : chunk;
    sdlab_lrb_sampler_next(s, b, X->data + done * p->n);
  }
  sdlab_lrb_sampler_free(s);
  return X;
}

Test(lrb, c2_samples_do_not_depend_on_chunking)
{
  sdlab_lrb_params p = params(30, 8, 0.9, 0.3, 4);
  p.parents = 2;
  p.children = 3;
  gsl_matrix *a = draw(&p, 1000, 1000), *b = draw(&p, 1000, 7), *c = draw(&p, 1000, 1);
  cr_assert(memcmp(a->data, b->data, 1000 * 30 * sizeof(double)) == 0);
  cr_assert(memcmp(a->data, c->data, 1000 * 30 * sizeof(double)) == 0);
  gsl_matrix_free(a);
  gsl_matrix_free(b);
  gsl_matrix_free(c);
}

Test(lrb, c2_activation_frequency_and_magnitudes)
{
  const double Ss[] = {0.9, 0.99, 0.5};
  for (int k = 0; k < 3; k++)
    for (int truncated = 0; truncated <= 1; truncated++) {
      sdlab_lrb_params p = params(40, 8, Ss[k], 0.3, 11 + (uint64_t)k);
      p.cmin = 0.5;
      p.beta = 2.0;
      p.cmax = truncated ? 3.0 : INFINITY;
      const size_t N = 50000;
      gsl_matrix *X = draw(&p, N, 4096);
      const double z = bonferroni_z(3.0 * p.n);
      double q = 1 - p.S, m2 = sdlab_lrb_second_moment(&p);
      for (size_t d = 0; d < p.n; d++) {
        size_t on = 0;
        double s1 = 0, s2 = 0, s4 = 0;
        for (size_t i = 0; i < N; i++) {
          double x = gsl_matrix_get(X, i, d);
          cr_assert(x >= 0);
          if (x > 0) {
            on++;
            cr_assert(x >= p.cmin && x <= p.cmax);
            s1 += x;
            s2 += x * x;
            s4 += x * x * x * x;
          }
        }
        double sd = sqrt(N * q * (1 - q));
        cr_assert(fabs((double)on - N * q) <= z * sd + 0.5, "S %g feature %zu: %zu active of %zu, expected %g", p.S, d,
                  on, N, N * q);
        double mean2 = s2 / (double)on, var2 = s4 / (double)on - mean2 * mean2;
        cr_assert(fabs(mean2 - m2) <= z * sqrt(var2 / (double)on), "E[x^2|x>0]: sampled %g, closed form %g", mean2, m2);
        if (!truncated) {
          double mean = s1 / (double)on;
          cr_assert(fabs(mean - (p.cmin + p.beta)) <= z * p.beta / sqrt((double)on), "mean magnitude %g", mean);
        }
      }
      gsl_matrix_free(X);
    }
}

Test(lrb, md_closed_form_matches_the_data)
{
  /* M_d = P(only d active) E[x_d^2 | active] against sum_s 1{only d} x_d^2 / N */
  sdlab_lrb_params p = params(8, 6, 0.8, 0.3, 21);
  p.cmin = 0.2;
  p.cmax = 4;
  const size_t N = 200000;
  gsl_matrix *X = draw(&p, N, 4096);
  double Md[8], sum[8] = {0}, sumsq[8] = {0};
  size_t one = 0;
  cr_assert_eq(sdlab_lrb_md(&p, Md), 0);
  cr_assert_eq(sdlab_loss_md_accumulate(X, sum, &one), 0);
  for (size_t i = 0; i < N; i++) { /* per-sample second moments for the standard error */
    size_t on = 0, at = 0;
    for (size_t d = 0; d < p.n; d++)
      if (gsl_matrix_get(X, i, d) != 0) {
        on++;
        at = d;
      }
    if (on == 1) {
      double x = gsl_matrix_get(X, i, at);
      sumsq[at] += x * x * x * x;
    }
  }
  const double z = bonferroni_z(8);
  for (size_t d = 0; d < p.n; d++) {
    double est = sum[d] / (double)N, se = sqrt((sumsq[d] / (double)N - est * est) / (double)N);
    cr_assert(fabs(est - Md[d]) <= z * se, "M_%zu: closed form %.6g, data %.6g (se %.2g)", d, Md[d], est, se);
  }
  gsl_matrix_free(X);
}

Test(lrb, hierarchy_satisfies_definition_3_2)
{
  sdlab_lrb_params p = params(20, 10, 0.9, 0.3, 31);
  p.parents = 3;
  p.children = 4;
  const size_t N = 40000, P = 3, K = 4;
  gsl_matrix *X = draw(&p, N, 1000);
  size_t parent_on[3] = {0}, child_on[12] = {0};
  for (size_t i = 0; i < N; i++)
    for (size_t g = 0; g < P; g++) {
      size_t kids = 0;
      for (size_t j = 0; j < K; j++)
        if (gsl_matrix_get(X, i, P + g * K + j) > 0) {
          kids++;
          child_on[g * K + j]++;
        }
      int parent = gsl_matrix_get(X, i, g) > 0;
      parent_on[g] += parent;
      /* Definition 3.2: parent active iff some sub-concept is; here exactly one (exclusive breeds) */
      cr_assert_eq(parent, kids > 0, "sample %zu group %zu", i, g);
      cr_assert(kids <= 1);
    }
  const double z = bonferroni_z(15);
  for (size_t g = 0; g < P; g++) {
    double q = 1 - p.S;
    cr_assert(fabs(parent_on[g] - N * q) <= z * sqrt(N * q * (1 - q)));
    for (size_t j = 0; j < K; j++) {
      double qc = sdlab_lrb_active_probability(&p, P + g * K + j);
      cr_assert(fabs(qc - q / K) < 1e-15);
      cr_assert(fabs(child_on[g * K + j] - N * qc) <= z * sqrt(N * qc * (1 - qc)));
      cr_assert_eq(sdlab_lrb_parent_of(&p, P + g * K + j), (long)g);
    }
  }
  /* hierarchical features are never active alone: M_d = 0, and the data agree exactly */
  double Md[20], sum[20] = {0};
  sdlab_lrb_md(&p, Md);
  sdlab_loss_md_accumulate(X, sum, NULL);
  for (size_t d = 0; d < P * (K + 1); d++)
    cr_assert(Md[d] == 0 && sum[d] == 0);
  cr_assert(Md[19] > 0);
  gsl_matrix_free(X);
}

Test(lrb, transcoder_and_crosscoder_targets)
{
  sdlab_lrb_params p = params(30, 12, 0.9, 0.3, 41);
  p.target = SDLAB_TARGET_TRANSCODER;
  p.target_dim = 9;
  sdlab_lrb_truth t;
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), 0);
  double e;
  cr_assert(t.Wr->size1 == 9 && t.Wr->size2 == 30);
  cr_assert(plain_max_interference(t.Wr, &e) <= p.M + test_gamma(24) && e <= test_gamma(24));
  sdlab_lrb_truth_free(&t);

  p = params(30, 24, 0.9, 0.3, 41);
  p.target = SDLAB_TARGET_CROSSCODER;
  p.sources = 3;
  cr_assert_eq(sdlab_lrb_truth_make(&p, &t, NULL, NULL), 0, "%s", sdlab_error_message(1));
  cr_assert(t.Wp->size1 == 24 && memcmp(t.Wp->data, t.Wr->data, 24 * 30 * sizeof(double)) == 0);
  /* every stacked column has unit norm, every source block norm 1/sqrt(3) */
  for (size_t d = 0; d < 30; d++)
    for (size_t b = 0; b < 3; b++) {
      double nn = 0;
      for (size_t a = 0; a < 8; a++)
        nn += gsl_matrix_get(t.Wp, 8 * b + a, d) * gsl_matrix_get(t.Wp, 8 * b + a, d);
      cr_assert(fabs(nn - 1.0 / 3) <= test_gamma(32));
    }
  cr_assert(plain_max_interference(t.Wp, &e) <= p.M + test_gamma(48) && e <= test_gamma(48));
  sdlab_lrb_truth_free(&t);
  p.sources = 5; /* does not divide 24 */
  cr_assert_eq(sdlab_lrb_check(&p), SDLAB_EPARAM);
}

/* "P:K" as every command and meta.json reader takes it: two whole numbers >= 1 (digits only), one colon. */
Test(lrb, hierarchy_text_is_two_whole_numbers_at_least_one)
{
  static const struct {
    const char *text;
    size_t P, K; /* 0: refused */
  } cases[] = {{"4:4", 4, 4},  {"10:3", 10, 3}, {"1:1", 1, 1}, {"007:2", 7, 2}, {"4", 0, 0},   {"4:", 0, 0},
               {":4", 0, 0},   {"0:3", 0, 0},   {"3:0", 0, 0}, {"4:4x", 0, 0},  {"+4:4", 0, 0}, {"4:-1", 0, 0},
               {" 4:4", 0, 0}, {"4: 4", 0, 0},  {"4:4:4", 0, 0}, {"", 0, 0},    {"99999999999999999999:1", 0, 0}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    size_t P = 77, K = 77;
    const int st = sdlab_lrb_hierarchy_parse(cases[c].text, &P, &K);
    if (cases[c].P) {
      cr_assert_eq(st, 0, "'%s' refused", cases[c].text);
      cr_assert(P == cases[c].P && K == cases[c].K, "'%s' read as %zu:%zu", cases[c].text, P, K);
    } else {
      cr_assert_neq(st, 0, "'%s' accepted", cases[c].text);
      cr_assert(P == 77 && K == 77, "'%s': a refusal set the outputs", cases[c].text);
    }
  }
}
