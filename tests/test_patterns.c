/* Exact enumeration of single-neuron activation patterns (Definition 3.1): Cover's counting theorem as
 * a property over random instances, a sampling cross-check, exact certificates, degenerate inputs. */
#include <criterion/criterion.h>
#include <float.h>
#include <glpk.h> /* glp_init_smcp: the pivot tolerance the limit is derived from */
#include <math.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_errno.h"
#include "sdlab_lp.h"
#include "sdlab_pattern.h"
#include "sdlab_patterns.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(patterns, .init = init);

/* Whether the directions lie in an open half-space (then the dead pattern has a strict witness). */
static int
in_open_halfspace(const gsl_matrix *W)
{
  sdlab_lp_halfspace *h = sdlab_lp_halfspace_alloc(W, 0);
  unsigned char want[64];
  memset(want, SDLAB_OUT, W->size2);
  double x[64];
  sdlab_lp_realize_info info;
  cr_assert_eq(sdlab_lp_halfspace_realize(h, want, x, &info), 0);
  sdlab_lp_halfspace_free(h);
  return info.strict;
}

Test(patterns, counts_equal_covers_theorem_on_random_instances)
{
  const uint64_t seed = 901;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 60; trial++) {
    size_t np = 2 + gsl_rng_uniform_int(r, 4), n = 1 + gsl_rng_uniform_int(r, 14);
    gsl_matrix *W = gsl_matrix_alloc(np, n);
    if (trial % 3 == 0)
      test_unit_columns(r, W); /* bench-like */
    else
      test_gaussian(r, W, 1.0);
    for (int th = 0; th <= 1; th++) {
      sdlab_pattern_list *l;
      cr_assert_eq(sdlab_patterns_single(W, th, 1000000, &l), 0, "%s", sdlab_error_message(1));
      double expect = th ? sdlab_patterns_threshold_count(n, np) : sdlab_patterns_cover_count(n, np) + !in_open_halfspace(W);
      cr_assert_eq((double)l->count, expect, "trial %d (n %zu, n_p %zu, %s): %zu patterns, Cover %g", trial, n, np,
                   th ? "threshold" : "homogeneous", l->count, expect);
      cr_assert(l->exact, "every witness and pruning certificate is verified exactly");
      /* masks are distinct and sorted; the dead pattern is always there */
      for (size_t i = 1; i < l->count; i++)
        cr_assert(l->masks[i - 1] < l->masks[i]);
      cr_assert_neq(sdlab_patterns_list_find(l, 0), (size_t)-1);
      sdlab_patterns_list_free(l);
    }
    gsl_matrix_free(W);
  }
  gsl_rng_free(r);
}

Test(patterns, every_sampled_pattern_is_enumerated_and_witnesses_realize_their_patterns)
{
  const uint64_t seed = 902;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 10; trial++) {
    size_t np = 2 + gsl_rng_uniform_int(r, 3), n = 4 + gsl_rng_uniform_int(r, 9);
    gsl_matrix *W = gsl_matrix_alloc(np, n);
    test_unit_columns(r, W);
    for (int th = 0; th <= 1; th++) {
      sdlab_pattern_list *l;
      cr_assert_eq(sdlab_patterns_single(W, th, 1000000, &l), 0);
      /* random (w, s): its pattern must be listed */
      for (int k = 0; k < 20000; k++) {
        double w[8], s = th ? gsl_ran_exponential(r, 0.5) : 0.0;
        for (size_t a = 0; a < np; a++)
          w[a] = gsl_ran_gaussian(r, 1.0);
        uint64_t mask = 0;
        for (size_t d = 0; d < n; d++) {
          double v = 0;
          for (size_t a = 0; a < np; a++)
            v += w[a] * gsl_matrix_get(W, a, d);
          if (v > s)
            mask |= (uint64_t)1 << d;
        }
        cr_assert_neq(sdlab_patterns_list_find(l, mask), (size_t)-1, "sampled pattern %llx missing (trial %d)",
                      (unsigned long long)mask, trial);
      }
      /* each witness realizes its pattern, checked in floating point with Higham's bound: IN values exceed
       * gamma_{n_p} sum |w||x| (+ s) and OUT values do not exceed it */
      for (size_t i = 0; i < l->count; i++) {
        const double *x = l->witness + i * l->wsize;
        double s = th ? x[np] : 0.0;
        if (th)
          cr_assert(s > 0);
        for (size_t d = 0; d < n; d++) {
          double v = 0, mag = 0;
          for (size_t a = 0; a < np; a++) {
            v += x[a] * gsl_matrix_get(W, a, d);
            mag += fabs(x[a] * gsl_matrix_get(W, a, d));
          }
          double err = test_gamma((double)np + 1) * (mag + fabs(s));
          if (l->masks[i] >> d & 1)
            cr_assert(v - s > err, "pattern %zu feature %zu: %g", i, d, v - s);
          else
            cr_assert(v - s <= err, "pattern %zu feature %zu: %g", i, d, v - s);
        }
      }
      sdlab_patterns_list_free(l);
    }
    gsl_matrix_free(W);
  }
  gsl_rng_free(r);
}

