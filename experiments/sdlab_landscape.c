#include "sdlab_landscape.h"
#include "sdlab_blas.h"
#include "sdlab_bnb.h"
#include "sdlab_clock.h"
#include "sdlab_errno.h"
#include "sdlab_gd.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_pattern.h"
#include "sdlab_patterns.h"
#include "sdlab_piece.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

void
sdlab_landscape_params_default(sdlab_landscape_params *p)
{
  p->starts = 4;
  p->sgd_runs = 100;
  p->sgd_steps = 20000;
  p->lr = 0.01;
  p->tol = 1e-6;
  p->seed = 1;
  p->max_pieces = 100000;
  p->bnb_nodes = 1000000;
  p->threads = 1;
  p->anchors = 0;
  p->anchor_weight = 0.1;
  p->basin = 0;
  p->journal = NULL;
}

/* Its bounds meet at a point: upper finite and upper - lower <= tol max(1, upper). */
static int
certified(const sdlab_landscape_piece *pc, double tol)
{
  return isfinite(pc->upper) && pc->upper - pc->lower <= tol * fmax(1.0, pc->upper);
}

/* A point (W_E, W_D) of piece P with value loss: kept as the piece's best when it improves on it. */
static void
keep_best(sdlab_landscape_piece *pc, const sdlab_piece *P, double loss, const gsl_matrix *WE, const gsl_matrix *WD)
{
  if (!(loss < pc->upper))
    return;
  pc->upper = loss;
  memcpy(pc->WE, WE->data, WE->size1 * WE->size2 * sizeof *pc->WE);
  memcpy(pc->WD, WD->data, WD->size1 * WD->size2 * sizeof *pc->WD);
  double sm, vi;
  sdlab_piece_margin(P, WE, &sm, &vi);
  pc->upper_inside = sm > 0;
}

/* The branch and bound on a piece not yet certified, from its best point; lower and upper updated. */
static int
close_piece(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const sdlab_activation *act,
            const sdlab_landscape_params *p, sdlab_landscape_piece *pc, size_t nq)
{
  const size_t np = Wp->size1, nr = Wr->size1;
  sdlab_piece *P = sdlab_piece_alloc(Wp, nr, act, nq, pc->F);
  sdlab_bnb *b = P ? sdlab_bnb_alloc(P, Wp, Wr, Md, 64) : NULL;
  int status = b ? SDLAB_SUCCESS : GSL_EINVAL;
  if (!status) {
    gsl_matrix_view WE = gsl_matrix_view_array(pc->WE, nq, np), WD = gsl_matrix_view_array(pc->WD, nr, nq);
    status = sdlab_bnb_set(b, isfinite(pc->upper) ? &WE.matrix : NULL, isfinite(pc->upper) ? &WD.matrix : NULL);
    while (!status && b->nodes < p->bnb_nodes && sdlab_bnb_test(b, p->tol) == GSL_CONTINUE)
      status = sdlab_bnb_iterate(b);
  }
  if (!status) {
    pc->bnb_nodes = b->nodes;
    pc->bnb_degenerate = b->degenerate;
    if (b->lower > pc->lower) {
      pc->lower = b->lower;
      pc->bound_kind = 2;
    }
    keep_best(pc, P, b->upper, b->WE, b->WD);
  }
  sdlab_bnb_free(b);
  sdlab_piece_free(P);
  return status;
}

const char *
sdlab_landscape_sgd_class_name(sdlab_sgd_class c)
{
  switch (c) {
  case SDLAB_SGD_GLOBAL: return "global";
  case SDLAB_SGD_SPURIOUS: return "spurious partial optimum";
  case SDLAB_SGD_DEAD: return "dead-neuron piece";
  case SDLAB_SGD_NOT_CONVERGED: return "not converged";
  }
  return "?";
}

void
sdlab_landscape_free(sdlab_landscape *l)
{
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->count; i++) {
    free(l->pieces[i].WE);
    free(l->pieces[i].WD);
  }
  free(l->pieces);
  free(l->runs);
  memset(l, 0, sizeof *l);
}

/* sort the pattern's masks ascending, carrying the witness rows (n_p each) */
static void
canonical(uint64_t *F, double *W, size_t nq, size_t np)
{
  for (size_t i = 1; i < nq; i++)
    for (size_t j = i; j > 0 && F[j - 1] > F[j]; j--) {
      uint64_t t = F[j];
      F[j] = F[j - 1];
      F[j - 1] = t;
      for (size_t a = 0; a < np && W; a++) {
        double x = W[j * np + a];
        W[j * np + a] = W[(j - 1) * np + a];
        W[(j - 1) * np + a] = x;
      }
    }
}

static size_t
find_piece(const sdlab_landscape *l, const uint64_t *F)
{
  for (size_t c = 0; c < l->count; c++)
    if (memcmp(l->pieces[c].F, F, l->nq * sizeof *F) == 0)
      return c;
  return (size_t)-1;
}

