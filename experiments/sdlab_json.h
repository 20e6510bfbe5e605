/* sdlab_json.h: a small JSON writer for meta.json, metrics and the command line's answers, and a reader (Jansson,
 * Debian's libjansson) for the files sdlab reads back.
 * Objects are indented one member per line; arrays of numbers stay on one line.  Numbers are written
 * with 17 significant digits (they read back to the same double); NaN and infinities become null. */
#ifndef SDLAB_JSON_H
#define SDLAB_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Parse the JSON file at path, strictly (a duplicated key is an error); *out is its root (json_decref it).
 * SDLAB_EBADFILE naming the file, line and column when it is not JSON; SDLAB_EIO when it cannot be read. */
int sdlab_json_load(const char *path, json_t **out);
/* The member at the '/'-separated key path (for example "parameters/hierarchy") of root, or NULL. */
json_t *sdlab_json_at(json_t *root, const char *keys);

typedef struct {
  char *buf;
  size_t len, cap;
  int depth;
  int first[32];   /* no member written yet at this depth */
  int inline_[32]; /* this level is an inline array */
  int oom;
} sdlab_json;

void sdlab_json_init(sdlab_json *j);
void sdlab_json_free(sdlab_json *j);
/* key is NULL inside arrays and for the outermost value */
void sdlab_json_object_begin(sdlab_json *j, const char *key);
void sdlab_json_object_end(sdlab_json *j);
void sdlab_json_array_begin(sdlab_json *j, const char *key);
void sdlab_json_array_end(sdlab_json *j);
void sdlab_json_number(sdlab_json *j, const char *key, double v);
void sdlab_json_integer(sdlab_json *j, const char *key, long long v);
void sdlab_json_string(sdlab_json *j, const char *key, const char *v);
void sdlab_json_bool(sdlab_json *j, const char *key, int v);
void sdlab_json_null(sdlab_json *j, const char *key);
void sdlab_json_numbers(sdlab_json *j, const char *key, const double *v, size_t n);
/* The text (NUL-terminated, ending in a newline when complete), or NULL after an allocation failure. */
const char *sdlab_json_text(sdlab_json *j);
/* Write the finished document to dir/name atomically, then free it (also on failure). */
int sdlab_json_write(sdlab_json *j, const char *dir, const char *name);

#endif
