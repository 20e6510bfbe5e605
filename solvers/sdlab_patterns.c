#include "sdlab_patterns.h"
#include "sdlab_errno.h"
#include "sdlab_exact.h"
#include "sdlab_lp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double
sdlab_patterns_cover_count(size_t n, size_t p)
{
  if (n == 0)
    return 1;
  double sum = 0, binom = 1; /* binom(n-1, k) */
  for (size_t k = 0; k < p && k <= n - 1; k++) {
    sum += binom;
    binom = binom * (double)(n - 1 - k) / (double)(k + 1);
  }
  return 2 * sum;
}

double
sdlab_patterns_threshold_count(size_t n, size_t p)
{
  return sdlab_patterns_cover_count(n + 1, p + 1) / 2;
}

double
sdlab_patterns_joint_count(size_t P, size_t nq)
{
  return pow((double)P, (double)nq);
}

double
sdlab_patterns_joint_count_unordered(size_t P, size_t nq)
{
  /* binom(P + nq - 1, nq) */
  double c = 1;
  for (size_t k = 1; k <= nq; k++)
    c = c * (double)(P - 1 + k) / (double)k;
  return round(c);
}

void
sdlab_patterns_list_free(sdlab_pattern_list *l)
{
  if (l == NULL)
    return;
  free(l->masks);
  free(l->witness);
  free(l->verified);
  free(l->open);
  free(l);
}

typedef struct {
  sdlab_lp_halfspace *h;
  sdlab_pattern_list *l;
  size_t cap;
  unsigned char *want;
  double *stack;   /* witnesses per depth: (n + 1) x wsize */
  int status;
} search;

static int
push(search *s, uint64_t mask, const double *x, int verified, int open)
{
  sdlab_pattern_list *l = s->l;
  if (l->count == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    uint64_t *m = realloc(l->masks, cap * sizeof *m);
    if (m) l->masks = m;
    double *w = realloc(l->witness, cap * l->wsize * sizeof *w);
    if (w) l->witness = w;
    unsigned char *v = realloc(l->verified, cap);
    if (v) l->verified = v;
    unsigned char *o = realloc(l->open, cap);
    if (o) l->open = o;
    if (!m || !w || !v || !o)
      return sdlab_fail(GSL_ENOMEM, "out of memory after %zu patterns", l->count);
    s->cap = cap;
  }
  l->masks[l->count] = mask;
  memcpy(l->witness + l->count * l->wsize, x, l->wsize * sizeof *x);
  l->verified[l->count] = (unsigned char)verified;
  l->open[l->count] = (unsigned char)open;
  l->open_count += open != 0;
  l->count++;
  return SDLAB_SUCCESS;
}

/* want[0..depth) is realized by the witness at stack[depth] */
static void
descend(search *s, size_t depth, uint64_t mask)
{
  sdlab_pattern_list *l = s->l;
  const size_t ws = l->wsize;
  double *x = s->stack + depth * ws;
  if (s->status)
    return;
  if (depth == l->n) {
    /* keep an inherited witness only if it meets the LP's own normalisation (IN >= 1, OUT <= -1): a
     * witness deep inside the region, not one that grazes a boundary */
    int ok = 1;
    for (size_t d = 0; d < l->n && ok; d++) {
      double v = sdlab_lp_halfspace_row_value(s->h, d, x);
      ok = s->want[d] == SDLAB_IN ? v >= 1.0 : v <= -1.0;
    }
    ok = ok && sdlab_lp_halfspace_check(s->h, s->want, x);
    int open = ok; /* a witness with OUT <= -1 is strictly inside */
    if (!ok) { /* solve this leaf afresh */
      sdlab_lp_realize_info info;
      if ((s->status = sdlab_lp_halfspace_realize(s->h, s->want, x, &info)))
        return;
      ok = info.realizable && info.verified;
      open = info.strict;
    }
    s->status = push(s, mask, x, ok, open);
    return;
  }
  double v = sdlab_lp_halfspace_row_value(s->h, depth, x);
  /* the child the witness already realizes first (IN when v > 0), then the other by LP */
  int first = v > 0 ? SDLAB_IN : SDLAB_OUT;
  for (int pass = 0; pass < 2 && !s->status; pass++) {
    int side = pass == 0 ? first : SDLAB_IN + SDLAB_OUT - first;
    s->want[depth] = (unsigned char)side;
    double *child = s->stack + (depth + 1) * ws;
    if (pass == 0) {
      memcpy(child, x, ws * sizeof *x);
    } else {
      sdlab_lp_realize_info info;
      if ((s->status = sdlab_lp_halfspace_realize(s->h, s->want, child, &info)))
        break;
      if (!info.realizable) {
        l->pruned++;
        l->pruned_verified += info.verified;
        continue;
      }
    }
    descend(s, depth + 1, side == SDLAB_IN ? mask | (uint64_t)1 << depth : mask);
  }
  s->want[depth] = SDLAB_FREE;
}

