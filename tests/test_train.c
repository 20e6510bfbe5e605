/* The trainers: every variant's gradient against central differences, AuxK's four defining points,
 * resampling's reach, anchoring, determinism, and recovery on the bench.
 *
 * The loss of every variant is piecewise quadratic in each parameter (as for L~, see test_loss.c), so a
 * central difference inside one piece is exact up to rounding.  The trainer computes in float32 (u = 2^-24):
 * the loss's relative rounding error is at most gamma_K with K the longest accumulation (r + q + B terms),
 * so |FD - g| <= 2 gamma_K (f(+h) + f(-h)) / (2h) + gamma_K |g|, and h is kept below the distance of every
 * selection to its kink. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "helpers.h"
#include "sdlab_activation.h"
#include "sdlab_blas.h"
#include "sdlab_errno.h"
#include "sdlab_train.h"

static void init(void) { gsl_set_error_handler_off(); }
TestSuite(train, .init = init, .timeout = 120);

static double
gamma_f(double k)
{
  const double u = 5.9604644775390625e-08; /* 2^-24 */
  return k * u / (1 - k * u);
}

typedef struct {
  sdlab_train_config c;
  sdlab_trainer *t;
  float *X, *Y;
} fd_case;

static void
make_case(fd_case *f, sdlab_train_method m, size_t p, size_t r, uint64_t seed)
{
  sdlab_train_config_default(&f->c);
  f->c.method = m;
  f->c.p = p;
  f->c.r = r;
  f->c.sae = p == r;
  f->c.q = 12;
  f->c.k = 3;
  f->c.batch = 16;
  f->c.total_steps = 10;
  f->c.seed = seed;
  f->c.l1 = 0.1;
  f->c.nks = 2;
  f->c.ks[0] = 2;
  f->c.ks[1] = 4;
  f->c.lambdas[0] = 1;
  f->c.lambdas[1] = 0.5;
  f->c.theta0 = 0.2;
  f->c.bandwidth = 0.1;
  f->c.l0 = 0.05;
  f->c.k_aux = 4;
  f->c.dead_window = 1;
}

static void
fill(fd_case *f, uint64_t seed)
{
  gsl_rng *g = test_rng(seed);
  const size_t B = f->c.batch, p = f->c.p, r = f->c.r, q = f->c.q;
  f->X = malloc(B * p * sizeof *f->X);
  f->Y = malloc(B * r * sizeof *f->Y);
  for (size_t i = 0; i < B * p; i++)
    f->X[i] = (float)gsl_ran_gaussian(g, 1.0);
  for (size_t i = 0; i < B * r; i++)
    f->Y[i] = (float)gsl_ran_gaussian(g, 1.0);
  sdlab_train_state *s = sdlab_trainer_state(f->t);
  for (size_t i = 0; i < q * p; i++)
    s->WE[i] = (float)gsl_ran_gaussian(g, 1.0);
  if (f->c.biases || f->c.method == SDLAB_TRAIN_GATED)
    for (size_t i = 0; i < q; i++)
      s->bE[i] = (float)gsl_ran_gaussian(g, 0.3);
  if (f->c.method == SDLAB_TRAIN_GATED)
    for (size_t i = 0; i < q; i++) {
      s->rmag[i] = (float)gsl_ran_gaussian(g, 0.3);
      s->bmag[i] = (float)gsl_ran_gaussian(g, 0.3);
    }
  gsl_rng_free(g);
}

static double
loss_at(fd_case *f)
{
  sdlab_train_stats st;
  cr_assert_eq(sdlab_trainer_gradient(f->t, f->X, f->c.sae ? NULL : f->Y, &st), 0, "%s", sdlab_error_message(1));
  return st.loss;
}

/* Gated's auxiliary term holds the decoder constant: W_D's gradient is that of the other terms. */
static double
loss_without_aux(fd_case *f)
{
  sdlab_train_stats st;
  cr_assert_eq(sdlab_trainer_gradient(f->t, f->X, f->c.sae ? NULL : f->Y, &st), 0, "%s", sdlab_error_message(1));
  return st.loss - (f->c.method == SDLAB_TRAIN_GATED ? st.aux : 0.0);
}

/* Gated's magnitude pre-activation of sample s, latent i, in double. */
static double
gated_mag(fd_case *f, size_t s, size_t i)
{
  const sdlab_train_state *st = sdlab_trainer_state(f->t);
  const size_t p = f->c.p;
  double v = 0;
  for (size_t a = 0; a < p; a++)
    v += (double)st->WE[i * p + a] * ((double)f->X[s * p + a] - (f->c.sae && f->c.biases ? st->bD[a] : 0.0));
  return exp((double)st->rmag[i]) * v + st->bmag[i];
}

/* The pre-activations in double and their kink margins under the variant's selection rule. */
static double
row_margin(fd_case *f, size_t s, size_t i)
{
  const sdlab_train_state *st = sdlab_trainer_state(f->t);
  const size_t p = f->c.p, q = f->c.q;
  double z[64] = {0};
  for (size_t j = 0; j < q; j++) {
    double v = f->c.biases || f->c.method == SDLAB_TRAIN_GATED ? st->bE[j] : 0.0;
    for (size_t a = 0; a < p; a++)
      v += (double)st->WE[j * p + a] * ((double)f->X[s * p + a] - (f->c.sae && f->c.biases ? st->bD[a] : 0.0));
    z[j] = v;
  }
  /* every selection here changes only where z_i meets 0, theta, or another code: the distance to the nearest
   * of those is a lower bound on how far z_i can move alone */
  double m = fabs(z[i]);
  if (f->c.method == SDLAB_TRAIN_JUMPRELU)
    m = fmin(m, fabs(z[i] - st->theta[i]));
  if (f->c.method == SDLAB_TRAIN_GATED) /* pi_mag moves exp(r) times as fast as z */
    m = fmin(m, fabs(gated_mag(f, s, i)) / exp((double)st->rmag[i]));
  for (size_t j = 0; j < q; j++)
    if (j != i)
      m = fmin(m, fabs(z[i] - z[j]));
  return m;
}

static int use_prefixes; /* matryoshka's nested-prefix form instead of eq. 9's sum over k */
static int entry_path;   /* relu, jumprelu, gated: sparse_below = 1, every batch on the entry path */

