/* The piece solvers: the active-set QP against brute-force enumeration of active sets, the exact block
 * steps, ACS monotonicity, the block Hessians against differences of gradients, and the piece's loss
 * against the model's. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_errno.h"
#include "sdlab_loss.h"
#include "sdlab_pattern.h"
#include "sdlab_piece.h"
#include "sdlab_qp.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(solvers, .init = init);

static double
maxabs_helper(const gsl_matrix *m)
{
  double s = 0;
  for (size_t k = 0; k < m->size1 * m->size2; k++)
    s = fmax(s, fabs(m->data[k]));
  return s;
}

/* f = 1/2 x^T Q x + q^T x */
static double
objective(const double *Q, const double *q, const double *x, size_t n)
{
  double f = 0;
  for (size_t i = 0; i < n; i++) {
    f += q[i] * x[i];
    for (size_t j = 0; j < n; j++)
      f += 0.5 * x[i] * Q[i * n + j] * x[j];
  }
  return f;
}

/* Brute force for a strictly convex QP: every subset S of constraints taken as equalities, the KKT system
 * [Q -C_S^T; C_S 0] [x; l] = [-q; b_S] solved by LU; the best feasible point with l >= 0 is optimal. */
static double
brute_force(const double *Q, const double *q, const double *C, const double *b, size_t n, size_t m)
{
  double best = INFINITY;
  for (unsigned S = 0; S < (1u << m); S++) {
    size_t k = (size_t)__builtin_popcount(S);
    if (k > n)
      continue;
    size_t N = n + k, idx[16], t = 0;
    for (size_t i = 0; i < m; i++)
      if (S >> i & 1)
        idx[t++] = i;
    gsl_matrix *K = gsl_matrix_calloc(N, N);
    gsl_vector *rhs = gsl_vector_calloc(N), *sol = gsl_vector_alloc(N);
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < n; j++)
        gsl_matrix_set(K, i, j, Q[i * n + j]);
      gsl_vector_set(rhs, i, -q[i]);
    }
    for (size_t a = 0; a < k; a++) {
      for (size_t j = 0; j < n; j++) {
        gsl_matrix_set(K, n + a, j, C[idx[a] * n + j]);
        gsl_matrix_set(K, j, n + a, -C[idx[a] * n + j]);
      }
      gsl_vector_set(rhs, n + a, b[idx[a]]);
    }
    gsl_permutation *p = gsl_permutation_alloc(N);
    int sg;
    gsl_linalg_LU_decomp(K, p, &sg);
    if (fabs(gsl_linalg_LU_det(K, sg)) > 1e-12 && gsl_linalg_LU_solve(K, p, rhs, sol) == 0) {
      int ok = 1;
      for (size_t a = 0; a < k; a++)
        ok &= gsl_vector_get(sol, n + a) >= -1e-9;
      for (size_t i = 0; i < m && ok; i++) {
        double v = -b[i];
        for (size_t j = 0; j < n; j++)
          v += C[i * n + j] * gsl_vector_get(sol, j);
        ok &= v >= -1e-9;
      }
      if (ok)
        best = fmin(best, objective(Q, q, sol->data, n));
    }
    gsl_permutation_free(p);
    gsl_matrix_free(K);
    gsl_vector_free(rhs);
    gsl_vector_free(sol);
  }
  return best;
}

