/* sdlab_bnb.h: a certified global minimum of L~ on one piece, by spatial branch and bound.
 *
 * On the closure of a ReLU piece P = (F_1, ..., F_{n_q}) the encoder row w_i ranges over the polyhedral cone
 * W_i = {w : <w, w_p^d> >= 0 for d in F_i, <= 0 otherwise}; its codes, weighted by sqrt(M_d), are the vector
 * c_i = (sqrt(M_d) <w, w_p^d>)_{d in F_i} (zero off F_i).  Eliminating W_D exactly (the decoder step),
 *   inf L~ over the piece = inf over c_i in K_i = D_i T W_i of  || R - P_V R ||_F^2,   V = span{c_1, ..., c_{n_q}}
 * with R the weighted targets (rows sqrt(M_d) w_r^d).  The infimum over the open piece equals the one over
 * its closure (L~ is continuous and a realizable piece is the closure of its interior).
 *
 * Scale symmetry removed: V does not change when a c_i is scaled by a positive number, and a neuron whose
 * codes vanish only shrinks V, so each live neuron's codes are parametrised as c_i = sum_j l_ij g_ij over the
 * generators g_ij = D_i T rho_ij of K_i (rho_ij the extreme rays of W_i, normalised so ||g_ij|| = 1), with
 * max_j l_ij = 1: the union of V_i boxes {l_ij = 1, the others in [0, 1]}.  The branch and bound runs over
 * these boxes (best first).  On a box with centre l0, half-widths h and
 * C(l) = C0 + E(l), ||E|| <= eta = sqrt(sum_i (sum_j h_ij)^2):
 *   smooth bound   when sigma = sigma_min(C0) > eta the rank is constant on the box and, along any segment
 *                  C0 + tE, with residual X = P_perp R, W = C^+ R (Golub and Pereyra 1973: P' = A + A^T,
 *                  A = P_perp E C^+, and the derivative of C^+),
 *                    L~'' = 2 ||P_perp E W||^2 + 2 <C^+T E^T X, E W> + 2 <X, E C^+ E W> - 2 |(C^T C)^-1/2 E^T X|^2
 *                         >= -2 ||E||^2 (2 ||X|| ||P R|| + ||X||^2) / sigma^2 >= -(1 + sqrt 5) ||E||^2 ||R||^2 / sigma^2
 *                  (||X||^2 + ||P R||^2 = ||R||^2; the largest eigenvalue of [[1, 1], [1, 0]] is the golden ratio
 *                  phi), so L~ >= L~(l0) - sum_k |dL~/dl_k(l0)| h_k - phi eta^2 ||R||^2 / (sigma - eta)^2,
 *                  exact to second order: the gap closes quadratically around a non-degenerate minimiser.
 *                  With ||X||^2 = L~ <= fbar on the box (the same expansion from above), phi ||R||^2 becomes
 *                  k1 = max over x <= fbar of 2 sqrt(x (||R||^2 - x)) + x;
 *   frame bound    where sigma is small but the box moves the codes mostly inside their span: with C0 = U S V^T,
 *                  C0 + E = (I + E C0^+) C0 spans U + N (I + H)^-1, H = U^T E V S^-1, N = (I - U U^T) E V S^-1,
 *                  a curve whose smallest singular value is at least 1; with ||N|| <= nperp, ||H|| <= hpar < 1
 *                  (Frobenius norms at the box's vertices, or sums), m = 1 / (1 - hpar), the curve's
 *                  derivatives are at most nperp m^2 and 2 nperp hpar m^3, and L~'' >= -2 k1 ||C'||^2 -
 *                  2 k2 ||C''|| (k2 = max of sqrt(x (||R||^2 - x)), the gradient term's constant) gives
 *                  L~ >= L~(l0) - lin - k1 nperp^2 m^4 - 2 k2 nperp hpar m^3: in-span moves, which only re-mix
 *                  the columns, cost through hpar;
 *   span bound     always: V lies in the span B of the generators the box uses and dim V <= live neurons q,
 *                  so L~ >= ||R||^2 - (sum of the q largest eigenvalues of R^T P_B R);
 *   partial rank   where C0's singular values have a gap s_r - s_{r+1} > eta: every C(l) keeps rank >= r with
 *                  its top-r left singular space within angle theta = eta / (s_r - s_{r+1} - eta) of C0's
 *                  (Wedin), and V is that space plus at most q - r directions of B, so L~ >= ||R||^2 -
 *                  ||P_B R||^2 + (the n_r - q + r smallest eigenvalues of R^T P_B (I - P_U0) P_B R) - the
 *                  Weyl shift theta ||P_B R||_2^2 per eigenvalue: finite where codes lose rank;
 *   one-neuron     for the whole piece (computed once, by sdlab_bnb_set, into b->relaxed): V contains a code c of
 *                  each live neuron i (or a limit of them, in the closed cone K_i), so ||P_V R||^2 <= phi(c) =
 *                  max over q-dimensional V' containing c of tr(P_V' S_B) = u^T S_B u + the q - 1 largest
 *                  eigenvalues of (I - u u^T) S_B (I - u u^T) (u = c / |c|, Ky Fan), where S_B = P_B R R^T P_B and
 *                  B is the coordinate subspace of the features the live neurons' generators have codes on (every
 *                  code vanishes off its neuron's features, so V lies in B and ||P_V R||^2 = tr(P_V S_B)), and
 *                  L~ >= ||R||^2 - min over i of max over K_i of phi.  A best-first search over the simplices of
 *                  K_i's cover, bisected across their longest edges, bounds its max: on a simplex, phi exceeds
 *                  its centroid's value by at most q (l_1 - l_n) sin(theta) (theta: the simplex's angular radius;
 *                  l: the eigenvalues of S_B on B, where the argument's vectors lie), and, where a gap gam
 *                  separates the q - 1 largest eigenvalues of the deflated matrix over the whole simplex (the
 *                  centroid's gap less 4 l_1 sin(theta), Weyl), by at most its gradient's largest gain toward a
 *                  vertex plus theta^2 / 2 times a bound on phi'' along great circles, 2 (l_1 - l_n) +
 *                  (q - 1) (6 l_1 + 8 l_1^2 / gam) (second-order perturbation of an eigenvalue group): the
 *                  search then closes to 1e-9 ||R||^2 in tens of simplices where the first-order term alone
 *                  left 0.005 after 2,048.  It needs no conditioning of the
 *                  codes: it lifts the pieces whose boxes stay at the span bound because their codes can be
 *                  nearly dependent (at n_p = 3, with n = 5 and n_q = 2, 12 of the 14 pieces below the global
 *                  minimum after 20,000 boxes rose above it);
 *   two-neuron     for the whole piece when q >= 3 (also once, into b->relaxed, the larger of the two): V contains
 *                  codes a, b of two live neurons, so ||P_V R||^2 <= phi2(a, b) = tr(P S_B) + the q - 2 largest
 *                  eigenvalues of (I - P) S_B (I - P), P the projector on span{a, b}, and where a and b tend to
 *                  parallel codes at most phi of either; L~ >= ||R||^2 - min over pairs of the sup of phi2 over the
 *                  two cones, bounded by a best-first search over products of their simplices: phi2 moves by at
 *                  most q (l_1 - l_n) sin(theta), sin(theta) <= eta / (sigma - eta) (sigma the centroids' smallest
 *                  singular value, eta the two radii's root sum of squares), and, with a gap, by at most its
 *                  gradient's gain plus eta^2 / 2 times (12 (l_1 - l_n) + (q - 2)(14 l_1 + 8 l_1^2 / gam)) /
 *                  (sigma - eta)^2 (derivatives of the projector along a segment of code pairs); where sigma <= eta
 *                  the one-neuron bounds of the two simplices.  It keeps the other neurons' cones the one-neuron
 *                  bound leaves free (at n = 5, n_p = 3, n_q = 3 it certifies 95 more of the 2,024 open pieces at
 *                  20,000 boxes).  Its point: the pair that sets the bound has codes a, b at its search's best
 *                  record; they are moved up phi2's gradient inside their cover simplices (a heuristic: near a limit
 *                  the centroids stay first-order below the sup), and where each other live neuron has a code in
 *                  V = span{a, b} + the eigenvectors (an LP) the point's L~ is ||R||^2 - phi2(a, b), offered as an
 *                  incumbent;
 *   wedge          for the whole piece when q = 2 (also once, into b->relaxed; b->wedge): a plane span{a, b} is the
 *                  unit bivector a ^ b / |a ^ b|, and tr(P_span{a,b} S_B) is the quotient of S_B's additive compound A2
 *                  (on the bivectors of B; eigenvalues l_i + l_j) there.  For simplices conv{g_i} and conv{h_j} of the
 *                  two neurons' covers, a ^ b = sum alpha_i beta_j g_i ^ h_j lies in the cone of the bivectors g_i ^
 *                  h_j (products of weights relaxed to any nonnegative weights), whose largest quotient is computed
 *                  exactly: first by its vertices (the quotient's numerator convex, its denominator at least the least
 *                  inner product of two generators), then by faces (a maximiser is a top eigenvector of A2 on the span
 *                  of an independent subset of generators whose cone holds it in its relative interior; a best-first
 *                  search over subsets, the eigenvectors tested for one-signed coefficients up to their computed error,
 *                  dependence decided at the rounding level).  The relaxation's excess is of the second order in the
 *                  simplices' size over |a ^ b| (a weighted sum of the g_i ^ h_j is a product of the marginal averages
 *                  plus sum gamma_ij e_i ^ f_j - e ^ f), and it holds where the codes become parallel (the cone's
 *                  directions are closed), where the Taylor bounds of the boxes cannot close.  The sup of the quotient
 *                  over the two cones is bounded by the two-neuron search's best-first search over simplex pairs (up to
 *                  4,096 records, to 1e-7 of its best point's L~); its points, a record's centroids and the maximiser
 *                  read back as codes (the marginals of its weights), are offered as incumbents, and, where the
 *                  record's simplices share a vertex u (the sup a limit there), u + t (a - u), u + t (b - u) for t = 2,
 *                  4, ... (their rounding bound falls as they leave u).  On `sdlab landscape --features 5 --dim 3
 *                  --latents 2` (seeds 1 and 2) it certifies every one of the 276 pieces at 20,000 boxes, where 10^6
 *                  boxes left 9 and 17 open;
 *   hyperplane     for the whole piece when the live neurons' codes use exactly q + 1 features (B of dimension
 *                  q + 1: codimension one; also once, into b->relaxed): codes of rank q span a hyperplane
 *                  nu^perp of B meeting every cone, and L~ = ||R||^2 - tr(S_B) + nu^T S nu there, so L~ is at
 *                  least ||R||^2 - tr(S_B) + the least nu^T S nu over hyperplanes that hold codes of rank q (or
 *                  are limits of such); configurations of lower rank are bounded by Ky Fan, by the one-neuron
 *                  bound with V of dimension q - 1 and by any hyperplane containing them, and, for q = 3 with a
 *                  neuron of one generator g0, exactly: V lies in span{g0, u} with u in the projections off g0
 *                  of the other two cones (or of one, where g0 lies in the other), the largest u^T S u over
 *                  them a top eigenvector on an intersection of two generator subsets' spans (fixed_code_rank).
 *                  The minimum is exact: a minimiser is a least eigenvector of S on a subspace the generators
 *                  cut (the face of the hyperplane arrangement it lies in), so the candidates are enumerated and
 *                  tested in increasing order (meeting every cone, up to the eigenvector's computed error; rank q
 *                  by a polynomial identity test on the span of a selection's region).  Tight at shared rays and
 *                  faces, where the boxes cannot close (on `sdlab landscape --features 4 --dim 3 --latents 3`
 *                  seed 2 it certifies the global minimum and 674 of 680 pieces at 20,000 boxes, against 562
 *                  without).
 *                  Its points: codes of the cones in the minimiser's hyperplane, and in hyperplanes tilted by
 *                  1e-2 .. 1e-9 where the infimum is a limit.
 * A box's bound is the largest of these and of its parent's, less a rounding margin (backward-stable SVD:
 * gamma of the sizes times ||R||^2 times the condition number of C0).  Upper bounds are values of L~ at
 * actual points: each box's centre and the corner its gradient points to.  A box is bisected across the
 * side that costs its bound most (its share of the first-order and frame terms), or the widest side where
 * that one is 16 times narrower.
 *
 * Shared rays.  Neurons whose cones share a boundary ray have bitwise-equal generators u there; where a group
 * of them (two generators each) all hold u, their codes u + a_x p_x become parallel as a -> 0, and the
 * infimum may be approached only there (W_D growing without bound).  Such boxes are blown up into charts, one
 * per member m: s = a_m = max a_x, t_x = a_x / s, columns u + s p_m and t_x p_x - p_m (the same span), which
 * are affine and keep full rank at s = 0.  The new columns' constant p_m may be one other columns hold (up
 * to sign), as where one neuron's generators are held by two others and the codes are dependent along a
 * curve; such corners are blown up again (to depth 8).  Points offered from a chart have every s >=
 * sqrt(eps): at the corner itself the spans are limits only.  Where one of the neurons holding u has three or
 * more generators (n_p >= 3), the charts are curved: on {a_mj >= every a of the group}, s = a_mj, t = a / s,
 * columns c_m = u + s (p_mj + sum_{k != j} t_mk p_mk) and (c_x - c_m) / s = sum_k t_xk p_xk - p_mj - sum_{k != j}
 * t_mk p_mk, bilinear in (s, t); the smooth bound then takes the columns' curvature (C = C0 + E1 + E2 along a
 * segment, ||E2|| from the products of half-widths: L~ >= L~(l0) - lin - k1 (eta1 + 2 eps2)^2 / sig'^2 - 2 k2
 * eps2 / sig', sig' = sigma - eta1 - eps2; see curved_bound in sdlab_bnb.c).  One level: other corners inside a
 * curved chart are left to the bounds.  Where the group is two neurons x, m that also share free generators
 * p_f (bitwise; uncoupled pieces), their cones share the face cone{u, p_f} and the columns are parallel on the
 * whole set {a_xf = a_mf, every other a = 0}, not only at a corner: the charts are then shared-face charts, with
 * alpha_f = a_mf free and the differences epsilon_f = a_xf - alpha_f blown up (s = the largest of |epsilon_f|
 * and the pair's other coordinates; one chart per sign vector of the epsilons and largest coordinate): c_m = u +
 * sum alpha_f p_f + s sum t_mw w', (c_x - c_m) / s = sum sgn_f t_f p_f + sum t_xw w - sum t_mw w', of full rank
 * at s = 0.  Their boxes also hold points with a_xf < 0, outside x's cone: a box where some a_xf is negative
 * throughout is dropped, and offered points have a_xf clamped at 0 (see face_charts in sdlab_bnb.c).
 *
 * Incumbents.  Near such corners W_D is huge, and a point whose rows meet the piece only up to rounding can have
 * a computed L~ far below every point of the piece (times W_D ~ 3e13, a pre-activation of -6e-17 moved L~ by
 * 1e-3 on a pinned case).  A point's value is therefore sdlab_piece_loss's plus its rounding bound
 * (sdlab_claims_ltilde_rounding, which carries the codes' rounding times |W_D|): an upper bound at the point,
 * so such a point loses to real ones.
 * sdlab_bnb_set also offers points where the one-neuron bound is reached: the neuron i whose largest phi is
 * least has its code u at the search's best simplex (moved to the nearest code of its cone), and each other
 * neuron a code of its cone in the maximising frame's span V (u and the top eigenvectors of the deflated
 * matrix; a small LP, sdlab_lp_equality), so the point's L~ is the bound.  Where one neuron's cone meets V only
 * along u (two cones sharing a face, and the infimum a limit along it), u is moved to a code of both cones and
 * the two codes to u + eps a and u + eps b, a and b tangent directions of the two cones with b - a along an
 * eigenvector (another LP), for eps = 1e-2 .. 1e-9 of the codes' size: their span tends to V, at a distance
 * about eps, while W_D and so the rounding bound grow as 1 / eps (the pieces' global minimum on the seed-1
 * n = 5, n_p = 3 instance is certified so, without a box).
 *
 * Dependent pairs.  Two neurons' held generators need not be equal for their codes to lose rank at the
 * corner: it suffices that mu_x k_x = mu_m k_m modulo the span of the one-generator neurons' codes T (k the
 * columns' constants), as when a ray's codes have a zero on its own boundary row and so lie in the span of
 * other neurons' single codes.  The chart of m then replaces column x by (mu_x c_x - mu_m c_m - T's part) /
 * (mu_x s) = t_x p_x - (mu_m / mu_x) p_m, the same span for s > 0.  Codes on a ray's own boundary row are made
 * exactly 0 (they are in exact arithmetic), and a pair is taken when the parts off T are parallel at the
 * rounding level, as twins are made equal: dependencies the codes' support forces, exact in exact arithmetic.
 *
 * Top-k-ReLU.  A feature whose active set is full (k < n_q neurons) adds ranking rows <w_i - w_j, w_p^d> >= 0
 * (i active, j not) that couple the neurons.  Each neuron's cone is then the one its own rows cut (sign rows
 * on its features and on features whose active set is not full), taken modulo its lineality space; the
 * ranking rows are kept aside.  L~ does not see the neurons' scales but the ranking does: a box holds a point
 * of the piece only if scales lambda > 0 give lambda_j z_j <= lambda_i z_i on every ranking row, difference
 * constraints in log lambda.  A box is dropped (b->infeasible) when the loosest values over it, log(max z_i /
 * min z_j) from interval pre-activations, already close a negative cycle (Floyd-Warshall), or when max z_i
 * <= 0 < min z_j; a neuron whose rays miss part of its cone (lineality, rays dropped for vanishing or
 * parallel codes) has min z_j = -inf.  Points offered are scaled by Bellman-Ford's shortest paths (W_D's
 * columns inversely) and kept only if they meet the piece's rows up to rounding.  Neurons the exact reduction
 * fixes to one generator leave the ranking test: a relaxation, so the bound stays rigorous but may not close.
 *
 * JumpReLU(theta), theta > 0.  Neuron i's region P_i = {w : <w, w_p^d> >= theta on F_i, <= theta off it} is
 * not a cone, but L~ does not change when (w_i, W_D^i) becomes (t w_i, W_D^i / t), so the infimum over
 * P_i equals the one over the closure of the cone it generates, {t w : t > 0, w in P_i}, which is
 *   K_i = {w : <w, w_p^d> >= 0 and <w, w_p^d> >= <w, w_p^e> for d in F_i, e not in F_i}
 * (t min_F >= theta >= t max_out has a solution t > 0 exactly when min_F > 0 and min_F >= max_out; the
 * infimum over a convex set and over its closure agree for continuous L~).  The search runs over these
 * cones, independent of theta, and points offered are mapped back into P_i by such a t (rows on K_i's
 * boundary min_F = 0, limits only, first move 2^-30 of their norm towards an interior point of K_i, then
 * 2^-36, 2^-42 and 2^-48, the best point kept: the move turns the codes' span by about its size over the codes'
 * angle, which matters where the infimum is a limit of nearly parallel codes; rows of neurons without codes sit
 * at that interior point with W_D^i = 0), checked row by row against the piece's rows, and valued by
 * sdlab_piece_loss there.  A neuron's codes reach every feature with positive pre-activation below
 * the threshold, so K_i is wider than the ReLU cone and codes of two neurons meet at a ray interior to one
 * of the cones, not only at shared rays: such pieces may stay open.
 *
 * Cones with more generators than dimensions.  At n_p >= 3 a neuron's cone may have more extreme rays than the
 * rank d of its codes; the coordinates l_ij are then redundant (many l give the same codes), and the bounds
 * cannot close along the redundant directions.  Such a cone is covered by simplicial cones of d generators
 * (d = 2: the two extreme ones; d = 3: a fan over the convex hull of the generators' central projection), and
 * the initial boxes are one per simplex and held generator of every neuron, the generators outside the
 * simplex held at 0: the union covers the piece, so the bound stays rigorous, with d - 1 free coordinates per
 * neuron.
 *
 * Codes inside another cone (n_p >= 3).  A generator g of one neuron may give the codes of a point v inside a face
 * (or the interior) of another neuron's code cone, not at one of its rays: the columns become parallel as the first
 * neuron tends to g and the second to v, a corner inside the second's boxes.  v is made a generator of the second
 * neuron (codes bitwise g) and its simplices are subdivided there (stellar subdivision), so that the corner is one
 * where both hold the same generator and the curved charts blow it up.  Not where the first neuron has another
 * generator in the span of that face: the cones then share a 2-D piece of it, the codes become parallel along a
 * curve, and a vertex would only add boxes (such pieces may stay open).  Whether v lies in a face, and which of its
 * coefficients are 0, is decided at the rounding level (64 n eps), as twins are made equal: a part of a simplex
 * thinner than that may be left out of the subdivision.
 *
 * Iterate as GSL's minimisers do: alloc, set (optionally with an incumbent point), iterate (one box
 * bisected), test. */
