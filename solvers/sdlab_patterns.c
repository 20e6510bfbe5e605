#include "sdlab_patterns.h"
#include "sdlab_errno.h"
#include "sdlab_halfspace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double
sdlab_cover_count(size_t n, size_t p)
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
sdlab_threshold_count(size_t n, size_t p)
{
  return sdlab_cover_count(n + 1, p + 1) / 2;
}

double
sdlab_joint_count(size_t P, size_t nq)
{
  return pow((double)P, (double)nq);
}

double
sdlab_joint_count_unordered(size_t P, size_t nq)
{
  /* binom(P + nq - 1, nq) */
  double c = 1;
  for (size_t k = 1; k <= nq; k++)
    c = c * (double)(P - 1 + k) / (double)k;
  return round(c);
}

void
sdlab_pattern_list_free(sdlab_pattern_list *l)
{
  if (l == NULL)
    return;
  free(l->masks);
  free(l->witness);
  free(l->verified);
  free(l);
}

typedef struct {
  sdlab_halfspace *h;
  sdlab_pattern_list *l;
  size_t cap;
  unsigned char *want;
  double *stack;   /* witnesses per depth: (n + 1) x wsize */
  int status;
} search;

static int
push(search *s, uint64_t mask, const double *x, int verified)
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
    if (!m || !w || !v)
      return sdlab_fail(GSL_ENOMEM, "out of memory after %zu patterns", l->count);
    s->cap = cap;
  }
  l->masks[l->count] = mask;
  memcpy(l->witness + l->count * l->wsize, x, l->wsize * sizeof *x);
  l->verified[l->count] = (unsigned char)verified;
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
      double v = sdlab_halfspace_row_value(s->h, d, x);
      ok = s->want[d] == SDLAB_IN ? v >= 1.0 : v <= -1.0;
    }
    ok = ok && sdlab_halfspace_check(s->h, s->want, x);
    if (!ok) { /* solve this leaf afresh */
      sdlab_realize_info info;
      if ((s->status = sdlab_halfspace_realize(s->h, s->want, x, &info)))
        return;
      ok = info.realizable && info.verified;
    }
    s->status = push(s, mask, x, ok);
    return;
  }
  double v = sdlab_halfspace_row_value(s->h, depth, x);
  /* the child the witness already realizes first (IN when v > 0), then the other by LP */
  int first = v > 0 ? SDLAB_IN : SDLAB_OUT;
  for (int pass = 0; pass < 2 && !s->status; pass++) {
    int side = pass == 0 ? first : SDLAB_IN + SDLAB_OUT - first;
    s->want[depth] = (unsigned char)side;
    double *child = s->stack + (depth + 1) * ws;
    if (pass == 0) {
      memcpy(child, x, ws * sizeof *x);
    } else {
      sdlab_realize_info info;
      if ((s->status = sdlab_halfspace_realize(s->h, s->want, child, &info)))
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
sdlab_patterns_single(const gsl_matrix *Wp, int threshold, size_t max_patterns, sdlab_pattern_list **out)
{
  *out = NULL;
  const size_t n = Wp->size2, np = Wp->size1;
  if (n > 64)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "exact enumeration handles at most 64 features (got %zu)", n);
  double predicted = threshold ? sdlab_threshold_count(n, np) : sdlab_cover_count(n, np) + 1;
  if (predicted > (double)max_patterns)
    return sdlab_fail(SDLAB_EIMPOSSIBLE, "%zu directions in %zu dimensions can have up to %.4g single-neuron "
                      "patterns (Cover's count), more than the limit %zu", n, np, predicted, max_patterns);
  sdlab_halfspace *h = sdlab_halfspace_alloc(Wp, threshold);
  if (h == NULL)
    return GSL_EINVAL;
  sdlab_pattern_list *l = calloc(1, sizeof *l);
  search s = {.h = h, .l = l};
  int status = l ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    l->n = n;
    l->np = np;
    l->threshold = threshold != 0;
    l->wsize = sdlab_halfspace_witness_size(h);
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
      unsigned char *v = malloc(l->count + 1);
      if (!w || !v)
        status = sdlab_fail(GSL_ENOMEM, "out of memory");
      else {
        for (size_t i = 0; i < l->count; i++) {
          size_t from = (size_t)keys[2 * i + 1];
          l->masks[i] = keys[2 * i];
          memcpy(w + i * l->wsize, l->witness + from * l->wsize, l->wsize * sizeof *w);
          v[i] = l->verified[from];
        }
        free(l->witness);
        free(l->verified);
        l->witness = w;
        l->verified = v;
        w = NULL;
        v = NULL;
      }
      free(w);
      free(v);
    }
    free(order);
    free(keys);
  }
  if (!status) {
    l->lp_calls = sdlab_halfspace_lp_count(h);
    l->exact = l->pruned_verified == l->pruned;
    for (size_t i = 0; i < l->count; i++)
      l->exact &= l->verified[i];
    *out = l;
  } else {
    sdlab_pattern_list_free(l);
  }
  free(s.want);
  free(s.stack);
  sdlab_halfspace_free(h);
  return status;
}

size_t
sdlab_pattern_list_find(const sdlab_pattern_list *l, uint64_t mask)
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
