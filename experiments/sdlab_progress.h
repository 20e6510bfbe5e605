/* sdlab_progress.h: how long work tells its caller how far it has come.  The library prints nothing: a
 * function that takes a while calls progress(ctx, stage, done, total, fig, nfig) as it goes: stage names what it
 * is doing, done of total units of it, and fig[0..nfig) are figures worth showing beside it, each named (the
 * lrb's interference; a training step's loss, L0 and dead fraction; an epoch's loss and accuracies).  The
 * command line shows them on a terminal (sdlab_cli_progress_update in cli/sdlab_cli.h, or a command's own
 * display).  Every long computation reports through this one type. */
#ifndef SDLAB_PROGRESS_H
#define SDLAB_PROGRESS_H

#include <stddef.h>

typedef struct {
  const char *name;
  double value;
} sdlab_progress_figure;

typedef void (*sdlab_progress_fn)(void *ctx, const char *stage, size_t done, size_t total,
                                  const sdlab_progress_figure *fig, size_t nfig);

#endif