static int
compare_masks(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int
sdlab_patterns_check_range(const gsl_matrix *Wp, size_t nq, int joint, const char *what)
{
  const size_t n = Wp->size2, np = Wp->size1;
  const double limit = joint ? sdlab_lp_coefficient_limit(n * (nq + nq * nq), nq * np + 1)
                             : sdlab_lp_coefficient_limit(n + 1, np + 2);
  for (size_t a = 0; a < np; a++)
    for (size_t d = 0; d < n; d++) {
      const double v = gsl_matrix_get(Wp, a, d);
      if (!isfinite(v))
        return sdlab_fail(SDLAB_ENONFINITE, "%s: entry (%zu, %zu) is not finite", what, a, d);
      if (fabs(v) > limit)
        return sdlab_fail(GSL_EOVRFLW, "%s: entry (%zu, %zu) = %.6g is too large for the pattern LPs: GLPK's "
                          "simplex stays finite in its first pivot only for |entries| <= %.3g here (%zu features in "
                          "dimension %zu%s; the bound is derived in sdlab_lp.h)", what, a, d, v, limit, n, np,
                          joint ? ", Top-k's coupled rows" : "");
    }
  return SDLAB_SUCCESS;
}

int
sdlab_patterns_single(const gsl_matrix *Wp, int threshold, size_t max_patterns, sdlab_pattern_list **out)
{
  *out = NULL;
  const size_t n = Wp->size2, np = Wp->size1;
  if (n > 64)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "exact enumeration handles at most 64 features (got %zu)", n);
  int status = sdlab_patterns_check_range(Wp, 1, 0, "W_p");
  if (status)
    return status;
  double predicted = threshold ? sdlab_patterns_threshold_count(n, np) : sdlab_patterns_cover_count(n, np) + 1;
  if (predicted > (double)max_patterns)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "%zu directions in %zu dimensions can have up to %.4g single-neuron "
                      "patterns (Cover's count), more than the limit %zu", n, np, predicted, max_patterns);
  sdlab_lp_halfspace *h = sdlab_lp_halfspace_alloc(Wp, threshold);
  if (h == NULL)
    return GSL_EINVAL;
  sdlab_pattern_list *l = calloc(1, sizeof *l);
  search s = {.h = h, .l = l};
  status = l ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    l->n = n;
    l->np = np;
    l->threshold = threshold != 0;
    l->wsize = sdlab_lp_halfspace_witness_size(h);
    s.want = malloc(n);
    s.stack = calloc((n + 1) * l->wsize, sizeof *s.stack);
    if (!s.want || !s.stack)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  if (!status) {
    memset(s.want, SDLAB_FREE, n);
    /* the root: nothing constrained; any witness (0 for homogeneous, s = 1 for threshold) */
    if (threshold)
      s.stack[np] = 1.0;
    descend(&s, 0, 0);
    status = s.status;
  }
  if (!status) {
    /* sort by mask, carrying witnesses and flags along */
    size_t *order = malloc(l->count * sizeof *order);
    uint64_t *keys = malloc(l->count * sizeof *keys * 2);
    if (!order || !keys)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    else {
      for (size_t i = 0; i < l->count; i++) {
        keys[2 * i] = l->masks[i];
        keys[2 * i + 1] = i;
      }
      qsort(keys, l->count, 2 * sizeof *keys, compare_masks);
      double *w = malloc(l->count * l->wsize * sizeof *w + 1);
      unsigned char *v = malloc(l->count + 1), *o = malloc(l->count + 1);
      if (!w || !v || !o)
        status = sdlab_fail(GSL_ENOMEM, "out of memory");
      else {
        for (size_t i = 0; i < l->count; i++) {
          size_t from = (size_t)keys[2 * i + 1];
          l->masks[i] = keys[2 * i];
          memcpy(w + i * l->wsize, l->witness + from * l->wsize, l->wsize * sizeof *w);
          v[i] = l->verified[from];
          o[i] = l->open[from];
        }
        free(l->witness);
        free(l->verified);
        free(l->open);
        l->witness = w;
        l->verified = v;
        l->open = o;
        w = NULL;
        v = NULL;
        o = NULL;
      }
      free(w);
      free(v);
      free(o);
    }
    free(order);
    free(keys);
  }
  if (!status) {
    l->lp_calls = sdlab_lp_halfspace_lp_count(h);
    l->exact = l->pruned_verified == l->pruned;
    for (size_t i = 0; i < l->count; i++)
      l->exact &= l->verified[i];
    *out = l;
  } else {
    sdlab_patterns_list_free(l);
  }
  free(s.want);
  free(s.stack);
  sdlab_lp_halfspace_free(h);
  return status;
}

