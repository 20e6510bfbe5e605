/* sdlab_metrics.h: the recovery metrics of §5.1 and the usual SDL statistics.
 *
 * Given learned directions as the rows of L (n_q x n_p: encoder rows W_E, or decoder columns W_D^T)
 * and ground truth W (n_p x n, unit columns):
 *   S   = |L_hat W_hat| (n_q x n): with normalise, L's rows and W's columns scaled to unit norm (cosine
 *         similarity; the default, since every M_IP the paper reports is <= 1); without, L and W as
 *         given (the raw variant, behind a flag: the paper does not say which it uses).  A zero row or
 *         column gives similarity 0.
 *   s_i = max_j S_ji                      best-match score of ground-truth feature i
 *   M_GT(tau) = (1/|E|) sum_{i in E} 1{s_i > tau}      GT Recovery
 *   M_IP      = (1/|E|) sum_{i in E} s_i               Maximum Inner Product
 *   MCC       = (1/|E|) sum_{i in E} S_{pi(i), i}       mean similarity under the optimal one-to-one
 *               matching pi of evaluated features to latents (each latent used at most once; when there
 *               are fewer latents than features, unmatched features count 0)
 * where E is the set of evaluated features: all, less the excluded ones (anchors, Table 1's caption). */
#ifndef SDLAB_METRICS_H
#define SDLAB_METRICS_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>

int sdlab_metrics_similarity(const gsl_matrix *L, const gsl_matrix *W, int normalise, int threads, gsl_matrix *S);
/* The three recovery metrics at once: S from L and W, the best-match scores into s (length n; NULL to
 * discard), M_GT(tau) and M_IP, and MCC unless mcc is NULL.  GSL_ENOMEM or the similarity's status.  `threads`
 * computes the similarity (the same bytes for any count). */
int sdlab_metrics_recovery(const gsl_matrix *L, const gsl_matrix *W, int normalise, const unsigned char *exclude,
                           double tau, int threads, double *s, double *mgt, double *mip, double *mcc);
/* The Frobenius norm sqrt(sum_ij m_ij^2). */
double sdlab_metrics_frobenius(const gsl_matrix *m);
void sdlab_metrics_best_match(const gsl_matrix *S, double *s);
/* exclude: NULL or n flags (1 = not evaluated).  Both return NaN when no feature is evaluated. */
double sdlab_metrics_mgt(const double *s, size_t n, const unsigned char *exclude, double tau);
double sdlab_metrics_mip(const double *s, size_t n, const unsigned char *exclude);
/* match (optional, length n) receives the latent matched to each feature, or (size_t)-1. */
int sdlab_metrics_mcc(const gsl_matrix *S, const unsigned char *exclude, double *mcc, size_t *match);

/* Codes statistics for a batch A (B x n_q): adds the number of non-zero entries to *nonzero and, per
 * latent, whether it fired at least once to fired[] (length n_q, OR-accumulated).  L0 = nonzero / B;
 * dead fraction = share of latents that never fired over the data. */
void sdlab_metrics_activity(const gsl_matrix *A, size_t *nonzero, unsigned char *fired);

/* Explained variance 1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the rows (relative to the
 * per-coordinate mean of X).  NaN when X has no variance. */
double sdlab_metrics_explained_variance(const gsl_matrix *X, const gsl_matrix *Xhat);

/* The same statistics over a data set streamed in batches: L0 (mean number of non-zero codes per
 * sample), the dead fraction (latents that never fired) and the explained variance.  The variance
 * about the mean is accumulated with Welford's update per coordinate (no cancellation). */
typedef struct {
  size_t q, r, N, nonzero;
  unsigned char *fired; /* q */
  double sq_err;
  double *mean, *m2;    /* r each: running mean and sum of squared deviations */
} sdlab_metrics_stats;

int sdlab_metrics_stats_init(sdlab_metrics_stats *st, size_t q, size_t r);
/* A: B x q codes; X: B x r targets; Xhat: B x r reconstructions. */
int sdlab_metrics_stats_add(sdlab_metrics_stats *st, const gsl_matrix *A, const gsl_matrix *X, const gsl_matrix *Xhat);
void sdlab_metrics_stats_result(const sdlab_metrics_stats *st, double *l0, double *dead_fraction, double *ev);
void sdlab_metrics_stats_free(sdlab_metrics_stats *st);

#endif
