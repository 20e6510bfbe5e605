#include "sdlab_bnb.h"
#include "sdlab_claims.h"
#include "sdlab_cone.h"
#include "sdlab_errno.h"
#include "sdlab_lp.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_sort_vector.h>
#include <gsl/gsl_linalg.h>

/* A box: its lower bound, its chart, the coordinate to bisect, then lo[K] and hi[K] (K box coordinates).
 *
 * Charts.  Where neurons G (two or more, two generators each) hold the same generator u, their codes
 * u + a_x p_x become parallel as every a_x -> 0: there sigma_min(C) -> 0 and only the span bound applies,
 * while inf L~ may be approached exactly there (W_D growing without bound).  The chart of m in G blows this
 * corner up: on {a_m >= a_x for all x} put s = a_m and t_x = a_x / s in [0, 1]; then
 *   span{u + a_x p_x : x in G} = span{u + s p_m} + span{t_x p_x - p_m : x != m}
 * (the columns (c_x - c_m) / s), again affine in each column's own coordinate and of full rank at s = 0, where
 * it takes the limits of the spans.  The charts of all m cover the box, so the bounds stay rigorous and the
 * smooth bounds apply at the corner.
 *
 * A blown-up column has a new constant, p_m, which other columns may hold as well (up to sign): where codes
 * are dependent along a curve rather than at a shared ray (one neuron's generators held by two others), the
 * first blow-up turns that curve into such a corner, and it is blown up in turn.  So a chart is, per column
 * i, a constant sgn_i g_cst_i plus its coordinates' generators, column i = sum_j l_j g_j + sgn_i g_cst_i, with
 * every held generator made a constant (its coordinate fixed at 0); blowing up group G at m replaces column
 * x by (mu_x c_x - mu_m c_m - T's part) / (mu_x s) (mu from chart_group: 1 / sgn for equal constants, so
 * cst_x = p_m and sgn_x = -sgn_x / sgn_m; a dependent pair is the same with other mu), and substitutes s t_x
 * for the old a_x.  The plain coordinates are therefore monomials in the chart's: per two-generator
 * coordinate, the coordinates multiplying its own (fac, at most MAXFAC), the blow-ups' s among them (scale).
 * Chart 0 is the plain parametrisation (held coordinates at 1, no constants). */
#define NONE ((size_t)-1)
#define HEAD 3          /* a box record: lower bound, chart, coordinate to bisect, then lo and hi */
#define MAXFAC 8        /* factors of a plain coordinate's monomial */
#define NOFAC 0xff
#define WEDGE_GENS 12   /* the wedge bound's bivectors of a simplex pair, at most (see wedge_alloc) */
#define LOOSE_LOSER 1   /* Top-k: the rays miss part of the neuron's cone, so its least pre-activation is -inf */
#define UNTRACKED 2     /* Top-k: the neuron's ranking rows are left out of the box test (reduced neuron) */
/* The workspace, grouped by stage: the inputs, each live neuron's cone, the charts, the boxes' queue, the
 * evaluation of one box, and what Top-k's ranking rows and JumpReLU's thresholds add. */
struct bnb_cones {
  size_t *neuron, *off, *count; /* per live neuron: its index, first coordinate, generators */
  /* per live neuron: simplicial cones covering its code cone (bit masks over its generators), tri[toff[i]..
   * toff[i + 1]); a neuron whose generators are independent has one, all of them (see sdlab_cone_cover) */
  size_t *toff;
  uint64_t *tri, *held_mask;    /* held_mask: per live neuron, the simplex of the box being made */
  size_t *orig;                 /* per live neuron: its own generators, before the foreign codes (see
                                 * alloc_foreign_codes) */
  double *gen, *ray;            /* per coordinate: generator (n, weighted codes, unit), ray (n_p) */
};

/* A term of a curved chart's column col: coef l_k l_f g_k (l_f = 1 for f = NONE), g_k coordinate k's generator */
struct bnb_term {
  size_t col, k, f;
  double coef;
};

struct bnb_charts {
  /* per chart: per column cst, sgn, held (q each); per two-generator coordinate fac (MAXFAC) and scale */
  size_t *cst, *held, nchart, chartcap;
  size_t nb, *bslot, *bcoord;   /* two-generator coordinates: a coordinate's index among them, and back */
  double *sgn;
  unsigned char *fac, *scale;
  /* curved charts (see curved_charts): per chart its terms term[tfirst .. tfirst + tcount) (none: the affine
   * columns above) */
  size_t *tfirst, *tcount, nterm, termcap;
  struct bnb_term *term;
  /* shared-face charts (see face_charts): per chart and shared generator (FACES each) the coordinate a_xp it
   * rewrites (NONE: none), alpha's coordinate a_mp, the sign of epsilon and whether a_xp's slot holds s */
  size_t *face_k, *face_a;
  double *face_sg;
  unsigned char *face_s;
};
#define FACES 4

struct bnb_boxes {
  /* a pool of records of HEAD + 2K doubles, a binary heap of their indices by lower bound, a free list */
  double *pool;
  size_t cap, used, *heap, heaped, *freed, nfreed;
};

struct bnb_eval {
  gsl_matrix *C, *U, *V, *W, *Res, *B, *Q;
  gsl_vector *sv, *work;
  size_t rankB;                 /* the rank of B (basis in Q's first columns), from span_bound */
  uint64_t span_mask;           /* span_bound's last set of generators, its value, whether kept */
  double span_value;
  int span_kept;
  gsl_matrix *M1, *A, *R1, *G0, *G; /* the partial-rank bound: n x n_r (three), n_r x n_r (R1^T R1, scratch) */
  gsl_vector *eval;
  gsl_eigen_symm_workspace *eig;
  double *l, *lp, *grad;        /* coordinates, plain coordinates, gradient (K, then 2q scratch) */
  double *cperp, *cpar;         /* per coordinate: its share of the frame bound's nperp and hpar */
  double *fa, *fp, *fh, *fg;    /* frame_sizes' vertex enumeration (at most 16 moving coordinates) */
  double *gs;                   /* chart_group: a basis of T (n x q), the constants off T (q x n) */
  double *gr;                   /* curved charts: per coordinate k and column i, <g_k, Res W_i^T> (K x q) */
  size_t fcol[16];
};

/* Top-k pieces whose ranking rows couple the neurons (see sdlab_bnb.h) */
struct bnb_ranking {
  int coupled;
  double *zr;                   /* K x n: <ray_k, w_p^d>, the pre-activations of each coordinate's ray */
  unsigned char *loose;         /* per live neuron: LOOSE_LOSER, UNTRACKED flags */
  double *row0;                 /* n_q x n_p: a ray of each neuron's cone (rows of neurons reduce drops) */
  size_t nedge, *edge;          /* ranking rows between tracked live neurons: (d, winner, loser) triples */
  size_t npedge, *pedge;        /* all ranking rows, over every neuron: (d, winner, loser) */
  double *plo, *phi, *zlo, *zhi, *dist; /* scratch: plain intervals (K), z intervals (q x n), q x q */
};

/* JumpReLU pieces: the cones are the homogenised regions (see sdlab_bnb.h) */
struct bnb_jump {
  int jump;
  double *ctr;                  /* n_q x n_p: a point of each neuron's cone's relative interior (sum of its rays) */
  double *cmin;                 /* n_q: its least pre-activation over the neuron's features */
};

/* The one-neuron bound (see one_neuron_bound): S = P_B R R^T P_B (see relax_alloc), the spread of its eigenvalues on
 * B, n x n scratch, and the simplices of a neuron's cone being searched (per record: upper bound, vertices k, then k
 * vertices of n) */
struct bnb_relax {
  double value;                 /* the bound on the whole piece (-inf: none) */
  double *S, spread, top, *u, *Su, *g, *cbar;
  size_t nb, at[64];            /* B: its dimension and its coordinates (see relax_alloc) */
  size_t dim;                   /* the dimension of V phi assumes: q (q - 1 for the hyperplane bound's configurations of
                                 * lower rank, see hyperplane_bound) */
  double *arg, *argv, *argup;   /* per live neuron: the code of the largest phi found, that phi, and the search's
                                 * bound on phi over the neuron's cone (with the margin) */
  gsl_matrix *M, *V;
  gsl_vector *ev;
  gsl_eigen_symmv_workspace *eig;
  double *node;
  size_t kmax, cap, *heap, heaped;
  /* the two-neuron bound (see two_neuron_bound): its search's records (upper bound, the two simplices' vertex
   * counts, then each simplex's vertices, kmax of n each), their heap, and scratch */
  double *pnode, *G, *y, *grad, *cpair;
  size_t pcap, *pheap, pheaped;
  /* the wedge bound (see wedge_bound; q = 2 only, else A2 is NULL): the additive compound A2 of S_B on bivectors
   * (n2 x n2, n2 = nb (nb - 1) / 2), a simplex pair's unit bivectors (wg, kmax^2 of n2), Gram-Schmidt's Q and R,
   * scratch, and the subset search's records (bound, mask, state), heap and visited set */
  double *A2, *wg, *wq, *wr, *wrow, *wu, *wrec, *wnum, *wgram;
  size_t n2, *wheap;
  /* the two-neuron search's best point (a code of each neuron, at a record's centroids) and the cover simplices it
   * lies in; q = 2: pbest_ok when it beat the incumbent (see pair_incumbent); q >= 3: the best point of the pair
   * that set the bound (neurons ppair), pcand the current pair's (see two_neuron_bound, pair_frame_incumbent) */
  double *pbest, *pvert, *pbest_u, *pcand;
  size_t pbest_t[2], pcand_t[2], ppair[2];
  int pcand_ok;
  int pbest_ok, pvert_ok, pbest_u_ok; /* pvert: the vertex the last record's two simplices share, if any (pair_node);
                                      * pbest_u: the best point's */
  /* q = 2: the wedge bound's bivectors' pairs (i kb + j) and lengths, its maximiser's coefficients on them (see
   * wedge_cone_max), and a point built from them (plim; see wedge_point) */
  size_t *wpair;
  double *wlen, *wcoef, *plim;
  size_t wm;                    /* the bivectors wedge_bound last made */
  uint64_t *wseen;
  gsl_matrix *wM, *wV;
  gsl_vector *wev;
  gsl_eigen_symmv_workspace *weig;
  gsl_eigen_symm_workspace *weigv[WEDGE_GENS + 1]; /* eigenvalues only, one per size (gsl_eigen_symm takes no other) */
};

struct sdlab_bnb_workspace {
  size_t n, nr, np, nq, q, K;
  gsl_matrix *R;                /* n x n_r weighted targets */
  double energy;                /* ||R||_F^2 */
  double xmax;                  /* the longest feature direction, max_d |w_p^d| (the rows' rounding scale) */
  struct bnb_cones cone;
  struct bnb_charts chart;
  struct bnb_boxes box;
  struct bnb_eval ev;
  struct bnb_ranking rank;
  struct bnb_jump jr;
  struct bnb_relax rx;
};

/* A symmetric eigenproblem's scratch freed (any part NULL: not allocated) */
static void
eigen_set_free(gsl_matrix *M, gsl_matrix *V, gsl_vector *ev, gsl_eigen_symmv_workspace *eig)
{
  if (M)
    gsl_matrix_free(M);
  if (V)
    gsl_matrix_free(V);
  if (ev)
    gsl_vector_free(ev);
  if (eig)
    gsl_eigen_symmv_free(eig);
}

static double *
box(const struct sdlab_bnb_workspace *w, size_t id)
{
  return w->box.pool + id * (HEAD + 2 * w->K);
}

void
sdlab_bnb_free(sdlab_bnb *b)
{
  if (b == NULL)
    return;
  struct sdlab_bnb_workspace *w = b->w;
  if (w) {
    free(w->cone.neuron);
    free(w->cone.toff);
    free(w->cone.tri);
    free(w->cone.held_mask);
    free(w->cone.orig);
    free(w->cone.off);
    free(w->cone.count);
    free(w->chart.cst);
    free(w->chart.held);
    free(w->chart.sgn);
    free(w->chart.fac);
    free(w->chart.scale);
    free(w->chart.tfirst);
    free(w->chart.tcount);
    free(w->chart.term);
    free(w->chart.face_k);
    free(w->chart.face_a);
    free(w->chart.face_sg);
    free(w->chart.face_s);
    free(w->chart.bslot);
    free(w->chart.bcoord);
    free(w->cone.gen);
    free(w->cone.ray);
    free(w->box.pool);
    free(w->box.heap);
    free(w->box.freed);
    free(w->ev.l);
    free(w->ev.lp);
    free(w->ev.grad);
    free(w->ev.cperp);
    free(w->ev.cpar);
    free(w->ev.fa);
    free(w->ev.fp);
    free(w->ev.fh);
    free(w->ev.fg);
    free(w->ev.gs);
    free(w->ev.gr);
    free(w->rank.zr);
    free(w->rank.loose);
    free(w->rank.row0);
    free(w->jr.ctr);
    free(w->jr.cmin);
    free(w->rank.pedge);
    free(w->rank.edge);
    free(w->rank.plo);
    free(w->rank.phi);
    free(w->rank.zlo);
    free(w->rank.zhi);
    free(w->rank.dist);
    gsl_matrix *m[] = {w->R, w->ev.C, w->ev.U, w->ev.V, w->ev.W, w->ev.Res, w->ev.B, w->ev.Q, w->ev.M1, w->ev.A, w->ev.R1, w->ev.G0, w->ev.G};
    for (size_t k = 0; k < sizeof m / sizeof *m; k++)
      if (m[k])
        gsl_matrix_free(m[k]);
    if (w->ev.sv)
      gsl_vector_free(w->ev.sv);
    if (w->ev.work)
      gsl_vector_free(w->ev.work);
    if (w->ev.eval)
      gsl_vector_free(w->ev.eval);
    if (w->ev.eig)
      gsl_eigen_symm_free(w->ev.eig);
    free(w->rx.S);
    free(w->rx.u);
    free(w->rx.Su);
    free(w->rx.g);
    free(w->rx.cbar);
    free(w->rx.arg);
    free(w->rx.argv);
    free(w->rx.argup);
    free(w->rx.node);
    free(w->rx.heap);
    free(w->rx.pnode);
    free(w->rx.pheap);
    free(w->rx.G);
    free(w->rx.y);
    free(w->rx.grad);
    free(w->rx.cpair);
    eigen_set_free(w->rx.M, w->rx.V, w->rx.ev, w->rx.eig);
    free(w->rx.A2);
    free(w->rx.wg);
    free(w->rx.wq);
    free(w->rx.wr);
    free(w->rx.wrow);
    free(w->rx.wu);
    free(w->rx.wnum);
    free(w->rx.wgram);
    free(w->rx.pbest);
    free(w->rx.pcand);
    free(w->rx.pvert);
    free(w->rx.pbest_u);
    free(w->rx.plim);
    free(w->rx.wpair);
    free(w->rx.wlen);
    free(w->rx.wcoef);
    free(w->rx.wrec);
    free(w->rx.wheap);
    free(w->rx.wseen);
    eigen_set_free(w->rx.wM, w->rx.wV, w->rx.wev, w->rx.weig);
    for (size_t k = 0; k <= WEDGE_GENS; k++)
      if (w->rx.weigv[k])
        gsl_eigen_symm_free(w->rx.weigv[k]);
    free(w);
  }
  if (b->WE)
    gsl_matrix_free(b->WE);
  if (b->WD)
    gsl_matrix_free(b->WD);
  free(b);
}

static size_t chart_new(struct sdlab_bnb_workspace *w, size_t from);

/* the first of the count unit vectors at list (n each) equal to the unit vector g up to rounding, or NONE */
static size_t
parallel_to(const double *g, const double *list, size_t count, size_t n)
{
  for (size_t c = 0; c < count; c++) {
    double e = 0;
    for (size_t d = 0; d < n; d++)
      e = fmax(e, fabs(g[d] - list[c * n + d]));
    if (e <= (double)(64 * n) * DBL_EPSILON)
      return c;
  }
  return NONE;
}

/* the rank of the count unit vectors (n each) listed by index into gen, at the rounding level */
static size_t
rank_of(const struct sdlab_bnb_workspace *w, const size_t *idx, size_t count)
{
  const size_t n = w->n;
  gsl_matrix *M = gsl_matrix_alloc(n, count), *Q = gsl_matrix_alloc(n, n > count ? n : count);
  for (size_t c = 0; c < count; c++)
    for (size_t d = 0; d < n; d++)
      gsl_matrix_set(M, d, c, w->cone.gen[idx[c] * n + d]);
  size_t r = sdlab_piece_span_basis(M, Q);
  gsl_matrix_free(M);
  gsl_matrix_free(Q);
  return r;
}

/* Exact reductions of the parametrisation.  For a set N of neurons whose generators span a subspace S of
 * dimension r <= |N|, every V satisfies V <= S + (the others' span), and S itself is reached by choosing one
 * generator per neuron whenever some choice spans S.  Then inf L~ is unchanged when those neurons are fixed
 * to such a choice, and those whose choice adds no dimension are dropped (w = 0, in the closure).  This
 * removes the permanent degeneracies (two neurons in the same two-dimensional cone, a one-direction neuron
 * inside another's plane, repeated directions) that would leave boxes with only the span bound. */
static int
reduce(struct sdlab_bnb_workspace *w)
{
  const size_t n = w->n, np = w->np;
  if (w->q > 12 || w->q < 2 || w->K > 64 * 12)
    return SDLAB_SUCCESS; /* 2^q subsets: beyond 12 neurons the search keeps the plain parametrisation */
  size_t idx[64 * 12], pick[12], choice[12];
  for (int changed = 1; changed;) {
    changed = 0;
    for (size_t mask = 1; mask < ((size_t)1 << w->q) && !changed; mask++) {
      size_t units[12], u = 0, g = 0;
      for (size_t i = 0; i < w->q; i++)
        if (mask >> i & 1) {
          units[u++] = i;
          for (size_t j = 0; j < w->cone.count[i]; j++)
            idx[g++] = w->cone.off[i] + j;
        }
      if (u < 2)
        continue;
      const size_t r = rank_of(w, idx, g);
      if (r > u)
        continue;
      /* a choice of one generator per neuron spanning S (at most 4096 tried) */
      int found = 0;
      size_t tried = 0;
      memset(choice, 0, sizeof choice);
      for (;;) {
        for (size_t k = 0; k < u; k++)
          pick[k] = w->cone.off[units[k]] + choice[k];
        if (rank_of(w, pick, u) == r) {
          found = 1;
          break;
        }
        size_t k = 0;
        while (k < u && ++choice[k] == w->cone.count[units[k]])
          choice[k++] = 0;
        if (k == u || ++tried >= 4096)
          break;
      }
      if (!found)
        continue;
      /* fix the neurons of N to their choice, keeping only the choices that add a dimension */
      size_t kept[12], nk = 0;
      for (size_t k = 0; k < u; k++) {
        kept[nk] = pick[k];
        if (rank_of(w, kept, nk + 1) == nk + 1)
          nk++;
        else
          pick[k] = (size_t)-1;
        if (w->cone.count[units[k]] > 1 || pick[k] == (size_t)-1)
          changed = 1;
      }
      if (!changed)
        continue;
      /* rebuild the lists in place: neurons in order, each with its generators (or its pick) */
      size_t q = 0, K = 0, k = 0;
      double *gen = malloc(w->K * n * sizeof *gen), *ray = malloc(w->K * np * sizeof *ray);
      if (!gen || !ray) {
        free(gen);
        free(ray);
        return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
      }
      for (size_t i = 0; i < w->q; i++) {
        size_t from = w->cone.off[i], cnt = w->cone.count[i];
        unsigned char loose = w->rank.loose[i];
        if (k < u && units[k] == i) {
          if (pick[k] == (size_t)-1) {
            k++;
            continue;
          }
          if (cnt > 1) /* its codes now stand for its whole cone: its ranking rows are not tracked */
            loose |= UNTRACKED;
          from = pick[k++];
          cnt = 1;
        }
        w->rank.loose[q] = loose;
        memcpy(gen + K * n, w->cone.gen + from * n, cnt * n * sizeof *gen);
        memcpy(ray + K * np, w->cone.ray + from * np, cnt * np * sizeof *ray);
        w->cone.neuron[q] = w->cone.neuron[i];
        w->cone.off[q] = K;
        w->cone.count[q] = cnt;
        q++;
        K += cnt;
      }
      memcpy(w->cone.gen, gen, K * n * sizeof *gen);
      memcpy(w->cone.ray, ray, K * np * sizeof *ray);
      free(gen);
      free(ray);
      w->q = q;
      w->K = K;
    }
  }
  return SDLAB_SUCCESS;
}

/* The coefficients of v over the m <= n generators idx (into w->cone.gen) by least squares into coef; whether v
 * lies in their cone, the residual and the negative coefficients within rounding of |v| (coefficients within
 * rounding of 0 made 0) */
static int
cone_solve(const struct sdlab_bnb_workspace *w, const double *v, const size_t *idx, size_t m, double *coef)
{
  const size_t n = w->n;
  const double tol = (double)(64 * n) * DBL_EPSILON;
  if (m < 1 || n < m)
    return 0;
  gsl_matrix *A = gsl_matrix_alloc(n, m);
  gsl_vector *tau = gsl_vector_alloc(m), *x = gsl_vector_alloc(m), *res = gsl_vector_alloc(n);
  int inside = 0;
  if (A && tau && x && res) {
    for (size_t c = 0; c < m; c++)
      for (size_t d = 0; d < n; d++)
        gsl_matrix_set(A, d, c, w->cone.gen[idx[c] * n + d]);
    gsl_vector_const_view b = gsl_vector_const_view_array(v, n);
    gsl_error_handler_t *old = gsl_set_error_handler_off(); /* a singular set is simply not used */
    int st = gsl_linalg_QR_decomp(A, tau);
    for (size_t c = 0; !st && c < m; c++)
      st = !(fabs(gsl_matrix_get(A, c, c)) > tol);
    if (!st)
      st = gsl_linalg_QR_lssolve(A, tau, &b.vector, x, res);
    gsl_set_error_handler(old);
    const double scale = gsl_blas_dnrm2(&b.vector);
    if (!st && gsl_blas_dnrm2(res) <= tol * scale) {
      inside = 1;
      for (size_t c = 0; c < m; c++) {
        coef[c] = gsl_vector_get(x, c);
        if (coef[c] < -tol * scale)
          inside = 0;
        if (coef[c] <= tol * scale)
          coef[c] = 0;
      }
    }
  }
  if (A) gsl_matrix_free(A);
  if (tau) gsl_vector_free(tau);
  if (x) gsl_vector_free(x);
  if (res) gsl_vector_free(res);
  return inside;
}

/* Whether the unit vector v lies in the cone of the m <= 3 generators idx with at least two positive coefficients
 * (into coef; see cone_solve) */
static int
inside_simplex(const struct sdlab_bnb_workspace *w, const double *v, const size_t *idx, size_t m, double *coef)
{
  if (m < 2 || m > 3 || !cone_solve(w, v, idx, m, coef))
    return 0;
  size_t positive = 0;
  for (size_t c = 0; c < m; c++)
    positive += coef[c] > 0;
  return positive >= 2;
}

/* Codes of one neuron inside another's cone.  Where a generator g of neuron x lies in neuron y's code cone with at
 * least two of y's generators in its support (inside a face or the interior, not on a ray: on a ray it is a twin,
 * see keep_generators), x's column at g and y's column at the point v = g of y's cone become parallel as their free
 * coordinates vanish, but v is no vertex of y's boxes: the corner lies inside them, where neither the smooth
 * bounds nor the charts apply.  Such a point is made a generator of y (its codes bitwise g, its ray the same
 * combination of y's rays, whose codes are v in exact arithmetic), appended after y's own (w->cone.orig[y] counts
 * those), and alloc_covers subdivides y's simplices at it: the corner becomes one where both neurons hold the same
 * generator, which the curved charts blow up.  (Pieces whose neurons have at most two generators keep the
 * parametrisation they had: the n_p = 2 charts handle them.) */
static int
alloc_foreign_codes(struct sdlab_bnb_workspace *w, size_t cap)
{
  const size_t n = w->n, np = w->np, q = w->q;
  w->cone.orig = malloc((q ? q : 1) * sizeof *w->cone.orig);
  if (w->cone.orig == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  for (size_t y = 0; y < q; y++)
    w->cone.orig[y] = w->cone.count[y];
  for (size_t y = 0; y < q; y++) {
    const size_t r = w->cone.orig[y];
    size_t own[64];
    for (size_t j = 0; j < r && j < 64; j++)
      own[j] = w->cone.off[y] + j;
    if (r < 3 || r > 64 || rank_of(w, own, r) > 3) /* the covers subdivide simplices of at most three */
      continue;
    for (size_t x = 0; x < q; x++) {
      for (size_t j = 0; x != y && j < w->cone.count[x] && j < w->cone.orig[x]; j++) {
        const double *g = w->cone.gen + (w->cone.off[x] + j) * n;
        if (w->cone.count[y] >= 64 || w->K >= cap ||
            parallel_to(g, w->cone.gen + w->cone.off[y] * n, w->cone.count[y], n) != NONE)
          continue;
        size_t idx[4], found = 0;
        double coef[3];
        for (size_t a = 0; a < r && !found; a++) /* a face (two generators), then a triple's interior */
          for (size_t b = a + 1; b < r && !found; b++) {
            idx[0] = w->cone.off[y] + a, idx[1] = w->cone.off[y] + b;
            found = inside_simplex(w, g, idx, 2, coef) ? 2 : 0;
            for (size_t c = b + 1; c < r && !found; c++) {
              idx[2] = w->cone.off[y] + c;
              found = inside_simplex(w, g, idx, 3, coef) ? 3 : 0;
            }
          }
        /* where another generator of x lies in the span of the same face, the cones share a 2-D piece of it and
         * the codes become parallel along a curve, not at one point: a vertex there would only add boxes */
        for (size_t j2 = 0; found && j2 < w->cone.orig[x]; j2++) {
          idx[found] = w->cone.off[x] + j2;
          found = j2 == j || rank_of(w, idx, found + 1) > found ? found : 0;
        }
        if (!found)
          continue;
        /* insert at the end of y's block: shift the later neurons' generators and rays by one */
        const size_t at = w->cone.off[y] + w->cone.count[y];
        double ray[64] = {0};
        for (size_t c = 0; c < found; c++)
          for (size_t a = 0; a < np && np <= 64; a++)
            ray[a] += coef[c] * w->cone.ray[idx[c] * np + a];
        memmove(w->cone.gen + (at + 1) * n, w->cone.gen + at * n, (w->K - at) * n * sizeof *w->cone.gen);
        memmove(w->cone.ray + (at + 1) * np, w->cone.ray + at * np, (w->K - at) * np * sizeof *w->cone.ray);
        const size_t gx = w->cone.off[x] + j + (w->cone.off[x] > w->cone.off[y] ? 1 : 0);
        memcpy(w->cone.gen + at * n, w->cone.gen + gx * n, n * sizeof *w->cone.gen);
        memcpy(w->cone.ray + at * np, ray, np * sizeof *ray);
        for (size_t i = 0; i < q; i++)
          w->cone.off[i] += w->cone.off[i] > w->cone.off[y];
        w->cone.count[y]++;
        w->K++;
      }
    }
  }
  return SDLAB_SUCCESS;
}

/* Top-k's ranking rows: per coordinate its ray's pre-activations, and the rows <w_i - w_j, w_p^d> >= 0 between
 * live neurons (winner i active on a feature d of the mask full, loser j not).  Rows with a dead loser need nothing (its
 * W_E row is 0 and winners are >= 0); rows with a neuron whose codes vanish on the piece are left out, which
 * only weakens the pruning. */
static int
coupling_setup(struct sdlab_bnb_workspace *w, const sdlab_piece *P, const gsl_matrix *Wp, uint64_t full)
{
  const size_t n = w->n, np = w->np, nq = w->nq, q = w->q, K = w->K ? w->K : 1;
  size_t live[64];
  if (nq > 64)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: Top-k pieces with more than 64 latents (got %zu)", nq);
  for (size_t i = 0; i < nq; i++)
    live[i] = NONE;
  for (size_t i = 0; i < q; i++)
    live[w->cone.neuron[i]] = i;
  w->rank.zr = malloc(K * n * sizeof *w->rank.zr);
  w->rank.edge = malloc(3 * n * nq * nq * sizeof *w->rank.edge);
  w->rank.pedge = malloc(3 * n * nq * nq * sizeof *w->rank.pedge);
  w->rank.plo = malloc(K * sizeof *w->rank.plo);
  w->rank.phi = malloc(K * sizeof *w->rank.phi);
  w->rank.zlo = malloc((q ? q : 1) * n * sizeof *w->rank.zlo);
  w->rank.zhi = malloc((q ? q : 1) * n * sizeof *w->rank.zhi);
  w->rank.dist = malloc((q ? q * q : 1) * sizeof *w->rank.dist);
  if (!w->rank.zr || !w->rank.edge || !w->rank.pedge || !w->rank.plo || !w->rank.phi || !w->rank.zlo || !w->rank.zhi || !w->rank.dist)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  for (size_t k = 0; k < w->K; k++)
    for (size_t d = 0; d < n; d++) {
      double z = 0;
      for (size_t a = 0; a < np; a++)
        z += w->cone.ray[k * np + a] * gsl_matrix_get(Wp, a, d);
      w->rank.zr[k * n + d] = z;
    }
  for (size_t d = 0; d < n; d++) {
    if (!(full >> d & 1))
      continue;
    for (size_t i = 0; i < nq; i++)
      for (size_t j = 0; j < nq; j++) {
        if (!(P->F[i] >> d & 1) || (P->F[j] >> d & 1))
          continue;
        w->rank.pedge[3 * w->rank.npedge] = d;
        w->rank.pedge[3 * w->rank.npedge + 1] = i;
        w->rank.pedge[3 * w->rank.npedge + 2] = j;
        w->rank.npedge++;
        if (live[i] == NONE || live[j] == NONE || ((w->rank.loose[live[i]] | w->rank.loose[live[j]]) & UNTRACKED))
          continue;
        w->rank.edge[3 * w->rank.nedge] = d;
        w->rank.edge[3 * w->rank.nedge + 1] = live[i];
        w->rank.edge[3 * w->rank.nedge + 2] = live[j];
        w->rank.nedge++;
      }
  }
  return SDLAB_SUCCESS;
}

/* JumpReLU: the least pre-activation <u, w_p^d> of row u (n_p, contiguous) over the features of F and the
 * largest over the others (-inf when F holds every feature) */
static void
jump_range(const gsl_matrix *Wp, uint64_t F, const double *u, double *lo, double *hi)
{
  *lo = INFINITY;
  *hi = -INFINITY;
  for (size_t d = 0; d < Wp->size2; d++) {
    double z = 0;
    for (size_t a = 0; a < Wp->size1; a++)
      z += u[a] * gsl_matrix_get(Wp, a, d);
    if (F >> d & 1)
      *lo = fmin(*lo, z);
    else
      *hi = fmax(*hi, z);
  }
}

int
sdlab_bnb_accepts(const sdlab_activation *act, size_t nq)
{
  return act->kind == SDLAB_ACT_RELU || act->kind == SDLAB_ACT_TOPK_RELU || (act->kind == SDLAB_ACT_TOPK && act->k == nq) ||
         act->kind == SDLAB_ACT_JUMPRELU;
}

/* ---- the workspace, stage by stage: inputs, weighted targets, each neuron's generators, the simplicial covers
 * and the first boxes' count, the evaluation scratch ---- */

/* The shapes, the activation, the sizes, and W_p of full row rank (else the cones contain lines) */
static int
alloc_check(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, size_t max_rays)
{
  const size_t n = P->n, np = P->np, nq = P->nq, nr = P->nr;
  if (Wp->size1 != np || Wp->size2 != n || Wr->size1 != nr || Wr->size2 != n || Md->size != n)
    return sdlab_fail(SDLAB_ESHAPE, "branch and bound: the matrices do not fit the piece (n %zu, n_p %zu, n_r %zu)", n,
                      np, nr);
  if (!sdlab_bnb_accepts(&P->act, nq))
    return sdlab_fail(GSL_EINVAL, "the certified branch and bound takes ReLU, JumpReLU and Top-k-ReLU pieces");
  if (np > 64 || max_rays == 0 || max_rays > 4096)
    return sdlab_fail(GSL_EINVAL, "branch and bound: n_p %zu (at most 64) and max_rays %zu (1 to 4096)", np, max_rays);
  gsl_matrix *Q = gsl_matrix_alloc(np, n > np ? n : np);
  if (Q == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  const size_t rank = sdlab_piece_span_basis(Wp, Q); /* the rank of W_p: its columns span R^{n_p}? */
  gsl_matrix_free(Q);
  if (rank < np)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: W_p has rank below n_p = %zu, so the encoder cones "
                      "contain lines (the codes do not see that part of W_E: project it out first)", np);
  return SDLAB_SUCCESS;
}

/* Top-k: the features whose active set is full (k < n_q neurons) rank the others below it */
static uint64_t
full_features(const sdlab_piece *P)
{
  uint64_t full = 0;
  if ((P->act.kind == SDLAB_ACT_TOPK_RELU || P->act.kind == SDLAB_ACT_TOPK) && P->act.k < P->nq)
    for (size_t d = 0; d < P->n; d++) {
      size_t size = 0;
      for (size_t i = 0; i < P->nq; i++)
        size += P->F[i] >> d & 1;
      if (size == P->act.k)
        full |= (uint64_t)1 << d;
    }
  return full;
}

/* Neuron i's cone as rows A w >= 0 (m returned; A holds n (n + 1) rows of n_p): JumpReLU's homogenised region
 * <w, w_p^d> >= 0 and >= <w, w_p^e> for d in F_i, e not; else the sign of each feature's pre-activation, the
 * features whose active set is full left out when i is not in it (their ranking rows are kept aside) */
static size_t
cone_rows(const struct sdlab_bnb_workspace *w, const sdlab_piece *P, const gsl_matrix *Wp, size_t i, uint64_t full,
          double *A)
{
  const size_t n = w->n, np = w->np;
  size_t m = 0;
  for (size_t d = 0; d < n; d++) {
    if (w->jr.jump) {
      if (!(P->F[i] >> d & 1))
        continue;
      for (size_t e = 0; e <= n; e++) {
        if (e < n && (P->F[i] >> e & 1))
          continue;
        for (size_t a = 0; a < np; a++)
          A[m * np + a] = gsl_matrix_get(Wp, a, d) - (e < n ? gsl_matrix_get(Wp, a, e) : 0.0);
        m++;
      }
      continue;
    }
    if (!(P->F[i] >> d & 1) && (full >> d & 1))
      continue;
    for (size_t a = 0; a < np; a++)
      A[m * np + a] = (P->F[i] >> d & 1 ? 1.0 : -1.0) * gsl_matrix_get(Wp, a, d);
    m++;
  }
  return m;
}

/* Neuron i's r rays as generators (weighted codes, unit) appended at w->cone.gen + w->K: rays whose codes vanish or
 * are parallel to a kept one's are dropped (*dropped counts them); the kept count returned */
static size_t
keep_generators(struct sdlab_bnb_workspace *w, const sdlab_piece *P, const gsl_matrix *Wp, const gsl_vector *Md,
                size_t i, const double *rays, size_t r, size_t *dropped)
{
  const size_t n = w->n, np = w->np;
  size_t kept = 0;
  *dropped = 0;
  for (size_t j = 0; j < r; j++) {
    double *g = w->cone.gen + (w->K + kept) * n, norm = 0;
    for (size_t d = 0; d < n; d++) {
      double z = 0, xn = 0;
      if (P->F[i] >> d & 1)
        for (size_t a = 0; a < np; a++) {
          z += rays[j * np + a] * gsl_matrix_get(Wp, a, d);
          xn += gsl_matrix_get(Wp, a, d) * gsl_matrix_get(Wp, a, d);
        }
      /* a code on the ray's own boundary row <w, w_p^d> = 0 is 0 in exact arithmetic: made exactly 0, so
       * that the dependencies this support structure forces between constants hold in floating point */
      if (fabs(z) <= (double)(8 * np) * DBL_EPSILON * sqrt(xn))
        z = 0;
      g[d] = sqrt(gsl_vector_get(Md, d)) * z;
      norm += g[d] * g[d];
    }
    norm = sqrt(norm);
    if (!(norm > (double)(8 * n * np) * DBL_EPSILON)) { /* a ray whose codes vanish adds nothing to V */
      (*dropped)++;
      continue;
    }
    for (size_t d = 0; d < n; d++)
      g[d] /= norm;
    /* rays with parallel codes give the same generator (a coordinate along which V cannot move) */
    if (parallel_to(g, w->cone.gen + w->K * n, kept, n) != NONE) {
      (*dropped)++;
      continue;
    }
    /* a generator another neuron has too (a shared ray: the same feature boundary) is made bitwise the same,
     * so that the charts below treat them as the parallel vectors they are */
    const size_t twin = parallel_to(g, w->cone.gen, w->K, n);
    if (twin != NONE)
      memcpy(g, w->cone.gen + twin * n, n * sizeof *g);
    for (size_t a = 0; a < np; a++)
      w->cone.ray[(w->K + kept) * np + a] = rays[j * np + a] / norm;
    kept++;
  }
  return kept;
}

/* The generators of every neuron's code cone (for coupled pieces, of the cone its own rows cut: the ranking rows
 * are kept aside and checked per box); the live neurons numbered */
static int
alloc_generators(struct sdlab_bnb_workspace *w, const sdlab_piece *P, const gsl_matrix *Wp, const gsl_vector *Md,
                 uint64_t full, size_t max_rays)
{
  const size_t n = w->n, np = w->np, nq = w->nq;
  double *A = malloc(n * (n + 1) * np * sizeof *A), *rays = malloc(max_rays * np * sizeof *rays);
  int status = A && rays ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  for (size_t i = 0; !status && i < nq; i++) {
    if (P->F[i] == 0)
      continue;
    const size_t m = cone_rows(w, P, Wp, i, full, A);
    int lineal;
    size_t r = sdlab_cone_rays_modulo(A, m, np, rays, max_rays, &lineal);
    if (r == (size_t)-2) {
      status = sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
      break;
    }
    if (r == (size_t)-1) {
      status = sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: neuron %zu's cone has more than %zu extreme rays", i,
                          max_rays);
      break;
    }
    if (w->rank.coupled && r > 0) /* a point of its cone, for the points offered should reduce drop the neuron */
      memcpy(w->rank.row0 + i * np, rays, np * sizeof *rays);
    if (w->jr.jump) { /* the sum of a pointed cone's rays is in its relative interior */
      double hi;
      for (size_t j = 0; j < r; j++)
        for (size_t a = 0; a < np; a++)
          w->jr.ctr[i * np + a] += rays[j * np + a];
      jump_range(Wp, P->F[i], w->jr.ctr + i * np, w->jr.cmin + i, &hi);
    }
    size_t dropped;
    const size_t kept = keep_generators(w, P, Wp, Md, i, rays, r, &dropped);
    if (kept == 0)
      continue; /* codes identically zero on the closure: the neuron is dead here */
    w->cone.neuron[w->q] = i;
    w->cone.off[w->q] = w->K;
    w->cone.count[w->q] = kept;
    w->rank.loose[w->q] = lineal || dropped ? LOOSE_LOSER : 0;
    w->q++;
    w->K += kept;
  }
  free(A);
  free(rays);
  return status;
}