size_t
sdlab_patterns_list_find(const sdlab_pattern_list *l, uint64_t mask)
{
  size_t lo = 0, hi = l->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->masks[mid] < mask)
      lo = mid + 1;
    else if (l->masks[mid] > mask)
      hi = mid;
    else
      return mid;
  }
  return (size_t)-1;
}

/* ---- joint Top-k patterns ---- */

void
sdlab_patterns_joint_list_free(sdlab_joint_list *l)
{
  if (l == NULL)
    return;
  free(l->F);
  free(l->witness);
  free(l->verified);
  free(l->open);
  free(l);
}

typedef struct {
  const gsl_matrix *Wp;
  sdlab_joint_list *l;
  size_t nx, cap, rows, rows_cap, nodes, max_nodes;
  double *G;              /* rows x nx, the system so far */
  unsigned char *strict;
  size_t *row_start;      /* per depth: first row of that feature */
  uint16_t *A;            /* per feature: its active set */
  double *stack;          /* (n + 1) x nx witnesses */
  int status;
} joint_search;

static int
add_row(joint_search *s, size_t i, size_t j, size_t d, int strict)
{
  /* the row (e_i - e_j) (x) w_d, or e_i (x) w_d when j == nq, or -(e_j (x) w_d) when i == nq */
  const size_t np = s->l->np, nq = s->l->nq;
  if (s->rows == s->rows_cap) {
    size_t cap = s->rows_cap ? 2 * s->rows_cap : 64;
    double *G = realloc(s->G, cap * s->nx * sizeof *G);
    if (G) s->G = G;
    unsigned char *st = realloc(s->strict, cap);
    if (st) s->strict = st;
    if (!G || !st)
      return sdlab_fail(GSL_ENOMEM, "out of memory for the Top-k system");
    s->rows_cap = cap;
  }
  double *row = s->G + s->rows * s->nx;
  memset(row, 0, s->nx * sizeof *row);
  for (size_t a = 0; a < np; a++) {
    double w = gsl_matrix_get(s->Wp, a, d);
    if (i < nq)
      row[i * np + a] += w;
    if (j < nq)
      row[j * np + a] -= w;
  }
  s->strict[s->rows++] = (unsigned char)strict;
  return SDLAB_SUCCESS;
}

/* rows of feature d with active set A */
static int
feature_rows(joint_search *s, size_t d, uint16_t A)
{
  const size_t nq = s->l->nq, k = s->l->k, size = (size_t)__builtin_popcount(A);
  int st = 0;
  for (size_t i = 0; i < nq && !st; i++)
    if (A >> i & 1)
      st = add_row(s, i, nq, d, 1);
  for (size_t j = 0; j < nq && !st; j++) {
    if (A >> j & 1)
      continue;
    if (size < k)
      st = add_row(s, nq, j, d, 0);
    else
      for (size_t i = 0; i < nq && !st; i++)
        if (A >> i & 1)
          st = add_row(s, i, j, d, j < i);
  }
  return st;
}