static void
check_gradients(sdlab_train_method m, size_t p, size_t r, int biases, size_t anchors, uint64_t seed)
{
  fd_case f;
  make_case(&f, m, p, r, seed);
  f.c.biases = biases;
  if (entry_path)
    f.c.sparse_below = 1;
  if (use_prefixes) {
    f.c.nks = 0;
    f.c.nprefixes = 3;
    f.c.prefixes[0] = 3;
    f.c.prefixes[1] = 7;
    f.c.prefixes[2] = 12;
  }
  float ap[4 * 8], ar[4 * 8];
  if (anchors) {
    for (size_t k = 0; k < anchors * p; k++)
      ap[k] = (float)(k % 3) - 1.0f;
    for (size_t k = 0; k < anchors * r; k++)
      ar[k] = (float)(k % 5) * 0.25f;
    f.c.anchors = anchors;
    f.c.anchor_weight = 0.3;
    f.c.anchor_p = ap;
    f.c.anchor_r = ar;
  }
  f.t = sdlab_trainer_alloc(&f.c, 1);
  cr_assert_not_null(f.t, "%s", sdlab_error_message(1));
  fill(&f, seed + 100);
  sdlab_train_state *s = sdlab_trainer_state(f.t);
  if (m == SDLAB_TRAIN_TOPK_AUXK) /* every latent dead: the auxiliary loss is active */
    s->step = 5;
  const size_t q = f.c.q, B = f.c.batch;
  const double L0 = loss_at(&f);
  float *gE, *gD, *gbE, *gbD, *gth;
  sdlab_trainer_gradients(f.t, &gE, &gD, &gbE, &gbD, &gth);
  float *GE = malloc(q * p * sizeof *GE), *GD = malloc(q * r * sizeof *GD), *GB = malloc(q * sizeof *GB);
  memcpy(GE, gE, q * p * sizeof *GE);
  memcpy(GD, gD, q * r * sizeof *GD);
  memcpy(GB, gbE, q * sizeof *GB);
  float *grm, *gbm, *GR = malloc(q * sizeof *GR), *GM = malloc(q * sizeof *GM); /* gated's r_mag, b_mag */
  sdlab_trainer_gated_gradients(f.t, &grm, &gbm);
  memcpy(GR, grm, q * sizeof *GR);
  memcpy(GM, gbm, q * sizeof *GM);
  const double gam = gamma_f((double)(r + q + B + p));
  size_t tested = 0;
  /* W_E and b_E: moves of z_i stay inside the piece */
  for (size_t i = 0; i < q; i++) {
    double hmax = INFINITY, xmax = 0;
    for (size_t s_ = 0; s_ < B; s_++)
      hmax = fmin(hmax, row_margin(&f, s_, i));
    for (size_t k = 0; k < B * p; k++)
      xmax = fmax(xmax, fabs(f.X[k]));
    double h = fmin(0.4 * hmax / (xmax * (double)p), 0.05);
    if (!(h > 1e-4))
      continue;
    for (size_t a = 0; a <= p; a++) {
      if (a == p && !biases && m != SDLAB_TRAIN_GATED)
        break;
      float *w = a < p ? &s->WE[i * p + a] : &s->bE[i];
      const double g = a < p ? GE[i * p + a] : GB[i];
      const float w0 = *w;
      *w = w0 + (float)h;
      const double fp = loss_at(&f);
      *w = w0 - (float)h;
      const double fm = loss_at(&f);
      *w = w0;
      const double hh = ((double)(w0 + (float)h) - (double)(w0 - (float)h)) / 2; /* the step actually taken */
      const double fd = (fp - fm) / (2 * hh), tol = 2 * gam * (fp + fm) / (2 * hh) + gam * fabs(g) + 1e-12;
      /* AuxK holds the residual constant: its gradient is not the loss's for latents the main pass uses */
      cr_assert(fabs(fd - g) <= tol || m == SDLAB_TRAIN_TOPK_AUXK, "method %d W_E[%zu][%zu]: g %.7g fd %.7g (tol %.2g)",
                (int)m, i, a, g, fd, tol);
      tested++;
    }
  }
  cr_assert(tested >= q, "method %d: only %zu coordinates away from kinks", (int)m, tested);
  /* W_D: codes do not depend on it; for AuxK only its dead-only rows are exact gradients of the loss */
  for (size_t k = 0; k < q * r; k++) {
    const float h = 0.05f, w0 = s->WDt[k];
    s->WDt[k] = w0 + h;
    const double fp = loss_without_aux(&f);
    s->WDt[k] = w0 - h;
    const double fm = loss_without_aux(&f);
    s->WDt[k] = w0;
    const double hh = ((double)(w0 + h) - (double)(w0 - h)) / 2, fd = (fp - fm) / (2 * hh);
    const double tol = 2 * gam * (fp + fm) / (2 * hh) + gam * fabs(GD[k]) + 1e-12;
    if (m != SDLAB_TRAIN_TOPK_AUXK)
      cr_assert(fabs(fd - GD[k]) <= tol, "method %d W_D^T[%zu]: g %.7g fd %.7g (tol %.2g)", (int)m, k, GD[k], fd, tol);
  }
  if (m == SDLAB_TRAIN_GATED) { /* r_mag and b_mag, inside the piece: no pi_mag crosses 0 */
    size_t gated_tested = 0;
    for (size_t i = 0; i < q; i++) {
      double mmin = INFINITY, dmax = 0;
      for (size_t s_ = 0; s_ < B; s_++) {
        const double pm = gated_mag(&f, s_, i);
        mmin = fmin(mmin, fabs(pm));
        dmax = fmax(dmax, fabs(pm - s->bmag[i]));
      }
      for (int which = 0; which < 2; which++) {
        /* r moves pi_mag by (pi_mag - b_mag)(e^h - 1) <= dmax 2h for h <= 0.5; b_mag moves it by h */
        const double h = fmin(0.4 * mmin / (which ? 1.0 : 2 * dmax), 0.05);
        if (!(h > 1e-4))
          continue;
        float *w = which ? &s->bmag[i] : &s->rmag[i];
        const double g = which ? GM[i] : GR[i];
        const float w0 = *w;
        *w = w0 + (float)h;
        const double fp = loss_at(&f);
        *w = w0 - (float)h;
        const double fm = loss_at(&f);
        *w = w0;
        const double hh = ((double)(w0 + (float)h) - (double)(w0 - (float)h)) / 2;
        const double fd = (fp - fm) / (2 * hh), tol = 2 * gam * (fp + fm) / (2 * hh) + gam * fabs(g) + 1e-12;
        cr_assert(fabs(fd - g) <= tol, "gated %s[%zu]: g %.7g fd %.7g (tol %.2g)", which ? "b_mag" : "r_mag", i, g, fd,
                  tol);
        gated_tested++;
      }
    }
    cr_assert(gated_tested >= q / 2, "gated: only %zu r_mag/b_mag coordinates away from kinks", gated_tested);
  }
  (void)L0;
  free(GR);
  free(GM);
  free(GE);
  free(GD);
  free(GB);
  free(f.X);
  free(f.Y);
  sdlab_trainer_free(f.t);
}

Test(train, gradients_match_central_differences_for_every_variant)
{
  const sdlab_train_method ms[] = {SDLAB_TRAIN_RELU, SDLAB_TRAIN_TOPK, SDLAB_TRAIN_BATCHTOPK, SDLAB_TRAIN_MATRYOSHKA};
  for (size_t k = 0; k < 4; k++)
    for (uint64_t seed = 1; seed <= 3; seed++) {
      check_gradients(ms[k], 6, 6, 0, 0, seed);   /* SAE, the theory's model */
      check_gradients(ms[k], 6, 6, 1, 0, seed);   /* SAE with biases (b_D subtracted from the input) */
      check_gradients(ms[k], 6, 5, 1, 2, seed);   /* transcoder with biases and two anchors */
    }
}

Test(train, matryoshka_prefix_groups_and_jumprelu_gradients)
{
  use_prefixes = 1;
  for (uint64_t seed = 1; seed <= 3; seed++)
    check_gradients(SDLAB_TRAIN_MATRYOSHKA, 6, 6, seed % 2, 0, seed);
  use_prefixes = 0;
  /* JumpReLU: W_E and W_D are exact gradients; theta's is a straight-through estimate (not checked here) */
  for (uint64_t seed = 1; seed <= 3; seed++)
    check_gradients(SDLAB_TRAIN_JUMPRELU, 6, 6, 0, 0, seed);
}

/* Gated (Rajamanoharan et al. 2024): W_E, the gate bias, r_mag and b_mag are exact gradients of the whole
 * loss; W_D's is that of the loss without the auxiliary term, which holds the decoder constant.  On the dense
 * path (these batches have more open gates than the default crossover) and on the entry path. */
Test(train, gated_gradients)
{
  for (entry_path = 0; entry_path <= 1; entry_path++)
    for (uint64_t seed = 1; seed <= 3; seed++) {
      check_gradients(SDLAB_TRAIN_GATED, 6, 6, 0, 0, seed);
      check_gradients(SDLAB_TRAIN_GATED, 6, 6, 1, 0, seed);
      check_gradients(SDLAB_TRAIN_GATED, 6, 5, 1, 2, seed);
    }
  entry_path = 0;
}

/* A fresh trainer for f->c on fresh data (seed), at step 100 with latents 0..9 alive and 10..15 dead. */
static void
auxk_trainer(fd_case *f, uint64_t seed)
{
  f->t = sdlab_trainer_alloc(&f->c, 1);
  cr_assert_not_null(f->t, "%s", sdlab_error_message(1));
  fill(f, seed);
  sdlab_train_state *s = sdlab_trainer_state(f->t);
  s->step = 100;
  for (size_t i = 0; i < 16; i++)
    s->last_active[i] = i < 10 ? 100 : 0;
}

/* AuxK (Gao et al. 2024): (1) only dead latents take the auxiliary gradient, (2) at most k_aux of them per
 * sample, (3) the residual is a constant (alive latents' rows get nothing from it), (4) the loss is scaled by
 * min(n_dead / k_aux, 1). */
