/* The certified branch and bound on one piece (ReLU, Top-k-ReLU, JumpReLU; solvers/sdlab_bnb): its bounds
 * bracket every point of the piece and every local solve from it, its values where the optimum is known
 * (Example 3.5, Theorem 3.3's configuration), its point is a point of the piece, and its errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <float.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <string.h>

#include "helpers.h"
#include "sdlab_bnb.h"
#include "sdlab_claims.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_lrb.h"
#include "sdlab_pattern.h"
#include "sdlab_patterns.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(bnb, .init = init, .timeout = 120);

/* ||R||_F^2 with the weights: every L~ on the piece is at most this, and rounding is relative to it */
static double
energy(const gsl_matrix *Wr, const gsl_vector *Md)
{
  double e = 0;
  for (size_t a = 0; a < Wr->size1; a++)
    for (size_t d = 0; d < Wr->size2; d++)
      e += gsl_vector_get(Md, d) * gsl_matrix_get(Wr, a, d) * gsl_matrix_get(Wr, a, d);
  return e;
}

/* L~ at W_E with W_D from the exact decoder step */
static double
loss_at(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const gsl_matrix *WE)
{
  gsl_matrix *WD = gsl_matrix_alloc(Wr->size1, WE->size1);
  double f = NAN;
  cr_assert_eq(sdlab_piece_decoder_step(P, Wp, Wr, Md, WE, WD, NULL), 0);
  cr_assert_eq(sdlab_piece_loss(P, Wp, Wr, Md, WE, WD, &f, NULL, NULL), 0);
  gsl_matrix_free(WD);
  return f;
}

/* W_E (n_q x 2) with each row of a neuron firing somewhere drawn near a boundary ray of the plane (a unit vector
 * perpendicular to a feature, either sign) at distance about delta, the others zero: points where codes of
 * two neurons sharing a ray are nearly parallel, the corners the charts blow up.  Whether it realizes F is
 * the caller's check. */
static void
near_rays(gsl_rng *r, const gsl_matrix *Wp, const uint64_t *F, double delta, gsl_matrix *WE)
{
  const size_t n = Wp->size2;
  for (size_t i = 0; i < WE->size1; i++) {
    const size_t d = gsl_rng_uniform_int(r, n);
    const double sign = gsl_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
    const double x = -sign * gsl_matrix_get(Wp, 1, d) + delta * gsl_ran_gaussian(r, 1.0);
    const double y = sign * gsl_matrix_get(Wp, 0, d) + delta * gsl_ran_gaussian(r, 1.0);
    gsl_matrix_set(WE, i, 0, F[i] ? x : 0.0);
    gsl_matrix_set(WE, i, 1, F[i] ? y : 0.0);
  }
}

/* Every point near_rays draws that realizes F stays above b's lower bound, within rounding that grows as
 * the codes' condition number (about 1 / delta).  Returns how many realized F. */
static size_t
check_near_rays(gsl_rng *r, const sdlab_bnb *b, const uint64_t *F, size_t draws)
{
  const sdlab_piece *P = b->P;
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  gsl_matrix *WE = gsl_matrix_alloc(P->nq, 2);
  uint64_t G[64];
  size_t hits = 0;
  const double e = energy(b->Wr, b->Md);
  for (size_t k = 0; k < draws; k++) {
    const double delta = pow(10.0, -1.0 - (double)(k % 3));
    near_rays(r, b->Wp, F, delta, WE);
    sdlab_pattern_of_masks(&act, WE, b->Wp, G);
    if (memcmp(G, F, P->nq * sizeof *F) != 0)
      continue;
    hits++;
    const double f = loss_at(P, b->Wp, b->Wr, b->Md, WE);
    const double round = test_gamma(64.0 * (double)(P->n + P->nq + P->nr)) * e / delta;
    cr_assert(f >= b->lower - round, "a point near a ray (delta %g) at %.17g below the lower bound %.17g", delta, f,
              b->lower);
  }
  gsl_matrix_free(WE);
  return hits;
}

/* A random instance: unit directions Wp, Gaussian targets Wr, weights M_d in [0.5, 1.5); returns the rounding
 * margin of L~ on it with nq neurons (gamma of the sizes times the weighted target energy) */
static double
random_instance(gsl_rng *r, gsl_matrix *Wp, gsl_matrix *Wr, gsl_vector *Md, size_t nq)
{
  test_unit_columns(r, Wp);
  test_gaussian(r, Wr, 1.0);
  for (size_t d = 0; d < Md->size; d++)
    gsl_vector_set(Md, d, 0.5 + gsl_rng_uniform(r));
  return test_gamma(64.0 * (double)(Wp->size2 + nq + Wr->size1)) * energy(Wr, Md);
}

/* b's incumbent is a point of its piece's closure (up to rounding) and b->upper is L~ there plus its rounding
 * bound (tested against long double in test_loss) */
static void
incumbent_is_a_point(const sdlab_bnb *b)
{
  double f, sm, vi;
  cr_assert_eq(sdlab_piece_loss(b->P, b->Wp, b->Wr, b->Md, b->WE, b->WD, &f, NULL, NULL), 0);
  cr_assert_eq(f + sdlab_claims_ltilde_rounding(b->Wp, b->Wr, b->Md, b->WE, b->WD, b->P->F), b->upper);
  sdlab_piece_margin(b->P, b->WE, &sm, &vi);
  cr_assert(vi <= test_gamma(256) * (1 + gsl_matrix_max(b->WE) - gsl_matrix_min(b->WE)), "violation %g", vi);
}

static void
run(sdlab_bnb *b, size_t nodes, double rtol)
{
  while (b->nodes < nodes && sdlab_bnb_test(b, rtol) == GSL_CONTINUE)
    cr_assert_eq(sdlab_bnb_iterate(b), 0, "%s", sdlab_error_message(1));
}

/* `iters` steps of alternating convex search from E, each ending well (0 or SDLAB_EUNREACHED): the loss reached */
static double
acs_run(sdlab_piece_acs *a, const gsl_matrix *E, int iters)
{
  cr_assert_eq(sdlab_piece_acs_set(a, E), 0);
  for (int it = 0; it < iters; it++) {
    const int st = sdlab_piece_acs_iterate(a);
    cr_assert(st == 0 || st == SDLAB_EUNREACHED, "ACS status %d: %s", st, sdlab_error_message(1));
  }
  return a->loss;
}

/* 50 steps of alternating convex search from E end at or above lower, within round */
static void
acs_stays_above(sdlab_piece_acs *a, const gsl_matrix *E, double lower, double round)
{
  acs_run(a, E, 50);
  cr_assert(a->loss >= lower - round, "ACS reached %.17g below the lower bound %.17g", a->loss, lower);
}

/* The best of `iters` steps of alternating convex search on piece P from each of the first `starts` Gaussian W_E
 * (into WE, nq x np) of pattern F (nq masks, at most 64) among `draws` */
static double
best_local_solve(gsl_rng *r, const sdlab_activation *act, const sdlab_piece *P, const gsl_matrix *Wp,
                 const gsl_vector *Md, const uint64_t *F, gsl_matrix *WE, int starts, int draws, int iters)
{
  sdlab_piece_acs *acs = sdlab_piece_acs_alloc(P, Wp, Wp, Md);
  double best = INFINITY;
  for (int found = 0, draw = 0; found < starts && draw < draws; draw++) {
    test_gaussian(r, WE, 1.0);
    uint64_t H[64];
    sdlab_pattern_of_masks(act, WE, Wp, H);
    if (memcmp(H, F, WE->size1 * sizeof *F) != 0)
      continue;
    found++;
    best = fmin(best, acs_run(acs, WE, iters));
  }
  sdlab_piece_acs_free(acs);
  return best;
}

/* Points of b's piece, W_E and `draws - 1` perturbations of it (E: scratch) that keep its pattern F, and
 * alternating convex search from each, stay at or above the lower bound (within round); the points checked. */
static size_t
points_stay_above(gsl_rng *r, const sdlab_bnb *b, const sdlab_activation *act, const gsl_matrix *WE, gsl_matrix *E,
                  const uint64_t *F, int draws, double round, size_t piece)
{
  const sdlab_piece *P = b->P;
  const size_t nq = WE->size1, np = WE->size2;
  sdlab_piece_acs *a = sdlab_piece_acs_alloc(P, b->Wp, b->Wr, b->Md);
  size_t points = 0;
  for (int k = 0; k < draws; k++) {
    gsl_matrix_memcpy(E, WE);
    for (size_t t = 0; t < nq * np && k > 0; t++)
      E->data[t] += gsl_ran_gaussian(r, 0.5 / (1 + k % 5));
    uint64_t G[64];
    sdlab_pattern_of_masks(act, E, b->Wp, G);
    if (memcmp(G, F, nq * sizeof *F) != 0)
      continue;
    const double fp = loss_at(P, b->Wp, b->Wr, b->Md, E);
    cr_assert(fp >= b->lower - round, "piece %zu: point at %.17g below the lower bound %.17g", piece, fp, b->lower);
    acs_stays_above(a, E, b->lower, round);
    points++;
  }
  sdlab_piece_acs_free(a);
  return points;
}

/* Whether pattern F (nq masks) is new among the *count patterns of seen (rows of stride 4): then appended */
static int
first_seen(uint64_t (*seen)[4], size_t *count, const uint64_t *F, size_t nq)
{
  for (size_t k = 0; k < *count; k++)
    if (memcmp(seen[k], F, nq * sizeof *F) == 0)
      return 0;
  memcpy(seen[(*count)++], F, nq * sizeof *F);
  return 1;
}

Test(bnb, bounds_bracket_points_and_local_solves_of_random_pieces)
{
  const uint64_t seed = 3301;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  size_t pieces = 0, certified = 0, charts = 0, near = 0;
  for (int inst = 0; inst < 4; inst++) {
    const size_t n = 4, np = 2 + (size_t)(inst == 3), nq = 2 + (size_t)inst % 2, nr = 2;
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *Wr = gsl_matrix_alloc(nr, n), *WE = gsl_matrix_alloc(nq, np),
               *E = gsl_matrix_alloc(nq, np);
    gsl_vector *Md = gsl_vector_alloc(n);
    const double round = random_instance(r, Wp, Wr, Md, nq);
    uint64_t seen[64][4];
    size_t nseen = 0;
    for (int draw = 0; draw < 40 && nseen < 64; draw++) {
      test_gaussian(r, WE, 1.0);
      uint64_t F[4];
      sdlab_pattern_of_masks(&act, WE, Wp, F);
      if (!first_seen(seen, &nseen, F, nq))
        continue;
      sdlab_piece *P = sdlab_piece_alloc(Wp, nr, &act, nq, F);
      sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
      cr_assert_not_null(b, "%s", sdlab_error_message(1));
      cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
      double first = b->lower;
      run(b, 3000, 1e-9);
      pieces++;
      certified += sdlab_bnb_test(b, 1e-9) == GSL_SUCCESS;
      cr_assert(b->lower >= first, "the lower bound never decreases");
      charts += b->charts;
      if (np == 2)
        near += check_near_rays(r, b, F, 600);
      cr_assert(b->lower <= b->upper, "lower %.17g above upper %.17g", b->lower, b->upper);
      /* the incumbent is a point of the closure and upper is its L~ plus the rounding bound */
      incumbent_is_a_point(b);
      cr_assert(b->violation <= test_gamma(64) * (1 + gsl_matrix_max(b->WE) - gsl_matrix_min(b->WE)),
                "violation %g", b->violation);
      /* every point of the piece (the drawn W_E and perturbations that keep its pattern), and alternating
       * convex search from each, stay above the lower bound */
      points_stay_above(r, b, &act, WE, E, F, 30, round, nseen);
      sdlab_bnb_free(b);
      sdlab_piece_free(P);
    }
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    gsl_matrix_free(WE);
    gsl_matrix_free(E);
    gsl_vector_free(Md);
  }
  cr_log_info("%zu pieces, %zu certified to 1e-9 within 3000 boxes; %zu charts; %zu points near rays", pieces,
              certified, charts, near);
  cr_assert(pieces >= 10);
  cr_assert(charts > 0 && near > 100, "the corners the charts blow up were exercised");
  gsl_rng_free(r);
}

/* At n_p = 3 with five features a neuron's cone has up to five extreme rays in R^3: its codes are covered by
 * simplicial cones (sdlab_bnb.h).  On random instances, every point of the piece (a drawn W_E, perturbations
 * keeping its pattern) and alternating convex search from each stay above the lower bound, which a cover
 * missing part of a cone would break where the minimum lies in the missing part; the incumbent is a point of
 * the piece with the value reported. */
Test(bnb, simplicial_covers_bracket_points_of_pieces_with_many_rays)
{
  const uint64_t seed = 3321;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  size_t pieces = 0, covered = 0, spanned = 0, certified = 0, points = 0;
  for (int inst = 0; inst < 3; inst++) {
    const size_t n = 5, np = 3, nq = 2, nr = 3;
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *Wr = gsl_matrix_alloc(nr, n), *WE = gsl_matrix_alloc(nq, np),
               *E = gsl_matrix_alloc(nq, np);
    gsl_vector *Md = gsl_vector_alloc(n);
    const double round = random_instance(r, Wp, Wr, Md, nq);
    uint64_t seen[64][4];
    size_t nseen = 0;
    for (int draw = 0; draw < 400 && nseen < 64; draw++) {
      test_gaussian(r, WE, 1.0);
      for (size_t a = 0; a < np && draw >= 200; a++) { /* then row 0 near a single feature's neuron */
        double v = 0;
        for (size_t d = 0; d < n; d++)
          v += ((size_t)draw % n == d ? 2.0 : -0.5) * gsl_matrix_get(Wp, a, d);
        gsl_matrix_set(WE, 0, a, v + 0.2 * gsl_matrix_get(WE, 0, a));
      }
      uint64_t F[2];
      sdlab_pattern_of_masks(&act, WE, Wp, F);
      if (!first_seen(seen, &nseen, F, 2))
        continue;
      sdlab_piece *P = sdlab_piece_alloc(Wp, nr, &act, nq, F);
      sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
      cr_assert_not_null(b, "%s", sdlab_error_message(1));
      cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
      run(b, 3000, 1e-9);
      pieces++;
      covered += b->triangulated > 0;
      spanned += b->spanned > 0;
      certified += sdlab_bnb_test(b, 1e-9) == GSL_SUCCESS;
      cr_assert(b->lower <= b->upper, "lower %.17g above upper %.17g", b->lower, b->upper);
      incumbent_is_a_point(b);
      points += points_stay_above(r, b, &act, WE, E, F, 40, round, nseen);
      sdlab_bnb_free(b);
      sdlab_piece_free(P);
    }
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    gsl_matrix_free(WE);
    gsl_matrix_free(E);
    gsl_vector_free(Md);
  }
  cr_log_info("%zu pieces (%zu with covered cones, %zu with boxes left out), %zu certified to 1e-9 within 3000 "
              "boxes, %zu points", pieces, covered, spanned, certified, points);
  cr_assert(covered >= 10 && spanned >= 3 && points >= 200, "%zu pieces with covered cones, %zu with boxes left "
            "out, %zu points", covered, spanned, points);
  gsl_rng_free(r);
}

/* Top-k-ReLU pieces couple the neurons through the ranking rows; the branch and bound relaxes them per neuron
 * and drops boxes where no scaling meets them.  Independently of it: the witness of every joint pattern,
 * perturbations and positive rescalings of its rows that keep the Top-k pattern (recomputed by the activation
 * itself), and alternating convex search from each, must stay above the lower bound; the incumbent must be a
 * point of the piece's closure with the value reported. */
