/* Fault injection for make fuzz: an LD_PRELOAD library that counts a process's write boundaries (the calls that
 * create, write, flush, close, rename, link or remove a file or directory) and kills the process with SIGKILL just
 * before the N-th, as a power cut or an OOM kill would.
 *
 *   KILLSHIM_AT=N       kill before the N-th boundary (1-based); 0 or unset: never
 *   KILLSHIM_COUNT=FILE at exit, write the number of boundaries the process passed to FILE (the dry run that
 *                       tells the harness how many instants there are to try)
 *
 * Only the calls the program makes itself are seen (calls inside the C library, such as fopen's open, are not
 * interposed), which is what the boundaries between sdlab's own steps are. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static long at = -1;
static long passed;

static void
boundary(void)
{
  if (at < 0) {
    const char *s = getenv("KILLSHIM_AT");
    at = s ? atol(s) : 0;
  }
  passed++;
  if (at > 0 && passed == at)
    raise(SIGKILL);
}

__attribute__((destructor)) static void
report(void)
{
  const char *path = getenv("KILLSHIM_COUNT");
  if (path == NULL)
    return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", passed);
  if (write(fd, buf, (size_t)n) != n)
    n = 0;
  close(fd);
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int
mkstemp(char *template)
{
  boundary();
  return NEXT(mkstemp)(template);
}

FILE *
fdopen(int fd, const char *mode)
{
  boundary();
  return NEXT(fdopen)(fd, mode);
}

size_t
fwrite(const void *ptr, size_t size, size_t n, FILE *fp)
{
  boundary();
  return NEXT(fwrite)(ptr, size, n, fp);
}

int
fflush(FILE *fp)
{
  boundary();
  return NEXT(fflush)(fp);
}

int
fsync(int fd)
{
  boundary();
  return NEXT(fsync)(fd);
}

int
fclose(FILE *fp)
{
  boundary();
  return NEXT(fclose)(fp);
}

int
rename(const char *from, const char *to)
{
  boundary();
  return NEXT(rename)(from, to);
}

int
link(const char *from, const char *to)
{
  boundary();
  return NEXT(link)(from, to);
}

int
unlink(const char *path)
{
  boundary();
  return NEXT(unlink)(path);
}

int
mkdir(const char *path, mode_t mode)
{
  boundary();
  return NEXT(mkdir)(path, mode);
}

int
rmdir(const char *path)
{
  boundary();
  return NEXT(rmdir)(path);
}