/* The simplicial cones covering each neuron's code cone; the initial boxes are one per simplex and held generator
 * of every neuron (their count bounded); the box dimensions summed into *dims */
static int
alloc_covers(sdlab_bnb *b, struct sdlab_bnb_workspace *w, size_t *dims)
{
  w->cone.toff = malloc((w->q + 1) * sizeof *w->cone.toff);
  const size_t tricap = (w->q ? w->q : 1) * 256;
  w->cone.tri = malloc(tricap * sizeof *w->cone.tri);
  w->cone.held_mask = malloc((w->q ? w->q : 1) * sizeof *w->cone.held_mask);
  if (!w->cone.toff || !w->cone.tri || !w->cone.held_mask)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  size_t boxes = 1;
  *dims = 0;
  w->cone.toff[0] = 0;
  for (size_t i = 0; i < w->q; i++) {
    size_t idx[64];
    for (size_t j = 0; j < w->cone.count[i] && j < 64; j++)
      idx[j] = w->cone.off[i] + j;
    const size_t rank = w->cone.count[i] > 2 && w->cone.count[i] <= 64 ? rank_of(w, idx, w->cone.count[i]) : w->cone.count[i];
    if (w->cone.toff[i] + 64 > tricap) /* room for the cover's at most 62 simplices */
      return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: too many simplices after subdividing the cones at other "
                        "neurons' codes");
    uint64_t *T = w->cone.tri + w->cone.toff[i];
    size_t nt = sdlab_cone_cover(w->cone.gen + w->cone.off[i] * w->n, w->cone.orig[i], w->n, rank, T);
    /* stellar subdivision at each foreign code (alloc_foreign_codes): every simplex S holding it, with support s_1 ..
     * s_m (m >= 2) among S's generators, becomes the simplices S - {s_c} + {v}, which cover S */
    for (size_t f = w->cone.orig[i]; f < w->cone.count[i] && f < 64; f++) {
      const double *v = w->cone.gen + (w->cone.off[i] + f) * w->n;
      for (size_t t = 0, end = nt; t < end; t++) {
        const uint64_t S = T[t];
        const size_t m = (size_t)__builtin_popcountll(S);
        size_t sidx[3], c = 0;
        double coef[3];
        if (m < 2 || m > 3)
          continue;
        for (size_t j = 0; j < 64; j++)
          if (S >> j & 1)
            sidx[c++] = w->cone.off[i] + j;
        if (!inside_simplex(w, v, sidx, m, coef))
          continue;
        int first = 1;
        for (c = 0; c < m; c++) {
          if (!(coef[c] > 0))
            continue;
          const uint64_t part = (S & ~((uint64_t)1 << (sidx[c] - w->cone.off[i]))) | (uint64_t)1 << f;
          if (first)
            T[t] = part;
          else if (w->cone.toff[i] + nt < tricap)
            T[nt++] = part;
          else
            return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: too many simplices after subdividing neuron %zu's "
                              "cone at other neurons' codes", w->cone.neuron[i]);
          first = 0;
        }
      }
    }
    w->cone.toff[i + 1] = w->cone.toff[i] + nt;
    size_t pairs = 0, widest = 0;
    for (size_t t = w->cone.toff[i]; t < w->cone.toff[i + 1]; t++) {
      const size_t m = (size_t)__builtin_popcountll(w->cone.tri[t]);
      pairs += m;
      widest = m > widest ? m : widest;
    }
    *dims += widest - 1;
    b->triangulated += w->cone.toff[i + 1] - w->cone.toff[i] > 1 || widest < w->cone.count[i];
    if ((boxes *= pairs) > ((size_t)1 << 20))
      return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: more than 2^20 initial boxes (the product over the "
                        "neurons of their simplices' generators)");
  }
  return SDLAB_SUCCESS;
}

/* The wedge bound's workspace where q = 2, B has 2 to 16 coordinates and a pair of simplices at most WEDGE_GENS
 * bivectors (else none: A2 stays NULL), with A2, the additive compound of S_B on the bivectors of B: with coordinates
 * omega_kl = a_k b_l - a_l b_k (k < l among B's nb coordinates) of omega = a ^ b, omega^T A2 omega = |omega|^2
 * tr(P_span{a,b} S_B) and A2[(k,l),(k',l')] = S_kk' d_ll' + S_ll' d_kk' - S_kl' d_lk' - S_lk' d_kl' (d: Kronecker's;
 * eigenvalues l_i + l_j).  Nonzero when out of memory. */
static int
wedge_alloc(struct sdlab_bnb_workspace *w)
{
  struct bnb_relax *x = &w->rx;
  const size_t nb = x->nb, m = x->kmax * x->kmax, n2 = nb * (nb - 1) / 2, n = w->n;
  if (w->q != 2 || nb < 2 || nb > 16 || m > WEDGE_GENS)
    return 0;
  x->n2 = n2;
  x->A2 = malloc(n2 * n2 * sizeof *x->A2);
  x->wg = malloc(m * n2 * sizeof *x->wg);
  x->wq = malloc(m * n2 * sizeof *x->wq);
  x->wr = malloc(m * m * sizeof *x->wr);
  x->wrow = malloc(2 * m * sizeof *x->wrow);
  x->wu = malloc(n2 * sizeof *x->wu);
  x->wnum = malloc(m * sizeof *x->wnum);
  x->wgram = malloc(m * m * sizeof *x->wgram);
  x->pvert = malloc(n * sizeof *x->pvert);
  x->pbest_u = malloc(n * sizeof *x->pbest_u);
  x->plim = malloc(2 * n * sizeof *x->plim);
  x->wpair = malloc(m * sizeof *x->wpair);
  x->wlen = malloc(m * sizeof *x->wlen);
  x->wcoef = malloc(m * sizeof *x->wcoef);
  x->wrec = malloc(3 * ((size_t)1 << m) * sizeof *x->wrec);
  x->wheap = malloc(((size_t)1 << m) * sizeof *x->wheap);
  x->wseen = malloc((((size_t)1 << m) / 64 + 1) * sizeof *x->wseen);
  x->wM = gsl_matrix_alloc(m, m);
  x->wV = gsl_matrix_alloc(m, m);
  x->wev = gsl_vector_alloc(m);
  x->weig = gsl_eigen_symmv_alloc(m);
  int sized = 1;
  for (size_t k = 1; k <= m; k++)
    sized &= (x->weigv[k] = gsl_eigen_symm_alloc(k)) != NULL;
  int ok = x->A2 && x->wg && x->wq && x->wr && x->wrow && x->wu && x->wnum && x->wgram && x->pvert;
  ok = ok && x->pbest_u && x->plim && x->wpair && x->wlen && x->wcoef && x->wrec && x->wheap && x->wseen && x->wM;
  if (!ok || !x->wV || !x->wev || !x->weig || !sized)
    return 1;
  const size_t *at = x->at;
  for (size_t k = 0, r = 0; k < nb; k++)
    for (size_t l = k + 1; l < nb; l++, r++)
      for (size_t k2 = 0, c = 0; k2 < nb; k2++)
        for (size_t l2 = k2 + 1; l2 < nb; l2++, c++) {
          double v = 0;
          if (l == l2)
            v += x->S[at[k] * n + at[k2]];
          if (k == k2)
            v += x->S[at[l] * n + at[l2]];
          if (l == k2)
            v -= x->S[at[k] * n + at[l2]];
          if (k == l2)
            v -= x->S[at[l] * n + at[k2]];
          x->A2[r * n2 + c] = v;
        }
  return 0;
}

/* The one-neuron bound's workspace: S = P_B R R^T P_B and its eigenvalues' spread on B, scratch, and room for the
 * simplices of the largest cover plus RELAX_NODES more.  Nonzero when out of memory. */
#define RELAX_NODES 2048
#define PAIR_NODES 4096
#define PAIR_HEAD 5 /* a record of the two-neuron search: bound, the two simplices' vertex counts and cover indices */
static int
relax_alloc(struct sdlab_bnb_workspace *w)
{
  const size_t n = w->n, nr = w->nr;
  struct bnb_relax *x = &w->rx;
  size_t most = 1;
  x->kmax = 1;
  for (size_t i = 0; i < w->q; i++) {
    most = w->cone.toff[i + 1] - w->cone.toff[i] > most ? w->cone.toff[i + 1] - w->cone.toff[i] : most;
    for (size_t t = w->cone.toff[i]; t < w->cone.toff[i + 1]; t++)
      x->kmax = (size_t)__builtin_popcountll(w->cone.tri[t]) > x->kmax ? (size_t)__builtin_popcountll(w->cone.tri[t]) : x->kmax;
  }
  x->cap = most + RELAX_NODES + 2;
  x->value = -INFINITY;
  x->S = malloc(n * n * sizeof *x->S);
  x->u = malloc(n * sizeof *x->u);
  x->Su = malloc(n * sizeof *x->Su);
  x->g = malloc(n * sizeof *x->g);
  x->cbar = malloc(n * sizeof *x->cbar);
  x->arg = malloc((w->q ? w->q : 1) * n * sizeof *x->arg);
  x->argv = malloc((w->q ? w->q : 1) * sizeof *x->argv);
  x->argup = malloc((w->q ? w->q : 1) * sizeof *x->argup);
  x->node = malloc(x->cap * (2 + x->kmax * n) * sizeof *x->node);
  x->heap = malloc(x->cap * sizeof *x->heap);
  x->pcap = most * most + PAIR_NODES + 2;
  x->pnode = malloc(x->pcap * (PAIR_HEAD + 2 * x->kmax * n) * sizeof *x->pnode);
  x->pheap = malloc(x->pcap * sizeof *x->pheap);
  x->G = malloc(n * n * sizeof *x->G);
  x->y = malloc(2 * n * sizeof *x->y);
  x->grad = malloc(2 * n * sizeof *x->grad);
  x->cpair = malloc(2 * n * sizeof *x->cpair);
  x->pbest = malloc(2 * n * sizeof *x->pbest);
  x->pcand = malloc(2 * n * sizeof *x->pcand);
  x->M = gsl_matrix_alloc(n, n);
  x->V = gsl_matrix_alloc(n, n);
  x->ev = gsl_vector_alloc(n);
  x->eig = gsl_eigen_symmv_alloc(n);
  if (!x->S || !x->u || !x->Su || !x->g || !x->cbar || !x->arg || !x->argv || !x->argup || !x->node || !x->heap || !x->M || !x->V ||
      !x->ev || !x->eig || !x->pnode || !x->pheap || !x->G || !x->y || !x->grad || !x->cpair || !x->pbest || !x->pcand)
    return 1;
  /* B: the features some generator of a live neuron has codes on.  Every code of the piece, and so V, lies in
   * the coordinate subspace B (a neuron's codes vanish off its features, exactly; a feature where every generator
   * of every neuron is 0 has no code either), so tr(P_V S) = tr(P_V S_B), S_B = P_B S P_B: the bound takes S_B */
  unsigned char in[64] = {0};
  size_t nb = 0, *at = x->at;
  for (size_t k = 0; k < w->K; k++)
    for (size_t d = 0; d < n && d < 64; d++)
      in[d] |= w->cone.gen[k * n + d] != 0;
  for (size_t d = 0; d < n && d < 64; d++)
    if (in[d])
      at[nb++] = d;
  x->nb = nb;
  for (size_t d = 0; d < n; d++)
    for (size_t e = 0; e < n; e++) {
      double v = 0;
      if (d < 64 && e < 64 && in[d] && in[e])
        for (size_t a = 0; a < nr; a++)
          v += gsl_matrix_get(w->R, d, a) * gsl_matrix_get(w->R, e, a);
      x->S[d * n + e] = v;
    }
  /* the largest eigenvalue of S_B and the spread of its eigenvalues on B (the Lipschitz argument's vectors all lie
   * in B: see relax_node) */
  x->spread = x->top = 0;
  if (nb > 0) {
    gsl_matrix_view M = gsl_matrix_submatrix(x->M, 0, 0, nb, nb);
    gsl_vector_view ev = gsl_vector_subvector(x->ev, 0, nb);
    gsl_eigen_symm_workspace *eig = gsl_eigen_symm_alloc(nb);
    if (eig == NULL)
      return 1;
    for (size_t j = 0; j < nb; j++)
      for (size_t l = 0; l < nb; l++)
        gsl_matrix_set(&M.matrix, j, l, x->S[at[j] * n + at[l]]);
    gsl_eigen_symm(&M.matrix, &ev.vector, eig);
    gsl_eigen_symm_free(eig);
    x->top = gsl_vector_max(&ev.vector);
    x->spread = x->top - gsl_vector_min(&ev.vector);
  }
  return wedge_alloc(w);
}

/* The evaluation scratch, the two-generator coordinates' numbering, and chart 0 (the plain parametrisation) */
static int
alloc_scratch(struct sdlab_bnb_workspace *w)
{
  const size_t n = w->n, nr = w->nr, q = w->q ? w->q : 1, K = w->K ? w->K : 1, big = n > q ? n : q;
  w->ev.C = gsl_matrix_alloc(n, q);
  w->ev.U = gsl_matrix_alloc(big, big);
  w->ev.V = gsl_matrix_alloc(big, big);
  w->ev.W = gsl_matrix_alloc(q, nr);
  w->ev.Res = gsl_matrix_alloc(n, nr);
  w->ev.B = gsl_matrix_alloc(n, K);
  w->ev.Q = gsl_matrix_alloc(n, n > K ? n : K);
  w->ev.sv = gsl_vector_alloc(big);
  w->ev.work = gsl_vector_alloc(big);
  w->ev.l = malloc(K * sizeof *w->ev.l);
  w->ev.lp = malloc(K * sizeof *w->ev.lp);
  w->ev.grad = malloc((K + 2 * q) * sizeof *w->ev.grad);
  w->ev.cperp = malloc(K * sizeof *w->ev.cperp);
  w->ev.cpar = malloc(K * sizeof *w->ev.cpar);
  w->ev.fa = malloc(17 * q * sizeof *w->ev.fa);
  w->ev.fp = malloc(17 * n * sizeof *w->ev.fp);
  w->ev.fh = malloc(16 * sizeof *w->ev.fh);
  w->ev.fg = malloc((2 * 144 + 2 * q * q) * sizeof *w->ev.fg);
  w->ev.gs = malloc(2 * q * n * sizeof *w->ev.gs);
  w->ev.gr = malloc(K * q * sizeof *w->ev.gr);
  w->ev.M1 = gsl_matrix_alloc(n, nr);
  w->ev.A = gsl_matrix_alloc(n, nr);
  w->ev.R1 = gsl_matrix_alloc(n, nr);
  w->ev.G0 = gsl_matrix_alloc(nr, nr);
  w->ev.G = gsl_matrix_alloc(nr, nr);
  w->ev.eval = gsl_vector_alloc(nr);
  w->ev.eig = gsl_eigen_symm_alloc(nr);
  w->chart.bslot = malloc(K * sizeof *w->chart.bslot);
  w->chart.bcoord = malloc(K * sizeof *w->chart.bcoord);
  if (!w->ev.C || !w->ev.U || !w->ev.V || !w->ev.W || !w->ev.Res || !w->ev.B || !w->ev.Q || !w->ev.sv || !w->ev.work || !w->ev.l || !w->ev.lp ||
      !w->ev.grad || !w->ev.cperp || !w->ev.cpar || !w->ev.fa || !w->ev.fp || !w->ev.fh || !w->ev.fg || !w->ev.gs || !w->ev.gr ||
      !w->chart.bslot || !w->chart.bcoord || !w->ev.M1 || !w->ev.A || !w->ev.R1 || !w->ev.G0 || !w->ev.G || !w->ev.eval || !w->ev.eig)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  for (size_t k = 0; k < K; k++)
    w->chart.bslot[k] = NONE;
  /* two-generator neurons first (the charts of resolve), then neurons of more generators while the slots fit fac's
   * bytes below NOFAC (curved charts; a neuron without slots is left out of them) */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < w->q; i++)
      if (pass ? w->cone.count[i] > 2 && w->chart.nb + w->cone.count[i] < NOFAC : w->cone.count[i] == 2)
        for (size_t k = w->cone.off[i]; k < w->cone.off[i] + w->cone.count[i]; k++) {
          w->chart.bcoord[w->chart.nb] = k;
          w->chart.bslot[k] = w->chart.nb++;
        }
  if (w->chart.nb >= NOFAC)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: more than %d two-generator coordinates", NOFAC - 1);
  if (relax_alloc(w))
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  if (chart_new(w, NONE) == NONE)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  return SDLAB_SUCCESS;
}

/* The largest Euclidean norm of a column of A (the features' directions' for W_p) */
static double
longest_column(const gsl_matrix *A)
{
  double most = 0;
  for (size_t d = 0; d < A->size2; d++) {
    gsl_vector_const_view c = gsl_matrix_const_column(A, d);
    most = fmax(most, gsl_blas_dnrm2(&c.vector));
  }
  return most;
}

sdlab_bnb *
sdlab_bnb_alloc(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                size_t max_rays)
{
  if (alloc_check(P, Wp, Wr, Md, max_rays))
    return NULL;
  const size_t n = P->n, np = P->np, nq = P->nq, nr = P->nr;
  sdlab_bnb *b = calloc(1, sizeof *b);
  struct sdlab_bnb_workspace *w = b ? calloc(1, sizeof *w) : NULL;
  if (w == NULL) {
    free(b);
    sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
    return NULL;
  }
  b->w = w;
  b->P = P;
  b->Wp = Wp;
  b->Wr = Wr;
  b->Md = Md;
  w->n = n;
  w->nr = nr;
  w->np = np;
  w->nq = nq;
  w->cone.neuron = malloc(nq * sizeof *w->cone.neuron);
  w->cone.off = malloc(nq * sizeof *w->cone.off);
  w->cone.count = malloc(nq * sizeof *w->cone.count);
  w->cone.gen = malloc(nq * max_rays * n * sizeof *w->cone.gen);
  w->cone.ray = malloc(nq * max_rays * np * sizeof *w->cone.ray);
  w->R = gsl_matrix_alloc(n, nr);
  b->WE = gsl_matrix_calloc(nq, np);
  b->WD = gsl_matrix_calloc(nr, nq);
  w->rank.loose = calloc(nq, 1);
  w->rank.row0 = calloc(nq * np, sizeof *w->rank.row0);
  w->jr.ctr = calloc(nq * np, sizeof *w->jr.ctr);
  w->jr.cmin = calloc(nq, sizeof *w->jr.cmin);
  int status = (!w->cone.neuron || !w->cone.off || !w->cone.count || !w->cone.gen || !w->cone.ray || !w->R || !b->WE || !b->WD || !w->rank.loose ||
                !w->rank.row0 || !w->jr.ctr || !w->jr.cmin)
                 ? sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound")
                 : SDLAB_SUCCESS;
  for (size_t d = 0; !status && d < n; d++) /* the weighted targets R = diag(sqrt M) W_r^T and ||R||^2 */
    for (size_t a = 0; a < nr; a++) {
      double v = sqrt(gsl_vector_get(Md, d)) * gsl_matrix_get(Wr, a, d);
      gsl_matrix_set(w->R, d, a, v);
      w->energy += v * v;
    }
  w->xmax = longest_column(Wp);
  const uint64_t full = full_features(P);
  w->rank.coupled = full != 0;
  w->jr.jump = P->act.kind == SDLAB_ACT_JUMPRELU && P->act.theta > 0; /* theta = 0: ReLU */
  if (!status)
    status = alloc_generators(w, P, Wp, Md, full, max_rays);
  if (!status) /* for coupled pieces the neurons it fixes leave the ranking test (a relaxation) */
    status = reduce(w);
  if (!status)
    status = alloc_foreign_codes(w, nq * max_rays);
  if (!status && w->rank.coupled)
    status = coupling_setup(w, P, Wp, full);
  size_t dims = 0;
  if (!status)
    status = alloc_covers(b, w, &dims);
  if (!status)
    status = alloc_scratch(w);
  if (status) {
    sdlab_bnb_free(b);
    return NULL;
  }
  b->live = w->q;
  b->dims = dims;
  return b;
}

/* A new chart: a copy of chart from, or (from = NONE) the plain one.  NONE when out of memory. */
static size_t
chart_new(struct sdlab_bnb_workspace *w, size_t from)
{
  const size_t q = w->q ? w->q : 1, nb = w->chart.nb ? w->chart.nb : 1;
  if (w->chart.nchart == w->chart.chartcap) {
    const size_t cap = w->chart.chartcap ? 2 * w->chart.chartcap : 16;
    int ok = 1; /* each array grown in place (kept as it was when its realloc fails) */
#define GROW(field, count)                                                                                            \
  do {                                                                                                                \
    void *grown = realloc(w->chart.field, (count) * sizeof *w->chart.field);                                         \
    if (grown)                                                                                                        \
      w->chart.field = grown;                                                                                         \
    else                                                                                                              \
      ok = 0;                                                                                                         \
  } while (0)
    GROW(cst, cap * q);
    GROW(held, cap * q);
    GROW(sgn, cap * q);
    GROW(fac, cap * nb * MAXFAC);
    GROW(scale, cap * nb);
    GROW(tfirst, cap);
    GROW(tcount, cap);
    GROW(face_k, cap * FACES);
    GROW(face_a, cap * FACES);
    GROW(face_sg, cap * FACES);
    GROW(face_s, cap * FACES);
#undef GROW
    if (!ok)
      return NONE;
    w->chart.chartcap = cap;
  }
  const size_t id = w->chart.nchart++;
  w->chart.tfirst[id] = w->chart.nterm;
  w->chart.tcount[id] = 0;
  for (size_t f = 0; f < FACES; f++) {
    w->chart.face_k[id * FACES + f] = w->chart.face_a[id * FACES + f] = NONE;
    w->chart.face_sg[id * FACES + f] = 0;
    w->chart.face_s[id * FACES + f] = 0;
  }
  if (from != NONE) {
    memcpy(w->chart.cst + id * q, w->chart.cst + from * q, q * sizeof *w->chart.cst);
    memcpy(w->chart.held + id * q, w->chart.held + from * q, q * sizeof *w->chart.held);
    memcpy(w->chart.sgn + id * q, w->chart.sgn + from * q, q * sizeof *w->chart.sgn);
    memcpy(w->chart.fac + id * nb * MAXFAC, w->chart.fac + from * nb * MAXFAC, nb * MAXFAC);
    memcpy(w->chart.scale + id * nb, w->chart.scale + from * nb, nb);
  } else {
    for (size_t i = 0; i < q; i++) {
      w->chart.cst[id * q + i] = w->chart.held[id * q + i] = NONE;
      w->chart.sgn[id * q + i] = 1;
    }
    memset(w->chart.fac + id * nb * MAXFAC, NOFAC, nb * MAXFAC);
    memset(w->chart.scale + id * nb, 0, nb);
  }
  return id;
}

/* C (n x q) at coordinates l of chart ch */
static void
codes(struct sdlab_bnb_workspace *w, const double *l, size_t ch)
{
  const size_t *cst = w->chart.cst + ch * w->q;
  const double *sgn = w->chart.sgn + ch * w->q;
  const struct bnb_term *term = w->chart.term + w->chart.tfirst[ch], *end = term + w->chart.tcount[ch];
  gsl_matrix_set_zero(w->ev.C);
  for (; term < end; term++) { /* a curved chart: its terms (the constants below) */
    const double c = term->coef * l[term->k] * (term->f == NONE ? 1.0 : l[term->f]);
    for (size_t d = 0; d < w->n; d++)
      *gsl_matrix_ptr(w->ev.C, d, term->col) += c * w->cone.gen[term->k * w->n + d];
  }
  for (size_t i = 0; i < w->q; i++) {
    for (size_t j = w->cone.off[i]; w->chart.tcount[ch] == 0 && j < w->cone.off[i] + w->cone.count[i]; j++)
      for (size_t d = 0; d < w->n; d++)
        *gsl_matrix_ptr(w->ev.C, d, i) += l[j] * w->cone.gen[j * w->n + d];
    if (cst[i] != NONE)
      for (size_t d = 0; d < w->n; d++)
        *gsl_matrix_ptr(w->ev.C, d, i) += sgn[i] * w->cone.gen[cst[i] * w->n + d];
  }
}

/* The coordinate of curved chart ch that holds the scale s (its slot's scale flag set; see push_chart) */
static size_t
scale_coordinate(const struct sdlab_bnb_workspace *w, size_t ch)
{
  size_t vm = NONE;
  for (size_t k = 0; k < w->K; k++)
    if (w->chart.bslot[k] != NONE && w->chart.scale[ch * w->chart.nb + w->chart.bslot[k]])
      vm = k;
  return vm;
}

/* The plain coordinates (into out) of the point at coordinates l of chart ch: held generators at 1, each
 * two-generator coordinate times its factors.  A blow-up's s below floor is raised to floor: s = 0 is the
 * blown-up corner itself, whose spans are limits only, so the point offered is one at distance floor from
 * it. */
