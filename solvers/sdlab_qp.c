#include "sdlab_qp.h"
#include "sdlab_errno.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>

struct sdlab_qp_workspace {
  size_t n, m;
  size_t *work_set;        /* indices of the working constraints */
  unsigned char *in_set;
  gsl_matrix *AT, *QR, *Qfull, *R, *Z, *QZ, *H, *evec;
  gsl_vector *tau, *g, *p, *u, *rhs, *eval, *lam;
  gsl_eigen_symmv_workspace **eig; /* eig[r - 1] for an r x r reduced Hessian, r = 1..n */
  /* what the factors and the reduced Hessian's eigenpairs were computed for: an iteration whose working set is
   * the last factored one (after a full step, or after a blocking row joined through its independence test)
   * reuses them, the same numbers a recomputation would give */
  size_t *fact_set, fact_k;
  int fact_valid, eig_valid;
};

sdlab_qp_workspace *
sdlab_qp_workspace_alloc(size_t n, size_t m)
{
  if (n == 0) {
    sdlab_fail(GSL_EINVAL, "a QP needs at least one variable");
    return NULL;
  }
  sdlab_qp_workspace *w = calloc(1, sizeof *w);
  if (w == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for a QP of %zu variables", n);
    return NULL;
  }
  w->n = n;
  w->m = m;
  w->work_set = malloc((n + 1) * sizeof *w->work_set);
  w->fact_set = malloc((n + 1) * sizeof *w->fact_set);
  w->in_set = calloc(m ? m : 1, 1);
  w->AT = gsl_matrix_alloc(n, n);
  w->QR = gsl_matrix_alloc(n, n);
  w->Qfull = gsl_matrix_alloc(n, n);
  w->R = gsl_matrix_alloc(n, n);
  w->Z = gsl_matrix_alloc(n, n);
  w->QZ = gsl_matrix_alloc(n, n);
  w->H = gsl_matrix_alloc(n, n);
  w->evec = gsl_matrix_alloc(n, n);
  w->tau = gsl_vector_alloc(n);
  w->g = gsl_vector_alloc(n);
  w->p = gsl_vector_alloc(n);
  w->u = gsl_vector_alloc(n);
  w->rhs = gsl_vector_alloc(n);
  w->eval = gsl_vector_alloc(n);
  w->lam = gsl_vector_alloc(n);
  w->eig = calloc(n, sizeof *w->eig);
  for (size_t r = 1; w->eig && r <= n; r++)
    if ((w->eig[r - 1] = gsl_eigen_symmv_alloc(r)) == NULL)
      break;
  if (!w->eig || !w->eig[n - 1] || !w->work_set || !w->fact_set || !w->in_set || !w->AT || !w->QR || !w->Qfull || !w->R || !w->Z || !w->QZ || !w->H || !w->evec ||
      !w->tau || !w->g || !w->p || !w->u || !w->rhs || !w->eval || !w->lam || !w->eig) {
    sdlab_qp_workspace_free(w);
    sdlab_fail(GSL_ENOMEM, "out of memory for a QP of %zu variables", n);
    return NULL;
  }
  return w;
}

void
sdlab_qp_workspace_free(sdlab_qp_workspace *w)
{
  if (w == NULL)
    return;
  free(w->work_set);
  free(w->fact_set);
  free(w->in_set);
  gsl_matrix *ms[] = {w->AT, w->QR, w->Qfull, w->R, w->Z, w->QZ, w->H, w->evec};
  for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
    if (ms[i])
      gsl_matrix_free(ms[i]);
  gsl_vector *vs[] = {w->tau, w->g, w->p, w->u, w->rhs, w->eval, w->lam};
  for (size_t i = 0; i < sizeof vs / sizeof *vs; i++)
    if (vs[i])
      gsl_vector_free(vs[i]);
  for (size_t r = 0; w->eig && r < w->n; r++)
    if (w->eig[r])
      gsl_eigen_symmv_free(w->eig[r]);
  free(w->eig);
  free(w);
}

