/* The losses L (eq. 3) and L~ (eq. 11): analytic gradients against central differences, for every
 * activation, at random points away from kinks.
 *
 * Why central differences can be compared tightly here: inside one activation piece the loss is a
 * quadratic polynomial along any single coordinate (z is linear in W_E, sigma is the identity on its
 * selection, and the loss is a sum of squares), so the central difference (L(w+h) - L(w-h)) / 2h has
 * no truncation error at all.  The step h is chosen so that no pre-activation crosses a kink
 * (sdlab_activation_margin), and the only error left is rounding.  With R_s = ||x_r|| + ||W_D||_F
 * ||W_E||_F ||x_p|| bounding every residual norm, the standard summation bounds (Higham, §3.1) give
 *   |fl(L) - L| <= 3 gamma_K B,  B = sum_s c_s R_s^2,
 *   |fl(g) - g| <= 3 gamma_K G,  G = 2 sum_s c_s R_s (||W_D||_F + ||W_E||_F) ||x_p|| ... (see below),
 * with K = 2 (n_p + n_q + n_r) + N, so |FD - g| <= 3 gamma_K (B / h + G). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_claims.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_pattern.h"
#include "sdlab_piece.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(loss, .init = init);

typedef struct {
  sdlab_model *m;
  gsl_matrix *Xp, *Xr; /* rows (sampled) or columns (tilde) */
  gsl_vector *Md;      /* tilde only */
  int tilde;
  sdlab_loss_workspace *w;
} problem;

static double
eval(problem *p, gsl_matrix *gE, gsl_matrix *gD)
{
  double L = NAN;
  int status = p->tilde ? sdlab_loss_tilde(p->m, p->Xp, p->Xr, p->Md, &L, gE, gD, p->w)
                        : sdlab_loss_sampled(p->m, p->Xp, p->Xr, &L, gE, gD, p->w);
  cr_assert_eq(status, 0, "%s", sdlab_error_message(status));
  return L;
}

static double
xp_at(const problem *p, size_t s, size_t j)
{
  return p->tilde ? gsl_matrix_get(p->Xp, j, s) : gsl_matrix_get(p->Xp, s, j);
}

static double
sample_norm(const gsl_matrix *X, int columns, size_t s)
{
  double acc = 0;
  size_t d = columns ? X->size1 : X->size2;
  for (size_t j = 0; j < d; j++) {
    double v = columns ? gsl_matrix_get(X, j, s) : gsl_matrix_get(X, s, j);
    acc += v * v;
  }
  return sqrt(acc);
}

