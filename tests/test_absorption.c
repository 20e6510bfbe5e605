/* Feature absorption measured (experiments/sdlab_absorption) and Theorem 3.8's construction (theory):
 * the classifier against a hand-built dictionary whose every latent's class is known by design, its rates
 * against direct counts, and the construction's steps against their definitions. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_absorption.h"
#include "sdlab_construct.h"
#include "sdlab_errno.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(absorption, .init = init);

/* Hierarchy with 2 parents (features 0, 1), 3 sub-concepts each (2, 3, 4 of parent 0; 5, 6, 7 of parent 1)
 * and one independent feature 8. */
enum { NF = 9, NL = 8 };
static const long PARENT_OF[NF] = {-1, -1, 0, 0, 0, 1, 1, 1, -1};

Test(absorption, hand_built_dictionary_gets_the_classes_it_was_built_with)
{
  const size_t N = 6000;
  const uint64_t seed = 35;
  gsl_rng *r = test_rng(seed);
  double *x = calloc(N * NF, sizeof *x), *z = calloc(N * NL, sizeof *z);
  for (size_t s = 0; s < N; s++) {
    double *xs = x + s * NF;
    for (size_t p = 0; p < 2; p++)
      if (gsl_rng_uniform(r) < 0.3) {
        xs[p] = 1 + gsl_rng_uniform(r);
        xs[2 + 3 * p + gsl_rng_uniform_int(r, 3)] = 1 + gsl_rng_uniform(r);
      }
    if (gsl_rng_uniform(r) < 0.3)
      xs[8] = 1;
    double *zs = z + s * NL;
    zs[0] = xs[0] > 0 && !(xs[2] > 0); /* parent 0 with a hole at sub-concept 2 */
    zs[1] = xs[2] > 0;                  /* takes sub-concept 2: absorbing */
    zs[2] = xs[1] > 0;                  /* parent 1, whole */
    zs[3] = xs[5] > 0;                  /* sub-concept 5, also covered by latent 2 */
    zs[4] = xs[8] > 0;                  /* the independent feature */
    zs[5] = 0;                          /* dead */
    zs[6] = 1;                          /* fires on everything: spans families */
    zs[7] = xs[8] > 0 || s % 3 == 0;    /* feature 8, but fires without it a third of the time */
  }
  sdlab_absorption *a = sdlab_absorption_alloc(NL, NF);
  cr_assert_not_null(a);
  cr_assert_eq(sdlab_absorption_measure(a, z, x, N, PARENT_OF, 0.9), 0, "%s", sdlab_error_message(0));
  static const sdlab_latent_class want[NL] = {SDLAB_LATENT_PARENT, SDLAB_LATENT_ABSORBING, SDLAB_LATENT_PARENT,
                                              SDLAB_LATENT_SUBCONCEPT, SDLAB_LATENT_FEATURE, SDLAB_LATENT_DEAD,
                                              SDLAB_LATENT_OTHER, SDLAB_LATENT_OTHER};
  static const long owner[NL] = {0, 2, 1, 5, 8, -1, -1, -1};
  for (size_t i = 0; i < NL; i++) {
    cr_expect_eq(a->cls[i], want[i], "seed %llu: latent %zu is %s, built as %s", (unsigned long long)seed, i,
                 sdlab_absorption_latent_class_name(a->cls[i]), sdlab_absorption_latent_class_name(want[i]));
    cr_expect_eq(a->owner[i], owner[i], "latent %zu owner %ld", i, a->owner[i]);
  }
  cr_expect_eq(a->children, 6);
  cr_expect_eq(a->absorbed, 1);
  cr_expect_eq(a->covered, 5);
  cr_expect_eq(a->lost, 0);
  cr_expect_eq(a->status[2], SDLAB_CHILD_ABSORBED);
  cr_expect_eq(a->counts[SDLAB_LATENT_PARENT], 2);
  cr_expect_eq(a->counts[SDLAB_LATENT_OTHER], 2);
  /* rates against direct counts: latent 0 on parent 0's samples fires exactly when sub-concept 2 is off */
  size_t par = 0, par_no2 = 0, quiet = 0, quiet_fire = 0;
  for (size_t s = 0; s < N; s++) {
    if (x[s * NF] > 0) {
      par++;
      par_no2 += !(x[s * NF + 2] > 0);
    }
    if (!(x[s * NF + 8] > 0)) {
      quiet++;
      quiet_fire += s % 3 == 0;
    }
  }
  cr_expect_eq(a->rate[0 * NF + 0], (double)par_no2 / (double)par);
  cr_expect_eq(a->false_rate[7], (double)quiet_fire / (double)quiet);
  cr_expect_eq(a->rate[1 * NF + 2], 1.0);
  /* display order: parent 0's latents (parent, then absorbing), parent 1's (parent, sub-concept), feature 8's,
   * then other, then dead */
  size_t order[NL];
  cr_assert_eq(sdlab_absorption_order(a, order), 0);
  static const size_t want_order[NL] = {0, 1, 2, 3, 4, 6, 7, 5};
  for (size_t i = 0; i < NL; i++)
    cr_expect_eq(order[i], want_order[i], "position %zu holds latent %zu", i, order[i]);
  sdlab_absorption_free(a);
  free(x);
  free(z);
  gsl_rng_free(r);
}

