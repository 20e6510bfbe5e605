/* sdlab_json.h: JSON through Jansson (Debian's libjansson): a builder for meta.json, metrics and the command
 * line's answers, and a reader for the files sdlab reads back.
 * The builder adds values in document order (keys are kept in the order added) and Jansson writes the text:
 * two spaces of indentation a level, one member or element a line.  A double that is an integer below 1e17 in
 * magnitude is written as that integer; any other finite double with 17 significant digits (it reads back to
 * the same double; Jansson drops an exponent's '+' and leading zeros); NaN and infinities become null. */
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
  json_t *root;      /* the outermost value, once begun */
  json_t *open[32];  /* the containers begun and not ended, outermost first */
  int depth;
  char *text;        /* the last text made */
  int oom;           /* an allocation failed, or the nesting went deeper than 32 */
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
/* The text (NUL-terminated, ending in a newline), or NULL after an allocation failure or before a value was
 * added; valid until the next call on j.  _compact: on one line, without spaces or the newline (a safetensors
 * header). */
const char *sdlab_json_text(sdlab_json *j);
const char *sdlab_json_text_compact(sdlab_json *j);
/* Write the finished document to dir/name atomically, then free it (also on failure). */
int sdlab_json_write(sdlab_json *j, const char *dir, const char *name);

#endif