/* The pieces and a witness encoder for each (nq x np, row-major, malloc'd in *wit). */
static int
enumerate(const gsl_matrix *Wp, size_t nq, const sdlab_activation *act, size_t max_pieces, sdlab_landscape *l,
          double **wit, unsigned char **open)
{
  const size_t np = Wp->size1;
  sdlab_patterns_method method;
  int status = sdlab_patterns_method_of(act, nq, &method);
  sdlab_patterns_set set;
  if (!status)
    status = sdlab_patterns_enumerate(Wp, nq, act, method == SDLAB_PATTERNS_SINGLE ? 1000000 : 10 * max_pieces, &set);
  if (status)
    return status;
  if (set.method == SDLAB_PATTERNS_SINGLE) {
    /* the neurons do not interact: multisets of single-neuron patterns */
    sdlab_pattern_list *s = set.single;
    double total = sdlab_patterns_joint_count_unordered(s->count, nq);
    if (total > (double)max_pieces) {
      sdlab_patterns_list_free(s);
      return sdlab_fail(SDLAB_EIMPOSSIBLE, "%zu single-neuron patterns give %.4g pieces for %zu latents, more than "
                        "the limit %zu", s->count, total, nq, max_pieces);
    }
    l->count = (size_t)total;
    l->pieces = calloc(l->count, sizeof *l->pieces);
    *wit = malloc(l->count * nq * np * sizeof **wit);
    *open = malloc(l->count);
    if (!l->pieces || !*wit || !*open) {
      sdlab_patterns_list_free(s);
      return sdlab_fail(GSL_ENOMEM, "out of memory for %zu pieces", l->count);
    }
    size_t idx[16] = {0}, c = 0;
    for (;;) { /* non-decreasing index tuples: multisets of single patterns */
      int op = 1;
      for (size_t i = 0; i < nq; i++) {
        l->pieces[c].F[i] = s->masks[idx[i]];
        op &= s->open[idx[i]];
        const double *x = s->witness + idx[i] * s->wsize; /* (w, s) realises the threshold s: w theta / s, theta */
        for (size_t a = 0; a < np; a++)
          (*wit)[(c * nq + i) * np + a] = s->threshold ? x[a] * act->theta / x[np] : x[a];
      }
      (*open)[c++] = (unsigned char)op;
      size_t k = nq;
      while (k > 0 && idx[k - 1] == s->count - 1)
        k--;
      if (k == 0)
        break;
      idx[k - 1]++;
      for (size_t j = k; j < nq; j++)
        idx[j] = idx[k - 1];
    }
    sdlab_patterns_list_free(s);
    return SDLAB_SUCCESS;
  }
  sdlab_joint_list *j = set.joint;
  l->pieces = calloc(j->count ? j->count : 1, sizeof *l->pieces);
  *wit = malloc((j->count ? j->count : 1) * nq * np * sizeof **wit);
  *open = malloc(j->count ? j->count : 1);
  if (!l->pieces || !*wit || !*open) {
    sdlab_patterns_joint_list_free(j);
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  l->count = 0;
  for (size_t c = 0; c < j->count; c++) {
    uint64_t F[16];
    double W[16 * 64];
    memcpy(F, j->F + c * nq, nq * sizeof *F);
    memcpy(W, j->witness + c * nq * np, nq * np * sizeof *W);
    canonical(F, W, nq, np);
    size_t at = find_piece(l, F);
    if (at == (size_t)-1) {
      at = l->count++;
      memcpy(l->pieces[at].F, F, nq * sizeof *F);
      (*open)[at] = 0;
    }
    if (j->open[c] && !(*open)[at]) { /* prefer an interior witness */
      memcpy(*wit + at * nq * np, W, nq * np * sizeof *W);
      (*open)[at] = 1;
    } else if (!(*open)[at] && at == l->count - 1) {
      memcpy(*wit + at * nq * np, W, nq * np * sizeof *W);
    }
  }
  sdlab_patterns_joint_list_free(j);
  if (l->count > max_pieces)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "%zu pieces, more than the limit %zu", l->count, max_pieces);
  return SDLAB_SUCCESS;
}