Test(patterns, degenerate_directions_duplicates_and_antipodes)
{
  /* e1, e1 (duplicate), -e1 (antipode), e2 in R^2: features 0 and 1 never separate; 0 and 2 never share */
  double w[] = {1, 1, -1, 0, 0, 0, 0, 1};
  gsl_matrix_view W = gsl_matrix_view_array(w, 2, 4);
  sdlab_pattern_list *l;
  cr_assert_eq(sdlab_patterns_single(&W.matrix, 0, 1000, &l), 0);
  cr_assert(l->exact);
  for (size_t i = 0; i < l->count; i++) {
    uint64_t m = l->masks[i];
    cr_assert_eq(m & 1, m >> 1 & 1, "duplicates separated in %llx", (unsigned long long)m);
    cr_assert(!((m & 1) && (m >> 2 & 1)), "antipodes together in %llx", (unsigned long long)m);
  }
  /* by hand: half-planes through 0 in R^2 over {e1 (x2), -e1, e2}: {}, {e2}, {e1,e1}, {e1,e1,e2},
   * {-e1}, {-e1,e2}, and {e1,e1} or {-e1} with e2 on the boundary... the listed sets are exactly these six */
  cr_assert_eq(l->count, 6, "%zu patterns", l->count);
  sdlab_patterns_list_free(l);
}

Test(patterns, refuses_what_exact_enumeration_cannot_do)
{
  gsl_matrix *W = gsl_matrix_calloc(3, 65);
  sdlab_pattern_list *l;
  cr_assert_eq(sdlab_patterns_single(W, 0, 1000000, &l), SDLAB_EIMPOSSIBLE);
  cr_assert(strstr(sdlab_error_message(SDLAB_EIMPOSSIBLE), "64") != NULL);
  gsl_matrix_free(W);
  W = gsl_matrix_alloc(10, 60);
  gsl_matrix_set_all(W, 0.5);
  cr_assert_eq(sdlab_patterns_single(W, 0, 1000000, &l), SDLAB_EIMPOSSIBLE);
  cr_assert(strstr(sdlab_error_message(SDLAB_EIMPOSSIBLE), "Cover") != NULL);
  gsl_matrix_free(W);
  cr_assert_eq(sdlab_patterns_joint_count(3, 2), 9);
  cr_assert_eq(sdlab_patterns_joint_count_unordered(3, 2), 6);
  cr_assert_eq(sdlab_patterns_joint_count_unordered(243, 4), 148897035.0); /* binom(246, 4) */
}

Test(patterns, farkas_certificates_of_infeasible_patterns_are_exact)
{
  /* F = {e1, -e1}: no w has <w, e1> > 0 and <w, -e1> > 0 */
  double w[] = {1, -1, 0, 0, 0, 1};
  gsl_matrix_view W = gsl_matrix_view_array(w, 2, 3);
  sdlab_lp_halfspace *h = sdlab_lp_halfspace_alloc(&W.matrix, 0);
  unsigned char want[3] = {SDLAB_IN, SDLAB_IN, SDLAB_FREE};
  double x[2];
  sdlab_lp_realize_info info;
  cr_assert_eq(sdlab_lp_halfspace_realize(h, want, x, &info), 0);
  cr_assert(!info.realizable && info.verified);
  want[1] = SDLAB_OUT;
  cr_assert_eq(sdlab_lp_halfspace_realize(h, want, x, &info), 0);
  cr_assert(info.realizable && info.verified && info.strict);
  want[0] = 7;
  cr_assert_eq(sdlab_lp_halfspace_realize(h, want, x, &info), GSL_EINVAL);
  sdlab_lp_halfspace_free(h);
}

