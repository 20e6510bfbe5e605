#include "sdlab_json.h"

#include "sdlab_errno.h"
#include "sdlab_io.h"

#include <gsl/gsl_errno.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sdlab_json_init(sdlab_json *j)
{
  memset(j, 0, sizeof *j);
  j->first[0] = 1;
}

void
sdlab_json_free(sdlab_json *j)
{
  free(j->buf);
  memset(j, 0, sizeof *j);
}

static void
put(sdlab_json *j, const char *fmt, ...)
{
  if (j->oom)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = j->cap - j->len;
    int n = vsnprintf(j->buf ? j->buf + j->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      j->oom = 1;
      return;
    }
    if ((size_t)n < room) {
      j->len += (size_t)n;
      return;
    }
    size_t cap = (j->cap ? j->cap * 2 : 256) + (size_t)n;
    char *b = realloc(j->buf, cap);
    if (b == NULL) {
      j->oom = 1;
      return;
    }
    j->buf = b;
    j->cap = cap;
  }
}

static void
put_string(sdlab_json *j, const char *s)
{
  put(j, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      put(j, "\\%c", c);
    else if (c == '\n')
      put(j, "\\n");
    else if (c == '\t')
      put(j, "\\t");
    else if (c < 0x20)
      put(j, "\\u%04x", c);
    else
      put(j, "%c", c);
  }
  put(j, "\"");
}

/* separator, indentation and key before a value */
static void
lead(sdlab_json *j, const char *key)
{
  int d = j->depth;
  if (!j->first[d])
    put(j, ",");
  j->first[d] = 0;
  if (d > 0 && !j->inline_[d])
    put(j, "\n%*s", 2 * d, "");
  else if (d > 0 && j->inline_[d] && j->len && j->buf[j->len - 1] == ',')
    put(j, " ");
  if (key) {
    put_string(j, key);
    put(j, ": ");
  }
}

static void
open_level(sdlab_json *j, const char *key, char ch, int inline_array)
{
  lead(j, key);
  put(j, "%c", ch);
  if (j->depth + 1 < 32) {
    j->depth++;
    j->first[j->depth] = 1;
    j->inline_[j->depth] = inline_array;
  } else {
    j->oom = 1;
  }
}

static void
close_level(sdlab_json *j, char ch)
{
  int empty = j->first[j->depth], inl = j->inline_[j->depth];
  j->depth--;
  if (!empty && !inl)
    put(j, "\n%*s", 2 * j->depth, "");
  put(j, "%c", ch);
  if (j->depth == 0)
    put(j, "\n");
}

void sdlab_json_object_begin(sdlab_json *j, const char *key) { open_level(j, key, '{', 0); }
void sdlab_json_object_end(sdlab_json *j) { close_level(j, '}'); }
void sdlab_json_array_begin(sdlab_json *j, const char *key) { open_level(j, key, '[', 1); }
void sdlab_json_array_end(sdlab_json *j) { close_level(j, ']'); }

static void
put_number(sdlab_json *j, double v)
{
  if (!isfinite(v))
    put(j, "null");
  else if (v == floor(v) && fabs(v) < 1e15)
    put(j, "%.0f", v);
  else
    put(j, "%.17g", v);
}

void
sdlab_json_number(sdlab_json *j, const char *key, double v)
{
  lead(j, key);
  put_number(j, v);
}

void
sdlab_json_integer(sdlab_json *j, const char *key, long long v)
{
  lead(j, key);
  put(j, "%lld", v);
}

void
sdlab_json_string(sdlab_json *j, const char *key, const char *v)
{
  lead(j, key);
  put_string(j, v);
}

void
sdlab_json_bool(sdlab_json *j, const char *key, int v)
{
  lead(j, key);
  put(j, v ? "true" : "false");
}

void
sdlab_json_null(sdlab_json *j, const char *key)
{
  lead(j, key);
  put(j, "null");
}

void
sdlab_json_numbers(sdlab_json *j, const char *key, const double *v, size_t n)
{
  sdlab_json_array_begin(j, key);
  for (size_t i = 0; i < n; i++)
    sdlab_json_number(j, NULL, v[i]);
  sdlab_json_array_end(j);
}

const char *
sdlab_json_text(sdlab_json *j)
{
  if (j->oom)
    return NULL;
  if (j->buf == NULL)
    put(j, "");
  return j->oom ? NULL : j->buf;
}

int
sdlab_json_write(sdlab_json *j, const char *dir, const char *name)
{
  char *p = sdlab_path_join(dir, name);
  const char *text = sdlab_json_text(j);
  int status = p && text ? sdlab_atomic_write_text(p, text) : sdlab_fail(GSL_ENOMEM, "out of memory writing %s", name);
  free(p);
  sdlab_json_free(j);
  return status;
}

int
sdlab_json_load(const char *path, json_t **out)
{
  *out = NULL;
  int checked = sdlab_input_check(path);
  if (checked)
    return checked;
  json_error_t e;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
  if (root == NULL)
    return e.line < 0 || json_error_code(&e) == json_error_cannot_open_file
               ? sdlab_fail(SDLAB_EIO, "cannot read %s: %s", path, e.text)
               : sdlab_fail(SDLAB_EBADFILE, "%s is not valid JSON: %s (line %d, column %d)", path, e.text, e.line,
                            e.column);
  *out = root;
  return SDLAB_SUCCESS;
}

json_t *
sdlab_json_at(json_t *root, const char *keys)
{
  char key[256];
  while (root && *keys) {
    size_t len = strcspn(keys, "/");
    if (len >= sizeof key)
      return NULL;
    memcpy(key, keys, len);
    key[len] = '\0';
    root = json_is_object(root) ? json_object_get(root, key) : NULL;
    keys += len + (keys[len] == '/');
  }
  return root;
}
