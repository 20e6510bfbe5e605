#include "sdlab_piece.h"
#include "sdlab_errno.h"
#include "sdlab_pattern.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>

void
sdlab_piece_free(sdlab_piece *P)
{
  if (P == NULL)
    return;
  free(P->F);
  free(P->C);
  free(P->b);
  free(P->strict);
  free(P);
}

/* append the row coef_i * (e_i (x) w_d) + coef_j * (e_j (x) w_d) >= rhs */
static void
put_row(sdlab_piece *P, const gsl_matrix *Wp, size_t d, size_t i, double ci, size_t j, double cj, double rhs, int strict)
{
  const size_t nx = P->nq * P->np;
  double *row = P->C + P->m * nx;
  memset(row, 0, nx * sizeof *row);
  for (size_t a = 0; a < P->np; a++) {
    double w = gsl_matrix_get(Wp, a, d);
    if (i < P->nq)
      row[i * P->np + a] += ci * w;
    if (j < P->nq)
      row[j * P->np + a] += cj * w;
  }
  P->b[P->m] = rhs;
  P->strict[P->m] = (unsigned char)strict;
  P->m++;
}

sdlab_piece *
sdlab_piece_alloc(const gsl_matrix *Wp, size_t nr, const sdlab_activation *act, size_t nq, const uint64_t *F)
{
  const size_t np = Wp->size1, n = Wp->size2;
  if (n > 64 || nq == 0 || np == 0 || nr == 0) {
    sdlab_fail(GSL_EINVAL, "a piece needs 1..64 features and positive sizes (n %zu, n_p %zu, n_q %zu, n_r %zu)", n, np,
               nq, nr);
    return NULL;
  }
  if (sdlab_activation_check(act, nq))
    return NULL;
  if (act->kind == SDLAB_ACT_BATCHTOPK) {
    sdlab_fail(GSL_EINVAL, "batchtopk couples the features of a batch: its pieces are not single polyhedra here");
    return NULL;
  }
  if (act->kind == SDLAB_ACT_TOPK && act->k < nq) {
    sdlab_fail(GSL_EINVAL, "pure Top-k (eq. 7) also passes selected non-positive codes, which the pattern does not "
               "fix: L~ is not a quadratic on a pattern's region (use topk-relu:%zu)", act->k);
    return NULL;
  }
  const int topk = act->kind == SDLAB_ACT_TOPK || act->kind == SDLAB_ACT_TOPK_RELU;
  const double theta = act->kind == SDLAB_ACT_JUMPRELU ? act->theta : 0.0;
  size_t rows = 0;
  for (size_t d = 0; d < n; d++) {
    size_t size = 0;
    for (size_t i = 0; i < nq; i++)
      size += F[i] >> d & 1;
    if (topk && size > act->k) {
      sdlab_fail(GSL_EINVAL, "feature %zu activates %zu neurons, more than Top-%zu can", d, size, act->k);
      return NULL;
    }
    rows += topk && size == act->k ? size + size * (nq - size) : nq;
  }
  sdlab_piece *P = calloc(1, sizeof *P);
  if (P == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for a piece");
    return NULL;
  }
  P->n = n;
  P->np = np;
  P->nq = nq;
  P->nr = nr;
  P->act = *act;
  P->F = malloc(nq * sizeof *P->F);
  P->C = malloc((rows ? rows : 1) * nq * np * sizeof *P->C);
  P->b = malloc((rows ? rows : 1) * sizeof *P->b);
  P->strict = malloc(rows ? rows : 1);
  if (!P->F || !P->C || !P->b || !P->strict) {
    sdlab_piece_free(P);
    sdlab_fail(GSL_ENOMEM, "out of memory for a piece");
    return NULL;
  }
  memcpy(P->F, F, nq * sizeof *F);
  for (size_t d = 0; d < n; d++) {
    uint64_t A = 0;
    size_t size = 0;
    for (size_t i = 0; i < nq; i++)
      if (F[i] >> d & 1) {
        A |= (uint64_t)1 << i;
        size++;
      }
    for (size_t i = 0; i < nq; i++)
      if (A >> i & 1)
        put_row(P, Wp, d, i, 1.0, nq, 0.0, theta, 1);
    for (size_t j = 0; j < nq; j++) {
      if (A >> j & 1)
        continue;
      if (topk && size == act->k) {
        for (size_t i = 0; i < nq; i++)
          if (A >> i & 1)
            put_row(P, Wp, d, i, 1.0, j, -1.0, 0.0, j < i);
      } else {
        put_row(P, Wp, d, nq, 0.0, j, -1.0, -theta, 0);
      }
    }
  }
  return P;
}