Test(train, auxk_four_points)
{
  fd_case f;
  make_case(&f, SDLAB_TRAIN_TOPK_AUXK, 6, 6, 21);
  f.c.q = 16;
  f.c.k = 2;
  f.c.k_aux = 3;
  f.c.dead_window = 10;
  auxk_trainer(&f, 22);
  const size_t q = 16, p = 6, r = 6;
  float *gE, *gD, *gbE, *gbD, *gth;
  sdlab_train_stats with, without;
  cr_assert_eq(sdlab_trainer_gradient(f.t, f.X, NULL, &with), 0);
  sdlab_trainer_gradients(f.t, &gE, &gD, &gbE, &gbD, &gth);
  float GE[16 * 6], GD[16 * 6];
  memcpy(GE, gE, sizeof GE);
  memcpy(GD, gD, sizeof GD);
  sdlab_trainer_free(f.t);
  f.c.lambda_aux = 0;
  free(f.X);
  free(f.Y);
  auxk_trainer(&f, 22);
  cr_assert_eq(sdlab_trainer_gradient(f.t, f.X, NULL, &without), 0);
  sdlab_trainer_gradients(f.t, &gE, &gD, &gbE, &gbD, &gth);
  cr_assert(with.aux > 0 && without.aux == 0);
  size_t dead_rows_changed = 0;
  for (size_t i = 0; i < q; i++) {
    int changed = 0;
    for (size_t a = 0; a < p; a++)
      changed |= GE[i * p + a] != gE[i * p + a];
    for (size_t a = 0; a < r; a++)
      changed |= GD[i * r + a] != gD[i * r + a];
    if (i < 10)
      cr_assert(!changed, "(1, 3) alive latent %zu took an auxiliary gradient", i);
    dead_rows_changed += changed;
  }
  cr_assert(dead_rows_changed > 0 && dead_rows_changed <= 6);
  /* (4): with k_aux = 12 > n_dead = 6 the same 6 latents are used, scaled by 6/12 instead of 1 (k_aux = 6) */
  double aux[2];
  const size_t kaux[2] = {6, 12};
  for (int v = 0; v < 2; v++) {
    sdlab_trainer_free(f.t);
    f.c.lambda_aux = 0.5;
    f.c.k_aux = kaux[v];
    free(f.X);
    free(f.Y);
    auxk_trainer(&f, 22);
    cr_assert_eq(sdlab_trainer_gradient(f.t, f.X, NULL, &with), 0);
    aux[v] = with.aux;
  }
  cr_assert(fabs(aux[1] - aux[0] / 2) <= gamma_f(64) * aux[0], "scaled aux %.9g vs %.9g / 2", aux[1], aux[0]);
  /* (2): one sample, k_aux = 2, 6 dead latents: at most two of them take the auxiliary gradient */
  free(f.X);
  free(f.Y);
  sdlab_trainer_free(f.t);
  for (int v = 0; v < 2; v++) {
    f.c.batch = 1;
    f.c.k_aux = 2;
    f.c.lambda_aux = v ? 0.5 : 0.0;
    auxk_trainer(&f, 23);
    cr_assert_eq(sdlab_trainer_gradient(f.t, f.X, NULL, &with), 0);
    sdlab_trainer_gradients(f.t, &gE, &gD, &gbE, &gbD, &gth);
    if (v == 0) {
      memcpy(GE, gE, sizeof GE);
      memcpy(GD, gD, sizeof GD);
    } else {
      size_t changed = 0;
      for (size_t i = 0; i < q; i++) {
        int ch = 0;
        for (size_t a = 0; a < p; a++)
          ch |= GE[i * p + a] != gE[i * p + a];
        changed += ch;
      }
      cr_assert(changed >= 1 && changed <= 2, "(2) %zu dead latents took the auxiliary gradient for one sample", changed);
    }
    free(f.X);
    free(f.Y);
    sdlab_trainer_free(f.t);
  }
}

/* Resampling touches only dead latents and resets exactly their optimiser state. */
Test(train, resampling_reaches_only_dead_latents)
{
  fd_case a, b;
  for (int v = 0; v < 2; v++) {
    fd_case *f = v ? &b : &a;
    make_case(f, SDLAB_TRAIN_TOPK, 6, 6, 31);
    f->c.q = 16;
    f->c.k = 2;
    f->c.dead_window = 3;
    f->c.resample_at = v ? 5 : 0;
    f->t = sdlab_trainer_alloc(&f->c, 1);
    fill(f, 32);
    sdlab_trainer_set_pool(f->t, f->X, NULL, f->c.batch);
  }
  sdlab_train_stats st;
  for (int step = 0; step < 4; step++) {
    cr_assert_eq(sdlab_trainer_step(a.t, a.X, NULL, &st), 0);
    cr_assert_eq(sdlab_trainer_step(b.t, b.X, NULL, &st), 0);
  }
  /* declare latents 12..15 dead before the resampling step */
  sdlab_train_state *sa = sdlab_trainer_state(a.t), *sb = sdlab_trainer_state(b.t);
  for (size_t i = 12; i < 16; i++)
    sa->last_active[i] = sb->last_active[i] = 0;
  cr_assert_eq(sdlab_trainer_step(a.t, a.X, NULL, &st), 0);
  cr_assert_eq(sdlab_trainer_step(b.t, b.X, NULL, &st), 0);
  cr_assert(st.resampled >= 4, "%zu resampled", st.resampled);
  const size_t p = 6, r = 6;
  for (size_t i = 0; i < 16; i++) {
    /* dead at the resampling step: the twin without resampling still has the counters */
    const int dead = sa->step >= sa->last_active[i] + 3;
    const int same = !memcmp(sa->WE + i * p, sb->WE + i * p, p * sizeof(float)) &&
                     !memcmp(sa->WDt + i * r, sb->WDt + i * r, r * sizeof(float)) &&
                     !memcmp(sa->mWE + i * p, sb->mWE + i * p, p * sizeof(float)) &&
                     !memcmp(sa->vWDt + i * r, sb->vWDt + i * r, r * sizeof(float));
    if (dead) {
      cr_assert(!same, "dead latent %zu was not resampled", i);
      for (size_t k = 0; k < p; k++)
        cr_assert(sb->mWE[i * p + k] == 0 && sb->vWE[i * p + k] == 0);
      for (size_t k = 0; k < r; k++)
        cr_assert(sb->mWDt[i * r + k] == 0 && sb->vWDt[i * r + k] == 0);
      double nn = 0; /* a unit decoder column along a pool input */
      for (size_t k = 0; k < r; k++)
        nn += (double)sb->WDt[i * r + k] * sb->WDt[i * r + k];
      cr_assert(fabs(nn - 1) <= 1e-5);
    } else {
      cr_assert(same, "alive latent %zu changed", i);
    }
  }
  free(a.X); free(a.Y); free(b.X); free(b.Y);
  sdlab_trainer_free(a.t);
  sdlab_trainer_free(b.t);
}

/* Anchoring pulls the anchored rows and columns onto their anchors (far closer than the same run without
 * anchoring ends), and the same seed and thread count give the same bytes. */
Test(train, anchoring_pulls_and_runs_are_deterministic)
{
  float ap[2 * 6], ar[2 * 6];
  for (size_t k = 0; k < 12; k++)
    ap[k] = ar[k] = (k % 6 == k / 6) ? 1.0f : 0.0f; /* e_0 and e_1 */
  fd_case f[3];
  for (int v = 0; v < 3; v++) {
    make_case(&f[v], SDLAB_TRAIN_TOPK, 6, 6, 41);
    if (v < 2) {
      f[v].c.anchors = 2;
      f[v].c.anchor_weight = 1.0;
      f[v].c.anchor_p = ap;
      f[v].c.anchor_r = ar;
    }
    f[v].c.lr = 1e-2;
    f[v].c.total_steps = 300;
    f[v].t = sdlab_trainer_alloc(&f[v].c, 2);
    fill(&f[v], 42);
  }
  sdlab_train_stats st;
  for (int step = 0; step < 300; step++)
    for (int v = 0; v < 3; v++)
      cr_assert_eq(sdlab_trainer_step(f[v].t, f[v].X, NULL, &st), 0);
  double d[3] = {0, 0, 0};
  for (int v = 0; v < 3; v++) {
    sdlab_train_state *s = sdlab_trainer_state(f[v].t);
    for (size_t k = 0; k < 12; k++)
      d[v] += pow(s->WE[k] - ap[k], 2) + pow(s->WDt[k] - ar[k], 2);
  }
  cr_assert(d[0] < 0.1 * d[2], "anchored distance %.4g, unanchored %.4g", d[0], d[2]);
  sdlab_train_state *s0 = sdlab_trainer_state(f[0].t), *s1 = sdlab_trainer_state(f[1].t);
  cr_assert(memcmp(s0->WE, s1->WE, 12 * 6 * sizeof(float)) == 0 && memcmp(s0->WDt, s1->WDt, 12 * 6 * sizeof(float)) == 0,
            "the same seed and thread count give the same bytes");
  for (int v = 0; v < 3; v++) {
    free(f[v].X);
    free(f[v].Y);
    sdlab_trainer_free(f[v].t);
  }
}

Test(train, configuration_errors)
{
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  c.p = c.r = 6;
  c.q = 8;
  c.k = 8;
  cr_assert_eq(sdlab_train_config_check(&c), SDLAB_EPARAM, "k = q");
  c.k = 2;
  c.method = SDLAB_TRAIN_RELU;
  c.l1 = -1;
  cr_assert_eq(sdlab_train_config_check(&c), SDLAB_EPARAM, "negative L1");
  c.l1 = 0.1;
  c.r = 5;
  cr_assert_eq(sdlab_train_config_check(&c), SDLAB_EPARAM, "an SAE with p != r");
  c.sae = 0;
  cr_assert_eq(sdlab_train_config_check(&c), 0);
  c.method = SDLAB_TRAIN_MATRYOSHKA;
  c.nks = 0;
  cr_assert_eq(sdlab_train_config_check(&c), SDLAB_EPARAM, "matryoshka without k values");
  c.lr = 0;
  cr_assert_null(sdlab_trainer_alloc(&c, 1));
}