static void
unchart(const struct sdlab_bnb_workspace *w, const double *l, size_t ch, double floor, double *out)
{
  const size_t nb = w->chart.nb, *held = w->chart.held + ch * w->q;
  const unsigned char *scale = w->chart.scale + ch * nb;
  memcpy(out, l, w->K * sizeof *out);
  for (size_t k = 0; k < w->K; k++) {
    const size_t bk = w->chart.bslot[k];
    if (bk == NONE)
      continue;
    const unsigned char *f = w->chart.fac + (ch * nb + bk) * MAXFAC;
    double v = scale[bk] ? fmax(l[k], floor) : l[k];
    for (size_t t = 0; t < MAXFAC && f[t] != NOFAC; t++)
      v *= scale[f[t]] ? fmax(l[w->chart.bcoord[f[t]]], floor) : l[w->chart.bcoord[f[t]]];
    out[k] = v;
  }
  for (size_t i = 0; i < w->q; i++)
    if (held[i] != NONE)
      out[held[i]] = 1;
  if (w->chart.face_k[ch * FACES] != NONE) { /* a shared-face chart: a_xp = alpha + sgn s t_eps, kept >= 0 */
    const double sv = fmax(l[scale_coordinate(w, ch)], floor);
    for (size_t f = 0; f < FACES && w->chart.face_k[ch * FACES + f] != NONE; f++) {
      const size_t fk = w->chart.face_k[ch * FACES + f];
      const double t = w->chart.face_s[ch * FACES + f] ? 1.0 : l[fk];
      out[fk] = fmax(0.0, l[w->chart.face_a[ch * FACES + f]] + w->chart.face_sg[ch * FACES + f] * sv * t);
    }
  }
}

/* The least-squares fit of R by C's columns: W = C^+ R (q x n_r, numerical-rank cut at the rounding level),
 * Res = R - C W, and C's extreme singular values.  Returns ||Res||_F^2. */
static double
fit(struct sdlab_bnb_workspace *w, double *smax, double *smin)
{
  const size_t n = w->n, q = w->q, nr = w->nr;
  gsl_matrix_set_zero(w->ev.W);
  double smx = 0, smn = 0;
  if (q > 0) {
    /* SVD of the taller of C and C^T (gsl wants rows >= columns) */
    const int tall = n >= q;
    const size_t rows = tall ? n : q, cols = tall ? q : n;
    gsl_matrix_view M = gsl_matrix_submatrix(w->ev.U, 0, 0, rows, cols);
    gsl_matrix_view V = gsl_matrix_submatrix(w->ev.V, 0, 0, cols, cols);
    gsl_vector_view s = gsl_vector_subvector(w->ev.sv, 0, cols), wk = gsl_vector_subvector(w->ev.work, 0, cols);
    if (tall)
      gsl_matrix_memcpy(&M.matrix, w->ev.C);
    else
      gsl_matrix_transpose_memcpy(&M.matrix, w->ev.C);
    gsl_linalg_SV_decomp(&M.matrix, &V.matrix, &s.vector, &wk.vector);
    /* C = Lf S Rf^T with Lf (n x cols), Rf (q x cols): tall: Lf = M, Rf = V; wide: Lf = V, Rf = M */
    const gsl_matrix *Lf = tall ? &M.matrix : &V.matrix, *Rf = tall ? &V.matrix : &M.matrix;
    smx = gsl_vector_get(&s.vector, 0);
    smn = tall ? gsl_vector_get(&s.vector, cols - 1) : 0.0;
    const double cut = (double)(n + q) * DBL_EPSILON * smx;
    for (size_t t = 0; t < cols; t++) {
      const double st = gsl_vector_get(&s.vector, t);
      if (!(st > cut))
        continue;
      for (size_t a = 0; a < nr; a++) {
        double u = 0;
        for (size_t d = 0; d < n; d++)
          u += gsl_matrix_get(Lf, d, t) * gsl_matrix_get(w->R, d, a);
        for (size_t i = 0; i < q; i++)
          *gsl_matrix_ptr(w->ev.W, i, a) += gsl_matrix_get(Rf, i, t) * u / st;
      }
    }
  }
  gsl_matrix_memcpy(w->ev.Res, w->R);
  if (q > 0)
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, -1.0, w->ev.C, w->ev.W, 1.0, w->ev.Res);
  double f = 0;
  for (size_t k = 0; k < n * nr; k++)
    f += w->ev.Res->data[k] * w->ev.Res->data[k];
  *smax = smx;
  *smin = smn;
  return f;
}

/* The plain coordinates' ranges on the box [lo, hi] of chart ch: monomials of coordinates in [0, 1] range
 * from the product of the factors' lower ends to that of their upper ends; held generators are 1. */
static void
plain_box(const struct sdlab_bnb_workspace *w, const double *lo, const double *hi, size_t ch, double *plo, double *phi)
{
  memcpy(plo, lo, w->K * sizeof *plo);
  memcpy(phi, hi, w->K * sizeof *phi);
  if (ch == 0)
    return;
  const size_t nb = w->chart.nb, *held = w->chart.held + ch * w->q;
  for (size_t k = 0; k < w->K; k++) {
    const size_t bk = w->chart.bslot[k];
    if (bk == NONE)
      continue;
    const unsigned char *f = w->chart.fac + (ch * nb + bk) * MAXFAC;
    for (size_t t = 0; t < MAXFAC && f[t] != NOFAC; t++) {
      plo[k] *= lo[w->chart.bcoord[f[t]]];
      phi[k] *= hi[w->chart.bcoord[f[t]]];
    }
  }
  for (size_t i = 0; i < w->q; i++)
    if (held[i] != NONE)
      plo[held[i]] = phi[held[i]] = 1;
}

/* Whether no point of the box [lo, hi] of chart ch satisfies the ranking rows for any scaling of the neurons.
 * Row (d, i, j) asks lambda_j z_j <= lambda_i z_i for the pre-activations z of neurons i, j at feature d
 * and positive scales lambda (the codes' span, so L~, does not see them).  Where z_j > 0 on the whole box
 * that is log lambda_j - log lambda_i <= log(z_i / z_j) <= log(max z_i / min z_j), a system of difference
 * constraints; it has no solution at any point of the box when these loosest bounds already close a
 * negative cycle (Floyd-Warshall over the live neurons), or when max z_i <= 0 < min z_j.  A loose loser
 * (rays that miss part of its cone) has min z_j = -inf; the ranges carry the sums' rounding. */
static int
coupling_infeasible(struct sdlab_bnb_workspace *w, const double *lo, const double *hi, size_t ch)
{
  const size_t n = w->n, q = w->q;
  plain_box(w, lo, hi, ch, w->rank.plo, w->rank.phi);
  for (size_t i = 0; i < q; i++)
    for (size_t d = 0; d < n; d++) {
      double a = 0, b = 0, mag = 0;
      for (size_t k = w->cone.off[i]; k < w->cone.off[i] + w->cone.count[i]; k++) {
        const double v = w->rank.zr[k * n + d];
        a += v * (v >= 0 ? w->rank.plo[k] : w->rank.phi[k]);
        b += v * (v >= 0 ? w->rank.phi[k] : w->rank.plo[k]);
        mag += fabs(v) * w->rank.phi[k];
      }
      const double pad = (double)(4 * (w->cone.count[i] + 2)) * DBL_EPSILON * mag;
      w->rank.zlo[i * n + d] = w->rank.loose[i] ? -INFINITY : a - pad;
      w->rank.zhi[i * n + d] = b + pad;
    }
  double *D = w->rank.dist;
  for (size_t i = 0; i < q; i++)
    for (size_t j = 0; j < q; j++)
      D[i * q + j] = i == j ? 0 : INFINITY;
  for (size_t e = 0; e < w->rank.nedge; e++) {
    const size_t d = w->rank.edge[3 * e], i = w->rank.edge[3 * e + 1], j = w->rank.edge[3 * e + 2];
    const double zj = w->rank.zlo[j * n + d], zi = w->rank.zhi[i * n + d];
    if (!(zj > 0))
      continue;
    if (!(zi > 0))
      return 1;
    D[i * q + j] = fmin(D[i * q + j], log(zi) - log(zj));
  }
  for (size_t m = 0; m < q; m++)
    for (size_t i = 0; i < q; i++)
      for (size_t j = 0; j < q; j++)
        D[i * q + j] = fmin(D[i * q + j], D[i * q + m] + D[m * q + j]);
  for (size_t i = 0; i < q; i++)
    if (D[i * q + i] < -(double)(16 * q) * DBL_EPSILON)
      return 1;
  return 0;
}

/* Scale the rows of WE (and WD's columns inversely, so L~ stays) so that WE meets the ranking rows: the
 * shortest paths of the difference constraints log lambda_j - log lambda_i <= log(z_i / z_j) over every
 * neuron (Bellman-Ford).  Returns 0 when they have no solution (a negative cycle, or z_i <= 0 < z_j). */
static int
coupling_scale(struct sdlab_bnb_workspace *w, const gsl_matrix *Wp, gsl_matrix *WE, gsl_matrix *WD)
{
  const size_t nq = w->nq;
  double mu[64] = {0};
  int changed = 1;
  for (size_t round = 0; changed && round <= nq; round++) {
    changed = 0;
    for (size_t e = 0; e < w->rank.npedge; e++) {
      const size_t d = w->rank.pedge[3 * e], i = w->rank.pedge[3 * e + 1], j = w->rank.pedge[3 * e + 2];
      double zi = 0, zj = 0;
      for (size_t a = 0; a < w->np; a++) {
        zi += gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d);
        zj += gsl_matrix_get(WE, j, a) * gsl_matrix_get(Wp, a, d);
      }
      if (!(zj > 0))
        continue;
      if (!(zi > 0))
        return 0;
      const double c = mu[i] + log(zi) - log(zj);
      if (c < mu[j] - 4 * DBL_EPSILON * (1 + fabs(mu[j]))) {
        mu[j] = c;
        changed = 1;
      }
    }
  }
  if (changed)
    return 0;
  for (size_t i = 0; i < nq; i++) {
    const double s = exp(mu[i]);
    gsl_vector_view r = gsl_matrix_row(WE, i), c = gsl_matrix_column(WD, i);
    gsl_vector_scale(&r.vector, s);
    gsl_vector_scale(&c.vector, 1 / s);
  }
  return 1;
}

/* JumpReLU: a point of the piece's closure for rows of the homogenised cones (WD's columns scaled inversely,
 * so L~ stays).  A row u with min_F = min over F_i of <u, w_p^d> > 0 is scaled by t with
 * t min_F >= theta >= t max_out, max_out = max over e not in F_i of <u, w_p^e> (t = theta / sqrt(min_F
 * max_out), or 2 theta / min_F when max_out <= 0).  A row near the cone's boundary, where only the limit
 * t -> infinity stands for it (min_F at most delta of its norm times cmin, the min_F of the cone's interior
 * point ctr), first moves by delta of its norm times ctr (*moved set), and a row without codes (a neuron reduce
 * dropped, W_D's column 0) is ctr: L~ is then evaluated at a point of the piece, a little off the box's.  Such a
 * move turns the span of the codes by about delta over their angle, so where codes tend to parallel ones the
 * smaller delta the better, down to where min_F's rounding takes over (offer tries several).  Returns 0 when a row
 * cannot be placed (its pre-activations on F_i not positive even then), or when the placed row misses the
 * piece's rows by more than its own rounding, 64 (n_p + n_q) eps |t u| max_d |w_p^d| (a row moved by a tiny
 * delta has a huge t; the rows of a JumpReLU piece each hold one neuron, so each is held to its own scale). */
static int
jump_place(const struct sdlab_bnb_workspace *w, const sdlab_piece *P, const gsl_matrix *Wp, gsl_matrix *WE,
           gsl_matrix *WD, double delta, int *moved)
{
  const size_t np = w->np;
  const double theta = P->act.theta;
  for (size_t i = 0; i < w->nq; i++) {
    gsl_vector_view r = gsl_matrix_row(WE, i), c = gsl_matrix_column(WD, i);
    if (P->F[i] == 0) {
      gsl_vector_set_zero(&r.vector);
      continue;
    }
    const double norm = gsl_blas_dnrm2(&r.vector), *ctr = w->jr.ctr + i * np;
    double lo, hi;
    jump_range(Wp, P->F[i], r.vector.data, &lo, &hi);
    if (!(lo > delta * norm * w->jr.cmin[i])) {
      if (norm == 0)
        gsl_vector_set_zero(&c.vector);
      else
        *moved = 1;
      for (size_t a = 0; a < np; a++)
        *gsl_vector_ptr(&r.vector, a) = norm == 0 ? ctr[a] : gsl_vector_get(&r.vector, a) + delta * norm * ctr[a];
      jump_range(Wp, P->F[i], r.vector.data, &lo, &hi);
    }
    if (!(lo > 0))
      return 0;
    const double t = hi > 0 ? theta / sqrt(lo * hi) : 2 * theta / lo;
    gsl_vector_scale(&r.vector, t);
    gsl_vector_scale(&c.vector, 1 / t);
    const double tol = (double)(64 * (np + w->nq)) * DBL_EPSILON * gsl_blas_dnrm2(&r.vector) * w->xmax;
    jump_range(Wp, P->F[i], r.vector.data, &lo, &hi);
    if (!(lo >= theta - tol && hi <= theta + tol))
      return 0;
  }
  return 1;
}

/* L~ at (WE, WD) by sdlab_piece_loss into *loss, and its rounding bound (sdlab_claims_ltilde_rounding) into
 * *round: near the corners W_D is huge and the computed value can sit far from the true one (see sdlab_bnb.h,
 * Incumbents), so a point stands for loss + round */
static int
point_value(const sdlab_bnb *b, const gsl_matrix *WE, const gsl_matrix *WD, double *loss, double *round)
{
  int status = sdlab_piece_loss(b->P, b->Wp, b->Wr, b->Md, WE, WD, loss, NULL, NULL);
  *round = status ? 0 : sdlab_claims_ltilde_rounding(b->Wp, b->Wr, b->Md, WE, WD, b->P->F);
  return status;
}

/* The incumbent from (WE, WD), a point of the box's codes: placed in the piece (JumpReLU: jump_place with delta,
 * *moved set where it moved a row; Top-k: coupling_scale), kept where it meets the piece's rows up to their
 * rounding, valued by sdlab_piece_loss with its rounding bound, and kept where that sum is below b->upper.  WE and
 * WD are changed. */
static int
offer_placed(sdlab_bnb *b, gsl_matrix *WE, gsl_matrix *WD, double delta, int *moved)
{
  struct sdlab_bnb_workspace *w = b->w;
  double loss, sm, vi = 0;
  int ok = 1;
  if (w->jr.jump)
    ok = jump_place(w, b->P, b->Wp, WE, WD, delta, moved);
  if (w->rank.coupled) {
    /* neurons without codes here keep a point of their cone (W_E = 0 may break a ranking row); a point of the
     * piece's closure only when scales meet the ranking rows, up to their rounding */
    for (size_t i = 0; i < w->nq; i++) {
      gsl_vector_view r = gsl_matrix_row(WE, i);
      if (gsl_vector_isnull(&r.vector))
        for (size_t a = 0; a < w->np; a++)
          gsl_vector_set(&r.vector, a, w->rank.row0[i * w->np + a]);
    }
    ok = coupling_scale(w, b->Wp, WE, WD);
  }
  if (w->rank.coupled || w->jr.jump) {
    double scale = 0;
    for (size_t i = 0; ok && i < w->nq; i++) {
      gsl_vector_view r = gsl_matrix_row(WE, i);
      scale = fmax(scale, gsl_blas_dnrm2(&r.vector));
    }
    if (ok) {
      sdlab_piece_margin(b->P, WE, &sm, &vi);
      ok = vi <= (double)(64 * (w->np + w->nq)) * DBL_EPSILON * scale * w->xmax;
    }
  }
  double round = 0;
  int status = ok ? point_value(b, WE, WD, &loss, &round) : SDLAB_SUCCESS;
  if (ok && !status && loss + round < b->upper) {
    b->upper = loss + round;
    gsl_matrix_memcpy(b->WE, WE);
    gsl_matrix_memcpy(b->WD, WD);
    sdlab_piece_margin(b->P, b->WE, &sm, &b->violation);
  }
  return status;
}

/* JumpReLU's moves of rows on their cones' boundary (jump_place), tried in turn while one moves a row: 2^-30 to
 * 2^-48 of the row's norm (the last about 16 eps, near min_F's own rounding, n_p eps |u| max_d |w_p^d|: a move
 * lost in it fails jump_place's checks) */
#define JUMP_MOVES 4
static const double jump_moves[JUMP_MOVES] = {0x1p-30, 0x1p-36, 0x1p-42, 0x1p-48};

/* L~ and the incumbent: the point of coordinates l, with W_D from the fit, offered (offer_placed) */
static int
offer(sdlab_bnb *b, const double *l, double f)
{
  struct sdlab_bnb_workspace *w = b->w;
  if (!(f < b->upper))
    return SDLAB_SUCCESS;
  gsl_matrix *WE = gsl_matrix_calloc(w->nq, w->np), *WD = gsl_matrix_calloc(w->nr, w->nq);
  gsl_matrix *WEp = w->jr.jump ? gsl_matrix_alloc(w->nq, w->np) : WE, *WDp = w->jr.jump ? gsl_matrix_alloc(w->nr, w->nq) : WD;
  if (!WE || !WD || !WEp || !WDp) {
    if (WE) gsl_matrix_free(WE);
    if (WD) gsl_matrix_free(WD);
    if (WEp && WEp != WE) gsl_matrix_free(WEp);
    if (WDp && WDp != WD) gsl_matrix_free(WDp);
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  }
  for (size_t i = 0; i < w->q; i++) {
    for (size_t j = w->cone.off[i]; j < w->cone.off[i] + w->cone.count[i]; j++)
      for (size_t a = 0; a < w->np; a++)
        *gsl_matrix_ptr(WE, w->cone.neuron[i], a) += l[j] * w->cone.ray[j * w->np + a];
    for (size_t a = 0; a < w->nr; a++)
      gsl_matrix_set(WD, a, w->cone.neuron[i], gsl_matrix_get(w->ev.W, i, a));
  }
  /* JumpReLU: rows on their cones' boundary are moved by each of JUMP_MOVES deltas while one is (jump_place), each
   * from a copy; the others are placed once, in place */
  int status = SDLAB_SUCCESS, moved = 0;
  for (size_t s = 0; !status && s < (w->jr.jump ? JUMP_MOVES : 1) && (s == 0 || moved); s++) {
    if (w->jr.jump) {
      gsl_matrix_memcpy(WEp, WE);
      gsl_matrix_memcpy(WDp, WD);
    }
    status = offer_placed(b, WEp, WDp, jump_moves[s], &moved);
  }
  if (w->jr.jump) {
    gsl_matrix_free(WEp);
    gsl_matrix_free(WDp);
  }
  gsl_matrix_free(WE);
  gsl_matrix_free(WD);
  return status;
}

/* the span bound: ||R||^2 minus the q largest eigenvalues of R^T P_B R, B spanned by the generators in use
 * (those of coordinates that can be nonzero and the chart's constants).  Successive boxes mostly use the
 * same generators: with K <= 64 the last set (a bit mask), its bound and its basis in Q are kept. */
static double
span_bound(struct sdlab_bnb_workspace *w, const double *hi, size_t ch)
{
  const size_t *cst = w->chart.cst + ch * w->q;
  uint64_t mask = 0;
  size_t c = 0;
  for (size_t k = 0; k < w->K; k++) {
    int use = hi[k] > 0;
    for (size_t i = 0; i < w->q && !use; i++)
      use = cst[i] == k;
    if (use) {
      for (size_t d = 0; d < w->n; d++)
        gsl_matrix_set(w->ev.B, d, c, w->cone.gen[k * w->n + d]);
      c++;
      if (k < 64)
        mask |= (uint64_t)1 << k;
    }
  }
  if (w->K <= 64 && w->ev.span_kept && mask == w->ev.span_mask)
    return w->ev.span_value;
  w->ev.rankB = 0;
  w->ev.span_value = w->energy;
  if (c > 0) {
    gsl_matrix_view Bv = gsl_matrix_submatrix(w->ev.B, 0, 0, w->n, c);
    w->ev.rankB = sdlab_piece_span_basis(&Bv.matrix, w->ev.Q);
    w->ev.span_value = w->energy - sdlab_piece_top_energy(w->ev.Q, w->ev.rankB, w->R, w->q);
  }
  w->ev.span_mask = mask;
  w->ev.span_kept = 1;
  return w->ev.span_value;
}

/* The partial-rank bound, for boxes where the codes may lose rank but keep rank r robustly.  With C0's
 * singular values s_1 >= ... and left singular vectors U0 (from fit, q <= n), ||E|| <= eta and
 * delta = s_r - s_{r+1} - eta > 0, every C(l) on the box has rank >= r and its top-r left singular space U'
 * satisfies ||P_U' - P_U0|| <= theta = eta / delta (Wedin 1972).  V contains U' and lies in B (the span of
 * w->ev.Q from span_bound), so with R1 = P_B R and W = V minus U' (dim <= q - r):
 *   L~ = ||R - R1||^2 + ||(I - P_U') R1||^2 - ||P_W R1||^2 >= ||R||^2 - ||R1||^2 + tail(G(U')),
 * tail = the sum of the n_r - (q - r) smallest eigenvalues of G(U') = R1^T (I - P_U') R1, and by Weyl each
 * moves by at most theta ||R1||_2^2 from those of G(U0).  The best r is taken; -inf when none applies. */
static double
partial_rank_bound(struct sdlab_bnb_workspace *w, double eta, double gam)
{
  const size_t n = w->n, q = w->q, nr = w->nr, rb = w->ev.rankB;
  double best = -INFINITY;
  if (q < 2 || q > n || rb == 0)
    return best;
  /* R1 = Q Q^T R, ||R1||_F^2 and ||R1||_2^2 */
  gsl_matrix_view Qb = gsl_matrix_submatrix(w->ev.Q, 0, 0, n, rb), M1 = gsl_matrix_submatrix(w->ev.M1, 0, 0, rb, nr);
  gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Qb.matrix, w->R, 0.0, &M1.matrix);
  gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Qb.matrix, &M1.matrix, 0.0, w->ev.R1);
  gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &M1.matrix, &M1.matrix, 0.0, w->ev.G0);
  double fro = 0;
  for (size_t a = 0; a < nr; a++)
    fro += gsl_matrix_get(w->ev.G0, a, a);
  gsl_matrix_memcpy(w->ev.G, w->ev.G0);
  gsl_eigen_symm(w->ev.G, w->ev.eval, w->ev.eig);
  const double spec = gsl_vector_max(w->ev.eval), smax = gsl_vector_get(w->ev.sv, 0);
  for (size_t r = 1; r < q; r++) {
    const double delta = gsl_vector_get(w->ev.sv, r - 1) - gsl_vector_get(w->ev.sv, r) - eta - gam * smax;
    if (!(delta > 0) || q - r >= nr)
      continue;
    const double theta = fmin(1.0, eta / delta);
    /* G(U0) = R1^T R1 - (U0^T R1)^T (U0^T R1), U0 the first r columns of the fit's left factor */
    gsl_matrix_view U0 = gsl_matrix_submatrix(w->ev.U, 0, 0, n, r), A = gsl_matrix_submatrix(w->ev.A, 0, 0, r, nr);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &U0.matrix, w->ev.R1, 0.0, &A.matrix);
    gsl_matrix_memcpy(w->ev.G, w->ev.G0);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, -1.0, &A.matrix, &A.matrix, 1.0, w->ev.G);
    gsl_eigen_symm(w->ev.G, w->ev.eval, w->ev.eig);
    gsl_sort_vector(w->ev.eval);
    const size_t keep = nr - (q - r);
    double tail = 0;
    for (size_t a = 0; a < keep; a++)
      tail += gsl_vector_get(w->ev.eval, a);
    const double lb = w->energy - fro + tail - (double)keep * theta * spec - gam * w->energy * (1 + smax / delta);
    best = fmax(best, lb);
  }
  return best;
}

/* The frame bound's perturbation sizes.  With C0 = U S V^T (from fit, full column rank, q <= n) and T = V S^-1
 * (rows t_i, ||t_i|| = the norm of C0^+'s row i), every C = C0 + E on the box is (I + E C0^+) C0, so its span is
 * that of U + E T = U (I + H) + N, H = U^T E T, N = (I - U U^T) E T.  E moves column i by E_i = sum_k delta_k
 * g_k over its coordinates, |delta_k| <= h_k, so with e_i = sum_k h_k ||(I - U U^T) g_k|| (for N; ||U^T g_k||
 * for H) both ||sum_i e_i t_i|| <= sum_i e_i ||t_i|| and ||N||_F^2 <= sum_t (sum_i |V_it| e_i)^2 / s_t^2 bound
 * ||N||; the smaller is taken, raised by gamma kappa for the SVD's backward error.  Generators that lie in the
 * span (most of them, where codes are nearly dependent) add to hpar only.  Per coordinate, h_k ||t_i|| times
 * its off-span and in-span parts go to w->ev.cperp and w->ev.cpar (to choose the side to bisect). */
static void
frame_sizes(struct sdlab_bnb_workspace *w, const double *lo, const double *hi, double gk, double *nperp, double *hpar)
{
  const size_t n = w->n, q = w->q;
  double tri[2] = {0, 0}, *e = w->ev.grad + w->K; /* e_i for N (q) then H (q), after the gradient */
  double *T = w->ev.fg + 2 * 144, *Tg = T + q * q;  /* T = V S^-1 and T T^T (q x q each) */
  size_t act = 0;                               /* coordinates that move */
  gsl_matrix_view U = gsl_matrix_submatrix(w->ev.U, 0, 0, n, q);
  for (size_t i = 0; i < q; i++)
    for (size_t t = 0; t < q; t++)
      T[i * q + t] = gsl_matrix_get(w->ev.V, i, t) / gsl_vector_get(w->ev.sv, t);
  for (size_t i = 0; i < q; i++)
    for (size_t j = 0; j < q; j++) {
      double c = 0;
      for (size_t t = 0; t < q; t++)
        c += T[i * q + t] * T[j * q + t];
      Tg[i * q + j] = c;
    }
  for (size_t i = 0; i < q; i++) {
    const double ti = sqrt(Tg[i * q + i]);
    e[i] = e[q + i] = 0;
    for (size_t k = w->cone.off[i]; k < w->cone.off[i] + w->cone.count[i]; k++) {
      const double h = 0.5 * (hi[k] - lo[k]), *g = w->cone.gen + k * n;
      w->ev.cperp[k] = w->ev.cpar[k] = 0;
      if (h == 0)
        continue;
      /* the parts of g in and off the span, U^T g and g - U U^T g (not sqrt(1 - ...), which cancels), kept
       * for the vertex enumeration below (rows 16 are scratch beyond it) with g's column and half-width */
      const size_t row = act < 16 ? act : 16;
      double *pa = w->ev.fa + row * q, *pp = w->ev.fp + row * n, par = 0, perp = 0;
      for (size_t t = 0; t < q; t++) {
        double c = 0;
        for (size_t d = 0; d < n; d++)
          c += gsl_matrix_get(&U.matrix, d, t) * g[d];
        pa[t] = c;
        par += c * c;
      }
      for (size_t d = 0; d < n; d++) {
        double r = g[d];
        for (size_t t = 0; t < q; t++)
          r -= gsl_matrix_get(&U.matrix, d, t) * pa[t];
        pp[d] = r;
        perp += r * r;
      }
      e[i] += h * sqrt(perp);
      e[q + i] += h * sqrt(par);
      if (act < 16) {
        w->ev.fcol[act] = i;
        w->ev.fh[act] = h;
      }
      act++;
      w->ev.cperp[k] = h * ti * sqrt(perp);
      w->ev.cpar[k] = h * ti * sqrt(par);
    }
    tri[0] += e[i] * ti;
    tri[1] += e[q + i] * ti;
  }
  double cs[2] = {0, 0};
  for (size_t t = 0; t < q; t++)
    for (int part = 0; part < 2; part++) {
      double a = 0;
      for (size_t i = 0; i < q; i++)
        a += fabs(T[i * q + t]) * e[part * q + i];
      cs[part] += a * a;
    }
  double vx[2] = {INFINITY, INFINITY};
  if (act <= 12) {
    /* ||sum_k delta_k x_k t_i(k)^T||_F is convex in delta: its largest value on the box is at a vertex, and
     * there the square is s^T G s, G_kl = h_k h_l <x_k, x_l> <t_i(k), t_i(l)> (x = the off- or in-span part) */
    double *G = w->ev.fg;
    for (size_t k = 0; k < act; k++)
      for (size_t l = 0; l < act; l++) {
        double pp = 0, aa = 0;
        for (size_t d = 0; d < n; d++)
          pp += w->ev.fp[k * n + d] * w->ev.fp[l * n + d];
        for (size_t t = 0; t < q; t++)
          aa += w->ev.fa[k * q + t] * w->ev.fa[l * q + t];
        const double c = w->ev.fh[k] * w->ev.fh[l] * Tg[w->ev.fcol[k] * q + w->ev.fcol[l]];
        G[k * act + l] = c * pp;
        G[144 + k * act + l] = c * aa;
      }
    vx[0] = vx[1] = 0;
    for (size_t v = 0; v < ((size_t)1 << (act ? act - 1 : 0)); v++) /* s and -s give the same value */
      for (int part = 0; part < 2; part++) {
        double f = 0;
        for (size_t k = 0; k < act; k++)
          for (size_t l = 0; l < act; l++)
            f += ((v >> k ^ v >> l) & 1 ? -1.0 : 1.0) * G[part * 144 + k * act + l];
        vx[part] = fmax(vx[part], sqrt(fmax(0.0, f)));
      }
  }
  *nperp = fmin(fmin(tri[0], sqrt(cs[0])), vx[0]) + gk;
  *hpar = fmin(fmin(tri[1], sqrt(cs[1])), vx[1]) + gk;
}

/* The curvature constants where L~ <= fbar along the segment (energy E): L~'' >= -2 k1 ||C'||^2 / sigma^2 - 2 k2
 * ||C''|| / sigma, k1 = max over x <= fbar of 2 sqrt(x (E - x)) + x (x = ||X||^2 = L~, ||P R||^2 = E - x; phi E
 * at x = (1 + 1/sqrt 5) E / 2) and k2 = max of sqrt(x (E - x)) (E / 2 at x = E / 2). */
static void
curvature(double E, double fbar, double *k1, double *k2)
{
  double x = fmax(0.0, fmin(fbar, 0.5 * (1 + 1 / sqrt(5.0)) * E));
  *k1 = 2 * sqrt(x * (E - x)) + x;
  x = fmax(0.0, fmin(fbar, 0.5 * E));
  *k2 = sqrt(x * (E - x));
}

/* The smooth bound on a box of a curved chart (centre l0 in w->ev.l, C0's fit done): C(l0 + delta) = C0 + E1 + E2,
 * E1 linear and E2 bilinear in delta (the terms l_k l_f), |delta_k| <= h_k.  Column i moves by at most
 * e1_i = sum over its terms |coef| (h_k |l0_f| + h_f |l0_k|) (h_k alone for f = NONE) to first order and
 * e2_i = sum |coef| h_k h_f to second (generators are unit), so along the segment C0 + t E1 + t^2 E2 (t in [0, 1])
 * ||C'|| <= eta1 + 2 eps2, ||C''|| <= 2 eps2 and sigma_min(C) >= sig - eta1 - eps2 = sig', with
 * eta1 = sqrt(sum_i e1_i^2), eps2 = sqrt(sum_i e2_i^2).  With L~'' >= -2 k1 ||C'||^2 / sig'^2 - 2 k2 ||C''|| / sig'
 * (see curvature; the term in C'' is the gradient's -2 <X, C'' W>), L~ >= f0 - lin - k1 c1 - k2 c2, c1 =
 * (eta1 + 2 eps2)^2 / sig'^2, c2 = 2 eps2 / sig', lin = sum_k |dL~/dl_k| h_k with dL~/dl_k = -2 sum_i
 * <dc_i/dl_k, Res W_i^T>.  The gradient goes to w->ev.grad, the side to bisect to rec[2] (its share of lin and of
 * the curvature term); *eta the bound on ||C - C0|| over the box, *smooth whether the bound is finite.  Returns the
 * bound, -inf where sig' <= 0. */