static int
search_piece(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const sdlab_activation *act,
             const sdlab_landscape_params *p, const double *noise, sdlab_landscape_piece *pc, const double *wit,
             size_t nq)
{
  const size_t np = Wp->size1, nr = Wr->size1;
  sdlab_piece *P = sdlab_piece_alloc(Wp, nr, act, nq, pc->F);
  if (P == NULL)
    return GSL_EINVAL;
  int status = sdlab_piece_lower_bound(P, Wp, Wr, Md, &pc->lower, &pc->bound_kind);
  sdlab_piece_acs *a = status ? NULL : sdlab_piece_acs_alloc(P, Wp, Wr, Md);
  gsl_matrix *E0 = gsl_matrix_alloc(nq, np);
  double found[64];
  size_t nfound = 0;
  pc->upper = INFINITY;
  pc->WE = malloc(nq * np * sizeof *pc->WE);
  pc->WD = malloc(nr * nq * sizeof *pc->WD);
  if (!status && (!a || !E0 || !pc->WE || !pc->WD))
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t s = 0; !status && s < p->starts; s++) {
    memcpy(E0->data, wit, nq * np * sizeof *wit);
    if (s > 0) /* a perturbation of the witness, kept only if it stays in the piece's closure */
      for (size_t k = 0; k < nq * np; k++)
        E0->data[k] += noise[(s - 1) * nq * np + k];
    double sm, vi;
    sdlab_piece_margin(P, E0, &sm, &vi);
    if (vi > 0)
      continue;
    if ((status = sdlab_piece_acs_set(a, E0)))
      break;
    for (int it = 0; it < 500; it++) {
      int st = sdlab_piece_acs_iterate(a);
      if (st && st != SDLAB_EUNREACHED) {
        status = st;
        break;
      }
      if (sdlab_piece_acs_test(a, 1e-12, 0) == GSL_SUCCESS)
        break;
    }
    if (!status && !isfinite(a->loss))
      status = sdlab_fail(GSL_ESANITY, "alternating convex search returned L~ = %g on a piece (a solver fault)", a->loss);
    if (status)
      break;
    int dup = 0;
    for (size_t k = 0; k < nfound; k++)
      dup |= fabs(found[k] - a->loss) <= p->tol * fmax(1.0, a->loss);
    if (!dup && nfound < 64)
      found[nfound++] = a->loss;
    keep_best(pc, P, a->loss, a->WE, a->WD);
  }
  pc->partial_optima = nfound;
  sdlab_piece_acs_free(a);
  if (E0)
    gsl_matrix_free(E0);
  sdlab_piece_free(P);
  return status;
}

/* ---- the two stages over the threads: pieces are independent, so each is worked alone, and what the workers
 * share is a failure (the first in piece order is raised, its message recorded in its worker's thread) and the
 * progress count ---- */
static void
note_failure(int status, size_t j, size_t *first, char *message, size_t len, int *failed)
{
#pragma omp critical(sdlab_landscape_failure)
  if (j < *first) {
    *first = j;
    snprintf(message, len, "%s", sdlab_error_message(status));
  }
#pragma omp atomic write
  *failed = 1;
}

static void
note_progress(sdlab_progress_fn progress, void *ctx, const char *stage, size_t *done, size_t total)
{
#pragma omp critical(sdlab_landscape_progress)
  if (progress)
    progress(ctx, stage, ++*done, total, NULL, 0);
}

/* ---- the branch and bound's journal (sdlab_landscape_params.journal) ----
 * A header line naming the census by a CRC-32 of its parameters and data, then a line a piece as its branch and
 * bound finishes (in any order): its index and pattern, and what the branch and bound set (lower bound and its
 * kind, boxes, degenerate boxes, upper bound, whether the point is inside, the point), the reals in C99
 * hexadecimal, which read back to the same bits. */
#define JOURNAL_MAGIC "sdlab landscape journal 1"

static uint32_t
crc_of(uint32_t c, const void *p, size_t n)
{
  return (uint32_t)crc32(c, (const Bytef *)p, (uInt)n);
}

static uint32_t
census_print(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, size_t nq, const sdlab_activation *act,
             const sdlab_landscape_params *p)
{
  const uint64_t u[] = {Wp->size1, Wp->size2, Wr->size1, nq, (uint64_t)act->kind, act->k, p->starts, p->sgd_runs,
                        p->sgd_steps, p->seed, p->max_pieces, p->bnb_nodes, p->anchors, (uint64_t)p->basin};
  const double d[] = {act->theta, p->lr, p->tol, p->anchor_weight};
  uint32_t c = crc_of(crc_of(crc_of(0, NULL, 0), u, sizeof u), d, sizeof d);
  for (size_t i = 0; i < Wp->size1; i++)
    c = crc_of(c, gsl_matrix_const_ptr(Wp, i, 0), Wp->size2 * sizeof(double));
  for (size_t i = 0; i < Wr->size1; i++)
    c = crc_of(c, gsl_matrix_const_ptr(Wr, i, 0), Wr->size2 * sizeof(double));
  for (size_t i = 0; i < Md->size; i++)
    c = crc_of(c, gsl_vector_const_ptr(Md, i), sizeof(double));
  return c;
}

static void
journal_put(FILE *fp, const sdlab_landscape *l, size_t c)
{
  const sdlab_landscape_piece *pc = &l->pieces[c];
  fprintf(fp, "%zu", c);
  for (size_t i = 0; i < l->nq; i++)
    fprintf(fp, " %llx", (unsigned long long)pc->F[i]);
  fprintf(fp, " %a %d %zu %zu %a %d", pc->lower, pc->bound_kind, pc->bnb_nodes, pc->bnb_degenerate, pc->upper,
          pc->upper_inside);
  for (size_t k = 0; k < l->nq * l->np; k++)
    fprintf(fp, " %a", pc->WE[k]);
  for (size_t k = 0; k < l->nr * l->nq; k++)
    fprintf(fp, " %a", pc->WD[k]);
  fputc('\n', fp);
  fflush(fp);
}