/* sdlab_blas_par_sgemm against a float64 reference, every transpose combination, both split directions
 * (tall and wide C) and 1 to 3 threads: each entry within the standard dot-product bound
 * gamma_{k+2} (|alpha| sum_l |a_il| |b_lj| + |beta| |c_ij|) (u = 2^-24; the two extra roundings are alpha's
 * and beta's products), and the same thread count gives the same bytes. */
Test(train, par_sgemm_matches_a_float64_reference)
{
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 9104);
  const size_t shapes[2][3] = {{37, 5, 23}, {6, 41, 17}}; /* rows, n, k: tall, then wide */
  for (int sh = 0; sh < 2; sh++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int threads = 1; threads <= 3; threads++) {
          const size_t m = shapes[sh][0], n = shapes[sh][1], k = shapes[sh][2];
          const size_t lda = ta ? m + 2 : k + 1, ldb = tb ? k + 3 : n + 1, ldc = n + 2;
          float *A = malloc((ta ? k : m) * lda * sizeof *A), *Bm = malloc((tb ? n : k) * ldb * sizeof *Bm);
          float *C = malloc(m * ldc * sizeof *C), *C2 = malloc(m * ldc * sizeof *C2), *C0 = malloc(m * ldc * sizeof *C0);
          for (size_t i = 0; i < (ta ? k : m) * lda; i++)
            A[i] = (float)gsl_ran_gaussian(g, 1.0);
          for (size_t i = 0; i < (tb ? n : k) * ldb; i++)
            Bm[i] = (float)gsl_ran_gaussian(g, 1.0);
          for (size_t i = 0; i < m * ldc; i++)
            C0[i] = C[i] = C2[i] = (float)gsl_ran_gaussian(g, 1.0);
          const float alpha = 0.75f, beta = -1.5f;
          const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
          sdlab_blas_par_sgemm(threads, TA, TB, m, n, k, alpha, A, lda, Bm, ldb, beta, C, ldc);
          sdlab_blas_par_sgemm(threads, TA, TB, m, n, k, alpha, A, lda, Bm, ldb, beta, C2, ldc);
          cr_assert(memcmp(C, C2, m * ldc * sizeof *C) == 0, "threads %d: two calls differ", threads);
          for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < ldc; j++) {
              if (j >= n) { /* outside op's columns: untouched */
                cr_assert(C[i * ldc + j] == C0[i * ldc + j]);
                continue;
              }
              double exact = beta * (double)C0[i * ldc + j], mag = fabs(beta * (double)C0[i * ldc + j]);
              for (size_t l = 0; l < k; l++) {
                const double a = ta ? A[l * lda + i] : A[i * lda + l], b = tb ? Bm[j * ldb + l] : Bm[l * ldb + j];
                exact += alpha * a * b;
                mag += fabs(alpha * a * b);
              }
              cr_assert(fabs(C[i * ldc + j] - exact) <= gamma_f((double)k + 2) * mag,
                        "shape %d ta %d tb %d threads %d (%zu,%zu): %g vs %g", sh, ta, tb, threads, i, j,
                        C[i * ldc + j], exact);
            }
          free(A);
          free(Bm);
          free(C);
          free(C2);
          free(C0);
        }
  gsl_rng_free(g);
}

/* bfloat16 rounding: to nearest with ties to even (u = 2^-8 relative), NaN kept, overflow to infinity; checked
 * on exact ties and on random values against the definition (the nearest of the two bf16 neighbours). */
Test(train, bf16_rounds_to_nearest_even)
{
  const float ties[][2] = {{1.0f + 0x1p-8f, 1.0f}, {1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-6f}, {-(1.0f + 0x1p-8f), -1.0f},
                           {0x1.fffffep127f, INFINITY}, {0.0f, 0.0f}, {INFINITY, INFINITY}};
  for (size_t i = 0; i < sizeof ties / sizeof *ties; i++) {
    sdlab_bf16 b;
    sdlab_blas_bf16_round(1, &ties[i][0], &b);
    cr_assert(sdlab_blas_bf16_value(b) == ties[i][1], "%a rounds to %a, expected %a", ties[i][0], sdlab_blas_bf16_value(b),
              ties[i][1]);
  }
  const float nan = NAN;
  sdlab_bf16 b;
  sdlab_blas_bf16_round(1, &nan, &b);
  cr_assert(isnan(sdlab_blas_bf16_value(b)));
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 31);
  for (int t = 0; t < 100000; t++) {
    const float x = (float)(gsl_ran_gaussian(g, 1.0) * pow(2.0, gsl_rng_uniform_int(g, 60) - 30.0));
    sdlab_blas_bf16_round(1, &x, &b);
    const float y = sdlab_blas_bf16_value(b);
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u; /* the two bf16 neighbours (same sign) */
    float flo, fhi;
    memcpy(&flo, &lo, sizeof flo);
    memcpy(&fhi, &hi, sizeof fhi);
    const double dlo = fabs((double)x - flo), dhi = fabs((double)x - fhi);
    cr_assert(y == (dlo < dhi ? flo : dhi < dlo ? fhi : ((lo >> 16) & 1u) ? fhi : flo), "%a -> %a", x, y);
    cr_assert(fabs((double)y - x) <= 0x1p-8 * fabs((double)x));
  }
  gsl_rng_free(g);
}

/* The bfloat16 product against a float64 reference on the same bf16 values: products of two bf16 numbers are
 * exact in float32 (8 + 8 significant bits), so only the float32 accumulation rounds: within gamma_{k+2}
 * sum_l |a_il| |b_jl| (u = 2^-24; two spare roundings for a pairwise dot-product instruction).  Odd strides,
 * both shapes, 1 to 3 threads; the same thread count gives the same bytes. */
Test(train, bf16_gemm_matches_a_float64_reference)
{
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 8088);
  const size_t shapes[2][3] = {{37, 5, 23}, {6, 301, 77}};
  for (int sh = 0; sh < 2; sh++)
    for (int threads = 1; threads <= 3; threads++) {
      const size_t m = shapes[sh][0], n = shapes[sh][1], k = shapes[sh][2], lda = k + 3, ldb = k + 1, ldc = n + 2;
      float *Af = malloc(m * lda * sizeof *Af), *Bf = malloc(n * ldb * sizeof *Bf);
      sdlab_bf16 *A = malloc(m * lda * sizeof *A), *B = malloc(n * ldb * sizeof *B);
      float *C = malloc(m * ldc * sizeof *C), *C2 = malloc(m * ldc * sizeof *C2);
      for (size_t i = 0; i < m * lda; i++)
        Af[i] = (float)gsl_ran_gaussian(g, 1.0);
      for (size_t i = 0; i < n * ldb; i++)
        Bf[i] = (float)gsl_ran_gaussian(g, 1.0);
      for (size_t i = 0; i < m * ldc; i++)
        C[i] = C2[i] = -7.0f;
      sdlab_blas_bf16_round(m * lda, Af, A);
      sdlab_blas_bf16_round(n * ldb, Bf, B);
      cr_assert_eq(sdlab_blas_par_bf16_gemm_nt(threads, m, n, k, A, lda, B, ldb, C, ldc), 0, "%s",
                   sdlab_error_message(GSL_EFAILED));
      cr_assert_eq(sdlab_blas_par_bf16_gemm_nt(threads, m, n, k, A, lda, B, ldb, C2, ldc), 0);
      cr_assert(memcmp(C, C2, m * ldc * sizeof *C) == 0, "threads %d: two calls differ", threads);
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ldc; j++) {
          if (j >= n) {
            cr_assert(C[i * ldc + j] == -7.0f, "column %zu outside C was written", j);
            continue;
          }
          double exact = 0, mag = 0;
          for (size_t l = 0; l < k; l++) {
            const double p = (double)sdlab_blas_bf16_value(A[i * lda + l]) * sdlab_blas_bf16_value(B[j * ldb + l]);
            exact += p;
            mag += fabs(p);
          }
          cr_assert(fabs(C[i * ldc + j] - exact) <= gamma_f((double)k + 2) * mag, "shape %d threads %d (%zu,%zu): "
                    "%g vs %g", sh, threads, i, j, C[i * ldc + j], exact);
        }
      free(Af), free(Bf), free(A), free(B), free(C), free(C2);
    }
  gsl_rng_free(g);
}