static void
check_gradients(const char *actname, int tilde, uint64_t seed)
{
  cr_log_info("%s %s seed %llu", tilde ? "L~" : "L", actname, (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const size_t np = 4, nq = 7, nr = 3, N = 9;
  sdlab_activation act;
  cr_assert_eq(sdlab_activation_parse(actname, &act), 0);
  problem p = {0};
  p.tilde = tilde;
  p.m = sdlab_model_alloc(SDLAB_TRANSCODER, np, nq, nr, 1, &act);
  test_gaussian(r, p.m->WE, 1.0);
  test_gaussian(r, p.m->WD, 1.0);
  if (tilde) {
    p.Xp = gsl_matrix_alloc(np, N);
    p.Xr = gsl_matrix_alloc(nr, N);
    test_unit_columns(r, p.Xp);
    test_unit_columns(r, p.Xr);
    p.Md = gsl_vector_alloc(N);
    for (size_t d = 0; d < N; d++)
      gsl_vector_set(p.Md, d, 0.1 + gsl_rng_uniform(r));
  } else {
    p.Xp = gsl_matrix_alloc(N, np);
    p.Xr = gsl_matrix_alloc(N, nr);
    test_gaussian(r, p.Xp, 1.0);
    test_gaussian(r, p.Xr, 1.0);
  }
  p.w = sdlab_loss_workspace_alloc(N, p.m); /* one batch: batchtopk ranks all N samples together */
  gsl_matrix *gE = gsl_matrix_alloc(nq, np), *gD = gsl_matrix_alloc(nr, nq);
  gsl_matrix *dummyE = gsl_matrix_alloc(nq, np), *dummyD = gsl_matrix_alloc(nr, nq);
  eval(&p, gE, gD);

  /* pre-activations of all samples and their kink margins */
  gsl_matrix *Z = gsl_matrix_alloc(N, nq);
  for (size_t s = 0; s < N; s++)
    for (size_t i = 0; i < nq; i++) {
      double z = 0;
      for (size_t j = 0; j < np; j++)
        z += gsl_matrix_get(p.m->WE, i, j) * xp_at(&p, s, j);
      gsl_matrix_set(Z, s, i, z);
    }
  double margin[9 * 7];
  sdlab_activation_workspace *aw = sdlab_activation_workspace_alloc(N, nq);
  cr_assert_eq(sdlab_activation_margin(&act, Z, margin, aw), 0);

  /* rounding bound of the comment above */
  const double fE = test_fro(p.m->WE), fD = test_fro(p.m->WD);
  double B = 0, G = 0;
  for (size_t s = 0; s < N; s++) {
    double c = tilde ? gsl_vector_get(p.Md, s) : 1.0 / (double)N;
    double xp = sample_norm(p.Xp, tilde, s), xr = sample_norm(p.Xr, tilde, s);
    double R = xr + fD * fE * xp;
    B += c * R * R;
    G += 2 * c * R * (fD * xp + fE * xp);
  }
  const double gam = test_gamma(2.0 * (np + nq + nr) + N);

  size_t tested = 0, skipped = 0;
  for (size_t i = 0; i < nq; i++)
    for (size_t j = 0; j < np; j++) {
      /* largest step that keeps every z_{s,i} inside its piece */
      double hmax = INFINITY;
      for (size_t s = 0; s < N; s++) {
        double x = fabs(xp_at(&p, s, j));
        if (x > 0)
          hmax = fmin(hmax, margin[s * nq + i] / x);
      }
      double h = fmin(0.5 * hmax, 0.1);
      if (!(h > 1e-6)) { /* at or next to a kink: no interior step to take */
        skipped++;
        continue;
      }
      double w0 = gsl_matrix_get(p.m->WE, i, j);
      gsl_matrix_set(p.m->WE, i, j, w0 + h);
      double Lp = eval(&p, dummyE, dummyD);
      gsl_matrix_set(p.m->WE, i, j, w0 - h);
      double Lm = eval(&p, dummyE, dummyD);
      gsl_matrix_set(p.m->WE, i, j, w0);
      double fd = (Lp - Lm) / (2 * h), g = gsl_matrix_get(gE, i, j), tol = 3 * gam * (B / h + G);
      cr_assert(fabs(fd - g) <= tol, "%s dL/dW_E[%zu][%zu]: analytic %.17g, central difference %.17g (h %g, tol %g)",
                actname, i, j, g, fd, h, tol);
      tested++;
    }
  cr_assert(tested >= 3 * skipped, "%s: only %zu encoder coordinates away from kinks, %zu skipped", actname, tested,
            skipped);
  /* W_D: the loss is a quadratic polynomial in W_D everywhere */
  for (size_t a = 0; a < nr; a++)
    for (size_t i = 0; i < nq; i++) {
      const double h = 0.1;
      double w0 = gsl_matrix_get(p.m->WD, a, i);
      gsl_matrix_set(p.m->WD, a, i, w0 + h);
      double Lp = eval(&p, dummyE, dummyD);
      gsl_matrix_set(p.m->WD, a, i, w0 - h);
      double Lm = eval(&p, dummyE, dummyD);
      gsl_matrix_set(p.m->WD, a, i, w0);
      double fd = (Lp - Lm) / (2 * h), g = gsl_matrix_get(gD, a, i), tol = 3 * gam * (B / h + G);
      cr_assert(fabs(fd - g) <= tol, "%s dL/dW_D[%zu][%zu]: analytic %.17g, central difference %.17g (tol %g)",
                actname, a, i, g, fd, tol);
    }
  sdlab_activation_workspace_free(aw);
  gsl_matrix_free(Z);
  gsl_matrix_free(gE);
  gsl_matrix_free(gD);
  gsl_matrix_free(dummyE);
  gsl_matrix_free(dummyD);
  sdlab_loss_workspace_free(p.w);
  gsl_matrix_free(p.Xp);
  gsl_matrix_free(p.Xr);
  if (p.Md)
    gsl_vector_free(p.Md);
  sdlab_model_free(p.m);
  gsl_rng_free(r);
}

static const char *ACTS[] = {"relu", "jumprelu:0.4", "topk:1", "topk:3", "topk-relu:2", "batchtopk:2"};

Test(loss, sampled_loss_gradients_match_central_differences)
{
  for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++)
    for (uint64_t seed = 1; seed <= 5; seed++)
      check_gradients(ACTS[a], 0, 1000 * a + seed);
}

Test(loss, per_feature_loss_gradients_match_central_differences)
{
  for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++)
    for (uint64_t seed = 1; seed <= 5; seed++)
      check_gradients(ACTS[a], 1, 7000 + 1000 * a + seed);
}

