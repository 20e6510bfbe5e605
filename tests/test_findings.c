/* The counterexamples to the paper found by sdlab, pinned: each instance is written out here, and its
 * failure is shown by a computation independent of `sdlab check`'s code. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>

#include "helpers.h"
#include "sdlab_check.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_lp.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(findings, .init = init);

/* Theorem 3.6, proof step 4.  Two features in R^2 at 0 and 60 degrees (an SAE: w_r = w_p), M_d = 1,
 * neuron 1 polysemantic (F_1 = {1, 2}) with encoder row (1, 0.2), neuron 2 dead.  The decoder (55) makes
 * grad_{W_D} vanish, but grad_{W_E} does not: central differences of L~ agree with the analytic gradient. */
Test(findings, thm36_step4_encoder_gradient_does_not_vanish)
{
  const double c = 0.5, s = sqrt(3.0) / 2;
  double wp[] = {1, c, 0, s};
  gsl_matrix_view Wp = gsl_matrix_view_array(wp, 2, 2);
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, 2, 2, 2, 1, &act);
  gsl_matrix_set(m->WE, 0, 0, 1.0);
  gsl_matrix_set(m->WE, 0, 1, 0.2);
  /* (55): W_D^1 = sum_d z_d w_r^d / sum_d z_d^2 */
  double z1 = 1.0, z2 = c + 0.2 * s, den = z1 * z1 + z2 * z2;
  gsl_matrix_set(m->WD, 0, 0, (z1 * 1 + z2 * c) / den);
  gsl_matrix_set(m->WD, 1, 0, (z1 * 0 + z2 * s) / den);
  gsl_vector *Md = gsl_vector_alloc(2);
  gsl_vector_set_all(Md, 1.0);
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(2, m);
  gsl_matrix *gE = gsl_matrix_alloc(2, 2), *gD = gsl_matrix_alloc(2, 2);
  double L;
  cr_assert_eq(sdlab_loss_tilde(m, &Wp.matrix, &Wp.matrix, Md, &L, gE, gD, w), 0);
  for (int k = 0; k < 4; k++)
    cr_assert(fabs(gD->data[k]) <= 1e-15, "step 3 holds: dW_D = %g", gD->data[k]);
  /* the central difference along W_E[0][1] (exact for this quadratic up to rounding) */
  const double h = 1e-3;
  double Lp, Lm;
  gsl_matrix_set(m->WE, 0, 1, 0.2 + h);
  sdlab_loss_tilde(m, &Wp.matrix, &Wp.matrix, Md, &Lp, NULL, NULL, w);
  gsl_matrix_set(m->WE, 0, 1, 0.2 - h);
  sdlab_loss_tilde(m, &Wp.matrix, &Wp.matrix, Md, &Lm, NULL, NULL, w);
  double fd = (Lp - Lm) / (2 * h);
  cr_log_info("Theorem 3.6 step 4: dL~/dW_E[0][1] = %.6g (central difference %.6g), L~ = %.6g", gsl_matrix_get(gE, 0, 1),
              fd, L);
  cr_assert(fabs(fd - gsl_matrix_get(gE, 0, 1)) <= 1e-9, "the analytic gradient is right");
  cr_assert(fabs(fd) > 1e-3, "and it is far from zero: the construction is not a partial minimum");
  /* only the derivative along w_E^1 itself vanishes, which is what (65) computes */
  double along = gsl_matrix_get(gE, 0, 0) * 1.0 + gsl_matrix_get(gE, 0, 1) * 0.2;
  cr_assert(fabs(along) <= 1e-14, "<grad, w_E^1> = %g", along);
  gsl_matrix_free(gE);
  gsl_matrix_free(gD);
  sdlab_loss_workspace_free(w);
  gsl_vector_free(Md);
  sdlab_model_free(m);
}

/* Theorem 3.8 for ReLU.  Sub-concepts a1, a2 (parent A) at 0 and 40 degrees, b1, b2 (parent B) at 100 and
 * 140 degrees in R^2.  P = ({a1, a2}, {b1, b2}) is ReLU-realizable, but for parent A neither choice of j*
 * gives a ReLU-realizable P': a2 lies strictly inside the cone of a1 and b1, so no half-space through the
 * origin holds a2 alone, and both choices need a neuron for {a2} alone.  With a threshold both are fine. */