static double
curved_bound(struct sdlab_bnb_workspace *w, double *rec, size_t ch, double f0, double smax, double sig, double gam,
             double *eta, int *smooth)
{
  const size_t K = w->K, n = w->n, q = w->q, nr = w->nr;
  const double *lo = rec + HEAD, *hi = rec + HEAD + K, *l = w->ev.l;
  const struct bnb_term *term = w->chart.term + w->chart.tfirst[ch], *end = term + w->chart.tcount[ch];
  double *e = w->ev.grad + K, *dn = w->ev.cperp; /* e1 then e2 per column (2q); per coordinate ||dC/dl_k|| */
  for (size_t k = 0; k < K; k++) {
    double gr[64], *r = w->ev.gr + k * q;
    w->ev.grad[k] = dn[k] = 0;
    for (size_t i = 0; i < q; i++)
      r[i] = 0;
    if (hi[k] == 0 && lo[k] == 0)
      continue; /* a coordinate fixed at 0 multiplies nothing it could move */
    for (size_t a0 = 0; a0 < nr; a0 += 64) {
      const size_t na = nr - a0 < 64 ? nr - a0 : 64;
      for (size_t a = 0; a < na; a++) {
        gr[a] = 0;
        for (size_t d = 0; d < n; d++)
          gr[a] += w->cone.gen[k * n + d] * gsl_matrix_get(w->ev.Res, d, a0 + a);
      }
      for (size_t i = 0; i < q; i++)
        for (size_t a = 0; a < na; a++)
          r[i] += gr[a] * gsl_matrix_get(w->ev.W, i, a0 + a);
    }
  }
  for (size_t i = 0; i < 2 * q; i++)
    e[i] = 0;
  for (; term < end; term++) {
    const size_t k = term->k, f = term->f, i = term->col;
    const double hk = 0.5 * (hi[k] - lo[k]), ck = fabs(term->coef), rk = w->ev.gr[k * q + i];
    if (f == NONE) {
      w->ev.grad[k] += -2 * term->coef * rk;
      e[i] += ck * hk;
      dn[k] += ck;
      continue;
    }
    const double hf = 0.5 * (hi[f] - lo[f]);
    w->ev.grad[k] += -2 * term->coef * l[f] * rk;
    w->ev.grad[f] += -2 * term->coef * l[k] * rk;
    e[i] += ck * (hk * fabs(l[f]) + hf * fabs(l[k]));
    e[q + i] += ck * hk * hf;
    dn[k] += ck * (fabs(l[f]) + hf);
    dn[f] += ck * (fabs(l[k]) + hk);
  }
  double lin = 0, e1 = 0, e2 = 0;
  for (size_t k = 0; k < K; k++)
    lin += fabs(w->ev.grad[k]) * 0.5 * (hi[k] - lo[k]);
  for (size_t i = 0; i < q; i++) {
    e1 += e[i] * e[i];
    e2 += e[q + i] * e[q + i];
  }
  const double eta1 = sqrt(e1), eps2 = sqrt(e2), sigp = sig - eta1 - eps2, E = w->energy;
  *eta = eta1 + eps2;
  *smooth = 0;
  if (!(q <= n && sigp > 0))
    return -INFINITY;
  const double phi = 0.5 * (1 + sqrt(5.0)), kappa = smax / sigp, v = eta1 + 2 * eps2;
  const double c1 = v * v / (sigp * sigp), c2 = 2 * eps2 / sigp, round = gam * kappa * (lin + E);
  double k1, k2, top = 0;
  curvature(E, f0 + lin + phi * E * c1 + 0.5 * E * c2 + round, &k1, &k2);
  for (size_t k = 0; k < K; k++) { /* d/dh_k of lin + k1 c1 + k2 c2, with dv/dh_k <= dn_k */
    const double c = (fabs(w->ev.grad[k]) + 2 * k1 * v * dn[k] / (sigp * sigp) + 2 * k2 * dn[k] / sigp) *
                     0.5 * (hi[k] - lo[k]);
    if (c > top) {
      top = c;
      rec[2] = (double)k;
    }
  }
  const double bound = f0 - lin - k1 * c1 - k2 * c2 - round;
  *smooth = bound > -INFINITY;
  return bound;
}

/* The bounds on a box of an affine chart (centre in w->ev.l, C0's fit done; sig = sigma_min(C0) less its rounding):
 * the affine and the frame bounds of sdlab_bnb.h, the gradient into w->ev.grad and the side to bisect into rec[2];
 * *eta the bound on ||C - C0|| over the box, *smooth whether either bound applied.  The best of them, -inf if none. */
static double
affine_bound(struct sdlab_bnb_workspace *w, double *rec, double f0, double smax, double sig, double gam,
             double *eta_out, int *smooth)
{
  const size_t K = w->K, n = w->n, q = w->q, nr = w->nr;
  const double *lo = rec + HEAD, *hi = rec + HEAD + K;
  /* dL~/dl_k = -2 sum_a <g_k, res_a> W_ia (envelope theorem: W_D at its optimum) */
  double lin = 0, eta2 = 0;
  for (size_t i = 0; i < q; i++) {
    double hsum = 0;
    for (size_t k = w->cone.off[i]; k < w->cone.off[i] + w->cone.count[i]; k++) {
      const double h = 0.5 * (hi[k] - lo[k]);
      double gk = 0;
      for (size_t a = 0; a < nr; a++) {
        double gr = 0;
        for (size_t d = 0; d < n; d++)
          gr += w->cone.gen[k * n + d] * gsl_matrix_get(w->ev.Res, d, a);
        gk += gr * gsl_matrix_get(w->ev.W, i, a);
      }
      w->ev.grad[k] = -2 * gk;
      lin += fabs(w->ev.grad[k]) * h;
      hsum += h;
    }
    eta2 += hsum * hsum;
  }
  const double eta = sqrt(eta2);
  *eta_out = eta;
  const double phi = 0.5 * (1 + sqrt(5.0)); /* the curvature constant: see sdlab_bnb.h */
  double lb = -INFINITY;
  *smooth = 0;
  const double E = w->energy;
  double k1, k2;
  if (q <= n && sig > eta) {
    /* the affine bound: ||C'|| <= eta, sigma >= sig - eta; the same expansion bounds L~ from above */
    const double kappa = smax / (sig - eta), c1 = eta2 / ((sig - eta) * (sig - eta)), round = gam * kappa * (lin + E);
    curvature(E, f0 + lin + phi * E * c1 + round, &k1, &k2);
    lb = fmax(lb, f0 - lin - k1 * c1 - round);
    *smooth = 1;
  }
  if (q <= n && sig > 0) {
    /* the frame bound: along a segment the span is that of U + tau N (I + tau H)^-1, whose smallest singular
     * value is at least 1 */
    const double kappa = smax / sig;
    double nperp, hpar;
    frame_sizes(w, lo, hi, gam * kappa, &nperp, &hpar);
    const double m = hpar < 1 ? 1 / (1 - hpar) : 0;
    if (hpar < 1) {
      /* ||C'|| <= nperp m^2 and ||C''|| <= 2 nperp hpar m^3 along the segment, sigma >= 1 */
      const double c1 = nperp * nperp * pow(m, 4), c2 = 2 * nperp * hpar * pow(m, 3), round = gam * kappa * (lin + E);
      curvature(E, f0 + lin + phi * E * c1 + 0.5 * E * c2 + round, &k1, &k2);
      lb = fmax(lb, f0 - lin - k1 * c1 - k2 * c2 - round);
      *smooth = 1;
    }
    /* bisect the side that costs the bound most: its share of the first-order term and of the curvature
     * term (by the derivative in nperp and hpar), or while hpar >= 1 of nperp + hpar */
    double top = 0;
    for (size_t k = 0; k < K; k++) {
      const double h = 0.5 * (hi[k] - lo[k]);
      const double c = hpar < 1 ? fabs(w->ev.grad[k]) * h + w->energy * (w->ev.cperp[k] * (2 * phi * nperp * pow(m, 4) +
                                   hpar * pow(m, 3)) + w->ev.cpar[k] * nperp * pow(m, 3))
                                 : w->ev.cperp[k] + w->ev.cpar[k];
      if (c > top) {
        top = c;
        rec[2] = (double)k;
      }
    }
  }
  return lb;
}

/* Offer the point at coordinates l of chart ch: its plain coordinates, their codes and fit, then offer. */
static int
offer_at(sdlab_bnb *b, const double *l, size_t ch)
{
  struct sdlab_bnb_workspace *w = b->w;
  const double *x = l;
  if (ch != 0) {
    unchart(w, l, ch, sqrt(DBL_EPSILON), w->ev.lp);
    x = w->ev.lp;
  }
  double smax, smin;
  codes(w, x, 0);
  return offer(b, x, fit(w, &smax, &smin));
}

/* In a shared-face chart (see face_charts), whether some a_xf = alpha_f - s t_f (a negative sign) is below 0
 * on the whole box: no point of x's cone there */
static int
face_infeasible(const struct sdlab_bnb_workspace *w, const double *lo, const double *hi, size_t ch)
{
  if (w->chart.face_k[ch * FACES] == NONE)
    return 0;
  const size_t vm = scale_coordinate(w, ch);
  for (size_t f = 0; f < FACES && w->chart.face_k[ch * FACES + f] != NONE; f++) {
    const size_t fk = w->chart.face_k[ch * FACES + f];
    if (w->chart.face_sg[ch * FACES + f] < 0 &&
        hi[w->chart.face_a[ch * FACES + f]] - lo[vm] * (w->chart.face_s[ch * FACES + f] ? 1.0 : lo[fk]) < 0)
      return 1;
  }
  return 0;
}

/* A binary heap of record indices, heap[0 .. *count), least sign * (record's first double) on top; records of
 * stride doubles in pool.  The boxes' queue (sign 1: least lower bound first) and the one-neuron search's (sign
 * -1: largest upper bound first). */
static void
index_heap_push(size_t *heap, size_t *count, const double *pool, size_t stride, double sign, size_t id)
{
  size_t k = (*count)++;
  heap[k] = id;
  while (k > 0) {
    size_t p = (k - 1) / 2;
    if (!(sign * pool[heap[k] * stride] < sign * pool[heap[p] * stride]))
      break;
    size_t t = heap[k];
    heap[k] = heap[p];
    heap[p] = t;
    k = p;
  }
}

static size_t
index_heap_pop(size_t *heap, size_t *count, const double *pool, size_t stride, double sign)
{
  size_t top = heap[0];
  heap[0] = heap[--*count];
  size_t k = 0;
  for (;;) {
    size_t l = 2 * k + 1, r = l + 1, m = k;
    if (l < *count && sign * pool[heap[l] * stride] < sign * pool[heap[m] * stride])
      m = l;
    if (r < *count && sign * pool[heap[r] * stride] < sign * pool[heap[m] * stride])
      m = r;
    if (m == k)
      break;
    size_t t = heap[k];
    heap[k] = heap[m];
    heap[m] = t;
    k = m;
  }
  return top;
}

/* phi(c) = max over q-dimensional V containing c of tr(P_V S) = u^T S u + the m = q - 1 largest eigenvalues of
 * M = (I - u u^T) S (I - u u^T), u = c / |c| (Ky Fan; S is x->S, P_B R R^T P_B).  Also, into x->g, phi's gradient
 * on the sphere at u, g = 2 (S u - (u^T S u) u) - 2 sum over the m top eigenvectors v_i of M of (u^T S v_i) v_i
 * (the derivative of a simple group of eigenvalues, d tr(V^T M V) = tr(V^T dM V), with v_i orthogonal to u), and
 * into *gap the gap lambda_m - lambda_(m+1) of M (the gradient holds where it is positive; infinite for q = 1) */
static double
relax_phi(struct bnb_relax *x, size_t n, size_t q, const double *c, double *gap)
{
  double nc = 0, r = 0;
  for (size_t d = 0; d < n; d++)
    nc += c[d] * c[d];
  for (size_t d = 0; d < n; d++)
    x->u[d] = c[d] / sqrt(nc);
  for (size_t d = 0; d < n; d++) {
    x->Su[d] = 0;
    for (size_t e = 0; e < n; e++)
      x->Su[d] += x->S[d * n + e] * x->u[e];
    r += x->u[d] * x->Su[d];
  }
  for (size_t d = 0; d < n; d++) {
    x->g[d] = 2 * (x->Su[d] - r * x->u[d]);
    for (size_t e = 0; e < n; e++)
      gsl_matrix_set(x->M, d, e, x->S[d * n + e] - x->u[d] * x->Su[e] - x->Su[d] * x->u[e] + r * x->u[d] * x->u[e]);
  }
  gsl_eigen_symmv(x->M, x->ev, x->V, x->eig);
  gsl_eigen_symmv_sort(x->ev, x->V, GSL_EIGEN_SORT_VAL_DESC);
  const size_t m = q - 1 < n ? q - 1 : n;
  for (size_t t = 0; t < m; t++) {
    gsl_vector_const_view v = gsl_matrix_const_column(x->V, t);
    double uSv = 0;
    for (size_t d = 0; d < n; d++)
      uSv += x->Su[d] * gsl_vector_get(&v.vector, d);
    for (size_t d = 0; d < n; d++)
      x->g[d] -= 2 * uSv * gsl_vector_get(&v.vector, d);
    r += gsl_vector_get(x->ev, t);
  }
  *gap = m == 0 ? INFINITY : m < n ? gsl_vector_get(x->ev, m - 1) - gsl_vector_get(x->ev, m) : 0.0;
  return r;
}

/* The centroid of a simplex (k vertices v of n) into c, and the largest squared distance of a vertex from it */
static double
simplex_centre(const double *v, size_t k, size_t n, double *c)
{
  double r = 0;
  for (size_t d = 0; d < n; d++) {
    c[d] = 0;
    for (size_t j = 0; j < k; j++)
      c[d] += v[j * n + d];
    c[d] /= (double)k;
  }
  for (size_t j = 0; j < k; j++) {
    double e = 0;
    for (size_t d = 0; d < n; d++)
      e += (v[j * n + d] - c[d]) * (v[j * n + d] - c[d]);
    r = fmax(r, e);
  }
  return r;
}

/* A simplex of a cone (its k vertices v): its centroid's phi (into *val) and its upper bound, the smaller of two.
 * Every point c of the simplex is within rho = max_j |v_j - cbar| of the centroid cbar, so at an angle theta from
 * it with s = sin(theta) <= rho / |cbar| (while below 1).
 * First order: phi moves by at most q (l_1 - l_n) sin(theta) between codes at angle theta (rotate the maximising
 * frame with the code: each of its q unit vectors moves by at most theta, and |v^T S v - v'^T S v'| =
 * |(v - v')^T (S - c I) (v + v')| <= (l_1 - l_n) sin(angle)).
 * Second order, along the great circle u(t) = cos(t) u + sin(t) w from the centroid's u to c's (inside the cone):
 * phi(c) <= phi(u) + theta g.w + theta^2 H / 2, where theta g.w = (theta / sin theta) g.c / |c| <= (Theta / s)
 * max(0, max_j g.v_j) / (|cbar| - rho), and H bounds phi'' on the arc: (u^T S u)'' = 2 (u'^T S u' - u^T S u) <=
 * 2 (l_1 - l_n) (u, u' in B), and, with P = I - u u^T (|P'| = 1, |P''| = 2), |M'| <= 2 l_1, |M''| <= 6 l_1, so the
 * sum of the m = q - 1 largest eigenvalues of M, while a gap gam > 0 separates them from the rest, has second
 * derivative tr(V^T M'' V) + 2 sum_(i <= m < j) (v_j^T M' v_i)^2 / (l_i - l_j) <= m (6 l_1 + 8 l_1^2 / gam).  The gap
 * on the arc is at least the centroid's less 4 l_1 s (Weyl: |M(t) - M(0)| <= 2 l_1 sin t) less its rounding.  The
 * gradient's rounding (its eigenvectors' error, about n eps l_1 / gap) moves the linear term by about n eps l_1^2 rho
 * / gam, a share n eps rho / (4 theta^2) of the curvature term's 4 l_1^2 theta^2 / gam: negligible but at theta
 * near eps, where both are below the margin. */
static double
relax_simplex(struct sdlab_bnb_workspace *w, const double *v, size_t k, double *val)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n;
  double *cbar = x->cbar, nb = 0, gap;
  const double rho = sqrt(simplex_centre(v, k, n, cbar));
  for (size_t d = 0; d < n; d++)
    nb += cbar[d] * cbar[d];
  nb = sqrt(nb);
  *val = relax_phi(x, n, x->dim, cbar, &gap);
  const double s = fmin(1.0, rho / nb), l1 = x->top;
  double up = *val + (double)x->dim * x->spread * s;
  const double gam = gap - 4 * l1 * s - 2 * (double)(16 * n) * DBL_EPSILON * l1;
  if (s < 1 && gam > 0) {
    const double theta = asin(s), m = (double)(x->dim - 1);
    double lin = 0;
    for (size_t j = 0; j < k; j++) {
      double gv = 0;
      for (size_t d = 0; d < n; d++)
        gv += x->g[d] * v[j * n + d];
      lin = fmax(lin, gv);
    }
    if (lin > 0)
      lin *= (s > 0 ? theta / s : 1.0) / (nb - rho);
    const double H = 2 * x->spread + (m > 0 ? m * (6 * l1 + 8 * l1 * l1 / gam) : 0.0);
    up = fmin(up, *val + lin + 0.5 * theta * theta * H);
  }
  return up;
}

/* relax_simplex on record id of the search, its bound (plus margin) stored in the record */
static double
relax_node(struct sdlab_bnb_workspace *w, size_t id, double margin, double *val)
{
  struct bnb_relax *x = &w->rx;
  double *rec = x->node + id * (2 + x->kmax * w->n);
  rec[0] = relax_simplex(w, rec + 2, (size_t)rec[1], val) + margin;
  return rec[0];
}

/* relax_node on simplex id of neuron i's search, keeping the largest phi found (into *best, its code into
 * neuron i's arg) */
static void
relax_keep(struct sdlab_bnb_workspace *w, size_t i, size_t id, double margin, double *best)
{
  double val;
  relax_node(w, id, margin, &val);
  if (val > *best) {
    *best = w->rx.argv[i] = val;
    memcpy(w->rx.arg + i * w->n, w->rx.cbar, w->n * sizeof *w->rx.arg);
  }
}

/* The longest edge of a simplex (k vertices v of n): its squared length, its ends into *ea < *eb (the first such
 * pair; 0 with *ea, *eb untouched for a single vertex) */
static double
longest_edge(const double *v, size_t k, size_t n, size_t *ea, size_t *eb)
{
  double len = 0;
  for (size_t j = 0; j < k; j++)
    for (size_t l = j + 1; l < k; l++) {
      double e = 0;
      for (size_t d = 0; d < n; d++)
        e += (v[j * n + d] - v[l * n + d]) * (v[j * n + d] - v[l * n + d]);
      if (e > len) {
        len = e;
        *ea = j;
        *eb = l;
      }
    }
  return len;
}

/* Bisect a simplex across its edge (ea, eb): keep (k vertices of n) gets the midpoint in place of vertex ea, copy
 * (the same vertices) in place of vertex eb */
static void
split_edge(double *keep, double *copy, size_t ea, size_t eb, size_t n)
{
  for (size_t d = 0; d < n; d++) {
    const double mid = 0.5 * (keep[ea * n + d] + keep[eb * n + d]);
    keep[ea * n + d] = mid;
    copy[eb * n + d] = mid;
  }
}

/* The vertices of simplex t of neuron i's cover (the generators in its triangulation's mask) into v; their count */
static size_t
cover_simplex(const struct sdlab_bnb_workspace *w, size_t i, size_t t, double *v)
{
  size_t k = 0;
  for (size_t j = 0; j < w->cone.count[i] && j < 64; j++)
    if (w->cone.tri[t] >> j & 1)
      memcpy(v + (k++) * w->n, w->cone.gen + (w->cone.off[i] + j) * w->n, w->n * sizeof *v);
  return k;
}

/* The one-neuron bound, for the whole piece: V = span of the codes contains a code c_i of each live neuron i (or,
 * where W_D grows without bound, a limit of them, in the closed cone K_i), so
 *   L~ >= ||R||^2 - min over i of (max over c in K_i of phi(c))     (phi: see relax_phi),
 * which needs no conditioning of the codes and so bounds the pieces whose boxes stay at the span bound (their
 * codes' smallest singular value small against the boxes' widths).  The max over K_i is bounded by a best-first
 * branch and bound over the simplices of K_i's cover (their sections conv{g_j}, bisected across their longest edge;
 * see relax_node), up to RELAX_NODES simplices or until its bound is within 1e-9 ||R||^2 of the best phi found; a
 * neuron whose best phi already reaches the smallest bound so far is left.  -inf without live neurons. */
static double
one_neuron_bound(struct sdlab_bnb_workspace *w)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, stride = 2 + x->kmax * n;
  if (w->q == 0 || n > 64)
    return -INFINITY;
  const double margin = 2 * (double)(16 * (n + w->q + w->nr)) * DBL_EPSILON * w->energy, tol = 1e-9 * w->energy;
  double least = INFINITY;
  for (size_t i = 0; i < w->q; i++) {
    size_t used = 0, spent = 0;
    double best = x->argv[i] = -INFINITY;
    x->heaped = 0;
    for (size_t t = w->cone.toff[i]; t < w->cone.toff[i + 1]; t++) {
      double *rec = x->node + used * stride;
      rec[1] = (double)cover_simplex(w, i, t, rec + 2);
      relax_keep(w, i, used, margin, &best);
      index_heap_push(x->heap, &x->heaped, x->node, stride, -1.0, used++);
    }
    while (x->heaped && spent < RELAX_NODES && best < least && x->node[x->heap[0] * stride] - best > tol) {
      const size_t id = x->heap[0];
      double *a = x->node + id * stride, *v = a + 2;
      size_t ea = 0, eb = 0;
      const double len = longest_edge(v, (size_t)a[1], n, &ea, &eb);
      if (len == 0)
        break; /* a single code on top: its bound is phi there (and the margin) */
      const size_t other = used++;
      double *c = x->node + other * stride;
      index_heap_pop(x->heap, &x->heaped, x->node, stride, -1.0);
      memcpy(c, a, stride * sizeof *c);
      split_edge(v, c + 2, ea, eb, n);
      relax_keep(w, i, id, margin, &best);
      relax_keep(w, i, other, margin, &best);
      index_heap_push(x->heap, &x->heaped, x->node, stride, -1.0, id);
      index_heap_push(x->heap, &x->heaped, x->node, stride, -1.0, other);
      spent++;
    }
    x->argup[i] = fmax(best, x->heaped ? x->node[x->heap[0] * stride] : best);
    if (best >= least)
      continue; /* this neuron cannot lower the least bound */
    least = fmin(least, x->argup[i]);
  }
  return w->energy - least - margin;
}

/* The indices of mask m's set bits among the first count into pick; their number */
static size_t
mask_bits(uint64_t m, size_t count, size_t *pick)
{
  size_t k = 0;
  for (size_t j = 0; j < count; j++)
    if (m >> j & 1)
      pick[k++] = j;
  return k;
}

/* The error angle of an eigenvector computed on a subspace known to within angle (Davis and Kahan: that angle and
 * the rounding unit times l_1 over the eigenvalue's gap), with a factor 4: the tolerance of the membership tests of
 * hyperplane_bound, fixed_code_rank and wedge_cone_max */
static double
eigvec_tolerance(double angle, double unit, double l1, double gap)
{
  return 4 * (angle * (1 + 2 * l1 / gap) + unit * l1 / gap);
}

/* An orthonormal basis (rows of Q, n entries) of the span of the k unit vectors v[pick[.]] by Gram-Schmidt (twice),
 * with R (k x k, upper triangular: v = Q^T R) and the least R_tt into *rmin; 0 when they are dependent at the
 * rounding level (R_tt <= 64 n eps) */
static int
gram_schmidt(const double *v, const size_t *pick, size_t k, size_t n, double *Q, double *R, double *rmin)
{
  *rmin = 1;
  for (size_t t = 0; t < k; t++) {
    double *qt = Q + t * n, nn = 0;
    memcpy(qt, v + pick[t] * n, n * sizeof *qt);
    for (size_t s = 0; s < k; s++)
      R[s * k + t] = 0;
    for (int pass = 0; pass < 2; pass++)
      for (size_t s = 0; s < t; s++) {
        double z = 0;
        for (size_t d = 0; d < n; d++)
          z += Q[s * n + d] * qt[d];
        R[s * k + t] += z;
        for (size_t d = 0; d < n; d++)
          qt[d] -= z * Q[s * n + d];
      }
    for (size_t d = 0; d < n; d++)
      nn += qt[d] * qt[d];
    nn = sqrt(nn);
    R[t * k + t] = nn;
    *rmin = fmin(*rmin, nn);
    if (!(nn > (double)(64 * n) * DBL_EPSILON))
      return 0;
    for (size_t d = 0; d < n; d++)
      qt[d] /= nn;
  }
  return 1;
}

/* The coefficients alpha (k) with R alpha = y, R upper triangular (k x k, gram_schmidt's), by back-substitution; alpha
 * scattered into out at pick (out[pick[t]] = alpha_t) */
static void
upper_solve(const double *R, size_t k, const double *y, const size_t *pick, double *out)
{
  for (size_t t = k; t-- > 0;) {
    double z = y[t];
    for (size_t v = t + 1; v < k; v++)
      z -= R[t * k + v] * out[pick[v]];
    out[pick[t]] = z / R[t * k + t];
  }
}

/* Whether u (n entries) has coefficients of one sign, up to tol, on the k vectors Q^T R (gram_schmidt's): alpha =
 * R^-1 Q u, each allowed tol times its row of R^-1 (row: scratch of 2 k) */
static int
one_signed(const double *Q, const double *R, size_t k, size_t n, const double *u, double tol, double *row)
{
  int pos = 1, neg = 1;
  double *qu = row + k;
  for (size_t t = 0; t < k; t++) {
    qu[t] = 0;
    for (size_t d = 0; d < n; d++)
      qu[t] += Q[t * n + d] * u[d];
  }
  for (size_t s = 0; s < k; s++) {
    double alpha = 0, len = 0;
    for (size_t t = 0; t < k; t++) {
      double z = t == s ? 1.0 : 0.0;
      for (size_t v = s; v < t; v++)
        z -= row[v] * R[v * k + t];
      row[t] = t < s ? 0.0 : z / R[t * k + t];
      alpha += row[t] * qu[t];
      len += row[t] * row[t];
    }
    pos &= alpha >= -tol * sqrt(len);
    neg &= alpha <= tol * sqrt(len);
  }
  return pos || neg;
}

/* Q A2 Q^T into M (k x k): A2 compressed to the span of the k orthonormal rows x->wq */
static void
wedge_compress(struct bnb_relax *x, size_t k, gsl_matrix *M)
{
  const size_t n2 = x->n2;
  for (size_t a = 0; a < k; a++) {
    for (size_t d = 0; d < n2; d++) {
      x->wu[d] = 0;
      for (size_t f = 0; f < n2; f++)
        x->wu[d] += x->A2[d * n2 + f] * x->wq[a * n2 + f];
    }
    for (size_t b = 0; b <= a; b++) {
      double z = 0;
      for (size_t d = 0; d < n2; d++)
        z += x->wq[b * n2 + d] * x->wu[d];
      gsl_matrix_set(M, a, b, z);
      gsl_matrix_set(M, b, a, z);
    }
  }
}

/* The top eigenvector of A2 on the span of the bivectors of mask (independent: an exact subset of wedge_cone_max) as
 * coefficients on them, of the sign that makes their sum positive, into x->wcoef (0 off the mask) */
static void
wedge_coefficients(struct bnb_relax *x, size_t m, uint64_t mask)
{
  const size_t n2 = x->n2;
  size_t pick[64];
  const size_t k = mask_bits(mask, m, pick);
  double rmin, sum = 0;
  for (size_t t = 0; t < m; t++)
    x->wcoef[t] = 0;
  if (!gram_schmidt(x->wg, pick, k, n2, x->wq, x->wr, &rmin))
    return;
  gsl_matrix_view M = gsl_matrix_submatrix(x->wM, 0, 0, k, k), Y = gsl_matrix_submatrix(x->wV, 0, 0, k, k);
  gsl_vector_view e = gsl_vector_subvector(x->wev, 0, k);
  wedge_compress(x, k, &M.matrix);
  gsl_eigen_symmv(&M.matrix, &e.vector, &Y.matrix, x->weig);
  gsl_eigen_symmv_sort(&e.vector, &Y.matrix, GSL_EIGEN_SORT_VAL_DESC);
  for (size_t t = 0; t < k; t++) /* alpha = R^-1 y (Q^T y is the eigenvector, so Q of it is y) */
    x->wu[t] = gsl_matrix_get(&Y.matrix, t, 0);
  upper_solve(x->wr, k, x->wu, pick, x->wcoef);
  for (size_t t = k; t-- > 0;)
    sum += x->wcoef[pick[t]];
  for (size_t t = 0; t < k && sum < 0; t++)
    x->wcoef[pick[t]] = -x->wcoef[pick[t]];
}

/* The vertex bound of the cone of the bivectors of mask (see wedge_cone_max): their largest quotient (x->wnum) plus
 * rounding over their least inner product (x->wgram; 1 for one vector), less rounding; INFINITY where that is not
 * positive */
static double
wedge_vertices(const struct bnb_relax *x, size_t m, uint64_t mask, double unit, double l1)
{
  double top = -INFINITY, gmin = 1;
  for (size_t t = 0; t < m; t++) {
    if (!(mask >> t & 1))
      continue;
    top = fmax(top, x->wnum[t]);
    for (size_t u = 0; u < t; u++)
      if (mask >> u & 1)
        gmin = fmin(gmin, x->wgram[t * m + u]);
  }
  gmin -= unit;
  return gmin > 0 ? (top + 2 * unit * l1) / gmin : INFINITY;
}

/* The largest Rayleigh quotient of A2 over the cone of the m unit bivectors x->wg (WEDGE_GENS at most).
 *  - First by vertices: omega = sum gamma_t v_t with sum gamma_t = 1 (the quotient does not see the scale) has
 *    omega^T A2 omega <= max_t v_t^T A2 v_t (a convex function: A2 is positive semidefinite, as S_B) and |omega|^2 >=
 *    min_st <v_s, v_t> where that is positive, so the quotient is at most the vertices' largest over that: exact to
 *    the second order in the cone's angular width, cheap, and enough for most of a search's records; the largest
 *    vertex value itself is reached (a generator is in the cone).
 *  - Then exactly, by faces: a maximiser lies in the relative interior of cone(T) for an independent subset T
 *    (Caratheodory), where it is a local, hence global, maximum of the quotient on span(T): a top eigenvector of A2
 *    there.  A best-first search over subsets from the whole set: a subset's key bounds every subset of it (its
 *    span's top eigenvalue, plus the rounding of Q's angle 16 n2 eps (1 + 1 / rmin) as in fixed_code_rank, or its
 *    parent's key where its vectors are dependent at the rounding level, gram_schmidt's test: Caratheodory's T lies
 *    below it); a subset on top whose top eigenvector has one-signed coefficients on it (up to eigvec_tolerance;
 *    above 1e-3 taken untested) is exact; any other is replaced by its subsets of one vector less.  Eigenvectors
 *    are computed only for subsets that come to the top.
 * The key on top bounds the quotient over the cone at every step, so the search returns it as soon as it is exact,
 * at most stop (the caller's use for the bound ends there) or the largest vertex value, or after WEDGE_EVALS
 * subsets' spans.  With want, the maximiser's coefficients into x->wcoef (see wedge_coefficients; the best vertex
 * where the search ended at the vertices' value).  A subset thinner than rounding taken as dependent is a decision
 * at the rounding level (as gram_schmidt's). */
