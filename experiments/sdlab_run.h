/* sdlab_run.h: a training run on disk, around the trainer (sdlab_train.h): what sdlab train reads and writes.
 *
 *   inputs       the arrays a run reads, each with its path, shape and (when a checkpoint needs it) CRC-32
 *   history      the per-step curve and the per-epoch scores (M_GT, M_IP of encoder rows and decoder columns)
 *   checkpoint   format 2 (sdlab_run.c): the command line, the inputs' record, the trainer's state, the
 *                history and a CRC-32 of it all; written atomically, checked whole before a resume reads it
 *   staging      RUN.partial, where a run's files are made before RUN is published
 *   outputs      W_E.npy, W_D.npy and the biases, sae.safetensors (and its SAELens name
 *                sae_weights.safetensors), cfg.json, run.json, curve.tsv, metrics.json, and on request
 *                codes.npy and top.npy
 * Nothing here prints: failures are recorded with sdlab_fail and returned. */
#ifndef SDLAB_RUN_H
#define SDLAB_RUN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <gsl/gsl_matrix.h>

#include "sdlab_progress.h"
#include "sdlab_train.h"

/* the stage of the training loop's progress (sdlab_run_loop.progress) */
#define SDLAB_RUN_STEP "training"

typedef struct {
  double loss, mse, l0, dead, lr;
} sdlab_run_point;

typedef struct {
  double loss, l0, dead, mgt, mip, dmgt, dmip; /* M_GT and M_IP of the encoder rows, then of the decoder columns */
} sdlab_run_epoch;

typedef struct {
  sdlab_run_point *curve;
  size_t ncurve;
  sdlab_run_epoch *epochs;
  size_t nepochs;
} sdlab_run_history;

/* The inputs a run reads.  A checkpoint records each one's shape and CRC-32, so that a resumed run refuses
 * data that changed since: the shapes fix the number of steps (the history's buffers are sized from them), the CRC
 * catches values edited in place. */
enum { SDLAB_RUN_XP, SDLAB_RUN_XR, SDLAB_RUN_WP, SDLAB_RUN_WR, SDLAB_RUN_ANCHORS, SDLAB_RUN_NINPUTS };

typedef struct {
  uint64_t rows, cols; /* 0 x 0: the run has no such input */
  uint32_t crc;
} sdlab_run_print;

typedef struct {
  char *path[SDLAB_RUN_NINPUTS];          /* owned; NULL when absent */
  const float *f[SDLAB_RUN_NINPUTS];      /* float32 inputs as the trainer reads them (x_p, x_r, the anchor rows) */
  const gsl_matrix *m[SDLAB_RUN_NINPUTS]; /* float64 inputs (W_p, W_r) */
  size_t rows[SDLAB_RUN_NINPUTS], cols[SDLAB_RUN_NINPUTS];
  sdlab_run_print print[SDLAB_RUN_NINPUTS];
  int printed;
} sdlab_run_inputs;

/* Record input k (taking ownership of path); free the paths. */
void sdlab_run_inputs_set(sdlab_run_inputs *in, int k, char *path, const float *f, const gsl_matrix *m, size_t rows,
                          size_t cols);
void sdlab_run_inputs_free(sdlab_run_inputs *in);

/* Write a checkpoint of the run (its command line argv, less --stop-after and --quiet) to path, atomically. */
int sdlab_run_checkpoint_write(const char *path, int argc, char **argv, sdlab_trainer *t, const sdlab_run_history *h,
                               sdlab_run_inputs *in);
/* Open the checkpoint at path, check it whole (magic, version, CRC-32) and read its command line (argv
 * malloc'd, argv[0] "train"); *fp is left at the input record. */
int sdlab_run_checkpoint_args(const char *path, int *argc, char ***argv, FILE **fp);
/* The checkpoint's input record against the inputs the resumed run has just read (shapes and CRC-32s). */
int sdlab_run_checkpoint_inputs(FILE *fp, const char *path, sdlab_run_inputs *in);
/* The trainer's state and the history, every count bounded by the run's total steps and steps per epoch. */
int sdlab_run_checkpoint_state(FILE *fp, const char *path, sdlab_trainer *t, sdlab_run_history *h, size_t total,
                               size_t spe);

/* --data: a bench directory (x_p.npy; x_r.npy, W_p.npy and W_r.npy when present) or one .npy file of inputs,
 * its arrays recorded in `in` and checked against each other.  SDLAB_EIO with nothing loaded when data does not
 * exist. */
typedef struct {
  float *xp, *xr;                /* N x p inputs; N x r targets (NULL: an SAE, r = p) */
  size_t N, p, r;
  gsl_matrix *Wp, *Wr;           /* the truth, when the bench has it */
  int dir;                       /* data is a bench directory */
} sdlab_run_data;
int sdlab_run_data_load(const char *data, sdlab_run_data *d, sdlab_run_inputs *in);
void sdlab_run_data_free(sdlab_run_data *d);

