/* Metrics of §5.1: hand-computed cases, MCC against exhaustive search and against GLPK's simplex on
 * the assignment LP (an independent solver: the assignment polytope is integral). */
#include <criterion/criterion.h>
#include <glpk.h>
#include <math.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_assign.h"
#include "sdlab_errno.h"
#include "sdlab_metrics.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(metrics, .init = init);

Test(metrics, hand_computed_case)
{
  /* truth I_2; learned rows (1, 0) and (1, 1) */
  double t[] = {1, 0, 0, 1}, l[] = {1, 0, 1, 1};
  gsl_matrix_view W = gsl_matrix_view_array(t, 2, 2), L = gsl_matrix_view_array(l, 2, 2);
  gsl_matrix *S = gsl_matrix_alloc(2, 2);
  double s[2], mcc;
  size_t match[2];
  cr_assert_eq(sdlab_metrics_similarity(&L.matrix, &W.matrix, 1, 1, S), 0);
  sdlab_metrics_best_match(S, s);
  const double r = 1 / sqrt(2.0);
  cr_assert(s[0] == 1 && fabs(s[1] - r) <= 1e-15);
  cr_assert_eq(sdlab_metrics_mgt(s, 2, NULL, 0.95), 0.5);
  cr_assert(fabs(sdlab_metrics_mip(s, 2, NULL) - (1 + r) / 2) <= 1e-15);
  cr_assert_eq(sdlab_metrics_mcc(S, NULL, &mcc, match), 0);
  cr_assert(match[0] == 0 && match[1] == 1 && fabs(mcc - (1 + r) / 2) <= 1e-15);
  /* excluding feature 0 leaves feature 1: best match 1/sqrt 2 by row 1 (or row 0's 0) */
  unsigned char ex[2] = {1, 0};
  cr_assert(fabs(sdlab_metrics_mip(s, 2, ex) - r) <= 1e-15 && sdlab_metrics_mgt(s, 2, ex, 0.5) == 1);
  cr_assert_eq(sdlab_metrics_mcc(S, ex, &mcc, match), 0);
  cr_assert(fabs(mcc - r) <= 1e-15 && match[0] == (size_t)-1 && match[1] == 1);
  unsigned char all[2] = {1, 1};
  cr_assert(isnan(sdlab_metrics_mip(s, 2, all)) && isnan(sdlab_metrics_mgt(s, 2, all, 0.5)));
  /* raw similarity: row (1, 1) has |<(1,1), e_2>| = 1 */
  sdlab_metrics_similarity(&L.matrix, &W.matrix, 0, 1, S);
  sdlab_metrics_best_match(S, s);
  cr_assert(s[0] == 1 && s[1] == 1);
  /* sign does not matter (absolute value), a zero row gives 0 */
  double l2[] = {-2, 0, 0, 0};
  gsl_matrix_view L2 = gsl_matrix_view_array(l2, 2, 2);
  sdlab_metrics_similarity(&L2.matrix, &W.matrix, 1, 1, S);
  cr_assert(gsl_matrix_get(S, 0, 0) == 1 && gsl_matrix_get(S, 1, 0) == 0 && gsl_matrix_get(S, 1, 1) == 0);
  gsl_matrix_free(S);
}

/* The similarity as its definition states it, |<l_j, w_i>| / (||l_j|| ||w_i||) for every pair, in long double;
 * and the same bytes whatever OpenBLAS's thread count (the trainer evaluates on its run's threads: its metrics
 * must not depend on them). */