#define WEDGE_EVALS 512
#define WEDGE_OPEN 0
#define WEDGE_VALUED 1
#define WEDGE_EXACT 2
static double
wedge_cone_max(struct bnb_relax *x, size_t m, double stop, double slack, int want)
{
  const size_t n2 = x->n2, stride = 3;
  const uint64_t full = ((uint64_t)1 << m) - 1;
  const double unit = (double)(16 * n2) * DBL_EPSILON, l1 = 2 * x->top;
  double *pool = x->wrec, vmax = -INFINITY;
  size_t used = 1, heaped = 0, evals = 0, vbest = 0;
  for (size_t t = 0; t < m; t++) {
    const double *v = x->wg + t * n2;
    double z = 0;
    for (size_t d = 0; d < n2; d++)
      for (size_t f = 0; f < n2; f++)
        z += v[d] * x->A2[d * n2 + f] * v[f];
    x->wnum[t] = z;
    if (z > vmax) {
      vmax = z;
      vbest = t;
    }
    for (size_t u = 0; u < t; u++) {
      double g = 0;
      for (size_t d = 0; d < n2; d++)
        g += v[d] * x->wg[u * n2 + d];
      x->wgram[t * m + u] = x->wgram[u * m + t] = g;
    }
  }
  memset(x->wseen, 0, (((size_t)1 << m) / 64 + 1) * sizeof *x->wseen);
  pool[0] = wedge_vertices(x, m, full, unit, l1);
  pool[1] = (double)full;
  pool[2] = WEDGE_OPEN;
  index_heap_push(x->wheap, &heaped, pool, stride, -1.0, 0);
  while (heaped) {
    const size_t id = x->wheap[0];
    double *r = pool + id * stride;
    const double key = r[0];
    if (key <= fmax(stop, vmax + slack) || r[2] == WEDGE_EXACT || evals >= WEDGE_EVALS) {
      if (want && r[2] == WEDGE_EXACT)
        wedge_coefficients(x, m, (uint64_t)r[1]);
      else if (want && key <= vmax + slack)
        x->wcoef[vbest] = 1;
      return key;
    }
    index_heap_pop(x->wheap, &heaped, pool, stride, -1.0);
    const uint64_t mask = (uint64_t)r[1];
    size_t pick[64];
    const size_t k = mask_bits(mask, m, pick);
    double rmin;
    if (k <= n2 && gram_schmidt(x->wg, pick, k, n2, x->wq, x->wr, &rmin)) {
      gsl_matrix_view M = gsl_matrix_submatrix(x->wM, 0, 0, k, k), Y = gsl_matrix_submatrix(x->wV, 0, 0, k, k);
      gsl_vector_view e = gsl_vector_subvector(x->wev, 0, k);
      const double angle = unit * (1 + 1 / rmin);
      wedge_compress(x, k, &M.matrix);
      if (r[2] == WEDGE_OPEN) { /* its key: the top eigenvalue */
        gsl_eigen_symm(&M.matrix, &e.vector, x->weigv[k]);
        evals++;
        r[0] = fmin(key, gsl_vector_max(&e.vector) + 2 * l1 * angle + unit * l1);
        r[2] = WEDGE_VALUED;
        index_heap_push(x->wheap, &heaped, pool, stride, -1.0, id);
        continue;
      }
      gsl_eigen_symmv(&M.matrix, &e.vector, &Y.matrix, x->weig);
      gsl_eigen_symmv_sort(&e.vector, &Y.matrix, GSL_EIGEN_SORT_VAL_DESC);
      const double top = gsl_vector_get(&e.vector, 0), gap = k > 1 ? top - gsl_vector_get(&e.vector, 1) : INFINITY;
      const double tol = eigvec_tolerance(angle, unit, l1, gap);
      for (size_t d = 0; d < n2; d++) {
        x->wu[d] = 0;
        for (size_t a = 0; a < k; a++)
          x->wu[d] += gsl_matrix_get(&Y.matrix, a, 0) * x->wq[a * n2 + d];
      }
      if (tol > 1e-3 || one_signed(x->wq, x->wr, k, n2, x->wu, tol, x->wrow)) {
        r[2] = WEDGE_EXACT;
        index_heap_push(x->wheap, &heaped, pool, stride, -1.0, id);
        continue;
      }
    }
    for (size_t t = 0; t < k; t++) { /* not exact, or dependent: the subsets of one vector less, under this key */
      const uint64_t child = mask & ~((uint64_t)1 << pick[t]);
      if (child == 0 || (x->wseen[child / 64] >> (child % 64) & 1))
        continue;
      x->wseen[child / 64] |= (uint64_t)1 << (child % 64);
      double *c = pool + used * stride;
      c[0] = fmin(key, wedge_vertices(x, m, child, unit, l1));
      c[1] = (double)child;
      c[2] = WEDGE_OPEN;
      index_heap_push(x->wheap, &heaped, pool, stride, -1.0, used++);
    }
  }
  return INFINITY; /* not reached: a single vector is always exact */
}

/* The bivector a ^ b (a, b of n entries) in B's coordinates into g (n2), omega_kl = a_k b_l - a_l b_k; its squared
 * norm, or 0 where a and b are parallel at the rounding level (|a ^ b| <= 64 n2 eps |a| |b|) */
static double
wedge_of(const struct bnb_relax *x, size_t n, const double *a, const double *b, double *g)
{
  const size_t nb = x->nb, n2 = x->n2, *at = x->at;
  double len = 0, na = 0, nbb = 0;
  for (size_t k = 0, r = 0; k < nb; k++)
    for (size_t l = k + 1; l < nb; l++, r++) {
      g[r] = a[at[k]] * b[at[l]] - a[at[l]] * b[at[k]];
      len += g[r] * g[r];
    }
  for (size_t d = 0; d < n; d++) {
    na += a[d] * a[d];
    nbb += b[d] * b[d];
  }
  return sqrt(len) > (double)(64 * n2) * DBL_EPSILON * sqrt(na * nbb) ? len : 0.0;
}

/* The wedge bound on tr(P_span{a,b} S_B) over a in cone(A), b in cone(B) (simplices of ka and kb vertices of n), for
 * q = 2: the bivectors a ^ b = sum_ij alpha_i beta_j (g_i ^ h_j) lie in the cone of the g_i ^ h_j (the products
 * alpha_i beta_j >= 0 relaxed to any nonnegative weights), and the quotient omega^T A2 omega / |omega|^2 is
 * tr(P_span{a,b} S_B) at omega = a ^ b, so its largest value over that cone (wedge_cone_max) bounds the pair's, with
 * the limits where a and b become parallel (the cone's directions are closed).  Exact in the first order: with
 * g_i = c + e_i, h_j = d + f_j, a weighted sum is (c + e) ^ (d + f) (e, f the marginal averages, a pair of the
 * product) plus sum_ij gamma_ij e_i ^ f_j - e ^ f, at most twice the product of the radii: the bound's excess is of
 * the second order in the simplices' size, over |c ^ d|, not its square as the Taylor bounds' (pair_node).  Pairs
 * parallel at the rounding level (64 n2 eps) have no bivector and are left out.  INFINITY where none is left. */
static double
wedge_bound(struct bnb_relax *x, size_t n, const double *va, size_t ka, const double *vb, size_t kb, double stop,
            double slack, int want)
{
  const size_t n2 = x->n2;
  size_t m = 0;
  for (size_t i = 0; i < ka; i++)
    for (size_t j = 0; j < kb; j++) {
      double *g = x->wg + m * n2;
      const double len = sqrt(wedge_of(x, n, va + i * n, vb + j * n, g));
      if (len == 0)
        continue;
      for (size_t r = 0; r < n2; r++)
        g[r] /= len;
      x->wpair[m] = i * kb + j;
      x->wlen[m++] = len;
    }
  x->wm = m;
  for (size_t t = 0; want && t < m; t++)
    x->wcoef[t] = 0;
  return m ? wedge_cone_max(x, m, stop, slack, want) : INFINITY;
}

/* The point of the wedge bound's maximiser (wedge_bound with want, on simplices va, vb): sum_t c_t (g_i ^ h_j) /
 * |g_i ^ h_j| read as the codes a = sum_t (c_t / |g_i ^ h_j|) g_i, b = sum_t (c_t / |g_i ^ h_j|) h_j (each term's
 * vertices; the marginals of the relaxed products), into ab (2 n): a ^ b agrees with the maximiser in the first order,
 * so where the bound is reached only as a limit (codes tending to a shared ray) such points approach it as the
 * simplices shrink.  0 where the search ended without an exact maximiser. */
static int
wedge_point(const struct bnb_relax *x, size_t n, const double *va, const double *vb, size_t kb, double *ab)
{
  int made = 0;
  memset(ab, 0, 2 * n * sizeof *ab);
  for (size_t t = 0; t < x->wm; t++) {
    if (!(x->wcoef[t] > 0))
      continue;
    const double g = x->wcoef[t] / x->wlen[t];
    const size_t i = x->wpair[t] / kb, j = x->wpair[t] % kb;
    for (size_t d = 0; d < n; d++) {
      ab[d] += g * va[i * n + d];
      ab[n + d] += g * vb[j * n + d];
    }
    made = 1;
  }
  for (size_t c = 0; made && c < 2; c++) { /* each made unit: the plane is the same */
    double len = 0;
    for (size_t d = 0; d < n; d++)
      len += ab[c * n + d] * ab[c * n + d];
    for (size_t d = 0; d < n; d++)
      ab[c * n + d] /= sqrt(len);
  }
  return made;
}

/* tr(P_span{a,b} S_B) as the quotient of A2 at a ^ b (-inf where they are parallel at the rounding level, 64 n2 eps):
 * where a and b are nearly parallel its rounding is of the order of eps over their angle, not its square (as
 * pair_phi's through the Gram determinant) */
static double
wedge_value(const struct bnb_relax *x, size_t n, const double *a, const double *b)
{
  const size_t n2 = x->n2;
  double *g = x->wu, z = 0;
  const double len = wedge_of(x, n, a, b, g);
  if (len == 0)
    return -INFINITY;
  for (size_t r = 0; r < n2; r++)
    for (size_t c = 0; c < n2; c++)
      z += g[r] * x->A2[r * n2 + c] * g[c];
  return z / len;
}

/* The two-neuron bound's function: for codes a, b of two neurons (columns of C = [a b], independent),
 * phi2(a, b) = max over q-dimensional V containing a and b of tr(P_V S) = tr(P S) + the m = q - 2 largest
 * eigenvalues of M = P' S P' (P the projector on span{a, b}, P' = I - P; Ky Fan).  Also, into x->grad (a's part,
 * then b's), its gradient in C, 2 P' G C (C^T C)^-1 with G = S - S W W^T - W W^T S (W: M's m top eigenvectors,
 * orthogonal to span{a, b}; d phi2 = tr(dP G) and dP = P' dC C^+ + its transpose), into *gap M's gap
 * lambda_m - lambda_(m+1) (infinite for m = 0), into *sig C's smallest singular value.  -inf where a and b are
 * parallel at the rounding level. */
static double
pair_phi(struct bnb_relax *x, size_t n, size_t q, const double *a, const double *b, double *gap, double *sig)
{
  double g11 = 0, g12 = 0, g22 = 0;
  for (size_t d = 0; d < n; d++) {
    g11 += a[d] * a[d];
    g12 += a[d] * b[d];
    g22 += b[d] * b[d];
  }
  const double det = g11 * g22 - g12 * g12, h = 0.5 * (g11 - g22);
  *sig = sqrt(fmax(0.0, 0.5 * (g11 + g22) - sqrt(h * h + g12 * g12)));
  if (!(det > 64 * DBL_EPSILON * g11 * g22))
    return -INFINITY;
  double *q1 = x->u, *q2 = x->Su, r = 0, nq = 0;
  for (size_t d = 0; d < n; d++)
    q1[d] = a[d] / sqrt(g11);
  for (size_t d = 0; d < n; d++) {
    q2[d] = b[d] - g12 / g11 * a[d];
    nq += q2[d] * q2[d];
  }
  for (size_t d = 0; d < n; d++)
    q2[d] /= sqrt(nq);
  /* M = P' S P' computed as S - P S - S P + P S P with P = q1 q1^T + q2 q2^T */
  double *Sq1 = x->g, *Sq2 = x->y; /* scratch until y is formed */
  for (size_t d = 0; d < n; d++) {
    Sq1[d] = Sq2[d] = 0;
    for (size_t e = 0; e < n; e++) {
      Sq1[d] += x->S[d * n + e] * q1[e];
      Sq2[d] += x->S[d * n + e] * q2[e];
    }
  }
  double s11 = 0, s12 = 0, s22 = 0;
  for (size_t d = 0; d < n; d++) {
    s11 += q1[d] * Sq1[d];
    s12 += q1[d] * Sq2[d];
    s22 += q2[d] * Sq2[d];
  }
  r = s11 + s22;
  for (size_t d = 0; d < n; d++)
    for (size_t e = 0; e < n; e++) {
      const double PSd = q1[d] * Sq1[e] + q2[d] * Sq2[e], SPd = Sq1[d] * q1[e] + Sq2[d] * q2[e],
                   PSP = s11 * q1[d] * q1[e] + s12 * (q1[d] * q2[e] + q2[d] * q1[e]) + s22 * q2[d] * q2[e];
      gsl_matrix_set(x->M, d, e, x->S[d * n + e] - PSd - SPd + PSP);
    }
  const size_t m = q - 2 < n ? q - 2 : n;
  /* G = S - S W W^T - W W^T S */
  memcpy(x->G, x->S, n * n * sizeof *x->G);
  *gap = INFINITY;
  if (m > 0) {
    gsl_eigen_symmv(x->M, x->ev, x->V, x->eig);
    gsl_eigen_symmv_sort(x->ev, x->V, GSL_EIGEN_SORT_VAL_DESC);
    for (size_t t = 0; t < m; t++) {
      gsl_vector_const_view v = gsl_matrix_const_column(x->V, t);
      for (size_t d = 0; d < n; d++) {
        double sv = 0;
        for (size_t e = 0; e < n; e++)
          sv += x->S[d * n + e] * gsl_vector_get(&v.vector, e);
        for (size_t e = 0; e < n; e++) {
          x->G[d * n + e] -= sv * gsl_vector_get(&v.vector, e);
          x->G[e * n + d] -= sv * gsl_vector_get(&v.vector, e);
        }
      }
      r += gsl_vector_get(x->ev, t);
    }
    *gap = m < n ? gsl_vector_get(x->ev, m - 1) - gsl_vector_get(x->ev, m) : 0.0;
  }
  /* y = C (C^T C)^-1, then grad = 2 P' G y, column by column */
  for (size_t d = 0; d < n; d++) {
    x->y[d] = (g22 * a[d] - g12 * b[d]) / det;
    x->y[n + d] = (g11 * b[d] - g12 * a[d]) / det;
  }
  for (size_t c = 0; c < 2; c++) {
    double *z = x->grad + c * n, z1 = 0, z2 = 0;
    for (size_t d = 0; d < n; d++) {
      z[d] = 0;
      for (size_t e = 0; e < n; e++)
        z[d] += x->G[d * n + e] * x->y[c * n + e];
    }
    for (size_t d = 0; d < n; d++) {
      z1 += q1[d] * z[d];
      z2 += q2[d] * z[d];
    }
    for (size_t d = 0; d < n; d++)
      z[d] = 2 * (z[d] - z1 * q1[d] - z2 * q2[d]);
  }
  return r;
}

/* The largest gain of the linear form g from the centroid c toward a vertex of a simplex (k vertices v of n), at
 * least 0: the linear form's largest increase over the simplex */
static double
vertex_gain(const double *g, const double *v, size_t k, size_t n, const double *c)
{
  double best = 0;
  for (size_t j = 0; j < k; j++) {
    double gv = 0;
    for (size_t d = 0; d < n; d++)
      gv += g[d] * (v[j * n + d] - c[d]);
    best = fmax(best, gv);
  }
  return best;
}

/* A record of the two-neuron search: simplices A (ka vertices) of one neuron's cone and B (kb) of another's, their
 * centroids a0, b0 (into x->cpair), phi2 there (into *val, -inf where they are parallel) and an upper bound of
 * phi2 over A x B (stored in the record with the margin), the least of:
 *  - the one-neuron bounds of A and of B (phi2(a, b) <= phi(a), phi(b): V contains a and b), taken where the
 *    bounds below do not apply or on a first record;
 *  - first order: with C0 = [a0 b0], sigma its smallest singular value and eta = sqrt(rho_A^2 + rho_B^2) (rho the
 *    simplices' radii about their centroids), every C = C0 + E of the product has ||E|| <= eta and, where
 *    sigma > eta, span(C) within angle theta of span(C0), sin(theta) <= eta / (sigma - eta) (a unit x = C y of
 *    span(C) has |P0' x| = |P0' E y| <= eta |y| <= eta / sigma_min(C)); rotating the maximising frame's q vectors
 *    by at most theta moves phi2 by at most q (l_1 - l_n) sin(theta), as for phi (relax_simplex);
 *  - second order, along the segment C0 + t E inside the product (sigma(t) >= sig' = sigma - eta): with
 *    A = P' E C^+, P' = A + A^T has norm |A| <= eta / sig', and P'' = A' + A'^T, |A'| <= 3 eta^2 / sig'^2 (from
 *    (C^+)' = -C^+ E C^+ + (C^T C)^-1 E^T P', of norm <= 2 eta / sig'^2), so |P''| <= 6 eta^2 / sig'^2 with rank
 *    <= 4 and trace 0 (tr P = 2): tr(P'' S) <= 4 |P''| (l_1 - l_n) / 2 <= 12 (l_1 - l_n) eta^2 / sig'^2; with
 *    M = P' S P', |M'| <= 2 l_1 |P'|, |M''| <= 2 l_1 |P''| + 2 l_1 |P'|^2 <= 14 l_1 eta^2 / sig'^2, and the m top
 *    eigenvalues' sum has second derivative <= m (|M''| + 2 |M'|^2 / gam) while a gap gam > 0 separates them on
 *    the segment (the centroid's gap less 4 l_1 eta / sig', Weyl with |M(t) - M(0)| <= 2 l_1 sin(theta), less
 *    rounding).  So phi2(C) <= phi2(C0) + <grad, E> + eta^2 H / 2, H = (12 (l_1 - l_n) + m (14 l_1 + 8 l_1^2 /
 *    gam)) / sig'^2, and <grad, E> is at most the sum over the two simplices of the largest gain toward a vertex
 *    (it is linear in a and in b separately);
 *  - for q = 2, where the bounds above leave it over stop (the search's best plus its tolerance: a record below is
 *    never split), the wedge bound (wedge_bound, ending at stop or within 1e-10 ||R||^2 of its best vertex); the
 *    point its maximiser gives (wedge_point) replaces the centroids where its value is larger, and x->pvert holds
 *    the vertex the two simplices share, if any (pair_incumbent's ladder). */
static double
pair_node(struct sdlab_bnb_workspace *w, size_t id, double margin, double parent, int first, double stop, double *val)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, stride = PAIR_HEAD + 2 * x->kmax * n;
  double *rec = x->pnode + id * stride, *va = rec + PAIR_HEAD, *vb = va + x->kmax * n, *a0 = x->cpair, *b0 = a0 + n;
  const size_t ka = (size_t)rec[1], kb = (size_t)rec[2];
  double gap, sig, up = parent;
  const double ra = simplex_centre(va, ka, n, a0), rb = simplex_centre(vb, kb, n, b0);
  const double eta = sqrt(ra + rb), l1 = x->top;
  *val = pair_phi(x, n, w->q, a0, b0, &gap, &sig);
  x->pvert_ok = 0;
  if (*val > -INFINITY && sig > eta) {
    const double sp = sig - eta, st = eta / sp, m = (double)(w->q - 2);
    up = fmin(up, *val + (double)w->q * x->spread * fmin(1.0, st));
    const double gam = gap - 4 * l1 * fmin(1.0, st) - 2 * (double)(16 * n) * DBL_EPSILON * l1;
    if (gam > 0) {
      const double lin = vertex_gain(x->grad, va, ka, n, a0) + vertex_gain(x->grad + n, vb, kb, n, b0);
      const double H = (12 * x->spread + (m > 0 ? m * (14 * l1 + 8 * l1 * l1 / gam) : 0.0)) / (sp * sp);
      up = fmin(up, *val + lin + 0.5 * eta * eta * H);
    }
  }
  if (first || !(sig > eta)) {
    double v1;
    up = fmin(up, relax_simplex(w, va, ka, &v1));
    up = fmin(up, relax_simplex(w, vb, kb, &v1));
  }
  if (x->A2 && up + margin > stop) {
    double v2;
    up = fmin(up, wedge_bound(x, n, va, ka, vb, kb, stop - margin, 1e-10 * w->energy, 1));
    if (wedge_point(x, n, va, vb, kb, x->plim) && (v2 = wedge_value(x, n, x->plim, x->plim + n)) > *val) {
      *val = v2;
      memcpy(x->cpair, x->plim, 2 * n * sizeof *x->cpair);
      for (size_t i = 0; i < ka && !x->pvert_ok; i++)
        for (size_t j = 0; j < kb && !x->pvert_ok; j++)
          if (memcmp(va + i * n, vb + j * n, n * sizeof *va) == 0) {
            memcpy(x->pvert, va + i * n, n * sizeof *x->pvert);
            x->pvert_ok = 1;
          }
    }
  }
  rec[0] = up + margin;
  return rec[0];
}

/* The two-neuron search's best value so far, *best, raised to val (record rec's, at its centroids x->cpair); that
 * point is kept, for q = 2 for pair_incumbent, for q >= 3 as the pair's candidate (two_neuron_bound) */
static void
pair_keep(struct bnb_relax *x, size_t q, size_t n, const double *rec, double val, double *best)
{
  if (!(val > *best))
    return;
  *best = val;
  if (q == 2) {
    memcpy(x->pbest, x->cpair, 2 * n * sizeof *x->pbest);
    x->pbest_t[0] = (size_t)rec[3];
    x->pbest_t[1] = (size_t)rec[4];
    x->pbest_ok = 1;
    x->pbest_u_ok = x->pvert_ok;
    if (x->pvert_ok)
      memcpy(x->pbest_u, x->pvert, n * sizeof *x->pbest_u);
  } else {
    memcpy(x->pcand, x->cpair, 2 * n * sizeof *x->pcand);
    x->pcand_t[0] = (size_t)rec[3];
    x->pcand_t[1] = (size_t)rec[4];
    x->pcand_ok = 1;
  }
}

/* The two-neuron search's tolerance: tol (1e-9 ||R||^2), and for q = 2, where its best is L~'s value at a point,
 * 1e-7 of that L~ (at least 1e-7): a tenth of the census's default tolerance, 1e-6 relative */
static double
pair_tol(const struct sdlab_bnb_workspace *w, double tol, double best)
{
  return w->q == 2 ? 1e-7 * fmax(1.0, w->energy - best) : tol;
}

/* The two-neuron bound, for the whole piece (q >= 2): V contains a code of each of two live neurons i and j (or
 * limits of them), so ||P_V R||^2 <= phi2(c_i, c_j) (pair_phi) and, where the codes tend to parallel ones, at
 * most phi of either (its closure: a limit of phi2 is at most phi there, phi being continuous), hence
 *   L~ >= ||R||^2 - min over pairs i < j of (sup over K_i x K_j of phi2),
 * the sup bounded by a best-first search over products of simplices of the two covers (pair_node), bisecting the
 * longer of the two simplices' longest edges, up to PAIR_NODES records a pair or until its bound is within
 * 1e-9 ||R||^2 of the best phi2 found; a pair whose best phi2 already reaches the smallest bound so far is left.
 * Tighter than the one-neuron bound where the other neurons' cones, which that bound leaves free in B, keep the
 * maximising frame away (most of the n_q = 3 pieces at n_p = 3).  For q = 2, phi2 is L~'s own value and the search
 * is a branch and bound of the piece: its records take the wedge bound (pair_node), its best starts at floor (the
 * incumbent's ||R||^2 - L~), its tolerance is pair_tol's and its best point is kept for pair_incumbent; for q >= 3
 * the best point of the pair that sets the bound is kept (pbest, ppair) for pair_frame_incumbent;
 * -inf there without the wedge bound's workspace (wedge_alloc), and below q = 2. */
static double
two_neuron_bound(struct sdlab_bnb_workspace *w, double floor)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, stride = PAIR_HEAD + 2 * x->kmax * n;
  if (w->q < 2 || (w->q == 2 && x->A2 == NULL) || n > 64)
    return -INFINITY;
  const double margin = 2 * (double)(16 * (n + w->q + w->nr)) * DBL_EPSILON * w->energy;
  const double tol = 1e-9 * w->energy;
  double least = INFINITY;
  for (size_t i = 0; i < w->q; i++)
    for (size_t j = i + 1; j < w->q; j++) {
      size_t used = 0, spent = 0;
      double best = w->q == 2 ? floor : -INFINITY, val;
      x->pheaped = 0;
      x->pcand_ok = 0;
      for (size_t s = w->cone.toff[i]; s < w->cone.toff[i + 1]; s++)
        for (size_t t = w->cone.toff[j]; t < w->cone.toff[j + 1]; t++) {
          double *rec = x->pnode + used * stride;
          rec[1] = (double)cover_simplex(w, i, s, rec + PAIR_HEAD);
          rec[2] = (double)cover_simplex(w, j, t, rec + PAIR_HEAD + x->kmax * n);
          rec[3] = (double)s;
          rec[4] = (double)t;
          pair_node(w, used, margin, fmin(x->argup[i], x->argup[j]), 1, -INFINITY, &val);
          pair_keep(x, w->q, n, rec, val, &best);
          index_heap_push(x->pheap, &x->pheaped, x->pnode, stride, -1.0, used++);
        }
      while (x->pheaped && spent < PAIR_NODES && best < least &&
             x->pnode[x->pheap[0] * stride] - best > pair_tol(w, tol, best)) {
        const size_t id = x->pheap[0];
        double *r = x->pnode + id * stride;
        size_t side = 0, ea = 0, eb = 0, fa = 0, fb = 0;
        double len = longest_edge(r + PAIR_HEAD, (size_t)r[1], n, &ea, &eb);
        const double lenb = longest_edge(r + PAIR_HEAD + x->kmax * n, (size_t)r[2], n, &fa, &fb);
        if (lenb > len) {
          len = lenb;
          side = 1;
          ea = fa;
          eb = fb;
        }
        if (len == 0)
          break; /* two single codes on top: the bound is phi2 there */
        const size_t other = used++;
        const double parent = r[0] - margin;
        double *c = x->pnode + other * stride;
        index_heap_pop(x->pheap, &x->pheaped, x->pnode, stride, -1.0);
        memcpy(c, r, stride * sizeof *c);
        const size_t off = PAIR_HEAD + side * x->kmax * n;
        split_edge(r + off, c + off, ea, eb, n);
        pair_node(w, id, margin, parent, 0, best + pair_tol(w, tol, best), &val);
        pair_keep(x, w->q, n, r, val, &best);
        pair_node(w, other, margin, parent, 0, best + pair_tol(w, tol, best), &val);
        pair_keep(x, w->q, n, c, val, &best);
        index_heap_push(x->pheap, &x->pheaped, x->pnode, stride, -1.0, id);
        index_heap_push(x->pheap, &x->pheaped, x->pnode, stride, -1.0, other);
        spent++;
      }
      if (best >= least)
        continue;
      const double sup = fmax(best, x->pheaped ? x->pnode[x->pheap[0] * stride] : best);
      if (w->q >= 3 && sup < least) { /* this pair sets the bound: its best point is pair_frame_incumbent's */
        memcpy(x->pbest, x->pcand, 2 * n * sizeof *x->pbest);
        memcpy(x->pbest_t, x->pcand_t, sizeof x->pbest_t);
        x->ppair[0] = i;
        x->ppair[1] = j;
        x->pbest_ok = x->pcand_ok;
      }
      least = fmin(least, sup);
    }
  return w->energy - least - margin;
}

/* <v, g_k>: v in B's nb coordinates at, g_k generator k (n entries, 0 off B) */
static double
b_dot(const struct sdlab_bnb_workspace *w, const double *v, size_t k, const size_t *at, size_t nb)
{
  double z = 0;
  for (size_t c = 0; c < nb; c++)
    z += v[c] * w->cone.gen[k * w->n + at[c]];
  return z;
}

/* Whether the unit vector v (nb coordinates at of B) meets neuron i's cone K_i off 0 up to tol: some generator on
 * each side of v's hyperplane, min_j <v, g_ij> <= tol and max_j <v, g_ij> >= -tol */
static int
hyperplane_meets(const struct sdlab_bnb_workspace *w, size_t i, const double *v, const size_t *at, size_t nb, double tol)
{
  double lo = INFINITY, hi = -INFINITY;
  for (size_t j = 0; j < w->cone.count[i]; j++) {
    const double z = b_dot(w, v, w->cone.off[i] + j, at, nb);
    lo = fmin(lo, z);
    hi = fmax(hi, z);
  }
  return lo <= tol && hi >= -tol;
}

/* Scratch of the hyperplane bound's rank test (hyperplane_spans) */
struct hp_scratch {
  const size_t *at;                      /* B's coordinates */
  size_t nb, *type, *ntype, *sel, m;      /* m: the dimension of the qualifying selection's subspace, its basis in
                                           * basis's first m rows */
  size_t budget;                          /* grid points left to the rank test (hyperplane_grid) */
  double *z, *basis, *nu, *G, *cons;      /* G: F_s's rows (2 q x nb), cons: constraints (2 q x nb) */
  double *ri;                             /* a relative-interior point of the qualifying selection's region (nb;
                                           * 0 when none was found) */
  unsigned char *strict;                  /* 2 q zeros */
  gsl_matrix *C, *V;
  gsl_vector *s;
};

/* u (nb entries) less its parts along the count orthonormal rows (nb each) */
static void
project_off(double *u, const double *rows, size_t count, size_t nb)
{
  for (size_t r = 0; r < count; r++) {
    double pr = 0;
    for (size_t c = 0; c < nb; c++)
      pr += rows[r * nb + c] * u[c];
    for (size_t c = 0; c < nb; c++)
      u[c] -= pr * rows[r * nb + c];
  }
}

/* The orthonormal basis (rows of h->basis, returned: its count m) of the subspace of B orthogonal to the ncons
 * vectors cons (nb each): cons's span orthonormalised (Gram-Schmidt, twice; in h->basis + nb nb, a vector counted
 * where its part off the others exceeds 64 nb eps), then completed by the coordinate vector whose part off the
 * vectors so far is largest, until nb are found (the largest part's square is at least 1 / nb of the dimension
 * left, so none is lost) */
static size_t
hyperplane_complement(struct hp_scratch *h, const double *cons, size_t ncons)
{
  const size_t nb = h->nb;
  double *sb = h->basis + nb * nb;
  size_t ns = 0, m = 0;
  for (size_t t = 0; t < ncons && ns < nb; t++) {
    double *u = sb + ns * nb, un = 0;
    memcpy(u, cons + t * nb, nb * sizeof *u);
    for (int pass = 0; pass < 2; pass++)
      project_off(u, sb, ns, nb);
    for (size_t c = 0; c < nb; c++)
      un += u[c] * u[c];
    if (un > (double)(64 * nb) * DBL_EPSILON * (double)(64 * nb) * DBL_EPSILON) {
      for (size_t c = 0; c < nb; c++)
        u[c] /= sqrt(un);
      ns++;
    }
  }
  while (m + ns < nb) {
    double *u = h->basis + m * nb, best = -1;
    for (size_t e = 0; e < nb; e++) {
      double *v = h->nu, vn = 0;
      for (size_t c = 0; c < nb; c++)
        v[c] = c == e;
      for (int pass = 0; pass < 2; pass++) {
        project_off(v, sb, ns, nb);
        project_off(v, h->basis, m, nb);
      }
      for (size_t c = 0; c < nb; c++)
        vn += v[c] * v[c];
      if (vn > best) {
        best = vn;
        for (size_t c = 0; c < nb; c++)
          u[c] = v[c];
      }
    }
    for (size_t c = 0; c < nb; c++)
      u[c] /= sqrt(best);
    m++;
  }
  return m;
}

/* The codes of a choice, one a live neuron i: generator j[i] (k[i] NONE: a generator on the hyperplane) or the pair's
 * code zj[i] g_k - zk[i] g_j (zj, zk the hyperplane's products with g_j[i], g_k[i]), over the nb coordinates at,
 * each normalised, as the columns of C; their singular values into s (C and V overwritten by Jacobi's SVD).  0,
 * without the SVD, where a code vanishes. */
static int
choice_codes(const struct sdlab_bnb_workspace *w, const size_t *j, const size_t *k, const double *zj, const double *zk,
             const size_t *at, size_t nb, gsl_matrix *C, gsl_matrix *V, gsl_vector *s)
{
  const size_t n = w->n;
  for (size_t i = 0; i < w->q; i++) {
    double cn = 0;
    for (size_t c = 0; c < nb; c++) {
      const double v = k[i] == NONE ? w->cone.gen[j[i] * n + at[c]]
                                    : zj[i] * w->cone.gen[k[i] * n + at[c]] - zk[i] * w->cone.gen[j[i] * n + at[c]];
      gsl_matrix_set(C, c, i, v);
      cn += v * v;
    }
    if (!(cn > 0))
      return 0;
    for (size_t c = 0; c < nb; c++)
      gsl_matrix_set(C, c, i, gsl_matrix_get(C, c, i) / sqrt(cn));
  }
  gsl_linalg_SV_decomp_jacobi(C, V, s);
  return 1;
}