Test(findings, thm38_relu_absorbing_pattern_not_realizable)
{
  const double deg = 3.14159265358979323846 / 180;
  const double ang[4] = {0, 40, 100, 140};
  gsl_matrix *Wp = gsl_matrix_alloc(2, 4);
  for (int d = 0; d < 4; d++) {
    gsl_matrix_set(Wp, 0, d, cos(ang[d] * deg));
    gsl_matrix_set(Wp, 1, d, sin(ang[d] * deg));
  }
  sdlab_lp_halfspace *relu = sdlab_lp_halfspace_alloc(Wp, 0), *thr = sdlab_lp_halfspace_alloc(Wp, 1);
  unsigned char want[4];
  double x[3];
  sdlab_lp_realize_info info;
  const unsigned char A[4] = {1, 1, 0, 0}, B[4] = {0, 0, 1, 1}, a1[4] = {1, 0, 0, 0}, a2[4] = {0, 1, 0, 0};
  memcpy(want, A, 4);
  cr_assert_eq(sdlab_lp_halfspace_realize(relu, want, x, &info), 0);
  cr_assert(info.realizable && info.verified, "P's neuron A is ReLU-realizable");
  memcpy(want, B, 4);
  sdlab_lp_halfspace_realize(relu, want, x, &info);
  cr_assert(info.realizable && info.verified, "P's neuron B is ReLU-realizable");
  memcpy(want, a2, 4);
  sdlab_lp_halfspace_realize(relu, want, x, &info);
  cr_assert(!info.realizable && info.verified, "{a2} alone is not ReLU-realizable (exact Farkas certificate)");
  /* independently: a2 = l a1 + m b1 with l, m > 0, so <w, a2> > 0 forces <w, a1> > 0 or <w, b1> > 0 */
  double det = gsl_matrix_get(Wp, 0, 0) * gsl_matrix_get(Wp, 1, 2) - gsl_matrix_get(Wp, 1, 0) * gsl_matrix_get(Wp, 0, 2);
  double l = (gsl_matrix_get(Wp, 0, 1) * gsl_matrix_get(Wp, 1, 2) - gsl_matrix_get(Wp, 1, 1) * gsl_matrix_get(Wp, 0, 2)) / det;
  double mm = (gsl_matrix_get(Wp, 0, 0) * gsl_matrix_get(Wp, 1, 1) - gsl_matrix_get(Wp, 1, 0) * gsl_matrix_get(Wp, 0, 1)) / det;
  cr_assert(l > 0.1 && mm > 0.1, "a2 = %g a1 + %g b1", l, mm);
  /* so both P' = ({a1}, B, {a2}) and ({a2}, B, {a1}) contain the unrealizable neuron {a2}; with a threshold: */
  memcpy(want, a2, 4);
  sdlab_lp_halfspace_realize(thr, want, x, &info);
  cr_assert(info.realizable && info.verified, "{a2} alone is realizable with a threshold");
  memcpy(want, a1, 4);
  sdlab_lp_halfspace_realize(thr, want, x, &info);
  cr_assert(info.realizable && info.verified);
  sdlab_lp_halfspace_free(relu);
  sdlab_lp_halfspace_free(thr);
  gsl_matrix_free(Wp);
}

/* The checker reproduces every finding with its default seed, and finds no failure where the theorems
 * hold (Theorems 3.2 (1)-(2) for ReLU-type activations, 3.3 for ReLU, 3.4, Example 3.5, 3.6 steps 2 and 3, 3.8
 * with a threshold). */
Test(findings, sdlab_check_reports_the_findings, .timeout = 120)
{
  sdlab_check_report r;
  sdlab_check_report_init(&r, 1, 40);
  cr_assert_eq(sdlab_check_run(&r, NULL, NULL), 0);
  const sdlab_claims_id must_fail[] = {SDLAB_CLAIMS_THM31_JUMPRELU, SDLAB_CLAIMS_THM32_TOPK, SDLAB_CLAIMS_THM33_TOPK,
                                       SDLAB_CLAIMS_THM36_STEP4, SDLAB_CLAIMS_THM38_STEP4, SDLAB_CLAIMS_THM38_RELU};
  const sdlab_claims_id must_hold[] = {SDLAB_CLAIMS_THM31_STEP3, SDLAB_CLAIMS_THM31_BOUND, SDLAB_CLAIMS_THM32_DECODER,
                                       SDLAB_CLAIMS_THM32_ENCODER, SDLAB_CLAIMS_THM33_RELU, SDLAB_CLAIMS_THM33_TOPK_RELU,
                                       SDLAB_CLAIMS_THM34_IF, SDLAB_CLAIMS_THM34_ONLY_IF, SDLAB_CLAIMS_EX35,
                                       SDLAB_CLAIMS_THM36_STEP2, SDLAB_CLAIMS_THM36_STEP3,
                                       SDLAB_CLAIMS_THM38_THRESHOLD};
  for (size_t k = 0; k < sizeof must_fail / sizeof *must_fail; k++) {
    const sdlab_claim *c = &r.claims[must_fail[k]];
    cr_assert(c->tried > 0, "%s not checked", c->row->id);
    cr_assert(c->failed > 0 && c->first[0], "%s did not fail", c->row->id);
  }
  for (size_t k = 0; k < sizeof must_hold / sizeof *must_hold; k++) {
    const sdlab_claim *c = &r.claims[must_hold[k]];
    cr_assert(c->failed == 0 && c->held > 0, "%s: %s", c->row->id, c->first);
  }
  sdlab_check_report_free(&r);
}

/* The claims are written once, in theory/sdlab_claims.c: every row is complete and named once, and the checker's
 * report lists every row, in the table's order, with its statement, method and tolerance. */
Test(findings, the_claims_table_is_what_sdlab_check_reports)
{
  sdlab_check_report r;
  sdlab_check_report_init(&r, 1, 10); /* enough instances that every claim is tried (some only on pairs) */
  cr_assert_eq(sdlab_check_run(&r, NULL, NULL), 0);
  char *md = sdlab_check_markdown(&r);
  cr_assert(md != NULL);
  cr_assert_null(sdlab_claims_get(SDLAB_CLAIMS_COUNT));
  const char *at = md;
  for (size_t k = 0; k < SDLAB_CLAIMS_COUNT; k++) {
    const sdlab_claims_row *row = sdlab_claims_get((sdlab_claims_id)k);
    cr_assert(row && row->id[0] && row->statement[0] && row->method[0] && row->tolerance[0], "row %zu incomplete", k);
    for (size_t j = 0; j < k; j++)
      cr_assert_str_neq(sdlab_claims_get((sdlab_claims_id)j)->id, row->id, "%s named twice", row->id);
    cr_assert(r.claims[k].row == row && r.claims[k].tried > 0, "%s not checked", row->id);
    char line[2048];
    snprintf(line, sizeof line, "- **%s**: %s. Checked by %s. Tolerance: %s.\n", row->id, row->statement, row->method,
             row->tolerance);
    const char *hit = strstr(at, line);
    cr_assert(hit != NULL, "the report does not list, in order: %s", line);
    at = hit + strlen(line);
  }
  free(md);
  sdlab_check_report_free(&r);
}
