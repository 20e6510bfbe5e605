#include "sdlab_errno.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];

int
sdlab_fail(int status, const char *fmt, ...)
{
  char text[sizeof last_message]; /* formatted apart, so that the arguments may hold the message it replaces */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  memcpy(last_message, text, sizeof text);
  return status;
}

const char *
sdlab_error_message(int status)
{
  if (last_message[0] != '\0')
    return last_message;
  switch (status) {
  case SDLAB_EBADNPY: return "malformed .npy file";
  case SDLAB_ESHAPE: return "array shapes do not fit together";
  case SDLAB_EUNREACHED: return "iteration cap reached before the target";
  case SDLAB_EIMPOSSIBLE: return "the request is impossible";
  case SDLAB_EIO: return "input/output error";
  case SDLAB_ENONFINITE: return "NaN or infinity in the input";
  case SDLAB_EUSAGE: return "usage error";
  case SDLAB_EBADFILE: return "malformed data file";
  case SDLAB_EPARAM: return "a parameter is out of range or does not apply";
  default: return gsl_strerror(status);
  }
}

void
sdlab_error_clear(void)
{
  last_message[0] = '\0';
}