Test(bnb, topk_bounds_bracket_points_of_ranked_pieces)
{
  const uint64_t seed = 3311;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const sdlab_activation act = {.kind = SDLAB_ACT_TOPK_RELU, .k = 2};
  size_t pieces = 0, pruned = 0, certified = 0, points = 0;
  for (int inst = 0; inst < 3; inst++) {
    const size_t n = 4, np = 2 + (size_t)(inst == 2), nq = 3, nr = 2;
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *Wr = gsl_matrix_alloc(nr, n), *E = gsl_matrix_alloc(nq, np),
               *U = gsl_matrix_alloc(nq, np);
    gsl_vector *Md = gsl_vector_alloc(n);
    const double round = random_instance(r, Wp, Wr, Md, nq);
    sdlab_joint_list *j;
    cr_assert_eq(sdlab_patterns_topk(Wp, nq, act.k, 1000000, &j), 0, "%s", sdlab_error_message(1));
    /* open patterns where some feature's active set is full (the ranking rows couple neurons): about 30 of
     * them, spread over the enumeration */
    const size_t stride = 1 + j->count / 60;
    for (size_t c = 0; c < j->count; c += stride) {
      const uint64_t *F = j->F + c * nq;
      int full = 0;
      for (size_t d = 0; d < n; d++)
        full |= (size_t)((F[0] >> d & 1) + (F[1] >> d & 1) + (F[2] >> d & 1)) == act.k;
      if (!j->open[c] || !full)
        continue;
      sdlab_piece *P = sdlab_piece_alloc(Wp, nr, &act, nq, F);
      sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
      cr_assert_not_null(b, "%s", sdlab_error_message(1));
      cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
      const double first = b->lower;
      run(b, 2000, 1e-9);
      pieces++;
      pruned += b->infeasible > 0;
      certified += sdlab_bnb_test(b, 1e-9) == GSL_SUCCESS;
      cr_assert(b->lower >= first && b->lower <= b->upper, "lower %.17g, upper %.17g", b->lower, b->upper);
      if (isfinite(b->upper))
        incumbent_is_a_point(b);
      sdlab_piece_acs *a = sdlab_piece_acs_alloc(P, Wp, Wr, Md);
      gsl_matrix_const_view W0 = gsl_matrix_const_view_array(j->witness + c * nq * np, nq, np);
      for (int k = 0; k < 40; k++) {
        gsl_matrix_memcpy(E, &W0.matrix);
        for (size_t i = 0; i < nq && k > 0; i++) {
          const double s = exp(gsl_ran_gaussian(r, 1.5)); /* a rescaled row moves in the ranking */
          for (size_t t = 0; t < np; t++)
            gsl_matrix_set(E, i, t, s * (gsl_matrix_get(E, i, t) + gsl_ran_gaussian(r, 0.3 / (1 + k % 4))));
        }
        uint64_t G[3];
        sdlab_pattern_of_masks(&act, E, Wp, G);
        if (memcmp(G, F, nq * sizeof *F) != 0)
          continue;
        points++;
        /* L~ (W_D eliminated) does not see the rows' scales, the ranking does: the value is taken at unit rows,
         * where its rounding is that of the other tests, and the search starts from the point itself */
        gsl_matrix_memcpy(U, E);
        for (size_t i = 0; i < nq; i++) {
          gsl_vector_view row = gsl_matrix_row(U, i);
          const double nrm = gsl_blas_dnrm2(&row.vector);
          if (nrm > 0)
            gsl_vector_scale(&row.vector, 1 / nrm);
        }
        const double fp = loss_at(P, Wp, Wr, Md, U);
        cr_assert(fp >= b->lower - round, "pattern %zu: point at %.17g below the lower bound %.17g", c, fp, b->lower);
        acs_stays_above(a, E, b->lower, round);
      }
      sdlab_piece_acs_free(a);
      sdlab_bnb_free(b);
      sdlab_piece_free(P);
    }
    sdlab_patterns_joint_list_free(j);
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    gsl_matrix_free(E);
    gsl_matrix_free(U);
    gsl_vector_free(Md);
  }
  cr_log_info("%zu Top-k pieces, %zu with boxes dropped by the ranking rows, %zu certified to 1e-9 within 2000 "
              "boxes; %zu points", pieces, pruned, certified, points);
  cr_assert(pieces >= 30 && points >= 300);
  cr_assert(pruned > 0, "the ranking rows dropped boxes somewhere");
  gsl_rng_free(r);
}

/* JumpReLU pieces: the search runs over the cones the threshold regions generate (sdlab_bnb.h), wider than the
 * ReLU cones wherever a neuron's pre-activation may be positive below the threshold.  Independently of that
 * construction: points of the piece drawn in W_E itself (rows of the pattern's witness, perturbed and rescaled,
 * kept when JumpReLU(theta) gives the pattern) and alternating convex search from each stay above the lower
 * bound; the incumbent is a point of the piece's closure with the value reported. */
Test(bnb, jumprelu_bounds_bracket_points_of_threshold_pieces)
{
  const uint64_t seed = 4127;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  size_t pieces = 0, certified = 0, points = 0, below = 0;
  for (int inst = 0; inst < 3; inst++) {
    const size_t n = 4, np = 2 + (size_t)(inst == 2), nq = 2 + (size_t)(inst == 1), nr = 2;
    const sdlab_activation act = {.kind = SDLAB_ACT_JUMPRELU, .theta = 0.2 + 2 * gsl_rng_uniform(r)};
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *Wr = gsl_matrix_alloc(nr, n), *W0 = gsl_matrix_alloc(nq, np),
               *E = gsl_matrix_alloc(nq, np);
    gsl_vector *Md = gsl_vector_alloc(n);
    const double round = random_instance(r, Wp, Wr, Md, nq);
    sdlab_pattern_list *s;
    cr_assert_eq(sdlab_patterns_single(Wp, 1, 1000000, &s), 0, "%s", sdlab_error_message(1));
    for (int draw = 0; draw < 16; draw++) {
      uint64_t F[3];
      for (size_t i = 0; i < nq; i++) { /* a random joint pattern and its witness at threshold theta */
        const size_t k = gsl_rng_uniform_int(r, s->count);
        const double *x = s->witness + k * s->wsize;
        F[i] = s->masks[k];
        for (size_t t = 0; t < np; t++)
          gsl_matrix_set(W0, i, t, x[t] * act.theta / x[np]);
      }
      sdlab_piece *P = sdlab_piece_alloc(Wp, nr, &act, nq, F);
      sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
      cr_assert_not_null(b, "%s", sdlab_error_message(1));
      cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
      const double first = b->lower;
      run(b, 20000, 1e-9);
      pieces++;
      certified += np == 2 && sdlab_bnb_test(b, 1e-9) == GSL_SUCCESS; /* charts: two generators per neuron */
      cr_assert(b->lower >= first && b->lower <= b->upper, "lower %.17g, upper %.17g", b->lower, b->upper);
      cr_assert(isfinite(b->upper), "every piece has a point");
      incumbent_is_a_point(b);
      sdlab_piece_acs *a = sdlab_piece_acs_alloc(P, Wp, Wr, Md);
      for (int k = 0; k < 30; k++) {
        gsl_matrix_memcpy(E, W0);
        for (size_t i = 0; i < nq && k > 0; i++) {
          const double sc = exp(gsl_ran_gaussian(r, 1.0));
          for (size_t t = 0; t < np; t++)
            gsl_matrix_set(E, i, t, sc * (gsl_matrix_get(E, i, t) + gsl_ran_gaussian(r, 0.5 * act.theta)));
        }
        uint64_t G[3];
        sdlab_pattern_of_masks(&act, E, Wp, G);
        if (memcmp(G, F, nq * sizeof *F) != 0)
          continue;
        points++;
        /* neuron 1 positive below the threshold on feature 1: a point off the ReLU piece */
        double z = 0;
        for (size_t t = 0; t < np; t++)
          z += gsl_matrix_get(E, 0, t) * gsl_matrix_get(Wp, t, 0);
        below += !(F[0] & 1) && z > 0;
        const double fp = loss_at(P, Wp, Wr, Md, E);
        cr_assert(fp >= b->lower - round, "a point at %.17g below the lower bound %.17g", fp, b->lower);
        acs_stays_above(a, E, b->lower, round);
      }
      sdlab_piece_acs_free(a);
      sdlab_bnb_free(b);
      sdlab_piece_free(P);
    }
    sdlab_patterns_list_free(s);
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    gsl_matrix_free(W0);
    gsl_matrix_free(E);
    gsl_vector_free(Md);
  }
  cr_log_info("%zu JumpReLU pieces, %zu of the %zu with n_p = 2 certified to 1e-9 within 20000 boxes; %zu points, "
              "%zu with neuron 1 positive below the threshold on feature 1", pieces, certified, 2 * pieces / 3, points,
              below);
  cr_assert(points >= 300 && below > 0);
  cr_assert(certified * 3 >= pieces, "at least half the pieces with n_p = 2 close");
  gsl_rng_free(r);
}