Test(absorption, pattern_input_and_argument_errors)
{
  sdlab_absorption *a = sdlab_absorption_alloc(3, NF);
  unsigned char P[3 * NF] = {0};
  P[0 * NF + 3] = P[0 * NF + 4] = 1; /* F = {3, 4}: parent 0's main line */
  P[1 * NF + 2] = 1;                 /* F = {2}: absorbing */
  cr_assert_eq(sdlab_absorption_pattern(a, P, PARENT_OF, 0.9), 0);
  cr_expect_eq(a->cls[0], SDLAB_LATENT_PARENT);
  cr_expect_eq(a->cls[1], SDLAB_LATENT_ABSORBING);
  cr_expect_eq(a->cls[2], SDLAB_LATENT_DEAD);
  cr_expect_eq(a->absorbed, 1);
  cr_expect_eq(a->lost, 3); /* parent 1's sub-concepts have no latent at all */
  cr_expect_eq(sdlab_absorption_pattern(a, P, PARENT_OF, 0.5), SDLAB_EPARAM);
  long bad[NF];
  memcpy(bad, PARENT_OF, sizeof bad);
  bad[3] = 2; /* a sub-concept's parent that has a parent */
  cr_expect_eq(sdlab_absorption_pattern(a, P, bad, 0.9), GSL_EINVAL);
  memcpy(bad, PARENT_OF, sizeof bad);
  bad[6] = bad[7] = 8; /* parent 1 keeps one sub-concept */
  cr_expect_eq(sdlab_absorption_pattern(a, P, bad, 0.9), GSL_EINVAL);
  sdlab_absorption_free(a);
  cr_expect_null(sdlab_absorption_alloc(0, 3));
  sdlab_absorption_free(NULL);
}

/* Theorem 3.8's steps 2-4 on random instances: the outputs equal their definitions (74)-(85), the scaled parent
 * row realizes F_i* \ {d*} above c'' and the new row realizes {d*} (the claims the proof proves), and the
 * errors for inputs outside the theorem. */
