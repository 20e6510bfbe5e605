/* sdlab_errno.h: status codes and the last-error message.
 *
 * Every sdlab function that can fail returns an int status: 0 (SDLAB_SUCCESS) on success, a GSL code
 * (GSL_EINVAL, GSL_ENOMEM, ...) for the generic failures GSL already names, or one of the project codes
 * below (all above 1024).  Library code never prints: when a function fails it records one sentence a
 * user can act on, which the command line (or a test) reads with sdlab_error_message().  The message is
 * kept per thread.  Its three functions (sdlab_fail, sdlab_error_message, sdlab_error_clear) are named for
 * what they do, not for the module, as gsl_errno.h's gsl_error and gsl_strerror are: every file calls them. */
#ifndef SDLAB_ERRNO_H
#define SDLAB_ERRNO_H

#include <gsl/gsl_errno.h>

enum {
  SDLAB_SUCCESS = 0,
  SDLAB_EBADNPY = 1025,   /* a .npy file is malformed, truncated or of an unsupported kind */
  SDLAB_ESHAPE = 1026,    /* arrays whose shapes do not fit together */
  SDLAB_EUNREACHED = 1027,/* an iterative method stopped at its cap before reaching its target */
  SDLAB_EIMPOSSIBLE = 1028,/* the request is mathematically impossible (the message says why) */
  SDLAB_EIO = 1029,       /* reading or writing a file failed */
  SDLAB_ENONFINITE = 1030,/* NaN or infinity where finite numbers are required */
  SDLAB_EUSAGE = 1031,    /* a command-line usage error */
  SDLAB_EBADFILE = 1032,  /* a data file other than .npy (IDX, checkpoint) is malformed or truncated */
  SDLAB_EPARAM = 1033     /* a parameter the caller chose is out of range, meaningless or does not apply (on
                           * the command line: a usage error, exit status 2) */
};

/* Record a formatted message for the calling thread and return `status` (so that a function can write
 * `return sdlab_fail(GSL_EINVAL, "...", ...);`).  The arguments may include sdlab_error_message(): a caller
 * adds its context to the message it received with sdlab_fail(status, "context: %s", sdlab_error_message(status)). */
int sdlab_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The message recorded by the last failing sdlab call on this thread, or a generic text for `status`
 * when none was recorded.  The returned string is owned by sdlab and stays valid until the next call. */
const char *sdlab_error_message(int status);

/* Forget the recorded message (the command line calls this before each operation). */
void sdlab_error_clear(void);

#endif