static int
check_shapes(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
             const gsl_matrix *WE, const gsl_matrix *WD)
{
  if (Wp->size1 != P->np || Wp->size2 != P->n || (Wr && (Wr->size1 != P->nr || Wr->size2 != P->n)) ||
      (Md && Md->size != P->n) || (WE && (WE->size1 != P->nq || WE->size2 != P->np)) ||
      (WD && (WD->size1 != P->nr || WD->size2 != P->nq)))
    return sdlab_fail(SDLAB_ESHAPE, "piece: the matrices do not fit n = %zu, n_p = %zu, n_q = %zu, n_r = %zu", P->n,
                      P->np, P->nq, P->nr);
  return SDLAB_SUCCESS;
}

/* z_d,i = <w_E^i, w_p^d> on the pattern, 0 off it */
static double
code(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *WE, size_t d, size_t i)
{
  if (!(P->F[i] >> d & 1))
    return 0.0;
  double z = 0;
  for (size_t a = 0; a < P->np; a++)
    z += gsl_matrix_get(WE, i, a) * gsl_matrix_get(Wp, a, d);
  return z;
}

int
sdlab_piece_loss(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                 const gsl_matrix *WE, const gsl_matrix *WD, double *loss, gsl_matrix *gE, gsl_matrix *gD)
{
  int status = check_shapes(P, Wp, Wr, Md, WE, WD);
  if (status)
    return status;
  if (gE)
    gsl_matrix_set_zero(gE);
  if (gD)
    gsl_matrix_set_zero(gD);
  double total = 0, z[64], r[1024];
  if (P->nq > 64 || P->nr > 1024)
    return sdlab_fail(GSL_EINVAL, "piece loss: at most 64 latents and 1024 target dimensions");
  for (size_t d = 0; d < P->n; d++) {
    const double md = gsl_vector_get(Md, d);
    for (size_t i = 0; i < P->nq; i++)
      z[i] = code(P, Wp, WE, d, i);
    double sq = 0;
    for (size_t a = 0; a < P->nr; a++) {
      double v = gsl_matrix_get(Wr, a, d);
      for (size_t i = 0; i < P->nq; i++)
        v -= gsl_matrix_get(WD, a, i) * z[i];
      r[a] = v;
      sq += v * v;
    }
    total += md * sq;
    if (gD)
      for (size_t a = 0; a < P->nr; a++)
        for (size_t i = 0; i < P->nq; i++)
          *gsl_matrix_ptr(gD, a, i) -= 2 * md * r[a] * z[i];
    if (gE)
      for (size_t i = 0; i < P->nq; i++) {
        if (!(P->F[i] >> d & 1))
          continue;
        double c = 0; /* (w_D^i)^T r_d */
        for (size_t a = 0; a < P->nr; a++)
          c += gsl_matrix_get(WD, a, i) * r[a];
        for (size_t a = 0; a < P->np; a++)
          *gsl_matrix_ptr(gE, i, a) -= 2 * md * c * gsl_matrix_get(Wp, a, d);
      }
  }
  if (loss)
    *loss = total;
  return SDLAB_SUCCESS;
}

void
sdlab_piece_margin(const sdlab_piece *P, const gsl_matrix *WE, double *strict_margin, double *violation)
{
  const size_t nx = P->nq * P->np;
  double sm = INFINITY, vi = -INFINITY;
  for (size_t r = 0; r < P->m; r++) {
    double v = -P->b[r];
    for (size_t a = 0; a < nx; a++)
      v += P->C[r * nx + a] * WE->data[(a / P->np) * WE->tda + a % P->np];
    if (P->strict[r])
      sm = fmin(sm, v);
    vi = fmax(vi, -v);
  }
  *strict_margin = sm;
  *violation = vi;
}

