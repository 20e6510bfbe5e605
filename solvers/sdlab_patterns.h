/* sdlab_patterns.h: enumeration of every realizable activation pattern (Definition 3.1).
 *
 * Single neuron.  For directions W_p (n_p x n, n <= 64) the realizable sets F = {d : <w, w_p^d> > 0}
 * (homogeneous) or {d : <w, w_p^d> > s}, s > 0 (threshold), are enumerated by a depth-first search over
 * the features: a node fixes features 0..j-1 IN or OUT and is kept only if some w realizes that partial
 * pattern.  The parent's witness already realizes one child, so each node costs at most one LP
 * (sdlab_lp_halfspace).  Every pattern carries its witness, checked in exact arithmetic; every pruned node
 * carries a Farkas certificate, also checked exactly.  When all are verified the enumeration is exact.
 *
 * Joint patterns.  For ReLU and JumpReLU the neurons do not interact, so the joint patterns
 * (F_1, ..., F_{n_q}) are all n_q-tuples of single-neuron patterns: P^{n_q} of them, and
 * C(P + n_q - 1, n_q) up to permutation of the neurons (multisets).
 *
 * Oracles, for directions in general position:
 *   homogeneous  Cover's function-counting theorem gives C(n, p) = 2 sum_{k<p} binom(n-1, k) dichotomies;
 *                the sets F are their positive sides, and the dead pattern F = {} (w = 0) is counted once
 *                more when no strict half-space realises it;
 *   threshold    the threshold s is positive, so the origin is always OUT: the patterns are the affine
 *                dichotomies of the n points and the origin that put the origin OUT, half of Cover's
 *                C(n + 1, p + 1), that is sum_{k=0}^{p} binom(n, k). */
#ifndef SDLAB_PATTERNS_H
#define SDLAB_PATTERNS_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>

#include "sdlab_activation.h"

typedef struct {
  size_t n, np, wsize;      /* features, dimension, witness length (n_p or n_p + 1) */
  int threshold;
  size_t count;             /* realizable single-neuron patterns */
  uint64_t *masks;          /* bit d set: feature d in F */
  double *witness;          /* count x wsize */
  unsigned char *verified;  /* per pattern: witness checked exactly */
  unsigned char *open;      /* per pattern: realizable with every OUT feature strictly below the threshold,
                               so its region has a nonempty interior */
  size_t lp_calls;
  size_t pruned, pruned_verified; /* infeasible partial patterns and how many have checked certificates */
  size_t open_count;        /* patterns with open = 1 */
  int exact;                /* every witness and every pruning certificate verified */
} sdlab_pattern_list;

/* Enumerate every single-neuron pattern.  Refuses (SDLAB_EIMPOSSIBLE, with the numbers) when n > 64 or
 * when Cover's count for n directions in general position exceeds max_patterns.  *out is allocated. */
int sdlab_patterns_single(const gsl_matrix *Wp, int threshold, size_t max_patterns, sdlab_pattern_list **out);
void sdlab_patterns_list_free(sdlab_pattern_list *l);

/* W_p's entries against sdlab_lp_coefficient_limit for the largest LP an enumeration forms: single-neuron
 * (joint = 0: n rows, n_p + 1 columns, and the Farkas LP's n_p + 2 rows) or joint Top-k of n_q latents
 * (joint = 1: at most n (n_q + n_q^2) ranking rows in n_q n_p unknowns).  `what` names W_p in the message (a
 * file, say).  0, SDLAB_ENONFINITE, or GSL_EOVRFLW with the entry, its value and the limit.  The
 * enumerations call it first, so GLPK never sees such values. */
int sdlab_patterns_check_range(const gsl_matrix *Wp, size_t nq, int joint, const char *what);

/* Cover's count C(n, p) = 2 sum_{k=0}^{p-1} binom(n-1, k) (a double: it may be huge). */
double sdlab_patterns_cover_count(size_t n, size_t p);
/* The threshold patterns' count sum_{k=0}^{p} binom(n, k) = C(n + 1, p + 1) / 2. */
double sdlab_patterns_threshold_count(size_t n, size_t p);

