/* sdlab_qp.h: convex quadratic programs over polyhedra, by a primal active-set method.
 *
 *   minimise f(x) = 1/2 x^T Q x + q^T x   subject to   C x >= b       (Q symmetric positive semidefinite)
 *
 * From a feasible start the method keeps a working set of active constraints, minimises f on their
 * intersection (null-space step: Z^T Q Z u = -Z^T g with Z from a full QR of the working constraints,
 * minimum-norm when Z^T Q Z is singular, as it is whenever f has flat directions), steps to the first
 * blocking constraint, and drops the constraint with the most negative multiplier when the step is zero
 * (Nocedal & Wright, Algorithm 16.3).  The answer carries its KKT residuals: the caller judges them.
 * Workspace and sizes are the caller's; nothing is allocated per iteration. */
#ifndef SDLAB_QP_H
#define SDLAB_QP_H

#include <stddef.h>

typedef struct {
  double stationarity;     /* || Q x + q - C_W^T lambda ||_inf */
  double min_multiplier;   /* min lambda over the working set (>= 0 at a KKT point); +inf when empty */
  double max_violation;    /* max_i (b_i - C_i x)_+ */
  double complementarity;  /* max over the working set of |lambda_i (C_i x - b_i)| */
  size_t iterations, active;
  int converged;           /* the method's own stopping rule was met (the residuals say how well) */
} sdlab_qp_kkt;

typedef struct sdlab_qp_workspace sdlab_qp_workspace;
sdlab_qp_workspace *sdlab_qp_workspace_alloc(size_t n, size_t m);
void sdlab_qp_workspace_free(sdlab_qp_workspace *w);

/* Q: n x n, q: n, C: m x n, b: m (row-major); x: a feasible start on entry, the solution on exit;
 * lambda (optional, m): the multipliers (0 off the working set).  Returns 0, GSL_EINVAL when the start
 * is infeasible (by more than rounding), SDLAB_EUNREACHED at the iteration cap (x is then the last
 * iterate, feasible, and the residuals describe it). */
int sdlab_qp_solve(const double *Q, const double *q, const double *C, const double *b, size_t n, size_t m,
                   double *x, double *lambda, size_t max_iter, sdlab_qp_kkt *kkt, sdlab_qp_workspace *w);

#endif