Test(bnb, example35_pieces_are_certified_at_their_known_minima)
{
  gsl_matrix *Wp = gsl_matrix_alloc(2, 2), *Wr = gsl_matrix_alloc(2, 2), *WE = gsl_matrix_alloc(2, 2),
             *WD = gsl_matrix_alloc(2, 2);
  gsl_vector *Md = gsl_vector_alloc(2);
  sdlab_activation act;
  sdlab_construct_example35(Wp, Wr, Md, WE, WD, &act);
  /* Example 3.5 uses Top-1-ReLU, whose ranking rows couple the neurons.  On these two pieces the ReLU
   * closure gives the same infimum: the dead neuron's codes do not enter L~ and w = 0 meets the ranking
   * rows; with one neuron per feature the ranking is the sign pattern itself (n = n_q = 2). */
  act.kind = SDLAB_ACT_RELU;
  act.k = 0;
  /* neuron 1 dead and neuron 2 on both features: the spurious partial minimum, L~ = 1 (Example 3.5);
   * one neuron per feature: the global minimum 0.  No incumbent: the search finds both. */
  const uint64_t pieces[2][2] = {{0, 3}, {1, 2}};
  const double value[2] = {1, 0};
  for (int k = 0; k < 2; k++) {
    sdlab_piece *P = sdlab_piece_alloc(Wp, 2, &act, 2, pieces[k]);
    sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
    cr_assert_not_null(b);
    cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
    run(b, 10000, 1e-12);
    cr_assert_eq(sdlab_bnb_test(b, 1e-12), GSL_SUCCESS, "piece %d: [%.17g, %.17g]", k, b->lower, b->upper);
    const double tol = test_gamma(256) * energy(Wr, Md);
    cr_assert(fabs(b->lower - value[k]) <= tol && fabs(b->upper - value[k]) <= tol, "piece %d: [%.17g, %.17g], known %g",
              k, b->lower, b->upper, value[k]);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  /* the incumbent of Example 3.5's construction: accepted, and its value is kept or bettered */
  sdlab_piece *P = sdlab_piece_alloc(Wp, 2, &act, 2, pieces[0]);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
  gsl_matrix *E = gsl_matrix_calloc(2, 2);
  gsl_matrix_set(E, 1, 0, 1.0);
  gsl_matrix_set(E, 1, 1, 1.0);
  cr_assert_eq(sdlab_bnb_set(b, E, NULL), 0, "%s", sdlab_error_message(1));
  cr_assert(b->upper <= 1 + 1e-12);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  gsl_matrix_free(E);
  gsl_matrix_free(Wp);
  gsl_matrix_free(Wr);
  gsl_matrix_free(WE);
  gsl_matrix_free(WD);
  gsl_vector_free(Md);
}

/* Theorem 3.3's configuration: n directions in general position in R^n, one neuron per feature; the
 * piece's infimum is 0 (codes proportional to e_d, W_D = the targets).  n_p = 3 exercises the cones'
 * ray enumeration beyond the plane. */
Test(bnb, theorem33_monosemantic_piece_is_certified_at_zero)
{
  const uint64_t seed = 3303;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  for (int trial = 0; trial < 5; trial++) {
    const size_t n = 3;
    gsl_matrix *Wp = gsl_matrix_alloc(n, n), *Wr = gsl_matrix_alloc(2, n);
    gsl_vector *Md = gsl_vector_alloc(n);
    test_unit_columns(r, Wp);
    test_gaussian(r, Wr, 1.0);
    gsl_vector_set_all(Md, 1.0);
    const uint64_t F[3] = {1, 2, 4};
    sdlab_piece *P = sdlab_piece_alloc(Wp, 2, &act, n, F);
    sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
    cr_assert_not_null(b, "%s", sdlab_error_message(1));
    cr_assert_eq(b->dims, 0, "each neuron's codes have one direction, e_d: nothing to branch on");
    cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
    run(b, 100, 1e-12);
    cr_assert(b->lower >= 0 && b->upper <= test_gamma(256) * energy(Wr, Md), "[%.17g, %.17g]", b->lower, b->upper);
    /* the optimal point realizes the piece: each w_i in its cone */
    cr_assert(b->violation <= test_gamma(64) * (1 + gsl_matrix_max(b->WE) - gsl_matrix_min(b->WE)));
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    gsl_vector_free(Md);
  }
  gsl_rng_free(r);
}

/* Row (cos a, sin a) of W_E scaled so that, under act, it fires on F alone where some scale does: for JumpReLU
 * (threshold theta) the least pre-activation on F must be positive and above the largest off F (then
 * t = theta / sqrt(lo hi), or 2 theta / lo when hi <= 0, puts lo above and hi below theta); for ReLU F must
 * be the positive set (t = 1).  Returns the scale, 0 when no scale does. */
static double
row_scale(const gsl_matrix *Wp, const sdlab_activation *act, uint64_t F, double a)
{
  double lo = INFINITY, hi = -INFINITY;
  uint64_t G = 0;
  for (size_t d = 0; d < Wp->size2; d++) {
    const double z = cos(a) * gsl_matrix_get(Wp, 0, d) + sin(a) * gsl_matrix_get(Wp, 1, d);
    if (z > 0)
      G |= (uint64_t)1 << d;
    if (F >> d & 1)
      lo = fmin(lo, z);
    else
      hi = fmax(hi, z);
  }
  if (act->kind != SDLAB_ACT_JUMPRELU)
    return G == F ? 1.0 : 0.0;
  if (!(lo > 0 && lo > hi))
    return 0.0;
  return hi > 0 ? act->theta / sqrt(lo * hi) : 2 * act->theta / lo;
}

/* Angles (of n_a evenly spaced over the circle) at which a row of W_E realizes feature set F alone under act
 * (at some scale): up to keep of them, evenly spread, into out; returns how many. */
static size_t
arc_of(const gsl_matrix *Wp, const sdlab_activation *act, uint64_t F, size_t n_a, size_t keep, double *out)
{
  double *all = malloc(n_a * sizeof *all);
  size_t c = 0;
  for (size_t s = 0; s < n_a; s++) {
    const double a = 2 * M_PI * ((double)s + 0.5) / (double)n_a;
    if (row_scale(Wp, act, F, a) > 0)
      all[c++] = a;
  }
  const size_t k = c < keep ? c : keep;
  for (size_t t = 0; t < k; t++)
    out[t] = all[t * c / k];
  free(all);
  return k;
}

/* The paper-size landscape's directions (`sdlab landscape --features 4 --dim 2 --seed 1`), pinned */
static gsl_matrix *
landscape_directions(void)
{
  static const double p[2][4] = {{0.0074336740136002012, 0.95630168785184755, -0.92777728099646872, 0.088319899018515058},
                                 {0.99997236986361759, 0.29238173987393168, -0.37313444878059632, -0.99609216212023233}};
  gsl_matrix *Wp = gsl_matrix_alloc(2, 4);
  for (size_t a = 0; a < 2; a++)
    for (size_t d = 0; d < 4; d++)
      gsl_matrix_set(Wp, a, d, p[a][d]);
  return Wp;
}

/* The branch and bound on piece F (n_q neurons, activation act) of directions Wp (n_p = its rows; W_r = W_p,
 * M = 1), run to 1e-6 within nodes boxes and asserted certified; the caller frees it and its piece. */
static sdlab_bnb *
certified_piece(const gsl_matrix *Wp, const gsl_vector *Md, const sdlab_activation *act, size_t nq, const uint64_t *F,
                size_t nodes)
{
  sdlab_piece *P = sdlab_piece_alloc(Wp, Wp->size1, act, nq, F);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  run(b, nodes, 1e-6);
  char sets[64] = "";
  for (size_t i = 0; i < nq && i < 8; i++)
    snprintf(sets + strlen(sets), sizeof sets - strlen(sets), " %llx", (unsigned long long)F[i]);
  cr_log_info("piece (%s): [%.17g, %.17g], %zu boxes, %zu charts", sets + 1, b->lower, b->upper, b->nodes, b->charts);
  cr_assert_eq(sdlab_bnb_test(b, 1e-6), GSL_SUCCESS, "[%.17g, %.17g]", b->lower, b->upper);
  return b;
}

static void
free_piece(sdlab_bnb *b)
{
  sdlab_piece *P = (sdlab_piece *)b->P;
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
}

/* Rows first .. first + rows - 1 of W_E (the others zero) on a grid: per row, up to keep of the n_a angles at
 * which it realizes its set (scaled by row_scale).  The smallest L~ over the grid points that realize F under
 * the piece's activation (W_r = W_p, M = 1) must be at least b's lower bound, within rounding. */
static void
grid_above_lower(const sdlab_bnb *b, const uint64_t *F, size_t first, size_t rows, size_t n_a, size_t keep)
{
  const gsl_matrix *Wp = b->Wp;
  const sdlab_activation *act = &b->P->act;
  gsl_matrix *WE = gsl_matrix_calloc(b->P->nq, 2);
  double *arc = malloc(rows * keep * sizeof *arc), best = INFINITY;
  size_t len[8], at[8] = {0};
  for (size_t i = 0; i < rows; i++)
    len[i] = arc_of(Wp, act, F[first + i], n_a, keep, arc + i * keep);
  for (int more = 1; more;) {
    for (size_t i = 0; i < rows; i++) {
      const double a = arc[i * keep + at[i]], t = row_scale(Wp, act, F[first + i], a);
      gsl_matrix_set(WE, first + i, 0, t * cos(a));
      gsl_matrix_set(WE, first + i, 1, t * sin(a));
    }
    uint64_t G[64];
    sdlab_pattern_of_masks(act, WE, Wp, G);
    if (memcmp(G, F, b->P->nq * sizeof *F) == 0)
      best = fmin(best, loss_at(b->P, Wp, b->Wr, b->Md, WE));
    size_t i = 0;
    while (i < rows && ++at[i] >= len[i])
      at[i++] = 0;
    more = i < rows;
  }
  cr_assert(isfinite(best), "the grid meets the piece");
  cr_assert(best >= b->lower - test_gamma(256) * energy(b->Wr, b->Md), "grid %.17g below the lower bound %.17g", best,
            b->lower);
  cr_log_info("grid minimum %.17g", best);
  free(arc);
  gsl_matrix_free(WE);
}

/* The paper-size landscape's directions (`sdlab landscape --features 4 --dim 2 --seed 1`, W_r = W_p, M = 1),
 * pinned.  On its pieces where two neurons share a boundary ray the codes become parallel at a corner; before
 * the charts, seven of them kept a gap.  (-|0,2|0,1,3|2,3) and (-|0,1|0,2|1,2,3) reach L~ -> 0 only towards
 * that corner; (-|-|0,1|0,2) and (-|-|0,2|2,3) have their minimum elsewhere, which the corner's span bound
 * could not show (their bracket was [1 - 1e-13, 1.004]).  Each is now certified to 1e-6, and for the
 * two-neuron pieces a grid over both neurons' cones (angles, scale being irrelevant) stays above the bound. */
Test(bnb, shared_ray_corners_are_blown_up_and_certified)
{
  gsl_matrix *Wp = landscape_directions();
  gsl_vector *Md = gsl_vector_alloc(4);
  gsl_vector_set_all(Md, 1.0);
  const uint64_t pieces[4][4] = {{0, 0x5, 0xb, 0xc}, {0, 0x3, 0x5, 0xe}, {0, 0, 0x3, 0x5}, {0, 0, 0x5, 0xc}};
  const sdlab_activation relu = {.kind = SDLAB_ACT_RELU};
  gsl_rng *r = test_rng(3306);
  for (int k = 0; k < 4; k++) {
    sdlab_bnb *b = certified_piece(Wp, Md, &relu, 4, pieces[k], 200000);
    cr_assert(b->charts > 0, "piece %d has neurons holding a shared ray", k);
    if (k < 2)
      cr_assert(b->upper <= 1e-6, "piece %d: L~ -> 0 towards the corner, upper %.17g", k, b->upper);
    else
      cr_assert(b->lower > 1.0, "piece %d: the minimum is above 1, lower %.17g", k, b->lower);
    check_near_rays(r, b, pieces[k], 3000);
    if (k >= 2) /* neurons 3 and 4 on a grid of angles */
      grid_above_lower(b, pieces[k], 2, 2, 720, 720);
    free_piece(b);
  }
  gsl_rng_free(r);
  gsl_matrix_free(Wp);
  gsl_vector_free(Md);
}

/* The same landscape's three pieces whose codes are nearly dependent everywhere (features 0 and 1, and 2 and 3,
 * about 5 degrees apart) and, on (-|1,3|0,1,3|1,2,3), exactly dependent along a curve: there neuron 1's
 * generators are the ones neurons 2 and 3 hold, so at b = c = 0 its codes lie in the span of theirs for every
 * a.  With the affine bound and one level of charts they kept brackets [0.83, 0.93], [0.85, 0.93] and
 * [0.57, 0.98] after 10^6 boxes.  The frame bound (sigma_min of the frame is 1, in-span moves cost only
 * through hpar) certifies the first two; the third needs the second blow-up too.  Each is certified to 1e-6
 * and a grid over the three neurons' cones stays above the lower bound. */
Test(bnb, nearly_dependent_codes_are_certified)
{
  gsl_matrix *Wp = landscape_directions();
  gsl_vector *Md = gsl_vector_alloc(4);
  gsl_vector_set_all(Md, 1.0);
  const uint64_t pieces[3][4] = {{0, 0xb, 0xc, 0xe}, {0, 0x3, 0xb, 0xe}, {0, 0xa, 0xb, 0xe}};
  const sdlab_activation relu = {.kind = SDLAB_ACT_RELU};
  for (int k = 0; k < 3; k++) {
    sdlab_bnb *b = certified_piece(Wp, Md, &relu, 4, pieces[k], 2000000);
    if (k == 2)
      cr_assert(b->charts > 0, "piece %d has neurons holding shared rays", k);
    grid_above_lower(b, pieces[k], 1, 3, 1 << 14, 40);
    free_piece(b);
  }
  gsl_matrix_free(Wp);
  gsl_vector_free(Md);
}

/* The same directions' pieces where the constants of a pair of neurons are dependent modulo the constant
 * columns (one-generator neurons), not equal: in (-|1|0,2|0,1,3) under JumpReLU(0.5), neuron 3's ray at
 * the boundary of feature 3 has codes (z_0, z_1, 0, 0), in the span of neuron 1's e_1 and neuron 2's e_0,
 * so the codes lose rank where neurons 2 and 3 sit at those rays; (-|0,2|3|1,2,3) likewise, and Top-k-ReLU(2)
 * with three neurons has the same two pieces without the dead neuron.  Before the pair blow-up they kept
 * brackets [0.710, 1], [0.701, 1] (JumpReLU) and [0.7103, 1], [0.7005, 1] (Top-k) after 10^6 boxes.  Each is
 * certified to 1e-6 through charts, and points of the piece stay above the lower bound: for JumpReLU a grid
 * over the three live neurons' angles (each row scaled into its threshold region), for Top-k those of
 * 200,000 random W_E that realize the piece (rows of uniform angle where positive on F_i, log-normal scales). */
Test(bnb, dependent_constants_are_blown_up_and_certified)
{
  gsl_matrix *Wp = landscape_directions();
  gsl_vector *Md = gsl_vector_alloc(4);
  gsl_vector_set_all(Md, 1.0);
  const sdlab_activation jump = {.kind = SDLAB_ACT_JUMPRELU, .theta = 0.5}, topk = {.kind = SDLAB_ACT_TOPK_RELU, .k = 2};
  const uint64_t jpieces[2][4] = {{0, 0x2, 0x5, 0xb}, {0, 0x5, 0x8, 0xe}}, kpieces[2][3] = {{0x2, 0x5, 0xb}, {0x5, 0x8, 0xe}};
  for (int k = 0; k < 2; k++) {
    sdlab_bnb *b = certified_piece(Wp, Md, &jump, 4, jpieces[k], 1000000);
    cr_assert(b->charts > 0, "JumpReLU piece %d is blown up", k);
    grid_above_lower(b, jpieces[k], 1, 3, 1 << 12, 40);
    free_piece(b);
  }
  gsl_rng *r = test_rng(3307);
  gsl_matrix *WE = gsl_matrix_alloc(3, 2);
  for (int k = 0; k < 2; k++) {
    sdlab_bnb *b = certified_piece(Wp, Md, &topk, 3, kpieces[k], 1000000);
    cr_assert(b->charts > 0, "Top-k piece %d is blown up", k);
    const double round = test_gamma(64.0 * 9) * energy(Wp, Md);
    size_t hits = 0;
    double best = INFINITY;
    for (int draw = 0; draw < 200000; draw++) {
      for (size_t i = 0; i < 3; i++) { /* a direction positive on F_i (drawn again until it is), a scale */
        double a, z = -1;
        for (int tries = 0; tries < 1000 && !(z > 0); tries++) {
          a = 2 * M_PI * gsl_rng_uniform(r);
          z = INFINITY;
          for (size_t d = 0; d < 4; d++)
            if (kpieces[k][i] >> d & 1)
              z = fmin(z, cos(a) * gsl_matrix_get(Wp, 0, d) + sin(a) * gsl_matrix_get(Wp, 1, d));
        }
        const double sc = exp(gsl_ran_gaussian(r, 1.0));
        gsl_matrix_set(WE, i, 0, sc * cos(a));
        gsl_matrix_set(WE, i, 1, sc * sin(a));
      }
      uint64_t G[3];
      sdlab_pattern_of_masks(&topk, WE, Wp, G);
      if (memcmp(G, kpieces[k], sizeof G) != 0)
        continue;
      hits++;
      best = fmin(best, loss_at(b->P, Wp, Wp, Md, WE));
    }
    cr_log_info("Top-k piece %d: %zu random points, least L~ %.17g", k, hits, best);
    cr_assert(hits >= 1000, "the draws meet the piece (%zu)", hits);
    cr_assert(best >= b->lower - round, "a point at %.17g below the lower bound %.17g", best, b->lower);
    free_piece(b);
  }
  gsl_matrix_free(WE);
  gsl_rng_free(r);
  gsl_matrix_free(Wp);
  gsl_vector_free(Md);
}

Test(bnb, refuses_what_it_cannot_certify)
{
  gsl_matrix *Wp = gsl_matrix_alloc(2, 3), *Wr = gsl_matrix_alloc(2, 3), *Wbad = gsl_matrix_alloc(2, 4);
  gsl_vector *Md = gsl_vector_alloc(3);
  gsl_rng *r = test_rng(3304);
  test_unit_columns(r, Wp);
  test_gaussian(r, Wr, 1.0);
  gsl_vector_set_all(Md, 1.0);
  const uint64_t F[2] = {1, 6};
  /* activations whose pieces are not piecewise quadratic per pattern (and JumpReLU, which it takes) */
  const sdlab_activation btk = {.kind = SDLAB_ACT_BATCHTOPK, .k = 1}, tk = {.kind = SDLAB_ACT_TOPK, .k = 1},
                         jr = {.kind = SDLAB_ACT_JUMPRELU, .theta = 0.1};
  cr_assert(!sdlab_bnb_accepts(&btk, 2) && !sdlab_bnb_accepts(&tk, 2) && sdlab_bnb_accepts(&tk, 1));
  cr_assert(sdlab_bnb_accepts(&jr, 2));
  /* shapes that do not fit the piece */
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  sdlab_piece *P = sdlab_piece_alloc(Wp, 2, &act, 2, F);
  cr_assert_null(sdlab_bnb_alloc(P, Wbad, Wr, Md, 64));
  cr_assert_null(sdlab_bnb_alloc(P, Wp, Wr, Md, 0));
  /* an incumbent outside the piece's closure */
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wr, Md, 64);
  cr_assert_not_null(b);
  gsl_matrix *E = gsl_matrix_alloc(2, 2);
  gsl_matrix_set_all(E, 0.0);
  gsl_matrix_set(E, 0, 0, 1.0); /* neuron 1 fires on more than feature 1, or on none of it: one row violated */
  double sm, vi;
  sdlab_piece_margin(P, E, &sm, &vi);
  if (vi > 1e-6)
    cr_assert_eq(sdlab_bnb_set(b, E, NULL), SDLAB_EIMPOSSIBLE);
  gsl_matrix *E3 = gsl_matrix_alloc(3, 2);
  cr_assert_eq(sdlab_bnb_set(b, E3, NULL), SDLAB_ESHAPE);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  /* W_p of rank below n_p: the cones contain lines */
  gsl_matrix *Wd = gsl_matrix_alloc(3, 3);
  gsl_matrix_set_zero(Wd);
  for (size_t d = 0; d < 3; d++) {
    gsl_matrix_set(Wd, 0, d, gsl_matrix_get(Wp, 0, d));
    gsl_matrix_set(Wd, 1, d, gsl_matrix_get(Wp, 1, d));
    gsl_matrix_set(Wd, 2, d, gsl_matrix_get(Wp, 0, d) + gsl_matrix_get(Wp, 1, d));
  }
  P = sdlab_piece_alloc(Wd, 2, &act, 2, F);
  cr_assert_not_null(P);
  cr_assert_null(sdlab_bnb_alloc(P, Wd, Wr, Md, 64));
  cr_assert(strstr(sdlab_error_message(0), "rank below") != NULL, "%s", sdlab_error_message(0));
  sdlab_piece_free(P);
  sdlab_bnb_free(NULL);
  gsl_matrix_free(E);
  gsl_matrix_free(E3);
  gsl_matrix_free(Wd);
  gsl_matrix_free(Wp);
  gsl_matrix_free(Wr);
  gsl_matrix_free(Wbad);
  gsl_vector_free(Md);
  gsl_rng_free(r);
}

/* ||P_V R||_F^2, V the column span of C (full column rank), by the SVD */
static double
captured(const gsl_matrix *C, const gsl_matrix *R)
{
  gsl_matrix *U = gsl_matrix_alloc(C->size1, C->size2), *V = gsl_matrix_alloc(C->size2, C->size2);
  gsl_vector *s = gsl_vector_alloc(C->size2), *w = gsl_vector_alloc(C->size2);
  gsl_matrix_memcpy(U, C);
  gsl_linalg_SV_decomp(U, V, s, w);
  gsl_matrix *UR = gsl_matrix_alloc(C->size2, R->size2);
  gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, U, R, 0.0, UR);
  double t = test_fro(UR);
  gsl_matrix_free(U);
  gsl_matrix_free(V);
  gsl_matrix_free(UR);
  gsl_vector_free(s);
  gsl_vector_free(w);
  return t * t;
}

/* The smooth bound rests on L~'' = -d^2/ds^2 ||P_{C0 + sE} R||^2 >= -(1 + sqrt 5) ||E||^2 ||R||_F^2 /
 * sigma_min(C0 + sE)^2.  Checked against central second differences on random, partly ill-conditioned,
 * instances, with targets partly inside the span of C (small residual) and partly outside. */