/* --precision bf16 (c.bf16): a ReLU trainer's inference codes against the float32 trainer's from the same
 * initialisation.  ReLU is 1-Lipschitz, so each code differs by at most the two pre-activations' distance to the
 * exact one: the bf16 product rounds x and w (|x~ w~ - x w| <= (2 u_b + u_b^2) |x w|, u_b = 2^-8) and
 * accumulates in float32 (gamma_{p+2}), the float32 one within gamma_p; both sums over sum_l |x_l w_l|, computed
 * here in float64.  Two bf16 trainers given the same batches give the same bytes. */
Test(train, bf16_encoder_codes_within_the_rounding_bound)
{
  if (!sdlab_blas_bf16_native()) {
    sdlab_train_config c;
    sdlab_train_config_default(&c);
    c.method = SDLAB_TRAIN_RELU, c.p = c.r = 8, c.q = 16, c.batch = 4, c.bf16 = 1;
    cr_assert_null(sdlab_trainer_alloc(&c, 1), "bf16 accepted on a CPU without bf16 instructions");
    return;
  }
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 1601);
  const size_t p = 48, q = 200, B = 32;
  float *X = malloc(B * p * sizeof *X), *a32 = malloc(B * q * sizeof *a32), *a16 = malloc(B * q * sizeof *a16);
  for (size_t i = 0; i < B * p; i++)
    X[i] = (float)gsl_ran_gaussian(g, 1.0);
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  c.method = SDLAB_TRAIN_RELU, c.p = c.r = p, c.q = q, c.batch = B, c.l1 = 0.01, c.total_steps = 10, c.seed = 5;
  sdlab_trainer *t32 = sdlab_trainer_alloc(&c, 2);
  c.bf16 = 1;
  sdlab_trainer *t16 = sdlab_trainer_alloc(&c, 2), *u16 = sdlab_trainer_alloc(&c, 2);
  cr_assert(t32 && t16 && u16);
  cr_assert_eq(sdlab_trainer_encode(t32, X, B, a32), 0);
  cr_assert_eq(sdlab_trainer_encode(t16, X, B, a16), 0);
  const float *WE = sdlab_trainer_state(t32)->WE;
  cr_assert(memcmp(WE, sdlab_trainer_state(t16)->WE, q * p * sizeof *WE) == 0, "different initialisations");
  const double ub = 0x1p-8;
  for (size_t s = 0; s < B; s++)
    for (size_t i = 0; i < q; i++) {
      double mag = 0;
      for (size_t l = 0; l < p; l++)
        mag += fabs((double)X[s * p + l] * WE[i * p + l]);
      const double bound = ((2 * ub + ub * ub) * (1 + gamma_f((double)p + 2)) + gamma_f((double)p + 2) +
                            gamma_f((double)p)) * mag;
      cr_assert(fabs((double)a16[s * q + i] - a32[s * q + i]) <= bound, "(%zu,%zu): %g vs %g, bound %g", s, i,
                a16[s * q + i], a32[s * q + i], bound);
    }
  /* a few steps: two bf16 trainers stay byte-identical; the bf16 copy of W_E that each update writes row by
   * row gives the codes of rounding W_E whole (u16's copy, dropped by handing its state out) */
  for (int step = 0; step < 3; step++) {
    sdlab_train_stats st1, st2;
    cr_assert_eq(sdlab_trainer_step(t16, X, NULL, &st1), 0);
    cr_assert_eq(sdlab_trainer_step(u16, X, NULL, &st2), 0);
    cr_assert(st1.loss == st2.loss);
  }
  cr_assert_eq(sdlab_trainer_encode(t16, X, B, a16), 0);
  cr_assert(sdlab_trainer_state(u16) != NULL);
  cr_assert_eq(sdlab_trainer_encode(u16, X, B, a32), 0);
  cr_assert(memcmp(a16, a32, B * q * sizeof *a16) == 0, "the row-by-row bf16 copy of W_E is stale");
  cr_assert(memcmp(sdlab_trainer_state(t16)->WE, sdlab_trainer_state(u16)->WE, q * p * sizeof(float)) == 0);
  sdlab_trainer_free(t32);
  sdlab_trainer_free(t16);
  sdlab_trainer_free(u16);
  free(X), free(a32), free(a16);
  gsl_rng_free(g);
}

/* ReLU and JumpReLU take the entry path below the crossover (sparse_below) and dense products above it.  Each
 * path's gradients are checked against a float64 computation of the same formulas: a sum of products of
 * length n computed in float is within gamma_n of the same sum taken in absolute values (Higham, Lemma 3.5),
 * so every entry lies within gamma_K of its envelope, K the longest chain (p for z, q for x_hat, r for
 * d loss / d a, B for the sums over samples).  The active sets and JumpReLU's bands are read in float64 and
 * the instance is required to keep every code farther than its rounding from a threshold or band edge. */
typedef struct {
  double *gE, *gD, *gbE, *gbD, *gth;   /* reference gradients */
  double *eE, *eD, *ebE, *ebD, *eth;   /* their envelopes */
} grad_ref;

static void
reference_gradients(const fd_case *f, grad_ref *g)
{
  const sdlab_train_config *c = &f->c;
  const sdlab_train_state *st = sdlab_trainer_state(f->t);
  const size_t p = c->p, q = c->q, r = c->r, B = c->batch;
  const int jump = c->method == SDLAB_TRAIN_JUMPRELU, sub = c->sae && c->biases;
  const float *Y = c->sae ? f->X : f->Y;
  const double u = 5.9604644775390625e-08, h = c->bandwidth;
  double *z = calloc(B * q, sizeof *z), *ez = calloc(B * q, sizeof *ez), *E = calloc(B * r, sizeof *E),
         *eE = calloc(B * r, sizeof *eE), *ga = calloc(B * q, sizeof *ga), *ega = calloc(B * q, sizeof *ega);
  for (size_t s = 0; s < B; s++)
    for (size_t i = 0; i < q; i++) {
      double v = c->biases ? st->bE[i] : 0, e = fabs(v);
      for (size_t a = 0; a < p; a++) {
        const double x = (double)f->X[s * p + a] - (sub ? st->bD[a] : 0.0);
        v += st->WE[i * p + a] * x;
        e += fabs(st->WE[i * p + a]) * (fabs(f->X[s * p + a]) + (sub ? fabs(st->bD[a]) : 0.0));
      }
      z[s * q + i] = v;
      ez[s * q + i] = e;
      const double th = jump ? st->theta[i] : 0, margin = gamma_f((double)p + 2) * e + 2 * u * fabs(th);
      cr_assert(fabs(v - th) > margin && (!jump || fabs(fabs(v - th) - 0.5 * h) > margin + u * h),
                "the instance has a code within rounding of a kink (sample %zu, latent %zu)", s, i);
    }
  for (size_t s = 0; s < B; s++)
    for (size_t a = 0; a < r; a++) {
      double v = (c->biases ? st->bD[a] : 0.0) - Y[s * r + a], e = fabs(v);
      for (size_t i = 0; i < q; i++)
        if (z[s * q + i] > (jump ? st->theta[i] : 0)) {
          v += z[s * q + i] * st->WDt[i * r + a];
          e += ez[s * q + i] * fabs(st->WDt[i * r + a]);
        }
      E[s * r + a] = v;
      eE[s * r + a] = e;
    }
  for (size_t s = 0; s < B; s++)
    for (size_t i = 0; i < q; i++) {
      double v = 0, e = 0;
      for (size_t a = 0; a < r; a++) {
        v += 2.0 / B * E[s * r + a] * st->WDt[i * r + a];
        e += 2.0 / B * eE[s * r + a] * fabs(st->WDt[i * r + a]);
      }
      const double zz = z[s * q + i], th = jump ? st->theta[i] : 0;
      if (jump && fabs(zz - th) < 0.5 * h) {
        g->gth[i] += v * (-th / h) - c->l0 / B / h;
        g->eth[i] += e * fabs(th / h) + c->l0 / B / h;
      }
      ga[s * q + i] = zz > th ? v + (jump ? 0 : c->l1 / B) : 0;
      ega[s * q + i] = zz > th ? e + (jump ? 0 : c->l1 / B) : 0;
    }
  for (size_t i = 0; i < q; i++)
    for (size_t s = 0; s < B; s++) {
      const int on = z[s * q + i] > (jump ? st->theta[i] : 0);
      for (size_t a = 0; a < r && on; a++) {
        g->gD[i * r + a] += 2.0 / B * z[s * q + i] * E[s * r + a];
        g->eD[i * r + a] += 2.0 / B * ez[s * q + i] * eE[s * r + a];
      }
      for (size_t a = 0; a < p; a++) {
        const double x = (double)f->X[s * p + a] - (sub ? st->bD[a] : 0.0);
        g->gE[i * p + a] += ga[s * q + i] * x;
        g->eE[i * p + a] += ega[s * q + i] * (fabs(f->X[s * p + a]) + (sub ? fabs(st->bD[a]) : 0.0));
      }
      g->gbE[i] += ga[s * q + i];
      g->ebE[i] += ega[s * q + i];
    }
  for (size_t a = 0; a < r && c->biases; a++) {
    for (size_t s = 0; s < B; s++) {
      g->gbD[a] += 2.0 / B * E[s * r + a];
      g->ebD[a] += 2.0 / B * eE[s * r + a];
    }
    for (size_t i = 0; i < q && sub; i++) {
      g->gbD[a] -= g->gbE[i] * st->WE[i * p + a];
      g->ebD[a] += g->ebE[i] * fabs(st->WE[i * p + a]);
    }
  }
  free(z);
  free(ez);
  free(E);
  free(eE);
  free(ga);
  free(ega);
}

