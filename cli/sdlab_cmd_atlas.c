/* sdlab atlas: how often full-batch Adam ends at a spurious partial minimum, over many certified instances. */
#define _POSIX_C_SOURCE 200809L
#include "sdlab_atlas.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE =
  "usage: sdlab atlas --features N --dim D --latents Q --activation A [--interference M] --seeds S:T --out DIR\n"
  "                   [--sgd-runs R] [--steps T] [--lr LR] [--tol T] [--bnb-nodes B] [--anchors K]\n"
  "                   [--anchor-weight W] [--basin] [--threads N] [--quiet]\n"
  "       sdlab atlas --gather DIR\n"
  "\n"
  "One cell of the atlas: for each seed S..T a ground truth by C.1 (N features in D dimensions, interference\n"
  "at most M, default 0.3), its landscape census (every piece of L~ certified as far as the branch and bound\n"
  "goes, B boxes a piece, default 100000) and R runs of full-batch Adam (default 20, T steps, default 20000)\n"
  "classified against the certificates: global (at the certified global minimum), spurious (a converged\n"
  "partial minimum above a point the census found; spurious_dead when a neuron of its piece is dead),\n"
  "undecided (at the best point found, the global minimum uncertified), unconverged.  A (relu, jumprelu:T or\n"
  "topk-relu:K) as in sdlab landscape.  --anchors K: Adam with feature anchoring (eq. 26, weight W, default\n"
  "0.1), latent j < K pulled to feature j; a run is then judged by the partial minimum of L~ that alternating\n"
  "convex search reaches from its end point, and unconverged only when Adam used all its steps; --basin\n"
  "judges runs without anchoring the same way, to compare like with like.  --threads N: the branch and bound's pieces over N threads (default 2;\n"
  "the same bytes for any N).\n"
  "Each instance writes DIR/instances/SEED.tsv (one line); seeds already there are skipped, so an interrupted\n"
  "cell resumes and machines sharing DIR can take disjoint seed ranges (DIR/cell.json must agree).  Then, and\n"
  "with --gather alone, DIR/instances.tsv (every instance, by seed), DIR/summary.json (each class's share\n"
  "of the runs with its Wilson 95% interval, runs taken as independent, and the share of instances with a\n"
  "spurious run) and DIR/summary.tsv (the classes as a table) are written from the instance files present,\n"
  "and the summary printed.\n";

enum { O_FEATURES, O_DIM, O_LATENTS, O_ACT, O_INTERF, O_SEEDS, O_OUT, O_RUNS, O_STEPS, O_LR, O_TOL, O_BNB, O_ANCHORS,
       O_ANCHOR_W, O_BASIN, O_THREADS, O_QUIET, O_GATHER, O_COUNT };

/* a small text file, whole (NULL when it cannot be read) */
static char *
read_small(const char *path)
{
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return NULL;
  char *buf = malloc(4096);
  size_t got = buf ? fread(buf, 1, 4095, fp) : 0;
  fclose(fp);
  if (buf)
    buf[got] = '\0';
  return buf;
}

/* the cell's record, as text (compared byte for byte with one already in DIR) */
static const char *
cell_text(sdlab_json *j, const sdlab_atlas_cell *c)
{
  char act[64];
  sdlab_activation_format(&c->act, act, sizeof act);
  sdlab_json_init(j);
  sdlab_json_object_begin(j, NULL);
  sdlab_json_string(j, "format", "sdlab atlas cell");
  sdlab_json_integer(j, "features", (long long)c->n);
  sdlab_json_integer(j, "dim", (long long)c->np);
  sdlab_json_integer(j, "latents", (long long)c->nq);
  sdlab_json_string(j, "activation", act);
  sdlab_json_number(j, "interference", c->interference);
  sdlab_json_integer(j, "sgd_runs", (long long)c->sgd_runs);
  sdlab_json_integer(j, "steps", (long long)c->sgd_steps);
  sdlab_json_number(j, "lr", c->lr);
  sdlab_json_number(j, "tol", c->tol);
  sdlab_json_integer(j, "bnb_nodes", (long long)c->bnb_nodes);
  if (c->anchors) { /* only when set: the records of cells without them stay as they were */
    sdlab_json_integer(j, "anchors", (long long)c->anchors);
    sdlab_json_number(j, "anchor_weight", c->anchor_weight);
  }
  if (c->basin || c->anchors)
    sdlab_json_string(j, "judged_by", "basin");
  sdlab_json_object_end(j);
  return sdlab_json_text(j);
}