/* One journal line into its piece (done[c] set); 0 when it does not parse or names no piece of this census */
static int
journal_get(char *line, sdlab_landscape *l, unsigned char *done)
{
  char *e;
  const unsigned long long c = strtoull(line, &e, 10);
  if (e == line || c >= l->count || done[c])
    return 0;
  sdlab_landscape_piece *pc = &l->pieces[c], v = *pc;
  for (size_t i = 0; i < l->nq; i++) {
    char *t;
    if (strtoull(e, &t, 16) != pc->F[i] || t == e)
      return 0;
    e = t;
  }
  long kind, inside;
  unsigned long long nodes, degen;
  char *t;
  v.lower = strtod(e, &t);
  if (t == e)
    return 0;
  kind = strtol(e = t, &t, 10);
  nodes = strtoull(e = t, &t, 10);
  degen = strtoull(e = t, &t, 10);
  v.upper = strtod(e = t, &t);
  inside = strtol(e = t, &t, 10);
  if (t == e)
    return 0;
  double *x = malloc((l->nq * l->np + l->nr * l->nq) * sizeof *x);
  size_t k = 0;
  for (e = t; x && k < l->nq * l->np + l->nr * l->nq; k++, e = t)
    if ((x[k] = strtod(e, &t)), t == e)
      break;
  const int ok = x && k == l->nq * l->np + l->nr * l->nq && *e == '\0';
  if (ok) {
    pc->lower = v.lower;
    pc->bound_kind = (int)kind;
    pc->bnb_nodes = (size_t)nodes;
    pc->bnb_degenerate = (size_t)degen;
    pc->upper = v.upper;
    pc->upper_inside = (int)inside;
    memcpy(pc->WE, x, l->nq * l->np * sizeof *x);
    memcpy(pc->WD, x + l->nq * l->np, l->nr * l->nq * sizeof *x);
    done[c] = 1;
  }
  free(x);
  return ok;
}

/* Open the journal: read back the pieces it holds (done), cut a line a killed run left half-written, and leave
 * it open for appending (*fp); a new one gets its header.  SDLAB_EBADFILE naming it when it names another
 * census or holds a line that does not read. */
static int
journal_open(const char *path, uint32_t print, sdlab_landscape *l, unsigned char *done, FILE **fp)
{
  char header[128];
  snprintf(header, sizeof header, JOURNAL_MAGIC " census %08lx pieces %zu\n", (unsigned long)print, l->count);
  *fp = NULL;
  FILE *in = fopen(path, "rb");
  if (in == NULL && errno != ENOENT)
    return sdlab_fail(SDLAB_EIO, "cannot read %s: %s", path, strerror(errno));
  long keep = 0;
  int status = SDLAB_SUCCESS;
  if (in) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int ch;
    while (mem && (ch = fgetc(in)) != EOF)
      fputc(ch, mem);
    fclose(in);
    if (mem == NULL || fclose(mem) != 0)
      return sdlab_fail(GSL_ENOMEM, "out of memory for %s", path);
    const size_t hl = strlen(header);
    if (len < hl || memcmp(text, header, hl) != 0) {
      free(text);
      return sdlab_fail(SDLAB_EBADFILE, "%s is the journal of another census (other parameters or data): remove it "
                        "to start this one over", path);
    }
    keep = (long)hl;
    size_t lines = 1;
    for (char *line = text + hl; !status;) {
      char *nl = memchr(line, '\n', len - (size_t)(line - text));
      if (nl == NULL)
        break; /* a half-written last line: cut below */
      *nl = '\0';
      lines++;
      if (!journal_get(line, l, done))
        status = sdlab_fail(SDLAB_EBADFILE, "%s: line %zu does not read as a piece of this census (the file was "
                            "altered): remove it to start over", path, lines);
      keep = (long)(nl + 1 - text);
      line = nl + 1;
    }
    free(text);
    if (!status && truncate(path, keep) != 0)
      status = sdlab_fail(SDLAB_EIO, "cannot cut %s's last line: %s", path, strerror(errno));
  }
  if (!status && (*fp = fopen(path, "ab")) == NULL)
    status = sdlab_fail(SDLAB_EIO, "cannot write %s: %s", path, strerror(errno));
  if (!status && keep == 0) {
    fputs(header, *fp);
    fflush(*fp);
  }
  return status;
}

/* The pieces stage: each piece's lower bound and alternating search from the starts (the witness, then the
 * perturbations drawn from g); the pieces over the threads. */
static int
census_pieces(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const sdlab_activation *act,
              const sdlab_landscape_params *p, sdlab_landscape *l, gsl_rng *g, const double *wit,
              const unsigned char *open, sdlab_progress_fn progress, void *ctx)
{
  const size_t np = l->np, nq = l->nq;
  /* the starts' perturbations (N(0, 0.1^2) entries), drawn from the one stream in piece order before the pieces
   * are searched side by side: the numbers a sequential loop would draw, so any thread count gives the same bytes
   * and leaves the stream where the loop would */
  const size_t per = p->starts > 1 ? (p->starts - 1) * nq * np : 0;
  double *noise = malloc((l->count * per != 0 ? l->count * per : 1) * sizeof *noise);
  int *pst = calloc(l->count ? l->count : 1, sizeof *pst);
  if (!noise || !pst) {
    free(noise);
    free(pst);
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  for (size_t k = 0; k < l->count * per; k++)
    noise[k] = gsl_ran_gaussian(g, 0.1);
  int status = SDLAB_SUCCESS, pfailed = 0;
  size_t pfirst = l->count, pdone = 0;
  char pmessage[1024] = ""; /* the first failure in piece order, raised again below */
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads > 0 ? p->threads : 1)
  for (size_t c = 0; c < l->count; c++) {
    int stop;
#pragma omp atomic read
    stop = pfailed;
    if (stop)
      continue;
    sdlab_landscape_piece *pc = &l->pieces[c];
    pc->open = open[c];
    for (size_t i = 0; i < nq; i++) {
      pc->dead += pc->F[i] == 0;
      pc->polysemantic |= __builtin_popcountll(pc->F[i]) >= 2;
    }
    pst[c] = search_piece(Wp, Wr, Md, act, p, noise + c * per, pc, wit + c * nq * np, nq);
    if (pst[c])
      note_failure(pst[c], c, &pfirst, pmessage, sizeof pmessage, &pfailed);
    note_progress(progress, ctx, "pieces", &pdone, l->count);
  }
  if (pfailed)
    status = sdlab_fail(pst[pfirst], "%s", pmessage);
  free(pst);
  free(noise);
  return status;
}