Test(bnb, projection_curvature_obeys_the_smooth_bound)
{
  const uint64_t seed = 3305;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  double worst = 0;
  for (int trial = 0; trial < 300; trial++) {
    const size_t n = 3 + (size_t)trial % 4, q = 1 + (size_t)trial % (n - 1), nr = 1 + (size_t)trial % 3;
    gsl_matrix *C = gsl_matrix_alloc(n, q), *E = gsl_matrix_alloc(n, q), *R = gsl_matrix_alloc(n, nr),
               *Cs = gsl_matrix_alloc(n, q);
    test_gaussian(r, C, 1.0);
    if (q >= 2 && trial % 3 == 0) /* two nearly parallel columns */
      for (size_t d = 0; d < n; d++)
        gsl_matrix_set(C, d, 1, gsl_matrix_get(C, d, 0) + 1e-2 * gsl_ran_gaussian(r, 1.0));
    test_gaussian(r, E, 1.0);
    test_gaussian(r, R, 1.0);
    if (trial % 4 == 1) { /* targets near the span of C: a small residual, a large W */
      gsl_matrix *G = gsl_matrix_alloc(q, nr), *N = gsl_matrix_alloc(n, nr);
      test_gaussian(r, G, 1.0);
      gsl_matrix_memcpy(N, R);
      gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, C, G, 0.0, R);
      gsl_matrix_scale(N, 0.1);
      gsl_matrix_add(R, N);
      gsl_matrix_free(G);
      gsl_matrix_free(N);
    }
    gsl_matrix *U = gsl_matrix_alloc(n, q), *V = gsl_matrix_alloc(q, q);
    gsl_vector *s = gsl_vector_alloc(q), *w = gsl_vector_alloc(q);
    gsl_matrix_memcpy(U, C);
    gsl_linalg_SV_decomp(U, V, s, w);
    const double sigma = gsl_vector_get(s, q - 1);
    gsl_matrix_memcpy(U, E);
    gsl_linalg_SV_decomp(U, V, s, w);
    const double e = gsl_vector_get(s, 0);
    const double h = 1e-3 * sigma / e; /* keeps the rank and the finite difference's error small */
    double g[3];
    for (int k = 0; k < 3; k++) {
      for (size_t t = 0; t < n * q; t++)
        Cs->data[t] = C->data[t] + (double)(k - 1) * h * E->data[t];
      g[k] = captured(Cs, R);
    }
    const double second = (g[0] - 2 * g[1] + g[2]) / (h * h);
    const double fro = test_fro(R), lo = sigma - h * e;
    const double bound = (1 + sqrt(5.0)) * e * e * fro * fro / (lo * lo);
    /* the difference quotient's rounding: about eps ||R||^2 / h^2 */
    const double slack = 64 * DBL_EPSILON * fro * fro / (h * h);
    cr_assert(second <= bound + slack, "trial %d: -L~'' = %.6g above the bound %.6g", trial, second, bound);
    worst = fmax(worst, second / bound);
    gsl_matrix_free(C);
    gsl_matrix_free(E);
    gsl_matrix_free(R);
    gsl_matrix_free(Cs);
    gsl_matrix_free(U);
    gsl_matrix_free(V);
    gsl_vector_free(s);
    gsl_vector_free(w);
  }
  cr_log_info("largest -L~'' / bound: %.3f", worst);
  gsl_rng_free(r);
}

/* ||A||_2 by the SVD */
static double
spectral(const gsl_matrix *A)
{
  const size_t m = A->size1, k = A->size2;
  gsl_matrix *U = gsl_matrix_alloc(m >= k ? m : k, m >= k ? k : m), *V = gsl_matrix_alloc(m >= k ? k : m, m >= k ? k : m);
  gsl_vector *s = gsl_vector_alloc(V->size1), *w = gsl_vector_alloc(V->size1);
  if (m >= k)
    gsl_matrix_memcpy(U, A);
  else
    gsl_matrix_transpose_memcpy(U, A);
  gsl_linalg_SV_decomp(U, V, s, w);
  const double top = gsl_vector_get(s, 0);
  gsl_matrix_free(U);
  gsl_matrix_free(V);
  gsl_vector_free(s);
  gsl_vector_free(w);
  return top;
}

/* L~'(0) along C + tau E, C = U S V^T of full column rank, T = V S^-1: W = T U^T R, X = R - C W, -2 <X W^T, E> */
static double
first_derivative(const gsl_matrix *C, const gsl_matrix *U, const gsl_matrix *T, const gsl_matrix *R, const gsl_matrix *E)
{
  const size_t n = C->size1, q = C->size2, nr = R->size2;
  gsl_matrix *UR = gsl_matrix_alloc(q, nr), *W = gsl_matrix_alloc(q, nr), *X = gsl_matrix_alloc(n, nr);
  gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, U, R, 0.0, UR);
  gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, T, UR, 0.0, W);
  gsl_matrix_memcpy(X, R);
  gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, -1.0, C, W, 1.0, X);
  double d1 = 0;
  for (size_t d = 0; d < n; d++)
    for (size_t i = 0; i < q; i++)
      for (size_t a = 0; a < nr; a++)
        d1 -= 2 * gsl_matrix_get(X, d, a) * gsl_matrix_get(W, i, a) * gsl_matrix_get(E, d, i);
  gsl_matrix_free(UR);
  gsl_matrix_free(W);
  gsl_matrix_free(X);
  return d1;
}

/* k1 = max over x <= fbar of 2 sqrt(x (E - x)) + x, k2 = max of sqrt(x (E - x)), on a fine grid of x (an
 * independent evaluation of the maxima), plus the grid's error */
static void
curvature_on_a_grid(double e2, double fbar, double *k1, double *k2)
{
  *k1 = *k2 = 0;
  for (int t = 0; t <= 100000; t++) {
    const double x = fmin(fbar, e2) * t / 100000.0;
    *k1 = fmax(*k1, 2 * sqrt(x * (e2 - x)) + x);
    *k2 = fmax(*k2, sqrt(x * (e2 - x)));
  }
  *k1 += 2 * e2 * sqrt(1e-5);
  *k2 += e2 * sqrt(1e-5);
}

/* The frame bound.  With C0 = U S V^T of full column rank, C0 + tau E spans U + tau N (I + tau H)^-1, H = U^T E
 * V S^-1, N = (I - U U^T) E V S^-1, so with m = 1 / (1 - ||H||), c1 = ||N||^2 m^4, c2 = 2 ||N|| ||H|| m^3 and the
 * curvature constants k1, k2 taken at fbar = L~(0) + |L~'(0)| + phi E c1 + E c2 / 2 (E = ||R||^2):
 *   L~(0) + tau L~'(0) - tau^2 (k1 c1 + k2 c2) <= L~(tau) <= fbar   on [0, 1].
 * Checked on random instances with nearly dependent columns (where sigma_min is small and ||E|| / sigma_min
 * is large, but most of E lies in the span), against L~ on a grid of tau; L~'(0) = -2 <X W^T, E>. */
Test(bnb, frame_expansion_brackets_the_loss_along_segments)
{
  const uint64_t seed = 3307;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const double phi = 0.5 * (1 + sqrt(5.0));
  size_t used = 0;
  double tight = 0;
  for (int trial = 0; trial < 400; trial++) {
    const size_t n = 3 + (size_t)trial % 4, q = 2 + (size_t)trial % (n - 2), nr = 1 + (size_t)trial % 3;
    gsl_matrix *C = gsl_matrix_alloc(n, q), *E = gsl_matrix_alloc(n, q), *R = gsl_matrix_alloc(n, nr),
               *Ct = gsl_matrix_alloc(n, q);
    test_gaussian(r, C, 1.0);
    const double tilt = pow(10.0, -1.0 - (double)(trial % 3)); /* columns 0 and 1 nearly parallel */
    for (size_t d = 0; d < n; d++)
      gsl_matrix_set(C, d, 1, gsl_matrix_get(C, d, 0) + tilt * gsl_ran_gaussian(r, 1.0));
    /* E: mostly along C's own columns (in the span), a little off it */
    const double size = pow(10.0, -(double)(trial % 4)) * tilt, off = trial % 2 ? 0.1 : 1.0;
    for (size_t i = 0; i < q; i++) {
      const size_t j = gsl_rng_uniform_int(r, q);
      for (size_t d = 0; d < n; d++)
        gsl_matrix_set(E, d, i, size * (gsl_ran_gaussian(r, 1.0) * gsl_matrix_get(C, d, j) +
                                       off * gsl_ran_gaussian(r, 1.0)));
    }
    test_gaussian(r, R, 1.0);
    const double e2 = test_fro(R) * test_fro(R);
    /* U S V^T, T = V S^-1, G = E T, H = U^T G, N = G - U H */
    gsl_matrix *U = gsl_matrix_alloc(n, q), *V = gsl_matrix_alloc(q, q), *T = gsl_matrix_alloc(q, q),
               *G = gsl_matrix_alloc(n, q), *H = gsl_matrix_alloc(q, q), *N = gsl_matrix_alloc(n, q);
    gsl_vector *s = gsl_vector_alloc(q), *wk = gsl_vector_alloc(q);
    gsl_matrix_memcpy(U, C);
    gsl_linalg_SV_decomp(U, V, s, wk);
    for (size_t i = 0; i < q; i++)
      for (size_t t = 0; t < q; t++)
        gsl_matrix_set(T, i, t, gsl_matrix_get(V, i, t) / gsl_vector_get(s, t));
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, E, T, 0.0, G);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, U, G, 0.0, H);
    gsl_matrix_memcpy(N, G);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, -1.0, U, H, 1.0, N);
    const double nn = spectral(N), hh = spectral(H), kappa = gsl_vector_get(s, 0) / gsl_vector_get(s, q - 1);
    if (hh < 1) {
      const double d1 = first_derivative(C, U, T, R, E);
      const double f0 = e2 - captured(C, R), m = 1 / (1 - hh), c1 = nn * nn * pow(m, 4), c2 = 2 * nn * hh * pow(m, 3);
      const double fbar = f0 + fabs(d1) + phi * e2 * c1 + 0.5 * e2 * c2;
      double k1, k2;
      curvature_on_a_grid(e2, fbar, &k1, &k2);
      const double slack = test_gamma(256.0 * (double)(n + q + nr)) * e2 * kappa * kappa;
      for (int k = 1; k <= 64; k++) {
        const double tau = k / 64.0;
        for (size_t t = 0; t < n * q; t++)
          Ct->data[t] = C->data[t] + tau * E->data[t];
        const double f = e2 - captured(Ct, R), lower = f0 + tau * d1 - tau * tau * (k1 * c1 + k2 * c2);
        cr_assert(f >= lower - slack, "trial %d tau %g: L~ %.17g below the frame expansion %.17g", trial, tau, f,
                  lower);
        cr_assert(f <= fbar + slack, "trial %d tau %g: L~ %.17g above fbar %.17g", trial, tau, f, fbar);
        if (f0 + tau * d1 - f > 0)
          tight = fmax(tight, (f0 + tau * d1 - f) / (tau * tau * (k1 * c1 + k2 * c2)));
      }
      used++;
    }
    gsl_matrix *m_[] = {C, E, R, Ct, U, V, T, G, H, N};
    for (size_t k = 0; k < sizeof m_ / sizeof *m_; k++)
      gsl_matrix_free(m_[k]);
    gsl_vector_free(s);
    gsl_vector_free(wk);
  }
  cr_log_info("%zu segments with ||H|| < 1; largest share of the curvature term used: %.3f", used, tight);
  cr_assert(used >= 200, "enough segments where the frame bound applies (%zu)", used);
  gsl_rng_free(r);
}

/* The curved charts' smooth bound (sdlab_bnb.c: curved_bound).  Along C(tau) = C0 + tau E1 + tau^2 E2 (tau in
 * [0, 1]), with eta1 = ||E1||, eps2 = ||E2||, sig' = sigma_min(C0) - eta1 - eps2 > 0:
 *   L~(tau) >= L~(0) + tau L~'(0) - tau^2 (k1 (eta1 + 2 eps2)^2 / sig'^2 + 2 k2 eps2 / sig'),
 * k1, k2 at fbar = L~(0) + |L~'(0)| + phi E c1 + E c2 / 2 (c1, c2 the two terms).  Checked against L~ on a grid of
 * tau, on random instances with nearly dependent columns and a bilinear part E2 (a quarter of them with the columns
 * shrinking towards 0 while a little moves off the span). */
Test(bnb, curved_segments_obey_the_smooth_bound)
{
  const uint64_t seed = 3308;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const double phi = 0.5 * (1 + sqrt(5.0));
  size_t used = 0;
  double tight = 0;
  for (int trial = 0; trial < 400; trial++) {
    const size_t n = 3 + (size_t)trial % 4, q = 2 + (size_t)trial % (n - 2), nr = 1 + (size_t)trial % 3;
    gsl_matrix *C = gsl_matrix_alloc(n, q), *E1 = gsl_matrix_alloc(n, q), *E2 = gsl_matrix_alloc(n, q),
               *R = gsl_matrix_alloc(n, nr), *Ct = gsl_matrix_alloc(n, q), *U = gsl_matrix_alloc(n, q),
               *V = gsl_matrix_alloc(q, q), *T = gsl_matrix_alloc(q, q);
    gsl_vector *s = gsl_vector_alloc(q), *wk = gsl_vector_alloc(q);
    test_gaussian(r, C, 1.0);
    const double tilt = pow(10.0, -(double)(trial % 3)); /* columns 0 and 1 nearly parallel */
    for (size_t d = 0; d < n; d++)
      gsl_matrix_set(C, d, 1, gsl_matrix_get(C, d, 0) + tilt * gsl_ran_gaussian(r, 1.0));
    const double size = pow(10.0, -(double)(trial % 4)) * tilt, off = trial % 2 ? 0.1 : 1.0;
    for (size_t i = 0; i < q; i++) { /* E1 mostly in the span, E2 half its size */
      const size_t j = gsl_rng_uniform_int(r, q);
      for (size_t d = 0; d < n; d++) {
        gsl_matrix_set(E1, d, i, size * (gsl_ran_gaussian(r, 1.0) * gsl_matrix_get(C, d, j) +
                                         off * gsl_ran_gaussian(r, 1.0)));
        gsl_matrix_set(E2, d, i, 0.5 * size * (gsl_ran_gaussian(r, 1.0) * gsl_matrix_get(C, d, j) +
                                               off * gsl_ran_gaussian(r, 1.0)));
      }
    }
    if (trial % 4 == 1)
      for (size_t t = 0; t < n * q; t++)
        E1->data[t] = -(0.5 + 0.45 * gsl_rng_uniform(r)) * size * C->data[t] + 0.05 * size * gsl_ran_gaussian(r, 1.0);
    test_gaussian(r, R, 1.0);
    const double e2 = test_fro(R) * test_fro(R);
    gsl_matrix_memcpy(U, C);
    gsl_linalg_SV_decomp(U, V, s, wk);
    for (size_t i = 0; i < q; i++)
      for (size_t t = 0; t < q; t++)
        gsl_matrix_set(T, i, t, gsl_matrix_get(V, i, t) / gsl_vector_get(s, t));
    const double sig = gsl_vector_get(s, q - 1), kappa = gsl_vector_get(s, 0) / sig;
    const double eta1 = spectral(E1), eps2 = spectral(E2), sigp = sig - eta1 - eps2;
    if (sigp > 0) {
      const double d1 = first_derivative(C, U, T, R, E1);
      const double f0 = e2 - captured(C, R), v = eta1 + 2 * eps2, c1 = v * v / (sigp * sigp), c2 = 2 * eps2 / sigp;
      const double fbar = f0 + fabs(d1) + phi * e2 * c1 + 0.5 * e2 * c2;
      double k1, k2;
      curvature_on_a_grid(e2, fbar, &k1, &k2);
      const double slack = test_gamma(256.0 * (double)(n + q + nr)) * e2 * kappa * kappa;
      for (int k = 1; k <= 64; k++) {
        const double tau = k / 64.0;
        for (size_t t = 0; t < n * q; t++)
          Ct->data[t] = C->data[t] + tau * E1->data[t] + tau * tau * E2->data[t];
        const double f = e2 - captured(Ct, R), lower = f0 + tau * d1 - tau * tau * (k1 * c1 + k2 * c2);
        cr_assert(f >= lower - slack, "trial %d tau %g: L~ %.17g below the expansion %.17g", trial, tau, f, lower);
        cr_assert(f <= fbar + slack, "trial %d tau %g: L~ %.17g above fbar %.17g", trial, tau, f, fbar);
        if (f0 + tau * d1 - f > 0)
          tight = fmax(tight, (f0 + tau * d1 - f) / (tau * tau * (k1 * c1 + k2 * c2)));
      }
      used++;
    }
    gsl_matrix *m_[] = {C, E1, E2, R, Ct, U, V, T};
    for (size_t k = 0; k < sizeof m_ / sizeof *m_; k++)
      gsl_matrix_free(m_[k]);
    gsl_vector_free(s);
    gsl_vector_free(wk);
  }
  cr_log_info("%zu segments where sig' > 0; largest share of the curvature term used: %.3f", used, tight);
  cr_assert(used >= 100, "enough segments where the bound applies (%zu)", used);
  gsl_rng_free(r);
}