static int
satisfies(const joint_search *s, size_t from, const double *x)
{
  for (size_t r = from; r < s->rows; r++) {
    double v = 0;
    for (size_t a = 0; a < s->nx; a++)
      v += s->G[r * s->nx + a] * x[a];
    if (v < (s->strict[r] ? 1.0 : 0.0))
      return 0;
  }
  return 1;
}

static int
push_joint(joint_search *s, const double *x, int verified, int open)
{
  sdlab_joint_list *l = s->l;
  if (l->count == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    uint64_t *F = realloc(l->F, cap * l->nq * sizeof *F);
    if (F) l->F = F;
    double *w = realloc(l->witness, cap * s->nx * sizeof *w);
    if (w) l->witness = w;
    unsigned char *v = realloc(l->verified, cap);
    if (v) l->verified = v;
    unsigned char *o = realloc(l->open, cap);
    if (o) l->open = o;
    if (!F || !w || !v || !o)
      return sdlab_fail(GSL_ENOMEM, "out of memory after %zu joint patterns", l->count);
    s->cap = cap;
  }
  uint64_t *F = l->F + l->count * l->nq;
  memset(F, 0, l->nq * sizeof *F);
  for (size_t d = 0; d < l->n; d++)
    for (size_t i = 0; i < l->nq; i++)
      if (s->A[d] >> i & 1)
        F[i] |= (uint64_t)1 << d;
  memcpy(l->witness + l->count * s->nx, x, s->nx * sizeof *x);
  l->verified[l->count] = (unsigned char)verified;
  l->open[l->count] = (unsigned char)open;
  l->open_count += open != 0;
  l->count++;
  return SDLAB_SUCCESS;
}

static void
joint_descend(joint_search *s, size_t d)
{
  sdlab_joint_list *l = s->l;
  double *x = s->stack + d * s->nx;
  if (s->status)
    return;
  if (++s->nodes > s->max_nodes) {
    s->status = sdlab_fail(SDLAB_EIMPOSSIBLE, "the Top-k pattern search passed %zu nodes (the limit); use fewer "
                           "features or latents", s->max_nodes);
    return;
  }
  if (d == l->n) {
    /* a witness strictly inside every row proves an open region; otherwise the relative-interior LP
     * decides, and its exactly projected point is the certificate */
    int open = 1;
    for (size_t r = 0; r < s->rows && open; r++) { /* the LP's normalisation: every row >= 1 */
      double v = 0;
      for (size_t a = 0; a < s->nx; a++)
        v += s->G[r * s->nx + a] * x[a];
      open = v >= 1.0 && sdlab_exact_dot_sign(s->G + r * s->nx, x, s->nx, 0.0) > 0;
    }
    int ok = open;
    if (!open) {
      l->lp_calls++;
      if ((s->status = sdlab_lp_interior(s->G, s->strict, s->rows, s->nx, x, &open, &ok)))
        return;
    }
    s->status = push_joint(s, x, ok, open);
    return;
  }
  s->row_start[d] = s->rows;
  for (uint32_t A = 0; A < (1u << l->nq) && !s->status; A++) {
    if ((size_t)__builtin_popcount(A) > l->k)
      continue;
    s->rows = s->row_start[d];
    if ((s->status = feature_rows(s, d, (uint16_t)A)))
      break;
    s->A[d] = (uint16_t)A;
    double *child = s->stack + (d + 1) * s->nx;
    if (satisfies(s, s->row_start[d], x)) {
      memcpy(child, x, s->nx * sizeof *x); /* the parent's witness already realizes this choice */
    } else {
      int feasible, verified;
      l->lp_calls++;
      if ((s->status = sdlab_lp_homogeneous(s->G, s->strict, s->rows, s->nx, child, &feasible, &verified)))
        break;
      if (!feasible) {
        l->pruned++;
        l->pruned_verified += verified;
        continue;
      }
    }
    joint_descend(s, d + 1);
  }
  s->rows = s->row_start[d];
}

static size_t joint_key_len;
static int
compare_keys(const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;
  for (size_t i = 0; i < joint_key_len; i++)
    if (x[i] != y[i])
      return x[i] < y[i] ? -1 : 1;
  return 0;
}