/* One SGD run: full-batch Adam on L~ from the model's initialisation, its end point mapped to its piece; ACS from
 * there (into *end) says how far the end point is from a partial optimum, and may improve the piece's best. */
static int
census_run(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const sdlab_activation *act,
           const sdlab_landscape_params *p, sdlab_landscape *l, sdlab_model *m, sdlab_landscape_run *run, double *end)
{
  const size_t np = l->np, nq = l->nq, nr = l->nr;
  sdlab_gd *gd = sdlab_gd_alloc(m, Wp, Wr, Md, p->lr, 0.9, 0.999, 1e-12);
  if (gd == NULL)
    return GSL_ENOMEM;
  gd->anchors = p->anchors;
  gd->anchor_weight = p->anchor_weight;
  int status = SDLAB_SUCCESS;
  for (size_t it = 0; it < p->sgd_steps && !status; it++) {
    status = sdlab_gd_iterate(gd);
    if (sdlab_gd_test(gd, 1e-10) == GSL_SUCCESS)
      break;
  }
  run->steps = gd->t;
  sdlab_gd_free(gd);
  sdlab_loss_workspace *w = sdlab_loss_workspace_alloc(l->n, m);
  if (w == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  sdlab_loss_tilde(m, Wp, Wr, Md, &run->loss, NULL, NULL, w);
  sdlab_loss_workspace_free(w);
  uint64_t F[16];
  sdlab_pattern_of_masks(act, m->WE, Wp, F);
  double Wc[16 * 64];
  memcpy(Wc, m->WE->data, nq * np * sizeof *Wc);
  canonical(F, Wc, nq, np);
  run->piece = find_piece(l, F);
  *end = run->loss;
  if (run->piece != (size_t)-1) {
    sdlab_piece *P = sdlab_piece_alloc(Wp, nr, act, nq, F);
    sdlab_piece_acs *a = P ? sdlab_piece_acs_alloc(P, Wp, Wr, Md) : NULL;
    gsl_matrix_view E = gsl_matrix_view_array(Wc, nq, np);
    if (a && sdlab_piece_acs_set(a, &E.matrix) == 0) {
      for (int it = 0; it < 500; it++) {
        if (sdlab_piece_acs_iterate(a))
          break;
        if (sdlab_piece_acs_test(a, 1e-12, 0) == GSL_SUCCESS)
          break;
      }
      *end = a->loss;
      sdlab_landscape_piece *pc = &l->pieces[run->piece];
      pc->sgd_ends++;
      keep_best(pc, P, a->loss, a->WE, a->WD); /* a better point of this piece */
    }
    sdlab_piece_acs_free(a);
    sdlab_piece_free(P);
  }
  return status;
}

/* The SGD stage: p->sgd_runs runs from random initialisations (tied for an SAE), each seeded from the census's
 * seed and its index; ends[r] the value ACS reaches from run r's end point. */
static int
census_sgd(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const sdlab_activation *act,
           const sdlab_landscape_params *p, sdlab_landscape *l, gsl_rng *g, double *ends, sdlab_progress_fn progress,
           void *ctx)
{
  const size_t np = l->np, nq = l->nq, nr = l->nr;
  if (p->sgd_runs == 0)
    return SDLAB_SUCCESS;
  l->runs = calloc(p->sgd_runs, sizeof *l->runs);
  sdlab_model *m = l->runs ? sdlab_model_alloc(nr == np ? SDLAB_SAE : SDLAB_TRANSCODER, np, nq, nr, 1, act) : NULL;
  int status = m ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t r = 0; !status && r < p->sgd_runs; r++) {
    sdlab_landscape_run *run = &l->runs[r];
    run->seed = p->seed * 1000003ULL + r;
    gsl_rng_set(g, (unsigned long)(run->seed & 0xffffffffu));
    for (size_t k = 0; k < nq * np; k++)
      m->WE->data[k] = gsl_ran_gaussian(g, 1.0 / sqrt((double)np));
    if (nr == np)
      gsl_matrix_transpose_memcpy(m->WD, m->WE); /* tied initialisation */
    else
      for (size_t k = 0; k < nr * nq; k++)
        m->WD->data[k] = gsl_ran_gaussian(g, 1.0 / sqrt((double)nq));
    status = census_run(Wp, Wr, Md, act, p, l, m, run, &ends[r]);
    if (progress)
      progress(ctx, "SGD runs", r + 1, p->sgd_runs, NULL, 0);
  }
  sdlab_model_free(m);
  l->runs_count = status ? 0 : p->sgd_runs;
  return status;
}

