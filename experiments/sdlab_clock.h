/* sdlab_clock.h: a monotonic clock in seconds, for the timings drivers report (never in an output file: the
 * same seed gives the same bytes). */
#ifndef SDLAB_CLOCK_H
#define SDLAB_CLOCK_H

#include <time.h>

static inline double
sdlab_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