Test(solvers, qp_matches_brute_force_on_strictly_convex_problems)
{
  const uint64_t seed = 1101;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 200; trial++) {
    size_t n = 2 + gsl_rng_uniform_int(r, 4), m = 1 + gsl_rng_uniform_int(r, 7);
    double Q[36], q[6], C[8 * 6], b[8], x[6], A[36];
    for (size_t k = 0; k < n * n; k++)
      A[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < n; i++) /* Q = A A^T + I/10 */
      for (size_t j = 0; j < n; j++) {
        double v = i == j ? 0.1 : 0.0;
        for (size_t t = 0; t < n; t++)
          v += A[i * n + t] * A[j * n + t];
        Q[i * n + j] = v;
      }
    for (size_t i = 0; i < n; i++)
      q[i] = gsl_ran_gaussian(r, 2.0);
    for (size_t k = 0; k < m * n; k++)
      C[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < m; i++) /* x = 0 feasible, some constraints active there */
      b[i] = trial % 3 == 0 ? 0.0 : -gsl_rng_uniform(r);
    memset(x, 0, sizeof x);
    sdlab_qp_workspace *w = sdlab_qp_workspace_alloc(n, m);
    sdlab_qp_kkt kkt;
    double lam[8];
    cr_assert_eq(sdlab_qp_solve(Q, q, C, b, n, m, x, lam, 1000, &kkt, w), 0, "%s", sdlab_error_message(1));
    double f = objective(Q, q, x, n), ref = brute_force(Q, q, C, b, n, m);
    cr_assert(fabs(f - ref) <= 1e-9 * (1 + fabs(ref)), "trial %d (n %zu, m %zu): %.12g vs brute force %.12g", trial, n, m,
              f, ref);
    cr_assert(kkt.converged && kkt.stationarity <= 1e-9 && kkt.min_multiplier >= -1e-9 && kkt.max_violation <= 1e-12,
              "KKT residuals %g %g %g", kkt.stationarity, kkt.min_multiplier, kkt.max_violation);
    sdlab_qp_workspace_free(w);
  }
  /* an infeasible start is refused */
  double Q[1] = {1}, q[1] = {0}, C[1] = {1}, b[1] = {1}, x[1] = {0};
  sdlab_qp_workspace *w = sdlab_qp_workspace_alloc(1, 1);
  sdlab_qp_kkt kkt;
  cr_assert_eq(sdlab_qp_solve(Q, q, C, b, 1, 1, x, NULL, 10, &kkt, w), GSL_EINVAL);
  sdlab_qp_workspace_free(w);
  gsl_rng_free(r);
}

/* The workspace keeps the last factorisation and the reduced Hessian's eigenpairs for the next iteration on the
 * same working set: a workspace reused for another problem (the same rows and start, another Q and q, as an
 * alternating search poses them) must give the bits a fresh workspace gives. */
Test(solvers, qp_reused_workspace_gives_a_fresh_ones_bits)
{
  const uint64_t seed = 1103;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const size_t n = 5, m = 7;
  sdlab_qp_workspace *reused = sdlab_qp_workspace_alloc(n, m);
  double C[7 * 5], b[7];
  for (size_t k = 0; k < m * n; k++)
    C[k] = gsl_ran_gaussian(r, 1.0);
  for (size_t i = 0; i < m; i++)
    b[i] = i % 2 ? 0.0 : -gsl_rng_uniform(r);
  double start[5] = {0};
  for (int trial = 0; trial < 100; trial++) {
    double Q[25], q[5], A[25], x1[5], x2[5], l1[7], l2[7];
    for (size_t k = 0; k < n * n; k++)
      A[k] = gsl_ran_gaussian(r, 1.0);
    const size_t rank = 1 + (size_t)trial % n; /* singular Hessians too: the eigenpairs' rank cut */
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) {
        double v = 0;
        for (size_t t = 0; t < rank; t++)
          v += A[i * n + t] * A[j * n + t];
        Q[i * n + j] = v;
      }
    for (size_t i = 0; i < n; i++)
      q[i] = gsl_ran_gaussian(r, 2.0);
    sdlab_qp_workspace *fresh = sdlab_qp_workspace_alloc(n, m);
    sdlab_qp_kkt k1, k2;
    memcpy(x1, start, sizeof x1); /* where the previous problem's solution ended, as in alternating search */
    memcpy(x2, start, sizeof x2);
    int s1 = sdlab_qp_solve(Q, q, C, b, n, m, x1, l1, 1000, &k1, reused);
    int s2 = sdlab_qp_solve(Q, q, C, b, n, m, x2, l2, 1000, &k2, fresh);
    if (s1 == 0)
      memcpy(start, x1, sizeof start);
    cr_assert_eq(s1, s2, "trial %d: status %d vs %d", trial, s1, s2);
    cr_assert(memcmp(x1, x2, sizeof x1) == 0 && memcmp(l1, l2, sizeof l1) == 0 && k1.iterations == k2.iterations,
              "trial %d: a reused workspace's solution differs from a fresh one's", trial);
    sdlab_qp_workspace_free(fresh);
  }
  sdlab_qp_workspace_free(reused);
  gsl_rng_free(r);
}