/* The Top-k pattern of an encoder, computed directly from the definition (the oracle). */
static void
topk_pattern(const gsl_matrix *W, const double *WE, size_t nq, size_t k, uint64_t *F)
{
  const size_t np = W->size1, n = W->size2;
  memset(F, 0, nq * sizeof *F);
  for (size_t d = 0; d < n; d++) {
    double z[16];
    for (size_t i = 0; i < nq; i++) {
      z[i] = 0;
      for (size_t a = 0; a < np; a++)
        z[i] += WE[i * np + a] * gsl_matrix_get(W, a, d);
    }
    for (size_t i = 0; i < nq; i++) {
      size_t before = 0;
      for (size_t j = 0; j < nq; j++)
        before += z[j] > z[i] || (z[j] == z[i] && j < i);
      if (before < k && z[i] > 0)
        F[i] |= (uint64_t)1 << d;
    }
  }
}

static int
contains(const sdlab_joint_list *l, const uint64_t *F)
{
  for (size_t c = 0; c < l->count; c++)
    if (memcmp(l->F + c * l->nq, F, l->nq * sizeof *F) == 0)
      return 1;
  return 0;
}

Test(patterns, topk_joint_enumeration_matches_sampling_and_the_relu_product)
{
  const uint64_t seed = 903;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 4; trial++) {
    size_t n = 3 + gsl_rng_uniform_int(r, 2), np = 2, nq = 3 + gsl_rng_uniform_int(r, 2);
    gsl_matrix *W = gsl_matrix_alloc(np, n);
    test_unit_columns(r, W);
    sdlab_pattern_list *single;
    cr_assert_eq(sdlab_patterns_single(W, 0, 100000, &single), 0);
    for (size_t k = 1; k <= nq; k++) {
      sdlab_joint_list *l;
      cr_assert_eq(sdlab_patterns_topk(W, nq, k, 10000000, &l), 0, "%s", sdlab_error_message(1));
      cr_assert(l->exact, "trial %d k %zu: not every certificate verified", trial, k);
      if (k == nq) { /* every latent selected: Top-k activates exactly the positive codes, as ReLU */
        cr_assert_eq((double)l->count, sdlab_patterns_joint_count(single->count, nq));
        cr_assert_eq((double)l->unordered, sdlab_patterns_joint_count_unordered(single->count, nq));
        cr_assert_eq((double)l->open_count, sdlab_patterns_joint_count(single->open_count, nq));
      }
      cr_assert(l->open_count > 0 && l->open_count <= l->count);
      /* each witness of an open pattern has that pattern in floating point too (a boundary-only pattern,
       * an exact tie, is certified by its exact rational witness, which doubles only approximate) */
      for (size_t c = 0; c < l->count; c++) {
        if (!l->open[c])
          continue;
        uint64_t F[16];
        topk_pattern(W, l->witness + c * nq * np, nq, k, F);
        cr_assert(memcmp(F, l->F + c * nq, nq * sizeof *F) == 0, "trial %d k %zu pattern %zu", trial, k, c);
      }
      /* every sampled encoder's pattern is listed */
      for (int t = 0; t < 3000; t++) {
        double WE[64];
        for (size_t a = 0; a < nq * np; a++)
          WE[a] = gsl_ran_gaussian(r, 1.0);
        uint64_t F[16];
        topk_pattern(W, WE, nq, k, F);
        cr_assert(contains(l, F), "trial %d k %zu: a sampled pattern is missing", trial, k);
      }
      sdlab_patterns_joint_list_free(l);
    }
    sdlab_patterns_list_free(single);
    gsl_matrix_free(W);
  }
  gsl_rng_free(r);
  gsl_matrix *W = gsl_matrix_calloc(2, 3);
  sdlab_joint_list *l;
  cr_assert_eq(sdlab_patterns_topk(W, 17, 2, 100, &l), SDLAB_EIMPOSSIBLE);
  cr_assert_eq(sdlab_patterns_topk(W, 4, 5, 100, &l), GSL_EINVAL);
  gsl_matrix_free(W);
}