/* Whether the codes of selection h->sel have rank q at some point of the subspace of the m rows of h->basis: their
 * q x q minors are polynomials there of degree at most p (the pairs in the selection; the single codes are
 * constant), so they vanish on it exactly when they vanish on the grid {0, ..., p}^m of its coordinates, each
 * point tested (columns normalised, sigma_q / sigma_1 above rounding, 64 nb q eps); 1 (untested) once h->budget
 * grid points are spent */
static int
hyperplane_grid(const struct sdlab_bnb_workspace *w, struct hp_scratch *h, size_t m, size_t p)
{
  const size_t q = w->q, nb = h->nb;
  size_t x[64] = {0}, j[64], k[64];
  double zj[64], zk[64];
  for (;;) {
    double *nu = h->nu;
    for (size_t c = 0; c < nb; c++) {
      nu[c] = 0;
      for (size_t a = 0; a < m; a++)
        nu[c] += (double)x[a] * h->basis[a * nb + c];
    }
    for (size_t i = 0; i < q; i++) {
      j[i] = h->type[(i * 64 + h->sel[i]) * 2];
      k[i] = h->type[(i * 64 + h->sel[i]) * 2 + 1];
      zj[i] = k[i] == NONE ? 0.0 : b_dot(w, nu, j[i], h->at, nb);
      zk[i] = k[i] == NONE ? 0.0 : b_dot(w, nu, k[i], h->at, nb);
    }
    if (h->budget == 0)
      return 1; /* untested */
    h->budget--;
    if (choice_codes(w, j, k, zj, zk, h->at, nb, h->C, h->V, h->s) &&
        gsl_vector_get(h->s, q - 1) > (double)(64 * nb * q) * DBL_EPSILON * gsl_vector_get(h->s, 0))
      return 1;
    size_t a = 0; /* the next grid point */
    while (a < m && ++x[a] > p)
      x[a++] = 0;
    if (a == m || p == 0)
      return 0;
  }
}

/* Whether the codes of selection h->sel (per live neuron a type: a generator j on nu^perp, or a pair j, k with
 * <nu, g_j> >= 0 >= <nu, g_k>, code <nu, g_j> g_k - <nu, g_k> g_j) have rank q at generic points of the region
 * F_s of hyperplanes where the selection is one (the polyhedral cone of those equalities and inequalities): first
 * on the larger subspace orthogonal to the single generators (where the minors vanish on it, they vanish on F_s),
 * then on F_s's span, the subspace of
 * its implicit equalities (the rows a relative-interior point, sdlab_lp_interior, leaves at 0 up to rounding;
 * for instance a generator two cones share, on one side of the hyperplane for one pair and on the other for
 * another, is on it throughout).  A polynomial that does not vanish on that span does not vanish on a dense
 * subset of F_s, which has interior there.  On success h->m and h->basis's rows give the span. */
static int
hyperplane_selection(const struct sdlab_bnb_workspace *w, struct hp_scratch *h)
{
  const size_t n = w->n, q = w->q, nb = h->nb;
  size_t ns = 0, p = 0, rows = 0;
  for (size_t i = 0; i < q; i++) {
    const size_t t = h->sel[i], j = h->type[(i * 64 + t) * 2], k = h->type[(i * 64 + t) * 2 + 1];
    /* rows of F_s as G x >= 0: +-g_j for a single, g_j and -g_k for a pair; the singles first as constraints */
    for (size_t c = 0; c < nb; c++) {
      const double gj = w->cone.gen[j * n + h->at[c]], gk = k == NONE ? 0.0 : w->cone.gen[k * n + h->at[c]];
      h->G[rows * nb + c] = gj;
      h->G[(rows + 1) * nb + c] = k == NONE ? -gj : -gk;
    }
    if (k == NONE)
      memcpy(h->cons + ns++ * nb, h->G + rows * nb, nb * sizeof *h->cons);
    else
      p++;
    rows += 2;
  }
  size_t m = hyperplane_complement(h, h->cons, ns);
  if (!hyperplane_grid(w, h, m, p))
    return 0;
  int open, verified;
  memset(h->ri, 0, nb * sizeof *h->ri);
  for (size_t c = 0; c < nb; c++)
    h->nu[c] = NAN;
  if (sdlab_lp_interior(h->G, h->strict, rows, nb, h->nu, &open, &verified) || isnan(h->nu[0]))
    return 1; /* the LP refused the system or found no point: the larger subspace's answer stands */
  memcpy(h->ri, h->nu, nb * sizeof *h->ri);
  double xn = 0;
  for (size_t c = 0; c < nb; c++)
    xn += h->nu[c] * h->nu[c];
  ns = 0;
  for (size_t r = 0; r < rows; r++) {
    double gx = 0;
    for (size_t c = 0; c < nb; c++)
      gx += h->G[r * nb + c] * h->nu[c];
    if (!open && fabs(gx) <= (double)(64 * nb) * DBL_EPSILON * sqrt(xn))
      memcpy(h->cons + ns++ * nb, h->G + r * nb, nb * sizeof *h->cons);
  }
  m = hyperplane_complement(h, h->cons, ns);
  if (!hyperplane_grid(w, h, m, p))
    return 0;
  h->m = m;
  return 1;
}

/* Whether nu^perp (v: nb coordinates of B, unit, within tol of meeting every cone) holds codes of rank q, or is a
 * limit of hyperplanes that do: some selection of codes of the cones that v allows (per neuron a generator on v's
 * hyperplane, or a pair of generators on its two sides, each up to tol) has rank q somewhere on the subspace its
 * single generators leave (hyperplane_selection).  Hyperplanes of that selection's region (a polyhedral cone, in
 * that subspace) have V = nu^perp at their generic points, and v is in the region's closure; where no selection
 * qualifies, every configuration whose hyperplane is v's has rank below q.  1 also (untested) beyond 4096
 * selections, 64 types a neuron or 65,536 grid points in all. */
static int
hyperplane_spans(const struct sdlab_bnb_workspace *w, const double *v, double tol, struct hp_scratch *h)
{
  const size_t q = w->q, nb = h->nb;
  double total = 1;
  for (size_t i = 0; i < q; i++) {
    const size_t o = w->cone.off[i], cnt = w->cone.count[i];
    for (size_t j = o; j < o + cnt; j++)
      h->z[j] = b_dot(w, v, j, h->at, nb);
    size_t t = 0;
    for (size_t j = o; j < o + cnt; j++)
      for (size_t k = o; k < o + cnt; k++)
        if (k == j ? fabs(h->z[j]) <= tol : h->z[j] >= -tol && h->z[k] <= tol) {
          if (t == 64)
            return 1; /* more types than kept: untested */
          h->type[(i * 64 + t) * 2] = j;
          h->type[(i * 64 + t) * 2 + 1] = k == j ? NONE : k;
          t++;
        }
    h->ntype[i] = t;
    h->sel[i] = 0;
    total *= (double)t;
  }
  h->m = 0;
  if (total == 0)
    return 0;
  if (total > 4096)
    return 1;
  h->budget = 65536; /* grid points over all selections */
  for (;;) {
    if (hyperplane_selection(w, h))
      return 1;
    size_t i = 0;
    while (i < q && ++h->sel[i] == h->ntype[i])
      h->sel[i++] = 0;
    if (i == q)
      return 0;
  }
}

/* For the hyperplane bound's configurations of rank below q = 3 where a live neuron has a single generator g0 (a
 * fixed code direction, as a neuron on one feature): such a configuration's V (dimension at most 2) contains g0, so
 * V lies in span{g0, u} for a unit u of g0^perp cap B, and tr(P_V S) <= g0^T S g0 + u^T S u (equality at dimension
 * 2).  The other two neurons' codes k_1, k_2 lie in V: each is parallel to g0 (possible only where g0 lies in its
 * cone: a free neuron) or u spans its projection P k_i, u in +-P K_i (P the projector off g0, K_i the cone of its
 * generators); where both are parallel to g0, V = R g0.  So the largest tr(P_V S) is g0^T S g0 plus the largest
 * u^T S u over u in (+-P K_1) cap (+-P K_2), in +-P K_1 where neuron 2 is free, in +-P K_2 where neuron 1 is, and 0
 * where both are; each exact by faces: a maximiser lies in the relative interior of +-cone(T_1) and of +-cone(T_2)
 * for independent subsets T_i of the projected generators (Caratheodory), so it is a local, hence global, maximum of
 * the Rayleigh quotient on L = span(T_1) cap span(T_2): a top eigenvector of S on L.  The candidates: every pair of
 * independent subsets of at most nb - 1 vectors (T_i empty for a free neuron: L is the other's span), L from the
 * null space of (I - Q_2 Q_2^T) Q_1 (singular values below 64 n eps: the subspaces meet there; a decision at the
 * rounding level), each top eigenvector tested for one-signed coefficients on T_1 and T_2 with its computed error
 * (Q's angle 16 n eps (1 + 1 / rmin + 1 / s), s the least singular value above that threshold, times 1 + 2 l_1 /
 * gap, Davis and Kahan; above 1e-3 taken untested).  Returns that bound on tr(P_V S) plus rounding, +inf where it
 * does not apply (q != 3, no single-generator neuron, a neuron with more than 20 generators, more than 2^14 pairs
 * of subsets) or its scratch cannot be allocated. */
static double
fixed_code_rank(struct sdlab_bnb_workspace *w)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, q = w->q, nb = x->nb, dim = nb > 1 ? nb - 1 : 0;
  if (q != 3 || n > 64 || dim == 0)
    return INFINITY;
  size_t fixed = NONE, other[3], no = 0;
  for (size_t i = 0; i < q; i++)
    if (w->cone.count[i] == 1 && fixed == NONE)
      fixed = i;
    else
      other[no++] = i;
  if (fixed == NONE)
    return INFINITY;
  const double *g0 = w->cone.gen + w->cone.off[fixed] * n, l1 = x->top, unit = (double)(16 * n) * DBL_EPSILON;
  /* per other neuron: its generators projected off g0 and made unit (free where one of them projects to 0) */
  size_t cnt[2] = {0, 0}, most = 1;
  for (size_t s = 0; s < 2; s++)
    most = w->cone.count[other[s]] > most ? w->cone.count[other[s]] : most;
  if (most > 20)
    return INFINITY;
  double *pg = malloc(2 * most * n * sizeof *pg), *Q = malloc(3 * n * n * sizeof *Q),
         *R = malloc(2 * n * n * sizeof *R), *row = malloc(2 * n * sizeof *row), *u = malloc(n * sizeof *u);
  gsl_matrix *N = gsl_matrix_alloc(n, n), *Vs = gsl_matrix_alloc(n, n);
  gsl_vector *sv = gsl_vector_alloc(n), *work = gsl_vector_alloc(n);
  double best = -INFINITY;
  int ok = pg && Q && R && row && u && N && Vs && sv && work, free_[2] = {0, 0};
  for (size_t s = 0; ok && s < 2; s++) {
    const size_t i = other[s];
    for (size_t j = 0; j < w->cone.count[i]; j++) {
      double *p = pg + (s * most + cnt[s]) * n, len = 0;
      memcpy(p, w->cone.gen + (w->cone.off[i] + j) * n, n * sizeof *p);
      project_off(p, g0, 1, n);
      for (size_t d = 0; d < n; d++)
        len += p[d] * p[d];
      len = sqrt(len);
      if (!(len > (double)(64 * n) * DBL_EPSILON)) {
        free_[s] = 1;
        continue;
      }
      for (size_t d = 0; d < n; d++)
        p[d] /= len;
      cnt[s]++;
    }
  }
  /* a neuron is also free where g0 lies in its cone off its generators (inside a face): within 1e-8 of cone(T) for
   * an independent subset T of its generators with one-signed coefficients (Caratheodory); a wider test, or a neuron
   * taken as free, only adds candidates */
  for (size_t s = 0; ok && s < 2; s++) {
    const size_t i = other[s], c = w->cone.count[i];
    size_t pick[64];
    free_[s] |= c > 12; /* too many subsets to test: taken as free */
    for (uint64_t m = 1; !free_[s] && m < ((uint64_t)1 << c); m++) {
      const size_t k = mask_bits(m, c, pick);
      double rmin;
      if (k > nb || !gram_schmidt(w->cone.gen + w->cone.off[i] * n, pick, k, n, Q, R, &rmin))
        continue;
      double res = 0;
      memcpy(u, g0, n * sizeof *u);
      project_off(u, Q, k, n);
      for (size_t d = 0; d < n; d++)
        res += u[d] * u[d];
      free_[s] = sqrt(res) <= 1e-8 && one_signed(Q, R, k, n, g0, 1e-8, row);
    }
  }
  if (ok && free_[0] && free_[1])
    best = 0; /* V = R g0 */
  ok = ok && ldexp(1.0, (int)(cnt[0] + cnt[1])) <= 16384.0;
  /* subsets as bit masks, 0 (none) only for a free neuron */
  for (uint64_t m1 = 0; ok && m1 < ((uint64_t)1 << cnt[0]); m1++) {
    if (m1 == 0 && !free_[0])
      continue;
    size_t p1[64];
    const size_t k1 = mask_bits(m1, cnt[0], p1);
    double r1 = 1;
    if (k1 > dim || (k1 > 0 && !gram_schmidt(pg, p1, k1, n, Q, R, &r1)))
      continue;
    for (uint64_t m2 = 0; m2 < ((uint64_t)1 << cnt[1]); m2++) {
      if ((m2 == 0 && !free_[1]) || (m1 == 0 && m2 == 0))
        continue;
      size_t p2[64];
      const size_t k2 = mask_bits(m2, cnt[1], p2);
      double r2 = 1, *Q2 = Q + n * n, *R2 = R + n * n, *Z = Q + 2 * n * n, snext = INFINITY;
      if (k2 > dim || (k2 > 0 && !gram_schmidt(pg + most * n, p2, k2, n, Q2, R2, &r2)))
        continue;
      size_t ell = 0;
      if (k1 == 0 || k2 == 0) { /* one cone: L is its span */
        ell = k1 + k2;
        memcpy(Z, k1 ? Q : Q2, ell * n * sizeof *Z);
      } else {
        /* N = (I - Q2^T Q2) Q1^T (n x k1); its null space (right singular vectors) spans L in Q1's coordinates */
        gsl_matrix_view Nv = gsl_matrix_submatrix(N, 0, 0, n, k1), Vv = gsl_matrix_submatrix(Vs, 0, 0, k1, k1);
        gsl_vector_view s = gsl_vector_subvector(sv, 0, k1), wk = gsl_vector_subvector(work, 0, k1);
        for (size_t c = 0; c < k1; c++) {
          memcpy(u, Q + c * n, n * sizeof *u);
          project_off(u, Q2, k2, n);
          for (size_t d = 0; d < n; d++)
            gsl_matrix_set(&Nv.matrix, d, c, u[d]);
        }
        gsl_linalg_SV_decomp(&Nv.matrix, &Vv.matrix, &s.vector, &wk.vector);
        for (size_t c = 0; c < k1; c++) {
          const double sc = gsl_vector_get(&s.vector, c);
          if (!(sc <= (double)(64 * n) * DBL_EPSILON)) {
            snext = fmin(snext, sc);
            continue;
          }
          double *z = Z + ell++ * n;
          for (size_t d = 0; d < n; d++) {
            z[d] = 0;
            for (size_t t = 0; t < k1; t++)
              z[d] += gsl_matrix_get(&Vv.matrix, t, c) * Q[t * n + d];
          }
        }
      }
      if (ell == 0)
        continue;
      gsl_matrix_view M = gsl_matrix_submatrix(x->M, 0, 0, ell, ell), Y = gsl_matrix_submatrix(x->V, 0, 0, ell, ell);
      gsl_vector_view e = gsl_vector_subvector(x->ev, 0, ell);
      for (size_t a = 0; a < ell; a++)
        for (size_t b = 0; b < ell; b++) {
          double z = 0;
          for (size_t d = 0; d < n; d++)
            for (size_t f = 0; f < n; f++)
              z += Z[a * n + d] * x->S[d * n + f] * Z[b * n + f];
          gsl_matrix_set(&M.matrix, a, b, z);
        }
      gsl_eigen_symmv(&M.matrix, &e.vector, &Y.matrix, x->eig);
      gsl_eigen_symmv_sort(&e.vector, &Y.matrix, GSL_EIGEN_SORT_VAL_DESC);
      const double angle = unit * (1 + 1 / r1 + 1 / r2 + (snext < INFINITY ? 1 / snext : 0.0));
      const double lam = gsl_vector_get(&e.vector, 0) + 2 * l1 * angle + unit * l1;
      if (!(lam > best))
        continue;
      const double gap = ell > 1 ? gsl_vector_get(&e.vector, 0) - gsl_vector_get(&e.vector, 1) : INFINITY;
      const double tol = eigvec_tolerance(angle, unit, l1, gap);
      for (size_t d = 0; d < n; d++) {
        u[d] = 0;
        for (size_t a = 0; a < ell; a++)
          u[d] += gsl_matrix_get(&Y.matrix, a, 0) * Z[a * n + d];
      }
      if (tol <= 1e-3 && ((k1 > 0 && !one_signed(Q, R, k1, n, u, tol, row)) ||
                          (k2 > 0 && !one_signed(Q2, R2, k2, n, u, tol, row))))
        continue;
      best = lam;
    }
  }
  free(pg), free(Q), free(R), free(row), free(u);
  if (N) gsl_matrix_free(N);
  if (Vs) gsl_matrix_free(Vs);
  if (sv) gsl_vector_free(sv);
  if (work) gsl_vector_free(work);
  if (!ok || !(best > -INFINITY))
    return INFINITY;
  double s00 = 0;
  for (size_t d = 0; d < n; d++)
    for (size_t f = 0; f < n; f++)
      s00 += g0[d] * x->S[d * n + f] * g0[f];
  return s00 + best + 2 * unit * l1;
}

/* The hyperplane bound, for the whole piece when B (the coordinates the live neurons' codes use, relax_alloc) has
 * dimension q + 1.  A configuration whose codes have rank q spans a hyperplane V = nu^perp of B that meets every
 * cone K_i off 0, and its L~ = ||R||^2 - tr(P_V S) = ||R||^2 - tr(S_B) + nu^T S nu; one of lower rank has V of
 * dimension at most q - 1 and L~ at least ||R||^2 - tr(S_B) + (S_B's two least eigenvalues on B) (Ky Fan), the
 * one-neuron bound for V of dimension q - 1 (one_neuron_bound with x->dim = q - 1; it overwrites the search's
 * maximisers, which relax_incumbent and two_neuron_bound have used by then), and the value at any hyperplane
 * containing V (one meeting every cone).  So
 *   L~ >= ||R||^2 - tr(S_B) + min { min nu^T S nu over nu in G, the largest of those bounds on lower rank },
 * G the unit nu of B whose hyperplane holds codes of rank q, or is a limit of such (hyperplane_spans; such a
 * hyperplane meets every cone: min_j <nu, g_ij> <= 0 <= max_j <nu, g_ij> for every live neuron i, g_ij its
 * generators).  Exact where the minimum is over G; tight in the limit at shared rays and faces, where the box
 * bounds cannot close.  The set of hyperplanes meeting every cone is a union of cells of the arrangement of the
 * hyperplanes g^perp, on each of which that is constant; a minimiser nu* over G lies in the relative interior of
 * some face of it, the subspace L = B cap A^perp of the generators A it is orthogonal to, and is a local (so
 * global) minimiser of the Rayleigh quotient on L's sphere: nu* is an eigenvector of S on L of its least
 * eigenvalue.  So the minimum over G is the least lambda_min(S|L) over the subspaces L cut by at most nb - 1
 * independent generators (every such L is one of them: pick a basis of A among the generators) whose least
 * eigenvector is in G: the candidates are taken in increasing order until one qualifies.  The test allows the
 * eigenvector's computed error: the basis of L from a pivoted QR of the generators (an angle of about 16 nb eps
 * / r, r the pivoted QR's least |R_kk|, the subspace's condition) plus the eigenvector's (that angle and rounding
 * times l_1 / gap, Davis and Kahan); where that exceeds 1e-3, L's eigenvalue is taken untested, as it is where
 * r < 1e-5 (L is then widened by the last generator, a subspace containing it) and after 256 candidates that did
 * not qualify; subsets dependent at the rounding level (r <= 64 nb eps) are left to their independent subsets,
 * which span the same L (a decision at the rounding level, as twins are made equal: an independent subset that
 * thin would cut a face no wider than rounding).  Each eigenvalue less its rounding (l_1 times that angle, twice).  The qualifying
 * minimiser into nu (n entries, 0 off B; all 0 when there is none), a relative-interior point of its qualifying
 * selection's region into tilt's first row and that region's span into the *ntilt rows after it (tilt: (n + 1) x
 * n; ntilt 0 when untested): hyperplanes of rank q lie near nu along them.  -inf (the bound not taken) when B's
 * dimension is not q + 1, when there are more than 65536 subsets, or when its scratch cannot be allocated. */
static double
hyperplane_bound(struct sdlab_bnb_workspace *w, double *nu, double *tilt, size_t *ntilt)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, q = w->q;
  memset(nu, 0, n * sizeof *nu);
  *ntilt = 0;
  const size_t nb = x->nb, *at = x->at;
  if (q == 0 || q > 63 || n > 64 || nb != q + 1)
    return -INFINITY;
  /* the distinct generators (up to sign: the same hyperplane), in B's coordinates */
  double *gs = malloc(w->K * nb * sizeof *gs);
  size_t ng = 0;
  for (size_t k = 0; gs && k < w->K; k++) {
    double *g = gs + ng * nb;
    for (size_t c = 0; c < nb; c++)
      g[c] = w->cone.gen[k * n + at[c]];
    int dup = 0;
    for (size_t h = 0; h < ng && !dup; h++) {
      double ep = 0, em = 0;
      for (size_t c = 0; c < nb; c++) {
        ep = fmax(ep, fabs(g[c] - gs[h * nb + c]));
        em = fmax(em, fabs(g[c] + gs[h * nb + c]));
      }
      dup = fmin(ep, em) <= (double)(64 * nb) * DBL_EPSILON;
    }
    ng += !dup;
  }
  double subsets = 0, choose = 1;
  for (size_t k = 0; k < nb && k <= ng; k++) {
    subsets += choose;
    choose = choose * (double)(ng - k) / (double)(k + 1);
  }
  const size_t cap = subsets <= 65536.0 ? (size_t)subsets : 0;
  gsl_matrix *A = gsl_matrix_alloc(nb, nb), *Q = gsl_matrix_alloc(nb, nb), *R = gsl_matrix_alloc(nb, nb),
             *M = gsl_matrix_alloc(nb, nb), *Y = gsl_matrix_alloc(nb, nb);
  gsl_vector *tau = gsl_vector_alloc(nb), *norm = gsl_vector_alloc(nb), *ev = gsl_vector_alloc(nb);
  gsl_permutation *perm = gsl_permutation_alloc(nb);
  gsl_eigen_symmv_workspace *eig = gsl_eigen_symmv_alloc(nb);
  /* the candidates: per subspace its eigenvalue less rounding, the test's tolerance (inf: untested), the
   * eigenvector; and their order */
  double *clow = malloc((cap ? cap : 1) * sizeof *clow), *ctol = malloc((cap ? cap : 1) * sizeof *ctol),
         *cv = malloc((cap ? cap : 1) * nb * sizeof *cv), least2 = INFINITY;
  size_t *corder = malloc((cap ? cap : 1) * sizeof *corder), nc = 0, pick[64];
  struct hp_scratch h = {.nb = nb, .at = at, .type = malloc(q * 64 * 2 * sizeof(size_t)),
                         .ntype = malloc(q * sizeof(size_t)), .sel = malloc(q * sizeof(size_t)),
                         .z = malloc(w->K * sizeof(double)), .basis = malloc(2 * nb * nb * sizeof(double)),
                         .nu = malloc(nb * sizeof(double)), .C = gsl_matrix_alloc(nb, q), .V = gsl_matrix_alloc(q, q),
                         .s = gsl_vector_alloc(q), .G = malloc(2 * q * nb * sizeof(double)),
                         .cons = malloc(2 * q * nb * sizeof(double)), .strict = calloc(2 * q, 1),
                         .ri = calloc(nb, sizeof(double))};
  int ok = gs && A && Q && R && M && Y && tau && norm && ev && perm && eig && clow && ctol && cv && corder &&
           h.type && h.ntype && h.sel && h.z && h.basis && h.nu && h.C && h.V && h.s && h.G && h.cons && h.strict &&
           h.ri && cap > 0;
  const double l1 = x->top, unit = (double)(16 * nb) * DBL_EPSILON;
  for (size_t k = 0; ok && k < nb && k <= ng; k++) {
    for (size_t c = 0; c < k; c++)
      pick[c] = c;
    for (;;) {
      /* L = B cap (the picked generators)^perp: the last nb - k columns of the pivoted QR's Q */
      size_t first = k;
      double r = 1, angle = unit;
      if (k == 0)
        gsl_matrix_set_identity(Q);
      else {
        gsl_matrix_set_zero(A);
        for (size_t c = 0; c < k; c++)
          for (size_t e = 0; e < nb; e++)
            gsl_matrix_set(A, e, c, gs[pick[c] * nb + e]);
        int sg;
        gsl_linalg_QRPT_decomp2(A, Q, R, tau, perm, &sg, norm);
        r = fabs(gsl_matrix_get(R, k - 1, k - 1)) / fmax(fabs(gsl_matrix_get(R, 0, 0)), DBL_MIN);
        angle = unit * (1 + 1 / r);
      }
      const int skip = k > 0 && r <= (double)(64 * nb) * DBL_EPSILON, untested = k > 0 && r < 1e-5;
      if (untested && !skip) { /* the subspace cut by the first k - 1 pivoted generators, which contains L */
        const double r1 = k > 1 ? fabs(gsl_matrix_get(R, k - 2, k - 2)) / fabs(gsl_matrix_get(R, 0, 0)) : 1.0;
        first = k - 1;
        angle = unit * (1 + 1 / fmax(r1, DBL_MIN));
      }
      if (!skip) {
        const size_t dim = nb - first;
        gsl_matrix_view Z = gsl_matrix_submatrix(Q, 0, first, nb, dim), S = gsl_matrix_submatrix(M, 0, 0, dim, dim),
                        Yv = gsl_matrix_submatrix(Y, 0, 0, dim, dim);
        gsl_vector_view e = gsl_vector_subvector(ev, 0, dim);
        for (size_t s = 0; s < dim; s++)
          for (size_t t = 0; t < dim; t++) {
            double z = 0;
            for (size_t c = 0; c < nb; c++)
              for (size_t f = 0; f < nb; f++)
                z += gsl_matrix_get(&Z.matrix, c, s) * x->S[at[c] * n + at[f]] * gsl_matrix_get(&Z.matrix, f, t);
            gsl_matrix_set(&S.matrix, s, t, z);
          }
        gsl_eigen_symmv(&S.matrix, &e.vector, &Yv.matrix, eig);
        gsl_eigen_symmv_sort(&e.vector, &Yv.matrix, GSL_EIGEN_SORT_VAL_ASC);
        const double lam = gsl_vector_get(&e.vector, 0), gap = dim > 1 ? gsl_vector_get(&e.vector, 1) - lam : INFINITY;
        const double tol = eigvec_tolerance(angle, unit, l1, gap);
        if (k == 0) /* rank below q: V in a subspace of B of codimension 2 */
          least2 = lam + gsl_vector_get(&e.vector, 1) - 2 * unit * l1;
        clow[nc] = lam - 2 * l1 * angle - unit * l1;
        ctol[nc] = untested || !(tol <= 1e-3) ? INFINITY : tol;
        for (size_t c = 0; c < nb; c++) {
          cv[nc * nb + c] = 0;
          for (size_t s = 0; s < dim; s++)
            cv[nc * nb + c] += gsl_matrix_get(&Z.matrix, c, s) * gsl_matrix_get(&Yv.matrix, s, 0);
        }
        corder[nc] = nc;
        nc++;
      }
      size_t c = k; /* the next k-subset of the ng generators */
      while (c > 0 && pick[c - 1] == ng - k + c - 1)
        c--;
      if (c == 0)
        break;
      pick[c - 1]++;
      for (size_t t = c; t < k; t++)
        pick[t] = pick[t - 1] + 1;
    }
  }
  double trace = 0;
  for (size_t c = 0; c < nb; c++)
    trace += x->S[at[c] * n + at[c]];
  if (ok && q >= 2) { /* configurations of rank below q: the one-neuron bound with V of dimension q - 1 */
    x->dim = q - 1;
    least2 = fmax(least2, one_neuron_bound(w) - (w->energy - trace));
    x->dim = q;
  }
  if (ok && q == 3) /* and, where a neuron's code direction is fixed, exactly (fixed_code_rank) */
    least2 = fmax(least2, trace - fixed_code_rank(w));
  /* the least candidate whose hyperplane meets every cone bounds every configuration (rank q or not), the least
   * in G those of rank q */
  double best = ok ? INFINITY : -INFINITY;
  if (ok) {
    gsl_sort_index(corder, clow, 1, nc);
    for (size_t t = 0, failed = 0; t < nc && clow[corder[t]] < best; t++) {
      const size_t id = corder[t];
      const double *v = cv + id * nb;
      int in = 1;
      for (size_t i = 0; i < q && in && ctol[id] < INFINITY; i++)
        in = hyperplane_meets(w, i, v, at, nb, ctol[id]);
      if (!in)
        continue;
      if (best == INFINITY) { /* the least over every hyperplane meeting the cones */
        best = fmax(least2, clow[id]);
        for (size_t c = 0; c < nb; c++)
          nu[at[c]] = v[c];
      }
      if (ctol[id] < INFINITY && failed < 256 && !hyperplane_spans(w, v, ctol[id], &h)) {
        failed++;
        continue;
      }
      best = fmin(best, clow[id]);
      for (size_t c = 0; c < nb; c++)
        nu[at[c]] = v[c];
      *ntilt = ctol[id] < INFINITY && failed < 256 ? h.m : 0;
      memset(tilt, 0, (n + 1) * n * sizeof *tilt);
      for (size_t a = 0; a < *ntilt; a++)
        for (size_t c = 0; c < nb; c++)
          tilt[(a + 1) * n + at[c]] = h.basis[a * nb + c];
      for (size_t c = 0; c < nb && *ntilt > 0; c++)
        tilt[at[c]] = h.ri[c];
      break;
    }
  }
  gsl_matrix_free(A);
  gsl_matrix_free(Q);
  gsl_matrix_free(R);
  gsl_matrix_free(M);
  gsl_matrix_free(Y);
  gsl_vector_free(tau);
  gsl_vector_free(norm);
  gsl_vector_free(ev);
  gsl_permutation_free(perm);
  gsl_eigen_symmv_free(eig);
  free(clow), free(ctol), free(cv), free(corder), free(gs);
  free(h.type), free(h.ntype), free(h.sel), free(h.z), free(h.basis), free(h.nu), free(h.G), free(h.cons);
  free(h.strict), free(h.ri);
  if (h.C) gsl_matrix_free(h.C);
  if (h.V) gsl_matrix_free(h.V);
  if (h.s) gsl_vector_free(h.s);
  if (!(best > -INFINITY && best < INFINITY))
    return -INFINITY;
  const double margin = 2 * (double)(16 * (n + w->q + w->nr)) * DBL_EPSILON * w->energy;
  return w->energy - trace + best - margin;
}

/* Column block at of an LP with cols columns (rows row0 ..): neuron i's generators times sign, each projected on
 * the rows of proj (rows x n; NULL: the generator's own entries, rows = n) */
static void
lp_block(const struct sdlab_bnb_workspace *w, double *A, size_t cols, size_t row0, size_t rows, size_t at, size_t i,
         double sign, const double *proj)
{
  const size_t n = w->n;
  for (size_t j = 0; j < w->cone.count[i]; j++) {
    const double *g = w->cone.gen + (w->cone.off[i] + j) * n;
    for (size_t r = 0; r < rows; r++) {
      double v = proj ? 0 : g[r];
      for (size_t d = 0; proj && d < n; d++)
        v += proj[r * n + d] * g[d];
      A[(row0 + r) * cols + at + j] = sign * v;
    }
  }
}