/* The branch-and-bound stage on the pieces the relaxation left open.  They are independent: over the threads, each
 * piece's search alone (no shared state, no random numbers), so any thread count gives the same bytes.  The
 * journal's pieces are done; the others are appended to it as they finish. */
static int
census_bnb(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, const sdlab_activation *act,
           const sdlab_landscape_params *p, sdlab_landscape *l, sdlab_progress_fn progress, void *ctx)
{
  const size_t nq = l->nq;
  size_t open_count = 0, done = 0;
  size_t *todo = malloc((l->count ? l->count : 1) * sizeof *todo);
  int *st = calloc(l->count ? l->count : 1, sizeof *st);
  unsigned char *done_before = calloc(l->count ? l->count : 1, 1);
  int status = todo && st && done_before ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t c = 0; !status && sdlab_bnb_accepts(act, nq) && p->bnb_nodes && c < l->count; c++)
    if (!certified(&l->pieces[c], p->tol))
      todo[open_count++] = c;
  FILE *journal = NULL;
  if (!status && p->journal && open_count)
    status = journal_open(p->journal, census_print(Wp, Wr, Md, nq, act, p), l, done_before, &journal);
  int failed = 0;
  size_t first_failed = open_count;
  char message[1024] = ""; /* a worker's message lives in its thread: the first failure's is raised again below */
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads > 0 ? p->threads : 1)
  for (size_t j = 0; j < (status ? 0 : open_count); j++) {
    int stop;
#pragma omp atomic read
    stop = failed;
    if (stop || done_before[todo[j]])
      continue;
    st[j] = close_piece(Wp, Wr, Md, act, p, &l->pieces[todo[j]], nq);
    if (!st[j] && journal) {
#pragma omp critical(sdlab_landscape_journal)
      journal_put(journal, l, todo[j]);
    }
    if (st[j])
      note_failure(st[j], j, &first_failed, message, sizeof message, &failed);
    note_progress(progress, ctx, "branch and bound", &done, open_count);
  }
  for (size_t j = 0; !status && j < open_count; j++) { /* the first failure in piece order */
    if (j == first_failed)
      status = sdlab_fail(st[j], "%s", message);
    l->bnb_run++;
    l->bnb_resumed += done_before[todo[j]];
    l->certified_bnb += certified(&l->pieces[todo[j]], p->tol);
  }
  if (journal && fclose(journal) != 0 && !status)
    status = sdlab_fail(SDLAB_EIO, "cannot write %s", p->journal);
  free(todo);
  free(st);
  free(done_before);
  return status;
}

/* The global bounds, the certified count, and each SGD run's class against them (ends: ACS's values from the runs'
 * end points). */
static void
census_classify(const sdlab_landscape_params *p, sdlab_landscape *l, const double *ends)
{
  l->global_lower = INFINITY;
  l->global_upper = INFINITY;
  for (size_t c = 0; c < l->count; c++) {
    const sdlab_landscape_piece *pc = &l->pieces[c];
    l->global_lower = fmin(l->global_lower, pc->lower);
    if (pc->upper < l->global_upper) {
      l->global_upper = pc->upper;
      l->global_piece = c;
    }
    l->certified += certified(pc, p->tol);
  }
  for (size_t r = 0; r < l->runs_count; r++) {
    sdlab_landscape_run *run = &l->runs[r];
    const double scale = p->tol * fmax(1.0, run->loss);
    /* an anchored run stops at a minimum of L~ plus the anchor term: it is judged by the partial optimum of L~
     * reached from its end point, and unconverged only when Adam ran out of steps */
    const int basin = p->anchors || p->basin;
    const double v = basin ? ends[r] : run->loss;
    if (run->piece == (size_t)-1 || (basin ? run->steps >= p->sgd_steps : run->loss - ends[r] > scale))
      run->cls = SDLAB_SGD_NOT_CONVERGED;
    else if (v <= l->global_upper + p->tol * fmax(1.0, l->global_upper))
      run->cls = SDLAB_SGD_GLOBAL;
    else if (l->pieces[run->piece].dead)
      run->cls = SDLAB_SGD_DEAD;
    else
      run->cls = SDLAB_SGD_SPURIOUS;
  }
}