int
sdlab_piece_hessians(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_vector *Md, const gsl_matrix *WE,
                     const gsl_matrix *WD, gsl_matrix *HD, gsl_matrix *HE)
{
  int status = check_shapes(P, Wp, NULL, Md, WE, WD);
  if (status)
    return status;
  const size_t nq = P->nq, np = P->np, nx = nq * np;
  if (HD && (HD->size1 != nq || HD->size2 != nq))
    return sdlab_fail(SDLAB_ESHAPE, "the W_D Hessian block is n_q x n_q");
  if (HE && (HE->size1 != nx || HE->size2 != nx))
    return sdlab_fail(SDLAB_ESHAPE, "the W_E Hessian is (n_q n_p) x (n_q n_p)");
  if (HD)
    gsl_matrix_set_zero(HD);
  if (HE)
    gsl_matrix_set_zero(HE);
  for (size_t d = 0; d < P->n; d++) {
    const double md = gsl_vector_get(Md, d);
    for (size_t i = 0; i < nq; i++)
      for (size_t j = 0; j < nq; j++) {
        if (HD)
          *gsl_matrix_ptr(HD, i, j) += 2 * md * code(P, Wp, WE, d, i) * code(P, Wp, WE, d, j);
        if (HE && (P->F[i] >> d & 1) && (P->F[j] >> d & 1)) {
          gsl_vector_const_view di = gsl_matrix_const_column(WD, i), dj = gsl_matrix_const_column(WD, j);
          double dd;
          gsl_blas_ddot(&di.vector, &dj.vector, &dd);
          for (size_t a = 0; a < np; a++)
            for (size_t c = 0; c < np; c++)
              *gsl_matrix_ptr(HE, i * np + a, j * np + c) +=
                2 * md * dd * gsl_matrix_get(Wp, a, d) * gsl_matrix_get(Wp, c, d);
        }
      }
  }
  return SDLAB_SUCCESS;
}

/* the decoder step's matrices, kept by alternating convex search between calls (a 2,300-piece census made about
 * 10^7 of them, their allocation and the allocator's lock a tenth of its time) */
typedef struct {
  gsl_matrix *S, *T, *V, *Sp, *gD, *Sc;
  gsl_vector *ev;
  gsl_eigen_symmv_workspace *eig;
} decoder_ws;

static void
decoder_ws_free(decoder_ws *d)
{
  gsl_matrix *m[] = {d->S, d->T, d->V, d->Sp, d->gD, d->Sc};
  for (size_t k = 0; k < 6; k++)
    if (m[k])
      gsl_matrix_free(m[k]);
  if (d->ev)
    gsl_vector_free(d->ev);
  if (d->eig)
    gsl_eigen_symmv_free(d->eig);
  memset(d, 0, sizeof *d);
}

static int
decoder_ws_alloc(decoder_ws *d, size_t nq, size_t nr)
{
  d->S = gsl_matrix_alloc(nq, nq), d->T = gsl_matrix_alloc(nr, nq), d->V = gsl_matrix_alloc(nq, nq);
  d->Sp = gsl_matrix_alloc(nq, nq), d->gD = gsl_matrix_alloc(nr, nq), d->Sc = gsl_matrix_alloc(nq, nq);
  d->ev = gsl_vector_alloc(nq);
  d->eig = gsl_eigen_symmv_alloc(nq);
  if (!d->S || !d->T || !d->V || !d->Sp || !d->gD || !d->Sc || !d->ev || !d->eig) {
    decoder_ws_free(d);
    return sdlab_fail(GSL_ENOMEM, "out of memory for the decoder step");
  }
  return SDLAB_SUCCESS;
}