static double
dot(const double *a, const double *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* g = Q x + q */
static void
gradient(const double *Q, const double *q, const double *x, size_t n, gsl_vector *g)
{
  for (size_t i = 0; i < n; i++)
    gsl_vector_set(g, i, dot(Q + i * n, x, n) + q[i]);
}

/* With k working constraints: QR of A_W^T (n x k) into w->QR/tau, the full orthogonal factor into Qfull,
 * R into w->R; the null space basis is the last n - k columns of Qfull. */
static void
factor(const double *C, size_t n, size_t k, sdlab_qp_workspace *w)
{
  if (w->fact_valid && w->fact_k == k && memcmp(w->fact_set, w->work_set, k * sizeof *w->work_set) == 0)
    return;
  w->fact_valid = 1;
  w->eig_valid = 0;
  w->fact_k = k;
  memcpy(w->fact_set, w->work_set, k * sizeof *w->work_set);
  gsl_matrix_view AT = gsl_matrix_submatrix(w->QR, 0, 0, n, k > 0 ? k : 1);
  for (size_t j = 0; j < k; j++)
    for (size_t i = 0; i < n; i++)
      gsl_matrix_set(&AT.matrix, i, j, C[w->work_set[j] * n + i]);
  if (k == 0) {
    gsl_matrix_set_identity(w->Qfull);
    return;
  }
  gsl_vector_view tau = gsl_vector_subvector(w->tau, 0, k < n ? k : n);
  gsl_linalg_QR_decomp(&AT.matrix, &tau.vector);
  gsl_matrix_view R = gsl_matrix_submatrix(w->R, 0, 0, n, k);
  gsl_linalg_QR_unpack(&AT.matrix, &tau.vector, w->Qfull, &R.matrix);
}

/* lambda_W from A_W^T lambda = g by the QR factors: R lambda = Q_1^T g (k x k upper triangular) */
static void
multipliers(size_t k, sdlab_qp_workspace *w)
{
  for (size_t j = 0; j < k; j++) {
    gsl_vector_const_view qj = gsl_matrix_const_column(w->Qfull, j);
    double v;
    gsl_blas_ddot(&qj.vector, w->g, &v);
    gsl_vector_set(w->lam, j, v);
  }
  for (size_t jj = k; jj-- > 0;) {
    double v = gsl_vector_get(w->lam, jj);
    for (size_t t = jj + 1; t < k; t++)
      v -= gsl_matrix_get(w->R, jj, t) * gsl_vector_get(w->lam, t);
    gsl_vector_set(w->lam, jj, v / gsl_matrix_get(w->R, jj, jj));
  }
}

/* The minimum-norm minimiser of f on the working set's subspace through x: p = Z u,
 * (Z^T Q Z) u = -Z^T g solved through the eigendecomposition with the usual numerical-rank cut. */
static void
null_space_step(const double *Q, size_t n, size_t k, sdlab_qp_workspace *w)
{
  gsl_vector_set_zero(w->p);
  const size_t r = n - k;
  if (r == 0)
    return;
  gsl_matrix_view Z = gsl_matrix_submatrix(w->Qfull, 0, k, n, r);
  gsl_matrix_const_view Qm = gsl_matrix_const_view_array(Q, n, n);
  gsl_matrix_view QZ = gsl_matrix_submatrix(w->QZ, 0, 0, n, r);
  gsl_matrix_view H = gsl_matrix_submatrix(w->H, 0, 0, r, r);
  gsl_matrix_view V = gsl_matrix_submatrix(w->evec, 0, 0, r, r);
  gsl_vector_view ev = gsl_vector_subvector(w->eval, 0, r);
  gsl_vector_view rhs = gsl_vector_subvector(w->rhs, 0, r);
  gsl_vector_view u = gsl_vector_subvector(w->u, 0, r);
  gsl_blas_dgemv(CblasTrans, -1.0, &Z.matrix, w->g, 0.0, &rhs.vector);
  if (!w->eig_valid) { /* Q is fixed within a solve: the eigenpairs change with the working set only */
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Qm.matrix, &Z.matrix, 0.0, &QZ.matrix);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Z.matrix, &QZ.matrix, 0.0, &H.matrix);
    gsl_eigen_symmv(&H.matrix, &ev.vector, &V.matrix, w->eig[r - 1]);
    w->eig_valid = 1;
  }
  double lmax = 0;
  for (size_t i = 0; i < r; i++)
    lmax = fmax(lmax, fabs(gsl_vector_get(&ev.vector, i)));
  const double cut = (double)r * DBL_EPSILON * lmax;
  gsl_vector_set_zero(&u.vector);
  for (size_t i = 0; i < r; i++) {
    double l = gsl_vector_get(&ev.vector, i);
    if (l <= cut)
      continue;
    gsl_vector_view vi = gsl_matrix_column(&V.matrix, i);
    double c;
    gsl_blas_ddot(&vi.vector, &rhs.vector, &c);
    gsl_blas_daxpy(c / l, &vi.vector, &u.vector);
  }
  gsl_blas_dgemv(CblasNoTrans, 1.0, &Z.matrix, &u.vector, 0.0, w->p);
}

/* Put x back on its working constraints: x += A_W^T (A_W A_W^T)^{-1} (b_W - A_W x) = Q_1 R^{-T} (b_W - A_W x)
 * with the current factors.  Steps from far away leave the active rows satisfied only to the rounding of
 * the path's largest iterate; after this, to that of x itself, as the next solve's start test expects (an
 * alternating search feeds each solution back as the next start). */