/* The instance of `sdlab landscape --features n --dim 3 --seed seed` (C.1 at interference 0.3, unit weights) */
static void
landscape_instance(size_t n, uint64_t seed, gsl_matrix **Wp, gsl_vector **Md)
{
  *Wp = NULL;
  cr_assert_eq(sdlab_lrb_directions(n, 3, 0.3, seed, Wp), 0);
  *Md = gsl_vector_alloc(n);
  gsl_vector_set_all(*Md, 1.0);
}

/* The instance of `sdlab landscape --features 5 --dim 3 --seed 1` */
static void
seed_one_instance(gsl_matrix **Wp, gsl_vector **Md)
{
  landscape_instance(5, 1, Wp, Md);
}

/* S = W_p^T W_p (R R^T for R = W_p^T, M_d = 1), and ||R||^2 = tr S into *E */
static gsl_matrix *
gram_energy(const gsl_matrix *Wp, double *E)
{
  gsl_matrix *S = gsl_matrix_alloc(Wp->size2, Wp->size2);
  gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, Wp, Wp, 0.0, S);
  *E = 0;
  for (size_t d = 0; d < S->size1; d++)
    *E += gsl_matrix_get(S, d, d);
  return S;
}

/* A point near a limit, pinned: on the n_p = 3 instance of `sdlab landscape --features 5 --dim 3 --seed 1
 * --latents 2 --activation relu`, piece (0,2,4 | 0,3,4) has the point below, strictly inside it, with W_D about
 * 1.6e7 and L~ = 1.3328939: the neurons' codes there are nearly parallel (the two cones share a face, along which
 * the infimum is approached only as W_D grows), and the branch and bound's own search finds no point so low
 * (found on 2026-12-06 by an instrumented run along that face).  Its bound, whatever the search finds, must stay
 * at or below the point's value: after 1.6 million boxes it had come within 0.01 of it; since the one-neuron
 * bound's second-order search (2026-12-07) it is within 1e-6 before any box (the face's infimum, 1.33289386). */
Test(bnb, the_bound_stays_below_a_point_where_the_codes_become_parallel, .timeout = 300)
{
  static const double we[6] = {0x1.2d5ca5c4aa96bp-1, 0x1.69fd25ac9a8b2p-2, 0x1.79674fa9587ffp-1,
                               -0x1.1d45aab4c315p-4, 0x1.ea07d817858acp-1, 0x1.df2a50f8dc52ep-2};
  static const double wd[6] = {-0x1.50b863f9b5775p+22, 0x1.50b863709831ep+22, -0x1.984defa75582cp+23,
                               0x1.984deecb499abp+23, 0x1.ed1af53b177c9p+23, -0x1.ed1af0fdb4829p+23};
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t np = 3, nq = 2;
  gsl_matrix_const_view WE = gsl_matrix_const_view_array(we, nq, np), WD = gsl_matrix_const_view_array(wd, np, nq);
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  uint64_t F[2], want[2] = {0x15, 0x19}; /* {0, 2, 4}, {0, 3, 4} */
  cr_assert_eq(sdlab_pattern_of_masks(&act, &WE.matrix, Wp, F), 0);
  cr_assert(F[0] == want[0] && F[1] == want[1], "the point's pattern is (%llx | %llx)", (unsigned long long)F[0],
            (unsigned long long)F[1]);
  sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
  double margin, violation, f;
  sdlab_piece_margin(P, &WE.matrix, &margin, &violation);
  cr_assert(margin > 0, "strictly inside the piece (margin %.3g)", margin);
  cr_assert_eq(sdlab_piece_loss(P, Wp, Wp, Md, &WE.matrix, &WD.matrix, &f, NULL, NULL), 0);
  /* the rounding of L~ at this point (theory/sdlab_claims.h: the codes' rounding multiplied by |W_D| included) */
  const double tol = sdlab_claims_ltilde_rounding(Wp, Wp, Md, &WE.matrix, &WD.matrix, F);
  cr_log_info("the pinned point: L~ = %.10f (rounding %.2g, margin %.2g, max |W_D| %.3g)", f, tol, margin, fabs(wd[4]));
  cr_assert(f < 1.33290, "L~ = %.10f at the pinned point", f);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  run(b, 1600000, 1e-9);
  cr_log_info("after %zu boxes: [%.10f, %.10f], the search's best point %.2g above the pinned one", b->nodes,
              b->lower, b->upper, b->upper - f);
  /* the search must come near the point for the comparison to mean something (1.1848 after 20,000 boxes with the
   * bounds of 2026-12-06) */
  cr_assert(b->lower > f - 1e-6, "the bound %.10f did not come within 1e-6 of the point %.10f", b->lower, f);
  cr_assert(b->lower <= f + tol, "lower bound %.17g above a point of the piece at %.17g (rounding %.3g)", b->lower, f,
            tol);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* min over W_D of L~ (M = 1, W_r = W_p) at the codes of W_E on pattern F, in long double: Gram-Schmidt twice over
 * the codes' columns, then the targets' residuals */
static long double
projection_loss_ld(const gsl_matrix *Wp, const gsl_matrix *WE, const uint64_t *F)
{
  const size_t n = Wp->size2, np = Wp->size1, nq = WE->size1;
  long double Q[8][64], total = 0;
  size_t rank = 0;
  for (size_t i = 0; i < nq && i < 8 && n <= 64; i++) {
    long double *v = Q[rank], norm = 0;
    for (size_t d = 0; d < n; d++) {
      long double z = 0;
      for (size_t a = 0; a < np; a++)
        z += (long double)gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d);
      v[d] = F[i] >> d & 1 ? z : 0;
    }
    for (int twice = 0; twice < 2; twice++)
      for (size_t r = 0; r < rank; r++) {
        long double c = 0;
        for (size_t d = 0; d < n; d++)
          c += Q[r][d] * v[d];
        for (size_t d = 0; d < n; d++)
          v[d] -= c * Q[r][d];
      }
    for (size_t d = 0; d < n; d++)
      norm += v[d] * v[d];
    if (norm > 0) {
      for (size_t d = 0; d < n; d++)
        v[d] /= sqrtl(norm);
      rank++;
    }
  }
  for (size_t a = 0; a < np; a++) {
    long double res[64];
    for (size_t d = 0; d < n; d++)
      res[d] = gsl_matrix_get(Wp, a, d);
    for (int twice = 0; twice < 2; twice++)
      for (size_t r = 0; r < rank; r++) {
        long double c = 0;
        for (size_t d = 0; d < n; d++)
          c += Q[r][d] * res[d];
        for (size_t d = 0; d < n; d++)
          res[d] -= c * Q[r][d];
      }
    for (size_t d = 0; d < n; d++)
      total += res[d] * res[d];
  }
  return total;
}

/* Points near a corner (rows u_i + s g_i, g_i Gaussian, s = 1e-3, 1e-4, 1e-5) that realize b's piece, valued in
 * long double at their optimal W_D, stay above b's lower bound (long double Gram-Schmidt at codes of condition about
 * 1 / s: within 64 n eps_ld / s^2 of the energy 3); at least 100 of 6000 draws realize the piece. */
static void
corner_points_stay_above(const sdlab_bnb *b, const double *rows, unsigned long seed)
{
  const gsl_matrix *Wp = b->Wp;
  const size_t n = Wp->size2, np = Wp->size1, nq = b->P->nq;
  const sdlab_activation *act = &b->P->act;
  gsl_rng *r = test_rng(seed);
  gsl_matrix *E = gsl_matrix_alloc(nq, np);
  size_t hits = 0;
  long double low = INFINITY;
  for (int k = 0; k < 6000; k++) {
    const double s = pow(10.0, -3.0 - (double)(k % 3));
    for (size_t i = 0; i < nq; i++)
      for (size_t a = 0; a < np; a++)
        gsl_matrix_set(E, i, a, rows[i * np + a] + s * gsl_ran_gaussian(r, 1.0));
    uint64_t G[64];
    sdlab_pattern_of_masks(act, E, Wp, G);
    if (memcmp(G, b->P->F, nq * sizeof *G) != 0)
      continue;
    hits++;
    const long double g = projection_loss_ld(Wp, E, b->P->F);
    low = fminl(low, g);
    cr_assert(g >= b->lower - 64.0L * n * LDBL_EPSILON / (s * s) * 3, "a point near the corner (s %g) at %.17Lg "
              "below the lower bound %.17g", s, g, b->lower);
  }
  cr_log_info("%zu points near the corner, the lowest at %.10Lf", hits, low);
  cr_assert(hits >= 100, "enough points near the corner realize the piece (%zu)", hits);
  gsl_matrix_free(E);
  gsl_rng_free(r);
}

/* An incumbent that was no upper bound, pinned: on the same n_p = 3 instance, piece (1,3 | 1,2,3,4) has its two
 * neurons hold one shared ray u (one neuron of two generators, one of three).  Before the curved charts and the
 * rounding term on the incumbent, the branch and bound's best point was the one below: rows equal to 1e-13, W_D
 * about 3e13, L~ = 2.09760 (long double agrees), but neuron 1's pre-activation at feature 4 is -6e-17, outside the
 * piece by rounding, and times W_D that moves L~ by 1e-3: points of the piece near that corner stay above
 * 2.09950 (50-digit arithmetic along the corner's directions gives 2.0995022).  Now an incumbent's value carries
 * its rounding bound (the codes' rounding times |W_D|: 0.03 here, so the point loses to real ones), the curved
 * charts blow the corner up, and the bound rises above the old value; points drawn strictly inside the piece near
 * the corner (u + s g, s down to 1e-5, g Gaussian, valued in long double at their optimal W_D) stay above it. */
