#define _POSIX_C_SOURCE 200809L
#include "sdlab_io.h"
#include "sdlab_errno.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int
sdlab_io_input_check(const char *path)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return sdlab_fail(SDLAB_EIO, "cannot open %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return sdlab_fail(SDLAB_EBADFILE, "%s is not a regular file (%s): inputs are read from regular files", path,
                      S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" : "a device or socket");
  return SDLAB_SUCCESS;
}

int
sdlab_io_path_exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

char *
sdlab_io_path_join(const char *dir, const char *name)
{
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (p == NULL)
    return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

int
sdlab_io_atomic_open(sdlab_io_atomic_file *f, const char *path)
{
  memset(f, 0, sizeof *f);
  size_t len = strlen(path);
  f->final_path = strdup(path);
  f->tmp_path = malloc(len + 32);
  if (f->final_path == NULL || f->tmp_path == NULL) {
    sdlab_io_atomic_abort(f);
    return sdlab_fail(GSL_ENOMEM, "out of memory opening %s", path);
  }
  /* PATH.tmp-PID.XXXXXX: the process id lets a later writer of PATH remove what a killed one left */
  int status = sdlab_io_outdir_clean_stale(path);
  if (status) {
    sdlab_io_atomic_abort(f);
    return status;
  }
  snprintf(f->tmp_path, len + 32, "%s.tmp-%ld.XXXXXX", path, (long)getpid());
  int fd = mkstemp(f->tmp_path);
  if (fd < 0) {
    int e = errno;
    free(f->tmp_path);
    f->tmp_path = NULL;
    sdlab_io_atomic_abort(f);
    return sdlab_fail(SDLAB_EIO, "cannot create a file beside %s: %s", path, strerror(e));
  }
  /* mkstemp creates mode 0600; give the file the mode a plain fopen would (0666 less the umask) */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  f->fp = fdopen(fd, "wb");
  if (f->fp == NULL) {
    close(fd);
    sdlab_io_atomic_abort(f);
    return sdlab_fail(SDLAB_EIO, "cannot open a file beside %s", path);
  }
  return SDLAB_SUCCESS;
}

int
sdlab_io_atomic_commit(sdlab_io_atomic_file *f)
{
  int bad = ferror(f->fp);
  if (fclose(f->fp) != 0)
    bad = 1;
  f->fp = NULL;
  if (bad) {
    int e = errno;
    sdlab_fail(SDLAB_EIO, "writing %s failed: %s", f->final_path, strerror(e)); /* before abort frees the name */
    sdlab_io_atomic_abort(f);
    return SDLAB_EIO;
  }
  if (rename(f->tmp_path, f->final_path) != 0) {
    int e = errno;
    sdlab_fail(SDLAB_EIO, "cannot rename into %s: %s", f->final_path, strerror(e));
    sdlab_io_atomic_abort(f);
    return SDLAB_EIO;
  }
  free(f->tmp_path);
  free(f->final_path);
  f->tmp_path = f->final_path = NULL;
  return SDLAB_SUCCESS;
}

void
sdlab_io_atomic_abort(sdlab_io_atomic_file *f)
{
  if (f->fp)
    fclose(f->fp);
  if (f->tmp_path)
    unlink(f->tmp_path);
  free(f->tmp_path);
  free(f->final_path);
  memset(f, 0, sizeof *f);
}

int
sdlab_io_atomic_write_all(size_t n, const char *const *paths, const void *const *data, const size_t *lens)
{
  sdlab_io_atomic_file f[8];
  const char *kept[8];
  const void *bytes[8];
  size_t sizes[8], m = 0;
  for (size_t k = 0; k < n; k++) /* the files asked for: a NULL path is none */
    if (paths[k]) {
      if (m == 8)
        return sdlab_fail(GSL_EINVAL, "sdlab_io_atomic_write_all takes at most 8 files");
      kept[m] = paths[k];
      bytes[m] = data[k];
      sizes[m++] = lens ? lens[k] : strlen((const char *)data[k]);
    }
  n = m;
  paths = kept;
  data = bytes;
  lens = sizes;
  int status = SDLAB_SUCCESS;
  size_t opened = 0;
  for (; opened < n && !status; opened++) {
    status = sdlab_io_atomic_open(&f[opened], paths[opened]);
    const size_t len = lens[opened];
    if (!status && (fwrite(data[opened], 1, len, f[opened].fp) != len || fflush(f[opened].fp) != 0 ||
                    ferror(f[opened].fp)))
      status = sdlab_fail(SDLAB_EIO, "writing %s failed: %s", paths[opened], strerror(errno));
    if (status)
      sdlab_io_atomic_abort(&f[opened]);
  }
  if (status) { /* none renamed yet: the others' temporary files go */
    for (size_t k = 0; k + 1 < opened; k++)
      sdlab_io_atomic_abort(&f[k]);
    return status;
  }
  size_t done = 0;
  for (; done < n && !status; done++)
    status = sdlab_io_atomic_commit(&f[done]);
  if (status) { /* the files renamed before the failure go too: all or none */
    for (size_t k = 0; k + 1 < done; k++)
      unlink(paths[k]);
    for (size_t k = done; k < n; k++)
      sdlab_io_atomic_abort(&f[k]);
  }
  return status;
}

int
sdlab_io_atomic_write_text(const char *path, const char *text)
{
  sdlab_io_atomic_file f;
  int status = sdlab_io_atomic_open(&f, path);
  if (status)
    return status;
  fputs(text, f.fp);
  return sdlab_io_atomic_commit(&f);
}

/* Remove a directory and everything under it (symbolic links are removed, never followed); anything else that
 * is not a directory (a regular file replaced by --force) is unlinked. */
static void
remove_tree(const char *dir)
{
  struct stat top;
  if (lstat(dir, &top) == 0 && !S_ISDIR(top.st_mode)) {
    unlink(dir);
    return;
  }
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char *p = sdlab_io_path_join(dir, e->d_name);
      struct stat st;
      if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
        remove_tree(p);
      else if (p)
        unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* The process id in `name` when it reads BASE SUFFIX DIGITS (for example "run.partial-4242"), followed by
 * mkstemp's ".XXXXXX" when `unique`, else 0. */
static long
leftover_pid(const char *name, const char *base, size_t blen, const char *suffix, int unique)
{
  size_t slen = strlen(suffix);
  if (strncmp(name, base, blen) != 0 || strncmp(name + blen, suffix, slen) != 0)
    return 0;
  const char *digits = name + blen + slen;
  char *end = NULL;
  errno = 0;
  long pid = digits[0] >= '1' && digits[0] <= '9' ? strtol(digits, &end, 10) : 0;
  int tail_ok = unique ? end && end[0] == '.' && strlen(end) == 7 : end && *end == '\0';
  return pid > 0 && errno == 0 && tail_ok ? pid : 0;
}

/* A process that no longer exists: kill(pid, 0) fails with ESRCH (a pid we may not signal is alive). */
static int
pid_is_dead(long pid)
{
  return pid != (long)getpid() && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Remove parent/name, a leftover of the dead process pid; an error names it when it stays. */
static int
remove_leftover(const char *parent, const char *name, long pid)
{
  char *p = sdlab_io_path_join(parent, name);
  if (p == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  remove_tree(p);
  struct stat st;
  int status = lstat(p, &st) == 0 ? sdlab_fail(SDLAB_EIO, "cannot remove %s, left by the killed process %ld: remove "
                                               "it by hand", p, pid) : SDLAB_SUCCESS;
  free(p);
  return status;
}

/* Split a copy of `path` (trailing slashes dropped) into its parent directory and its last name; *copy is
 * malloc'd (NULL when out of memory) and holds the strings *parent and *base point into (or "." and "/"). */
static void
split_path(const char *path, char **copy, const char **parent, const char **base)
{
  char *c = *copy = strdup(path);
  if (c == NULL)
    return;
  size_t len = strlen(c);
  while (len > 1 && c[len - 1] == '/')
    c[--len] = '\0';
  char *slash = strrchr(c, '/');
  *parent = slash == NULL ? "." : slash == c ? "/" : c;
  *base = slash ? slash + 1 : c;
  if (slash && slash != c)
    *slash = '\0';
}

int
sdlab_io_space_check(const char *out, uint64_t need)
{
  char *copy;
  const char *parent, *base;
  split_path(out, &copy, &parent, &base);
  if (copy == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  struct statvfs vfs;
  int status = SDLAB_SUCCESS;
  if (statvfs(parent, &vfs) != 0)
    status = sdlab_fail(SDLAB_EIO, "cannot write beside %s: %s", out, strerror(errno));
  else if (need > (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize)
    status = sdlab_fail(SDLAB_EIO, "%s needs %llu bytes but its filesystem has %llu free; nothing was written", out,
                        (unsigned long long)need, (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize);
  free(copy);
  return status;
}

int
sdlab_io_memory_check(const char *what, double need)
{
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  const double have = pages > 0 && size > 0 ? (double)pages * (double)size : INFINITY;
  return need > have ? sdlab_fail(GSL_ENOMEM, "%s needs about %.4g bytes of memory but this machine has %.4g",
                                  what, need, have)
                     : SDLAB_SUCCESS;
}

int
sdlab_io_outdir_clean_stale(const char *dir)
{
  char *copy;
  const char *parent, *base;
  split_path(dir, &copy, &parent, &base);
  if (copy == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  const size_t blen = strlen(base);
  DIR *d = opendir(parent);
  int status = SDLAB_SUCCESS;
  struct dirent *e;
  while (d && !status && (e = readdir(d)) != NULL) {
    long pid = leftover_pid(e->d_name, base, blen, ".partial-", 0);
    if (pid == 0)
      pid = leftover_pid(e->d_name, base, blen, ".old-", 0);
    if (pid == 0)
      pid = leftover_pid(e->d_name, base, blen, ".tmp-", 1);
    if (pid && pid_is_dead(pid))
      status = remove_leftover(parent, e->d_name, pid);
  }
  if (d)
    closedir(d);
  free(copy);
  return status; /* an unreadable parent is reported when the output is made there */
}

int
sdlab_io_outdir_begin(const char *dir, int force, char **staging)
{
  struct stat st;
  *staging = NULL;
  if (stat(dir, &st) == 0 && !force)
    return sdlab_fail(GSL_EINVAL, "%s already exists (use --force to replace it)", dir);
  int status = sdlab_io_outdir_clean_stale(dir);
  if (status)
    return status;
  size_t len = strlen(dir) + 32;
  char *s = malloc(len);
  if (s == NULL)
    return sdlab_fail(GSL_ENOMEM, "out of memory");
  snprintf(s, len, "%s.partial-%ld", dir, (long)getpid());
  remove_tree(s); /* a leftover from a killed run with the same pid */
  if (mkdir(s, 0777) != 0) {
    int e = errno;
    free(s);
    return sdlab_fail(SDLAB_EIO, "cannot create a staging directory beside %s: %s", dir, strerror(e));
  }
  *staging = s;
  return SDLAB_SUCCESS;
}

int
sdlab_io_outdir_commit(char *staging, const char *dir, int force)
{
  char *old = NULL;
  struct stat st;
  if (force && stat(dir, &st) == 0) {
    size_t len = strlen(dir) + 32;
    old = malloc(len);
    if (old == NULL) {
      sdlab_io_outdir_abort(staging);
      return sdlab_fail(GSL_ENOMEM, "out of memory");
    }
    snprintf(old, len, "%s.old-%ld", dir, (long)getpid());
    if (rename(dir, old) != 0) {
      int e = errno;
      free(old);
      sdlab_io_outdir_abort(staging);
      return sdlab_fail(SDLAB_EIO, "cannot move the old %s aside: %s", dir, strerror(e));
    }
  }
  if (rename(staging, dir) != 0) {
    int e = errno;
    if (old)
      rename(old, dir);
    free(old);
    sdlab_io_outdir_abort(staging);
    return sdlab_fail(SDLAB_EIO, "cannot rename the output into %s: %s", dir, strerror(e));
  }
  if (old)
    remove_tree(old);
  free(old);
  free(staging);
  return SDLAB_SUCCESS;
}

void
sdlab_io_outdir_abort(char *staging)
{
  if (staging == NULL)
    return;
  remove_tree(staging);
  free(staging);
}
