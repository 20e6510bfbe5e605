#include "sdlab_absorption.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"

#include <stdlib.h>
#include <string.h>

sdlab_absorption *
sdlab_absorption_alloc(size_t nq, size_t n)
{
  if (nq == 0 || n == 0) {
    sdlab_fail(GSL_EINVAL, "absorption: need at least one latent and one feature");
    return NULL;
  }
  sdlab_absorption *a = calloc(1, sizeof *a);
  if (a == NULL) {
    sdlab_fail(GSL_ENOMEM, "out of memory");
    return NULL;
  }
  a->nq = nq;
  a->n = n;
  a->rate = calloc(nq * n, sizeof *a->rate);
  a->false_rate = calloc(nq, sizeof *a->false_rate);
  a->fired = calloc(nq, sizeof *a->fired);
  a->set = calloc(nq * n, 1);
  a->cls = calloc(nq, sizeof *a->cls);
  a->owner = calloc(nq, sizeof *a->owner);
  a->status = calloc(n, sizeof *a->status);
  a->is_parent = calloc(n, 1);
  a->parent_of = calloc(n, sizeof *a->parent_of);
  if (!a->is_parent || !a->parent_of || !a->rate || !a->false_rate || !a->fired || !a->set || !a->cls || !a->owner || !a->status) {
    sdlab_absorption_free(a);
    sdlab_fail(GSL_ENOMEM, "out of memory for %zu latents x %zu features", nq, n);
    return NULL;
  }
  return a;
}

void
sdlab_absorption_free(sdlab_absorption *a)
{
  if (a == NULL)
    return;
  free(a->rate);
  free(a->false_rate);
  free(a->fired);
  free(a->set);
  free(a->cls);
  free(a->owner);
  free(a->status);
  free(a->is_parent);
  free(a->parent_of);
  free(a);
}

const char *
sdlab_absorption_latent_class_name(sdlab_latent_class c)
{
  static const char *names[SDLAB_LATENT_CLASSES] = {"dead", "other", "parent", "absorbing", "sub-concept", "feature"};
  return (unsigned)c < SDLAB_LATENT_CLASSES ? names[c] : "?";
}

