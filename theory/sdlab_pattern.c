#include "sdlab_pattern.h"
#include "sdlab_errno.h"

#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>

sdlab_pattern *
sdlab_pattern_alloc(size_t nq, size_t n)
{
  if (nq == 0 || n == 0) {
    sdlab_fail(GSL_EINVAL, "a pattern needs n_q > 0 neurons and n > 0 features");
    return NULL;
  }
  sdlab_pattern *P = malloc(sizeof *P);
  if (P == NULL || (P->F = calloc(nq * n, 1)) == NULL) {
    free(P);
    sdlab_fail(GSL_ENOMEM, "out of memory for a %zu x %zu pattern", nq, n);
    return NULL;
  }
  P->nq = nq;
  P->n = n;
  return P;
}

void
sdlab_pattern_free(sdlab_pattern *P)
{
  if (P == NULL)
    return;
  free(P->F);
  free(P);
}

int
sdlab_pattern_of(const sdlab_activation *act, const gsl_matrix *WE, const gsl_matrix *Wp, sdlab_pattern *P)
{
  const size_t nq = WE->size1, n = Wp->size2;
  if (WE->size2 != Wp->size1 || P->nq != nq || P->n != n)
    return sdlab_fail(SDLAB_ESHAPE, "pattern: W_E is %zu x %zu, W_p %zu x %zu, pattern %zu x %zu", nq,
                      WE->size2, Wp->size1, n, P->nq, P->n);
  gsl_matrix *Z = gsl_matrix_alloc(n, nq); /* row d: the code W_E w_p^d */
  sdlab_activation_workspace *w = sdlab_activation_workspace_alloc(n, nq);
  int status = Z && w ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory computing a pattern");
  if (!status) {
    gsl_blas_dgemm(CblasTrans, CblasTrans, 1.0, Wp, WE, 0.0, Z);
    status = sdlab_activation_apply(act, Z, Z, NULL, w);
  }
  if (!status)
    for (size_t i = 0; i < nq; i++)
      for (size_t d = 0; d < n; d++)
        P->F[i * n + d] = gsl_matrix_get(Z, d, i) > 0;
  if (Z)
    gsl_matrix_free(Z);
  sdlab_activation_workspace_free(w);
  return status;
}

int
sdlab_pattern_masks(const sdlab_pattern *P, uint64_t *F)
{
  if (P->n > 64)
    return sdlab_fail(SDLAB_EPARAM, "pattern: %zu features do not fit 64-bit masks", P->n);
  for (size_t i = 0; i < P->nq; i++) {
    F[i] = 0;
    for (size_t d = 0; d < P->n; d++)
      if (P->F[i * P->n + d])
        F[i] |= (uint64_t)1 << d;
  }
  return SDLAB_SUCCESS;
}

int
sdlab_pattern_of_masks(const sdlab_activation *act, const gsl_matrix *WE, const gsl_matrix *Wp, uint64_t *F)
{
  sdlab_pattern *P = sdlab_pattern_alloc(WE->size1, Wp->size2);
  if (P == NULL) /* sdlab_pattern_alloc said why */
    return WE->size1 && Wp->size2 ? GSL_ENOMEM : GSL_EINVAL;
  int status = sdlab_pattern_of(act, WE, Wp, P);
  if (!status)
    status = sdlab_pattern_masks(P, F);
  sdlab_pattern_free(P);
  return status;
}

size_t
sdlab_pattern_size(const sdlab_pattern *P, size_t i)
{
  size_t c = 0;
  for (size_t d = 0; d < P->n; d++)
    c += P->F[i * P->n + d];
  return c;
}

int
sdlab_pattern_is_polysemantic(const sdlab_pattern *P)
{
  for (size_t i = 0; i < P->nq; i++)
    if (sdlab_pattern_size(P, i) >= 2)
      return 1;
  return 0;
}

int
sdlab_pattern_is_partition(const sdlab_pattern *P)
{
  for (size_t d = 0; d < P->n; d++) {
    size_t owners = 0;
    for (size_t i = 0; i < P->nq; i++)
      owners += P->F[i * P->n + d];
    if (owners != 1)
      return 0;
  }
  return 1;
}

size_t
sdlab_pattern_dead_count(const sdlab_pattern *P)
{
  size_t dead = 0;
  for (size_t i = 0; i < P->nq; i++)
    dead += sdlab_pattern_size(P, i) == 0;
  return dead;
}

int
sdlab_pattern_equal(const sdlab_pattern *a, const sdlab_pattern *b)
{
  return a->nq == b->nq && a->n == b->n && memcmp(a->F, b->F, a->nq * a->n) == 0;
}