static void
compare_gradients(const char *what, const float *g, const double *ref, const double *env, size_t n, double gam,
                  const char *path)
{
  for (size_t k = 0; k < n; k++)
    cr_assert(fabs(g[k] - ref[k]) <= gam * env[k] + 1e-30, "%s path, %s[%zu]: %.9g vs float64 %.9g (bound %.3g)", path,
              what, k, g[k], ref[k], gam * env[k]);
}

Test(train, relu_and_jumprelu_entry_and_dense_paths_match_float64)
{
  const sdlab_train_method ms[2] = {SDLAB_TRAIN_RELU, SDLAB_TRAIN_JUMPRELU};
  for (int mi = 0; mi < 2; mi++)
    for (int biases = 0; biases <= 1; biases++)
      for (int shape = 0; shape < 2; shape++) {
        fd_case f;
        const size_t p = 7, r = shape ? 5 : 7;
        make_case(&f, ms[mi], p, r, 40 + mi * 4 + biases * 2 + shape);
        f.c.q = 24;
        f.c.biases = biases;
        f.t = sdlab_trainer_alloc(&f.c, 1);
        cr_assert_not_null(f.t);
        fill(&f, 77 + mi * 4 + biases * 2 + shape);
        const size_t q = f.c.q, B = f.c.batch;
        sdlab_train_state *st = sdlab_trainer_state(f.t);
        for (size_t i = 0; i < q && biases; i++) /* b_D away from zero, so the SAE's input shift is exercised */
          st->bD[i % r] = 0.1f * (float)(i % 3);
        grad_ref g;
        double **all[] = {&g.gE, &g.gD, &g.gbE, &g.gbD, &g.gth, &g.eE, &g.eD, &g.ebE, &g.ebD, &g.eth};
        const size_t sizes[] = {q * p, q * r, q, r, q};
        for (int k = 0; k < 10; k++)
          *all[k] = calloc(sizes[k % 5], sizeof(double));
        reference_gradients(&f, &g);
        const double gam = gamma_f((double)(p + q + r + B + 8));
        for (int sparse = 0; sparse <= 1; sparse++) {
          sdlab_trainer_free(f.t);
          f.c.sparse_below = sparse;
          f.t = sdlab_trainer_alloc(&f.c, sparse + 1); /* and two threads on the entry path */
          cr_assert_not_null(f.t);
          fill(&f, 77 + mi * 4 + biases * 2 + shape);
          st = sdlab_trainer_state(f.t);
          for (size_t i = 0; i < q && biases; i++)
            st->bD[i % r] = 0.1f * (float)(i % 3);
          sdlab_train_stats stats;
          cr_assert_eq(sdlab_trainer_gradient(f.t, f.X, f.c.sae ? NULL : f.Y, &stats), 0);
          float *gE, *gD, *gbE, *gbD, *gth;
          sdlab_trainer_gradients(f.t, &gE, &gD, &gbE, &gbD, &gth);
          const char *path = sparse ? "entry" : "dense";
          compare_gradients("W_E", gE, g.gE, g.eE, q * p, gam, path);
          compare_gradients("W_D^T", gD, g.gD, g.eD, q * r, gam, path);
          if (biases) {
            compare_gradients("b_E", gbE, g.gbE, g.ebE, q, gam, path);
            compare_gradients("b_D", gbD, g.gbD, g.ebD, r, gam, path);
          }
          if (ms[mi] == SDLAB_TRAIN_JUMPRELU)
            compare_gradients("theta", gth, g.gth, g.eth, q, gam, path);
        }
        for (int k = 0; k < 10; k++)
          free(*all[k]);
        free(f.X);
        free(f.Y);
        sdlab_trainer_free(f.t);
      }
}

/* A fresh trainer of configuration c holding a copy of t's state (an SAE's: n_p = n_r), as a checkpoint and
 * --resume make one */
static sdlab_trainer *
clone_trainer_as(sdlab_trainer *t, const sdlab_train_config *c, int threads)
{
  const size_t p = sdlab_trainer_config(t)->p, q = sdlab_trainer_config(t)->q;
  sdlab_trainer *n = sdlab_trainer_alloc(c, threads);
  cr_assert_not_null(n, "%s", sdlab_error_message(1));
  sdlab_train_state *a = sdlab_trainer_state(t), *b = sdlab_trainer_state(n);
  float *fa[] = {a->WE, a->WDt, a->bE, a->bD, a->theta, a->mWE, a->vWE, a->mWDt, a->vWDt, a->mbE, a->vbE, a->mbD,
                 a->vbD, a->mth, a->vth, a->rmag, a->bmag, a->mrm, a->vrm, a->mbm, a->vbm};
  float *fb[] = {b->WE, b->WDt, b->bE, b->bD, b->theta, b->mWE, b->vWE, b->mWDt, b->vWDt, b->mbE, b->vbE, b->mbD,
                 b->vbD, b->mth, b->vth, b->rmag, b->bmag, b->mrm, b->vrm, b->mbm, b->vbm};
  const size_t n_[] = {q * p, q * p, q, p, q, q * p, q * p, q * p, q * p, q, q, p, p, q, q, q, q, q, q, q, q};
  for (size_t k = 0; k < sizeof n_ / sizeof *n_; k++)
    memcpy(fb[k], fa[k], n_[k] * sizeof(float));
  memcpy(b->last_active, a->last_active, q * sizeof *a->last_active);
  b->threshold = a->threshold;
  b->step = a->step;
  return n;
}

static sdlab_trainer *
clone_trainer(sdlab_trainer *t, int threads)
{
  return clone_trainer_as(t, sdlab_trainer_config(t), threads);
}

/* W_D's rows without a gradient are updated lazily, when next read; the bytes must be those of updating every
 * row every step (lazy_decoder = 0).  Every entry-path method, with anchors, biases, clipping, SGD and Adam,
 * resampling, the state read part-way (which brings every row up to date), and a run moved mid-way into a
 * fresh trainer by copying its state (as a checkpoint does). */
static void
lazy_case(sdlab_train_method m, int variant, uint64_t seed)
{
  const size_t p = 9, q = 40, B = 16, steps = 60;
  sdlab_trainer *t[3];
  sdlab_train_config c;
  float ap[2 * 9], ar[2 * 9];
  for (size_t k = 0; k < 2 * p; k++)
    ap[k] = ar[k] = (float)(k % 4) * 0.25f - 0.3f;
  for (int v = 0; v < 3; v++) {
    sdlab_train_config_default(&c);
    c.method = m;
    c.p = c.r = p;
    c.q = q;
    c.k = 3;
    c.batch = B;
    c.total_steps = steps - 10; /* steps past the schedule compute their coefficients on the fly */
    c.seed = seed;
    c.nks = 2, c.ks[0] = 2, c.ks[1] = 5, c.lambdas[0] = 1, c.lambdas[1] = 0.5;
    if (variant == 1) { /* nested prefixes, anchors, biases, clipping */
      c.nks = 0, c.nprefixes = 2, c.prefixes[0] = 10, c.prefixes[1] = 40;
      c.anchors = 2, c.anchor_p = ap, c.anchor_r = ar, c.biases = 1, c.clip = 0.05;
    }
    if (variant == 2) { /* SGD, resampling */
      c.opt = SDLAB_OPT_SGD, c.lr = 0.05, c.resample_at = 20, c.resample_every = 15;
    }
    c.k_aux = 4, c.dead_window = 3;
    c.sparse_below = 1; /* ReLU and JumpReLU on the entry path */
    c.l1 = 0.3, c.theta0 = 0.4, c.bandwidth = 0.2, c.l0 = 0.1;
    c.lazy_decoder = v > 0;
    t[v] = sdlab_trainer_alloc(&c, 2);
    cr_assert_not_null(t[v], "%s", sdlab_error_message(1));
  }
  gsl_rng *g = test_rng(seed + 7);
  float *X = malloc(steps * B * p * sizeof *X);
  for (size_t k = 0; k < steps * B * p; k++)
    X[k] = (float)(gsl_ran_exponential(g, 1.0) * (gsl_rng_uniform(g) < 0.3));
  for (int v = 0; v < 3; v++)
    sdlab_trainer_set_pool(t[v], X, NULL, steps * B);
  sdlab_train_stats st;
  for (size_t s = 0; s < steps; s++) {
    for (int v = 0; v < 3; v++)
      cr_assert_eq(sdlab_trainer_step(t[v], X + s * B * p, NULL, &st), 0, "%s", sdlab_error_message(1));
    if (s % 13 == 5)
      (void)sdlab_trainer_state(t[2]);
    if (s == 31) { /* move run 2 into a fresh trainer, as a checkpoint and --resume do */
      sdlab_trainer *n = clone_trainer(t[2], 2);
      sdlab_trainer_set_pool(n, X, NULL, steps * B);
      sdlab_trainer_free(t[2]);
      t[2] = n;
    }
  }
  sdlab_train_state *s0 = sdlab_trainer_state(t[0]);
  for (int v = 1; v < 3; v++) {
    sdlab_train_state *sv = sdlab_trainer_state(t[v]);
    cr_assert(memcmp(s0->WDt, sv->WDt, q * p * sizeof(float)) == 0, "method %d variant %d run %d: W_D differs", (int)m,
              variant, v);
    cr_assert(memcmp(s0->mWDt, sv->mWDt, q * p * sizeof(float)) == 0 &&
              memcmp(s0->vWDt, sv->vWDt, q * p * sizeof(float)) == 0, "method %d variant %d: moments differ", (int)m, variant);
    cr_assert(memcmp(s0->WE, sv->WE, q * p * sizeof(float)) == 0, "method %d variant %d: W_E differs", (int)m, variant);
    cr_assert(memcmp(s0->theta, sv->theta, q * sizeof(float)) == 0);
  }
  free(X);
  gsl_rng_free(g);
  for (int v = 0; v < 3; v++)
    sdlab_trainer_free(t[v]);
}