Test(loss, chunking_does_not_change_a_per_sample_activation)
{
  /* for activations that act per sample, the batch size of the workspace is only a memory bound */
  const uint64_t seed = 55;
  gsl_rng *r = test_rng(seed);
  sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 2};
  sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, 5, 8, 5, 1, &act);
  test_gaussian(r, m->WE, 1);
  test_gaussian(r, m->WD, 1);
  gsl_matrix *X = gsl_matrix_alloc(23, 5);
  test_gaussian(r, X, 1);
  sdlab_loss_workspace *w1 = sdlab_loss_workspace_alloc(23, m), *w2 = sdlab_loss_workspace_alloc(4, m);
  gsl_matrix *g1 = gsl_matrix_alloc(8, 5), *g2 = gsl_matrix_alloc(8, 5);
  double L1, L2;
  cr_assert_eq(sdlab_loss_sampled(m, X, X, &L1, g1, NULL, w1), 0);
  cr_assert_eq(sdlab_loss_sampled(m, X, X, &L2, g2, NULL, w2), 0);
  /* the same sums in a different grouping: rounding only */
  double tol = test_gamma(64) * L1;
  cr_assert(fabs(L1 - L2) <= tol, "%.17g vs %.17g", L1, L2);
  sdlab_loss_workspace_free(w1);
  sdlab_loss_workspace_free(w2);
  gsl_matrix_free(g1);
  gsl_matrix_free(g2);
  gsl_matrix_free(X);
  sdlab_model_free(m);
  gsl_rng_free(r);
}

Test(loss, md_independent_equals_enumeration_over_all_masks)
{
  /* M_d = P(only d active) E[x_d^2 | active], summed exactly over all 2^n activation masks */
  const uint64_t seed = 77;
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 20; trial++) {
    const size_t n = 6;
    double p[6], m2[6], Md[6], ref[6] = {0};
    for (size_t d = 0; d < n; d++) {
      p[d] = trial == 0 && d == 2 ? 1.0 : trial == 1 && d == 3 ? 0.0 : gsl_rng_uniform(r);
      m2[d] = 0.5 + gsl_rng_uniform(r);
    }
    cr_assert_eq(sdlab_loss_md_independent(n, p, m2, Md), 0);
    for (unsigned mask = 0; mask < (1u << n); mask++) {
      double prob = 1;
      for (size_t d = 0; d < n; d++)
        prob *= mask >> d & 1 ? p[d] : 1 - p[d];
      if (__builtin_popcount(mask) == 1)
        ref[__builtin_ctz(mask)] += prob * m2[__builtin_ctz(mask)];
    }
    for (size_t d = 0; d < n; d++)
      cr_assert(fabs(Md[d] - ref[d]) <= test_gamma(4 * n) * ref[d] + 1e-300, "trial %d d %zu: %.17g vs %.17g", trial,
                d, Md[d], ref[d]);
  }
  double bad_p[2] = {0.5, 1.5}, m2[2] = {1, 1}, Md[2];
  cr_assert_eq(sdlab_loss_md_independent(2, bad_p, m2, Md), GSL_EINVAL);
  gsl_rng_free(r);
}

