#include "sdlab_gd.h"
#include "sdlab_adam.h"
#include "sdlab_errno.h"

#include <math.h>
#include <stdlib.h>

sdlab_gd *
sdlab_gd_alloc(sdlab_model *m, const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, double lr,
               double beta1, double beta2, double eps)
{
  if (!(lr > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) {
    sdlab_fail(GSL_EINVAL, "Adam needs lr > 0, beta1 and beta2 in [0, 1), eps > 0");
    return NULL;
  }
  sdlab_gd *g = calloc(1, sizeof *g);
  if (g == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory for Adam");
    return NULL;
  }
  g->m = m;
  g->Wp = Wp;
  g->Wr = Wr;
  g->Md = Md;
  g->lr = lr;
  g->beta1 = beta1;
  g->beta2 = beta2;
  g->eps = eps;
  g->gE = gsl_matrix_alloc(m->nq, m->np);
  g->mE = gsl_matrix_calloc(m->nq, m->np);
  g->vE = gsl_matrix_calloc(m->nq, m->np);
  g->gD = gsl_matrix_alloc(m->nr, m->nq);
  g->mD = gsl_matrix_calloc(m->nr, m->nq);
  g->vD = gsl_matrix_calloc(m->nr, m->nq);
  g->w = sdlab_loss_workspace_alloc(Wp->size2, m);
  if (!g->gE || !g->mE || !g->vE || !g->gD || !g->mD || !g->vD || !g->w) {
    sdlab_gd_free(g);
    sdlab_fail(GSL_ENOMEM, "out of memory for Adam");
    return NULL;
  }
  return g;
}

void
sdlab_gd_free(sdlab_gd *g)
{
  if (g == NULL)
    return;
  gsl_matrix *ms[] = {g->gE, g->mE, g->vE, g->gD, g->mD, g->vD};
  for (size_t i = 0; i < 6; i++)
    if (ms[i])
      gsl_matrix_free(ms[i]);
  sdlab_loss_workspace_free(g->w);
  free(g);
}

/* Adam on one matrix (its gradient, moments: same shape, contiguous) */
static void
adam(gsl_matrix *W, const gsl_matrix *G, gsl_matrix *M, gsl_matrix *V, const sdlab_gd *g, double c1, double c2)
{
  sdlab_adam_update_double(W->data, M->data, V->data, G->data, W->size1 * W->size2, g->lr, g->beta1, g->beta2, g->eps,
                           c1, c2);
}

int
sdlab_gd_iterate(sdlab_gd *g)
{
  int status = sdlab_loss_tilde(g->m, g->Wp, g->Wr, g->Md, &g->loss, g->gE, g->gD, g->w);
  if (status)
    return status;
  size_t K = g->anchors < g->m->nq ? g->anchors : g->m->nq;
  K = K < g->Wp->size2 ? K : g->Wp->size2;
  for (size_t j = 0; j < K; j++) {
    for (size_t a = 0; a < g->m->np; a++)
      gsl_matrix_set(g->gE, j, a, gsl_matrix_get(g->gE, j, a) + 2 * g->anchor_weight *
                     (gsl_matrix_get(g->m->WE, j, a) - gsl_matrix_get(g->Wp, a, j)));
    for (size_t a = 0; a < g->m->nr; a++)
      gsl_matrix_set(g->gD, a, j, gsl_matrix_get(g->gD, a, j) + 2 * g->anchor_weight *
                     (gsl_matrix_get(g->m->WD, a, j) - gsl_matrix_get(g->Wr, a, j)));
  }
  double gn = 0;
  for (size_t k = 0; k < g->gE->size1 * g->gE->size2; k++)
    gn = fmax(gn, fabs(g->gE->data[k]));
  for (size_t k = 0; k < g->gD->size1 * g->gD->size2; k++)
    gn = fmax(gn, fabs(g->gD->data[k]));
  g->grad_norm = gn;
  g->t++;
  double c1, c2;
  sdlab_adam_bias(g->beta1, g->beta2, g->t, &c1, &c2);
  adam(g->m->WE, g->gE, g->mE, g->vE, g, c1, c2);
  adam(g->m->WD, g->gD, g->mD, g->vD, g, c1, c2);
  return SDLAB_SUCCESS;
}

int
sdlab_gd_test(const sdlab_gd *g, double gtol)
{
  return g->grad_norm <= gtol ? GSL_SUCCESS : GSL_CONTINUE;
}
