/* The landscape census: Example 3.5's instance, and invariants on random instances. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"
#include "sdlab_landscape.h"
#include "sdlab_patterns.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(landscape, .init = init, .timeout = 120);

Test(landscape, example35_has_the_global_minimum_0_and_the_spurious_minimum_1)
{
  gsl_matrix *Wp = gsl_matrix_alloc(2, 2), *Wr = gsl_matrix_alloc(2, 2), *WE = gsl_matrix_alloc(2, 2),
             *WD = gsl_matrix_alloc(2, 2);
  gsl_vector *Md = gsl_vector_alloc(2);
  sdlab_activation act;
  sdlab_construct_example35(Wp, Wr, Md, WE, WD, &act);
  sdlab_landscape_params p;
  sdlab_landscape_params_default(&p);
  p.sgd_runs = 20;
  sdlab_landscape l;
  cr_assert_eq(sdlab_landscape_run_census(Wp, Wr, Md, 2, &act, &p, &l, NULL, NULL), 0, "%s", sdlab_error_message(1));
  cr_assert(l.global_lower == 0 && l.global_upper <= 1e-20, "global minimum in [%g, %g]", l.global_lower, l.global_upper);
  /* the piece of Example 3.5: neuron 2 dead, neuron 1 takes both features; canonically F = ({}, {1, 2}) */
  int seen = 0;
  for (size_t c = 0; c < l.count; c++)
    if (l.pieces[c].F[0] == 0 && l.pieces[c].F[1] == 3) {
      seen = 1;
      cr_assert(fabs(l.pieces[c].upper - 1) <= 1e-12 && fabs(l.pieces[c].lower - 1) <= 1e-12,
                "the spurious piece's minimum is certified at 1: [%.17g, %.17g]", l.pieces[c].lower, l.pieces[c].upper);
      cr_assert(l.pieces[c].dead == 1 && l.pieces[c].polysemantic);
    }
  cr_assert(seen);
  size_t global = 0;
  for (size_t r = 0; r < l.runs_count; r++) {
    cr_assert_neq(l.runs[r].piece, (size_t)-1);
    global += l.runs[r].cls == SDLAB_SGD_GLOBAL;
  }
  cr_assert(global > 0 && global <= l.runs_count);
  sdlab_landscape_free(&l);
  gsl_matrix_free(Wp);
  gsl_matrix_free(Wr);
  gsl_matrix_free(WE);
  gsl_matrix_free(WD);
  gsl_vector_free(Md);
}

Test(landscape, bounds_bracket_every_piece_and_counts_match_the_enumeration)
{
  const uint64_t seed = 1201;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 5; trial++) {
    size_t n = 3, np = 2, nq = 2 + (size_t)trial % 2;
    gsl_matrix *Wp = gsl_matrix_alloc(np, n);
    test_unit_columns(r, Wp);
    gsl_vector *Md = gsl_vector_alloc(n);
    for (size_t d = 0; d < n; d++)
      gsl_vector_set(Md, d, 0.5 + gsl_rng_uniform(r));
    const int jump = trial >= 3;
    sdlab_activation act = {.kind = jump ? SDLAB_ACT_JUMPRELU : SDLAB_ACT_RELU, .theta = jump ? 0.3 + trial - 3 : 0};
    sdlab_landscape_params p;
    sdlab_landscape_params_default(&p);
    p.sgd_runs = 10;
    p.seed = 7 + (uint64_t)trial;
    sdlab_landscape l;
    cr_assert_eq(sdlab_landscape_run_census(Wp, Wp, Md, nq, &act, &p, &l, NULL, NULL), 0, "%s", sdlab_error_message(1));
    sdlab_pattern_list *s;
    sdlab_patterns_single(Wp, jump, 10000, &s);
    cr_assert_eq((double)l.count, sdlab_joint_count_unordered(s->count, nq));
    if (jump) { /* a ReLU piece is a JumpReLU piece with a smaller region: its points bound the JumpReLU infimum */
      const sdlab_activation relu = {.kind = SDLAB_ACT_RELU};
      sdlab_landscape lr;
      cr_assert_eq(sdlab_landscape_run_census(Wp, Wp, Md, nq, &relu, &p, &lr, NULL, NULL), 0);
      size_t matched = 0;
      for (size_t c = 0; c < lr.count; c++)
        for (size_t k = 0; k < l.count; k++)
          if (memcmp(l.pieces[k].F, lr.pieces[c].F, nq * sizeof *lr.pieces[c].F) == 0) {
            matched++;
            cr_assert(l.pieces[k].lower <= lr.pieces[c].upper + 1e-12 * (1 + lr.pieces[c].upper),
                      "piece %zu: JumpReLU lower %.17g above the ReLU point's %.17g", k, l.pieces[k].lower,
                      lr.pieces[c].upper);
          }
      cr_assert_eq(matched, lr.count, "every ReLU piece is a JumpReLU piece");
      sdlab_landscape_free(&lr);
    }
    for (size_t c = 0; c < l.count; c++)
      cr_assert(l.pieces[c].lower <= l.pieces[c].upper + 1e-12 * (1 + l.pieces[c].upper),
                "piece %zu: lower %.17g above upper %.17g", c, l.pieces[c].lower, l.pieces[c].upper);
    /* every SGD end point is no better than the best partial optimum of its piece */
    for (size_t k = 0; k < l.runs_count; k++)
      cr_assert(l.runs[k].loss >= l.pieces[l.runs[k].piece].upper - 1e-9 * (1 + l.runs[k].loss));
    cr_assert(l.global_lower <= l.global_upper);
    sdlab_pattern_list_free(s);
    sdlab_landscape_free(&l);
    gsl_vector_free(Md);
    gsl_matrix_free(Wp);
  }
  gsl_rng_free(r);
}