Test(loss, md_accumulate_counts_single_feature_rows)
{
  double data[] = {0, 2, 0,  /* only feature 1: adds 4 */
                   1, 1, 0,  /* two active: ignored */
                   0, 0, 0,  /* none */
                   0, -3, 0, /* only feature 1 again: adds 9 */
                   5, 0, 0}; /* only feature 0: adds 25 */
  gsl_matrix_view X = gsl_matrix_view_array(data, 5, 3);
  double sum[3] = {0};
  size_t one = 0;
  cr_assert_eq(sdlab_loss_md_accumulate(&X.matrix, sum, &one), 0);
  cr_assert(sum[0] == 25 && sum[1] == 13 && sum[2] == 0 && one == 3);
  data[4] = NAN;
  cr_assert_eq(sdlab_loss_md_accumulate(&X.matrix, sum, &one), SDLAB_ENONFINITE);
}

Test(loss, shape_errors_are_reported)
{
  sdlab_activation act = {.kind = SDLAB_ACT_RELU};
  sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, 3, 4, 3, 1, &act);
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(8, m);
  gsl_matrix *X = gsl_matrix_calloc(5, 2);
  double L;
  cr_assert_eq(sdlab_loss_sampled(m, X, X, &L, NULL, NULL, w), SDLAB_ESHAPE);
  cr_assert_null(sdlab_model_alloc(SDLAB_SAE, 3, 4, 2, 1, &act), "an SAE with n_r != n_p");
  cr_assert_null(sdlab_model_alloc(SDLAB_CROSSCODER, 6, 4, 6, 4, &act), "4 sources do not divide 6");
  act.kind = SDLAB_ACT_TOPK;
  act.k = 5;
  cr_assert_null(sdlab_model_alloc(SDLAB_SAE, 3, 4, 3, 1, &act), "K > n_q");
  gsl_matrix_free(X);
  sdlab_loss_workspace_free(w);
  sdlab_model_free(m);
}

/* The sparse path (taken when under 1/8 of the codes are selected) computes the same sums as the dense
 * GEMM path in another order: they agree to the rounding bound 3 gamma_K (B + G) of the comment at the
 * top (K as there), for L and L~, with every activation that selects few codes. */