Test(train, lazy_decoder_rows_give_the_bytes_of_eager_updates)
{
  const sdlab_train_method ms[] = {SDLAB_TRAIN_TOPK, SDLAB_TRAIN_BATCHTOPK, SDLAB_TRAIN_MATRYOSHKA,
                                   SDLAB_TRAIN_TOPK_AUXK, SDLAB_TRAIN_RELU, SDLAB_TRAIN_JUMPRELU};
  for (size_t k = 0; k < 6; k++)
    for (int variant = 0; variant < 3; variant++) {
      if (variant == 1 && ms[k] != SDLAB_TRAIN_MATRYOSHKA && ms[k] != SDLAB_TRAIN_TOPK)
        continue;
      lazy_case(ms[k], variant, 300 + k);
    }
}

/* One step's update of W_E and W_D against Adam written out here row by row, in the trainer's float32 operations
 * (no warm-up or decay, no clipping): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * w -= (lr / c1) m / (sqrt(v / c2) + eps), with W_D's gradient first projected off its row (g - <g, w> w,
 * <g, w> summed in order in double) and the row then scaled to unit norm (its squared norm summed in order in
 * double).  Rows without a gradient take the zero-gradient update.  The trainer projects inside its update
 * when it does not clip and in a pass of its own when it does (a clipping norm never reached: factor 1), groups
 * rows for its sums and updates W_D's untouched rows lazily; without clipping it sums W_E's rows from the
 * entries as it updates them instead of reading a gradient written out (the reference reads it through
 * sdlab_trainer_gradients), anchoring's term added after: every way must give these bytes. */
static void
update_case(sdlab_train_method m, double clip, size_t anchors, int threads, uint64_t seed)
{
  const size_t p = 23, q = 61, B = 16, warm = 7;
  float ap[3 * 23], ar[3 * 23];
  for (size_t k = 0; k < sizeof ap / sizeof *ap; k++)
    ap[k] = (float)sin((double)k), ar[k] = (float)cos((double)k);
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  c.anchors = anchors, c.anchor_p = ap, c.anchor_r = ar;
  c.method = m;
  c.p = c.r = p;
  c.q = q;
  c.k = 3;
  c.batch = B;
  c.total_steps = 50;
  c.seed = seed;
  c.warmup = 0;
  c.decay = SDLAB_DECAY_NONE;
  c.clip = clip > 0 ? clip : 1e30; /* t writes its gradient out (below); u takes the step with `clip` */
  c.l1 = 0.01;
  c.nks = 2, c.ks[0] = 2, c.ks[1] = 5, c.lambdas[0] = 1, c.lambdas[1] = 0.5;
  /* ReLU: the dense products, every row with a gradient; JumpReLU and Gated on the entry path */
  c.sparse_below = m == SDLAB_TRAIN_RELU ? 0 : 1;
  c.theta0 = 0.4, c.bandwidth = 0.2, c.l0 = 0.1;
  sdlab_trainer *t = sdlab_trainer_alloc(&c, threads);
  cr_assert_not_null(t, "%s", sdlab_error_message(1));
  gsl_rng *g = test_rng(seed);
  float *X = malloc((warm + 1) * B * p * sizeof *X);
  for (size_t k = 0; k < (warm + 1) * B * p; k++)
    X[k] = (float)(gsl_ran_exponential(g, 1.0) * (gsl_rng_uniform(g) < 0.3));
  sdlab_train_stats st;
  for (size_t s = 0; s < warm; s++) /* steps that leave W_D's rows at different steps */
    cr_assert_eq(sdlab_trainer_step(t, X + s * B * p, NULL, &st), 0, "%s", sdlab_error_message(1));
  sdlab_train_config cu = c;
  cu.clip = clip;
  sdlab_trainer *u = clone_trainer_as(t, &cu, threads); /* takes the step below */
  const sdlab_train_state *s0 = sdlab_trainer_state(t);
  const size_t n = q * p, step = s0->step;
  float *w[2], *mo[2], *v[2], *gr[2];
  const float *src[2][3] = {{s0->WE, s0->mWE, s0->vWE}, {s0->WDt, s0->mWDt, s0->vWDt}};
  for (int j = 0; j < 2; j++) {
    w[j] = malloc(n * sizeof(float)), mo[j] = malloc(n * sizeof(float)), v[j] = malloc(n * sizeof(float));
    gr[j] = malloc(n * sizeof(float));
    memcpy(w[j], src[j][0], n * sizeof(float));
    memcpy(mo[j], src[j][1], n * sizeof(float));
    memcpy(v[j], src[j][2], n * sizeof(float));
  }
  cr_assert_eq(sdlab_trainer_gradient(t, X + warm * B * p, NULL, &st), 0, "%s", sdlab_error_message(1));
  float *gE, *gD, *gbE, *gbD, *gth;
  sdlab_trainer_gradients(t, &gE, &gD, &gbE, &gbD, &gth);
  memcpy(gr[0], gE, n * sizeof(float));
  memcpy(gr[1], gD, n * sizeof(float));
  const float b1 = (float)c.beta1, b2 = (float)c.beta2, eps = (float)c.eps;
  const float ka = (float)(c.lr / (1 - pow(c.beta1, (double)(step + 1))));
  const float ic2 = (float)(1.0 / (1 - pow(c.beta2, (double)(step + 1))));
  for (int j = 0; j < 2; j++)
    for (size_t i = 0; i < q; i++) {
      float *wi = w[j] + i * p, *mi = mo[j] + i * p, *vi = v[j] + i * p, *gi = gr[j] + i * p;
      if (j == 1) {
        double d = 0;
        for (size_t a = 0; a < p; a++)
          d += (double)gi[a] * wi[a];
        for (size_t a = 0; a < p; a++)
          gi[a] -= (float)d * wi[a];
      }
      for (size_t a = 0; a < p; a++) {
        mi[a] = b1 * mi[a] + (1 - b1) * gi[a];
        vi[a] = b2 * vi[a] + (1 - b2) * gi[a] * gi[a];
        wi[a] -= ka * mi[a] / (sqrtf(vi[a] * ic2) + eps);
      }
      if (j == 1) {
        double nn = 0;
        for (size_t a = 0; a < p; a++)
          nn += (double)wi[a] * wi[a];
        const float f = (float)(1.0 / sqrt(nn));
        for (size_t a = 0; a < p; a++)
          wi[a] *= f;
      }
    }
  cr_assert_eq(sdlab_trainer_step(u, X + warm * B * p, NULL, &st), 0, "%s", sdlab_error_message(1));
  const sdlab_train_state *s1 = sdlab_trainer_state(u);
  const float *got[2][3] = {{s1->WE, s1->mWE, s1->vWE}, {s1->WDt, s1->mWDt, s1->vWDt}};
  const char *name[2] = {"W_E", "W_D^T"};
  for (int j = 0; j < 2; j++) {
    cr_assert(memcmp(got[j][1], mo[j], n * sizeof(float)) == 0, "method %d clip %g: %s's first moment differs", (int)m,
              clip, name[j]);
    cr_assert(memcmp(got[j][2], v[j], n * sizeof(float)) == 0, "method %d clip %g: %s's second moment differs",
              (int)m, clip, name[j]);
    for (size_t k = 0; k < n; k++)
      cr_assert(memcmp(got[j][0] + k, w[j] + k, sizeof(float)) == 0, "method %d clip %g threads %d: %s[%zu] = %.9g, "
                "row-by-row Adam %.9g", (int)m, clip, threads, name[j], k, got[j][0][k], w[j][k]);
  }
  for (int j = 0; j < 2; j++)
    free(w[j]), free(mo[j]), free(v[j]), free(gr[j]);
  free(X);
  gsl_rng_free(g);
  sdlab_trainer_free(t);
  sdlab_trainer_free(u);
}