Test(solvers, qp_handles_flat_directions)
{
  /* f = (x0 + x1 - 1)^2 / 2 is flat along (1, -1); minimise over x0 >= 0, x1 >= 0: the minimum 0 is a
   * whole segment, and the method must reach it with zero stationarity */
  double Q[4] = {1, 1, 1, 1}, q[2] = {-1, -1}, C[4] = {1, 0, 0, 1}, b[2] = {0, 0}, x[2] = {3, 0};
  sdlab_qp_workspace *w = sdlab_qp_workspace_alloc(2, 2);
  sdlab_qp_kkt kkt;
  cr_assert_eq(sdlab_qp_solve(Q, q, C, b, 2, 2, x, NULL, 100, &kkt, w), 0);
  cr_assert(fabs(x[0] + x[1] - 1) <= 1e-14 && x[0] >= 0 && x[1] >= 0, "x = (%g, %g)", x[0], x[1]);
  cr_assert(kkt.stationarity <= 1e-14);
  sdlab_qp_workspace_free(w);
}

/* A random piece: directions Wp (n_p x n), an encoder inside its region, targets, weights. */
typedef struct {
  gsl_matrix *Wp, *Wr, *WE, *WD;
  gsl_vector *Md;
  sdlab_piece *P;
  sdlab_activation act;
} piece_case;

static void
make_case(gsl_rng *r, const char *act, piece_case *c)
{
  size_t n = 3 + gsl_rng_uniform_int(r, 4), np = 2 + gsl_rng_uniform_int(r, 3), nq = 2 + gsl_rng_uniform_int(r, 3);
  c->Wp = gsl_matrix_alloc(np, n);
  c->Wr = gsl_matrix_alloc(np, n);
  c->WE = gsl_matrix_alloc(nq, np);
  c->WD = gsl_matrix_alloc(np, nq);
  test_unit_columns(r, c->Wp);
  test_unit_columns(r, c->Wr);
  test_gaussian(r, c->WE, 1.0);
  test_gaussian(r, c->WD, 1.0);
  c->Md = gsl_vector_alloc(n);
  for (size_t d = 0; d < n; d++)
    gsl_vector_set(c->Md, d, 0.1 + gsl_rng_uniform(r));
  sdlab_activation_parse(act, &c->act);
  if (c->act.k > nq)
    c->act.k = nq;
  uint64_t F[8];
  cr_assert_eq(sdlab_pattern_of_masks(&c->act, c->WE, c->Wp, F), 0);
  c->P = sdlab_piece_alloc(c->Wp, np, &c->act, nq, F);
  cr_assert_not_null(c->P, "%s", sdlab_error_message(1));
}

static void
free_case(piece_case *c)
{
  gsl_matrix_free(c->Wp);
  gsl_matrix_free(c->Wr);
  gsl_matrix_free(c->WE);
  gsl_matrix_free(c->WD);
  gsl_vector_free(c->Md);
  sdlab_piece_free(c->P);
}