static int
decoder_step(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
             const gsl_matrix *WE, gsl_matrix *WD, double *grad, decoder_ws *d)
{
  const size_t nq = P->nq, nr = P->nr;
  gsl_matrix *S = d->S, *T = d->T, *V = d->V, *Sp = d->Sp, *gD = d->gD;
  gsl_matrix_set_zero(S);
  gsl_matrix_set_zero(T);
  gsl_matrix_set_zero(Sp);
  for (size_t dd = 0; dd < P->n; dd++) {
    const double md = gsl_vector_get(Md, dd);
    for (size_t i = 0; i < nq; i++) {
      double zi = code(P, Wp, WE, dd, i);
      if (zi == 0)
        continue;
      for (size_t j = 0; j < nq; j++)
        *gsl_matrix_ptr(S, i, j) += md * zi * code(P, Wp, WE, dd, j);
      for (size_t a = 0; a < nr; a++)
        *gsl_matrix_ptr(T, a, i) += md * zi * gsl_matrix_get(Wr, a, dd);
    }
  }
  /* S^+ by the eigendecomposition, with the numerical-rank cut n_q eps lambda_max */
  gsl_matrix_memcpy(d->Sc, S);
  gsl_eigen_symmv(d->Sc, d->ev, V, d->eig);
  double lmax = 0;
  for (size_t i = 0; i < nq; i++)
    lmax = fmax(lmax, fabs(gsl_vector_get(d->ev, i)));
  for (size_t t = 0; t < nq; t++) {
    double l = gsl_vector_get(d->ev, t);
    if (!(l > (double)nq * DBL_EPSILON * lmax))
      continue;
    for (size_t i = 0; i < nq; i++)
      for (size_t j = 0; j < nq; j++)
        *gsl_matrix_ptr(Sp, i, j) += gsl_matrix_get(V, i, t) * gsl_matrix_get(V, j, t) / l;
  }
  gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, T, Sp, 0.0, WD);
  if (grad) { /* dL~/dW_D = 2 (W_D S - T) */
    gsl_matrix_memcpy(gD, T);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 2.0, WD, S, -2.0, gD);
    double g = 0;
    for (size_t k = 0; k < nr * nq; k++)
      g = fmax(g, fabs(gD->data[k]));
    *grad = g;
  }
  return SDLAB_SUCCESS;
}

int
sdlab_piece_decoder_step(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                         const gsl_matrix *WE, gsl_matrix *WD, double *grad)
{
  int status = check_shapes(P, Wp, Wr, Md, WE, WD);
  if (status)
    return status;
  decoder_ws d = {0};
  if ((status = decoder_ws_alloc(&d, P->nq, P->nr)))
    return status;
  status = decoder_step(P, Wp, Wr, Md, WE, WD, grad, &d);
  decoder_ws_free(&d);
  return status;
}

struct sdlab_piece_workspace {
  size_t nx;
  gsl_matrix *HE;
  double *q, *x;
  sdlab_qp_workspace *qp;
  decoder_ws dec;
};

sdlab_piece_workspace *
sdlab_piece_workspace_alloc(const sdlab_piece *P)
{
  sdlab_piece_workspace *w = calloc(1, sizeof *w);
  if (w == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for a piece workspace");
    return NULL;
  }
  w->nx = P->nq * P->np;
  w->HE = gsl_matrix_alloc(w->nx, w->nx);
  w->q = malloc(w->nx * sizeof *w->q);
  w->x = malloc(w->nx * sizeof *w->x);
  w->qp = sdlab_qp_workspace_alloc(w->nx, P->m);
  if (!w->HE || !w->q || !w->x || !w->qp || decoder_ws_alloc(&w->dec, P->nq, P->nr)) {
    sdlab_piece_workspace_free(w);
    sdlab_fail(GSL_ENOMEM, "out of memory for a piece workspace");
    return NULL;
  }
  return w;
}

void
sdlab_piece_workspace_free(sdlab_piece_workspace *w)
{
  if (w == NULL)
    return;
  if (w->HE)
    gsl_matrix_free(w->HE);
  free(w->q);
  free(w->x);
  sdlab_qp_workspace_free(w->qp);
  decoder_ws_free(&w->dec);
  free(w);
}