#ifndef SDLAB_BNB_H
#define SDLAB_BNB_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_piece.h"

typedef struct sdlab_bnb_workspace sdlab_bnb_workspace;

typedef struct {
  const sdlab_piece *P;
  const gsl_matrix *Wp, *Wr;
  const gsl_vector *Md;
  double lower;           /* rigorous lower bound on inf L~ over the piece (min over open boxes) */
  double relaxed;         /* the bounds on the whole piece, the largest of pairwise, wedge and hyperplane: part of every
                           * box's (-inf: none; see sdlab_bnb_set) */
  double pairwise;        /* the one- and two-neuron bounds (the larger; the one-neuron bound where q = 2) */
  double wedge;           /* the wedge bound (q = 2 live neurons; -inf elsewhere) */
  double hyperplane;      /* the hyperplane bound (-inf where the codes do not use exactly q + 1 features) */
  double upper;           /* an upper bound on L~ at (WE, WD): sdlab_piece_loss's value plus its rounding bound
                           * (sdlab_claims_ltilde_rounding), so that points where the codes are nearly parallel and
                           * W_D huge, whose computed value may sit far below the true one, do not pass for minima */
  gsl_matrix *WE, *WD;    /* the best point found (in the closure of the piece, up to rounding) */
  double violation;       /* the point's largest violation of the closure's rows (<= 0 up to rounding) */
  size_t live;            /* neurons with nonzero codes on the piece */
  size_t dims;            /* free box coordinates (sum over live neurons of their simplices' generators - 1) */
  size_t triangulated;    /* live neurons whose code cone is covered by several simplicial cones */
  size_t spanned;         /* initial boxes left out: a neuron holding a generator in the span of the single-
                           * generator neurons' codes (see constant_span in sdlab_bnb.c) */
  size_t nodes;           /* boxes bounded so far */
  size_t open;            /* boxes left in the queue */
  size_t degenerate;      /* boxes on which the smooth bound did not apply (codes of rank < q possible) */
  size_t charts;          /* initial boxes in blown-up charts (one per chart) */
  size_t infeasible;      /* boxes dropped because no scaling meets Top-k's ranking rows there */
  sdlab_bnb_workspace *w;
} sdlab_bnb;