int
sdlab_landscape_run_census(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, size_t nq,
                           const sdlab_activation *act, const sdlab_landscape_params *p, sdlab_landscape *l,
                           sdlab_progress_fn progress, void *ctx)
{
  memset(l, 0, sizeof *l);
  const size_t np = Wp->size1, n = Wp->size2, nr = Wr->size1;
  if (nq == 0 || nq > 16)
    return sdlab_fail(SDLAB_EPARAM, "the landscape census handles 1 to 16 latents (got %zu)", nq);
  if (Wr->size2 != n || Md->size != n)
    return sdlab_fail(SDLAB_ESHAPE, "targets or weights do not match %zu features", n);
  if (act->kind == SDLAB_ACT_BATCHTOPK || (act->kind == SDLAB_ACT_TOPK && act->k < nq))
    return sdlab_fail(SDLAB_EPARAM, "the landscape census takes relu, jumprelu:T or topk-relu:K (batchtopk and pure "
                      "topk are not piecewise quadratic per pattern)");
  int status = sdlab_activation_check(act, nq);
  if (status)
    return status;
  l->n = n;
  l->np = np;
  l->nq = nq;
  l->nr = nr;
  l->act = *act;
  /* OpenBLAS on one thread throughout: the bytes do not depend on its threads (nor on p->threads) */
  const int blas = sdlab_blas_openblas_single();
  double *wit = NULL, *ends = calloc(p->sgd_runs ? p->sgd_runs : 1, sizeof *ends);
  unsigned char *open = NULL;
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  if (!g || !ends)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  else
    gsl_rng_set(g, (unsigned long)(p->seed & 0xffffffffu));
  double t0 = sdlab_now();
  if (!status)
    status = enumerate(Wp, nq, act, p->max_pieces, l, &wit, &open);
  if (!status)
    status = census_pieces(Wp, Wr, Md, act, p, l, g, wit, open, progress, ctx);
  l->seconds_pieces = sdlab_now() - t0;
  t0 = sdlab_now();
  if (!status)
    status = census_sgd(Wp, Wr, Md, act, p, l, g, ends, progress, ctx);
  l->seconds_sgd = sdlab_now() - t0;
  t0 = sdlab_now();
  if (!status)
    status = census_bnb(Wp, Wr, Md, act, p, l, progress, ctx);
  l->seconds_bnb = sdlab_now() - t0;
  if (!status)
    census_classify(p, l, ends);
  free(ends);
  free(wit);
  free(open);
  if (g)
    gsl_rng_free(g);
  sdlab_blas_openblas_restore(blas);
  if (status)
    sdlab_landscape_free(l);
  return status;
}

/* ---- the census's files ---- */

void
sdlab_landscape_count(const sdlab_landscape *l, sdlab_landscape_counts *c)
{
  memset(c, 0, sizeof *c);
  for (size_t k = 0; k < l->count; k++) {
    c->open += l->pieces[k].open;
    c->dead += l->pieces[k].dead > 0;
    c->polysemantic += l->pieces[k].polysemantic != 0;
    c->exact_relaxed += l->pieces[k].bound_kind == 1;
  }
  for (size_t k = 0; k < l->runs_count; k++)
    c->classes[l->runs[k].cls]++;
}

/* a piece's place in pieces.tsv: its best value, then its index */
typedef struct {
  double upper;
  size_t piece;
} ranked;

static int
by_upper(const void *a, const void *b)
{
  const ranked *p = a, *q = b;
  if (p->upper != q->upper)
    return p->upper < q->upper ? -1 : 1;
  return p->piece < q->piece ? -1 : 1;
}

/* each neuron's set F_i as a tab, then its features (comma-separated; '-' when empty) */
static void
write_F(FILE *fp, const uint64_t *F, size_t nq, size_t n)
{
  for (size_t i = 0; i < nq; i++) {
    fputc('\t', fp);
    int any = 0;
    for (size_t d = 0; d < n; d++)
      if (F[i] >> d & 1) {
        fprintf(fp, "%s%zu", any ? "," : "", d);
        any = 1;
      }
    if (!any)
      fputc('-', fp);
  }
}

static int
write_pieces(const sdlab_landscape *l, const ranked *order, const char *dir)
{
  static const char *kinds[] = {"subspace", "exact-relaxed", "branch-and-bound"};
  sdlab_io_atomic_file f;
  char *path = sdlab_io_path_join(dir, "pieces.tsv");
  int status = path ? sdlab_io_atomic_open(&f, path) : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    fprintf(f.fp, "# rank\tpiece");
    for (size_t i = 0; i < l->nq; i++)
      fprintf(f.fp, "\tF_%zu", i + 1);
    fprintf(f.fp, "\topen\tdead\tpolysemantic\tlower\tupper\tgap\tbound\tinside\tpartial_optima\tsgd_ends\tbnb_boxes"
            "\tbnb_degenerate\n");
    for (size_t k = 0; k < l->count; k++) {
      const sdlab_landscape_piece *pc = &l->pieces[order[k].piece];
      fprintf(f.fp, "%zu\t%zu", k, order[k].piece);
      write_F(f.fp, pc->F, l->nq, l->n);
      fprintf(f.fp, "\t%d\t%zu\t%d\t%.17g\t%.17g\t%.17g\t%s\t%d\t%zu\t%zu\t%zu\t%zu\n", pc->open, pc->dead,
              pc->polysemantic, pc->lower, pc->upper, pc->upper - pc->lower, kinds[pc->bound_kind],
              pc->upper_inside, pc->partial_optima, pc->sgd_ends, pc->bnb_nodes, pc->bnb_degenerate);
    }
    status = sdlab_io_atomic_commit(&f);
  }
  free(path);
  return status;
}