int
sdlab_piece_encoder_step(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                         const gsl_matrix *WD, gsl_matrix *WE, sdlab_qp_kkt *kkt, sdlab_piece_workspace *w)
{
  int status = check_shapes(P, Wp, Wr, Md, WE, WD);
  if (status)
    return status;
  const size_t nq = P->nq, np = P->np;
  /* f(x) = 1/2 x^T Q x + q^T x + const with Q the W_E Hessian and
   * q_(i,a) = -2 sum_{d: i in A_d} M_d <w_D^i, w_r^d> w_p^d[a] */
  if ((status = sdlab_piece_hessians(P, Wp, Md, WE, WD, NULL, w->HE)))
    return status;
  memset(w->q, 0, w->nx * sizeof *w->q);
  for (size_t d = 0; d < P->n; d++)
    for (size_t i = 0; i < nq; i++) {
      if (!(P->F[i] >> d & 1))
        continue;
      double c = 0;
      for (size_t a = 0; a < P->nr; a++)
        c += gsl_matrix_get(WD, a, i) * gsl_matrix_get(Wr, a, d);
      for (size_t a = 0; a < np; a++)
        w->q[i * np + a] -= 2 * gsl_vector_get(Md, d) * c * gsl_matrix_get(Wp, a, d);
    }
  for (size_t i = 0; i < nq; i++)
    for (size_t a = 0; a < np; a++)
      w->x[i * np + a] = gsl_matrix_get(WE, i, a);
  status = sdlab_qp_solve(w->HE->data, w->q, P->C, P->b, w->nx, P->m, w->x, NULL, 100 * (w->nx + P->m), kkt, w->qp);
  if (status == SDLAB_SUCCESS || status == SDLAB_EUNREACHED)
    for (size_t i = 0; i < nq; i++)
      for (size_t a = 0; a < np; a++)
        gsl_matrix_set(WE, i, a, w->x[i * np + a]);
  return status;
}

sdlab_piece_acs *
sdlab_piece_acs_alloc(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md)
{
  if (check_shapes(P, Wp, Wr, Md, NULL, NULL))
    return NULL;
  sdlab_piece_acs *a = calloc(1, sizeof *a);
  if (a == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for alternating convex search");
    return NULL;
  }
  a->P = P;
  a->Wp = Wp;
  a->Wr = Wr;
  a->Md = Md;
  a->WE = gsl_matrix_alloc(P->nq, P->np);
  a->WD = gsl_matrix_alloc(P->nr, P->nq);
  a->w = sdlab_piece_workspace_alloc(P);
  if (!a->WE || !a->WD || !a->w) {
    sdlab_piece_acs_free(a);
    sdlab_fail(GSL_ENOMEM, "out of memory for alternating convex search");
    return NULL;
  }
  return a;
}

void
sdlab_piece_acs_free(sdlab_piece_acs *a)
{
  if (a == NULL)
    return;
  if (a->WE) gsl_matrix_free(a->WE);
  if (a->WD) gsl_matrix_free(a->WD);
  sdlab_piece_workspace_free(a->w);
  free(a);
}

int
sdlab_piece_acs_set(sdlab_piece_acs *a, const gsl_matrix *WE0)
{
  gsl_matrix_memcpy(a->WE, WE0);
  a->iterations = 0;
  int status = decoder_step(a->P, a->Wp, a->Wr, a->Md, a->WE, a->WD, &a->grad_D, &a->w->dec);
  if (!status)
    status = sdlab_piece_loss(a->P, a->Wp, a->Wr, a->Md, a->WE, a->WD, &a->loss, NULL, NULL);
  a->previous = INFINITY;
  return status;
}

int
sdlab_piece_acs_iterate(sdlab_piece_acs *a)
{
  int status = sdlab_piece_encoder_step(a->P, a->Wp, a->Wr, a->Md, a->WD, a->WE, &a->kkt_E, a->w);
  if (status && status != SDLAB_EUNREACHED)
    return status;
  int s2 = decoder_step(a->P, a->Wp, a->Wr, a->Md, a->WE, a->WD, &a->grad_D, &a->w->dec);
  if (s2)
    return s2;
  a->previous = a->loss;
  s2 = sdlab_piece_loss(a->P, a->Wp, a->Wr, a->Md, a->WE, a->WD, &a->loss, NULL, NULL);
  a->iterations++;
  return s2 ? s2 : status;
}

