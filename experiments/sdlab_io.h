/* sdlab_io.h: writing files and directories so that nothing is ever half-written.
 *
 * A file is written under a temporary name beside its destination and renamed into place only when
 * complete; an output directory is built as a staging directory beside its destination and renamed
 * into place when every file in it is complete.  On failure the temporary name is removed. */
#ifndef SDLAB_IO_H
#define SDLAB_IO_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
  FILE *fp;
  char *final_path;
  char *tmp_path;
} sdlab_io_atomic_file;

/* Open a temporary file beside `path` for writing. */
int sdlab_io_atomic_open(sdlab_io_atomic_file *f, const char *path);
/* Close it and rename it to its destination (replacing any file there). */
int sdlab_io_atomic_commit(sdlab_io_atomic_file *f);
/* Close and remove the temporary file.  Safe on a file that was never opened or already committed. */
void sdlab_io_atomic_abort(sdlab_io_atomic_file *f);

/* Write a whole text to `path` atomically. */
int sdlab_io_atomic_write_text(const char *path, const char *text);
/* Write up to 8 files as one: data[k] of lens[k] bytes (lens NULL: NUL-terminated texts) to paths[k] (a NULL
 * path: no file), every file under its temporary name first, renamed only when all were written; a failure
 * leaves none of them (files already renamed are removed). */
int sdlab_io_atomic_write_all(size_t n, const char *const *paths, const void *const *data, const size_t *lens);

/* Output directories.  sdlab_io_outdir_begin fails with GSL_EINVAL if `dir` exists and force is 0; it
 * creates an empty staging directory and returns its path (malloc'd) in *staging.
 * sdlab_io_outdir_commit renames staging to dir (replacing an existing dir, or a file, when force was given:
 * the old one is moved aside first and deleted after); on failure it deletes the staging directory.  Both
 * sdlab_io_outdir_commit and sdlab_io_outdir_abort (which deletes the staging directory and everything in it)
 * free `staging`. */
int sdlab_io_outdir_begin(const char *dir, int force, char **staging);
/* Remove what killed processes left beside `dir` (a directory or a file): DIR.partial-PID staging directories,
 * DIR.old-PID outputs being replaced and DIR.tmp-PID.XXXXXX files being written, whose process PID no longer
 * exists (kill(PID, 0) fails with ESRCH); a live PID's are kept.  sdlab_io_outdir_begin and sdlab_io_atomic_open call
 * it.  SDLAB_EIO naming the leftover when one cannot be removed. */
int sdlab_io_outdir_clean_stale(const char *dir);
int sdlab_io_outdir_commit(char *staging, const char *dir, int force);
void sdlab_io_outdir_abort(char *staging);

/* Check, before writing anything, that the filesystem that will hold `out` (a file or directory, made beside
 * itself and renamed) has `need` bytes free for an unprivileged user (statvfs's f_bavail).  SDLAB_EIO stating
 * the need and the free bytes otherwise. */
int sdlab_io_space_check(const char *out, uint64_t need);
/* Check, before allocating, that `need` bytes of memory for `what` fit in this machine's physical memory;
 * GSL_ENOMEM stating both when they do not. */
int sdlab_io_memory_check(const char *what, double need);

/* Check that an input `path` is a regular file before it is opened: opening a FIFO would wait for a writer
 * forever, and a device or directory is no data file.  SDLAB_EIO when it cannot be found, SDLAB_EBADFILE
 * naming it when it is not a regular file. */
int sdlab_io_input_check(const char *path);

/* path = dir + "/" + name, malloc'd (NULL when out of memory). */
char *sdlab_io_path_join(const char *dir, const char *name);
/* Whether something exists at path (stat succeeds). */
int sdlab_io_path_exists(const char *path);

#endif
