/* Activations (eqs. 6-7): property (10), the selection against a brute-force ranking, deterministic ties,
 * kink margins, and the error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "sdlab_activation.h"
#include "sdlab_errno.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(activation, .init = init);

Test(activation, parse_accepts_each_form_and_round_trips)
{
  const char *ok[] = {"relu", "jumprelu:0.25", "topk:3", "topk-relu:1", "batchtopk:16"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    sdlab_activation a;
    cr_assert_eq(sdlab_activation_parse(ok[i], &a), 0, "%s", ok[i]);
    char buf[64];
    sdlab_activation_format(&a, buf, sizeof buf);
    sdlab_activation b;
    cr_assert_eq(sdlab_activation_parse(buf, &b), 0);
    cr_assert(a.kind == b.kind && a.k == b.k && a.theta == b.theta, "%s -> %s", ok[i], buf);
  }
}

Test(activation, parse_rejects_malformed_forms)
{
  const char *bad[] = {"", "relu:1", "topk", "topk:", "topk:0", "topk:-1", "topk:3x", "jumprelu:-0.1",
                       "jumprelu:nan", "jumprelu:inf", "gelu", "TopK:3", "batchtopk:1.5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sdlab_activation a;
    sdlab_error_clear();
    cr_assert_eq(sdlab_activation_parse(bad[i], &a), SDLAB_EPARAM, "'%s' was accepted", bad[i]);
    cr_assert(strlen(sdlab_error_message(SDLAB_EPARAM)) > 10, "no message for '%s'", bad[i]);
  }
}

/* Reference selection by counting, per entry, how many entries rank before it. */
static int
reference_keep(const sdlab_activation *a, const gsl_matrix *Z, size_t r, size_t i)
{
  double z = gsl_matrix_get(Z, r, i);
  switch (a->kind) {
  case SDLAB_ACT_RELU: return z > 0;
  case SDLAB_ACT_JUMPRELU: return z > a->theta;
  case SDLAB_ACT_TOPK:
  case SDLAB_ACT_TOPK_RELU: {
    size_t before = 0;
    for (size_t j = 0; j < Z->size2; j++) {
      double v = gsl_matrix_get(Z, r, j);
      before += v > z || (v == z && j < i);
    }
    return before < a->k && (a->kind == SDLAB_ACT_TOPK || z > 0);
  }
  case SDLAB_ACT_BATCHTOPK: {
    size_t before = 0, pos = r * Z->size2 + i;
    for (size_t s = 0; s < Z->size1; s++)
      for (size_t j = 0; j < Z->size2; j++) {
        double v = gsl_matrix_get(Z, s, j);
        before += v > z || (v == z && s * Z->size2 + j < pos);
      }
    return before < a->k * Z->size1 && z > 0;
  }
  }
  return -1;
}

static const char *ACTS[] = {"relu", "jumprelu:0.3", "topk:1", "topk:3", "topk:7", "topk-relu:2", "batchtopk:2",
                             "batchtopk:5"};

Test(activation, property_10_and_selection_match_brute_force)
{
  const uint64_t seed = 101;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *rng = test_rng(seed);
  for (int trial = 0; trial < 50; trial++) {
    size_t B = 1 + gsl_rng_uniform_int(rng, 6), q = 7;
    gsl_matrix *Z = gsl_matrix_alloc(B, q), *A = gsl_matrix_alloc(B, q);
    test_gaussian(rng, Z, 1.0);
    if (trial % 5 == 0) /* ties: round to a coarse grid */
      for (size_t k = 0; k < B * q; k++)
        Z->data[k] = round(2 * Z->data[k]) / 2;
    sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(B, q);
    unsigned char *sel = malloc(B * q);
    for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++) {
      sdlab_activation act;
      sdlab_activation_parse(ACTS[a], &act);
      cr_assert_eq(sdlab_activation_apply(&act, Z, A, sel, w), 0);
      for (size_t r = 0; r < B; r++)
        for (size_t i = 0; i < q; i++) {
          double z = gsl_matrix_get(Z, r, i), y = gsl_matrix_get(A, r, i);
          cr_assert(y == 0 || y == z, "(10) fails: sigma(z) = %g for z = %g", y, z);
          cr_assert_eq(sel[r * q + i], reference_keep(&act, Z, r, i), "%s trial %d at (%zu,%zu)", ACTS[a], trial,
                       r, i);
          cr_assert_eq(y, sel[r * q + i] ? z : 0.0);
        }
    }
    free(sel);
    sdlab_activation_workspace_free(w);
    gsl_matrix_free(Z);
    gsl_matrix_free(A);
  }
  gsl_rng_free(rng);
}

Test(activation, ties_break_toward_the_lower_index)
{
  gsl_matrix *Z = gsl_matrix_alloc(1, 5);
  gsl_matrix_set_all(Z, 1.0);
  sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(1, 5);
  unsigned char sel[5];
  sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 2};
  cr_assert_eq(sdlab_activation_apply(&act, Z, Z, sel, w), 0);
  cr_assert(sel[0] && sel[1] && !sel[2] && !sel[3] && !sel[4]);
  sdlab_activation_workspace_free(w);
  gsl_matrix_free(Z);
}

