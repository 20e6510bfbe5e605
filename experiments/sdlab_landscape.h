/* sdlab_landscape.h: the landscape census behind `sdlab landscape`.
 *
 * Every piece (activation pattern up to relabelling the neurons) of L~ for given ground truth is
 * enumerated exactly; on each, alternating convex search from several starts finds partial optima (an
 * upper bound, with its point) and the subspace relaxation gives a rigorous lower bound
 * (sdlab_piece_lower_bound); a piece is certified when the two meet.  Then R runs of full-batch Adam on L~
 * from random initialisations are mapped to the piece they end in (improving its upper bound when ACS from
 * the end point does better).  Last, every piece still uncertified gets the spatial branch and bound
 * (sdlab_bnb, ReLU) started from its best point, up to bnb_nodes boxes.  SGD end points are classified
 * against the final bounds. */
#ifndef SDLAB_LANDSCAPE_H
#define SDLAB_LANDSCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "sdlab_activation.h"
#include "sdlab_progress.h"

typedef struct {
  uint64_t F[16];          /* the pattern, F_1 <= ... <= F_{n_q} (canonical order) */
  int open;                /* its region has a nonempty interior */
  size_t dead;             /* neurons with F_i empty */
  int polysemantic;
  double lower, upper;     /* rigorous lower bound; best partial optimum found */
  int bound_kind;          /* 1: exact relaxed minimum (grouped supports), 0: subspace bound, 2: branch and bound */
  size_t bnb_nodes;        /* boxes the branch and bound bounded (0: not run, the relaxation sufficed) */
  size_t bnb_degenerate;   /* of them, boxes where code vectors may become parallel (span bound only) */
  int upper_inside;        /* the best point lies inside the pattern's region (every strict row > 0) */
  size_t partial_optima;   /* distinct partial-optimum values found by the starts */
  size_t sgd_ends;         /* SGD runs ending in this piece */
  double *WE, *WD;         /* the best point */
} sdlab_landscape_piece;

typedef enum { SDLAB_SGD_GLOBAL, SDLAB_SGD_SPURIOUS, SDLAB_SGD_DEAD, SDLAB_SGD_NOT_CONVERGED } sdlab_sgd_class;

typedef struct {
  uint64_t seed;
  double loss;
  size_t piece;            /* index into pieces */
  sdlab_sgd_class cls;
  size_t steps;
} sdlab_landscape_run;

typedef struct {
  size_t n, np, nq, nr;
  sdlab_activation act;
  size_t count;
  sdlab_landscape_piece *pieces;
  double global_lower, global_upper;
  size_t global_piece;     /* the piece of global_upper */
  size_t certified;        /* pieces whose bounds meet (upper - lower <= tol max(1, upper)) */
  size_t certified_bnb;    /* of them, certified by the branch and bound */
  size_t bnb_run;          /* pieces the branch and bound was run on */
  size_t bnb_resumed;      /* of them, pieces whose results the journal held */
  size_t runs_count;
  sdlab_landscape_run *runs;
  double seconds_pieces, seconds_sgd, seconds_bnb;
} sdlab_landscape;

typedef struct {
  size_t starts;           /* ACS starts per piece (the witness and perturbations of it) */
  size_t sgd_runs, sgd_steps;
  double lr, tol;          /* Adam's learning rate; the classification and certification tolerance */
  uint64_t seed;
  size_t max_pieces;
  size_t bnb_nodes;        /* branch-and-bound boxes per uncertified piece (0: no branch and bound) */
  int threads;             /* the branch and bound's pieces over this many threads (the same bytes for any) */
  size_t anchors;          /* SGD with feature anchoring (sdlab_gd): latent j < anchors pulled to feature j; an
                            * anchored run is classified by the partial optimum of L~ that alternating convex
                            * search reaches from its end point (it minimised L~ plus the anchor term) */
  double anchor_weight;
  int basin;               /* judge every run as an anchored one is (by the partial optimum its end point leads to) */
  const char *journal;     /* the branch and bound's results appended to this file as each piece finishes, and
                            * taken from it when it exists, so that an interrupted census resumes there with the
                            * same results; refused when it names another census.  NULL: none */
} sdlab_landscape_params;

void sdlab_landscape_params_default(sdlab_landscape_params *p);

/* Wp: n_p x n, Wr: n_r x n, Md: n; act: relu, topk-relu or topk with k = n_q. */
int sdlab_landscape_run_census(const gsl_matrix *Wp, const gsl_matrix *Wr, const gsl_vector *Md, size_t nq,
                               const sdlab_activation *act, const sdlab_landscape_params *p, sdlab_landscape *out,
                               sdlab_progress_fn progress,
                               void *ctx);
void sdlab_landscape_free(sdlab_landscape *l);

/* What a census's summary counts: pieces with an interior, with dead neurons, polysemantic, with the exact
 * relaxed bound; SGD end points by class (sdlab_sgd_class). */
typedef struct {
  size_t open, dead, polysemantic, exact_relaxed;
  size_t classes[4];
} sdlab_landscape_counts;

void sdlab_landscape_count(const sdlab_landscape *l, sdlab_landscape_counts *c);

/* The census's files in the existing directory dir: pieces.tsv (sorted by the best value found, ties by piece),
 * sgd.tsv (each run's piece by that rank) and landscape.json (p: the census's parameters, md: every M_d), each
 * written under a temporary name and renamed. */
int sdlab_landscape_write(const sdlab_landscape *l, const sdlab_landscape_params *p, double md, const char *dir);
const char *sdlab_landscape_sgd_class_name(sdlab_sgd_class c);

#endif