Test(bnb, an_incumbent_at_nearly_parallel_codes_carries_its_rounding, .timeout = 300)
{
  static const double we[6] = {0x1.69aaaf9ea0558p-1, -0x1.a8e42855f06fap-2, -0x1.08c6544435287p-1,
                               0x1.69aaaf9ea07afp-1, -0x1.a8e42855f0a5ep-2, -0x1.08c6544435322p-1};
  static const double wd[6] = {-0x1.7ec57ae8037cep+39, 0x1.7ec57ae804b3bp+39, 0x1.981adbea3c326p+44,
                               -0x1.981adbea3c16dp+44, -0x1.562d620b0ced2p+44, 0x1.562d620b0cc57p+44};
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t n = 5, np = 3, nq = 2;
  gsl_matrix_const_view WE = gsl_matrix_const_view_array(we, nq, np), WD = gsl_matrix_const_view_array(wd, np, nq);
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  const uint64_t F[2] = {0xa, 0x1e}; /* {1, 3}, {1, 2, 3, 4} */
  sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
  double f;
  cr_assert_eq(sdlab_piece_loss(P, Wp, Wp, Md, &WE.matrix, &WD.matrix, &f, NULL, NULL), 0);
  const double tol = sdlab_claims_ltilde_rounding(Wp, Wp, Md, &WE.matrix, &WD.matrix, F);
  long double ref = 0; /* L~ at (W_E, W_D) in long double */
  for (size_t a = 0; a < np; a++)
    for (size_t d = 0; d < n; d++) {
      long double v = gsl_matrix_get(Wp, a, d);
      for (size_t i = 0; i < nq; i++) {
        long double z = 0;
        for (size_t c = 0; c < np; c++)
          z += (long double)we[i * np + c] * gsl_matrix_get(Wp, c, d);
        v -= F[i] >> d & 1 ? (long double)wd[a * nq + i] * z : 0;
      }
      ref += v * v;
    }
  double margin, violation;
  sdlab_piece_margin(P, &WE.matrix, &margin, &violation);
  cr_log_info("the old incumbent: computed %.10f, long double %.10Lf, rounding bound %.3g, rows violated by %.2g", f,
              ref, tol, violation);
  cr_assert(fabsl(f - ref) <= tol, "the rounding bound %.3g covers the error %.3Lg", tol, ref - f);
  cr_assert(violation > 0 && violation < 1e-15, "outside the piece by rounding (%.3g)", violation);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  cr_assert(b->charts > 0, "the shared ray's corner is blown up");
  run(b, 100000, 1e-6);
  cr_log_info("after %zu boxes: [%.10f, %.10f]", b->nodes, b->lower, b->upper);
  cr_assert(b->lower > f, "the bound %.10f rises above the old incumbent's computed value %.10f", b->lower, f);
  cr_assert(b->lower <= f + tol, "and stays below it plus its rounding bound");
  incumbent_is_a_point(b);
  /* points near the corner, valued in long double at their optimal W_D */
  double u[3]; /* the shared ray: <u, w_p^2> = <u, w_p^4> = 0, <u, w_p^1> > 0 */
  for (int a = 0; a < 3; a++)
    u[a] = gsl_matrix_get(Wp, (a + 1) % 3, 2) * gsl_matrix_get(Wp, (a + 2) % 3, 4) -
           gsl_matrix_get(Wp, (a + 2) % 3, 2) * gsl_matrix_get(Wp, (a + 1) % 3, 4);
  const double sign = u[0] * gsl_matrix_get(Wp, 0, 1) + u[1] * gsl_matrix_get(Wp, 1, 1) + u[2] * gsl_matrix_get(Wp, 2, 1) > 0 ? 1 : -1;
  const double rows[6] = {sign * u[0], sign * u[1], sign * u[2], sign * u[0], sign * u[1], sign * u[2]};
  corner_points_stay_above(b, rows, 2205);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* A code of one neuron inside a face of the other's cone, pinned: on the same instance, piece (0,1,2,4 | 0,3,4)
 * has neuron 0's generator u_0 (pre-activations 0 at features 1 and 2) give the codes of a point v inside a 2-D face
 * of neuron 1's cone (pre-activation 0 at feature 3, v a positive combination of two of its generators).  The
 * columns become parallel as neuron 0 tends to u_0 and neuron 1 to v, a corner inside neuron 1's boxes: the piece
 * stayed open at 10^6 boxes ([1.32001, 1.33596], the global minimum's lower end).  v is now a generator of neuron 1
 * and its simplices are subdivided there, so the curved charts blow the corner up: certified to 1e-6 within
 * 800,000 boxes (bounded), and points near the corner stay above the bound. */
Test(bnb, a_code_inside_another_cone_s_face_is_subdivided_and_certified, .timeout = 300)
{
  gsl_matrix *Wp = NULL;
  cr_assert_eq(sdlab_lrb_directions(5, 3, 0.3, 1, &Wp), 0);
  const size_t n = 5, nq = 2;
  gsl_vector *Md = gsl_vector_alloc(n);
  gsl_vector_set_all(Md, 1.0);
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  const uint64_t F[2] = {0x17, 0x19}; /* {0, 1, 2, 4}, {0, 3, 4} */
  sdlab_bnb *b = certified_piece(Wp, Md, &act, nq, F, 800000);
  cr_assert(b->charts > 0, "the corner is blown up");
  incumbent_is_a_point(b);
  /* the corner: u_0 = +-(w_p^1 x w_p^2) with <u_0, w_p^0> > 0; v's row w solves <w, w_p^3> = 0, <w, w_p^0> =
   * <u_0, w_p^0>, <w, w_p^4> = <u_0, w_p^4> (the same codes) */
  double rows[6], A[9], rhs[3];
  for (int a = 0; a < 3; a++)
    rows[a] = gsl_matrix_get(Wp, (a + 1) % 3, 1) * gsl_matrix_get(Wp, (a + 2) % 3, 2) -
              gsl_matrix_get(Wp, (a + 2) % 3, 1) * gsl_matrix_get(Wp, (a + 1) % 3, 2);
  if (rows[0] * gsl_matrix_get(Wp, 0, 0) + rows[1] * gsl_matrix_get(Wp, 1, 0) + rows[2] * gsl_matrix_get(Wp, 2, 0) < 0)
    for (int a = 0; a < 3; a++)
      rows[a] = -rows[a];
  const size_t feat[3] = {3, 0, 4};
  for (int e = 0; e < 3; e++) {
    rhs[e] = 0;
    for (int a = 0; a < 3; a++) {
      A[e * 3 + a] = gsl_matrix_get(Wp, a, feat[e]);
      rhs[e] += e ? rows[a] * gsl_matrix_get(Wp, a, feat[e]) : 0;
    }
  }
  gsl_matrix_view Av = gsl_matrix_view_array(A, 3, 3);
  gsl_vector_view bv = gsl_vector_view_array(rhs, 3), xv = gsl_vector_view_array(rows + 3, 3);
  gsl_permutation *perm = gsl_permutation_alloc(3);
  int signum;
  gsl_linalg_LU_decomp(&Av.matrix, perm, &signum);
  gsl_linalg_LU_solve(&Av.matrix, perm, &bv.vector, &xv.vector);
  gsl_permutation_free(perm);
  corner_points_stay_above(b, rows, 2206);
  free_piece(b);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* Two neurons whose cones share a face, pinned: on the same n_p = 3 instance, piece (2,3 | 0,2,3) has neuron 1's
 * cone {h_0 >= 0, h_2, h_3 >= 0, h_1, h_4 <= 0} and neuron 0's {h_0 <= 0, ...} meet on the 2-D face h_0 = 0, where
 * both neurons' codes are the same vector: their columns are parallel on a whole set of dimension 2, not at a
 * corner, and every box touching it has sigma = 0.  The shared-face charts take the difference a_x - a_m of the
 * shared generators' coordinates as the blown-up coordinate; the piece is certified.  Independently, points near
 * the face (both rows the same point w of it, then each entry moved by s g, s down to 1e-5, g Gaussian; those
 * that realize the piece), valued in long double at their optimal W_D, stay above the certified lower bound, for
 * five w drawn on the face. */
Test(bnb, two_neurons_sharing_a_face_are_certified, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t n = 5, np = 3, nq = 2;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  const uint64_t F[2] = {0xc, 0xd}; /* {2, 3}, {0, 2, 3} */
  sdlab_bnb *b = certified_piece(Wp, Md, &act, nq, F, 1000000);
  cr_assert(b->charts > 0, "the face is blown up");
  incumbent_is_a_point(b);
  /* w on the face: w = y - <y, p_0> p_0 / |p_0|^2 for Gaussian y (p_d: W_p's column d), kept where h_2, h_3 > 0
   * and h_1, h_4 < 0 */
  gsl_rng *r = test_rng(2242);
  double rows[6];
  for (int base = 0; base < 5;) {
    double y[3], p0 = 0, yp = 0;
    for (size_t a = 0; a < np; a++) {
      y[a] = gsl_ran_gaussian(r, 1.0);
      p0 += gsl_matrix_get(Wp, a, 0) * gsl_matrix_get(Wp, a, 0);
      yp += y[a] * gsl_matrix_get(Wp, a, 0);
    }
    for (size_t a = 0; a < np; a++)
      y[a] -= yp / p0 * gsl_matrix_get(Wp, a, 0);
    double h[5];
    for (size_t d = 0; d < n; d++) {
      h[d] = 0;
      for (size_t a = 0; a < np; a++)
        h[d] += y[a] * gsl_matrix_get(Wp, a, d);
    }
    if (!(h[2] > 0 && h[3] > 0 && h[1] < 0 && h[4] < 0))
      continue;
    for (size_t a = 0; a < np; a++)
      rows[a] = rows[np + a] = y[a];
    corner_points_stay_above(b, rows, 2243 + (unsigned long)base);
    base++;
  }
  gsl_rng_free(r);
  free_piece(b);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* The eigenvalues of the symmetric n x n matrix A (overwritten) into ev, by cyclic Jacobi rotations until the
 * off-diagonal part is below 1e-15 of the whole (plain loops: independent of the library's LAPACK-style path) */
static void
jacobi_eigenvalues(double *A, size_t n, double *ev)
{
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0, all = 0;
    for (size_t p = 0; p < n; p++)
      for (size_t r = 0; r < n; r++) {
        all += A[p * n + r] * A[p * n + r];
        off += p != r ? A[p * n + r] * A[p * n + r] : 0.0;
      }
    if (off <= 1e-30 * all)
      break;
    for (size_t p = 0; p < n; p++)
      for (size_t r = p + 1; r < n; r++) {
        if (A[p * n + r] == 0)
          continue;
        const double th = 0.5 * (A[r * n + r] - A[p * n + p]) / A[p * n + r];
        const double t = (th >= 0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1)), c = 1 / sqrt(t * t + 1), s = t * c;
        for (size_t k = 0; k < n; k++) { /* A <- J^T A J, columns then rows */
          const double akp = A[k * n + p], akr = A[k * n + r];
          A[k * n + p] = c * akp - s * akr;
          A[k * n + r] = s * akp + c * akr;
        }
        for (size_t k = 0; k < n; k++) {
          const double apk = A[p * n + k], ark = A[r * n + k];
          A[p * n + k] = c * apk - s * ark;
          A[r * n + k] = s * apk + c * ark;
        }
      }
  }
  for (size_t p = 0; p < n; p++)
    ev[p] = A[p * n + p];
}

/* The largest tr(P_V S) over q-dimensional V containing the k codes (rows of c, independent; k <= 2, n <= 8):
 * tr(P S) plus the q - k largest eigenvalues of (I - P) S (I - P), P the projector on the codes' span (Ky Fan),
 * computed apart from the library's searches (Gram-Schmidt twice, Jacobi) */
static double
frame_value(const gsl_matrix *S, const double *c, size_t k, size_t q)
{
  const size_t n = S->size1;
  double Q[2][8], P[64], T[64], M[64], ev[8], r = 0;
  for (size_t j = 0; j < k; j++) {
    memcpy(Q[j], c + j * n, n * sizeof *c);
    for (int pass = 0; pass < 2; pass++) {
      for (size_t l = 0; l < j; l++) {
        double dot = 0;
        for (size_t d = 0; d < n; d++)
          dot += Q[l][d] * Q[j][d];
        for (size_t d = 0; d < n; d++)
          Q[j][d] -= dot * Q[l][d];
      }
      double nn = 0;
      for (size_t d = 0; d < n; d++)
        nn += Q[j][d] * Q[j][d];
      for (size_t d = 0; d < n; d++)
        Q[j][d] /= sqrt(nn);
    }
  }
  for (size_t d = 0; d < n; d++)
    for (size_t e = 0; e < n; e++) {
      P[d * n + e] = d == e;
      for (size_t j = 0; j < k; j++) {
        P[d * n + e] -= Q[j][d] * Q[j][e];
        r += Q[j][d] * gsl_matrix_get(S, d, e) * Q[j][e];
      }
    }
  for (size_t pass = 0; pass < 2; pass++) /* T = P S, then M = T P */
    for (size_t d = 0; d < n; d++)
      for (size_t e = 0; e < n; e++) {
        double v = 0;
        for (size_t f = 0; f < n; f++)
          v += pass ? T[d * n + f] * P[f * n + e] : P[d * n + f] * gsl_matrix_get(S, f, e);
        (pass ? M : T)[d * n + e] = v;
      }
  jacobi_eigenvalues(M, n, ev);
  for (size_t t = 0; t + k < q; t++) { /* the q - k largest, one at a time */
    size_t at = 0;
    for (size_t d = 1; d < n; d++)
      at = ev[d] > ev[at] ? d : at;
    r += ev[at];
    ev[at] = -INFINITY;
  }
  return r;
}

/* neuron i's codes at W_E's row i on feature set F (features off F zero) */
static void
row_codes(const gsl_matrix *Wp, const gsl_matrix *WE, size_t i, uint64_t F, double *c)
{
  for (size_t d = 0; d < Wp->size2; d++) {
    double z = 0;
    for (size_t a = 0; a < Wp->size1; a++)
      z += gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d);
    c[d] = F >> d & 1 ? z : 0.0;
  }
}

/* The one-neuron bound (sdlab_bnb.h).  On the n = 5, n_p = 3, n_q = 2 ReLU instance of seed 1, five pieces stayed at
 * the span bound (0.7446) after 20,000 boxes with the bounds before it, below the global minimum's best point.
 * With it, each piece's bound before any box is split is above the best point alternating convex search finds
 * on the global piece (0,2,4 | 0,3,4) from 20 of its points: no box of them is searched.  The bound is checked
 * against this file's computations: every drawn point of each piece (at least 50, up to 100 of Gaussian W_E) has
 * L~ at or above the piece's lower bound, and the relaxation is at most ||R||^2 - min over the two neurons of the
 * largest phi at their drawn codes (frame_value with one code), phi taken with S_B, S restricted to the features of the piece's two neurons
 * (the drawn codes are points of the cones over which the bound maximises phi, and the codes of a piece vanish
 * off its neurons' features, so V lies in that coordinate subspace B).  On the global piece itself, which misses
 * feature 1, B makes the bound tighter than any bound through S could be: it is above ||R||^2 - min over the
 * neurons of the largest phi with S at the drawn codes (which is at least what the relaxation with S gives).
 * That the bound stays below points of the piece near its infimum, where the codes become parallel, is checked by
 * the_bound_stays_below_a_point_where_the_codes_become_parallel. */
Test(bnb, the_one_neuron_bound_lifts_pieces_above_the_global_minimum, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t n = 5, np = 3, nq = 2;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  double E;
  gsl_matrix *S = gram_energy(Wp, &E);
  const double round = test_gamma(64.0 * (double)(n + nq + np)) * E;
  gsl_rng *r = test_rng(2311);
  gsl_matrix *WE = gsl_matrix_alloc(nq, np), *row = gsl_matrix_alloc(1, np);
  /* the global piece (0,2,4 | 0,3,4): the best of alternating convex search from 20 of its points */
  const uint64_t G[2] = {0x15, 0x19};
  sdlab_piece *PG = sdlab_piece_alloc(Wp, np, &act, nq, G);
  const double best = best_local_solve(r, &act, PG, Wp, Md, G, WE, 20, 1000000, 200);
  cr_log_info("the global piece's best point found: %.17g", best);
  cr_assert(best < 1.4, "the global piece's local solves found its minimum's neighbourhood");
  /* (0,1,2,4 | 1,3,4), (1,2,3 | 0,1,2,4), (1,2,3 | 0,3,4), (0,2,3 | 0,1,2,4), (0,2,3 | 1,3,4), then the global piece */
  const uint64_t F[6][2] = {{0x17, 0x1a}, {0x0e, 0x17}, {0x0e, 0x19}, {0x0d, 0x17}, {0x0d, 0x1a}, {0x15, 0x19}};
  gsl_matrix *SB = gsl_matrix_alloc(n, n);
  for (size_t p = 0; p < 6; p++) {
    const int global = p == 5;
    const uint64_t feat = F[p][0] | F[p][1]; /* S_B: S on the features of the piece's neurons, zero elsewhere */
    for (size_t d = 0; d < n; d++)
      for (size_t e = 0; e < n; e++)
        gsl_matrix_set(SB, d, e, (feat >> d & feat >> e & 1) ? gsl_matrix_get(S, d, e) : 0.0);
    sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F[p]);
    sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
    cr_assert_not_null(b, "%s", sdlab_error_message(1));
    cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
    cr_log_info("piece %zu: one-neuron bound %.17g, lower %.17g, upper %.17g", p, b->pairwise, b->lower, b->upper);
    cr_assert(global || b->pairwise > best + round, "piece %zu: the one-neuron bound %.17g is not above the global "
              "piece's point %.17g", p, b->pairwise, best);
    cr_assert(b->lower >= b->relaxed && b->relaxed >= b->pairwise);
    double most[2] = {-INFINITY, -INFINITY}, most_s[2] = {-INFINITY, -INFINITY};
    size_t points = 0;
    for (int draw = 0; draw < 3000000 && points < 100; draw++) {
      test_gaussian(r, WE, 1.0);
      uint64_t H[2];
      sdlab_pattern_of_masks(&act, WE, Wp, H);
      for (size_t i = 0; i < nq; i++) { /* a row with neuron i's set: a code of its cone */
        gsl_matrix_const_view wi = gsl_matrix_const_submatrix(WE, i, 0, 1, np);
        gsl_matrix_memcpy(row, &wi.matrix);
        uint64_t h;
        sdlab_pattern_of_masks(&act, row, Wp, &h);
        for (size_t j = 0; j < nq; j++)
          if (h == F[p][j]) {
            double c[5];
            row_codes(Wp, row, 0, h, c);
            most[j] = fmax(most[j], frame_value(SB, c, 1, nq));
            if (global)
              most_s[j] = fmax(most_s[j], frame_value(S, c, 1, nq));
          }
      }
      if (memcmp(H, F[p], sizeof H) != 0)
        continue;
      points++;
      const double f = loss_at(P, Wp, Wp, Md, WE);
      cr_assert(f >= b->lower - round, "piece %zu: a point at %.17g below the lower bound %.17g", p, f, b->lower);
    }
    cr_assert(points >= 50, "piece %zu: %zu points drawn", p, points);
    cr_assert(b->pairwise <= E - fmin(most[0], most[1]) + round,
              "piece %zu: the one-neuron bound %.17g above ||R||^2 - phi (S_B) at drawn codes, %.17g", p, b->pairwise,
              E - fmin(most[0], most[1]));
    cr_assert(!global || b->pairwise > E - fmin(most_s[0], most_s[1]) + round, "the global piece: the one-neuron "
              "bound %.17g not above ||R||^2 - phi (S) at drawn codes, %.17g", b->pairwise,
              E - fmin(most_s[0], most_s[1]));
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  gsl_matrix_free(WE);
  gsl_matrix_free(row);
  gsl_rng_free(r);
  sdlab_piece_free(PG);
  gsl_matrix_free(SB);
  gsl_matrix_free(S);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* L~ at W_E's codes (two neurons, M_d = 1, W_r = W_p) in long double, taking the span of c_1 and c_2 - c_1 (the
 * difference formed from the codes in long double, so nearly parallel codes lose nothing to cancellation), two
 * Gram-Schmidt passes; into *tol its error bound: each code entry is within e = 2 n_p eps_ld (its largest |term|
 * sum) of its value, so d = c_2 - c_1 within 2 e sqrt(n), turning the plane by at most that over |d| sin(theta)
 * (theta the angle between c_1 and d), which moves tr(P_V S) by at most 2 ||S|| times the turn (||S|| <= ||R||^2);
 * plus the Gram-Schmidt's own n eps_ld / sin^2(theta) of the energy.  NAN where the codes do not span a plane. */
static long double
plane_loss_ld(const gsl_matrix *Wp, const gsl_matrix *WE, const uint64_t *F, long double *tol)
{
  const size_t n = Wp->size2, np = Wp->size1;
  long double c[2][64], big = 0, energy = 0;
  for (size_t i = 0; i < 2; i++)
    for (size_t d = 0; d < n; d++) {
      long double z = 0, mag = 0;
      for (size_t a = 0; a < np; a++) {
        z += (long double)gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d);
        mag += fabsl((long double)gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d));
      }
      c[i][d] = F[i] >> d & 1 ? z : 0;
      big = fmaxl(big, mag);
    }
  long double q0[64], q1[64], n0 = 0, n1 = 0;
  for (size_t d = 0; d < n; d++) {
    q0[d] = c[0][d];
    q1[d] = c[1][d] - c[0][d];
    n0 += q0[d] * q0[d];
  }
  if (!(n0 > 0))
    return NAN;
  n0 = sqrtl(n0);
  long double dnorm = 0;
  for (size_t d = 0; d < n; d++) {
    q0[d] /= n0;
    dnorm += q1[d] * q1[d];
  }
  dnorm = sqrtl(dnorm);
  for (int twice = 0; twice < 2; twice++) {
    long double t = 0;
    for (size_t d = 0; d < n; d++)
      t += q0[d] * q1[d];
    for (size_t d = 0; d < n; d++)
      q1[d] -= t * q0[d];
  }
  for (size_t d = 0; d < n; d++)
    n1 += q1[d] * q1[d];
  n1 = sqrtl(n1);
  if (!(dnorm > 0) || !(n1 > 0))
    return NAN;
  const long double sine = n1 / dnorm;
  for (size_t d = 0; d < n; d++)
    q1[d] /= n1;
  long double total = 0;
  for (size_t a = 0; a < np; a++) {
    long double res[64], t0 = 0, t1 = 0;
    for (size_t d = 0; d < n; d++) {
      res[d] = gsl_matrix_get(Wp, a, d);
      energy += res[d] * res[d];
      t0 += q0[d] * res[d];
      t1 += q1[d] * res[d];
    }
    for (size_t d = 0; d < n; d++)
      total += (res[d] - t0 * q0[d] - t1 * q1[d]) * (res[d] - t0 * q0[d] - t1 * q1[d]);
  }
  const long double e = 2.0L * np * LDBL_EPSILON * big;
  *tol = 2 * energy * (2 * e * sqrtl((long double)n)) / (dnorm * sine) +
         16.0L * n * LDBL_EPSILON * energy / (sine * sine);
  return total;
}