/* Validate tau and the hierarchy, and note which features are parents. */
static int
check_args(sdlab_absorption *a, const long *parent_of, double tau)
{
  if (!(tau > 0.5 && tau <= 1))
    return sdlab_fail(SDLAB_EPARAM, "absorption: tau must lie in (1/2, 1] (a latent's features activate it on most of "
                      "their samples); got %g", tau);
  const size_t n = a->n;
  size_t *kids = calloc(n, sizeof *kids);
  if (kids == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  int status = SDLAB_SUCCESS;
  for (size_t d = 0; d < n && !status; d++) {
    const long p = parent_of[d];
    if (p < -1 || p >= (long)n || p == (long)d)
      status = sdlab_fail(GSL_EINVAL, "absorption: feature %zu has parent %ld (features 0..%zu)", d, p, n - 1);
    else if (p >= 0 && parent_of[p] != -1)
      status = sdlab_fail(GSL_EINVAL, "absorption: feature %zu's parent %ld has a parent itself (one level only)", d, p);
    else if (p >= 0)
      kids[p]++;
  }
  for (size_t d = 0; d < n && !status; d++) {
    a->is_parent[d] = kids[d] > 0;
    a->parent_of[d] = parent_of[d];
    if (kids[d] == 1)
      status = sdlab_fail(GSL_EINVAL, "absorption: parent %zu has one sub-concept; Definition 3.2's hierarchy with "
                          "absorption needs at least two", d);
  }
  free(kids);
  return status;
}

/* The family of feature d: its parent if it is a sub-concept, else d itself. */
static long
family(const long *parent_of, size_t d)
{
  return parent_of[d] >= 0 ? parent_of[d] : (long)d;
}

/* F_i = {d : rate >= tau} for every latent. */
static void
fill_sets(sdlab_absorption *a, double tau)
{
  a->tau = tau;
  for (size_t k = 0; k < a->nq * a->n; k++)
    a->set[k] = a->rate[k] >= tau;
}

/* Classify every latent from set, false_rate and fired (filled by the caller), then every sub-concept. */
static void
classify(sdlab_absorption *a)
{
  const long *parent_of = a->parent_of;
  const size_t nq = a->nq, n = a->n;
  const double tau = a->tau;
  memset(a->counts, 0, sizeof a->counts);
  for (size_t i = 0; i < nq; i++) {
    size_t members = 0, kids = 0, first = n;
    long fam = -2;
    int mixed = 0, has_parent = 0;
    for (size_t d = 0; d < n; d++) {
      if (!a->set[i * n + d])
        continue;
      if (members++ == 0)
        first = d;
      const long f = family(parent_of, d);
      if (fam == -2)
        fam = f;
      else if (fam != f)
        mixed = 1;
      if (parent_of[d] >= 0)
        kids++;
      else if (a->is_parent[d])
        has_parent = 1;
    }
    sdlab_latent_class c;
    long owner = -1;
    if (a->fired[i] == 0)
      c = SDLAB_LATENT_DEAD;
    else if (members == 0 || mixed || a->false_rate[i] > 1 - tau)
      c = SDLAB_LATENT_OTHER;
    else if (has_parent || kids >= 2) {
      c = SDLAB_LATENT_PARENT;
      owner = fam;
    } else if (kids == 1) {
      c = SDLAB_LATENT_SUBCONCEPT; /* absorbing or not: decided below, once every parent latent is known */
      owner = (long)first;
    } else {
      c = SDLAB_LATENT_FEATURE;
      owner = (long)first;
    }
    a->cls[i] = c;
    a->owner[i] = owner;
  }
  a->children = a->covered = a->absorbed = a->lost = 0;
  for (size_t d = 0; d < n; d++) {
    a->status[d] = -1;
    if (parent_of[d] < 0)
      continue;
    a->children++;
    int covered = 0, own = 0;
    for (size_t i = 0; i < nq; i++) {
      if (a->cls[i] == SDLAB_LATENT_PARENT && a->owner[i] == parent_of[d] && a->set[i * n + d])
        covered = 1;
      if (a->cls[i] == SDLAB_LATENT_SUBCONCEPT && a->owner[i] == (long)d)
        own = 1;
    }
    if (covered) {
      a->status[d] = SDLAB_CHILD_COVERED;
      a->covered++;
    } else if (own) {
      a->status[d] = SDLAB_CHILD_ABSORBED;
      a->absorbed++;
      for (size_t i = 0; i < nq; i++)
        if (a->cls[i] == SDLAB_LATENT_SUBCONCEPT && a->owner[i] == (long)d)
          a->cls[i] = SDLAB_LATENT_ABSORBING;
    } else {
      a->status[d] = SDLAB_CHILD_LOST;
      a->lost++;
    }
  }
  for (size_t i = 0; i < nq; i++)
    a->counts[a->cls[i]]++;
}

int
sdlab_absorption_measure(sdlab_absorption *a, const double *codes, const double *x, size_t N, const long *parent_of,
                         double tau)
{
  int status = check_args(a, parent_of, tau);
  if (status)
    return status;
  if (N == 0)
    return sdlab_fail(GSL_EINVAL, "absorption: no samples");
  const size_t nq = a->nq, n = a->n;
  size_t *active = calloc(n, sizeof *active), *quiet = calloc(nq, sizeof *quiet), *both = calloc(nq * n, sizeof *both);
  size_t *fp = calloc(nq, sizeof *fp);
  if (!active || !quiet || !both || !fp) {
    free(active);
    free(quiet);
    free(both);
    free(fp);
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  memset(a->fired, 0, nq * sizeof *a->fired);
  for (size_t s = 0; s < N; s++) {
    const double *xs = x + s * n, *zs = codes + s * nq;
    for (size_t d = 0; d < n; d++)
      active[d] += xs[d] > 0;
    for (size_t i = 0; i < nq; i++) {
      if (!(zs[i] > 0))
        continue;
      a->fired[i]++;
      for (size_t d = 0; d < n; d++)
        both[i * n + d] += xs[d] > 0;
    }
  }
  for (size_t i = 0; i < nq; i++)
    for (size_t d = 0; d < n; d++)
      a->rate[i * n + d] = active[d] ? (double)both[i * n + d] / (double)active[d] : 0;
  /* the false rate needs the sets: a second pass over the samples */
  fill_sets(a, tau);
  for (size_t s = 0; s < N; s++) {
    const double *xs = x + s * n, *zs = codes + s * nq;
    for (size_t i = 0; i < nq; i++) {
      int any = 0;
      for (size_t d = 0; d < n && !any; d++)
        any = a->set[i * n + d] && xs[d] > 0;
      if (any)
        continue;
      quiet[i]++;
      fp[i] += zs[i] > 0;
    }
  }
  for (size_t i = 0; i < nq; i++)
    a->false_rate[i] = quiet[i] ? (double)fp[i] / (double)quiet[i] : 0;
  classify(a);
  free(active);
  free(quiet);
  free(both);
  free(fp);
  return SDLAB_SUCCESS;
}

int
sdlab_absorption_pattern(sdlab_absorption *a, const unsigned char *P, const long *parent_of, double tau)
{
  int status = check_args(a, parent_of, tau);
  if (status)
    return status;
  const size_t nq = a->nq, n = a->n;
  for (size_t i = 0; i < nq; i++) {
    a->fired[i] = 0;
    a->false_rate[i] = 0;
    for (size_t d = 0; d < n; d++) {
      a->rate[i * n + d] = P[i * n + d] ? 1 : 0;
      a->fired[i] += P[i * n + d] != 0;
    }
  }
  fill_sets(a, tau);
  classify(a);
  return SDLAB_SUCCESS;
}

/* Display order of the classes in the heat maps and tables. */
static int
class_rank(sdlab_latent_class c)
{
  static const int rank[SDLAB_LATENT_CLASSES] = {5, 4, 0, 1, 2, 3};
  return rank[c];
}

static size_t
latent_family(const sdlab_absorption *a, size_t i)
{
  switch (a->cls[i]) {
  case SDLAB_LATENT_PARENT:
  case SDLAB_LATENT_FEATURE:
    return (size_t)a->owner[i];
  case SDLAB_LATENT_ABSORBING:
  case SDLAB_LATENT_SUBCONCEPT:
    return (size_t)a->parent_of[a->owner[i]];
  default:
    return a->n;
  }
}

typedef struct {
  size_t family, owner, latent;
  int rank;
} order_key;

static int
order_cmp(const void *x, const void *y)
{
  const order_key *p = x, *q = y;
  if (p->family != q->family)
    return p->family < q->family ? -1 : 1;
  if (p->rank != q->rank)
    return p->rank < q->rank ? -1 : 1;
  if (p->owner != q->owner)
    return p->owner < q->owner ? -1 : 1;
  return p->latent < q->latent ? -1 : p->latent > q->latent;
}

int
sdlab_absorption_order(const sdlab_absorption *a, size_t *order)
{
  order_key *k = malloc(a->nq * sizeof *k);
  if (k == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  for (size_t i = 0; i < a->nq; i++) {
    k[i].family = latent_family(a, i);
    k[i].rank = class_rank(a->cls[i]);
    k[i].owner = a->owner[i] >= 0 ? (size_t)a->owner[i] : a->n;
    k[i].latent = i;
  }
  qsort(k, a->nq, sizeof *k, order_cmp);
  for (size_t i = 0; i < a->nq; i++)
    order[i] = k[i].latent;
  free(k);
  return SDLAB_SUCCESS;
}

char *
sdlab_absorption_rates_text(const sdlab_absorption *a)
{
  size_t *order = malloc(a->nq * sizeof *order);
  const size_t cap = 64 + a->nq * (a->n * 72 + 1);
  char *text = malloc(cap);
  if (order == NULL || text == NULL || sdlab_absorption_order(a, order)) {
    free(order);
    free(text);
    sdlab_fail(GSL_ENOMEM, "out of memory for the rates");
    return NULL;
  }
  size_t len = (size_t)snprintf(text, cap, "# row\tlatent\tfeature\trate\tclass\n");
  for (size_t r = 0; r < a->nq; r++) {
    const size_t i = order[r];
    for (size_t d = 0; d < a->n; d++)
      len += (size_t)snprintf(text + len, cap - len, "%zu\t%zu\t%zu\t%.6f\t%s\n", r, i, d, a->rate[i * a->n + d],
                              sdlab_absorption_latent_class_name(a->cls[i]));
    len += (size_t)snprintf(text + len, cap - len, "\n"); /* gnuplot: one block per row */
  }
  free(order);
  return text;
}

void
sdlab_absorption_json(const sdlab_absorption *a, sdlab_json *j, const double *decoder_cos)
{
  sdlab_json_number(j, "tau", a->tau);
  sdlab_json_integer(j, "n", (long long)a->n);
  sdlab_json_integer(j, "n_q", (long long)a->nq);
  sdlab_json_object_begin(j, "classes");
  for (int c = 0; c < SDLAB_LATENT_CLASSES; c++)
    sdlab_json_integer(j, sdlab_absorption_latent_class_name((sdlab_latent_class)c), (long long)a->counts[c]);
  sdlab_json_object_end(j);
  sdlab_json_integer(j, "sub_concepts", (long long)a->children);
  sdlab_json_integer(j, "covered", (long long)a->covered);
  sdlab_json_integer(j, "absorbed", (long long)a->absorbed);
  sdlab_json_integer(j, "lost", (long long)a->lost);
  sdlab_json_number(j, "absorption_rate", a->children ? (double)a->absorbed / (double)a->children : 0);
  if (decoder_cos) { /* the mean |cos| of each class's decoder columns with their family's parent direction */
    sdlab_json_object_begin(j, "decoder_parent_cos");
    for (int c = SDLAB_LATENT_PARENT; c <= SDLAB_LATENT_SUBCONCEPT; c++) {
      double s = 0;
      size_t m = 0;
      for (size_t i = 0; i < a->nq; i++)
        if (a->cls[i] == (sdlab_latent_class)c) {
          s += decoder_cos[i];
          m++;
        }
      if (m)
        sdlab_json_number(j, sdlab_absorption_latent_class_name((sdlab_latent_class)c), s / (double)m);
      else
        sdlab_json_null(j, sdlab_absorption_latent_class_name((sdlab_latent_class)c));
    }
    sdlab_json_object_end(j);
  }
  static const char *status_name[3] = {"covered", "absorbed", "lost"};
  sdlab_json_array_begin(j, "sub_concept_status");
  for (size_t d = 0; d < a->n; d++)
    if (a->status[d] >= 0) {
      sdlab_json_object_begin(j, NULL);
      sdlab_json_integer(j, "feature", (long long)d);
      sdlab_json_integer(j, "parent", a->parent_of[d]);
      sdlab_json_string(j, "status", status_name[a->status[d]]);
      sdlab_json_object_end(j);
    }
  sdlab_json_array_end(j);
  sdlab_json_array_begin(j, "latents");
  for (size_t i = 0; i < a->nq; i++) {
    sdlab_json_object_begin(j, NULL);
    sdlab_json_integer(j, "latent", (long long)i);
    sdlab_json_string(j, "class", sdlab_absorption_latent_class_name(a->cls[i]));
    if (a->owner[i] >= 0)
      sdlab_json_integer(j, a->cls[i] == SDLAB_LATENT_PARENT ? "parent" : "feature", a->owner[i]);
    sdlab_json_array_begin(j, "set");
    for (size_t d = 0; d < a->n; d++)
      if (a->set[i * a->n + d])
        sdlab_json_integer(j, NULL, (long long)d);
    sdlab_json_array_end(j);
    sdlab_json_integer(j, "fired", (long long)a->fired[i]);
    sdlab_json_number(j, "false_rate", a->false_rate[i]);
    if (decoder_cos && a->cls[i] >= SDLAB_LATENT_PARENT && a->cls[i] <= SDLAB_LATENT_SUBCONCEPT)
      sdlab_json_number(j, "decoder_parent_cos", decoder_cos[i]);
    sdlab_json_object_end(j);
  }
  sdlab_json_array_end(j);
}
