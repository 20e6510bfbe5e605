/* The only file that talks to GLPK: its arrays are 1-based, and it aborts the process on invalid
 * arguments, so everything is validated before it is called. */
#include "sdlab_lp.h"
#include "sdlab_errno.h"
#include "sdlab_exact.h"

#include <float.h>
#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* GLPK's 1-based sparse form of x[0], x[stride], ..., x[(n - 1) stride]: the nonzero entries into ind[1..] (their
 * positions, 1-based) and val[1..]; returns their count. */
static int
glpk_sparse(const double *x, size_t n, size_t stride, int *ind, double *val)
{
  int len = 0;
  for (size_t j = 0; j < n; j++)
    if (x[j * stride] != 0) {
      len++;
      ind[len] = (int)j + 1;
      val[len] = x[j * stride];
    }
  return len;
}

double
sdlab_lp_coefficient_limit(size_t rows, size_t cols)
{
  glp_smcp parm;
  glp_init_smcp(&parm);
  const double k = (double)(rows > cols ? rows : cols) + 1, c = DBL_MAX * parm.tol_piv * parm.tol_piv;
  /* u = A^2 solves u (1 + k u) = c: the root of k u^2 + u - c, in the form that does not cancel */
  const double u = 2 * c / (1 + sqrt(1 + 4 * k * c));
  const double a = sqrt(u), b = sqrt(DBL_MAX) / k;
  return a < b ? a : b;
}

/* Every coefficient finite and within the limit for an LP of rows x cols; the message names `what`. */
static int
check_coefficients(const double *G, size_t count, size_t rows, size_t cols, const char *what)
{
  const double limit = sdlab_lp_coefficient_limit(rows, cols);
  for (size_t k = 0; k < count; k++) {
    if (!isfinite(G[k]))
      return sdlab_fail(SDLAB_ENONFINITE, "%s: coefficient %zu is not finite", what, k);
    if (fabs(G[k]) > limit)
      return sdlab_fail(GSL_EOVRFLW, "%s: coefficient %zu = %.6g exceeds %.3g, the largest GLPK's simplex can take "
                        "without overflow for %zu rows and %zu columns", what, k, G[k], limit, rows, cols);
  }
  return SDLAB_SUCCESS;
}

struct sdlab_lp_halfspace {
  size_t n, np, nx;   /* features, dimension, variables (n_p or n_p + 1) */
  int threshold;
  double *W;          /* n x n_p: row d is w_p^d */
  glp_prob *lp;       /* rows: <w, w_p^d> - s; columns: w (free), s */
  glp_smcp parm;
  int *ind;
  double *val;
  size_t lp_calls;
};

size_t
sdlab_lp_halfspace_witness_size(const sdlab_lp_halfspace *h)
{
  return h->nx;
}

size_t
sdlab_lp_halfspace_lp_count(const sdlab_lp_halfspace *h)
{
  return h->lp_calls;
}