/* The one-neuron bound's maximiser gives a point at the bound (sdlab_bnb.h, the incumbent from the relaxation).
 * On the n = 5, n_p = 3, n_q = 2 ReLU instances of seeds 1 to 4 (C.1 at interference 0.3), every piece with both
 * neurons live met among 4,000 Gaussian W_E: after sdlab_bnb_set, before any box, the incumbent is a point of the
 * piece's closure, its L~ recomputed here (plane_loss_ld) lies within the reported upper bound and at or above the
 * one-neuron bound (the second-order search's bound on phi over a simplex may not pass a code of the piece; the
 * incumbent sits where the bound is tightest).  Named pieces of seed 1 are certified (upper - lower <= 1e-6
 * max(1, upper)) with no box at all: the global piece (0,2,4 | 0,3,4), whose infimum is a limit along the face its
 * two cones share (W_D -> inf), (0,1,2 | 0,1,2,4), another such limit, and (3 | 0,2,3), whose maximising plane
 * holds a code of the second neuron (a point of the piece reaches the bound). */
Test(bnb, the_relaxation_s_maximiser_gives_a_point_at_the_bound, .timeout = 300)
{
  const size_t n = 5, np = 3, nq = 2;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  const uint64_t named[3][2] = {{0x15, 0x19}, {0x07, 0x17}, {0x08, 0x0d}};
  size_t pieces = 0, at_set = 0, named_seen = 0;
  gsl_rng *r = test_rng(2317);
  gsl_matrix *WE = gsl_matrix_alloc(nq, np);
  for (unsigned long seed = 1; seed <= 4; seed++) {
    gsl_matrix *Wp = NULL;
    cr_assert_eq(sdlab_lrb_directions(n, np, 0.3, seed, &Wp), 0);
    gsl_vector *Md = gsl_vector_alloc(n);
    gsl_vector_set_all(Md, 1.0);
    uint64_t seen[256][4];
    size_t nseen = 0;
    for (int draw = 0; draw < 4000 && nseen < 256; draw++) {
      test_gaussian(r, WE, 1.0);
      uint64_t F[2];
      sdlab_pattern_of_masks(&act, WE, Wp, F);
      if (F[0] > F[1]) {
        const uint64_t t = F[0];
        F[0] = F[1];
        F[1] = t;
      }
      if (F[0] == 0 || !first_seen(seen, &nseen, F, 2))
        continue;
      sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
      sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
      cr_assert_not_null(b, "%s", sdlab_error_message(1));
      cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
      pieces++;
      const int certified = b->upper - b->lower <= 1e-6 * fmax(1.0, b->upper);
      at_set += certified;
      for (size_t k = 0; k < 3; k++)
        if (seed == 1 && memcmp(named[k], F, sizeof F) == 0) {
          named_seen++;
          cr_log_info("seed 1, piece (%llx | %llx): bound %.12f, incumbent %.12f", (unsigned long long)F[0],
                      (unsigned long long)F[1], b->lower, b->upper);
          cr_assert(certified, "seed 1, piece (%llx | %llx): [%.12f, %.12f] not certified by the relaxation and its "
                    "incumbent", (unsigned long long)F[0], (unsigned long long)F[1], b->lower, b->upper);
        }
      if (isfinite(b->upper)) {
        incumbent_is_a_point(b);
        long double tol;
        const long double f = plane_loss_ld(Wp, b->WE, F, &tol);
        if (!isnan(f)) {
          cr_assert(f <= b->upper + tol, "seed %lu, piece (%llx | %llx): L~ %.17Lg above the upper bound %.17g", seed,
                    (unsigned long long)F[0], (unsigned long long)F[1], f, b->upper);
          cr_assert(b->relaxed <= f + tol, "seed %lu, piece (%llx | %llx): the one-neuron bound %.17g above a point "
                    "of the piece at %.17Lg (within %.3Lg)", seed, (unsigned long long)F[0], (unsigned long long)F[1],
                    b->relaxed, f, tol);
        }
      }
      sdlab_bnb_free(b);
      sdlab_piece_free(P);
    }
    gsl_vector_free(Md);
    gsl_matrix_free(Wp);
  }
  cr_log_info("%zu pieces with two live neurons; %zu certified by the relaxation and its incumbent alone", pieces,
              at_set);
  cr_assert_eq(named_seen, 3, "the named pieces of seed 1 were drawn (%zu of 3)", named_seen);
  cr_assert(pieces >= 200, "%zu pieces", pieces);
  gsl_matrix_free(WE);
  gsl_rng_free(r);
}

/* The next of the patterns with every neuron live (n_q = WE's rows, at most 4) met among Gaussian W_E (into WE;
 * *draw counts the draws, at most 20000): a pattern not in seen (appended; H its masks), its piece and branch and
 * bound, set.  0 when the draws ran out. */
static int
draw_new_piece(gsl_rng *r, const sdlab_activation *act, const gsl_matrix *Wp, const gsl_vector *Md, gsl_matrix *WE,
               int *draw, uint64_t (*seen)[4], size_t *count, uint64_t *H, sdlab_piece **P, sdlab_bnb **b)
{
  const size_t nq = WE->size1;
  for (; *draw < 20000; ++*draw) {
    test_gaussian(r, WE, 1.0);
    sdlab_pattern_of_masks(act, WE, Wp, H);
    int live = 1;
    for (size_t i = 0; i < nq; i++)
      live &= H[i] != 0;
    if (!live || !first_seen(seen, count, H, nq))
      continue;
    ++*draw;
    *P = sdlab_piece_alloc(Wp, Wp->size1, act, nq, H);
    *b = sdlab_bnb_alloc(*P, Wp, Wp, Md, 64);
    cr_assert_not_null(*b, "%s", sdlab_error_message(1));
    cr_assert_eq(sdlab_bnb_set(*b, NULL, NULL), 0);
    return 1;
  }
  return 0;
}