/* DIR/cell.json written, or the one there checked against this cell */
static int
cell_record(const char *dir, const sdlab_atlas_cell *c)
{
  sdlab_json j;
  const char *text = cell_text(&j, c);
  char *path = sdlab_io_path_join(dir, "cell.json");
  int status = text && path ? SDLAB_SUCCESS : sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status) {
    char *have = read_small(path);
    if (have && strcmp(have, text) != 0)
      status = sdlab_fail(SDLAB_EUSAGE, "%s records another cell: give its parameters or another --out", path);
    else if (have == NULL)
      status = sdlab_io_atomic_write_text(path, text);
    free(have);
  }
  free(path);
  sdlab_json_free(&j);
  return status;
}

static int
by_seed(const void *a, const void *b)
{
  const uint64_t x = ((const sdlab_atlas_instance *)a)->seed, y = ((const sdlab_atlas_instance *)b)->seed;
  return x < y ? -1 : x > y;
}

/* every DIR/instances/SEED.tsv, by seed */
static int
read_instances(const char *dir, sdlab_atlas_instance **out, size_t *count)
{
  *out = NULL;
  *count = 0;
  char *idir = sdlab_io_path_join(dir, "instances");
  DIR *d = idir ? opendir(idir) : NULL;
  if (d == NULL) {
    int status = idir ? sdlab_fail(SDLAB_EIO, "%s: %s", idir, strerror(errno)) : sdlab_fail(GSL_ENOMEM, "out of memory");
    free(idir);
    return status;
  }
  size_t cap = 0;
  int status = SDLAB_SUCCESS;
  struct dirent *e;
  while (!status && (e = readdir(d)) != NULL) {
    const size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".tsv") != 0)
      continue; /* ., .. and the temporary files of a writer */
    char *path = sdlab_io_path_join(idir, e->d_name);
    char *text = path ? read_small(path) : NULL;
    if (*count == cap) {
      cap = cap ? 2 * cap : 64;
      sdlab_atlas_instance *grown = realloc(*out, cap * sizeof **out);
      if (grown == NULL)
        status = sdlab_fail(GSL_ENOMEM, "out of memory");
      else
        *out = grown;
    }
    if (!status && text == NULL)
      status = sdlab_fail(SDLAB_EIO, "cannot read %s", path ? path : e->d_name);
    const char *line = text && text[0] == '#' ? strchr(text, '\n') : NULL; /* the line after the header */
    if (!status && (line == NULL || (status = sdlab_atlas_instance_parse(line + 1, path, &(*out)[*count])) == 0))
      status = line ? SDLAB_SUCCESS : sdlab_fail(SDLAB_EBADFILE, "%s: not an atlas instance file", path);
    if (!status)
      (*count)++;
    free(text);
    free(path);
  }
  closedir(d);
  free(idir);
  if (!status)
    qsort(*out, *count, sizeof **out, by_seed);
  else { /* nothing half-read goes back */
    free(*out);
    *out = NULL;
    *count = 0;
  }
  return status;
}

