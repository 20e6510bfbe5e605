/* sdlab_atlas.h: how often gradient descent ends at a spurious partial minimum, measured over many random
 * instances of one cell (issue 23, item 3).
 *
 * An instance is a ground truth made by C.1 (n features in n_p dimensions, interference at most M, unit
 * second moments) with its own seed.  Its landscape census (sdlab_landscape_run_census) certifies the pieces of
 * L~ and runs full-batch Adam from R random initialisations; each end point is classified against the
 * certificates:
 *   global       at the global minimum, which the census certified (its lower bound meets the best point);
 *   spurious     converged to a partial minimum (alternating convex search from the end point does not improve
 *                it) whose loss exceeds a point the census found: a spurious partial minimum, whatever the
 *                certificates; split by whether a neuron of its piece is dead;
 *   undecided    at the best point found, but the global minimum is not certified;
 *   unconverged  Adam stopped short of a partial minimum.
 * With feature anchoring, Adam minimises L~ plus the anchor term; a run is then judged by the partial minimum of
 * L~ that alternating convex search reaches from its end point (the basin it ended in), and is unconverged only
 * when Adam used all its steps (basin: the same rule without anchoring, to compare like with like).
 * Instances are independent jobs: each writes one line of its own file, so that interrupted runs resume and
 * machines sharing a directory can take disjoint seed ranges; the summary is gathered from the files present. */
#ifndef SDLAB_ATLAS_H
#define SDLAB_ATLAS_H

#include <stddef.h>
#include <stdint.h>

#include "sdlab_activation.h"

typedef struct {
  size_t n, np, nq;      /* features, input dimension, latents */
  sdlab_activation act;  /* relu, jumprelu or topk-relu */
  double interference;   /* C.1's M */
  size_t sgd_runs, sgd_steps;
  double lr, tol;        /* Adam's step; certification and classification tolerance (relative) */
  size_t bnb_nodes;      /* branch-and-bound boxes per uncertified piece */
  size_t anchors;        /* Adam with feature anchoring: latent j < anchors pulled to feature j (0: none) */
  double anchor_weight;  /* its weight (default 0.1, Table 1's) */
  int basin;             /* judge every run by its basin, as anchored runs are (for comparisons with them) */
  int threads;           /* the census's branch and bound over this many threads (not part of the cell: any
                          * count gives the same bytes) */
} sdlab_atlas_cell;

/* the default cell: n = 4, n_p = 2, n_q = 2, ReLU, M = 0.3, 20 runs of 20,000 steps, lr 0.01, tol 1e-6,
 * 10^5 boxes */
void sdlab_atlas_cell_default(sdlab_atlas_cell *c);
/* SDLAB_EPARAM for a cell the census cannot take */
int sdlab_atlas_cell_check(const sdlab_atlas_cell *c);

enum { SDLAB_ATLAS_GLOBAL, SDLAB_ATLAS_SPURIOUS, SDLAB_ATLAS_SPURIOUS_DEAD, SDLAB_ATLAS_UNDECIDED,
       SDLAB_ATLAS_UNCONVERGED, SDLAB_ATLAS_CLASSES };
const char *sdlab_atlas_class_name(int k);

typedef struct {
  uint64_t seed;
  size_t pieces, certified;
  int global_certified;
  double global_lower, global_upper;
  size_t runs[SDLAB_ATLAS_CLASSES];
  double max_gap;        /* the largest loss above the global minimum among spurious runs (0: none) */
} sdlab_atlas_instance;

/* One instance of the cell: C.1 with `seed`, the census, the classification. */
int sdlab_atlas_instance_run(const sdlab_atlas_cell *c, uint64_t seed, sdlab_atlas_instance *out);

/* The instance as one tab-separated line (and the header naming its columns), and back; parsing fails with
 * SDLAB_EBADFILE naming `where`. */
const char *sdlab_atlas_instance_header(void);
int sdlab_atlas_instance_format(const sdlab_atlas_instance *in, char *buf, size_t len);
int sdlab_atlas_instance_parse(const char *line, const char *where, sdlab_atlas_instance *out);

/* Fractions over the runs of a set of instances, with Wilson 95% intervals (runs taken as independent), and
 * the fraction of instances with at least one spurious run with its Wilson interval. */
typedef struct {
  size_t instances, runs;
  size_t count[SDLAB_ATLAS_CLASSES];
  double frac[SDLAB_ATLAS_CLASSES], lo[SDLAB_ATLAS_CLASSES], hi[SDLAB_ATLAS_CLASSES];
  size_t with_spurious, certified_instances;
  double with_spurious_frac, with_spurious_lo, with_spurious_hi;
} sdlab_atlas_summary;

void sdlab_atlas_summarise(const sdlab_atlas_instance *in, size_t count, sdlab_atlas_summary *s);
/* the Wilson score interval of k successes in n trials at 95% */
void sdlab_atlas_wilson(size_t k, size_t n, double *lo, double *hi);

#endif