sdlab_lp_halfspace *
sdlab_lp_halfspace_alloc(const gsl_matrix *Wp, int threshold)
{
  const size_t np = Wp->size1, n = Wp->size2;
  if (np == 0 || n == 0 || n > 1000000 || np > 100000) {
    sdlab_fail(GSL_EINVAL, "half-space problem: %zu directions of dimension %zu", n, np);
    return NULL;
  }
  /* rows n and columns n_p + 1, and the Farkas LP's n_p + 2 rows */
  const double limit = sdlab_lp_coefficient_limit(n + 1, np + 2);
  for (size_t a = 0; a < np; a++)
    for (size_t d = 0; d < n; d++) {
      const double v = gsl_matrix_get(Wp, a, d);
      if (!isfinite(v)) {
        sdlab_fail(SDLAB_ENONFINITE, "half-space problem: direction %zu is not finite", d);
        return NULL;
      }
      if (fabs(v) > limit) {
        sdlab_fail(GSL_EOVRFLW, "half-space problem: direction %zu has the entry %.6g, beyond %.3g, the largest GLPK's "
                   "simplex can take without overflow here (sdlab_lp.h)", d, v, limit);
        return NULL;
      }
    }
  sdlab_lp_halfspace *h = calloc(1, sizeof *h);
  if (h == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory");
    return NULL;
  }
  h->n = n;
  h->np = np;
  h->threshold = threshold != 0;
  h->nx = np + (size_t)h->threshold;
  h->W = malloc(n * np * sizeof *h->W);
  h->ind = malloc((h->nx + 1) * sizeof *h->ind);
  h->val = malloc((h->nx + 1) * sizeof *h->val);
  if (!h->W || !h->ind || !h->val) {
    sdlab_lp_halfspace_free(h);
    sdlab_fail(GSL_ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t d = 0; d < n; d++)
    for (size_t a = 0; a < np; a++)
      h->W[d * np + a] = gsl_matrix_get(Wp, a, d);
  glp_term_out(GLP_OFF);
  h->lp = glp_create_prob();
  glp_set_obj_dir(h->lp, GLP_MIN);
  glp_add_rows(h->lp, (int)n);
  glp_add_cols(h->lp, (int)h->nx);
  for (size_t j = 1; j <= np; j++)
    glp_set_col_bnds(h->lp, (int)j, GLP_FR, 0, 0);
  if (h->threshold)
    glp_set_col_bnds(h->lp, (int)h->nx, GLP_LO, 1, 0);
  for (size_t d = 0; d < n; d++) {
    for (size_t a = 0; a < np; a++) {
      h->ind[a + 1] = (int)a + 1;
      h->val[a + 1] = h->W[d * np + a];
    }
    if (h->threshold) {
      h->ind[np + 1] = (int)h->nx;
      h->val[np + 1] = -1.0;
    }
    glp_set_mat_row(h->lp, (int)d + 1, (int)h->nx, h->ind, h->val);
    glp_set_row_bnds(h->lp, (int)d + 1, GLP_FR, 0, 0);
  }
  glp_init_smcp(&h->parm);
  h->parm.msg_lev = GLP_MSG_OFF;
  h->parm.presolve = GLP_OFF; /* keep the basis between queries */
  return h;
}

void
sdlab_lp_halfspace_free(sdlab_lp_halfspace *h)
{
  if (h == NULL)
    return;
  if (h->lp)
    glp_delete_prob(h->lp);
  free(h->W);
  free(h->ind);
  free(h->val);
  free(h);
}

double
sdlab_lp_halfspace_row_value(const sdlab_lp_halfspace *h, size_t d, const double *x)
{
  double v = 0;
  for (size_t a = 0; a < h->np; a++)
    v += h->W[d * h->np + a] * x[a];
  return h->threshold ? v - x[h->np] : v;
}

int
sdlab_lp_halfspace_check(const sdlab_lp_halfspace *h, const unsigned char *want, const double *x)
{
  const double s = h->threshold ? x[h->np] : 0.0;
  if (h->threshold && !(s > 0))
    return 0;
  for (size_t d = 0; d < h->n; d++) {
    if (want[d] == SDLAB_FREE)
      continue;
    int sign = sdlab_exact_dot_sign(h->W + d * h->np, x, h->np, s);
    if (want[d] == SDLAB_IN ? sign <= 0 : sign > 0)
      return 0;
  }
  return 1;
}

/* Solve the feasibility LP with OUT rows <= out_bound; 1 feasible (x filled), 0 infeasible, <0 error. */
static int
solve(sdlab_lp_halfspace *h, const unsigned char *want, double out_bound, double *x)
{
  for (size_t d = 0; d < h->n; d++) {
    if (want[d] == SDLAB_IN)
      glp_set_row_bnds(h->lp, (int)d + 1, GLP_LO, 1.0, 0.0);
    else if (want[d] == SDLAB_OUT)
      glp_set_row_bnds(h->lp, (int)d + 1, GLP_UP, 0.0, out_bound);
    else
      glp_set_row_bnds(h->lp, (int)d + 1, GLP_FR, 0.0, 0.0);
  }
  h->lp_calls++;
  int ret = glp_simplex(h->lp, &h->parm);
  if (ret == GLP_EBADB || ret == GLP_ESING || ret == GLP_ECOND) { /* a basis gone bad: start afresh */
    glp_std_basis(h->lp);
    h->lp_calls++;
    ret = glp_simplex(h->lp, &h->parm);
  }
  if (ret != 0) { /* still failing (nearly antipodal rows, for example): GLPK's simplex in exact arithmetic */
    h->lp_calls++;
    ret = glp_exact(h->lp, &h->parm);
  }
  if (ret != 0)
    return -1;
  if (glp_get_prim_stat(h->lp) != GLP_FEAS)
    return 0;
  for (size_t j = 0; j < h->nx; j++)
    x[j] = glp_get_col_prim(h->lp, (int)j + 1);
  return 1;
}

/* A Farkas vector for the infeasible system G x >= h0 (G m x nx, h0 in {0, 1}^m): lambda >= 0,
 * G^T lambda = 0, h0^T lambda = 1, found by LP and verified exactly on its support.  1 verified, 0 not. */
static int
farkas_general(const double *G, const double *h0, size_t m, size_t nx, size_t *lp_calls)
{
  const size_t rows = nx + 1;
  double *M = calloc(rows * m, sizeof *M), *r = calloc(rows, sizeof *r), *lam = calloc(m, sizeof *lam);
  unsigned char *support = calloc(m, 1);
  int *ind = malloc((rows + 1) * sizeof *ind);
  double *val = malloc((rows + 1) * sizeof *val);
  int verified = 0;
  if (M && r && lam && support && ind && val) {
    for (size_t c = 0; c < m; c++) {
      for (size_t a = 0; a < nx; a++)
        M[a * m + c] = G[c * nx + a];
      M[nx * m + c] = h0[c];
    }
    r[nx] = 1.0;
    glp_prob *lp = glp_create_prob();
    glp_add_rows(lp, (int)rows);
    glp_add_cols(lp, (int)m);
    for (size_t i = 0; i < rows; i++)
      glp_set_row_bnds(lp, (int)i + 1, GLP_FX, r[i], r[i]);
    for (size_t c = 0; c < m; c++) {
      glp_set_mat_col(lp, (int)c + 1, glpk_sparse(M + c, rows, m, ind, val), ind, val);
      glp_set_col_bnds(lp, (int)c + 1, GLP_LO, 0, 0);
    }
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    (*lp_calls)++;
    if (glp_simplex(lp, &parm) == 0 && glp_get_status(lp) == GLP_OPT) {
      for (size_t c = 0; c < m; c++) {
        lam[c] = glp_get_col_prim(lp, (int)c + 1);
        support[c] = lam[c] > 0;
      }
      verified = sdlab_exact_nonnegative_solution(M, rows, m, r, support, lam) == 1;
    }
    glp_delete_prob(lp);
  }
  free(M);
  free(r);
  free(lam);
  free(support);
  free(ind);
  free(val);
  return verified;
}

/* The half-space problem's system G x >= h0 for `want`: IN rows (w_d, -1 | 1), OUT rows -(w_d, -1 | 0),
 * and for threshold patterns the row s >= 1. */
static int
farkas(sdlab_lp_halfspace *h, const unsigned char *want)
{
  size_t m = (size_t)h->threshold;
  for (size_t d = 0; d < h->n; d++)
    m += want[d] != SDLAB_FREE;
  double *G = calloc(m * h->nx, sizeof *G), *h0 = calloc(m, sizeof *h0);
  int verified = 0;
  if (G && h0) {
    size_t c = 0;
    for (size_t d = 0; d < h->n; d++) {
      if (want[d] == SDLAB_FREE)
        continue;
      double sg = want[d] == SDLAB_IN ? 1.0 : -1.0;
      for (size_t a = 0; a < h->np; a++)
        G[c * h->nx + a] = sg * h->W[d * h->np + a];
      if (h->threshold)
        G[c * h->nx + h->np] = -sg;
      h0[c] = want[d] == SDLAB_IN ? 1.0 : 0.0;
      c++;
    }
    if (h->threshold) {
      G[c * h->nx + h->np] = 1.0;
      h0[c] = 1.0;
    }
    verified = farkas_general(G, h0, m, h->nx, &h->lp_calls);
  }
  free(G);
  free(h0);
  return verified;
}

/* The relative-interior LP of sdlab_lp_homogeneous; 1 when solved (x and the implicit equalities filled). */
static int
interior_point(const double *G, const unsigned char *strict, size_t m, size_t nx, double *x, unsigned char *equal,
               size_t *calls)
{
  glp_prob *lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MAX);
  size_t ns = 0;
  for (size_t i = 0; i < m; i++)
    ns += !strict[i];
  glp_add_rows(lp, (int)m);
  glp_add_cols(lp, (int)(nx + ns));
  int *ind = malloc((nx + 2) * sizeof *ind);
  double *val = malloc((nx + 2) * sizeof *val);
  int ok = 0;
  if (ind && val) {
    for (size_t a = 0; a < nx; a++)
      glp_set_col_bnds(lp, (int)a + 1, GLP_FR, 0, 0);
    for (size_t i = 0, k = 0; i < m; i++) {
      int len = glpk_sparse(G + i * nx, nx, 1, ind, val);
      if (!strict[i]) { /* G_i x - s_i >= 0 */
        int col = (int)(nx + k) + 1;
        glp_set_col_bnds(lp, col, GLP_DB, 0, 1);
        glp_set_obj_coef(lp, col, 1.0);
        len++;
        ind[len] = col;
        val[len] = -1.0;
        k++;
      }
      glp_set_mat_row(lp, (int)i + 1, len, ind, val);
      glp_set_row_bnds(lp, (int)i + 1, GLP_LO, strict[i] ? 1.0 : 0.0, 0);
    }
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    (*calls)++;
    if (glp_simplex(lp, &parm) == 0 && glp_get_status(lp) == GLP_OPT) {
      for (size_t a = 0; a < nx; a++)
        x[a] = glp_get_col_prim(lp, (int)a + 1);
      /* s_i is 0 or 1 at an optimum: 1/2 separates the two */
      for (size_t i = 0, k = 0; i < m; i++)
        if (!strict[i])
          equal[i] = glp_get_col_prim(lp, (int)(nx + k++) + 1) < 0.5;
      ok = 1;
    }
  }
  free(ind);
  free(val);
  glp_delete_prob(lp);
  return ok;
}