static int
compare_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int
sdlab_patterns_topk(const gsl_matrix *Wp, size_t nq, size_t k, size_t max_nodes, sdlab_joint_list **out)
{
  *out = NULL;
  const size_t n = Wp->size2, np = Wp->size1;
  if (n > 64 || nq > 16 || nq == 0)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "joint Top-k enumeration handles at most 64 features and 16 latents (got "
                      "%zu and %zu)", n, nq);
  if (k == 0 || k > nq)
    return sdlab_fail(GSL_EINVAL, "Top-k needs 1 <= k <= n_q (k = %zu, n_q = %zu)", k, nq);
  int status = sdlab_patterns_check_range(Wp, nq, 1, "W_p");
  if (status)
    return status;
  sdlab_joint_list *l = calloc(1, sizeof *l);
  joint_search s = {.Wp = Wp, .l = l, .nx = nq * np, .max_nodes = max_nodes};
  status = l ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    l->n = n;
    l->np = np;
    l->nq = nq;
    l->k = k;
    s.row_start = malloc((n + 1) * sizeof *s.row_start);
    s.A = calloc(n + 1, sizeof *s.A);
    s.stack = calloc((n + 1) * s.nx, sizeof *s.stack);
    if (!s.row_start || !s.A || !s.stack)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  if (!status) {
    joint_descend(&s, 0);
    status = s.status;
  }
  if (!status) {
    /* up to permutation: sort each pattern's F_i, then count distinct sorted tuples */
    uint64_t *keys = malloc((l->count ? l->count : 1) * nq * sizeof *keys);
    if (keys == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    else {
      memcpy(keys, l->F, l->count * nq * sizeof *keys);
      for (size_t c = 0; c < l->count; c++)
        qsort(keys + c * nq, nq, sizeof *keys, compare_u64);
      joint_key_len = nq;
      qsort(keys, l->count, nq * sizeof *keys, compare_keys);
      for (size_t c = 0; c < l->count; c++)
        l->unordered += c == 0 || compare_keys(keys + (c - 1) * nq, keys + c * nq) != 0;
      free(keys);
    }
    l->exact = l->pruned_verified == l->pruned;
    for (size_t c = 0; c < l->count; c++)
      l->exact &= l->verified[c];
  }
  free(s.G);
  free(s.strict);
  free(s.row_start);
  free(s.A);
  free(s.stack);
  if (status) {
    sdlab_patterns_joint_list_free(l);
    return status;
  }
  *out = l;
  return SDLAB_SUCCESS;
}

int
sdlab_patterns_method_of(const sdlab_activation *act, size_t nq, sdlab_patterns_method *method)
{
  switch (act->kind) {
  case SDLAB_ACT_RELU:
  case SDLAB_ACT_JUMPRELU:
    *method = SDLAB_PATTERNS_SINGLE;
    return SDLAB_SUCCESS;
  case SDLAB_ACT_TOPK:
  case SDLAB_ACT_TOPK_RELU:
    *method = act->k == nq ? SDLAB_PATTERNS_SINGLE : SDLAB_PATTERNS_TOPK;
    return SDLAB_SUCCESS;
  case SDLAB_ACT_BATCHTOPK:
    break;
  }
  return sdlab_fail(SDLAB_EPARAM, "batchtopk ranks the codes of all features together, so its patterns are not "
                    "enumerated (use topk:K for the per-sample ranking)");
}

int
sdlab_patterns_enumerate(const gsl_matrix *Wp, size_t nq, const sdlab_activation *act, size_t limit,
                         sdlab_patterns_set *out)
{
  memset(out, 0, sizeof *out);
  int status = sdlab_patterns_method_of(act, nq, &out->method);
  if (status)
    return status;
  if (out->method == SDLAB_PATTERNS_SINGLE)
    return sdlab_patterns_single(Wp, act->kind == SDLAB_ACT_JUMPRELU && act->theta > 0, limit, &out->single);
  return sdlab_patterns_topk(Wp, nq, act->k, limit, &out->joint);
}

void
sdlab_patterns_set_free(sdlab_patterns_set *s)
{
  if (s == NULL)
    return;
  sdlab_patterns_list_free(s->single);
  sdlab_patterns_joint_list_free(s->joint);
  memset(s, 0, sizeof *s);
}