static int
write_runs(const sdlab_landscape *l, const size_t *rank, const char *dir)
{
  sdlab_io_atomic_file f;
  char *path = sdlab_io_path_join(dir, "sgd.tsv");
  int status = path ? sdlab_io_atomic_open(&f, path) : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    fprintf(f.fp, "# run\tseed\tloss\tpiece_rank\tclass\tsteps\n");
    for (size_t k = 0; k < l->runs_count; k++) {
      const sdlab_landscape_run *run = &l->runs[k];
      fprintf(f.fp, "%zu\t%llu\t%.17g\t%zd\t%s\t%zu\n", k, (unsigned long long)run->seed, run->loss,
              run->piece == (size_t)-1 ? (ssize_t)-1 : (ssize_t)rank[run->piece], sdlab_landscape_sgd_class_name(run->cls),
              run->steps);
    }
    status = sdlab_io_atomic_commit(&f);
  }
  free(path);
  return status;
}

static int
write_summary(const sdlab_landscape *l, const sdlab_landscape_params *p, double md, size_t global_rank,
              const char *dir)
{
  sdlab_landscape_counts c;
  sdlab_landscape_count(l, &c);
  char an[64];
  sdlab_activation_format(&l->act, an, sizeof an);
  sdlab_json j;
  sdlab_json_init(&j);
  sdlab_json_object_begin(&j, NULL);
  sdlab_json_string(&j, "activation", an);
  sdlab_json_integer(&j, "n", (long long)l->n);
  sdlab_json_integer(&j, "n_p", (long long)l->np);
  sdlab_json_integer(&j, "n_q", (long long)l->nq);
  sdlab_json_integer(&j, "n_r", (long long)l->nr);
  sdlab_json_number(&j, "M_d", md);
  sdlab_json_integer(&j, "pieces", (long long)l->count);
  sdlab_json_integer(&j, "open_pieces", (long long)c.open);
  sdlab_json_integer(&j, "pieces_with_dead_neurons", (long long)c.dead);
  sdlab_json_integer(&j, "polysemantic_pieces", (long long)c.polysemantic);
  sdlab_json_integer(&j, "certified_pieces", (long long)l->certified);
  sdlab_json_integer(&j, "pieces_with_exact_relaxed_bound", (long long)c.exact_relaxed);
  sdlab_json_integer(&j, "branch_and_bound_pieces", (long long)l->bnb_run);
  sdlab_json_integer(&j, "certified_by_branch_and_bound", (long long)l->certified_bnb);
  sdlab_json_integer(&j, "bnb_nodes", (long long)p->bnb_nodes);
  sdlab_json_number(&j, "global_lower", l->global_lower);
  sdlab_json_number(&j, "global_upper", l->global_upper);
  sdlab_json_bool(&j, "global_certified", l->global_upper - l->global_lower <= p->tol * fmax(1.0, l->global_upper));
  sdlab_json_integer(&j, "global_piece_rank", (long long)global_rank);
  sdlab_json_object_begin(&j, "sgd");
  sdlab_json_integer(&j, "runs", (long long)l->runs_count);
  sdlab_json_integer(&j, "global", (long long)c.classes[SDLAB_SGD_GLOBAL]);
  sdlab_json_integer(&j, "spurious_partial_optimum", (long long)c.classes[SDLAB_SGD_SPURIOUS]);
  sdlab_json_integer(&j, "dead_neuron_piece", (long long)c.classes[SDLAB_SGD_DEAD]);
  sdlab_json_integer(&j, "not_converged", (long long)c.classes[SDLAB_SGD_NOT_CONVERGED]);
  sdlab_json_number(&j, "lr", p->lr);
  sdlab_json_integer(&j, "max_steps", (long long)p->sgd_steps);
  sdlab_json_integer(&j, "seed", (long long)p->seed);
  sdlab_json_object_end(&j);
  sdlab_json_number(&j, "tol", p->tol);
  sdlab_json_integer(&j, "starts", (long long)p->starts);
  sdlab_json_object_end(&j);
  int status = sdlab_json_write(&j, dir, "landscape.json");
  sdlab_json_free(&j); /* when writing failed before the document was freed (a second free is a no-op) */
  return status;
}

int
sdlab_landscape_write(const sdlab_landscape *l, const sdlab_landscape_params *p, double md, const char *dir)
{
  ranked *order = malloc((l->count ? l->count : 1) * sizeof *order);
  size_t *rank = malloc((l->count ? l->count : 1) * sizeof *rank);
  int status = order && rank ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory for %zu pieces", l->count);
  if (!status) {
    for (size_t k = 0; k < l->count; k++)
      order[k] = (ranked){l->pieces[k].upper, k};
    qsort(order, l->count, sizeof *order, by_upper);
    for (size_t k = 0; k < l->count; k++)
      rank[order[k].piece] = k;
    status = write_pieces(l, order, dir);
  }
  if (!status)
    status = write_runs(l, rank, dir);
  if (!status)
    status = write_summary(l, p, md, rank[l->global_piece], dir);
  free(order);
  free(rank);
  return status;
}