Test(metrics, similarity_by_its_definition_and_independent_of_threads)
{
  const size_t q = 700, d = 96, n = 300;
  gsl_rng *g = test_rng(17);
  gsl_matrix *L = gsl_matrix_alloc(q, d), *W = gsl_matrix_alloc(d, n), *S1 = gsl_matrix_alloc(q, n),
             *S2 = gsl_matrix_alloc(q, n);
  for (size_t k = 0; k < q * d; k++)
    L->data[k] = gsl_ran_gaussian(g, 1.0);
  for (size_t k = 0; k < d * n; k++)
    W->data[k] = gsl_ran_gaussian(g, 1.0);
  for (size_t a = 0; a < d; a++) /* a zero row and a zero column */
    gsl_matrix_set(L, 5, a, 0.0), gsl_matrix_set(W, a, 7, 0.0);
  cr_assert_eq(sdlab_metrics_similarity(L, W, 1, 1, S1), 0);
  for (int threads = 2; threads <= 3; threads++) {
    cr_assert_eq(sdlab_metrics_similarity(L, W, 1, threads, S2), 0);
    cr_assert(memcmp(S1->data, S2->data, q * n * sizeof(double)) == 0, "%d threads change the similarity", threads);
  }
  for (size_t j = 0; j < q; j++)
    for (size_t i = 0; i < n; i++) {
      long double dot = 0, nl = 0, nw = 0;
      for (size_t a = 0; a < d; a++) {
        dot += (long double)gsl_matrix_get(L, j, a) * gsl_matrix_get(W, a, i);
        nl += (long double)gsl_matrix_get(L, j, a) * gsl_matrix_get(L, j, a);
        nw += (long double)gsl_matrix_get(W, a, i) * gsl_matrix_get(W, a, i);
      }
      const double want = nl > 0 && nw > 0 ? (double)(fabsl(dot) / sqrtl(nl * nw)) : 0.0;
      /* d-term sums in double, each relative error at most gamma_d; |cos| <= 1 */
      const double u = 0x1p-53, tol = 4 * (double)d * u / (1 - 4 * (double)d * u);
      cr_assert(fabs(gsl_matrix_get(S1, j, i) - want) <= tol, "S[%zu][%zu] = %.17g, by definition %.17g", j, i,
                gsl_matrix_get(S1, j, i), want);
    }
  double s[300], sr[300];
  sdlab_metrics_best_match(S1, s);
  for (size_t i = 0; i < n; i++) { /* the column maxima */
    sr[i] = 0;
    for (size_t j = 0; j < q; j++)
      sr[i] = gsl_matrix_get(S1, j, i) > sr[i] ? gsl_matrix_get(S1, j, i) : sr[i];
    cr_assert(s[i] == sr[i]);
  }
  gsl_matrix_free(L), gsl_matrix_free(W), gsl_matrix_free(S1), gsl_matrix_free(S2);
  const size_t sizes[][3] = {{1, 5, 3}, {47, 13, 9}, {97, 96, 31}, {1031, 200, 77}};
  for (size_t z = 0; z < 4; z++) { /* thread counts against one call, odd sizes */
    gsl_matrix *L2 = gsl_matrix_alloc(sizes[z][0], sizes[z][1]), *W2 = gsl_matrix_alloc(sizes[z][1], sizes[z][2]),
               *A = gsl_matrix_alloc(sizes[z][0], sizes[z][2]), *B = gsl_matrix_alloc(sizes[z][0], sizes[z][2]);
    for (size_t k = 0; k < L2->size1 * L2->size2; k++)
      L2->data[k] = gsl_ran_gaussian(g, 1.0);
    for (size_t k = 0; k < W2->size1 * W2->size2; k++)
      W2->data[k] = gsl_ran_gaussian(g, 1.0);
    cr_assert_eq(sdlab_metrics_similarity(L2, W2, 1, 1, A), 0);
    for (int threads = 2; threads <= 5; threads++) {
      cr_assert_eq(sdlab_metrics_similarity(L2, W2, 1, threads, B), 0);
      cr_assert(memcmp(A->data, B->data, A->size1 * A->size2 * sizeof(double)) == 0, "%zu x %zu x %zu: %d threads "
                "change the similarity", sizes[z][0], sizes[z][1], sizes[z][2], threads);
    }
    gsl_matrix_free(L2), gsl_matrix_free(W2), gsl_matrix_free(A), gsl_matrix_free(B);
  }
  gsl_rng_free(g);
}

/* best injective assignment of the smaller side by exhaustive search */
static double
brute(const double *W, size_t rows, size_t cols, size_t r, unsigned used)
{
  if (r == rows)
    return 0;
  double best = -INFINITY;
  for (size_t c = 0; c < cols; c++)
    if (!(used >> c & 1))
      best = fmax(best, W[r * cols + c] + brute(W, rows, cols, r + 1, used | 1u << c));
  return best;
}

Test(metrics, mcc_equals_exhaustive_search)
{
  const uint64_t seed = 501;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *rng = test_rng(seed);
  for (int trial = 0; trial < 300; trial++) {
    size_t q = 1 + gsl_rng_uniform_int(rng, 7), n = 1 + gsl_rng_uniform_int(rng, 7);
    gsl_matrix *S = gsl_matrix_alloc(q, n);
    for (size_t k = 0; k < q * n; k++)
      S->data[k] = trial % 4 == 0 ? floor(4 * gsl_rng_uniform(rng)) / 4 : gsl_rng_uniform(rng); /* ties too */
    double mcc;
    size_t match[7];
    cr_assert_eq(sdlab_metrics_mcc(S, NULL, &mcc, match), 0);
    /* reference: rows = smaller side */
    double T[49];
    size_t rows = n <= q ? n : q, cols = n <= q ? q : n;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < q; j++) {
        if (n <= q)
          T[i * cols + j] = gsl_matrix_get(S, j, i);
        else
          T[j * cols + i] = gsl_matrix_get(S, j, i);
      }
    double ref = brute(T, rows, cols, 0, 0) / (double)n;
    cr_assert(fabs(mcc - ref) <= test_gamma(16), "trial %d (%zu x %zu): %.17g vs exhaustive %.17g", trial, q, n, mcc,
              ref);
    /* the reported matching is injective and scores mcc */
    double tot = 0;
    unsigned used = 0;
    for (size_t i = 0; i < n; i++)
      if (match[i] != (size_t)-1) {
        cr_assert(!(used >> match[i] & 1));
        used |= 1u << match[i];
        tot += gsl_matrix_get(S, match[i], i);
      }
    cr_assert(fabs(tot / (double)n - mcc) <= test_gamma(16));
    gsl_matrix_free(S);
  }
  gsl_rng_free(rng);
}