/* Anchors (eqs. 22-26): the rows of `file` (an SAE's directions, made unit; recorded in `in`), or `count` features
 * of the truth drawn from the seed (their W_p and W_r columns, r entries each). */
typedef struct {
  float *p, *r;                  /* count x p and count x r */
  uint64_t *ids;                 /* the truth's features (NULL for a file) */
  size_t count;
} sdlab_run_anchors;
int sdlab_run_anchors_make(const sdlab_run_data *d, const char *file, size_t count, uint64_t seed, size_t r,
                           sdlab_run_anchors *an, sdlab_run_inputs *in);
void sdlab_run_anchors_free(sdlab_run_anchors *an);

/* A resumed run's RUN.partial emptied of everything but its checkpoint; a new run's RUN.partial made (--force:
 * over a leftover; without it a leftover is refused naming what to do). */
int sdlab_run_staging_clean(const char *staging);
int sdlab_run_staging_begin(const char *staging, const char *out, int force);

/* --init DIR: the trainer's W_E and W_D from a trained model (an sdlab run's arrays and biases, or another
 * tool's dictionary), checked against the run's sizes. */
int sdlab_run_init(sdlab_trainer *t, const char *dir, const sdlab_train_config *c);

/* M_GT (tau = 0.95), M_IP and MCC of q learned directions (rows of D, q x dim) against the truth's columns. */
void sdlab_run_recovery(const float *D, size_t q, size_t dim, const gsl_matrix *truth, const unsigned char *exclude,
                        int threads, double *mgt, double *mip, double *mcc);

/* The epoch loop: each epoch's shuffle (from the seed and the epoch alone, so a resumed run takes the same
 * batches), a step per batch into the history, the per-epoch scores against the truth, the convergence rule R1
 * (two whole epochs after the warm-up, the loss improving by less than converge of the earlier), checkpoints
 * every checkpoint_every steps and when stopped or interrupted. */
typedef struct {
  const float *xp, *xr;          /* the N inputs (and targets, NULL for an SAE) */
  size_t N;
  const gsl_matrix *Wp, *Wr;     /* the truth for the per-epoch scores (Wp NULL: none) */
  const unsigned char *exclude;  /* features left out of the scores, or NULL */
  int threads;
  size_t steps, steps_per_epoch; /* the cap on the steps, and an epoch's */
  double converge;               /* R1's tolerance (0: run to the cap) */
  size_t checkpoint_every;       /* 0: only when stopped or interrupted */
  size_t stop_after;             /* stop (with a checkpoint) after this step (0: never) */
  const char *checkpoint;        /* the checkpoint's path, and what it records */
  int argc;
  char **argv;
  sdlab_run_inputs *in;
  volatile sig_atomic_t *interrupted; /* a signal's number, set by a handler, read after each step (NULL: none) */
  sdlab_progress_fn progress;    /* after each step: stage SDLAB_RUN_STEP, the step of the cap's, and three
                                  * figures: the step's loss, L0 and dead fraction */
  void *ctx;
} sdlab_run_loop;

typedef enum { SDLAB_RUN_DONE, SDLAB_RUN_CONVERGED, SDLAB_RUN_STOPPED, SDLAB_RUN_INTERRUPTED } sdlab_run_end;

/* Train from the trainer's step to the cap (or the rule); *steps the run's steps (the cap, or where the rule
 * stopped it), *end how it ended, *signal the signal that interrupted it.  The history's buffers hold the cap's
 * steps and epochs. */
int sdlab_run_train(sdlab_trainer *t, sdlab_run_history *h, const sdlab_run_loop *L, size_t *steps, sdlab_run_end *end,
                    int *signal);

/* What the outputs record beyond the trainer and its history. */
typedef struct {
  const char *method;            /* --method as given */
  const char *bench;             /* the bench directory (NULL: activations from a file) */
  const float *xp, *xr;          /* the N inputs (and targets, NULL for an SAE) */
  size_t N;
  const gsl_matrix *Wp, *Wr;     /* the ground truth, when the bench has it (NULL otherwise) */
  const unsigned char *exclude;  /* features left out of the scores (anchors), or NULL */
  const uint64_t *anchor_ids;    /* the anchored features (written as anchors.npy), anchors of them */
  size_t anchors;
  int threads;
  size_t top;                    /* --top K (0: no top.npy) */
  int codes;                     /* --codes */
  size_t steps, steps_per_epoch; /* the steps run (fewer than asked when the rule stopped the run) */
  double converge;               /* --converge (0: none) and whether the rule stopped the run */
  int converged;
} sdlab_run_info;

/* The final statistics metrics.json records: on the first min(N, 8192) inputs, and against the truth. */
typedef struct {
  double l0, dead, ev, mgt, mip;
} sdlab_run_final;

/* Every output of a trained run into staging (see above); fin (may be NULL) gets the final statistics. */
int sdlab_run_write(sdlab_trainer *t, const sdlab_run_history *h, const sdlab_run_info *info, const char *staging,
                    sdlab_run_final *fin);

#endif