/* Joint ReLU/JumpReLU patterns of n_q neurons from P single-neuron patterns: P^n_q, and up to
 * permutation binom(P + n_q - 1, n_q) (doubles). */
double sdlab_patterns_joint_count(size_t P, size_t nq);
double sdlab_patterns_joint_count_unordered(size_t P, size_t nq);

/* Joint Top-k patterns.  With sigma = Top-k (eq. 7) or Top-k . ReLU (both activate neuron i for feature d
 * exactly when i is selected and z_di > 0), the joint pattern is realizable iff one W_E satisfies, for
 * every feature d with active set A_d = {i : d in F_i} (|A_d| <= k):
 *   |A_d| < k:  z_di > 0 on A_d and z_dj <= 0 off A_d;
 *   |A_d| = k:  z_di > 0 on A_d and every j outside A_d ranks below every i in A_d: z_di - z_dj > 0,
 *               or >= 0 when the tie-break (lower index first) already favours i (j > i);
 * a homogeneous system in W_E (sdlab_lp_homogeneous).  The search runs over the features, choosing each
 * A_d, with one coupled LP per node; witnesses and pruning certificates are checked exactly. */
typedef struct {
  size_t n, np, nq, k;
  size_t count;             /* joint patterns, neurons labelled */
  uint64_t *F;              /* count x n_q masks over the features: F_i */
  double *witness;          /* count x (n_q n_p): W_E, row-major */
  unsigned char *verified;
  unsigned char *open;      /* the pattern's region in W_E has a nonempty interior; 0 for patterns that
                               exist only on a boundary (an exact tie broken by the index rule, say) */
  size_t unordered;         /* distinct up to permutation of the neurons */
  size_t open_count;        /* patterns with open = 1 */
  size_t lp_calls, pruned, pruned_verified;
  int exact;
} sdlab_joint_list;

/* Enumerate every realizable joint Top-k pattern of n_q neurons (n <= 64, n_q <= 16).  Refuses with
 * SDLAB_EIMPOSSIBLE when the search would visit more than max_nodes nodes. */
int sdlab_patterns_topk(const gsl_matrix *Wp, size_t nq, size_t k, size_t max_nodes, sdlab_joint_list **out);
void sdlab_patterns_joint_list_free(sdlab_joint_list *l);

/* Which enumeration an activation's patterns need with n_q latents: SINGLE when the neurons do not interact
 * (ReLU, JumpReLU, and a Top-k that selects all n_q latents, which is then ReLU; the joint patterns are the
 * n_q-tuples of single-neuron patterns), TOPK for Top-k and Top-k . ReLU with k < n_q (one coupled search).
 * SDLAB_EPARAM for BatchTopK, which ranks the codes of all features together (no per-sample pattern). */
typedef enum { SDLAB_PATTERNS_SINGLE, SDLAB_PATTERNS_TOPK } sdlab_patterns_method;
int sdlab_patterns_method_of(const sdlab_activation *act, size_t nq, sdlab_patterns_method *method);

/* The one entry point: the enumeration act needs (above), with its result in single or joint (the other
 * NULL).  limit: the most single-neuron patterns (SINGLE) or search nodes (TOPK) allowed. */
typedef struct {
  sdlab_patterns_method method;
  sdlab_pattern_list *single;
  sdlab_joint_list *joint;
} sdlab_patterns_set;

int sdlab_patterns_enumerate(const gsl_matrix *Wp, size_t nq, const sdlab_activation *act, size_t limit,
                             sdlab_patterns_set *out);
void sdlab_patterns_set_free(sdlab_patterns_set *s);

/* Index of mask in the list (the list is sorted), or (size_t)-1. */
size_t sdlab_patterns_list_find(const sdlab_pattern_list *l, uint64_t mask);

#endif