/* DIR/instances.tsv and DIR/summary.json from the instance files, and the summary on stdout */
static int
gather(const char *dir)
{
  sdlab_atlas_instance *in;
  size_t count;
  int status = read_instances(dir, &in, &count);
  if (status)
    return status;
  sdlab_atlas_summary s;
  sdlab_atlas_summarise(in, count, &s);
  char *path = sdlab_io_path_join(dir, "instances.tsv");
  sdlab_io_atomic_file f;
  if (path == NULL)
    status = sdlab_fail(GSL_ENOMEM, "out of memory");
  if (!status && !(status = sdlab_io_atomic_open(&f, path))) {
    fprintf(f.fp, "%s\n", sdlab_atlas_instance_header());
    for (size_t i = 0; !status && i < count; i++) {
      char line[512];
      if (!(status = sdlab_atlas_instance_format(&in[i], line, sizeof line)))
        fprintf(f.fp, "%s\n", line);
    }
    if (status)
      sdlab_io_atomic_abort(&f);
    else
      status = sdlab_io_atomic_commit(&f);
  }
  free(path);
  if (!status) {
    sdlab_json j;
    sdlab_json_init(&j);
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_integer(&j, "instances", (long long)s.instances);
    sdlab_json_integer(&j, "instances_fully_certified", (long long)s.certified_instances);
    sdlab_json_integer(&j, "runs", (long long)s.runs);
    for (int k = 0; k < SDLAB_ATLAS_CLASSES; k++) {
      sdlab_json_object_begin(&j, sdlab_atlas_class_name(k));
      sdlab_json_integer(&j, "runs", (long long)s.count[k]);
      sdlab_json_number(&j, "fraction", s.frac[k]);
      double ci[2] = {s.lo[k], s.hi[k]};
      sdlab_json_numbers(&j, "wilson95", ci, 2);
      sdlab_json_object_end(&j);
    }
    sdlab_json_object_begin(&j, "instances_with_a_spurious_run");
    sdlab_json_integer(&j, "instances", (long long)s.with_spurious);
    sdlab_json_number(&j, "fraction", s.with_spurious_frac);
    double ci[2] = {s.with_spurious_lo, s.with_spurious_hi};
    sdlab_json_numbers(&j, "wilson95", ci, 2);
    sdlab_json_object_end(&j);
    sdlab_json_object_end(&j);
    status = sdlab_json_write(&j, dir, "summary.json");
  }
  if (!status) { /* the same as a table, for gnuplot */
    path = sdlab_io_path_join(dir, "summary.tsv");
    if (path == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    if (!status && !(status = sdlab_io_atomic_open(&f, path))) {
      fprintf(f.fp, "# class\truns\tfraction\twilson_lo\twilson_hi\n");
      for (int k = 0; k < SDLAB_ATLAS_CLASSES; k++)
        fprintf(f.fp, "%s\t%zu\t%.17g\t%.17g\t%.17g\n", sdlab_atlas_class_name(k), s.count[k], s.frac[k], s.lo[k],
                s.hi[k]);
      status = sdlab_io_atomic_commit(&f);
    }
    free(path);
  }
  if (!status) {
    printf("%zu instances (%zu with every piece certified), %zu runs\n", s.instances, s.certified_instances, s.runs);
    for (int k = 0; k < SDLAB_ATLAS_CLASSES; k++)
      printf("  %-14s %6zu  %6.1f%%  [%5.1f%%, %5.1f%%]\n", sdlab_atlas_class_name(k), s.count[k], 100 * s.frac[k],
             100 * s.lo[k], 100 * s.hi[k]);
    printf("  instances with a spurious run: %zu (%.1f%% [%.1f%%, %.1f%%])\n", s.with_spurious,
           100 * s.with_spurious_frac, 100 * s.with_spurious_lo, 100 * s.with_spurious_hi);
  }
  free(in);
  return status;
}

/* "S:T" with S <= T */
static int
parse_seeds(const char *text, uint64_t *first, uint64_t *last)
{
  const char *colon = strchr(text, ':');
  char a[32];
  if (colon == NULL || (size_t)(colon - text) >= sizeof a) {
    fprintf(stderr, "sdlab atlas: error: --seeds %s: give a range S:T\n", text);
    return SDLAB_EUSAGE;
  }
  memcpy(a, text, (size_t)(colon - text));
  a[colon - text] = '\0';
  if (sdlab_cli_u64("atlas", "--seeds", a, first) || sdlab_cli_u64("atlas", "--seeds", colon + 1, last))
    return SDLAB_EUSAGE;
  if (*first > *last) {
    fprintf(stderr, "sdlab atlas: error: --seeds %s: S must not exceed T\n", text);
    return SDLAB_EUSAGE;
  }
  return SDLAB_SUCCESS;
}

int
sdlab_cmd_atlas(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--features", "--dim", "--latents", "--activation", "--interference",
                                       "--seeds", "--out", "--sgd-runs", "--steps", "--lr", "--tol", "--bnb-nodes",
                                       "--anchors", "--anchor-weight", "--basin", "--threads", "--quiet",
                                       "--gather"};
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--quiet --basin");
  int h = sdlab_cli_parse("atlas", argc, argv, o, O_COUNT);
  if (h == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (h)
    return SDLAB_EXIT_USAGE;
  if (o[O_GATHER].value) {
    for (int k = 0; k < O_COUNT; k++)
      if (k != O_GATHER && o[k].value) {
        fprintf(stderr, "sdlab atlas: error: --gather takes no other option (%s)\n", names[k]);
        return SDLAB_EXIT_USAGE;
      }
    int status = gather(o[O_GATHER].value);
    return status ? sdlab_cli_fail("atlas", status) : SDLAB_EXIT_OK;
  }
  const char *required[] = {"--features", "--dim", "--latents", "--activation", "--seeds", "--out"};
  if (sdlab_cli_require("atlas", o, O_COUNT, required, 6))
    return SDLAB_EXIT_USAGE;
  sdlab_atlas_cell c;
  sdlab_atlas_cell_default(&c);
  uint64_t first, last;
  size_t threads = 2;
  if (sdlab_cli_size("atlas", "--features", o[O_FEATURES].value, &c.n) ||
      sdlab_cli_size("atlas", "--dim", o[O_DIM].value, &c.np) ||
      sdlab_cli_size("atlas", "--latents", o[O_LATENTS].value, &c.nq) ||
      (o[O_INTERF].value && sdlab_cli_double("atlas", "--interference", o[O_INTERF].value, &c.interference)) ||
      (o[O_RUNS].value && sdlab_cli_size("atlas", "--sgd-runs", o[O_RUNS].value, &c.sgd_runs)) ||
      (o[O_STEPS].value && sdlab_cli_size("atlas", "--steps", o[O_STEPS].value, &c.sgd_steps)) ||
      (o[O_LR].value && sdlab_cli_double("atlas", "--lr", o[O_LR].value, &c.lr)) ||
      (o[O_TOL].value && sdlab_cli_double("atlas", "--tol", o[O_TOL].value, &c.tol)) ||
      (o[O_BNB].value && sdlab_cli_size("atlas", "--bnb-nodes", o[O_BNB].value, &c.bnb_nodes)) ||
      (o[O_ANCHORS].value && sdlab_cli_size("atlas", "--anchors", o[O_ANCHORS].value, &c.anchors)) ||
      (o[O_ANCHOR_W].value && sdlab_cli_double("atlas", "--anchor-weight", o[O_ANCHOR_W].value, &c.anchor_weight)) ||
      (o[O_THREADS].value && sdlab_cli_size("atlas", "--threads", o[O_THREADS].value, &threads)) ||
      parse_seeds(o[O_SEEDS].value, &first, &last))
    return SDLAB_EXIT_USAGE;
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "sdlab atlas: error: --threads %zu: 1 to 256\n", threads);
    return SDLAB_EXIT_USAGE;
  }
  c.threads = (int)threads;
  c.basin = o[O_BASIN].value != NULL;
  int status = sdlab_activation_parse(o[O_ACT].value, &c.act);
  if (!status)
    status = sdlab_activation_check(&c.act, c.nq);
  if (!status)
    status = sdlab_atlas_cell_check(&c);
  if (status)
    return sdlab_cli_invalid("atlas", status);
  const char *dir = o[O_OUT].value;
  char *idir = sdlab_io_path_join(dir, "instances");
  if (idir == NULL)
    return sdlab_cli_fail("atlas", sdlab_fail(GSL_ENOMEM, "out of memory"));
  if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(idir, 0777) != 0 && errno != EEXIST))
    status = sdlab_fail(SDLAB_EIO, "cannot create %s: %s", idir, strerror(errno));
  if (!status)
    status = cell_record(dir, &c);
  sdlab_cli_progress prog;
  sdlab_cli_progress_init(&prog, o[O_QUIET].value != NULL);
  for (uint64_t seed = first; !status; seed++) {
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".tsv", seed);
    char *path = sdlab_io_path_join(idir, name);
    struct stat st;
    if (path == NULL)
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
    else if (stat(path, &st) != 0) { /* not done yet */
      sdlab_atlas_instance in;
      char line[512];
      if ((status = sdlab_atlas_instance_run(&c, seed, &in))) /* name the instance: it can be rerun alone */
        status = sdlab_fail(status, "seed %" PRIu64 ": %s (rerun it alone with --seeds %" PRIu64 ":%" PRIu64 ")", seed,
                            sdlab_error_message(status), seed, seed);
      if (!status && !(status = sdlab_atlas_instance_format(&in, line, sizeof line))) {
        char *text = malloc(strlen(line) + strlen(sdlab_atlas_instance_header()) + 3);
        if (text == NULL)
          status = sdlab_fail(GSL_ENOMEM, "out of memory");
        else {
          sprintf(text, "%s\n%s\n", sdlab_atlas_instance_header(), line);
          status = sdlab_io_atomic_write_text(path, text);
          free(text);
        }
      }
    }
    free(path);
    sdlab_cli_progress_update(&prog, "instances", (size_t)(seed - first + 1), (size_t)(last - first + 1), NULL, 0);
    if (seed == last)
      break;
  }
  sdlab_cli_progress_done(&prog);
  free(idir);
  if (!status)
    status = gather(dir);
  return status ? sdlab_cli_fail("atlas", status) : SDLAB_EXIT_OK;
}