Test(solvers, piece_loss_equals_the_models_inside_the_region)
{
  const uint64_t seed = 1102;
  gsl_rng *r = test_rng(seed);
  const char *acts[] = {"relu", "topk-relu:2", "topk-relu:1", "jumprelu:0.3"};
  for (int trial = 0; trial < 80; trial++) {
    piece_case c;
    make_case(r, acts[trial % 4], &c);
    double sm, vi;
    sdlab_piece_margin(c.P, c.WE, &sm, &vi);
    cr_assert(vi <= 1e-12, "the encoder lies in its own piece's closure");
    sdlab_model *m = sdlab_model_alloc(SDLAB_TRANSCODER, c.P->np, c.P->nq, c.P->nr, 1, &c.act);
    gsl_matrix_memcpy(m->WE, c.WE);
    gsl_matrix_memcpy(m->WD, c.WD);
    sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(c.P->n, m);
    double L1, L2;
    gsl_matrix *g1 = gsl_matrix_alloc(c.P->nq, c.P->np), *g2 = gsl_matrix_alloc(c.P->nq, c.P->np);
    cr_assert_eq(sdlab_loss_tilde(m, c.Wp, c.Wr, c.Md, &L1, g1, NULL, w), 0);
    cr_assert_eq(sdlab_piece_loss(c.P, c.Wp, c.Wr, c.Md, c.WE, c.WD, &L2, g2, NULL), 0);
    cr_assert(fabs(L1 - L2) <= test_gamma(64) * (1 + L1), "%s: %.17g vs %.17g", acts[trial % 4], L1, L2);
    for (size_t k = 0; k < c.P->nq * c.P->np; k++)
      cr_assert(fabs(g1->data[k] - g2->data[k]) <= test_gamma(256) * (1 + fabs(g1->data[k])));
    gsl_matrix_free(g1);
    gsl_matrix_free(g2);
    sdlab_loss_workspace_free(w);
    sdlab_model_free(m);
    free_case(&c);
  }
  gsl_rng_free(r);
}

Test(solvers, block_hessians_match_differences_of_gradients_and_are_psd)
{
  const uint64_t seed = 1103;
  gsl_rng *r = test_rng(seed);
  for (int trial = 0; trial < 40; trial++) {
    piece_case c;
    make_case(r, trial % 2 ? "relu" : "topk-relu:2", &c);
    const size_t nq = c.P->nq, np = c.P->np, nx = nq * np;
    gsl_matrix *HD = gsl_matrix_alloc(nq, nq), *HE = gsl_matrix_alloc(nx, nx);
    cr_assert_eq(sdlab_piece_hessians(c.P, c.Wp, c.Md, c.WE, c.WD, HD, HE), 0);
    /* the piece's loss is quadratic in each block: a gradient difference over any step is exact */
    gsl_matrix *gp = gsl_matrix_alloc(nq, np), *gm = gsl_matrix_alloc(nq, np), *E2 = gsl_matrix_alloc(nq, np);
    for (size_t k = 0; k < nx; k++) {
      gsl_matrix_memcpy(E2, c.WE);
      E2->data[k] += 0.5;
      sdlab_piece_loss(c.P, c.Wp, c.Wr, c.Md, E2, c.WD, NULL, gp, NULL);
      E2->data[k] -= 1.0;
      sdlab_piece_loss(c.P, c.Wp, c.Wr, c.Md, E2, c.WD, NULL, gm, NULL);
      for (size_t j = 0; j < nx; j++) {
        double fd = gp->data[j] - gm->data[j]; /* step 1: (g(+1/2) - g(-1/2)) / 1 */
        cr_assert(fabs(fd - gsl_matrix_get(HE, j, k)) <= test_gamma(512) * (1 + fabs(fd)), "H_E[%zu][%zu]", j, k);
      }
    }
    /* PSD: x^T H x >= 0 for random x, up to rounding */
    for (int t = 0; t < 20; t++) {
      double xs = 0, Hn = test_fro(HE);
      gsl_vector *v = gsl_vector_alloc(nx), *Hv = gsl_vector_alloc(nx);
      for (size_t k = 0; k < nx; k++)
        gsl_vector_set(v, k, gsl_ran_gaussian(r, 1.0));
      gsl_blas_dgemv(CblasNoTrans, 1.0, HE, v, 0.0, Hv);
      gsl_blas_ddot(v, Hv, &xs);
      cr_assert(xs >= -test_gamma(4.0 * nx) * Hn * nx);
      gsl_vector_free(v);
      gsl_vector_free(Hv);
    }
    gsl_matrix_free(gp);
    gsl_matrix_free(gm);
    gsl_matrix_free(E2);
    gsl_matrix_free(HD);
    gsl_matrix_free(HE);
    free_case(&c);
  }
  gsl_rng_free(r);
}