static void
polish(const double *C, const double *b, size_t n, size_t k, double *x, sdlab_qp_workspace *w)
{
  gsl_vector_view y = gsl_vector_subvector(w->u, 0, k > 0 ? k : 1);
  for (size_t j = 0; j < k; j++) {
    double v = b[w->work_set[j]] - dot(C + w->work_set[j] * n, x, n);
    for (size_t t = 0; t < j; t++)
      v -= gsl_matrix_get(w->R, t, j) * gsl_vector_get(&y.vector, t);
    gsl_vector_set(&y.vector, j, v / gsl_matrix_get(w->R, j, j));
  }
  for (size_t a = 0; a < n; a++)
    for (size_t j = 0; j < k; j++)
      x[a] += gsl_matrix_get(w->Qfull, a, j) * gsl_vector_get(&y.vector, j);
}

static void
residuals(const double *C, const double *b, size_t n, size_t m, const double *x, size_t k, double *lambda,
          sdlab_qp_kkt *kkt, sdlab_qp_workspace *w)
{
  /* stationarity: g - A_W^T lambda */
  double st = 0, minl = INFINITY, comp = 0, viol = 0;
  for (size_t a = 0; a < n; a++) {
    double v = gsl_vector_get(w->g, a);
    for (size_t j = 0; j < k; j++)
      v -= C[w->work_set[j] * n + a] * gsl_vector_get(w->lam, j);
    st = fmax(st, fabs(v));
  }
  if (lambda)
    memset(lambda, 0, m * sizeof *lambda);
  for (size_t j = 0; j < k; j++) {
    double l = gsl_vector_get(w->lam, j), s = dot(C + w->work_set[j] * n, x, n) - b[w->work_set[j]];
    minl = fmin(minl, l);
    comp = fmax(comp, fabs(l * s));
    if (lambda)
      lambda[w->work_set[j]] = l;
  }
  for (size_t i = 0; i < m; i++)
    viol = fmax(viol, b[i] - dot(C + i * n, x, n));
  kkt->stationarity = st;
  kkt->min_multiplier = minl;
  kkt->complementarity = comp;
  kkt->max_violation = fmax(viol, 0.0);
  kkt->active = k;
}

/* One active-set method in one function (about 140 lines): the start's working set, the stationarity test, the
 * multiplier drop (with Bland's rule against cycling), the ratio test and the final polish share the working set
 * and its factors, and their invariants are checked most easily where they are all in view. */