/* Whether the branch and bound takes pieces of act with n_q neurons: ReLU, JumpReLU, Top-k-ReLU, or Top-k
 * with k = n_q (ReLU). */
int sdlab_bnb_accepts(const sdlab_activation *act, size_t nq);

/* For piece P of directions Wp (n_p x n), targets Wr (n_r x n) and weights Md (n): the rays of every
 * neuron's cone (extreme rays from (n_p - 1)-subsets of its rows; at most max_rays per neuron, 1 to 4096)
 * and the workspace.  Errors: an activation sdlab_bnb_accepts refuses (GSL_EINVAL), W_p of rank < n_p
 * (its cones contain lines the codes do not see), more than max_rays rays or 2^20 initial boxes
 * (SDLAB_EIMPOSSIBLE, with the limit).  NULL on error. */
sdlab_bnb *sdlab_bnb_alloc(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                           size_t max_rays);
void sdlab_bnb_free(sdlab_bnb *b);

/* Start: the one-neuron bound, then the initial boxes, bounded.  WE (n_q x n_p, in the closure) with its L~ value
 * may be given as the incumbent (NULL: none); its W_D is recomputed. */
int sdlab_bnb_set(sdlab_bnb *b, const gsl_matrix *WE, const gsl_matrix *WD);

/* Bisect the open box of smallest lower bound; bound the halves, drop those at or above the incumbent. */
int sdlab_bnb_iterate(sdlab_bnb *b);

/* GSL_SUCCESS when upper - lower <= rtol max(1, upper) (or no box is left), GSL_CONTINUE otherwise. */
int sdlab_bnb_test(const sdlab_bnb *b, double rtol);

#endif
