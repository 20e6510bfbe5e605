/* sdlab_absorption.h: feature absorption measured (Example 3.7, Definition 3.2, Theorem 3.8).
 *
 * On a bench with a hierarchy (sdlab lrb --hierarchy P:K: parents, each with K mutually exclusive
 * sub-concepts, a parent active exactly when one of its sub-concepts is), each latent's activation set
 * is read off the samples:
 *   rate[i][d]  = P(latent i fires | feature d active)      (fires: code > 0)
 *   F_i         = {d : rate[i][d] >= tau}                   the features that reliably activate latent i
 *   false_rate  = P(latent i fires | no feature of F_i active)
 * and the latent is classified (the first rule that applies):
 *   dead        it fires on no sample;
 *   other       F_i is empty, or false_rate > 1 - tau (it fires without its features), or F_i reaches
 *               into more than one family (a family: a parent with its sub-concepts; an independent
 *               feature alone);
 *   parent      F_i lies in the family of parent p and holds p or at least two of its sub-concepts (a
 *               parent latent that misses some sub-concepts is the proof's "main line" F_i* \ {d*});
 *   absorbing   F_i = {c} for a sub-concept c that no parent latent of its parent covers: this latent
 *               has taken the parent's place on c (Theorem 3.8's new neuron {d_{i*,j*}});
 *   sub-concept F_i = {c} for a sub-concept c that a parent latent also covers;
 *   feature     F_i = {d} for an independent feature d.
 * Each sub-concept is then covered (some parent latent has it in F), absorbed (not covered, and some
 * latent is absorbing on it) or lost (neither).  The absorption rate is absorbed / sub-concepts.
 *
 * tau is the definition's reliability level, the caller's choice (sdlab uses 0.9); it is not a tolerance.
 * The same classification applies to a pattern of Definition 3.1 (rate 0 or 1 from single-feature
 * inputs, false_rate 0), which is how Theorem 3.8's construction is set beside trained dictionaries. */
#ifndef SDLAB_ABSORPTION_H
#define SDLAB_ABSORPTION_H

#include <stddef.h>

#include "sdlab_json.h"

typedef enum {
  SDLAB_LATENT_DEAD,
  SDLAB_LATENT_OTHER,
  SDLAB_LATENT_PARENT,
  SDLAB_LATENT_ABSORBING,
  SDLAB_LATENT_SUBCONCEPT,
  SDLAB_LATENT_FEATURE
} sdlab_latent_class;

#define SDLAB_LATENT_CLASSES 6

typedef enum { SDLAB_CHILD_COVERED, SDLAB_CHILD_ABSORBED, SDLAB_CHILD_LOST } sdlab_child_status;

typedef struct {
  size_t nq, n;
  double tau;
  double *rate;            /* nq x n, row-major */
  double *false_rate;      /* nq */
  size_t *fired;           /* nq: samples (or, for a pattern, features) that activate the latent */
  unsigned char *set;      /* nq x n: F_i */
  sdlab_latent_class *cls; /* nq */
  long *owner;             /* nq: the parent (parent latents) or the feature (absorbing, sub-concept,
                            * feature latents) the latent belongs to; -1 otherwise */
  long *parent_of;         /* n: the hierarchy (a copy) */
  unsigned char *is_parent;/* n: whether feature d has sub-concepts */
  long *status;            /* n: sdlab_child_status of each sub-concept, -1 for other features */
  size_t counts[SDLAB_LATENT_CLASSES];
  size_t children, covered, absorbed, lost;
} sdlab_absorption;

sdlab_absorption *sdlab_absorption_alloc(size_t nq, size_t n);
void sdlab_absorption_free(sdlab_absorption *a);

/* The name of a class ("dead", "other", "parent", "absorbing", "sub-concept", "feature"). */
const char *sdlab_absorption_latent_class_name(sdlab_latent_class c);

/* Fill rate, false_rate and fired from N samples: codes (N x nq, row-major: a latent fires where
 * its code is > 0) and the ground-truth codes x (N x n: feature d is active where x > 0), then
 * classify.  parent_of (length n) is the hierarchy: the parent of each sub-concept, -1 for parents and
 * independent features.  SDLAB_EPARAM for tau outside (1/2, 1]; GSL_EINVAL for a malformed hierarchy (a
 * parent of a parent, an index out of range, a parent with fewer than two sub-concepts). */
int sdlab_absorption_measure(sdlab_absorption *a, const double *codes, const double *x, size_t N,
                             const long *parent_of, double tau);

/* Classify from a Definition 3.1 pattern: P (nq x n bytes, 1 where feature d alone activates latent i). */
int sdlab_absorption_pattern(sdlab_absorption *a, const unsigned char *P, const long *parent_of, double tau);

/* The latents in display order (order has nq entries): family by family (a parent's latents, its
 * absorbing latents, its sub-concept latents; then each independent feature's), then other, then dead. */
int sdlab_absorption_order(const sdlab_absorption *a, size_t *order);

/* The rates P(latent fires | feature active) as gnuplot's heat-map text (# row, latent, feature, rate, class; one
 * block per latent, latents in display order), malloc'd; NULL with a message when out of memory. */
char *sdlab_absorption_rates_text(const sdlab_absorption *a);

/* The classification into the open JSON object j: tau, sizes, class counts, covered / absorbed / lost,
 * the absorption rate, each sub-concept's status and each latent's class, set and false rate.
 * decoder_cos (nq, or NULL): |cos| of each latent's decoder column with its family's parent direction,
 * reported per latent and as a mean per class. */
void sdlab_absorption_json(const sdlab_absorption *a, sdlab_json *j, const double *decoder_cos);

#endif