int
sdlab_piece_acs_test(const sdlab_piece_acs *a, double rtol, double abstol)
{
  if (!isfinite(a->previous))
    return GSL_CONTINUE;
  return a->previous - a->loss <= rtol * a->loss + abstol ? GSL_SUCCESS : GSL_CONTINUE;
}

/* An orthonormal basis (columns of Q, returned count) of the span of the columns of A (rows x cols), by the
 * SVD of A (rows >= cols) or of A^T, with the numerical-rank cut max(rows, cols) eps sigma_max. */
size_t
sdlab_piece_span_basis(const gsl_matrix *A, gsl_matrix *Q)
{
  const size_t m = A->size1, n = A->size2;
  if (m == 0 || n == 0)
    return 0;
  gsl_matrix *U = gsl_matrix_alloc(m >= n ? m : n, m >= n ? n : m);
  gsl_matrix *V = gsl_matrix_alloc(m >= n ? n : m, m >= n ? n : m);
  gsl_vector *sv = gsl_vector_alloc(m >= n ? n : m), *work = gsl_vector_alloc(m >= n ? n : m);
  size_t rank = 0;
  if (m >= n) {
    gsl_matrix_memcpy(U, A);
    gsl_linalg_SV_decomp(U, V, sv, work); /* A = U S V^T: the left vectors span the columns */
  } else {
    gsl_matrix_transpose_memcpy(U, A);
    gsl_linalg_SV_decomp(U, V, sv, work); /* A^T = U S V^T: A's column space is spanned by V's columns */
  }
  const double cut = (double)(m > n ? m : n) * DBL_EPSILON * gsl_vector_get(sv, 0);
  for (size_t k = 0; k < sv->size; k++)
    if (gsl_vector_get(sv, k) > cut) {
      for (size_t i = 0; i < m; i++)
        gsl_matrix_set(Q, i, rank, m >= n ? gsl_matrix_get(U, i, k) : gsl_matrix_get(V, i, k));
      rank++;
    }
  gsl_matrix_free(U);
  gsl_matrix_free(V);
  gsl_vector_free(sv);
  gsl_vector_free(work);
  return rank;
}

/* sum of the g largest eigenvalues of B^T R R^T B (B: rows x b orthonormal, R: rows x nr) */
double
sdlab_piece_top_energy(const gsl_matrix *B, size_t b, const gsl_matrix *R, size_t g)
{
  if (b == 0 || g == 0)
    return 0;
  gsl_matrix_const_view Bv = gsl_matrix_const_submatrix(B, 0, 0, B->size1, b);
  gsl_matrix *BR = gsl_matrix_alloc(b, R->size2), *H = gsl_matrix_alloc(b, b), *V = gsl_matrix_alloc(b, b);
  gsl_vector *e = gsl_vector_alloc(b);
  gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(b);
  gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Bv.matrix, R, 0.0, BR);
  gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, BR, BR, 0.0, H);
  gsl_eigen_symmv(H, e, V, w);
  gsl_eigen_symmv_sort(e, V, GSL_EIGEN_SORT_VAL_DESC);
  double t = 0;
  for (size_t k = 0; k < g && k < b; k++)
    t += fmax(gsl_vector_get(e, k), 0.0);
  gsl_eigen_symmv_free(w);
  gsl_vector_free(e);
  gsl_matrix_free(V);
  gsl_matrix_free(H);
  gsl_matrix_free(BR);
  return t;
}