/* x satisfies G_i x > 0 (strict rows) and G_i x >= 0 (the others) exactly */
static int
exact_homogeneous(const double *G, const unsigned char *strict, size_t m, size_t nx, const double *x)
{
  for (size_t i = 0; i < m; i++) {
    int sg = sdlab_exact_dot_sign(G + i * nx, x, nx, 0.0);
    if (strict[i] ? sg <= 0 : sg < 0)
      return 0;
  }
  return 1;
}

int
sdlab_lp_homogeneous(const double *G, const unsigned char *strict, size_t m, size_t nx, double *x, int *feasible,
                     int *verified)
{
  *feasible = *verified = 0;
  if (nx == 0 || nx > 100000 || m > 10000000)
    return sdlab_fail(GSL_EINVAL, "homogeneous system of %zu rows in %zu unknowns", m, nx);
  int status = check_coefficients(G, m * nx, m, nx + 1, "homogeneous system");
  if (status)
    return status;
  if (m == 0) {
    memset(x, 0, nx * sizeof *x);
    *feasible = *verified = 1;
    return SDLAB_SUCCESS;
  }
  glp_term_out(GLP_OFF);
  glp_prob *lp = glp_create_prob();
  glp_add_rows(lp, (int)m);
  glp_add_cols(lp, (int)nx);
  int *ind = malloc((nx + 1) * sizeof *ind);
  double *val = malloc((nx + 1) * sizeof *val), *h0 = malloc(m * sizeof *h0);
  status = ind && val && h0 ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  size_t calls = 0;
  if (!status) {
    for (size_t a = 0; a < nx; a++)
      glp_set_col_bnds(lp, (int)a + 1, GLP_FR, 0, 0);
    for (size_t i = 0; i < m; i++) {
      glp_set_mat_row(lp, (int)i + 1, glpk_sparse(G + i * nx, nx, 1, ind, val), ind, val);
      h0[i] = strict[i] ? 1.0 : 0.0;
      glp_set_row_bnds(lp, (int)i + 1, GLP_LO, h0[i], 0);
    }
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    calls++;
    if (glp_simplex(lp, &parm) != 0)
      status = sdlab_fail(GSL_EFAILED, "GLPK's simplex failed on a homogeneous system");
    else if (glp_get_prim_stat(lp) == GLP_FEAS) {
      *feasible = 1;
      for (size_t a = 0; a < nx; a++)
        x[a] = glp_get_col_prim(lp, (int)a + 1);
      *verified = exact_homogeneous(G, strict, m, nx, x);
      if (!*verified) {
        /* a vertex puts non-strict rows exactly at 0, where rounding can cross.  Move to the relative
         * interior: maximise sum s_i with G_i x >= s_i, 0 <= s_i <= 1 on the non-strict rows.  At the
         * optimum s_i = 1 on every row that can be strict and s_i = 0 on the implicit equalities (a dead
         * neuron's row, for example), which are then enforced exactly by projection. */
        double *y = malloc(nx * sizeof *y);
        unsigned char *equal = calloc(m, 1);
        if (y && equal && interior_point(G, strict, m, nx, y, equal, &calls) &&
            sdlab_exact_project_check(G, strict, equal, m, nx, y) == 1) {
          memcpy(x, y, nx * sizeof *x);
          *verified = 1;
        }
        free(y);
        free(equal);
      }
    } else {
      *verified = farkas_general(G, h0, m, nx, &calls);
    }
  }
  glp_delete_prob(lp);
  free(ind);
  free(val);
  free(h0);
  return status;
}

