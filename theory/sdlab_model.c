#include "sdlab_model.h"
#include "sdlab_errno.h"

#include <stdlib.h>
#include <gsl/gsl_blas.h>

sdlab_model *
sdlab_model_alloc(sdlab_model_kind kind, size_t np, size_t nq, size_t nr, size_t nsources,
                  const sdlab_activation *act)
{
  if (np == 0 || nq == 0 || nr == 0) {
    sdlab_fail(GSL_EINVAL, "model sizes must be positive (n_p = %zu, n_q = %zu, n_r = %zu)", np, nq, nr);
    return NULL;
  }
  if (kind == SDLAB_SAE && nr != np) {
    sdlab_fail(GSL_EINVAL, "an SAE reconstructs its input, so n_r must equal n_p (%zu != %zu)", nr, np);
    return NULL;
  }
  if (kind == SDLAB_CROSSCODER && (nsources == 0 || np % nsources || nr % nsources)) {
    sdlab_fail(GSL_EINVAL, "a crosscoder with m = %zu sources needs m >= 1 dividing n_p = %zu and n_r = %zu",
               nsources, np, nr);
    return NULL;
  }
  if (kind != SDLAB_CROSSCODER && nsources != 1) {
    sdlab_fail(GSL_EINVAL, "only a crosscoder has more than one source (m = %zu)", nsources);
    return NULL;
  }
  if (act == NULL || sdlab_activation_check(act, nq))
    return NULL;
  sdlab_model *m = calloc(1, sizeof *m);
  if (m == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for a model");
    return NULL;
  }
  m->kind = kind;
  m->np = np;
  m->nq = nq;
  m->nr = nr;
  m->nsources = nsources;
  m->act = *act;
  m->WE = gsl_matrix_calloc(nq, np);
  m->WD = gsl_matrix_calloc(nr, nq);
  if (m->WE == NULL || m->WD == NULL) {
    sdlab_model_free(m);
    sdlab_fail(GSL_ENOMEM, "out of memory for a %zu x %zu x %zu model", np, nq, nr);
    return NULL;
  }
  return m;
}

void
sdlab_model_free(sdlab_model *m)
{
  if (m == NULL)
    return;
  if (m->WE)
    gsl_matrix_free(m->WE);
  if (m->WD)
    gsl_matrix_free(m->WD);
  free(m);
}

int
sdlab_model_encode(const sdlab_model *m, const gsl_matrix *Xp, gsl_matrix *Z, gsl_matrix *A,
                   unsigned char *sel, sdlab_activation_workspace *w)
{
  if (Xp->size2 != m->np || A->size1 != Xp->size1 || A->size2 != m->nq ||
      (Z && (Z->size1 != Xp->size1 || Z->size2 != m->nq)))
    return sdlab_fail(SDLAB_ESHAPE, "encode: input is %zu x %zu, model expects n_p = %zu and n_q = %zu",
                      Xp->size1, Xp->size2, m->np, m->nq);
  gsl_matrix *pre = Z ? Z : A;
  gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, Xp, m->WE, 0.0, pre);
  return sdlab_activation_apply(&m->act, pre, A, sel, w);
}

int
sdlab_model_decode(const sdlab_model *m, const gsl_matrix *A, gsl_matrix *Xhat)
{
  if (A->size2 != m->nq || Xhat->size1 != A->size1 || Xhat->size2 != m->nr)
    return sdlab_fail(SDLAB_ESHAPE, "decode: codes are %zu x %zu, output %zu x %zu, model n_q = %zu, n_r = %zu",
                      A->size1, A->size2, Xhat->size1, Xhat->size2, m->nq, m->nr);
  gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, A, m->WD, 0.0, Xhat);
  return SDLAB_SUCCESS;
}

int
sdlab_model_crosscoder_concat(const gsl_matrix *const *sources, size_t m, gsl_matrix *out)
{
  if (m == 0 || sources == NULL)
    return sdlab_fail(GSL_EINVAL, "a crosscoder needs at least one source");
  size_t B = sources[0]->size1, d = sources[0]->size2;
  for (size_t j = 0; j < m; j++)
    if (sources[j]->size1 != B || sources[j]->size2 != d)
      return sdlab_fail(SDLAB_ESHAPE, "crosscoder source %zu is %zu x %zu, source 0 is %zu x %zu", j,
                        sources[j]->size1, sources[j]->size2, B, d);
  if (out->size1 != B || out->size2 != m * d)
    return sdlab_fail(SDLAB_ESHAPE, "crosscoder output is %zu x %zu, expected %zu x %zu", out->size1,
                      out->size2, B, m * d);
  for (size_t j = 0; j < m; j++) {
    gsl_matrix_view block = gsl_matrix_submatrix(out, 0, j * d, B, d);
    gsl_matrix_memcpy(&block.matrix, sources[j]);
  }
  return SDLAB_SUCCESS;
}
