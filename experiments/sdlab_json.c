#include "sdlab_json.h"

#include "sdlab_errno.h"
#include "sdlab_io.h"

#include <gsl/gsl_errno.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sdlab_json_init(sdlab_json *j)
{
  memset(j, 0, sizeof *j);
}

void
sdlab_json_free(sdlab_json *j)
{
  json_decref(j->root);
  free(j->text);
  memset(j, 0, sizeof *j);
}

/* v added under key to the innermost open container (appended in an array), or as the outermost value; the
 * reference to v is taken over */
static void
add(sdlab_json *j, const char *key, json_t *v)
{
  if (v == NULL || j->oom) {
    j->oom = 1;
    json_decref(v);
    return;
  }
  if (j->depth == 0) {
    if (j->root)
      j->oom = 1; /* a second outermost value */
    else
      j->root = json_incref(v);
  } else {
    json_t *c = j->open[j->depth - 1];
    if (json_is_array(c) ? json_array_append(c, v) : key ? json_object_set(c, key, v) : -1)
      j->oom = 1;
  }
  json_decref(v);
}

static void
begin(sdlab_json *j, const char *key, json_t *c)
{
  if (c && !j->oom && j->depth == 32) {
    json_decref(c);
    c = NULL;
  }
  add(j, key, c ? json_incref(c) : NULL);
  if (!j->oom)
    j->open[j->depth++] = c;
  json_decref(c);
}

static void
end(sdlab_json *j)
{
  if (j->depth > 0)
    j->depth--;
  else
    j->oom = 1;
}

void sdlab_json_object_begin(sdlab_json *j, const char *key) { begin(j, key, json_object()); }
void sdlab_json_object_end(sdlab_json *j) { end(j); }
void sdlab_json_array_begin(sdlab_json *j, const char *key) { begin(j, key, json_array()); }
void sdlab_json_array_end(sdlab_json *j) { end(j); }

void
sdlab_json_number(sdlab_json *j, const char *key, double v)
{
  if (!isfinite(v))
    add(j, key, json_null());
  else if (v == floor(v) && fabs(v) < 1e17)
    add(j, key, json_integer((json_int_t)v));
  else
    add(j, key, json_real(v));
}

void
sdlab_json_integer(sdlab_json *j, const char *key, long long v)
{
  add(j, key, json_integer((json_int_t)v));
}

/* A copy of s in which each byte that does not begin a valid UTF-8 sequence is U+FFFD (NULL: out of memory).  JSON
 * text is UTF-8, and a path (a file name's bytes) need not be: such a path is written recognisably, not refused. */
static char *
utf8_valid(const char *s)
{
  const unsigned char *u = (const unsigned char *)s;
  const size_t n = strlen(s);
  char *out = malloc(3 * n + 1), *o = out;
  for (size_t i = 0; out && i < n;) {
    const unsigned char c = u[i];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
    for (size_t k = 1; k < len; k++)
      if (i + k >= n || (u[i + k] & 0xc0) != 0x80)
        len = 0;
    if (len == 3 && ((c == 0xe0 && u[i + 1] < 0xa0) || (c == 0xed && u[i + 1] >= 0xa0))) /* overlong, surrogate */
      len = 0;
    if (len == 4 && ((c == 0xf0 && u[i + 1] < 0x90) || (c == 0xf4 && u[i + 1] >= 0x90))) /* overlong, > U+10FFFF */
      len = 0;
    if (len == 0) {
      memcpy(o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    } else {
      memcpy(o, s + i, len);
      o += len;
      i += len;
    }
  }
  if (out)
    *o = '\0';
  return out;
}

void
sdlab_json_string(sdlab_json *j, const char *key, const char *v)
{
  json_t *t = json_string(v);
  if (t == NULL && !j->oom) { /* not UTF-8 (or out of memory, which the copy meets too) */
    char *valid = utf8_valid(v);
    t = valid ? json_string(valid) : NULL;
    free(valid);
  }
  add(j, key, t);
}

void
sdlab_json_bool(sdlab_json *j, const char *key, int v)
{
  add(j, key, json_boolean(v));
}

void
sdlab_json_null(sdlab_json *j, const char *key)
{
  add(j, key, json_null());
}

void
sdlab_json_numbers(sdlab_json *j, const char *key, const double *v, size_t n)
{
  sdlab_json_array_begin(j, key);
  for (size_t i = 0; i < n; i++)
    sdlab_json_number(j, NULL, v[i]);
  sdlab_json_array_end(j);
}

static const char *
text_of(sdlab_json *j, size_t flags, const char *tail)
{
  free(j->text);
  j->text = NULL;
  if (j->oom || j->root == NULL)
    return NULL;
  char *t = json_dumps(j->root, flags | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY);
  if (t == NULL)
    return NULL;
  const size_t len = strlen(t), tl = strlen(tail);
  j->text = malloc(len + tl + 1);
  if (j->text) {
    memcpy(j->text, t, len);
    memcpy(j->text + len, tail, tl + 1);
  }
  free(t);
  return j->text;
}

const char *
sdlab_json_text(sdlab_json *j)
{
  return text_of(j, JSON_INDENT(2), "\n");
}

const char *
sdlab_json_text_compact(sdlab_json *j)
{
  return text_of(j, JSON_COMPACT, "");
}

int
sdlab_json_write(sdlab_json *j, const char *dir, const char *name)
{
  char *p = sdlab_io_path_join(dir, name);
  const char *text = sdlab_json_text(j);
  int status = p && text ? sdlab_io_atomic_write_text(p, text) : sdlab_fail(GSL_ENOMEM, "out of memory writing %s", name);
  free(p);
  sdlab_json_free(j);
  return status;
}

int
sdlab_json_load(const char *path, json_t **out)
{
  *out = NULL;
  int checked = sdlab_io_input_check(path);
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