int
sdlab_lp_equality(const double *A, const double *rhs, const double *cost, size_t m, size_t nx, size_t nfree, double *x,
                  int *feasible)
{
  *feasible = 0;
  if (nx == 0 || nfree > nx || nx > 100000 || m > 100000)
    return sdlab_fail(GSL_EINVAL, "equality system of %zu rows in %zu unknowns (%zu free)", m, nx, nfree);
  int status = check_coefficients(A, m * nx, m, nx + 1, "equality system");
  if (!status)
    status = check_coefficients(rhs, m, m, nx + 1, "equality system's right-hand side");
  if (!status && cost)
    status = check_coefficients(cost, nx, m, nx + 1, "equality system's cost");
  if (status)
    return status;
  glp_term_out(GLP_OFF);
  glp_prob *lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MIN);
  if (m)
    glp_add_rows(lp, (int)m);
  glp_add_cols(lp, (int)nx);
  int *ind = malloc((nx + 1) * sizeof *ind);
  double *val = malloc((nx + 1) * sizeof *val);
  status = ind && val ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    for (size_t a = 0; a < nx; a++) {
      const int nonneg = a < nx - nfree;
      glp_set_col_bnds(lp, (int)a + 1, nonneg ? GLP_LO : GLP_FR, 0, 0);
      glp_set_obj_coef(lp, (int)a + 1, cost ? cost[a] : nonneg ? 1.0 : 0.0);
    }
    for (size_t i = 0; i < m; i++) {
      glp_set_mat_row(lp, (int)i + 1, glpk_sparse(A + i * nx, nx, 1, ind, val), ind, val);
      glp_set_row_bnds(lp, (int)i + 1, GLP_FX, rhs[i], rhs[i]);
    }
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    if (glp_simplex(lp, &parm) == 0 && glp_get_status(lp) == GLP_OPT) {
      *feasible = 1;
      for (size_t a = 0; a < nx; a++)
        x[a] = glp_get_col_prim(lp, (int)a + 1);
    }
  }
  glp_delete_prob(lp);
  free(ind);
  free(val);
  return status;
}