/* The assignment LP max sum W_ij x_ij, sum_j x_ij = 1, sum_i x_ij <= 1, x >= 0, by GLPK's simplex. */
static double
glpk_assignment(const double *W, size_t rows, size_t cols)
{
  glp_term_out(GLP_OFF);
  glp_prob *lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MAX);
  glp_add_rows(lp, (int)(rows + cols));
  for (size_t i = 0; i < rows; i++)
    glp_set_row_bnds(lp, (int)i + 1, GLP_FX, 1, 1);
  for (size_t j = 0; j < cols; j++)
    glp_set_row_bnds(lp, (int)(rows + j) + 1, GLP_UP, 0, 1);
  glp_add_cols(lp, (int)(rows * cols));
  int ind[3];
  double val[3] = {0, 1, 1};
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) {
      int c = (int)(i * cols + j) + 1;
      glp_set_col_bnds(lp, c, GLP_LO, 0, 0);
      glp_set_obj_coef(lp, c, W[i * cols + j]);
      ind[1] = (int)i + 1;
      ind[2] = (int)(rows + j) + 1;
      glp_set_mat_col(lp, c, 2, ind, val);
    }
  glp_smcp parm;
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  cr_assert_eq(glp_simplex(lp, &parm), 0);
  cr_assert_eq(glp_get_status(lp), GLP_OPT);
  double z = glp_get_obj_val(lp);
  glp_delete_prob(lp);
  return z;
}

Test(metrics, assignment_matches_glpk_simplex_on_larger_instances)
{
  const uint64_t seed = 502;
  cr_log_info("seed %llu", (unsigned long long)seed);
  gsl_rng *rng = test_rng(seed);
  for (int trial = 0; trial < 6; trial++) {
    size_t rows = 20 + gsl_rng_uniform_int(rng, 30), cols = rows + gsl_rng_uniform_int(rng, 300);
    double *W = malloc(rows * cols * sizeof *W);
    /* like |cos| similarities: most small, a few large per row; trial 0 is dense uniform */
    for (size_t k = 0; k < rows * cols; k++)
      W[k] = trial == 0 ? gsl_rng_uniform(rng) : pow(gsl_rng_uniform(rng), 8);
    size_t *col = malloc(rows * sizeof *col), cand;
    double total;
    cr_assert_eq(sdlab_assign_max(W, rows, cols, col, &total, &cand), 0);
    double ref = glpk_assignment(W, rows, cols);
    /* the simplex optimum carries its own rounding, bounded by GLPK's feasibility tolerance 1e-7 per row */
    cr_assert(fabs(total - ref) <= 1e-7 * (double)rows, "trial %d (%zu x %zu, %zu candidates): %.12g vs GLPK %.12g",
              trial, rows, cols, cand, total, ref);
    cr_log_info("trial %d: %zu x %zu solved on %zu candidate columns", trial, rows, cols, cand);
    free(W);
    free(col);
  }
  gsl_rng_free(rng);
  double w[] = {1, NAN};
  size_t c[1];
  double t;
  cr_assert_eq(sdlab_assign_max(w, 1, 2, c, &t, NULL), SDLAB_ENONFINITE);
  cr_assert_eq(sdlab_assign_max(w, 2, 1, c, &t, NULL), GSL_EINVAL);
}

Test(metrics, activity_and_explained_variance)
{
  double a[] = {0, 1.5, 0, 0, 2, 3, 0, 0, 0};
  gsl_matrix_view A = gsl_matrix_view_array(a, 3, 3);
  size_t nz = 0;
  unsigned char fired[3] = {0};
  sdlab_metrics_activity(&A.matrix, &nz, fired);
  cr_assert(nz == 3 && !fired[0] && fired[1] && fired[2]);
  /* X has column means (1, 2); perfect reconstruction gives 1, reconstructing the mean gives 0 */
  double x[] = {0, 1, 2, 3}, m[] = {1, 2, 1, 2}, half[] = {0.5, 1.5, 1.5, 2.5};
  gsl_matrix_view X = gsl_matrix_view_array(x, 2, 2), M = gsl_matrix_view_array(m, 2, 2),
                  H = gsl_matrix_view_array(half, 2, 2);
  cr_assert_eq(sdlab_metrics_explained_variance(&X.matrix, &X.matrix), 1.0);
  cr_assert_eq(sdlab_metrics_explained_variance(&X.matrix, &M.matrix), 0.0);
  /* residual 4 * 0.25 = 1 over variance 4: 0.75 */
  cr_assert_eq(sdlab_metrics_explained_variance(&X.matrix, &H.matrix), 0.75);
  cr_assert(isnan(sdlab_metrics_explained_variance(&M.matrix, &M.matrix)), "no variance: undefined");
}