int
sdlab_qp_solve(const double *Q, const double *q, const double *C, const double *b, size_t n, size_t m, double *x,
               double *lambda, size_t max_iter, sdlab_qp_kkt *kkt, sdlab_qp_workspace *w)
{
  memset(kkt, 0, sizeof *kkt);
  if (w == NULL || w->n != n || w->m < m)
    return sdlab_fail(GSL_EINVAL, "QP workspace made for other sizes");
  w->fact_valid = 0; /* C and Q are this call's */
  /* the start must be feasible up to the rounding of its products */
  size_t k = 0;
  memset(w->in_set, 0, m ? m : 1);
  /* rounding in an iterate is relative to its largest entry, not to one row's products (a dead
   * neuron's row is noise around 0 at the scale of the others) */
  double xmax0 = 0;
  for (size_t a = 0; a < n; a++)
    xmax0 = fmax(xmax0, fabs(x[a]));
  for (size_t i = 0; i < m; i++) {
    double v = dot(C + i * n, x, n) - b[i], mag = fabs(b[i]);
    for (size_t a = 0; a < n; a++)
      mag += fabs(C[i * n + a]) * xmax0;
    double tol = 4 * (double)n * DBL_EPSILON * mag;
    /* A previous solve's iterate (alternating convex search starts each QP where the last ended) may cross a
     * row that depends on its working set, which the step skips, by that row's rounding amplified through
     * the working rows (seen up to about 1e5 eps): within sqrt(eps) of a row the start is taken as on it, the
     * row joins the working set like an active one, and the final polish puts x back on it. */
    if (v < -tol && v >= -1.4901161193847656e-08 * mag)
      v = 0;
    if (v < -tol)
      return sdlab_fail(GSL_EINVAL, "QP start violates constraint %zu by %.3g", i, -v);
    if (v <= tol && k < n) { /* active: join the working set if independent of it */
      w->work_set[k] = i;
      factor(C, n, k + 1, w);
      double rkk = fabs(gsl_matrix_get(w->R, k, k)), cn = sqrt(dot(C + i * n, C + i * n, n));
      if (rkk > 1e3 * DBL_EPSILON * cn) {
        w->in_set[i] = 1;
        k++;
      }
    }
  }
  size_t stalls = 0; /* consecutive zero-length steps: after n of them, Bland's rule prevents cycling */
  for (size_t it = 0;; it++) {
    kkt->iterations = it;
    gradient(Q, q, x, n, w->g);
    factor(C, n, k, w);
    null_space_step(Q, n, k, w);
    /* Stationary on the working set's subspace when the reduced gradient Z^T g (w->rhs holds -Z^T g) is at
     * the rounding level of g itself, n eps max_a (sum_c |Q_ac x_c| + |q_a|): a step-length test would miss
     * amplified noise along an ill-conditioned reduced Hessian, a decrease test would stop early along a
     * stiff one. */
    double gnoise = 0, rz = 0;
    for (size_t a = 0; a < n; a++) {
      double v = fabs(q[a]);
      for (size_t c = 0; c < n; c++)
        v += fabs(Q[a * n + c] * x[c]);
      gnoise = fmax(gnoise, v);
    }
    for (size_t j = 0; j + k < n; j++)
      rz = fmax(rz, fabs(gsl_vector_get(w->rhs, j)));
    if (rz <= 64 * (double)n * DBL_EPSILON * gnoise) {
      /* stationary on the working set: keep it if every multiplier is non-negative */
      multipliers(k, w);
      double gmax = 0;
      for (size_t a = 0; a < n; a++)
        gmax = fmax(gmax, fabs(gsl_vector_get(w->g, a)));
      size_t drop = k;
      const double floor = -64 * DBL_EPSILON * fmax(gmax, 1.0);
      double most = floor;
      for (size_t j = 0; j < k; j++) {
        double l = gsl_vector_get(w->lam, j);
        if (stalls > n) { /* Bland: the negative multiplier of the lowest constraint index */
          if (l < floor && (drop == k || w->work_set[j] < w->work_set[drop]))
            drop = j;
        } else if (l < most) {
          most = l;
          drop = j;
        }
      }
      if (drop == k) {
        polish(C, b, n, k, x, w);
        residuals(C, b, n, m, x, k, lambda, kkt, w);
        kkt->converged = 1;
        return SDLAB_SUCCESS;
      }
      w->in_set[w->work_set[drop]] = 0;
      w->work_set[drop] = w->work_set[--k];
    } else {
      /* step to the first blocking constraint that is independent of the working set: a row that is
       * (numerically) a combination of the working rows is parallel to p up to rounding, and taking it into
       * the working set would make R singular (the multipliers then overflow); such rows are passed over
       * (marked 2 in in_set for this step) */
      double alpha = 1.0;
      size_t block = m;
      for (;;) {
        alpha = 1.0;
        block = m;
        for (size_t i = 0; i < m; i++) {
          if (w->in_set[i])
            continue;
          double ap = dot(C + i * n, w->p->data, n), mag = 0;
          for (size_t a = 0; a < n; a++)
            mag += fabs(C[i * n + a] * gsl_vector_get(w->p, a));
          if (ap < -64 * (double)n * DBL_EPSILON * mag) {
            double t = (b[i] - dot(C + i * n, x, n)) / ap;
            if (t < 0)
              t = 0;
            if (t < alpha) { /* ties go to the lowest index (the loop's order), as Bland's rule wants */
              alpha = t;
              block = i;
            }
          }
        }
        if (block == m || k == n)
          break;
        w->work_set[k] = block;
        factor(C, n, k + 1, w);
        const double rkk = fabs(gsl_matrix_get(w->R, k, k)), cn = sqrt(dot(C + block * n, C + block * n, n));
        if (rkk > 1e3 * DBL_EPSILON * cn)
          break;
        w->in_set[block] = 2;
      }
      for (size_t i = 0; i < m; i++)
        if (w->in_set[i] == 2)
          w->in_set[i] = 0;
      stalls = alpha == 0 ? stalls + 1 : 0;
      for (size_t a = 0; a < n; a++)
        x[a] += alpha * gsl_vector_get(w->p, a);
      if (block < m && k < n) {
        w->work_set[k++] = block;
        w->in_set[block] = 1;
      }
    }
    if (it + 1 >= max_iter) {
      gradient(Q, q, x, n, w->g);
      factor(C, n, k, w);
      multipliers(k, w);
      polish(C, b, n, k, x, w);
      residuals(C, b, n, m, x, k, lambda, kkt, w);
      return sdlab_fail(SDLAB_EUNREACHED, "the QP active-set method stopped at its cap of %zu iterations", max_iter);
    }
  }
}