int
sdlab_lp_halfspace_realize(sdlab_lp_halfspace *h, const unsigned char *want, double *x, sdlab_lp_realize_info *info)
{
  memset(info, 0, sizeof *info);
  for (size_t d = 0; d < h->n; d++)
    if (want[d] > SDLAB_FREE)
      return sdlab_fail(GSL_EINVAL, "pattern entry %zu is %d (0 out, 1 in, 2 free)", d, want[d]);
  /* strict first: a witness with margins on both sides */
  int f = solve(h, want, -1.0, x);
  if (f < 0)
    return sdlab_fail(GSL_EFAILED, "GLPK's simplex failed on a realizability LP");
  if (f == 1) {
    info->realizable = 1;
    info->strict = 1;
    info->verified = sdlab_lp_halfspace_check(h, want, x);
    return SDLAB_SUCCESS;
  }
  /* then the problem itself: OUT features may sit exactly on the threshold */
  f = solve(h, want, 0.0, x);
  if (f < 0)
    return sdlab_fail(GSL_EFAILED, "GLPK's simplex failed on a realizability LP");
  if (f == 1) {
    info->realizable = 1;
    if (!h->threshold) {
      /* the homogeneous dead pattern and its relatives: w = 0 on the OUT part is exact */
      int all_out = 1;
      for (size_t d = 0; d < h->n; d++)
        all_out &= want[d] != SDLAB_IN;
      if (all_out)
        memset(x, 0, h->nx * sizeof *x);
    }
    info->verified = sdlab_lp_halfspace_check(h, want, x);
    return SDLAB_SUCCESS;
  }
  info->realizable = 0;
  info->verified = farkas(h, want);
  return SDLAB_SUCCESS;
}

int
sdlab_lp_interior(const double *G, const unsigned char *strict, size_t m, size_t nx, double *x, int *open,
                  int *verified)
{
  *open = *verified = 0;
  int status = check_coefficients(G, m * nx, m, nx + 1, "relative-interior system");
  if (status)
    return status;
  size_t calls = 0;
  unsigned char *equal = calloc(m ? m : 1, 1);
  if (equal == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  if (interior_point(G, strict, m, nx, x, equal, &calls)) {
    *open = 1;
    for (size_t i = 0; i < m; i++)
      *open &= !equal[i];
    *verified = sdlab_exact_project_check(G, strict, equal, m, nx, x) == 1;
  }
  free(equal);
  return SDLAB_SUCCESS;
}
