/* sdlab_progress.h: how long work tells its caller how far it has come.  The library prints nothing: a
 * function that takes a while calls progress(ctx, stage, done, total, value) as it goes (stage names what it is
 * doing, done of total units of it, value a figure worth showing or NaN), and the command line shows it on a
 * terminal (sdlab_cli_progress_update in cli/sdlab_cli.h).  The trainer's loop reports its step statistics instead
 * (sdlab_run.h). */
#ifndef SDLAB_PROGRESS_H
#define SDLAB_PROGRESS_H

#include <stddef.h>

typedef void (*sdlab_progress_fn)(void *ctx, const char *stage, size_t done, size_t total, double value);

#endif
