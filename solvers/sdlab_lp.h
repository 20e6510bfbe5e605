/* sdlab_lp.h: linear feasibility with exact certificates (the GLPK adapter).
 *
 * Part 1, sdlab_lp_halfspace: is a single-neuron activation pattern realizable?  (Definition 3.1, one neuron)
 *
 * Given feature directions w_p^1..w_p^n (the columns of W_p, n_p x n) and a wanted pattern that puts each
 * feature IN F, OUT of F or leaves it FREE, decide whether some encoder row w realizes it:
 *   homogeneous (ReLU, Top-k's positive part):  d in F  iff  <w, w_p^d> > 0
 *   threshold   (JumpReLU with theta > 0, or a ReLU with a negative bias): d in F iff <w, w_p^d> > s
 *               for some s > 0 (any theta > 0 gives the same patterns, since w can be scaled).
 * By homogeneity the question is the linear feasibility problem
 *   <w, w_p^d> - s >= 1 (IN),  <w, w_p^d> - s <= 0 (OUT),  s = 0 (homogeneous) or s >= 1 (threshold),
 * decided by GLPK's simplex, warm-started across queries (only row bounds change).  A strict variant
 * (OUT rows <= -1) is tried first so that witnesses keep a margin on both sides.
 *
 * Certificates, verified in exact rational arithmetic:
 *   realizable      the witness (w, s) satisfies every wanted strict / non-strict inequality exactly;
 *   not realizable  a Farkas vector lambda >= 0 with G^T lambda = 0, h^T lambda = 1 for the system
 *                   G x >= h above (x = (w, s)), re-solved exactly on its support.
 * GLPK's invalid-argument aborts are avoided by validating everything before it is called. */
#ifndef SDLAB_LP_H
#define SDLAB_LP_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>

enum { SDLAB_OUT = 0, SDLAB_IN = 1, SDLAB_FREE = 2 };

typedef struct sdlab_lp_halfspace sdlab_lp_halfspace;

typedef struct {
  int realizable;   /* 1 or 0 */
  int verified;     /* 1 when the certificate (witness or Farkas vector) was checked exactly */
  int strict;       /* realizable with every OUT feature strictly below the threshold */
} sdlab_lp_realize_info;

/* Wp: n_p x n finite directions (copied); threshold 0 (homogeneous) or 1 (threshold patterns). */
sdlab_lp_halfspace *sdlab_lp_halfspace_alloc(const gsl_matrix *Wp, int threshold);
void sdlab_lp_halfspace_free(sdlab_lp_halfspace *h);

/* The number of witness coordinates: n_p, plus 1 (the threshold s) for threshold patterns. */
size_t sdlab_lp_halfspace_witness_size(const sdlab_lp_halfspace *h);

/* Decide the pattern want[0..n) (SDLAB_IN / SDLAB_OUT / SDLAB_FREE).  witness (witness_size doubles)
 * receives (w, s) when realizable.  Returns 0 or an error status. */
int sdlab_lp_halfspace_realize(sdlab_lp_halfspace *h, const unsigned char *want, double *witness,
                            sdlab_lp_realize_info *info);

/* 1 when (w, s) realizes want exactly (strict > on IN, <= on OUT, s > 0 for threshold), else 0. */
int sdlab_lp_halfspace_check(const sdlab_lp_halfspace *h, const unsigned char *want, const double *witness);

/* Part 2: a general homogeneous system.  Decide whether some x in R^nx has
 *   G_i x > 0 for the rows with strict[i] = 1  and  G_i x >= 0 for the rows with strict[i] = 0
 * (G is m x nx, row-major).  By homogeneity this is the LP G_i x >= strict[i].  On success x holds a
 * witness; *verified says whether its certificate was checked exactly (the witness against the strict
 * and non-strict inequalities, or a Farkas vector lambda >= 0, G^T lambda = 0, strict^T lambda = 1). */
int sdlab_lp_homogeneous(const double *G, const unsigned char *strict, size_t m, size_t nx, double *x,
                         int *feasible, int *verified);

/* Whether the feasible system above has a witness satisfying every row strictly (its region has a
 * nonempty interior), decided by the relative-interior LP: *open = 1 when no row is an implicit
 * equality.  x receives a witness in the relative interior (projected exactly onto the implicit
 * equalities; *verified says whether that projection passed the exact check). */
int sdlab_lp_interior(const double *G, const unsigned char *strict, size_t m, size_t nx, double *x, int *open,
                      int *verified);

/* <w, w_p^d> - s in floating point (a margin, for choosing which branch a witness already realizes). */
double sdlab_lp_halfspace_row_value(const sdlab_lp_halfspace *h, size_t d, const double *witness);

/* Part 3: a point of a polyhedron in floating point, no certificate (for callers that value what they get
 * independently).  Find x in R^nx with A x = rhs (A m x nx, row-major), x_j >= 0 for j < nx - nfree and the last
 * nfree entries free, minimising cost^T x (cost NULL: the sum of the nonnegative entries, a vertex with the smallest
 * combination); GLPK's tolerances decide.  *feasible = 1 and x set when GLPK finds such a point (0 when it finds none,
 * the cost is unbounded below, or its simplex stops on a numerical failure: no point is not an error here). */
int sdlab_lp_equality(const double *A, const double *rhs, const double *cost, size_t m, size_t nx, size_t nfree,
                      double *x, int *feasible);

/* The largest coefficient magnitude A the LPs here accept, for a constraint matrix of `rows` rows and `cols`
 * columns (callers pass the larger of their LP and its Farkas LP).  GLPK's primal simplex (the defaults used
 * here: projected steepest edge pricing) starts from the basis of the rows' auxiliary variables, whose simplex
 * table is the constraint matrix itself (|a| <= A), and in its first iteration forms, with k = max(rows, cols) + 1:
 *   the reduced costs d_j, sums of up to k entries (phase one's costs are +-1), priced as d_j^2 <= (k A)^2;
 *   the steepest-edge weights' update r^2 gamma_q, with gamma_q = 1 + sum_i a_iq^2 <= 1 + k A^2 and
 *   r = a_pj / a_pq, the pivot |a_pq| at least GLPK's pivot tolerance t (glp_smcp.tol_piv; 1e-9 in 5.0):
 *   r^2 gamma_q <= (A / t)^2 (1 + k A^2).
 * Both must stay below DBL_MAX; beyond them the first iteration reaches inf, then NaN, on which GLPK's pricing
 * asserts and aborts the process.  So A is the largest value with (k A)^2 <= DBL_MAX and
 * (A / t)^2 (1 + k A^2) <= DBL_MAX (about 3.7e72 / k^(1/4) for t = 1e-9).  It is necessary, not sufficient: later iterations
 * work with the basis inverse, which no bound on A alone controls; GLPK reports those failures through its
 * return codes, which are checked. */
double sdlab_lp_coefficient_limit(size_t rows, size_t cols);

/* The number of LPs solved so far. */
size_t sdlab_lp_halfspace_lp_count(const sdlab_lp_halfspace *h);

#endif