/* Issue 22 (3b): the LP coefficient limit is the largest A with (k A)^2 <= DBL_MAX and
 * (A / t)^2 (1 + k A^2) <= DBL_MAX (k = max(rows, cols) + 1, t GLPK's pivot tolerance), checked here by
 * evaluating both sides; an enumeration refuses W_p beyond it (GSL_EOVRFLW, naming the entry) and runs to
 * the end, without aborting GLPK, on entries just within it. */
Test(patterns, lp_coefficient_limit_is_the_first_pivots_overflow_bound)
{
  glp_smcp parm;
  glp_init_smcp(&parm);
  const double t = parm.tol_piv;
  const size_t sizes[][2] = {{1, 1}, {7, 6}, {64, 65}, {17408, 257}, {10000000, 100001}};
  for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
    const double A = sdlab_lp_coefficient_limit(sizes[c][0], sizes[c][1]);
    const double k = (double)(sizes[c][0] > sizes[c][1] ? sizes[c][0] : sizes[c][1]) + 1;
    /* within at A (up to the rounding of the two square roots, a relative 4 u), beyond at A (1 + 2^-20) */
    const double Ain = A * (1 - 8 * DBL_EPSILON), Aout = A * (1 + 0x1p-20);
    cr_assert(k * Ain <= sqrt(DBL_MAX) && (Ain / t) * (Ain / t) * (1 + k * Ain * Ain) <= DBL_MAX, "size %zu", c);
    cr_assert(!((Aout / t) * (Aout / t) * (1 + k * Aout * Aout) <= DBL_MAX), "size %zu: A = %g is not the largest", c,
              A);
  }
  gsl_rng *r = test_rng(22);
  gsl_matrix *Wp = gsl_matrix_alloc(4, 6);
  test_unit_columns(r, Wp);
  const double lim = sdlab_lp_coefficient_limit(6 + 1, 4 + 2);
  for (int thr = 0; thr <= 1; thr++) {
    sdlab_pattern_list *l = NULL;
    gsl_matrix_set(Wp, 0, 0, 1.0001 * lim);
    cr_assert_eq(sdlab_patterns_single(Wp, thr, 100000, &l), GSL_EOVRFLW);
    cr_assert(strstr(sdlab_error_message(GSL_EOVRFLW), "entry (0, 0)"), "%s", sdlab_error_message(GSL_EOVRFLW));
    gsl_matrix_set(Wp, 0, 0, 0.9999 * lim);
    int status = sdlab_patterns_single(Wp, thr, 100000, &l); /* may fail cleanly; must not abort */
    sdlab_patterns_list_free(status ? NULL : l);
  }
  sdlab_joint_list *j = NULL;
  gsl_matrix_set(Wp, 0, 0, 1e200);
  cr_assert_eq(sdlab_patterns_topk(Wp, 2, 1, 100000, &j), GSL_EOVRFLW);
  gsl_matrix_free(Wp);
  gsl_rng_free(r);
}

/* One entry point picks the enumeration from the activation: single-neuron patterns where the neurons do not
 * interact (ReLU, JumpReLU, a Top-k of every latent), the joint Top-k search otherwise, nothing for BatchTopK;
 * its lists are those of the enumerators called directly. */