/* fr's rows q .. n - 1: an orthonormal basis of the complement of the span of its first q rows (independent;
 * Householder QR) */
static int
frame_complete(size_t n, size_t q, double *fr)
{
  gsl_matrix *F = gsl_matrix_alloc(n, q), *Q = gsl_matrix_alloc(n, n), *R = gsl_matrix_alloc(n, q);
  gsl_vector *tau = gsl_vector_alloc(q);
  int ok = F && Q && R && tau;
  if (ok) {
    for (size_t d = 0; d < n; d++)
      for (size_t t = 0; t < q; t++)
        gsl_matrix_set(F, d, t, fr[t * n + d]);
    gsl_linalg_QR_decomp(F, tau);
    gsl_linalg_QR_unpack(F, tau, Q, R);
    for (size_t t = q; t < n; t++)
      for (size_t d = 0; d < n; d++)
        fr[t * n + d] = gsl_matrix_get(Q, d, t);
  }
  if (F) gsl_matrix_free(F);
  if (Q) gsl_matrix_free(Q);
  if (R) gsl_matrix_free(R);
  if (tau) gsl_vector_free(tau);
  return ok ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
}

/* The relaxation's frame at code c: fr's rows u = c / |c|, then the m = q - 1 top eigenvectors of M (relax_phi),
 * then an orthonormal basis of the complement of their span (frame_complete) */
static int
relax_frame(struct sdlab_bnb_workspace *w, const double *c, double *fr)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, q = w->q;
  double gap;
  relax_phi(x, n, q, c, &gap);
  memcpy(fr, x->u, n * sizeof *fr);
  for (size_t t = 1; t < q; t++)
    for (size_t d = 0; d < n; d++)
      fr[t * n + d] = gsl_matrix_get(x->V, d, t - 1);
  return frame_complete(n, q, fr);
}

/* The code of neuron i nearest (in l_1) to target, and, when j != NONE, also one of neuron j (a code of both
 * cones): plain coordinates into l, the code into u (n); *found 0 when the LP finds none */
static int
relax_base(struct sdlab_bnb_workspace *w, size_t i, size_t j, const double *target, double *A, double *rhs,
           double *cost, double *sol, double *l, double *u, int *found)
{
  const size_t n = w->n, pi = w->cone.count[i], pj = j == NONE ? 0 : w->cone.count[j];
  const size_t cols = pi + pj + 2 * n, rows = j == NONE ? n : 2 * n;
  memset(A, 0, rows * cols * sizeof *A);
  lp_block(w, A, cols, 0, n, 0, i, 1.0, NULL);
  for (size_t d = 0; d < n; d++) {
    A[d * cols + pi + pj + d] = -1;
    A[d * cols + pi + pj + n + d] = 1;
    rhs[d] = target[d];
  }
  if (j != NONE) {
    lp_block(w, A, cols, n, n, 0, i, 1.0, NULL);
    lp_block(w, A, cols, n, n, pi, j, -1.0, NULL);
    memset(rhs + n, 0, n * sizeof *rhs);
  }
  for (size_t c = 0; c < cols; c++)
    cost[c] = c < pi + pj ? 0.0 : 1.0;
  int status = sdlab_lp_equality(A, rhs, cost, rows, cols, 0, sol, found);
  if (status || !*found)
    return status;
  /* GLPK's vertex within its tolerances: entries below 1e-7 of the largest are its noise, made 0; then neuron j's
   * coefficients solved again on their support, so that both codes are one vector within rounding */
  double big = 0, coef[64];
  size_t idx[64] = {0}, m = 0;
  memset(u, 0, n * sizeof *u);
  for (size_t c = 0; c < pi + pj; c++)
    big = fmax(big, sol[c]);
  for (size_t c = 0; c < pi + pj; c++)
    sol[c] = sol[c] > 1e-7 * big ? sol[c] : 0.0;
  for (size_t c = 0; c < pi; c++)
    for (size_t d = 0; d < n; d++)
      u[d] += sol[c] * w->cone.gen[(w->cone.off[i] + c) * n + d];
  for (size_t c = 0; c < pj; c++)
    if (sol[pi + c] > 0 && m < 64)
      idx[m++] = w->cone.off[j] + c;
  if (j != NONE && !cone_solve(w, u, idx, m, coef)) {
    *found = 0;
    return status;
  }
  for (size_t c = 0; c < pi; c++)
    l[w->cone.off[i] + c] = sol[c];
  for (size_t c = 0; c < m; c++)
    l[idx[c]] = coef[c];
  return status;
}

/* Neuron j's code in V = span(fr's first q rows) with component s along direction e (a row of fr): plain
 * coordinates into l; *found 0 when there is none */
static int
relax_exact(struct sdlab_bnb_workspace *w, size_t j, const double *fr, const double *e, double s, double *A,
            double *rhs, double *sol, double *l, int *found)
{
  const size_t n = w->n, q = w->q, p = w->cone.count[j], rows = n - q + 1;
  lp_block(w, A, p, 0, n - q, 0, j, 1.0, fr + q * n);
  lp_block(w, A, p, n - q, 1, 0, j, 1.0, e);
  memset(rhs, 0, rows * sizeof *rhs);
  rhs[n - q] = s;
  int status = sdlab_lp_equality(A, rhs, NULL, rows, p, 0, sol, found);
  for (size_t c = 0; !status && *found && c < p; c++)
    l[w->cone.off[j] + c] = fmax(0.0, sol[c]);
  return status;
}

/* Tangent directions at the shared code u (fr's first row) of neurons i and j: a of i and b of j (plain
 * coordinates into dl) with b - a = s e + t u + the other frame vectors of V (t and those free): the codes u + eps a
 * and u + eps b span, as eps -> 0, a plane of V through u and e; *found 0 when there are none */
static int
relax_tangent(struct sdlab_bnb_workspace *w, size_t i, size_t j, const double *fr, size_t e, double s, double *A,
              double *rhs, double *sol, double *dl, int *found)
{
  const size_t n = w->n, q = w->q, pi = w->cone.count[i], pj = w->cone.count[j], cols = pi + pj + q - 1;
  memset(A, 0, n * cols * sizeof *A);
  lp_block(w, A, cols, 0, n, 0, i, -1.0, NULL);
  lp_block(w, A, cols, 0, n, pi, j, 1.0, NULL);
  for (size_t t = 0, c = pi + pj; t < q; t++)
    for (size_t d = 0; t != e && d < n; d++)
      A[d * cols + c + t - (t > e)] = fr[t * n + d];
  for (size_t d = 0; d < n; d++)
    rhs[d] = s * fr[e * n + d];
  int status = sdlab_lp_equality(A, rhs, NULL, n, cols, q - 1, sol, found);
  for (size_t c = 0; !status && *found && c < pi + pj; c++)
    dl[w->cone.off[c < pi ? i : j] + (c < pi ? c : c - pi)] = fmax(0.0, sol[c]);
  return status;
}

/* Offer the point of plain coordinates l (chart 0) */
static int
offer_plain(sdlab_bnb *b, const double *l)
{
  double smax, smin;
  codes(b->w, l, 0);
  return offer(b, l, fit(b->w, &smax, &smin));
}

/* Neuron i's code c (n) as plain coordinates into l: a nonnegative combination of the generators of its cover
 * simplex t (independent), R^-1 Q c by Gram-Schmidt (Q, R, qc: scratch of 64 n, 64^2 and 64), clamped at 0
 * against rounding; *inside cleared where a coefficient is negative beyond rounding.  0 where the generators are
 * dependent. */
static int
pair_coords(const struct sdlab_bnb_workspace *w, size_t i, const double *c, size_t t, double *Q, double *R,
            double *qc, double *l, int *inside)
{
  const size_t n = w->n;
  size_t pick[64] = {0};
  const size_t k = mask_bits(w->cone.tri[t], w->cone.count[i], pick);
  double rmin;
  if (k > n || !gram_schmidt(w->cone.gen + w->cone.off[i] * n, pick, k, n, Q, R, &rmin))
    return 0;
  for (size_t s = 0; s < k; s++) {
    qc[s] = 0;
    for (size_t d = 0; d < n; d++)
      qc[s] += Q[s * n + d] * c[d];
  }
  upper_solve(R, k, qc, pick, l + w->cone.off[i]);
  double most = 0;
  for (size_t s = 0; s < k; s++)
    most = fmax(most, fabs(l[w->cone.off[i] + pick[s]]));
  for (size_t s = 0; s < k; s++) {
    *inside &= l[w->cone.off[i] + pick[s]] >= -(double)(64 * n) * DBL_EPSILON * most;
    l[w->cone.off[i] + pick[s]] = fmax(0.0, l[w->cone.off[i] + pick[s]]);
  }
  return 1;
}

/* For q = 2, a point of the two-neuron search (codes c of the two neurons, 2 n, in cover simplices t): the codes'
 * plain coordinates (pair_coords), offered as any point (its L~ recomputed, with its rounding) */
static int
pair_offer(sdlab_bnb *b, const double *c, const size_t *t, int *inside)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t n = w->n;
  double *l = calloc(w->K, sizeof *l), *Q = malloc(64 * n * sizeof *Q), *R = malloc(64 * 64 * sizeof *R),
         *qc = malloc(64 * sizeof *qc);
  int status = l && Q && R && qc ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  for (size_t i = 0; !status && i < 2; i++) {
    if (!pair_coords(w, i, c + i * n, t[i], Q, R, qc, l, inside))
      break;
    if (i == 1 && *inside)
      status = offer_plain(b, l);
  }
  free(l), free(Q), free(R), free(qc);
  return status;
}

/* For q >= 3, phi2 (pair_phi) raised by ascent from codes a and b (n each, changed in place) of neurons i and j,
 * inside their cover simplices ta and tb: the simplices' coordinates move along phi2's gradient (pair_phi's, through
 * the vertices), clamped at 0, a step taken where phi2 rises (and doubled), else quartered, until the step is below
 * 1e-15 or after 200 steps.  A heuristic for incumbents: where the search's best record sits near a limit (codes
 * tending to parallel ones), its centroids stay first-order below the sup, and the ascent moves them on. */
#define POLISH_STEPS 200
static void
pair_polish(struct sdlab_bnb_workspace *w, size_t i, size_t j, size_t ta, size_t tb, double *a, double *b)
{
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, q = w->q, km = x->kmax;
  double *v = malloc(2 * km * n * sizeof *v), *co = malloc(4 * km * sizeof *co), *g = malloc(2 * km * sizeof *g),
         *trial = malloc(2 * n * sizeof *trial), *l = calloc(w->K, sizeof *l), *Q = malloc(64 * n * sizeof *Q),
         *R = malloc(64 * 64 * sizeof *R), *qc = malloc(64 * sizeof *qc);
  const size_t ka = v ? cover_simplex(w, i, ta, v) : 0, kb = v ? cover_simplex(w, j, tb, v + km * n) : 0;
  int inside = 1;
  if (v && co && g && trial && l && Q && R && qc && pair_coords(w, i, a, ta, Q, R, qc, l, &inside) &&
      pair_coords(w, j, b, tb, Q, R, qc, l, &inside)) {
    const size_t k[2] = {ka, kb}, who[2] = {i, j}, t[2] = {ta, tb};
    for (size_t side = 0; side < 2; side++) { /* the simplices' coordinates, in the order of cover_simplex */
      size_t pick[64] = {0};
      mask_bits(w->cone.tri[t[side]], w->cone.count[who[side]], pick);
      for (size_t s = 0; s < k[side]; s++)
        co[side * km + s] = l[w->cone.off[who[side]] + pick[s]];
    }
    double gap, sig, val = pair_phi(x, n, q, a, b, &gap, &sig), step = 1e-3;
    for (size_t it = 0; it < POLISH_STEPS && val > -INFINITY && step > 1e-15; it++) {
      for (size_t side = 0; side < 2; side++)
        for (size_t s = 0; s < k[side]; s++) {
          g[side * km + s] = 0;
          for (size_t d = 0; d < n; d++)
            g[side * km + s] += v[(side * km + s) * n + d] * x->grad[side * n + d];
        }
      double norm = 0;
      for (size_t side = 0; side < 2; side++)
        for (size_t s = 0; s < k[side]; s++)
          norm = fmax(norm, fabs(g[side * km + s]));
      if (!(norm > 0))
        break;
      double up = -INFINITY;
      while (step > 1e-15) {
        memset(trial, 0, 2 * n * sizeof *trial);
        for (size_t side = 0; side < 2; side++)
          for (size_t s = 0; s < k[side]; s++) {
            const double c = fmax(0.0, co[side * km + s] + step * g[side * km + s] / norm);
            co[2 * km + side * km + s] = c;
            for (size_t d = 0; d < n; d++)
              trial[side * n + d] += c * v[(side * km + s) * n + d];
          }
        up = pair_phi(x, n, q, trial, trial + n, &gap, &sig);
        if (up > val)
          break;
        step /= 4;
      }
      if (!(up > val))
        break;
      val = up; /* pair_phi's gradient is now the trial's */
      memcpy(a, trial, n * sizeof *a);
      memcpy(b, trial + n, n * sizeof *b);
      memcpy(co, co + 2 * km, 2 * km * sizeof *co);
      step *= 2;
    }
  }
  free(v), free(co), free(g), free(trial), free(l), free(Q), free(R), free(qc);
}

/* For q >= 3, a point where the two-neuron bound is reached: the pair (i, j) that set it has codes a, b at its search's
 * best record, moved up phi2 (pair_polish), and phi2(a, b) is tr(P_V S) for V = span{a, b} + the top q - 2
 * eigenvectors of P' S P' (pair_phi), so where each other live neuron has a code in V with a unit component along one
 * of those eigenvectors (an LP, relax_exact, on the frame of V: span{a, b}'s orthonormal basis, the eigenvectors, the
 * complement) and the codes span V, the point's L~ is ||R||^2 - phi2(a, b), at most ||R||^2 less the search's best.
 * The codes of i and j are taken in their cover simplices (pair_coords); the point is valued as offer values any point.
 * Nothing is offered where a neuron has no such code (V misses its cone, or meets it only where the frame's
 * eigenvector has no component). */
static int
pair_frame_incumbent(sdlab_bnb *b)
{
  struct sdlab_bnb_workspace *w = b->w;
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, q = w->q, K = w->K, pi = x->ppair[0], pj = x->ppair[1];
  double *a = x->pbest, *c = x->pbest + n, gap, sig;
  if (q < 3 || q > n || !x->pbest_ok)
    return SDLAB_SUCCESS;
  pair_polish(w, pi, pj, x->pbest_t[0], x->pbest_t[1], a, c);
  if (pair_phi(x, n, q, a, c, &gap, &sig) == -INFINITY)
    return SDLAB_SUCCESS;
  double *fr = malloc(n * n * sizeof *fr), *A = malloc((n + 1) * K * sizeof *A), *rhs = malloc((n + 1) * sizeof *rhs),
         *sol = malloc(K * sizeof *sol), *l = calloc(K, sizeof *l), *Q = malloc(64 * n * sizeof *Q),
         *R = malloc(64 * 64 * sizeof *R), *qc = malloc(64 * sizeof *qc);
  int status = fr && A && rhs && sol && l && Q && R && qc ? SDLAB_SUCCESS
               : sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  double na = 0, ab = 0, nc = 0;
  for (size_t d = 0; !status && d < n; d++) {
    na += a[d] * a[d];
    ab += a[d] * c[d];
  }
  for (size_t d = 0; !status && d < n; d++) { /* span{a, b}: a / |a|, then b less its part along a, made unit */
    fr[d] = a[d] / sqrt(na);
    fr[n + d] = c[d] - ab / na * a[d];
    nc += fr[n + d] * fr[n + d];
  }
  for (size_t d = 0; !status && d < n; d++)
    fr[n + d] /= sqrt(nc);
  for (size_t t = 2; !status && t < q; t++)
    for (size_t d = 0; d < n; d++)
      fr[t * n + d] = gsl_matrix_get(x->V, d, t - 2);
  if (!status)
    status = frame_complete(n, q, fr);
  int found = 1, inside = 1;
  for (size_t k = 0, e = 2; !status && found && k < q; k++) { /* the others' codes, along eigenvectors in turn */
    if (k == pi || k == pj)
      continue;
    found = 0;
    for (size_t u = 0; !status && !found && u < q - 2; u++)
      for (int sg = 0; !status && !found && sg < 2; sg++)
        status = relax_exact(w, k, fr, fr + (2 + (e - 2 + u) % (q - 2)) * n, sg ? -1.0 : 1.0, A, rhs, sol, l, &found);
    e++;
  }
  if (!status && found && pair_coords(w, pi, a, x->pbest_t[0], Q, R, qc, l, &inside) &&
      pair_coords(w, pj, c, x->pbest_t[1], Q, R, qc, l, &inside) && inside)
    status = offer_plain(b, l);
  free(fr), free(A), free(rhs), free(sol), free(l), free(Q), free(R), free(qc);
  return status;
}

/* For q = 2, the two-neuron search's best point, where it beat the incumbent.  Where it came from a record whose two
 * simplices share a vertex u (codes a, b tending to u: the sup a limit there), also u + t (a - u), u + t (b - u) for
 * t = 2, 4, ... while they stay in their simplices' cones and within 1/4 of u: their plane tends to the limit as t
 * shrinks, but W_D grows as 1 / (t |a - u|), and with it L~'s rounding bound, which offer adds; the best sum wins.
 * For q >= 3, pair_frame_incumbent's point. */
static int
pair_incumbent(sdlab_bnb *b)
{
  struct sdlab_bnb_workspace *w = b->w;
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n;
  if (w->q >= 3)
    return pair_frame_incumbent(b);
  if (w->q != 2 || !x->pbest_ok)
    return SDLAB_SUCCESS;
  int inside = 1, status = pair_offer(b, x->pbest, x->pbest_t, &inside);
  if (status || !x->pbest_u_ok)
    return status;
  double *c = malloc(2 * n * sizeof *c);
  if (c == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  for (double t = 2; !status && inside; t *= 2) {
    double far = 0;
    for (size_t d = 0; d < 2 * n; d++) {
      c[d] = x->pbest_u[d % n] + t * (x->pbest[d] - x->pbest_u[d % n]);
      far = fmax(far, fabs(c[d] - x->pbest_u[d % n]));
    }
    if (far > 0.25)
      break;
    status = pair_offer(b, c, x->pbest_t, &inside);
  }
  free(c);
  return status;
}

/* An incumbent where the one-neuron bound is reached: the neuron i whose largest phi is least has its code u there,
 * the others codes in the span V of its maximising frame (u and the top eigenvectors of M), so the point's L~ is
 * ||R||^2 - phi(u), the bound itself.  Neuron j's code is a point of K_j in V with a unit component along one of the
 * frame's eigenvectors (an LP), or, where K_j meets V only along u (the cones share a face there, and the infimum
 * is a limit), u moved to a code of both cones and, for one such neuron, u + eps a for neuron i and u + eps b for
 * neuron j with b - a along that eigenvector (tangent directions: an LP), offered for eps = 1e-2 .. 1e-9 (W_D grows
 * as 1 / eps, and so L~'s rounding, which offer adds).  Every point is valued as offer values any point. */
static int
relax_incumbent(sdlab_bnb *b)
{
  struct sdlab_bnb_workspace *w = b->w;
  struct bnb_relax *x = &w->rx;
  const size_t n = w->n, q = w->q, K = w->K;
  size_t is = NONE;
  for (size_t i = 0; i < q; i++)
    if (x->argv[i] > -INFINITY && (is == NONE || x->argv[i] < x->argv[is]))
      is = i;
  if (is == NONE || q > n)
    return SDLAB_SUCCESS;
  const size_t cols = 2 * K + 2 * n + q, rows = 2 * n + 1;
  double *A = malloc(rows * cols * sizeof *A), *rhs = malloc(rows * sizeof *rhs), *cost = malloc(cols * sizeof *cost),
         *sol = malloc(cols * sizeof *sol), *l = calloc(K, sizeof *l), *dl = calloc(K, sizeof *dl),
         *lt = malloc(K * sizeof *lt), *fr = malloc(n * n * sizeof *fr), *u = malloc(n * sizeof *u);
  int status = A && rhs && cost && sol && l && dl && lt && fr && u ? SDLAB_SUCCESS
               : sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  int found = 0;
  size_t limit = NONE; /* the neuron whose code is a limit along u */
  for (int pass = 0; !status && pass < 2; pass++) {
    /* pass 0: u the code of neuron is nearest the maximiser; pass 1: u a code of both is and limit */
    memset(l, 0, K * sizeof *l);
    status = relax_base(w, is, limit, x->arg + is * n, A, rhs, cost, sol, l, u, &found);
    if (status || !found)
      break;
    double nu = 0, nt = 0;
    for (size_t d = 0; d < n; d++) {
      nu += u[d] * u[d];
      nt += x->arg[is * n + d] * x->arg[is * n + d];
    }
    if (!(nu > 0.25 * nt)) { /* no code of the cones near the maximiser (only 0 in both, say) */
      found = 0;
      break;
    }
    if ((status = relax_frame(w, u, fr)))
      break;
    int missing = 0;
    for (size_t j = 0; !status && j < q; j++) {
      if (j == is || j == limit)
        continue;
      found = 0;
      for (size_t t = 1; !status && !found && t < q; t++)
        for (int sg = 0; !status && !found && sg < 2; sg++)
          status = relax_exact(w, j, fr, fr + t * n, sg ? -1.0 : 1.0, A, rhs, sol, l, &found);
      if (!found && limit == NONE && pass == 0)
        limit = j;
      missing |= !found;
    }
    if (status)
      break;
    if (pass == 0 && !missing) { /* every other neuron has a code in V: the point is exact */
      found = 1;
      break;
    }
    if (pass == 1 && !missing) { /* the tangent directions, along the frame's eigenvectors in turn */
      found = 0;
      for (size_t t = 1; !status && !found && t < q; t++)
        for (int sg = 0; !status && !found && sg < 2; sg++)
          status = relax_tangent(w, is, limit, fr, t, sg ? -1.0 : 1.0, A, rhs, sol, dl, &found);
    } else
      found = 0;
    if (limit == NONE)
      break;
  }
  if (!status && found) {
    double nl = 0, nd = 0;
    for (size_t k = 0; k < K; k++) {
      nl = fmax(nl, l[k]);
      nd = fmax(nd, dl[k]);
    }
    status = offer_plain(b, l);
    for (int e = 2; !status && nd > 0 && e <= 9; e++) {
      const double eps = pow(10.0, -e) * nl / nd;
      for (size_t k = 0; k < K; k++)
        lt[k] = l[k] + eps * dl[k];
      status = offer_plain(b, lt);
    }
  }
  free(A);
  free(rhs);
  free(cost);
  free(sol);
  free(l);
  free(dl);
  free(lt);
  free(fr);
  free(u);
  return status;
}

/* A point of the piece's closure in the hyperplane nu^perp: each live neuron a code of its cone there, a generator
 * of K_i cap nu^perp (a generator g_j on it, or |z_k| g_j + z_j g_k for two on either side, z = <nu, g>; at most
 * 64 a neuron), the choice over the neurons (at most 4096 tried, in order) whose normalised codes have the
 * largest least singular value; offered (nothing when a cone misses nu^perp).  Where the codes span nu^perp in B,
 * V is that hyperplane and the point's L~ is ||R||^2 - tr(S_B) + nu^T S nu. */
static int
hyperplane_point(sdlab_bnb *b, const double *nu)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t n = w->n, q = w->q, K = w->K;
  double *z = malloc(K * sizeof *z), *l = calloc(K, sizeof *l);
  size_t *cj = malloc(q * 64 * 2 * sizeof *cj), *cnt = calloc(q, sizeof *cnt), *sel = calloc(q, sizeof *sel),
         *pick = calloc(q, sizeof *pick);
  gsl_matrix *C = gsl_matrix_alloc(n, q), *V = gsl_matrix_alloc(q, q);
  gsl_vector *sv = gsl_vector_alloc(q);
  int status = z && l && cj && cnt && sel && pick && C && V && sv
               ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  const double tol = (double)(64 * n) * DBL_EPSILON;
  double total = 1, zj[64] = {0}, zk[64] = {0};
  size_t id[64], jj[64] = {0}, kk[64] = {0}; /* the coordinates (all n, at most 64 here), a choice's generators */
  for (size_t d = 0; d < n; d++)
    id[d] = d;
  for (size_t k = 0; !status && k < K; k++) {
    z[k] = 0;
    for (size_t d = 0; d < n; d++)
      z[k] += nu[d] * w->cone.gen[k * n + d];
  }
  for (size_t i = 0; !status && i < q; i++) { /* K_i cap nu^perp's generators: on it, plus pairs straddling it */
    const size_t o = w->cone.off[i], c = w->cone.count[i];
    for (size_t j = o; j < o + c; j++)
      for (size_t k = o; k < o + c && cnt[i] < 64; k++)
        if (k == j ? fabs(z[j]) <= tol : z[j] > tol && z[k] < -tol) {
          cj[(i * 64 + cnt[i]) * 2] = j;
          cj[(i * 64 + cnt[i]) * 2 + 1] = k;
          cnt[i]++;
        }
    total *= (double)cnt[i];
  }
  double best = -1;
  for (size_t tried = 0; !status && total > 0 && tried < 4096; tried++) {
    for (size_t i = 0; i < q; i++) { /* the codes of the choice sel */
      jj[i] = cj[(i * 64 + sel[i]) * 2];
      kk[i] = cj[(i * 64 + sel[i]) * 2 + 1] == jj[i] ? NONE : cj[(i * 64 + sel[i]) * 2 + 1];
      zj[i] = kk[i] == NONE ? 0.0 : z[jj[i]];
      zk[i] = kk[i] == NONE ? 0.0 : z[kk[i]];
    }
    if (choice_codes(w, jj, kk, zj, zk, id, n, C, V, sv) && gsl_vector_get(sv, q - 1) > best) {
      best = gsl_vector_get(sv, q - 1);
      memcpy(pick, sel, q * sizeof *pick);
    }
    size_t i = 0;
    while (i < q && ++sel[i] == cnt[i])
      sel[i++] = 0;
    if (i == q)
      break;
  }
  if (!status && best >= 0) {
    for (size_t i = 0; i < q; i++) {
      const size_t j = cj[(i * 64 + pick[i]) * 2], k = cj[(i * 64 + pick[i]) * 2 + 1];
      const double a = k == j ? 1.0 : -z[k], c = k == j ? 0.0 : z[j];
      double cn = 0;
      for (size_t d = 0; d < n; d++) {
        const double v = a * w->cone.gen[j * n + d] + c * w->cone.gen[k * n + d];
        cn += v * v;
      }
      l[j] = a / sqrt(cn);
      if (k != j)
        l[k] = c / sqrt(cn);
    }
    status = offer_plain(b, l);
  }
  free(z), free(l), free(cj), free(cnt), free(sel), free(pick);
  if (C) gsl_matrix_free(C);
  if (V) gsl_matrix_free(V);
  if (sv) gsl_vector_free(sv);
  return status;
}

/* Incumbents where the hyperplane bound is reached (nu its minimiser; nothing when nu is 0): the point in nu^perp,
 * and, since codes of two cones that meet nu^perp only along a shared ray are parallel there (V then has rank
 * below q, and the bound is a limit), points in the hyperplanes of nu + eps t less its part along nu, for
 * eps = 1e-2 .. 1e-9 and t each of: tilt's first row (a relative-interior point of the qualifying selection's
 * region, whose segment to nu lies in the region's relative interior, where the codes have rank q but on an
 * algebraic subset), +-e_d (d in B), +-b_a and the sums of the b_a with each sign vector (b_a the ntilt further
 * rows of tilt: the span of that region): where their codes have rank q their L~ tends to the bound as eps -> 0,
 * while W_D grows as 1 / eps (and so the rounding that offer adds). */
static int
hyperplane_incumbent(sdlab_bnb *b, const double *nu, const double *tilt, size_t ntilt)
{
  const size_t n = b->w->n;
  double nn = 0;
  for (size_t d = 0; d < n; d++)
    nn += nu[d] * nu[d];
  if (!(nn > 0))
    return SDLAB_SUCCESS;
  double *t = malloc(n * sizeof *t), *dir = malloc(n * sizeof *dir);
  if (t == NULL || dir == NULL) {
    free(t), free(dir);
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  }
  int status = hyperplane_point(b, nu);
  const size_t signs = ntilt > 0 && ntilt < 8 ? (size_t)1 << ntilt : 0, ndir = 1 + 2 * n + 2 * ntilt + signs;
  const double *basis = tilt + n;
  for (size_t k = 0; !status && k < ndir; k++) {
    const size_t c = k - 1;
    memset(dir, 0, n * sizeof *dir);
    if (k == 0)
      memcpy(dir, tilt, n * sizeof *dir);
    else if (c < 2 * n) {
      if (nu[c / 2] == 0 && b->w->rx.S[c / 2 * n + c / 2] == 0)
        continue; /* a coordinate off B */
      dir[c / 2] = c % 2 ? -1.0 : 1.0;
    } else if (c < 2 * n + 2 * ntilt)
      for (size_t d = 0; d < n; d++)
        dir[d] = (c % 2 ? -1.0 : 1.0) * basis[(c - 2 * n) / 2 * n + d];
    else
      for (size_t a = 0; a < ntilt; a++)
        for (size_t d = 0; d < n; d++)
          dir[d] += ((c - 2 * n - 2 * ntilt) >> a & 1 ? -1.0 : 1.0) * basis[a * n + d];
    double along = 0, dn = 0;
    for (size_t d = 0; d < n; d++) {
      along += dir[d] * nu[d];
      dn += dir[d] * dir[d];
    }
    if (!(dn > 0))
      continue;
    for (int e = 2; !status && e <= 9; e++) {
      const double eps = pow(10.0, -e);
      for (size_t d = 0; d < n; d++)
        t[d] = nu[d] + eps * (dir[d] - along * nu[d] / nn);
      status = hyperplane_point(b, t);
    }
  }
  free(t);
  free(dir);
  return status;
}

/* Bound the box at rec (lower bound into rec[0], at least parent); offer its centre and gradient corner. */
static int
bound(sdlab_bnb *b, double *rec, double parent)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t K = w->K, n = w->n, q = w->q, nr = w->nr, ch = (size_t)rec[1];
  const double *lo = rec + HEAD, *hi = rec + HEAD + K;
  b->nodes++;
  /* no point of the piece here */
  if ((w->rank.coupled && coupling_infeasible(w, lo, hi, ch)) || face_infeasible(w, lo, hi, ch)) {
    rec[0] = INFINITY;
    b->infeasible++;
    return SDLAB_SUCCESS;
  }
  for (size_t k = 0; k < K; k++)
    w->ev.l[k] = 0.5 * (lo[k] + hi[k]);
  codes(w, w->ev.l, ch);
  double smax, smin;
  const double f0 = fit(w, &smax, &smin);
  /* rounding of the SVD-based fit (backward stable): gamma of the sizes, times the energy, times the
   * condition number where it is finite */
  const double gam = (double)(16 * (n + q + nr)) * DBL_EPSILON;
  double lb = span_bound(w, hi, ch) - gam * w->energy;
  rec[2] = (double)K; /* no preference: the widest side */
  double eta;
  int smooth;
  const double sb = w->chart.tcount[ch] > 0 ? curved_bound(w, rec, ch, f0, smax, smin - gam * smax, gam, &eta, &smooth)
                                            : affine_bound(w, rec, f0, smax, smin - gam * smax, gam, &eta, &smooth);
  lb = fmax(lb, sb);
  b->degenerate += !smooth;
  lb = fmax(lb, partial_rank_bound(w, eta, gam));
  rec[0] = fmax(fmax(fmax(lb, parent), w->rx.value), 0.0);
  /* upper bounds: the centre (in the plain chart its fit is the one above), then the corner the gradient
   * descends to */
  int status = ch == 0 ? offer(b, w->ev.l, f0) : offer_at(b, w->ev.l, ch);
  if (status)
    return status;
  for (size_t k = 0; k < K; k++)
    w->ev.l[k] = w->ev.grad[k] > 0 ? lo[k] : hi[k];
  return offer_at(b, w->ev.l, ch);
}

static void
heap_push(struct sdlab_bnb_workspace *w, size_t id)
{
  index_heap_push(w->box.heap, &w->box.heaped, w->box.pool, HEAD + 2 * w->K, 1.0, id);
}