Test(absorption, theorem_38_construction_follows_its_definitions)
{
  for (uint64_t seed = 1; seed <= 40; seed++) {
    gsl_rng *r = test_rng(seed);
    const size_t np = 6, n = 5;
    gsl_matrix *Wp = gsl_matrix_alloc(np, n), *WE = gsl_matrix_alloc(1, np), *out = gsl_matrix_alloc(2, np);
    test_unit_columns(r, Wp);
    /* the neuron: the sum of three features' directions plus noise; F = the features above c */
    gsl_matrix_set_zero(WE);
    for (size_t d = 0; d < 3; d++)
      for (size_t k = 0; k < np; k++)
        gsl_matrix_set(WE, 0, k, gsl_matrix_get(WE, 0, k) + gsl_matrix_get(Wp, k, d) + 0.1 * gsl_ran_gaussian(r, 1));
    double a[5];
    gsl_vector_view row = gsl_matrix_row(WE, 0);
    for (size_t d = 0; d < n; d++) {
      gsl_vector_view col = gsl_matrix_column(Wp, d);
      gsl_blas_ddot(&row.vector, &col.vector, &a[d]);
    }
    const double c = 0.2;
    unsigned char F[5];
    size_t members = 0;
    for (size_t d = 0; d < n; d++)
      members += F[d] = a[d] > c;
    const double M = sdlab_construct_max_interference(Wp);
    sdlab_thm38_info ti;
    int st = sdlab_construct_thm38(Wp, WE, c, F, 0, out, &ti);
    if (members < 2 || !(M < 1)) {
      cr_expect_eq(st, GSL_EINVAL, "seed %llu", (unsigned long long)seed);
    } else {
      cr_assert_eq(st, 0, "seed %llu: %s", (unsigned long long)seed, sdlab_error_message(st));
      double amin = INFINITY;
      size_t js = n;
      for (size_t d = 0; d < n; d++)
        if (F[d] && a[d] < amin) {
          amin = a[d];
          js = d;
        }
      cr_expect_eq(ti.jstar, js, "seed %llu", (unsigned long long)seed);
      cr_expect_eq(ti.lambda, (c + ti.amin) / (2 * ti.amin));
      cr_expect_eq(ti.c1, (c + ti.amin) / 2);
      cr_expect_eq(ti.alpha, 2 * ti.c2 / (1 + ti.M));
      cr_expect_eq(ti.M, M);
      for (size_t d = 0; d < n; d++) {
        gsl_vector_view p = gsl_matrix_column(Wp, d), r0 = gsl_matrix_row(out, 0), r1 = gsl_matrix_row(out, 1);
        double v0, v1;
        gsl_blas_ddot(&r0.vector, &p.vector, &v0);
        gsl_blas_ddot(&r1.vector, &p.vector, &v1);
        cr_expect_eq(v0 > ti.c2, F[d] && d != js, "seed %llu feature %zu: scaled parent row %.17g vs c'' %.17g",
                     (unsigned long long)seed, d, v0, ti.c2);
        cr_expect_eq(v1 > ti.c2, d == js, "seed %llu feature %zu: new row %.17g vs c'' %.17g", (unsigned long long)seed,
                     d, v1, ti.c2);
      }
    }
    gsl_matrix_free(Wp);
    gsl_matrix_free(WE);
    gsl_matrix_free(out);
    gsl_rng_free(r);
  }
  /* errors */
  gsl_matrix *Wp = gsl_matrix_alloc(2, 2), *WE = gsl_matrix_alloc(1, 2), *out = gsl_matrix_alloc(2, 2);
  gsl_matrix_set_identity(Wp);
  gsl_matrix_set_all(WE, 1);
  unsigned char F[2] = {1, 1};
  sdlab_thm38_info ti;
  cr_expect_eq(sdlab_construct_thm38(Wp, WE, 0, F, 0, out, &ti), GSL_EINVAL);   /* c must be positive */
  cr_expect_eq(sdlab_construct_thm38(Wp, WE, 1, F, 0, out, &ti), GSL_EINVAL);   /* a_j = 1 is not above c = 1 */
  cr_expect_eq(sdlab_construct_thm38(Wp, WE, 0.5, F, 1, out, &ti), GSL_EINVAL); /* no neuron 1 */
  /* a tie at a_min leaves no room for eps: reported as eps = 0, for the caller to see (79) fail */
  cr_expect_eq(sdlab_construct_thm38(Wp, WE, 0.5, F, 0, out, &ti), 0);
  cr_expect_eq(ti.eps, 0);
  gsl_matrix *small = gsl_matrix_alloc(1, 2);
  cr_expect_eq(sdlab_construct_thm38(Wp, WE, 0.5, F, 0, small, &ti), SDLAB_ESHAPE);
  gsl_matrix_free(small);
  gsl_matrix_free(Wp);
  gsl_matrix_free(WE);
  gsl_matrix_free(out);
}