Test(solvers, block_steps_are_exact_and_acs_never_increases_the_loss)
{
  const uint64_t seed = 1104;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *r = test_rng(seed);
  const char *acts[] = {"relu", "topk-relu:2", "topk-relu:1", "jumprelu:0.3"};
  for (int trial = 0; trial < 60; trial++) {
    piece_case c;
    make_case(r, acts[trial % 4], &c);
    const size_t nq = c.P->nq, np = c.P->np;
    /* decoder step: the gradient in W_D vanishes, and no random decoder does better */
    double g, L0, L1;
    cr_assert_eq(sdlab_piece_decoder_step(c.P, c.Wp, c.Wr, c.Md, c.WE, c.WD, &g), 0);
    sdlab_piece_loss(c.P, c.Wp, c.Wr, c.Md, c.WE, c.WD, &L0, NULL, NULL);
    cr_assert(g <= test_gamma(256) * (1 + L0) * 100, "decoder gradient %g", g);
    gsl_matrix *D2 = gsl_matrix_alloc(np, nq);
    for (int t = 0; t < 20; t++) {
      gsl_matrix_memcpy(D2, c.WD);
      for (size_t k = 0; k < np * nq; k++)
        D2->data[k] += gsl_ran_gaussian(r, 0.1);
      sdlab_piece_loss(c.P, c.Wp, c.Wr, c.Md, c.WE, D2, &L1, NULL, NULL);
      cr_assert(L1 >= L0 - test_gamma(256) * (1 + L0));
    }
    gsl_matrix_free(D2);
    /* ACS: monotone, and every encoder step meets its KKT conditions */
    sdlab_piece_acs *a = sdlab_piece_acs_alloc(c.P, c.Wp, c.Wr, c.Md);
    cr_assert_eq(sdlab_piece_acs_set(a, c.WE), 0);
    double prev = a->loss;
    for (int it = 0; it < 30; it++) {
      int st = sdlab_piece_acs_iterate(a);
      cr_assert_eq(st, 0, "trial %d it %d: %s", trial, it, sdlab_error_message(st));
      cr_assert(a->loss <= prev + test_gamma(256) * (1 + prev), "trial %d: L~ rose from %.17g to %.17g", trial, prev,
                a->loss);
      double scale = 1 + maxabs_helper(a->WE) + maxabs_helper(a->WD);
      cr_assert(a->kkt_E.stationarity <= 1e-8 * scale * scale && a->kkt_E.min_multiplier >= -1e-8 * scale * scale,
                "trial %d: KKT %g %g", trial, a->kkt_E.stationarity, a->kkt_E.min_multiplier);
      double sm, vi;
      sdlab_piece_margin(c.P, a->WE, &sm, &vi);
      cr_assert(vi <= 1e-9 * scale, "the iterate left the piece's closure by %g", vi);
      prev = a->loss;
      if (sdlab_piece_acs_test(a, 1e-14, 0) == GSL_SUCCESS)
        break;
    }
    sdlab_piece_acs_free(a);
    free_case(&c);
  }
  gsl_rng_free(r);
}

/* Pinned (found by bnb/topk_bounds_bracket_points_of_ranked_pieces, seed 3311): on this Top-k-ReLU piece the
 * dead neuron's row has no curvature and the ranking rows tie it to the live rows; a blocking row that was a
 * rounding-level combination of the working set entered it, R became singular, and the third encoder step
 * returned NaN.  Alternating convex search must stay finite, never increase L~, and meet KKT. */