Test(patterns, one_entry_point_picks_the_enumeration_from_the_activation)
{
  gsl_rng *r = test_rng(23);
  gsl_matrix *Wp = gsl_matrix_alloc(2, 5);
  for (size_t d = 0; d < 5; d++) {
    double a = 2 * 3.141592653589793 * gsl_rng_uniform(r);
    gsl_matrix_set(Wp, 0, d, cos(a));
    gsl_matrix_set(Wp, 1, d, sin(a));
  }
  const struct {
    sdlab_activation act;
    sdlab_patterns_method method;
  } cases[] = {{{.kind = SDLAB_ACT_RELU}, SDLAB_PATTERNS_SINGLE},
               {{.kind = SDLAB_ACT_JUMPRELU, .theta = 0.5}, SDLAB_PATTERNS_SINGLE},
               {{.kind = SDLAB_ACT_TOPK_RELU, .k = 3}, SDLAB_PATTERNS_SINGLE},
               {{.kind = SDLAB_ACT_TOPK, .k = 3}, SDLAB_PATTERNS_SINGLE},
               {{.kind = SDLAB_ACT_TOPK_RELU, .k = 2}, SDLAB_PATTERNS_TOPK},
               {{.kind = SDLAB_ACT_TOPK, .k = 1}, SDLAB_PATTERNS_TOPK}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    sdlab_patterns_set set;
    cr_assert_eq(sdlab_patterns_enumerate(Wp, 3, &cases[c].act, 100000, &set), 0);
    cr_assert_eq(set.method, cases[c].method, "case %zu", c);
    if (set.method == SDLAB_PATTERNS_SINGLE) {
      sdlab_pattern_list *l;
      cr_assert(set.single && !set.joint);
      cr_assert_eq(sdlab_patterns_single(Wp, cases[c].act.kind == SDLAB_ACT_JUMPRELU, 100000, &l), 0);
      cr_assert_eq(l->count, set.single->count);
      cr_assert_arr_eq(l->masks, set.single->masks, l->count * sizeof *l->masks);
      sdlab_patterns_list_free(l);
    } else {
      sdlab_joint_list *j;
      cr_assert(set.joint && !set.single);
      cr_assert_eq(sdlab_patterns_topk(Wp, 3, cases[c].act.k, 100000, &j), 0);
      cr_assert_eq(j->count, set.joint->count);
      cr_assert_arr_eq(j->F, set.joint->F, j->count * 3 * sizeof *j->F);
      sdlab_patterns_joint_list_free(j);
    }
    sdlab_patterns_set_free(&set);
    sdlab_patterns_set_free(&set); /* freed sets are empty: a second free is a no-op */
  }
  /* theory's byte patterns and the masks the solvers index agree, and more than 64 features have no masks */
  gsl_matrix *WE = gsl_matrix_alloc(3, 2);
  for (size_t k = 0; k < 6; k++)
    WE->data[k] = gsl_ran_gaussian(r, 1.0);
  sdlab_activation relu = {.kind = SDLAB_ACT_RELU};
  sdlab_pattern *P = sdlab_pattern_alloc(3, 5), *big = sdlab_pattern_alloc(1, 65);
  uint64_t F[3];
  cr_assert_eq(sdlab_pattern_of(&relu, WE, Wp, P), 0);
  cr_assert_eq(sdlab_pattern_of_masks(&relu, WE, Wp, F), 0);
  for (size_t i = 0; i < 3; i++)
    for (size_t d = 0; d < 5; d++)
      cr_assert_eq(P->F[i * 5 + d], (unsigned char)(F[i] >> d & 1));
  cr_assert_eq(sdlab_pattern_masks(big, F), SDLAB_EPARAM);
  sdlab_pattern_free(P);
  sdlab_pattern_free(big);
  gsl_matrix_free(WE);
  sdlab_patterns_set set;
  sdlab_activation btk = {.kind = SDLAB_ACT_BATCHTOPK, .k = 2};
  cr_assert_eq(sdlab_patterns_enumerate(Wp, 3, &btk, 100000, &set), SDLAB_EPARAM);
  cr_assert(set.single == NULL && set.joint == NULL);
  cr_assert(strstr(sdlab_error_message(SDLAB_EPARAM), "batchtopk") != NULL);
  gsl_matrix_free(Wp);
  gsl_rng_free(r);
}