int
sdlab_piece_lower_bound(const sdlab_piece *P, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md,
                        double *lb, int *kind)
{
  int status = check_shapes(P, Wp, Wr, Md, NULL, NULL);
  if (status)
    return status;
  const size_t n = P->n, nr = P->nr, np = P->np, nq = P->nq;
  /* weighted targets: R (n x n_r), R[d][a] = sqrt(M_d) w_r^d[a]; weighted W_p^T rows likewise */
  gsl_matrix *R = gsl_matrix_alloc(n, nr), *T = gsl_matrix_alloc(n, np);
  double energy = 0;
  for (size_t d = 0; d < n; d++) {
    double s = sqrt(gsl_vector_get(Md, d));
    for (size_t a = 0; a < nr; a++) {
      gsl_matrix_set(R, d, a, s * gsl_matrix_get(Wr, a, d));
      energy += gsl_matrix_get(R, d, a) * gsl_matrix_get(R, d, a);
    }
    for (size_t a = 0; a < np; a++)
      gsl_matrix_set(T, d, a, s * gsl_matrix_get(Wp, a, d));
  }
  /* are the active supports identical or disjoint? */
  int grouped = 1;
  for (size_t i = 0; i < nq && grouped; i++)
    for (size_t j = i + 1; j < nq && grouped; j++)
      if (P->F[i] && P->F[j] && P->F[i] != P->F[j] && (P->F[i] & P->F[j]))
        grouped = 0;
  double value = 0;
  gsl_matrix *A = gsl_matrix_calloc(n, nq * np + 1), *Q = gsl_matrix_alloc(n, n);
  if (grouped) {
    uint64_t covered = 0;
    for (size_t i = 0; i < nq; i++) {
      uint64_t F = P->F[i];
      if (F == 0 || (covered & F))
        continue; /* dead, or a group already counted */
      size_t g = 0;
      for (size_t j = 0; j < nq; j++)
        g += P->F[j] == F;
      covered |= F;
      /* S_F: the rows of T on F (zero elsewhere), as columns of A */
      gsl_matrix_set_zero(A);
      for (size_t d = 0; d < n; d++)
        if (F >> d & 1)
          for (size_t a = 0; a < np; a++)
            gsl_matrix_set(A, d, a, gsl_matrix_get(T, d, a));
      gsl_matrix_view Av = gsl_matrix_submatrix(A, 0, 0, n, np);
      size_t b = sdlab_piece_span_basis(&Av.matrix, Q);
      double eF = 0;
      for (size_t d = 0; d < n; d++)
        if (F >> d & 1)
          for (size_t a = 0; a < nr; a++)
            eF += gsl_matrix_get(R, d, a) * gsl_matrix_get(R, d, a);
      value += eF - sdlab_piece_top_energy(Q, b, R, g);
    }
    for (size_t d = 0; d < n; d++)
      if (!(covered >> d & 1))
        for (size_t a = 0; a < nr; a++)
          value += gsl_matrix_get(R, d, a) * gsl_matrix_get(R, d, a);
    *kind = 1;
  } else {
    /* the sum of all the S_i: stack their spanning vectors */
    size_t c = 0;
    for (size_t i = 0; i < nq; i++) {
      if (P->F[i] == 0)
        continue;
      for (size_t a = 0; a < np; a++, c++)
        for (size_t d = 0; d < n; d++)
          gsl_matrix_set(A, d, c, P->F[i] >> d & 1 ? gsl_matrix_get(T, d, a) : 0.0);
    }
    size_t b = 0;
    if (c > 0) {
      gsl_matrix_view Av = gsl_matrix_submatrix(A, 0, 0, n, c);
      b = sdlab_piece_span_basis(&Av.matrix, Q);
    }
    value = energy;
    for (size_t a = 0; a < nr; a++) {
      gsl_vector_const_view ra = gsl_matrix_const_column(R, a);
      for (size_t k = 0; k < b; k++) {
        gsl_vector_const_view qk = gsl_matrix_const_column(Q, k);
        double p;
        gsl_blas_ddot(&qk.vector, &ra.vector, &p);
        value -= p * p;
      }
    }
    *kind = 0;
  }
  /* rounding: every quantity is a sum of at most (n + n_r)^2 products of entries bounded by the energy */
  double margin = 8 * ((double)(n + nr) * (n + nr)) * DBL_EPSILON * energy;
  *lb = fmax(value - margin, 0.0);
  gsl_matrix_free(A);
  gsl_matrix_free(Q);
  gsl_matrix_free(R);
  gsl_matrix_free(T);
  return SDLAB_SUCCESS;
}