Test(solvers, acs_on_a_ranked_piece_with_a_dead_row_stays_finite)
{
  const double wp[4][2] = {{0.4489397530764756, -0.89356202812543062}, {-0.33934588061050197, -0.94066166782360328},
                           {0.90234723952191143, -0.43100981349290185}, {-0.87350782731175014, 0.48681010222170368}};
  const double wr[4][2] = {{-0.077326358241386478, 0.9328947252768206}, {0.47553944539463966, 0.076000875512584526},
                           {-0.48491272206277836, 0.33166207570036538}, {0.074786124390473566, -0.058079459258696925}};
  const double md[4] = {0.54177251737564802, 1.4449810066726059, 1.3977864112239331, 0.93575972178950906};
  const double e[3][2] = {{-0.17435755911602205, 0.29283152534780849}, {-4.8279339380637349, -4.1507252692237664},
                          {733.70875310674876, 1456.1156067330894}};
  gsl_matrix *Wp = gsl_matrix_alloc(2, 4), *Wr = gsl_matrix_alloc(2, 4), *E = gsl_matrix_alloc(3, 2);
  gsl_vector *Md = gsl_vector_alloc(4);
  for (size_t d = 0; d < 4; d++) {
    for (size_t a = 0; a < 2; a++) {
      gsl_matrix_set(Wp, a, d, wp[d][a]);
      gsl_matrix_set(Wr, a, d, wr[d][a]);
    }
    gsl_vector_set(Md, d, md[d]);
  }
  for (size_t i = 0; i < 3; i++)
    for (size_t a = 0; a < 2; a++)
      gsl_matrix_set(E, i, a, e[i][a]);
  const uint64_t F[3] = {0, 0xb, 0xc};
  const sdlab_activation act = {.kind = SDLAB_ACT_TOPK_RELU, .k = 2};
  sdlab_piece *P = sdlab_piece_alloc(Wp, 2, &act, 3, F);
  cr_assert_not_null(P);
  sdlab_piece_acs *a = sdlab_piece_acs_alloc(P, Wp, Wr, Md);
  cr_assert_eq(sdlab_piece_acs_set(a, E), 0, "%s", sdlab_error_message(1));
  double last = a->loss;
  for (int it = 0; it < 20; it++) {
    cr_assert_eq(sdlab_piece_acs_iterate(a), 0, "%s", sdlab_error_message(1));
    cr_assert(isfinite(a->loss) && a->loss <= last * (1 + test_gamma(64)), "iteration %d: L~ %.17g after %.17g", it,
              a->loss, last);
    const double scale = 1 + gsl_matrix_max(a->WE) - gsl_matrix_min(a->WE);
    cr_assert(a->kkt_E.max_violation <= test_gamma(256) * scale && a->kkt_E.min_multiplier >= -test_gamma(256) * scale,
              "iteration %d: violation %g, multiplier %g", it, a->kkt_E.max_violation, a->kkt_E.min_multiplier);
    last = a->loss;
  }
  sdlab_piece_acs_free(a);
  sdlab_piece_free(P);
  gsl_matrix_free(Wp);
  gsl_matrix_free(Wr);
  gsl_matrix_free(E);
  gsl_vector_free(Md);
}

Test(solvers, pure_topk_pieces_are_refused)
{
  double w[] = {1, 0, 0, 1};
  gsl_matrix_view W = gsl_matrix_view_array(w, 2, 2);
  sdlab_activation act = {.kind = SDLAB_ACT_TOPK, .k = 1};
  uint64_t F[2] = {1, 2};
  sdlab_error_clear();
  cr_assert_null(sdlab_piece_alloc(&W.matrix, 2, &act, 2, F));
  cr_assert(strstr(sdlab_error_message(GSL_EINVAL), "non-positive") != NULL);
  act.k = 2; /* k = n_q: Top-k is ReLU */
  sdlab_piece *P = sdlab_piece_alloc(&W.matrix, 2, &act, 2, F);
  cr_assert_not_null(P);
  sdlab_piece_free(P);
}