Test(loss, sparse_and_dense_paths_agree)
{
  const char *acts[] = {"topk:2", "topk-relu:3", "batchtopk:2", "jumprelu:4"};
  const uint64_t seed = 8801;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const size_t np = 6, nq = 60, nr = 5, N = 17;
  for (size_t a = 0; a < 4; a++)
    for (int tilde = 0; tilde <= 1; tilde++) {
      sdlab_activation act;
      sdlab_activation_parse(acts[a], &act);
      sdlab_model *m = sdlab_model_alloc(SDLAB_TRANSCODER, np, nq, nr, 1, &act);
      test_gaussian(r, m->WE, 1.0);
      test_gaussian(r, m->WD, 1.0);
      gsl_matrix *Xp = tilde ? gsl_matrix_alloc(np, N) : gsl_matrix_alloc(N, np);
      gsl_matrix *Xr = tilde ? gsl_matrix_alloc(nr, N) : gsl_matrix_alloc(N, nr);
      test_gaussian(r, Xp, 1.0);
      test_gaussian(r, Xr, 1.0);
      double w[17];
      for (size_t s = 0; s < N; s++)
        w[s] = 0.1 + gsl_rng_uniform(r);
      sdlab_loss_workspace *ws = sdlab_loss_workspace_alloc(N, m), *wd = sdlab_loss_workspace_alloc(N, m);
      wd->dense_only = 1;
      gsl_matrix *gE1 = gsl_matrix_alloc(nq, np), *gD1 = gsl_matrix_alloc(nr, nq);
      gsl_matrix *gE2 = gsl_matrix_alloc(nq, np), *gD2 = gsl_matrix_alloc(nr, nq);
      double L1, L2, terms1[17], terms2[17];
      cr_assert_eq(sdlab_loss_weighted(m, Xp, Xr, tilde, w, 1.0, &L1, terms1, gE1, gD1, ws), 0);
      cr_assert_eq(sdlab_loss_weighted(m, Xp, Xr, tilde, w, 1.0, &L2, terms2, gE2, gD2, wd), 0);
      size_t selected = 0;
      for (size_t k = 0; k < N * nq; k++)
        selected += ws->sel[k];
      cr_assert(8 * selected < N * nq, "%s: the sparse path was not taken (%zu selected)", acts[a], selected);
      double fE = test_fro(m->WE), fD = test_fro(m->WD), B = 0, G = 0;
      for (size_t s = 0; s < N; s++) {
        double xp = 0, xr = 0;
        for (size_t j = 0; j < np; j++) {
          double v = tilde ? gsl_matrix_get(Xp, j, s) : gsl_matrix_get(Xp, s, j);
          xp += v * v;
        }
        for (size_t j = 0; j < nr; j++) {
          double v = tilde ? gsl_matrix_get(Xr, j, s) : gsl_matrix_get(Xr, s, j);
          xr += v * v;
        }
        double R = sqrt(xr) + fD * fE * sqrt(xp);
        B += w[s] * R * R;
        G += 2 * w[s] * R * (fD + fE) * sqrt(xp);
      }
      double tol = 3 * test_gamma(2.0 * (np + nq + nr) + N) * (B + G);
      cr_assert(fabs(L1 - L2) <= tol, "%s: L %.17g vs %.17g", acts[a], L1, L2);
      for (size_t k = 0; k < nq * np; k++)
        cr_assert(fabs(gE1->data[k] - gE2->data[k]) <= tol, "%s: dW_E differs at %zu", acts[a], k);
      for (size_t k = 0; k < nr * nq; k++)
        cr_assert(fabs(gD1->data[k] - gD2->data[k]) <= tol, "%s: dW_D differs at %zu", acts[a], k);
      for (size_t s = 0; s < N; s++)
        cr_assert(fabs(terms1[s] - terms2[s]) <= tol);
      gsl_matrix_free(gE1);
      gsl_matrix_free(gD1);
      gsl_matrix_free(gE2);
      gsl_matrix_free(gD2);
      sdlab_loss_workspace_free(ws);
      sdlab_loss_workspace_free(wd);
      gsl_matrix_free(Xp);
      gsl_matrix_free(Xr);
      sdlab_model_free(m);
    }
  gsl_rng_free(r);
}

/* The rounding bound of L~ (theory/sdlab_claims.h) holds against the same sum in long double (64-bit significand:
 * its own rounding is 2^11 times smaller), for L~ through the model and through a piece (sdlab_piece_loss), on
 * random ReLU instances of two kinds: decoders scaled up to 10^6 with encoders shrunk towards zero, and encoders with
 * one code cancelled (a row moved to be nearly orthogonal to a feature, so the code is a cancelled sum of larger
 * terms) with the decoder scaled to 1 / that code, where the codes' own rounding through |W_D| dominates. */