/* The gradient a step computed is the one sdlab_trainer_gradients returns even when inference ran in between
 * (it reuses the step's buffers, from which the update would otherwise sum W_E's rows): against a clone that
 * reads its gradient at once. */
Test(train, gradient_survives_inference_between)
{
  const size_t p = 19, q = 45, B = 16;
  sdlab_train_config c;
  sdlab_train_config_default(&c);
  c.p = c.r = p, c.q = q, c.k = 3, c.batch = B, c.total_steps = 10, c.seed = 7;
  sdlab_trainer *t = sdlab_trainer_alloc(&c, 2);
  cr_assert_not_null(t, "%s", sdlab_error_message(1));
  sdlab_trainer *u = clone_trainer(t, 2);
  gsl_rng *g = test_rng(7);
  float *X = malloc(2 * B * p * sizeof *X), *a = malloc(B * q * sizeof *a);
  for (size_t k = 0; k < 2 * B * p; k++)
    X[k] = (float)(gsl_ran_exponential(g, 1.0) * (gsl_rng_uniform(g) < 0.3));
  sdlab_train_stats st;
  cr_assert_eq(sdlab_trainer_gradient(t, X, NULL, &st), 0, "%s", sdlab_error_message(1));
  cr_assert_eq(sdlab_trainer_gradient(u, X, NULL, &st), 0, "%s", sdlab_error_message(1));
  float *gE[2], *gD, *gbE, *gbD, *gth;
  sdlab_trainer_gradients(u, &gE[1], &gD, &gbE, &gbD, &gth);
  cr_assert_eq(sdlab_trainer_encode(t, X + B * p, B, a), 0, "%s", sdlab_error_message(1));
  sdlab_trainer_gradients(t, &gE[0], &gD, &gbE, &gbD, &gth);
  cr_assert(memcmp(gE[0], gE[1], q * p * sizeof(float)) == 0, "W_E's gradient changed with inference in between");
  free(X);
  free(a);
  gsl_rng_free(g);
  sdlab_trainer_free(t);
  sdlab_trainer_free(u);
}

Test(train, update_is_adam_with_projection_and_renormalisation_row_by_row)
{
  const sdlab_train_method ms[] = {SDLAB_TRAIN_TOPK, SDLAB_TRAIN_MATRYOSHKA, SDLAB_TRAIN_RELU, SDLAB_TRAIN_JUMPRELU,
                                   SDLAB_TRAIN_GATED};
  for (size_t k = 0; k < sizeof ms / sizeof *ms; k++)
    for (int threads = 1; threads <= 2; threads++) {
      for (size_t anchors = 0; anchors <= 3; anchors += 3) {
        update_case(ms[k], 0, anchors, threads, 500 + k);
        update_case(ms[k], 1e30, anchors, threads, 500 + k);
      }
    }
}

/* BatchTopK keeps the k B best codes of the whole batch, ranked by value and then by position (sample-major),
 * positive ones only.  With W_E = I the codes are the inputs exactly, so inputs drawn from a few values make ties
 * across samples and latents everywhere; the kept set must be the brute-force ranking's, for 1 to 3 threads. */
/* Each sample keeps its k highest codes, an equal code at a lower latent first (the heap's order), against a
 * brute-force ranking: 64 latents whose encoder rows repeat the 12 input directions, so that every code is tied
 * with four or five others, and inputs from five values; four k from 1 to 37, one to three threads. */
Test(train, topk_keeps_each_sample_s_ranking_with_ties)
{
  const size_t p = 12, q = 64, B = 40;
  gsl_rng *g = test_rng(516);
  for (int threads = 1; threads <= 3; threads++)
    for (size_t k = 1; k <= 48; k += 12) { /* 1, 13, 25, 37 */
      sdlab_train_config c;
      sdlab_train_config_default(&c);
      c.method = SDLAB_TRAIN_TOPK;
      c.p = c.r = p;
      c.q = q;
      c.k = k;
      c.batch = B;
      c.tied_init = 0;
      sdlab_trainer *t = sdlab_trainer_alloc(&c, threads);
      cr_assert_not_null(t);
      sdlab_train_state *s = sdlab_trainer_state(t);
      for (size_t i = 0; i < q; i++)
        for (size_t a = 0; a < p; a++)
          s->WE[i * p + a] = a == i % p ? 1.0f : 0.0f;
      float X[40 * 12];
      for (size_t j = 0; j < B * p; j++)
        X[j] = 0.5f * (float)((int)gsl_rng_uniform_int(g, 5) - 1);
      sdlab_train_stats st;
      cr_assert_eq(sdlab_trainer_gradient(t, X, NULL, &st), 0);
      const size_t *rowptr, *col;
      const float *val;
      cr_assert(sdlab_trainer_selected(t, &rowptr, &col, &val));
      size_t kept = 0;
      for (size_t smp = 0; smp < B; smp++)
        for (size_t i = 0; i < q; i++) {
          const float z = X[smp * p + i % p];
          size_t better = 0;
          for (size_t m = 0; m < q; m++) {
            const float zm = X[smp * p + m % p];
            better += zm > z || (zm == z && m < i);
          }
          const int want = z > 0 && better < k;
          int have = 0;
          for (size_t e = rowptr[smp]; e < rowptr[smp + 1]; e++)
            if (col[e] == i) {
              have = 1;
              cr_assert_eq(val[e], z);
            }
          cr_assert_eq(have, want, "threads %d k %zu: sample %zu latent %zu (code %g, %zu rank before it)", threads,
                       k, smp, i, z, better);
          kept += want;
        }
      cr_assert_eq(rowptr[B], kept);
      sdlab_trainer_free(t);
    }
  gsl_rng_free(g);
}

Test(train, batchtopk_keeps_the_batch_ranking_with_ties)
{
  const size_t p = 12, B = 40;
  gsl_rng *g = test_rng(515);
  for (int threads = 1; threads <= 3; threads++)
    for (size_t k = 1; k <= 7; k += 3) {
      sdlab_train_config c;
      sdlab_train_config_default(&c);
      c.method = SDLAB_TRAIN_BATCHTOPK;
      c.p = c.r = c.q = p;
      c.k = k;
      c.batch = B;
      sdlab_trainer *t = sdlab_trainer_alloc(&c, threads);
      cr_assert_not_null(t);
      sdlab_train_state *s = sdlab_trainer_state(t);
      for (size_t i = 0; i < p * p; i++)
        s->WE[i] = i % (p + 1) == 0 ? 1.0f : 0.0f;
      float X[40 * 12];
      for (size_t j = 0; j < B * p; j++) /* -0.5, 0, 0.5, 1, 1.5: a third of the codes non-positive */
        X[j] = 0.5f * (float)((int)gsl_rng_uniform_int(g, 5) - 1);
      sdlab_train_stats st;
      cr_assert_eq(sdlab_trainer_gradient(t, X, NULL, &st), 0);
      const size_t *rowptr, *col;
      const float *val;
      cr_assert(sdlab_trainer_selected(t, &rowptr, &col, &val));
      /* brute force: a position is kept when it is positive and fewer than k B positions rank before it */
      size_t kept = 0;
      for (size_t j = 0; j < B * p; j++) {
        size_t better = 0;
        for (size_t m = 0; m < B * p; m++)
          better += X[m] > X[j] || (X[m] == X[j] && m < j);
        const int want = X[j] > 0 && better < k * B;
        int have = 0;
        const size_t smp = j / p, lat = j % p;
        for (size_t e = rowptr[smp]; e < rowptr[smp + 1]; e++)
          if (col[e] == lat) {
            have = 1;
            cr_assert_eq(val[e], X[j]);
          }
        cr_assert_eq(have, want, "threads %d k %zu: position %zu (value %g, %zu rank before it)", threads, k, j,
                     X[j], better);
        kept += want;
      }
      cr_assert_eq(rowptr[B], kept);
      sdlab_trainer_free(t);
    }
  gsl_rng_free(g);
}