Test(activation, moving_an_entry_by_less_than_its_margin_keeps_the_selection)
{
  const uint64_t seed = 202;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *rng = test_rng(seed);
  const size_t B = 4, q = 7;
  gsl_matrix *Z = gsl_matrix_alloc(B, q), *Y = gsl_matrix_alloc(B, q), *A = gsl_matrix_alloc(B, q);
  sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(B, q);
  unsigned char sel0[28], sel1[28];
  double margin[28];
  for (int trial = 0; trial < 30; trial++) {
    test_gaussian(rng, Z, 1.0);
    for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++) {
      sdlab_activation act;
      sdlab_activation_parse(ACTS[a], &act);
      sdlab_activation_apply(&act, Z, A, sel0, w);
      cr_assert_eq(sdlab_activation_margin(&act, Z, margin, w), 0);
      for (size_t e = 0; e < B * q; e++) {
        cr_assert(margin[e] > 0, "random data has no ties (%s)", ACTS[a]);
        /* an infinite margin (K = n_q: always selected) is probed with a large finite move */
        double move = 0.999 * fmin(margin[e], 1e6);
        for (int sign = -1; sign <= 1; sign += 2) {
          gsl_matrix_memcpy(Y, Z);
          Y->data[e] += sign * move;
          cr_assert_eq(sdlab_activation_apply(&act, Y, A, sel1, w), 0);
          cr_assert(memcmp(sel0, sel1, B * q) == 0, "%s: entry %zu moved by %g changed the selection", ACTS[a], e,
                    sign * move);
        }
      }
      if (act.kind == SDLAB_ACT_RELU) /* for ReLU the margin is exact: crossing it flips the entry */
        for (size_t e = 0; e < B * q; e++) {
          gsl_matrix_memcpy(Y, Z);
          Y->data[e] -= 1.001 * Z->data[e];
          sdlab_activation_apply(&act, Y, A, sel1, w);
          cr_assert_neq(sel0[e], sel1[e]);
        }
    }
  }
  sdlab_activation_workspace_free(w);
  gsl_matrix_free(Z);
  gsl_matrix_free(Y);
  gsl_matrix_free(A);
  gsl_rng_free(rng);
}

Test(activation, homogeneity_flag_matches_the_definition)
{
  const uint64_t seed = 303;
  gsl_rng *rng = test_rng(seed);
  gsl_matrix *Z = gsl_matrix_alloc(3, 7), *Y = gsl_matrix_alloc(3, 7), *A = gsl_matrix_alloc(3, 7),
             *B = gsl_matrix_alloc(3, 7);
  sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(3, 7);
  test_gaussian(rng, Z, 1.0);
  for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++) {
    sdlab_activation act;
    sdlab_activation_parse(ACTS[a], &act);
    int homogeneous = 1;
    for (double t = 0.25; t <= 4; t *= 2) { /* powers of two: the scaling is exact */
      gsl_matrix_memcpy(Y, Z);
      gsl_matrix_scale(Y, t);
      sdlab_activation_apply(&act, Y, A, NULL, w);
      sdlab_activation_apply(&act, Z, B, NULL, w);
      gsl_matrix_scale(B, t);
      for (size_t e = 0; e < 21; e++)
        homogeneous &= A->data[e] == B->data[e];
    }
    cr_assert_eq(homogeneous, sdlab_activation_is_homogeneous(&act), "%s", ACTS[a]);
  }
  sdlab_activation_workspace_free(w);
  gsl_matrix_free(Z);
  gsl_matrix_free(Y);
  gsl_matrix_free(A);
  gsl_matrix_free(B);
  gsl_rng_free(rng);
}

Test(activation, jumprelu_straight_through_pseudo_derivatives)
{
  /* rectangle kernel of bandwidth h around theta */
  cr_assert_eq(sdlab_activation_jumprelu_dtheta(1.04, 1.0, 0.1), -10.0);
  cr_assert_eq(sdlab_activation_jumprelu_dtheta(1.06, 1.0, 0.1), 0.0);
  cr_assert_eq(sdlab_activation_jumprelu_l0_dtheta(0.96, 1.0, 0.1), -10.0);
  cr_assert_eq(sdlab_activation_jumprelu_l0_dtheta(0.9, 1.0, 0.1), 0.0);
}

Test(activation, errors_are_reported)
{
  gsl_matrix *Z = gsl_matrix_alloc(2, 3), *A = gsl_matrix_alloc(2, 4);
  gsl_matrix_set_all(Z, 0.5);
  sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(2, 3);
  sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 4};
  cr_assert_eq(sdlab_activation_apply(&act, Z, Z, NULL, w), SDLAB_EPARAM, "K > n_q");
  act.k = 2;
  cr_assert_eq(sdlab_activation_apply(&act, Z, A, NULL, w), GSL_EBADLEN, "shape mismatch");
  gsl_matrix_set(Z, 1, 2, NAN);
  cr_assert_eq(sdlab_activation_apply(&act, Z, Z, NULL, w), SDLAB_ENONFINITE);
  cr_assert_null(sdlab_activation_workspace_alloc(0, 3));
  sdlab_activation_workspace_free(NULL);
  sdlab_activation_workspace_free(w);
  gsl_matrix_free(Z);
  gsl_matrix_free(A);
}

/* sdlab_fail may take the message it replaces as an argument (a caller adding its context): the result is the
 * new text around the old one, not an overlapping copy. */
Test(activation, a_failure_message_can_wrap_the_previous_one)
{
  sdlab_fail(GSL_EINVAL, "inner %d", 7);
  sdlab_fail(GSL_EINVAL, "outer: %s (%s)", sdlab_error_message(GSL_EINVAL), "more");
  cr_assert_str_eq(sdlab_error_message(GSL_EINVAL), "outer: inner 7 (more)");
  sdlab_error_clear();
}