Test(bnb, the_two_neuron_bound_brackets_three_neuron_pieces_and_lifts_them, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t n = 5, np = 3, nq = 3, most_pieces = 40;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  double E;
  gsl_matrix *S = gram_energy(Wp, &E), *SB = gsl_matrix_alloc(n, n);
  const double round = test_gamma(64.0 * (double)(n + nq + np)) * E;
  gsl_rng *r = test_rng(2417);
  gsl_matrix *WE = gsl_matrix_alloc(nq, np);
  uint64_t seen[40][4];
  double relaxed[40], most[40][3], c[3 * 5], pair[2 * 5];
  size_t count = 0, points[40] = {0};
  /* pieces: the first 40 patterns with three live neurons met among Gaussian W_E; each one's bound at set */
  for (int draw = 0; count < most_pieces;) {
    uint64_t H[3];
    sdlab_piece *P;
    sdlab_bnb *b;
    if (!draw_new_piece(r, &act, Wp, Md, WE, &draw, seen, &count, H, &P, &b))
      break;
    relaxed[count - 1] = b->pairwise;
    cr_assert(b->lower >= b->relaxed && b->relaxed >= b->pairwise);
    cr_assert(b->live < 3 || b->relaxed > -INFINITY, "live %zu relaxed %g", b->live, b->relaxed);
    for (size_t p = 0; p < 3; p++)
      most[count - 1][p] = -INFINITY;
    /* local solves from this point: each ends at or above the bound */
    sdlab_piece_acs *acs = sdlab_piece_acs_alloc(P, Wp, Wp, Md);
    acs_run(acs, WE, 100);
    cr_assert(acs->loss >= b->relaxed - round, "piece (%llx | %llx | %llx): a local solve at %.17g below the bound "
              "%.17g", (unsigned long long)H[0], (unsigned long long)H[1], (unsigned long long)H[2], acs->loss,
              b->relaxed);
    sdlab_piece_acs_free(acs);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  cr_assert_eq(count, most_pieces, "%zu pieces met", count);
  /* points of those pieces: at each, for every pair of neurons, the largest tr(P_V S_B) over V containing the two
   * codes; the bound is ||R||^2 less the least over pairs of its sup over the two cones, so at most ||R||^2 less
   * the least over pairs of the largest such value met (and so at most every point's L~) */
  for (int draw = 0; draw < 200000; draw++) {
    test_gaussian(r, WE, 1.0);
    uint64_t H[3];
    sdlab_pattern_of_masks(&act, WE, Wp, H);
    size_t k = 0;
    while (k < count && memcmp(seen[k], H, sizeof H) != 0)
      k++;
    if (k == count)
      continue;
    points[k]++;
    const uint64_t feat = H[0] | H[1] | H[2];
    for (size_t d = 0; d < n; d++)
      for (size_t e = 0; e < n; e++)
        gsl_matrix_set(SB, d, e, (feat >> d & feat >> e & 1) ? gsl_matrix_get(S, d, e) : 0.0);
    for (size_t i = 0; i < nq; i++)
      row_codes(Wp, WE, i, H[i], c + i * n);
    for (size_t i = 0, p = 0; i < nq; i++)
      for (size_t j = i + 1; j < nq; j++, p++) {
        memcpy(pair, c + i * n, n * sizeof *c);
        memcpy(pair + n, c + j * n, n * sizeof *c);
        most[k][p] = fmax(most[k][p], frame_value(SB, pair, 2, nq));
      }
  }
  for (size_t k = 0; k < count; k++) {
    if (points[k] == 0)
      continue;
    const double least = fmin(most[k][0], fmin(most[k][1], most[k][2]));
    cr_assert(relaxed[k] <= E - least + round, "piece (%llx | %llx | %llx): the bound %.17g above ||R||^2 less the "
              "pairs' values at its points, %.17g", (unsigned long long)seen[k][0], (unsigned long long)seen[k][1],
              (unsigned long long)seen[k][2], relaxed[k], E - least);
  }
  /* a piece the two-neuron bound certifies with few boxes, (1,2 | 0,3 | 1,2,3,4), and the one-neuron bound cannot:
   * its bound exceeds ||R||^2 less the least over neurons of the largest phi met among codes of each cone */
  const uint64_t F[3] = {0x06, 0x09, 0x1e};
  for (size_t d = 0; d < n; d++)
    for (size_t e = 0; e < n; e++)
      gsl_matrix_set(SB, d, e, (0x1f >> d & 0x1f >> e & 1) ? gsl_matrix_get(S, d, e) : 0.0);
  sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  const double at_set = b->pairwise;
  double one[3] = {-INFINITY, -INFINITY, -INFINITY};
  gsl_matrix *row = gsl_matrix_alloc(1, np);
  for (int draw = 0; draw < 300000; draw++) {
    test_gaussian(r, row, 1.0);
    uint64_t h;
    sdlab_pattern_of_masks(&act, row, Wp, &h);
    for (size_t j = 0; j < nq; j++)
      if (h == F[j]) {
        row_codes(Wp, row, 0, h, c);
        one[j] = fmax(one[j], frame_value(SB, c, 1, nq));
      }
  }
  cr_assert(one[0] > -INFINITY && one[1] > -INFINITY && one[2] > -INFINITY, "codes of every cone drawn");
  const double one_bound = E - fmin(one[0], fmin(one[1], one[2]));
  /* the best of local solves from 10 of its points: the bound is reached (within the census's 1e-6) with no box */
  const double best = best_local_solve(r, &act, P, Wp, Md, F, WE, 10, 2000000, 300);
  cr_log_info("(1,2 | 0,3 | 1,2,3,4): two-neuron bound %.17g, one-neuron at most %.17g, best local solve %.17g",
              at_set, one_bound, best);
  cr_assert(at_set > one_bound + round, "the two-neuron bound %.17g not above the one-neuron bound's %.17g", at_set,
            one_bound);
  cr_assert(at_set <= best + round && at_set >= best - 1e-6 * best, "the bound %.17g not within 1e-6 below the best "
            "local solve %.17g", at_set, best);
  gsl_matrix_free(row);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  gsl_matrix_free(WE);
  gsl_rng_free(r);
  gsl_matrix_free(SB);
  gsl_matrix_free(S);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* The hyperplane bound (codimension one: q live neurons whose codes use q + 1 features).  On the n = 4, n_p = 3
 * instance of `sdlab landscape --features 4 --dim 3 --seed 2 --latents 3 --activation relu`:
 *  - the first 40 patterns with three live neurons met among Gaussian W_E: the bound at set brackets points of
 *    the piece and local solves from them (points_stay_above);
 *  - piece (0,2,3 | 0,2,3 | 1,2,3), twin neurons whose cones meet the third's on the face of features {2, 3}: the
 *    one- and two-neuron bounds stay at 1.1516e-4 there (the one-neuron cap, measured on 2026-12-07), below the
 *    instance's global minimum 2.606e-4, and 300,000 boxes did not lift it; the hyperplane bound must lift it to
 *    the L~ of the point the branch and bound certifies on the global piece (0,3 | 1,3 | 2,3), within 1e-4 of
 *    that value (the bound is exact up to rounding; the point is above the infimum by at most the 1e-6 it is
 *    certified to), and stay below its own piece's local solves;
 *  - piece (0,3 | 2,3 | 1,2,3), whose infimum is a limit where two cones meet the minimising hyperplane along the
 *    shared ray e_3: the incumbent the bound offers (hyperplanes tilted by 1e-2 .. 1e-9) must be a point of the
 *    piece's closure whose L~, recomputed, is within 1e-6 of the bound. */
Test(bnb, the_hyperplane_bound_brackets_codimension_one_pieces_and_lifts_them, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  landscape_instance(4, 2, &Wp, &Md);
  const size_t n = 4, np = 3, nq = 3;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  double E;
  gsl_matrix *S = gram_energy(Wp, &E);
  const double round = test_gamma(64.0 * (double)(n + nq + np)) * E;
  gsl_rng *r = test_rng(3301);
  gsl_matrix *WE = gsl_matrix_alloc(nq, np), *X = gsl_matrix_alloc(nq, np);
  uint64_t seen[40][4];
  size_t count = 0, points = 0, tight = 0;
  for (int draw = 0; count < 40;) {
    uint64_t H[3];
    sdlab_piece *P;
    sdlab_bnb *b;
    if (!draw_new_piece(r, &act, Wp, Md, WE, &draw, seen, &count, H, &P, &b))
      break;
    cr_assert(b->lower >= b->relaxed && b->upper >= b->lower);
    points += points_stay_above(r, b, &act, WE, X, H, 20, round, count - 1);
    tight += b->upper - b->relaxed <= 1e-6 * fmax(1.0, b->upper);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  cr_assert_eq(count, 40, "%zu pieces met", count);
  cr_log_info("hyperplane bound: %zu points and local solves checked; %zu of 40 pieces closed at set", points, tight);
  const uint64_t G[3] = {0x09, 0x0a, 0x0c}, T[3] = {0x0d, 0x0d, 0x0e}, L[3] = {0x09, 0x0c, 0x0e};
  /* the global minimum: the point the branch and bound certifies on (0,3 | 1,3 | 2,3), its L~ recomputed */
  sdlab_piece *PG = sdlab_piece_alloc(Wp, np, &act, nq, G);
  sdlab_bnb *bg = sdlab_bnb_alloc(PG, Wp, Wp, Md, 64);
  cr_assert_not_null(bg, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(bg, NULL, NULL), 0);
  for (int it = 0; it < 1000 && sdlab_bnb_test(bg, 1e-6) == GSL_CONTINUE; it++)
    cr_assert_eq(sdlab_bnb_iterate(bg), 0);
  double global;
  cr_assert_eq(sdlab_piece_loss(PG, Wp, Wp, Md, bg->WE, bg->WD, &global, NULL, NULL), 0);
  sdlab_bnb_free(bg);
  sdlab_piece_free(PG);
  cr_assert(global < 3e-4, "the global piece's point at %.17g", global);
  sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, T);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  const double own = best_local_solve(r, &act, P, Wp, Md, T, WE, 10, 2000000, 400);
  cr_log_info("(0,2,3 | 0,2,3 | 1,2,3): bound %.17g, the global piece's point %.17g, its own local solve %.17g", b->relaxed,
              global, own);
  cr_assert(b->relaxed >= global - 1e-4 * global, "the bound %.17g not lifted to the global minimum %.17g", b->relaxed,
            global);
  cr_assert(b->relaxed <= own + round, "the bound %.17g above a local solve %.17g", b->relaxed, own);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  P = sdlab_piece_alloc(Wp, np, &act, nq, L);
  b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  double loss, margin, violation;
  cr_assert_eq(sdlab_piece_loss(P, Wp, Wp, Md, b->WE, b->WD, &loss, NULL, NULL), 0);
  sdlab_piece_margin(P, b->WE, &margin, &violation);
  cr_log_info("(0,3 | 2,3 | 1,2,3): bound %.17g, incumbent %.17g (L~ recomputed %.17g, violation %.3g)", b->relaxed,
              b->upper, loss, violation);
  cr_assert(violation <= 1e-9 && loss <= b->upper && loss >= b->relaxed - round);
  cr_assert(b->upper - b->relaxed <= 1e-6 * fmax(1.0, b->upper), "the incumbent %.17g not within 1e-6 of the bound "
            "%.17g", b->upper, b->relaxed);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  /* pieces with a neuron on one feature, whose configurations of rank below q the bound takes exactly (fixed_code_rank
   * in sdlab_bnb.c): (0,1 | 3 | 1,2,3) and (0 | 0,1,2 | 1,3), which the one-neuron bound with V of dimension q - 1 left
   * at 0.935 below their best point (L~ = 1) after 20,000 boxes, are lifted to it at set; local solves and points
   * drawn around the incumbent stay above the bound */
  static const uint64_t single[2][3] = {{0x03, 0x08, 0x0e}, {0x01, 0x07, 0x0a}};
  for (int f = 0; f < 2; f++) {
    P = sdlab_piece_alloc(Wp, np, &act, nq, single[f]);
    b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
    cr_assert_not_null(b, "%s", sdlab_error_message(1));
    cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
    const double solve = best_local_solve(r, &act, P, Wp, Md, single[f], WE, 10, 2000000, 400);
    cr_assert(solve < INFINITY, "no start of the piece among the Gaussian draws");
    size_t near = 0; /* points of the piece around the incumbent, at distances 1e-1 .. 1e-4 */
    for (int k = 0; k < 4000; k++) {
      gsl_matrix_memcpy(X, b->WE);
      for (size_t t = 0; t < nq * np; t++)
        X->data[t] += gsl_ran_gaussian(r, pow(10.0, -1.0 - (double)(k % 4)));
      uint64_t H[3];
      sdlab_pattern_of_masks(&act, X, Wp, H);
      if (memcmp(H, single[f], sizeof H) != 0)
        continue;
      near++;
      const double at = loss_at(P, Wp, Wp, Md, X);
      cr_assert(at >= b->relaxed - round, "a point of the piece at %.17g below the bound %.17g", at, b->relaxed);
    }
    cr_log_info("single-feature piece %d: bound %.17g, incumbent %.17g, local solve %.17g, %zu points near the "
                "incumbent", f, b->relaxed, b->upper, solve, near);
    cr_assert(near >= 20, "points of the piece near the incumbent: %zu", near);
    cr_assert(b->relaxed <= solve + round, "the bound %.17g above a local solve %.17g", b->relaxed, solve);
    cr_assert(b->upper - b->relaxed <= 1e-6 * fmax(1.0, b->upper), "the incumbent %.17g not within 1e-6 of the bound "
              "%.17g", b->upper, b->relaxed);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  gsl_matrix_free(X);
  gsl_matrix_free(WE);
  gsl_rng_free(r);
  gsl_matrix_free(S);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* Around b's point on pinned piece p (pattern F): 400 perturbations that keep the pattern, and local solves from 10
 * starts drawn in the piece (WE, X: scratch), stay above the wedge bound (within round) */
static void
around_a_pinned_point(gsl_rng *r, const sdlab_bnb *b, const sdlab_activation *act, const uint64_t *F, gsl_matrix *WE,
                      gsl_matrix *X, double round, size_t p)
{
  const size_t near = points_stay_above(r, b, act, b->WE, X, F, 400, round, p);
  const double solved = best_local_solve(r, act, b->P, b->Wp, b->Md, F, WE, 10, 1000000, 200);
  cr_log_info("pinned piece %zu: %zu points around its point, local solves down to %.17g", p, near, solved);
  cr_assert(solved < INFINITY, "pinned piece %zu: no start drawn in the piece", p);
  cr_assert(solved >= b->wedge - round, "pinned piece %zu: a local solve at %.17g below the wedge bound %.17g", p,
            solved, b->wedge);
}

/* The wedge bound (q = 2 live neurons): the planes of two neurons' codes as bivectors, bounded by the largest quotient
 * of S's additive compound over the cone of the products of their simplices' vertices, searched over simplex pairs.
 * On random two-neuron pieces of the n = 5, n_p = 3 instance of seed 2 it stays below every point drawn in the piece,
 * perturbations of them and local solves from them; on four pinned pieces it is within 1e-6 of a point of the piece
 * at set, without a box: (1,3,4 | 0,2,3,4), which 10^6 boxes left at the one-neuron bound (its infimum a limit where
 * the codes become parallel), (0,1,2 | 0,1,3) and (0,1,2 | 0,2,3,4), whose boxes' best points at 20,000 boxes were
 * far above the infimum, and (1,2 | 0,2,4), a neuron of two features; and around each pinned piece's point (near its
 * limit) perturbed points and local solves from it and from 10 starts drawn in the piece stay above it.  The
 * one-neuron bound alone stays far below on the first (the lift is the wedge bound's). */
Test(bnb, the_wedge_bound_brackets_two_neuron_pieces_and_lifts_them, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  landscape_instance(5, 2, &Wp, &Md);
  const size_t n = 5, np = 3, nq = 2;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  double E;
  gsl_matrix *S = gram_energy(Wp, &E);
  const double round = test_gamma(64.0 * (double)(n + nq + np)) * E;
  gsl_rng *r = test_rng(4409);
  gsl_matrix *WE = gsl_matrix_alloc(nq, np), *X = gsl_matrix_alloc(nq, np);
  uint64_t seen[40][4];
  size_t count = 0, points = 0, tight = 0;
  for (int draw = 0; count < 30;) {
    uint64_t H[2];
    sdlab_piece *P;
    sdlab_bnb *b;
    if (!draw_new_piece(r, &act, Wp, Md, WE, &draw, seen, &count, H, &P, &b))
      break;
    cr_assert(b->wedge > -INFINITY, "piece %zu: no wedge bound", count - 1);
    cr_assert(b->lower >= b->relaxed && b->relaxed >= b->wedge && b->relaxed >= b->pairwise);
    cr_assert(b->upper >= b->wedge - round, "piece %zu: the wedge bound %.17g above its own point %.17g", count - 1,
              b->wedge, b->upper);
    points += points_stay_above(r, b, &act, WE, X, H, 20, round, count - 1);
    tight += b->upper - b->wedge <= 1e-6 * fmax(1.0, b->upper);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  cr_log_info("%zu random pieces, %zu points checked, %zu within 1e-6 of a point at set", count, points, tight);
  cr_assert(count >= 20 && points >= 100, "%zu pieces, %zu points", count, points);
  const uint64_t F[4][2] = {{0x1a, 0x1d}, {0x07, 0x0b}, {0x07, 0x1d}, {0x06, 0x15}};
  for (size_t p = 0; p < 4; p++) {
    sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F[p]);
    sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
    cr_assert_not_null(b, "%s", sdlab_error_message(1));
    cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
    cr_log_info("pinned piece %zu: one-neuron %.17g, wedge %.17g, point %.17g", p, b->pairwise, b->wedge, b->upper);
    cr_assert(b->upper - b->wedge <= 1e-6 * fmax(1.0, b->upper), "pinned piece %zu: the wedge bound %.17g is not "
              "within 1e-6 of the point %.17g at set", p, b->wedge, b->upper);
    cr_assert(p != 0 || b->pairwise < b->upper - 0.1, "the one-neuron bound %.17g is within 0.1 of the point %.17g",
              b->pairwise, b->upper);
    around_a_pinned_point(r, b, &act, F[p], WE, X, round, p);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  gsl_matrix_free(WE);
  gsl_matrix_free(X);
  gsl_rng_free(r);
  gsl_matrix_free(S);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* sin^2 of the angle between a and b (n entries, not 0) */
static double
sin2_between(const double *a, const double *b, size_t n)
{
  double g11 = 0, g12 = 0, g22 = 0;
  for (size_t d = 0; d < n; d++) {
    g11 += a[d] * a[d];
    g12 += a[d] * b[d];
    g22 += b[d] * b[d];
  }
  return (g11 * g22 - g12 * g12) / (g11 * g22);
}

/* JumpReLU limits on a cone's boundary, pinned (seed-1 instance, n = 5, n_p = 3, JumpReLU(0.5)): on pieces
 * (1,2,3 | 0,1,2,4), (0,2 | 0,1,2,4) and (0,3 | 0,2,4) the infimum is a limit where the two codes tend to one ray
 * with a zero pre-activation on a feature of F_2 (min_F = 0, no threshold reached at any scale), so a point of the
 * piece moves that row a little into its cone (jump_place), and the move turns the codes' span by about its size
 * over the codes' angle.  With one move of 2^-30 the best point stayed 1.5e-5 to 2.7e-5 above the wedge bound (the
 * move's turn against the ladder's own first-order excess); with moves down to 2^-48 each piece has a point
 * within 1e-6 of its bound at set.  The point is a point of the piece: its rows meet the piece's rows up to
 * rounding, its value is L~ with its rounding bound, and L~ at its codes recomputed in long double at their
 * optimal W_D (independent of the solver; error at most 64 n eps_ld E / sin^2 of the codes' angle) lies between
 * the bound and the point's value; points around it and local solves from the piece stay above the bound. */
Test(bnb, a_jumprelu_limit_on_a_cone_s_boundary_is_reached, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t n = 5, np = 3, nq = 2;
  const sdlab_activation act = {.kind = SDLAB_ACT_JUMPRELU, .theta = 0.5};
  double E;
  gsl_matrix *S = gram_energy(Wp, &E);
  const double round = test_gamma(64.0 * (double)(n + nq + np)) * E;
  gsl_rng *r = test_rng(4423);
  gsl_matrix *WE = gsl_matrix_alloc(nq, np), *X = gsl_matrix_alloc(nq, np);
  const uint64_t F[3][2] = {{0x0e, 0x17}, {0x05, 0x17}, {0x09, 0x15}};
  for (size_t p = 0; p < 3; p++) {
    sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F[p]);
    sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
    cr_assert_not_null(b, "%s", sdlab_error_message(1));
    cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
    incumbent_is_a_point(b);
    double c[2 * 5];
    for (size_t i = 0; i < nq; i++)
      row_codes(Wp, b->WE, i, F[p][i], c + i * n);
    const double sin2 = sin2_between(c, c + n, n), tol_ld = 64.0 * n * LDBL_EPSILON * E / sin2;
    const long double ld = projection_loss_ld(Wp, b->WE, F[p]);
    cr_log_info("piece %zu: wedge %.17g, point %.17g, long double %.17Lg, codes' angle %.3g", p, b->wedge, b->upper, ld,
                asin(sqrt(sin2)));
    cr_assert(b->upper - b->wedge <= 1e-6 * fmax(1.0, b->upper), "piece %zu: the point %.17g is not within 1e-6 of "
              "the wedge bound %.17g at set", p, b->upper, b->wedge);
    cr_assert(ld >= b->wedge - round - tol_ld && ld <= b->upper + tol_ld, "piece %zu: L~ in long double %.17Lg "
              "outside [%.17g, %.17g]", p, ld, b->wedge, b->upper);
    around_a_pinned_point(r, b, &act, F[p], WE, X, round, p);
    sdlab_bnb_free(b);
    sdlab_piece_free(P);
  }
  gsl_matrix_free(WE);
  gsl_matrix_free(X);
  gsl_rng_free(r);
  gsl_matrix_free(S);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}

/* The two-neuron bound's frame as a point (q >= 3, pair_frame_incumbent), pinned on the seed-1 instance's piece
 * (0,1,2,4 | 0,1,2,4 | 1,3,4) (n = 5, n_p = 3, n_q = 3), the census's global minimum: two neurons share a cone, and
 * the bound is reached where their codes tend to one ray, a corner local solves do not find (their best, from the
 * census's starts, 0.0060988).  The point at set realizes the frame: neuron 3's code lies in V = span{a, b} + the
 * top eigenvector of P' S P' for the other two codes a, b, so its L~ is ||R||^2 less phi2(a, b) for some pair of its
 * codes (computed here apart from the library: Gram-Schmidt, Jacobi, long double for L~; to within
 * 64 n eps ||R||^2 / sin^2 of the codes' least angle); it is a point of the piece, at or above the lower bound, and
 * below the best of 10 local solves started in the piece. */
Test(bnb, the_two_neuron_bound_s_frame_is_a_point_of_three_neuron_pieces, .timeout = 300)
{
  gsl_matrix *Wp;
  gsl_vector *Md;
  seed_one_instance(&Wp, &Md);
  const size_t n = 5, np = 3, nq = 3;
  const sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  const uint64_t F[3] = {0x17, 0x17, 0x1a};
  double E, c[3 * 5], pair[2 * 5];
  gsl_matrix *S = gram_energy(Wp, &E), *WE = gsl_matrix_alloc(nq, np);
  const double round = test_gamma(64.0 * (double)(n + nq + np)) * E;
  gsl_rng *r = test_rng(4451);
  sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
  sdlab_bnb *b = sdlab_bnb_alloc(P, Wp, Wp, Md, 64);
  cr_assert_not_null(b, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_bnb_set(b, NULL, NULL), 0);
  incumbent_is_a_point(b);
  double least_sin2 = 1, closest = INFINITY;
  for (size_t i = 0; i < nq; i++)
    row_codes(Wp, b->WE, i, F[i], c + i * n);
  for (size_t i = 0; i < nq; i++)
    for (size_t j = i + 1; j < nq; j++)
      least_sin2 = fmin(least_sin2, sin2_between(c + i * n, c + j * n, n));
  const long double ld = projection_loss_ld(Wp, b->WE, F);
  const double tol = 64.0 * n * DBL_EPSILON * E / least_sin2;
  for (size_t i = 0; i < nq; i++)
    for (size_t j = i + 1; j < nq; j++) {
      memcpy(pair, c + i * n, n * sizeof *c);
      memcpy(pair + n, c + j * n, n * sizeof *c);
      closest = fmin(closest, fabs((double)ld - (E - frame_value(S, pair, 2, nq))));
    }
  const double solved = best_local_solve(r, &act, P, Wp, Md, F, WE, 10, 1000000, 200);
  cr_log_info("bound %.17g, point %.17g (long double %.17Lg), local solves %.17g; the frame's equation off by %.3g "
              "(tolerance %.3g)", b->lower, b->upper, ld, solved, closest, tol);
  cr_assert(closest <= tol, "the point's L~ %.17Lg is ||R||^2 - phi2 of no pair of its codes (closest %.3g)", ld,
            closest);
  cr_assert(ld >= b->lower - round - tol && ld <= b->upper + tol, "L~ in long double %.17Lg outside [%.17g, %.17g]",
            ld, b->lower, b->upper);
  cr_assert(b->upper < solved, "the point %.17g is not below the local solves' best %.17g", b->upper, solved);
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  gsl_matrix_free(WE);
  gsl_rng_free(r);
  gsl_matrix_free(S);
  gsl_vector_free(Md);
  gsl_matrix_free(Wp);
}