Test(loss, the_rounding_bound_of_ltilde_holds_against_long_double)
{
  gsl_rng *r = test_rng(4407);
  size_t checked = 0, inexact = 0, cancelled = 0;
  double nearest = 0;
  for (int trial = 0; trial < 600; trial++) {
    const size_t n = 2 + gsl_rng_uniform_int(r, 6), np = 2 + gsl_rng_uniform_int(r, 3), nq = 1 + gsl_rng_uniform_int(r, 4);
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *WE = gsl_matrix_alloc(nq, np), *WD = gsl_matrix_alloc(np, nq);
    gsl_vector *Md = gsl_vector_alloc(n);
    double scale = pow(10.0, 6.0 * gsl_rng_uniform(r)), shrink = pow(10.0, -8.0 * gsl_rng_uniform(r));
    for (size_t k = 0; k < np * n; k++)
      Wp->data[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t k = 0; k < nq * np; k++)
      WE->data[k] = gsl_ran_gaussian(r, 1.0) * (trial % 2 ? 1.0 : shrink);
    if (trial % 2) { /* row 0 made nearly orthogonal to feature 0: its code eps |w_p^0|^2 with eps ~ 1e-6 .. 1e-12 */
      double dot = 0, nn = 0, eps = pow(10.0, -6.0 - 6.0 * gsl_rng_uniform(r));
      for (size_t b = 0; b < np; b++) {
        dot += gsl_matrix_get(WE, 0, b) * gsl_matrix_get(Wp, b, 0);
        nn += gsl_matrix_get(Wp, b, 0) * gsl_matrix_get(Wp, b, 0);
      }
      for (size_t b = 0; b < np; b++)
        *gsl_matrix_ptr(WE, 0, b) += (eps - dot / nn) * gsl_matrix_get(Wp, b, 0);
      scale = 1 / (eps * nn);
      cancelled++;
    }
    for (size_t k = 0; k < np * nq; k++)
      WD->data[k] = gsl_ran_gaussian(r, 1.0) * scale;
    for (size_t d = 0; d < n; d++)
      gsl_vector_set(Md, d, 0.1 + gsl_rng_uniform(r));
    sdlab_activation act = {.kind = SDLAB_ACT_RELU};
    uint64_t F[8];
    cr_assert_eq(sdlab_pattern_of_masks(&act, WE, Wp, F), 0);
    sdlab_model *m = sdlab_model_alloc(SDLAB_SAE, np, nq, np, 1, &act);
    gsl_matrix_memcpy(m->WE, WE);
    gsl_matrix_memcpy(m->WD, WD);
    sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(n, m);
    sdlab_piece *P = sdlab_piece_alloc(Wp, np, &act, nq, F);
    cr_assert_not_null(P);
    double L[2];
    cr_assert_eq(sdlab_loss_tilde(m, Wp, Wp, Md, &L[0], NULL, NULL, w), 0);
    cr_assert_eq(sdlab_piece_loss(P, Wp, Wp, Md, WE, WD, &L[1], NULL, NULL), 0);
    long double ref = 0;
    for (size_t d = 0; d < n; d++)
      for (size_t a = 0; a < np; a++) {
        long double v = gsl_matrix_get(Wp, a, d);
        for (size_t i = 0; i < nq; i++) {
          if (!(F[i] >> d & 1))
            continue;
          long double z = 0;
          for (size_t b = 0; b < np; b++)
            z += (long double)gsl_matrix_get(WE, i, b) * gsl_matrix_get(Wp, b, d);
          v -= (long double)gsl_matrix_get(WD, a, i) * z;
        }
        ref += (long double)gsl_vector_get(Md, d) * v * v;
      }
    const double bound = sdlab_claims_ltilde_rounding(Wp, Wp, Md, WE, WD, F);
    for (int route = 0; route < 2; route++) {
      const double err = fabsl((long double)L[route] - ref);
      cr_assert(err <= bound, "trial %d (%s, n %zu, n_p %zu, n_q %zu, |W_D| ~ %.3g): L~ %.17g, long double %.17Lg, "
                "error %.3g above the bound %.3g", trial, route ? "piece" : "model", n, np, nq, scale, L[route], ref,
                err, bound);
      checked++;
      inexact += err > 0;
      nearest = fmax(nearest, err / bound);
    }
    sdlab_piece_free(P);
    sdlab_loss_workspace_free(w);
    sdlab_model_free(m);
    gsl_vector_free(Md);
    gsl_matrix_free(Wp);
    gsl_matrix_free(WE);
    gsl_matrix_free(WD);
  }
  cr_log_info("%zu evaluations (%zu instances with a cancelled code), %zu with a rounding error the bound had to "
              "cover; the largest at %.3g of its bound", checked, cancelled, inexact, nearest);
  cr_assert(inexact >= checked / 2, "only %zu of %zu evaluations had a rounding error: the test would not see a "
            "bound that is too small", inexact, checked);
  cr_assert(nearest > 1e-3, "the errors stay below 1e-3 of the bound (%.3g): too loose to be tested", nearest);
  gsl_rng_free(r);
}