static size_t
heap_pop(struct sdlab_bnb_workspace *w)
{
  return index_heap_pop(w->box.heap, &w->box.heaped, w->box.pool, HEAD + 2 * w->K, 1.0);
}

/* a record for a new box (from the free list, else the pool, grown as needed); (size_t)-1 when out of memory */
static size_t
box_new(struct sdlab_bnb_workspace *w)
{
  if (w->box.nfreed > 0)
    return w->box.freed[--w->box.nfreed];
  if (w->box.used == w->box.cap) {
    size_t cap = w->box.cap ? 2 * w->box.cap : 1024;
    double *pool = realloc(w->box.pool, cap * (HEAD + 2 * w->K) * sizeof *pool);
    size_t *heap = realloc(w->box.heap, cap * sizeof *heap);
    if (heap)
      w->box.heap = heap;
    size_t *freed = realloc(w->box.freed, cap * sizeof *freed);
    if (freed)
      w->box.freed = freed;
    if (pool)
      w->box.pool = pool;
    if (!pool || !heap || !freed)
      return (size_t)-1;
    w->box.cap = cap;
  }
  return w->box.used++;
}

static void
refresh(sdlab_bnb *b)
{
  struct sdlab_bnb_workspace *w = b->w;
  b->open = w->box.heaped;
  b->lower = w->box.heaped ? fmin(box(w, w->box.heap[0])[0], b->upper) : b->upper;
}

/* A new box of chart ch: coordinates in [0, 1], neuron i's generator choice[i] held at 1 (a constant in
 * charts other than 0, its coordinate fixed at 0); bounded and queued. */
static int
push_box(sdlab_bnb *b, const size_t *choice, size_t ch)
{
  struct sdlab_bnb_workspace *w = b->w;
  size_t id = box_new(w);
  if (id == NONE)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's boxes");
  double *rec = box(w, id);
  rec[1] = (double)ch;
  for (size_t k = 0; k < w->K; k++) {
    rec[HEAD + k] = 0;
    rec[HEAD + w->K + k] = 1;
  }
  for (size_t i = 0; i < w->q; i++) {
    const size_t held = w->cone.off[i] + choice[i];
    rec[HEAD + held] = rec[HEAD + w->K + held] = ch == 0 ? 1 : 0;
    for (size_t j = 0; j < w->cone.count[i] && j < 64; j++) /* generators outside the box's simplex stay at 0 */
      if (!(w->cone.held_mask[i] >> j & 1))
        rec[HEAD + w->cone.off[i] + j] = rec[HEAD + w->K + w->cone.off[i] + j] = 0;
  }
  int status = bound(b, rec, 0.0);
  if (!status)
    heap_push(w, id);
  return status;
}

/* The first box of curved chart c, whose coordinate vm is the scale s: flagged, counted, bounded and queued */
static int
push_chart(sdlab_bnb *b, const size_t *choice, size_t c, size_t vm)
{
  b->w->chart.scale[c * b->w->chart.nb + b->w->chart.bslot[vm]] = 1;
  b->charts++;
  return push_box(b, choice, c);
}

/* The coordinate of neuron i's other generator (two generators each) in chart ch, the one not held */
static size_t
free_coordinate(const struct sdlab_bnb_workspace *w, size_t ch, size_t i)
{
  return 2 * w->cone.off[i] + 1 - w->chart.held[ch * w->q + i];
}

/* The first group of chart ch, into g with factors mu, its size returned (0: none).  The group's constants
 * k_x = sgn_x g_cst_x have mu_x k_x all the same modulo the span of the chart's constant columns T (the
 * one-generator neurons), so at the corner where the group's coordinates vanish its columns and T lose rank.
 * First two or more two-generator columns with the same constant (bitwise; mu_x = 1 / sgn_x); else a pair
 * whose constants' parts off T are parallel up to rounding, as twins are equal up to rounding: a dependency
 * the codes' support structure forces (exact zeros, see alloc), so exact in exact arithmetic. */
static size_t
chart_group(const struct sdlab_bnb_workspace *w, size_t ch, size_t *g, double *mu)
{
  const size_t q = w->q, n = w->n, *cst = w->chart.cst + ch * q;
  const double *sgn = w->chart.sgn + ch * q;
  for (size_t i = 0; i < q; i++) {
    if (w->cone.count[i] != 2 || cst[i] == NONE)
      continue;
    size_t size = 0;
    for (size_t j = i; j < q; j++)
      if (w->cone.count[j] == 2 && cst[j] != NONE &&
          memcmp(w->cone.gen + cst[i] * n, w->cone.gen + cst[j] * n, n * sizeof *w->cone.gen) == 0) {
        mu[size] = 1 / sgn[j];
        g[size++] = j;
      }
    if (size >= 2)
      return size;
  }
  /* an orthonormal basis of T's span (its generators; B is span_bound's scratch), then the two-generator
   * columns' constants off T (projected twice), unit-normalised (mu_x = 1 / the norm off T) */
  gsl_matrix_view basis = gsl_matrix_view_array(w->ev.gs, n, q);
  double *r = w->ev.gs + n * q;
  size_t nt = 0, nr = 0, col[64];
  for (size_t i = 0; i < q; i++)
    if (cst[i] != NONE && w->cone.count[i] == 1) {
      gsl_vector_const_view k = gsl_vector_const_view_array(w->cone.gen + cst[i] * n, n);
      gsl_matrix_set_col(w->ev.B, nt++, &k.vector);
    }
  gsl_matrix_view Tv = gsl_matrix_submatrix(w->ev.B, 0, 0, n, nt);
  const size_t rt = nt ? sdlab_piece_span_basis(&Tv.matrix, &basis.matrix) : 0;
  const double tol = (double)(64 * n) * DBL_EPSILON;
  for (size_t i = 0; i < q && i < 64; i++) {
    if (cst[i] == NONE || w->cone.count[i] != 2)
      continue;
    gsl_vector_view v = gsl_vector_view_array(r + nr * n, n);
    gsl_vector_const_view k = gsl_vector_const_view_array(w->cone.gen + cst[i] * n, n);
    gsl_vector_memcpy(&v.vector, &k.vector);
    gsl_vector_scale(&v.vector, sgn[i]);
    const double size = gsl_blas_dnrm2(&v.vector);
    for (int twice = 0; twice < 2; twice++)
      for (size_t t = 0; t < rt; t++) {
        gsl_vector_view e = gsl_matrix_column(&basis.matrix, t);
        double c;
        gsl_blas_ddot(&e.vector, &v.vector, &c);
        gsl_blas_daxpy(-c, &e.vector, &v.vector);
      }
    const double norm = gsl_blas_dnrm2(&v.vector);
    if (!(norm > tol * size))
      continue; /* in T's span: reduce's business */
    gsl_vector_scale(&v.vector, 1 / norm);
    mu[nr] = 1 / norm;
    col[nr++] = i;
  }
  for (size_t a = 0; a < nr; a++)
    for (size_t c = a + 1; c < nr; c++) {
      double dot = 0, diff = 0;
      for (size_t d = 0; d < n; d++)
        dot += r[a * n + d] * r[c * n + d];
      const double sign = dot > 0 ? 1 : -1;
      for (size_t d = 0; d < n; d++)
        diff = fmax(diff, fabs(r[a * n + d] - sign * r[c * n + d]));
      if (diff > tol)
        continue;
      const double ma = mu[a], mc = sign * mu[c];
      g[0] = col[a];
      g[1] = col[c];
      mu[0] = ma;
      mu[1] = mc;
      return 2;
    }
  return 0;
}

/* Blow chart ch up at its first group, one chart per member m, and those in turn (to depth 8 and as long as
 * the monomials have room); push a box for each chart that has no group left. */
static int
resolve(sdlab_bnb *b, const size_t *choice, size_t ch, size_t depth)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t q = w->q, nb = w->chart.nb;
  size_t g[64];
  double mu[64];
  const size_t size = chart_group(w, ch, g, mu);
  int room = size >= 2 && depth < 8;
  for (size_t k = 0; room && k < nb; k++) { /* a monomial gains a factor per factor a_x, x in the group */
    const unsigned char *f = w->chart.fac + (ch * nb + k) * MAXFAC;
    size_t len = 0, gain = 0;
    for (size_t t = 0; t < size; t++) {
      const size_t vx = free_coordinate(w, ch, g[t]);
      gain += w->chart.bcoord[k] == vx;
      for (size_t u = 0; u < MAXFAC && f[u] != NOFAC; u++)
        gain += f[u] == w->chart.bslot[vx];
    }
    while (len < MAXFAC && f[len] != NOFAC)
      len++;
    room = len + gain <= MAXFAC;
  }
  if (!room) {
    b->charts++;
    return push_box(b, choice, ch);
  }
  for (size_t a = 0; a < size; a++) {
    const size_t c = chart_new(w, ch);
    if (c == NONE)
      return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's charts");
    const size_t m = g[a], vm = free_coordinate(w, c, m);
    for (size_t t = 0; t < size; t++) {
      const size_t x = g[t], vx = free_coordinate(w, c, x);
      if (x == m)
        continue;
      w->chart.sgn[c * q + x] = -mu[a] / mu[t]; /* column x becomes (mu_x c_x - mu_m c_m - T's part) / (mu_x s) */
      w->chart.cst[c * q + x] = vm;
      /* a_x = s t_x: every monomial with a factor a_x gains the factor s */
      for (size_t k = 0; k < nb; k++) {
        unsigned char *f = w->chart.fac + (c * nb + k) * MAXFAC;
        size_t len = 0, hits = w->chart.bcoord[k] == vx;
        while (len < MAXFAC && f[len] != NOFAC)
          hits += f[len++] == w->chart.bslot[vx];
        while (hits--)
          f[len++] = (unsigned char)w->chart.bslot[vm];
      }
    }
    w->chart.scale[c * nb + w->chart.bslot[vm]] = 1;
    int status = resolve(b, choice, c, depth + 1);
    if (status)
      return status;
  }
  return SDLAB_SUCCESS;
}

/* A group for curved charts in the fresh chart ch (every column its held generator as constant): the neurons
 * holding the same generator (bitwise) as the first neuron of three or more generators that shares its held one,
 * into g, their count returned (0: none; a group of two-generator neurons only is chart_group's). */
static size_t
curved_group(const struct sdlab_bnb_workspace *w, size_t ch, size_t *g)
{
  const size_t q = w->q, n = w->n, *cst = w->chart.cst + ch * q;
  for (size_t i = 0; i < q; i++) {
    if (w->cone.count[i] < 3 || w->chart.bslot[w->cone.off[i]] == NONE)
      continue;
    size_t size = 0, movers = 0;
    int slots = 1;
    for (size_t j = 0; j < q; j++)
      if (memcmp(w->cone.gen + cst[i] * n, w->cone.gen + cst[j] * n, n * sizeof *w->cone.gen) == 0) {
        slots &= w->cone.count[j] < 2 || w->chart.bslot[w->cone.off[j]] != NONE; /* room for its monomials */
        movers += __builtin_popcountll(w->cone.held_mask[j]) >= 2;
        g[size++] = j;
      }
    if (size >= 2 && movers > 0 && slots)
      return size;
  }
  return 0;
}

/* Append a term to the newest chart; 0 when out of memory */
static int
term_add(struct sdlab_bnb_workspace *w, size_t col, size_t k, size_t f, double coef)
{
  if (w->chart.nterm == w->chart.termcap) {
    const size_t cap = w->chart.termcap ? 2 * w->chart.termcap : 256;
    struct bnb_term *t = realloc(w->chart.term, cap * sizeof *t);
    if (t == NULL)
      return 0;
    w->chart.term = t;
    w->chart.termcap = cap;
  }
  w->chart.term[w->chart.nterm++] = (struct bnb_term){.col = col, .k = k, .f = f, .coef = coef};
  w->chart.tcount[w->chart.nchart - 1]++;
  return 1;
}

/* Curved charts, for a group G of neurons holding the same generator u where one has three or more generators
 * (n_p >= 3): their columns u + sum_j a_xj p_xj (j over x's free coordinates, its simplex but u) become parallel
 * as every a -> 0, and the two-generator charts' columns are not affine there.  For a member m and a free
 * coordinate j of m, on {a_mj >= every a of G}: s = a_mj, t = a / s in [0, 1], and
 *   span{c_x : x in G} = span{c_m} + span{(c_x - c_m) / s : x != m},
 *   c_m = u + s (p_mj + sum_{k != j} t_mk p_mk),
 *   (c_x - c_m) / s = sum_k t_xk p_xk - p_mj - sum_{k != j} t_mk p_mk,
 * the same span for s > 0 and its limit at s = 0, where the columns keep full rank.  The charts of all (m, j)
 * cover the group's box, so the bound stays rigorous.  c_m is bilinear in (s, t_m): bound() takes the curvature
 * of curved columns into its smooth bound.  Each column is a list of terms (struct bnb_term) beside its constant;
 * the plain coordinates are a_mj = s and a = s t (the factor s, floored when a point is offered).  One level: a
 * chart is pushed as one box, other groups in it left to the bounds. */
static int
curved_charts(sdlab_bnb *b, const size_t *choice, size_t ch, const size_t *g, size_t size)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t q = w->q, nb = w->chart.nb;
  for (size_t a = 0; a < size; a++) {
    const size_t m = g[a];
    for (size_t jm = 0; jm < w->cone.count[m] && jm < 64; jm++) {
      if (!(w->cone.held_mask[m] >> jm & 1) || jm == choice[m])
        continue;
      const size_t c = chart_new(w, ch), vm = w->cone.off[m] + jm;
      if (c == NONE)
        return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's charts");
      int ok = 1;
      for (size_t i = 0; ok && i < q; i++) {
        int member = 0;
        for (size_t t = 0; t < size; t++)
          member |= g[t] == i;
        for (size_t k = w->cone.off[i]; ok && k < w->cone.off[i] + w->cone.count[i]; k++) {
          if (k == w->chart.held[c * q + i])
            continue;
          if (!member) { /* a column outside the group: affine in its own coordinates */
            ok = term_add(w, i, k, NONE, 1);
            continue;
          }
          if (i == m) /* c_m: s p_mj, then s t_mk p_mk; in every other member's column -t_mk p_mk */
            ok = term_add(w, m, k, k == vm ? NONE : vm, 1);
          else
            ok = term_add(w, i, k, NONE, 1);
          w->chart.fac[(c * nb + w->chart.bslot[k]) * MAXFAC] = k == vm ? NOFAC : (unsigned char)w->chart.bslot[vm];
          if (i == m && k != vm)
            for (size_t t = 0; ok && t < size; t++)
              if (g[t] != m)
                ok = term_add(w, g[t], k, NONE, -1);
        }
        if (member && i != m) {
          w->chart.cst[c * q + i] = vm;
          w->chart.sgn[c * q + i] = -1;
        }
      }
      if (!ok)
        return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's charts");
      int status = push_chart(b, choice, c, vm);
      if (status)
        return status;
    }
  }
  return SDLAB_SUCCESS;
}

/* Shared-face charts, for two neurons x, m holding the same generator u and sharing others, p_f (bitwise, both in
 * their simplices; at most FACES): their columns c_x = u + sum a_xf p_f + sum a_xw w and c_m = u + sum a_mf p_f +
 * sum a_mw w' are parallel wherever a_xf = a_mf for every f and every other a = 0 (the two cones share the face
 * cone{u, p_f}), a set of dimension |f|, not only a corner.  With alpha_f = a_mf kept free and epsilon_f = a_xf -
 * alpha_f, s = max(|epsilon_f|, the a_xw, the a_mw), one chart per sign vector of the epsilons and largest
 * coordinate c (t = the others / s):
 *   c_m = u + sum alpha_f p_f + s sum t_mw w',   (c_x - c_m) / s = sum sgn_f t_f p_f + sum t_xw w - sum t_mw w'
 * (t_c = 1 a constant), the same span for s > 0, its limit at s = 0 of full rank.  The charts cover the pair's
 * box; their boxes also hold a_xf = alpha_f + sgn_f s t_f < 0, outside x's cone: bound() drops a box where one
 * a_xf is negative throughout, and offered points clamp a_xf at 0.  Uncoupled pieces only (plain_box does not
 * know the sums). */
static int
face_charts(sdlab_bnb *b, const size_t *choice, size_t ch, size_t x, size_t m, const size_t *kx, const size_t *km,
            size_t nf)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t q = w->q, nb = w->chart.nb;
  size_t cand[130], nc = 0; /* the largest coordinate: an epsilon, or one of the pair's off-face coordinates */
  for (size_t f = 0; f < nf; f++)
    cand[nc++] = kx[f];
  for (size_t pass = 0; pass < 2; pass++) {
    const size_t i = pass ? m : x;
    for (size_t j = 0; j < w->cone.count[i] && j < 64; j++) {
      const size_t k = w->cone.off[i] + j;
      int shared = 0;
      for (size_t f = 0; f < nf; f++)
        shared |= k == kx[f] || k == km[f];
      if ((w->cone.held_mask[i] >> j & 1) && j != choice[i] && !shared && nc < 130)
        cand[nc++] = k;
    }
  }
  for (size_t a = 0; a < nc; a++)
    for (size_t signs = 0; signs < ((size_t)1 << nf); signs++) {
      const size_t c = chart_new(w, ch), vm = cand[a];
      if (c == NONE)
        return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's charts");
      int ok = 1;
      for (size_t i = 0; ok && i < q; i++)
        for (size_t k = w->cone.off[i]; ok && k < w->cone.off[i] + w->cone.count[i]; k++) {
          if (k == w->chart.held[c * q + i])
            continue;
          if (i != x && i != m) {
            ok = term_add(w, i, k, NONE, 1);
            continue;
          }
          size_t f = 0;
          while (f < nf && k != kx[f] && k != km[f])
            f++;
          if (f < nf) {
            const double sg = signs >> f & 1 ? -1.0 : 1.0;
            if (k == km[f]) /* alpha_f p_f in c_m */
              ok = term_add(w, m, k, NONE, 1);
            else if (k != vm) /* sgn_f t_f p_f in x's column (a constant when epsilon_f is the largest) */
              ok = term_add(w, x, k, NONE, sg);
            if (k == kx[f]) {
              w->chart.face_k[c * FACES + f] = k;
              w->chart.face_a[c * FACES + f] = km[f];
              w->chart.face_sg[c * FACES + f] = sg;
              w->chart.face_s[c * FACES + f] = k == vm;
            }
            continue;
          }
          const int mine = k >= w->cone.off[m] && k < w->cone.off[m] + w->cone.count[m];
          if (k != vm) /* t_k w in x's column, with the sign of its neuron */
            ok = term_add(w, x, k, NONE, mine ? -1 : 1);
          if (mine) /* s t_mw w' in c_m (s w' for the largest) */
            ok = ok && term_add(w, m, k, k == vm ? NONE : vm, 1);
          if (k != vm)
            w->chart.fac[(c * nb + w->chart.bslot[k]) * MAXFAC] = (unsigned char)w->chart.bslot[vm];
        }
      if (!ok)
        return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's charts");
      const int vm_mine = vm >= w->cone.off[m] && vm < w->cone.off[m] + w->cone.count[m];
      double vsg = vm_mine ? -1 : 1;
      for (size_t f = 0; f < nf; f++)
        if (vm == kx[f])
          vsg = signs >> f & 1 ? -1.0 : 1.0;
      w->chart.cst[c * q + x] = vm; /* x's constant: the largest coordinate's generator */
      w->chart.sgn[c * q + x] = vsg;
      int status = push_chart(b, choice, c, vm);
      if (status)
        return status;
    }
  return SDLAB_SUCCESS;
}

/* The shared generators of a curved group of two (uncoupled pieces): pairs of free generators of its two neurons,
 * bitwise the same, into kx and km (at most FACES), with x = g[0] and m = g[1]; their count */
static size_t
face_pair(const struct sdlab_bnb_workspace *w, const size_t *choice, const size_t *g, size_t size, size_t *kx,
          size_t *km)
{
  const size_t n = w->n;
  size_t nf = 0;
  if (size != 2 || w->rank.coupled)
    return 0;
  for (size_t a = 0; a < w->cone.count[g[0]] && a < 64; a++) {
    if (!(w->cone.held_mask[g[0]] >> a & 1) || a == choice[g[0]])
      continue;
    for (size_t c = 0; c < w->cone.count[g[1]] && c < 64 && nf < FACES; c++) {
      if (!(w->cone.held_mask[g[1]] >> c & 1) || c == choice[g[1]])
        continue;
      const size_t k0 = w->cone.off[g[0]] + a, k1 = w->cone.off[g[1]] + c;
      if (memcmp(w->cone.gen + k0 * n, w->cone.gen + k1 * n, n * sizeof *w->cone.gen) == 0 &&
          w->chart.bslot[k0] != NONE && w->chart.bslot[k1] != NONE) {
        kx[nf] = k0;
        km[nf++] = k1;
        break;
      }
    }
  }
  return nf;
}

/* The boxes of one choice of held generators: the plain box, or, where two-generator neurons hold the same
 * generator, the charts that blow those corners up. */
static int
choice_boxes(sdlab_bnb *b, const size_t *choice)
{
  struct sdlab_bnb_workspace *w = b->w;
  const size_t q = w->q;
  size_t g[64];
  double mu[64];
  const size_t c = chart_new(w, NONE);
  if (c == NONE)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's charts");
  for (size_t i = 0; i < q; i++)
    w->chart.cst[c * q + i] = w->chart.held[c * q + i] = w->cone.off[i] + choice[i];
  const size_t curved = curved_group(w, c, g);
  size_t fkx[FACES], fkm[FACES];
  const size_t nf = curved ? face_pair(w, choice, g, curved, fkx, fkm) : 0;
  if (nf)
    return face_charts(b, choice, c, g[0], g[1], fkx, fkm, nf);
  if (curved)
    return curved_charts(b, choice, c, g, curved);
  if (chart_group(w, c, g, mu) == 0) {
    w->chart.nchart--;
    return push_box(b, choice, 0);
  }
  return resolve(b, choice, c, 0);
}

/* Boxes a neuron of three or more generators spends holding a generator u in the span of the one-generator
 * neurons' codes T (u a shared ray's codes, say) add nothing: for a > 0, span(T, u + sum_j a_j p_j) = span(T,
 * sum_j t_j p_j) with t = a / max a, the span of the boxes holding a p_j with u's coordinate at 0, the other
 * neurons as they are; at a = 0 the span is span(T) plus the others, inside those spans, so L~ is no lower
 * there (the simplex must have a generator off that span, whose boxes those are).  The infimum over the piece
 * is therefore the one over the other boxes, whose smooth bounds apply
 * where these, degenerate at a = 0, would leave only the span bound.  (Uncoupled pieces only: for Top-k's
 * ranking rows the boxes differ in which scalings they admit.  Two-generator neurons keep the charts.)
 * *in_t (K flags, malloc'd): coordinate k's generator lies in the span of the other neurons' single ones. */
static int
constant_span(const struct sdlab_bnb_workspace *w, unsigned char **in_t)
{
  *in_t = calloc(w->K ? w->K : 1, 1);
  size_t *idx = malloc((w->q + 1) * sizeof *idx);
  if (*in_t == NULL || idx == NULL) {
    free(*in_t), free(idx);
    *in_t = NULL;
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  }
  for (size_t x = 0; !w->rank.coupled && x < w->q; x++) {
    if (w->cone.count[x] < 3)
      continue;
    size_t nt = 0;
    for (size_t m = 0; m < w->q; m++)
      if (m != x && w->cone.count[m] == 1)
        idx[nt++] = w->cone.off[m];
    if (nt == 0)
      continue;
    const size_t rank = rank_of(w, idx, nt);
    for (size_t j = 0; j < w->cone.count[x]; j++) {
      idx[nt] = w->cone.off[x] + j;
      (*in_t)[w->cone.off[x] + j] = rank_of(w, idx, nt + 1) == rank;
    }
  }
  free(idx);
  return SDLAB_SUCCESS;
}

int
sdlab_bnb_set(sdlab_bnb *b, const gsl_matrix *WE, const gsl_matrix *WD)
{
  struct sdlab_bnb_workspace *w = b->w;
  w->box.used = w->box.heaped = w->box.nfreed = 0;
  w->ev.span_kept = 0;
  b->nodes = b->degenerate = b->charts = b->infeasible = b->spanned = 0;
  b->upper = INFINITY;
  b->violation = 0;
  b->relaxed = b->pairwise = b->wedge = b->hyperplane = w->rx.value = -INFINITY;
  if (WE) {
    if (WE->size1 != w->nq || WE->size2 != w->np || (WD && (WD->size1 != w->nr || WD->size2 != w->nq)))
      return sdlab_fail(SDLAB_ESHAPE, "branch and bound: the incumbent is not n_q x n_p (and W_D n_r x n_q)");
    double sm, vi, loss;
    gsl_matrix *D = gsl_matrix_alloc(w->nr, w->nq);
    if (D == NULL)
      return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
    int status = WD ? (gsl_matrix_memcpy(D, WD), SDLAB_SUCCESS) : sdlab_piece_decoder_step(b->P, b->Wp, b->Wr, b->Md, WE, D, NULL);
    double round = 0;
    if (!status)
      status = point_value(b, WE, D, &loss, &round);
    sdlab_piece_margin(b->P, WE, &sm, &vi);
    if (!status && vi > 1e-9 * (1 + gsl_matrix_max(WE) - gsl_matrix_min(WE)))
      status = sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: the incumbent W_E is outside the piece's closure "
                          "(a row violated by %.3g)", vi);
    if (!status) {
      b->upper = loss + round;
      gsl_matrix_memcpy(b->WE, WE);
      gsl_matrix_memcpy(b->WD, D);
      b->violation = vi;
    }
    gsl_matrix_free(D);
    if (status)
      return status;
  }
  if (w->q == 0) { /* every neuron dead on the piece: L~ is the energy, attained at W_E = 0 (JumpReLU: where
                     * the neurons' rows lie in their regions, their codes unused) */
    gsl_matrix_set_zero(b->WE);
    gsl_matrix_set_zero(b->WD);
    int moved = 0;
    if (w->jr.jump && !jump_place(w, b->P, b->Wp, b->WE, b->WD, jump_moves[0], &moved))
      return sdlab_fail(SDLAB_EIMPOSSIBLE, "branch and bound: a JumpReLU neuron's cone has no interior point (the "
                        "pattern is not realizable)");
    double round;
    int status = point_value(b, b->WE, b->WD, &b->upper, &round);
    if (status)
      return status;
    b->lower = b->upper - round;
    b->upper += round;
    b->nodes = 1;
    b->open = 0;
    return SDLAB_SUCCESS;
  }
  w->rx.dim = w->q;
  b->relaxed = w->rx.value = one_neuron_bound(w);
  int status = relax_incumbent(b);
  if (status)
    return status;
  const double one = w->rx.value, two = two_neuron_bound(w, w->energy - b->upper);
  if (w->q == 2)
    b->wedge = two;
  b->relaxed = w->rx.value = fmax(one, two);
  b->pairwise = w->q == 2 ? one : b->relaxed;
  status = pair_incumbent(b);
  if (status)
    return status;
  double *nu = malloc(w->n * (w->n + 2) * sizeof *nu);
  size_t ntilt;
  if (nu == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound");
  b->hyperplane = hyperplane_bound(w, nu, nu + w->n, &ntilt);
  b->relaxed = w->rx.value = fmax(w->rx.value, b->hyperplane);
  status = hyperplane_incumbent(b, nu, nu + w->n, ntilt);
  free(nu);
  if (status)
    return status;
  /* one box per choice, in every live neuron, of a simplex of its cover and the generator held at 1 in it,
   * blown up into charts where neurons hold the same generator */
  size_t choice[64] = {0}, simplex[64];
  w->chart.nchart = 1; /* chart 0, the plain parametrisation, stays */
  w->chart.nterm = 0;
  unsigned char *in_t = NULL;
  status = constant_span(w, &in_t);
  if (status)
    return status;
  for (size_t i = 0; i < w->q; i++) { /* the first simplex, its first generator */
    simplex[i] = w->cone.toff[i];
    choice[i] = (size_t)__builtin_ctzll(w->cone.tri[simplex[i]]);
  }
  for (;;) {
    int skip = 0;
    for (size_t i = 0; i < w->q; i++) {
      w->cone.held_mask[i] = w->cone.tri[simplex[i]];
      int other = 0; /* a generator of the simplex off T, whose boxes cover this one's */
      for (size_t j = 0; j < w->cone.count[i] && j < 64; j++)
        other |= (w->cone.held_mask[i] >> j & 1) && !in_t[w->cone.off[i] + j];
      skip |= __builtin_popcountll(w->cone.held_mask[i]) >= 3 && in_t[w->cone.off[i] + choice[i]] && other;
    }
    b->spanned += skip != 0;
    status = skip ? SDLAB_SUCCESS : choice_boxes(b, choice);
    if (status) {
      free(in_t);
      return status;
    }
    size_t i = 0; /* the next (simplex, generator) of neuron 0, carrying into the next neurons */
    for (; i < w->q; i++) {
      const uint64_t rest = choice[i] + 1 < 64 ? w->cone.tri[simplex[i]] >> (choice[i] + 1) : 0;
      if (rest) {
        choice[i] += 1 + (size_t)__builtin_ctzll(rest);
        break;
      }
      if (++simplex[i] < w->cone.toff[i + 1]) {
        choice[i] = (size_t)__builtin_ctzll(w->cone.tri[simplex[i]]);
        break;
      }
      simplex[i] = w->cone.toff[i];
      choice[i] = (size_t)__builtin_ctzll(w->cone.tri[simplex[i]]);
    }
    if (i == w->q)
      break;
  }
  free(in_t);
  /* drop what the incumbent already beats */
  size_t kept = 0;
  for (size_t k = 0; k < w->box.heaped; k++)
    if (box(w, w->box.heap[k])[0] < b->upper)
      w->box.heap[kept++] = w->box.heap[k];
    else
      w->box.freed[w->box.nfreed++] = w->box.heap[k];
  w->box.heaped = 0;
  for (size_t k = 0; k < kept; k++)
    heap_push(w, w->box.heap[k]);
  refresh(b);
  return SDLAB_SUCCESS;
}

int
sdlab_bnb_iterate(sdlab_bnb *b)
{
  struct sdlab_bnb_workspace *w = b->w;
  if (w->box.heaped == 0)
    return SDLAB_SUCCESS;
  const size_t K = w->K;
  size_t id = heap_pop(w);
  /* the side bound() chose, unless it is 16 times narrower than the widest (generators are unit vectors, so
   * widths compare in code space): every side keeps shrinking */
  size_t split = K;
  double width = 0;
  const double *rec = box(w, id);
  for (size_t k = 0; k < K; k++)
    if (rec[HEAD + K + k] - rec[HEAD + k] > width) {
      width = rec[HEAD + K + k] - rec[HEAD + k];
      split = k;
    }
  const size_t pick = (size_t)rec[2];
  if (pick < K && 16 * (rec[HEAD + K + pick] - rec[HEAD + pick]) >= width)
    split = pick;
  const double parent = rec[0];
  if (split == K) { /* a point: its bound is its value; nothing to split */
    w->box.freed[w->box.nfreed++] = id;
    refresh(b);
    return SDLAB_SUCCESS;
  }
  size_t other = box_new(w);
  if (other == (size_t)-1) {
    heap_push(w, id);
    return sdlab_fail(GSL_ENOMEM, "out of memory for the branch and bound's boxes");
  }
  double *a = box(w, id), *c = box(w, other);
  memcpy(c, a, (HEAD + 2 * K) * sizeof *c);
  const double mid = 0.5 * (a[HEAD + split] + a[HEAD + K + split]);
  a[HEAD + K + split] = mid;
  c[HEAD + split] = mid;
  int status = bound(b, a, parent);
  if (!status)
    status = bound(b, c, parent);
  if (status)
    return status;
  if (a[0] < b->upper)
    heap_push(w, id);
  else
    w->box.freed[w->box.nfreed++] = id;
  if (c[0] < b->upper)
    heap_push(w, other);
  else
    w->box.freed[w->box.nfreed++] = other;
  refresh(b);
  return SDLAB_SUCCESS;
}

int
sdlab_bnb_test(const sdlab_bnb *b, double rtol)
{
  if (b->w->box.heaped == 0 || b->upper - b->lower <= rtol * fmax(1.0, b->upper))
    return GSL_SUCCESS;
  return GSL_CONTINUE;
}
