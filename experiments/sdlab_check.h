/* sdlab_check.h: the proof checker behind `sdlab check`.
 *
 * Each claim of the paper (a theorem, or one step of its proof) is evaluated on many random instances
 * against an independent computation, and tallied: instances tried, held, failed, and the first
 * counterexample in full (seed, sizes, values).  The statements are the paper's; a failure is reported
 * as found, never softened. */
#ifndef SDLAB_CHECK_H
#define SDLAB_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>

#include "sdlab_claims.h"
#include "sdlab_loss.h"
#include "sdlab_lrb.h"
#include "sdlab_model.h"
#include "sdlab_progress.h"

typedef struct {
  const sdlab_claims_row *row; /* the claim: its name, statement, method and tolerance (sdlab_claims.h) */
  size_t tried, held, failed;
  size_t undecided;       /* the independent search found neither a witness nor a refutation */
  char first[1024];       /* the first counterexample, in full */
} sdlab_claim;

typedef struct {
  sdlab_claim claims[SDLAB_CLAIMS_COUNT]; /* indexed by sdlab_claims_id, in the table's order */
  size_t count;                           /* SDLAB_CLAIMS_COUNT */
  uint64_t seed;
  size_t trials;
} sdlab_check_report;

void sdlab_check_report_init(sdlab_check_report *r, uint64_t seed, size_t trials);
void sdlab_check_report_free(sdlab_check_report *r);

/* Run every check; progress (optional) is called after each group (stage: its name).  Returns 0 or an error status (a
 * failing claim is not an error). */
int sdlab_check_run(sdlab_check_report *r, sdlab_progress_fn progress, void *ctx);

/* Theorem 3.1's Monte Carlo side: over N samples of the bench p (drawn in chunks of 1024; N a multiple of
 * 1024, x_p = W_p x, an SAE), the sampled loss L (eq. 3) of model m, its part from samples with exactly one
 * active feature (T1), and the share of samples with two or more (multi), each with its standard error.
 * w: a loss workspace for m with batch >= 1024. */
typedef struct {
  double L, se_L, T1, se_T1, multi, se_multi;
} sdlab_thm31_sample;

int sdlab_check_thm31_sample_loss(const sdlab_model *m, const sdlab_lrb_params *p, const gsl_matrix *Wp, size_t N,
                            sdlab_loss_workspace *w, sdlab_thm31_sample *e);

/* The report as Markdown (malloc'd). */
char *sdlab_check_markdown(const sdlab_check_report *r);

#endif