/* sdlab_lp_equality (the incumbents' LPs, see sdlab_bnb.h): on 300 random systems A x = A x0 (x0 with zeros, some
 * free entries) it finds a point, which meets the rows and the signs within GLPK's primal tolerance tol_bnd
 * (relative to 1 + |bound|, plus the rounding of the row's sum) and costs no more than x0 (within the same
 * tolerance); a system of positive rows with a negative right-hand side, and an unbounded cost, give no point; a
 * NaN coefficient and an empty system are refused. */
Test(patterns, lp_equality_finds_points_of_random_polyhedra_and_none_of_empty_ones)
{
  glp_smcp parm;
  glp_init_smcp(&parm);
  const double tb = parm.tol_bnd;
  gsl_rng *r = test_rng(2321);
  double A[64], x0[10], x[10], rhs[6], cost[10];
  for (int t = 0; t < 300; t++) {
    const size_t m = 1 + gsl_rng_uniform_int(r, 6), nx = m + gsl_rng_uniform_int(r, 5),
                 nfree = gsl_rng_uniform_int(r, nx < 3 ? nx + 1 : 3);
    for (size_t j = 0; j < nx; j++) {
      x0[j] = j < nx - nfree ? (gsl_rng_uniform(r) < 0.3 ? 0.0 : gsl_rng_uniform(r)) : gsl_ran_gaussian(r, 1.0);
      cost[j] = j < nx - nfree ? gsl_rng_uniform(r) : 0.0;
    }
    for (size_t i = 0; i < m; i++) {
      rhs[i] = 0;
      for (size_t j = 0; j < nx; j++)
        rhs[i] += (A[i * nx + j] = gsl_ran_gaussian(r, 1.0)) * x0[j];
    }
    int feasible = 0;
    cr_assert_eq(sdlab_lp_equality(A, rhs, t % 2 ? cost : NULL, m, nx, nfree, x, &feasible), 0, "%s",
                 sdlab_error_message(1));
    cr_assert(feasible, "system %d: no point found", t);
    double cx = 0, cx0 = 0;
    for (size_t j = 0; j < nx; j++) {
      cr_assert(j >= nx - nfree || x[j] >= -tb, "system %d: x_%zu = %g", t, j, x[j]);
      const double cj = t % 2 ? cost[j] : j < nx - nfree ? 1.0 : 0.0;
      cx += cj * x[j];
      cx0 += cj * x0[j];
    }
    for (size_t i = 0; i < m; i++) {
      double v = 0, mag = 0;
      for (size_t j = 0; j < nx; j++) {
        v += A[i * nx + j] * x[j];
        mag += fabs(A[i * nx + j] * x[j]);
      }
      cr_assert(fabs(v - rhs[i]) <= tb * (1 + fabs(rhs[i])) + 64 * DBL_EPSILON * mag, "system %d row %zu: %g vs %g", t,
                i, v, rhs[i]);
    }
    cr_assert(cx <= cx0 + tb * (1 + fabs(cx0)) * (double)nx, "system %d: cost %g above x0's %g", t, cx, cx0);
  }
  /* positive rows cannot meet a negative right-hand side with x >= 0 */
  for (size_t k = 0; k < 12; k++)
    A[k] = 0.1 + gsl_rng_uniform(r);
  rhs[0] = -1;
  rhs[1] = 1;
  rhs[2] = 2;
  int feasible = 1;
  cr_assert_eq(sdlab_lp_equality(A, rhs, NULL, 3, 4, 0, x, &feasible), 0);
  cr_assert(!feasible, "a point with x >= 0 of positive rows summing to -1");
  /* x_0 - x_1 = 0, cost -x_0: unbounded below */
  const double A2[2] = {1, -1}, r2[1] = {0}, c2[2] = {-1, 0};
  feasible = 1;
  cr_assert_eq(sdlab_lp_equality(A2, r2, c2, 1, 2, 0, x, &feasible), 0);
  cr_assert(!feasible, "an unbounded cost reported a point");
  const double A3[2] = {1, NAN};
  cr_assert_eq(sdlab_lp_equality(A3, r2, NULL, 1, 2, 0, x, &feasible), SDLAB_ENONFINITE);
  cr_assert_eq(sdlab_lp_equality(A3, r2, NULL, 1, 0, 0, x, &feasible), GSL_EINVAL);
  gsl_rng_free(r);
}
