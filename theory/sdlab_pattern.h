/* sdlab_pattern.h: activation patterns (Definition 3.1).
 *
 * A pattern P = (F_1, ..., F_N) lists, for each neuron i, the set F_i of ground-truth features that
 * activate it when they appear in isolation: F_i = {d : (sigma(W_E w_p^d))_i > 0} (eq. 20).  It is
 *   polysemantic  if some |F_i| >= 2,
 *   a partition   if every feature lies in exactly one F_i (dead neurons, F_i empty, are allowed:
 *                 Theorem 3.6's construction gives them W_D^i = 0),
 * and neuron i is dead if F_i is empty (§5.3). */
#ifndef SDLAB_PATTERN_H
#define SDLAB_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>

#include "sdlab_activation.h"

typedef struct {
  size_t nq, n;
  unsigned char *F; /* nq x n, row-major: F[i*n + d] = 1 iff d is in F_i */
} sdlab_pattern;

sdlab_pattern *sdlab_pattern_alloc(size_t nq, size_t n);
void sdlab_pattern_free(sdlab_pattern *P);

/* The pattern of encoder WE (n_q x n_p) on feature directions Wp (n_p x n) under sigma: sigma is applied
 * to the n codes W_E w_p^d (for batchtopk, as one batch of n).  P must be n_q x n. */
int sdlab_pattern_of(const sdlab_activation *act, const gsl_matrix *WE, const gsl_matrix *Wp,
                     sdlab_pattern *P);

/* The same patterns as n_q bit masks over the features (n <= 64): bit d of F[i] is set iff d is in F_i; the
 * compact form the solvers' pieces and enumerations index.  SDLAB_EPARAM when n > 64. */
int sdlab_pattern_masks(const sdlab_pattern *P, uint64_t *F);
int sdlab_pattern_of_masks(const sdlab_activation *act, const gsl_matrix *WE, const gsl_matrix *Wp, uint64_t *F);

int sdlab_pattern_is_polysemantic(const sdlab_pattern *P);
int sdlab_pattern_is_partition(const sdlab_pattern *P);
size_t sdlab_pattern_dead_count(const sdlab_pattern *P);
size_t sdlab_pattern_size(const sdlab_pattern *P, size_t i); /* |F_i| */
int sdlab_pattern_equal(const sdlab_pattern *a, const sdlab_pattern *b);

#endif
