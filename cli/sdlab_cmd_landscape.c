/* sdlab landscape: every piece of L~, certified bounds on each, and where SGD ends. */
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_landscape.h"
#include "sdlab_lrb.h"
#include "sdlab_npy.h"
#include "sdlab_patterns.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static const char *USAGE =
  "usage: sdlab landscape (--truth DIR | --features N --dim D --seed R [--interference M])\n"
  "                       --latents Q --activation relu|jumprelu:T|topk-relu:K --sgd-runs R --out DIR\n"
  "                       [--starts S] [--steps T] [--lr LR] [--tol TOL] [--md W] [--bnb-nodes B]\n"
  "                       [--threads T] [--force] [--quiet]\n"
  "\n"
  "The landscape of L~ (eq. 11): every piece (activation pattern, up to relabelling the neurons) enumerated\n"
  "exactly; on each, alternating convex search from S starts (partial optima: an upper bound with its point)\n"
  "and a rigorous lower bound from relaxing the region's sign constraints; a piece is certified when the two\n"
  "agree to TOL. Then R runs of full-batch Adam on L~ from random initialisations (logged seeds), each end\n"
  "point mapped to its piece. Pieces still open get a spatial branch and bound (the scale symmetry removed;\n"
  "JumpReLU over the cones its threshold regions generate; second-order bounds per box, at most B boxes\n"
  "each). Last, every end point is classified:\n"
  "global, spurious partial optimum, dead-neuron piece, or not converged (alternating convex search from\n"
  "the end point still lowers L~ by more than TOL).\n"
  "\n"
  "  --truth DIR          a bench directory (W_p.npy; W_r.npy when present, else an SAE)\n"
  "  --features N --dim D --seed R [--interference M]   or make one (C.1, default M = 0.3)\n"
  "  --latents Q          n_q (at most 16)\n"
  "  --activation A       relu, jumprelu:T (T >= 0) or topk-relu:K\n"
  "  --sgd-runs R         Adam runs (lr 0.01 by default, at most T = 20000 steps, tied initialisation)\n"
  "  --starts S           starts per piece (default 4)   --tol TOL   default 1e-6   --md W  every M_d (default 1)\n"
  "  --bnb-nodes B        branch-and-bound boxes per open piece (default 1000000; 0: none)\n"
  "  --threads T          the open pieces' branch and bound over T threads (default 2; the same bytes for any T)\n"
  "writes DIR/landscape.json, DIR/pieces.tsv (sorted by the best value found), DIR/sgd.tsv, and a summary.\n"
  "The branch and bound's results go to DIR.journal as each piece finishes: the same command, run again after\n"
  "an interruption, takes them from there and gives the same files (DIR.journal is removed once DIR is\n"
  "written; one left by another census is refused).\n";

enum { O_TRUTH, O_FEATURES, O_DIM, O_SEED, O_INTERF, O_LATENTS, O_ACT, O_RUNS, O_OUT, O_STARTS, O_STEPS, O_LR, O_TOL,
       O_MD, O_BNB, O_THREADS, O_FORCE, O_QUIET, O_COUNT };

/* The values' ranges, in the order they are reported: one line and nonzero on the first out of range */
static int
check_values(size_t threads, double md, const sdlab_landscape_params *p)
{
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "sdlab landscape: error: --threads %zu: 1 to 256\n", threads);
    return 1;
  }
  if (!(md > 0) || !(p->tol > 0) || !(p->lr > 0) || p->starts == 0) {
    fprintf(stderr, "sdlab landscape: error: --md, --tol, --lr and --starts must be positive\n");
    return 1;
  }
  if (md > 1e100) { /* L~ sums M_d times squares of the directions and codes: keep them within double's range */
    fprintf(stderr, "sdlab landscape: error: --md %g: at most 1e100, so that L~ and its squares stay finite\n", md);
    return 1;
  }
  return 0;
}

/* The ground truth: W_p.npy (and W_r.npy when present) of the bench directory dir, else C.1's directions for
 * n features in dim dimensions at interference M from seed; W_r = W_p for an SAE. */
static int
truth_of(const char *dir, size_t n, size_t dim, double M, uint64_t seed, size_t nq, const sdlab_activation *act,
         gsl_matrix **Wp, gsl_matrix **Wr)
{
  int status = SDLAB_SUCCESS;
  if (dir) {
    char *f = sdlab_io_path_join(dir, "W_p.npy");
    status = sdlab_npy_load_matrix(f, "--truth W_p.npy", Wp);
    if (!status) /* the census enumerates the pieces by LP: values GLPK cannot take are refused here, with the file */
      status = sdlab_patterns_check_range(*Wp, nq, act->kind == SDLAB_ACT_TOPK || act->kind == SDLAB_ACT_TOPK_RELU, f);
    free(f);
    f = sdlab_io_path_join(dir, "W_r.npy");
    struct stat st;
    if (!status && stat(f, &st) == 0)
      status = sdlab_npy_load_matrix(f, "--truth W_r.npy", Wr);
    free(f);
  } else {
    status = sdlab_lrb_directions(n, dim, M, seed, Wp);
  }
  if (!status && *Wr == NULL) {
    if ((*Wr = gsl_matrix_alloc((*Wp)->size1, (*Wp)->size2)) != NULL)
      gsl_matrix_memcpy(*Wr, *Wp);
    else
      status = sdlab_fail(GSL_ENOMEM, "out of memory");
  }
  if (status) {
    if (*Wp) gsl_matrix_free(*Wp);
    if (*Wr) gsl_matrix_free(*Wr);
    *Wp = *Wr = NULL;
  }
  return status;
}

int
sdlab_cmd_landscape(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--truth", "--features", "--dim", "--seed", "--interference", "--latents",
                                       "--activation", "--sgd-runs", "--out", "--starts", "--steps", "--lr", "--tol",
                                       "--md", "--bnb-nodes", "--threads", "--force", "--quiet"};
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--force --quiet");
  int r = sdlab_cli_parse("landscape", argc, argv, o, O_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  static const char *need[] = {"--latents", "--activation", "--sgd-runs", "--out"};
  if (r || sdlab_cli_require("landscape", o, O_COUNT, need, 4))
    return SDLAB_EXIT_USAGE;
  const int from_dir = o[O_TRUTH].value != NULL;
  if (from_dir == (o[O_FEATURES].value != NULL || o[O_DIM].value != NULL || o[O_SEED].value != NULL)) {
    fprintf(stderr, "sdlab landscape: error: give either --truth DIR or --features, --dim and --seed\n");
    return SDLAB_EXIT_USAGE;
  }
  if (!from_dir && (!o[O_FEATURES].value || !o[O_DIM].value || !o[O_SEED].value)) {
    fprintf(stderr, "sdlab landscape: error: --features, --dim and --seed go together\n");
    return SDLAB_EXIT_USAGE;
  }
  sdlab_landscape_params p;
  sdlab_landscape_params_default(&p);
  size_t nq, n = 0, dim = 0, threads = 2;
  uint64_t seed = 1;
  double M = 0.3, md = 1.0;
  sdlab_activation act;
  if (sdlab_cli_size("landscape", "--latents", o[O_LATENTS].value, &nq) ||
      sdlab_cli_size("landscape", "--sgd-runs", o[O_RUNS].value, &p.sgd_runs) ||
      (o[O_FEATURES].value && sdlab_cli_size("landscape", "--features", o[O_FEATURES].value, &n)) ||
      (o[O_DIM].value && sdlab_cli_size("landscape", "--dim", o[O_DIM].value, &dim)) ||
      (o[O_SEED].value && sdlab_cli_u64("landscape", "--seed", o[O_SEED].value, &seed)) ||
      (o[O_INTERF].value && sdlab_cli_double("landscape", "--interference", o[O_INTERF].value, &M)) ||
      (o[O_STARTS].value && sdlab_cli_size("landscape", "--starts", o[O_STARTS].value, &p.starts)) ||
      (o[O_STEPS].value && sdlab_cli_size("landscape", "--steps", o[O_STEPS].value, &p.sgd_steps)) ||
      (o[O_LR].value && sdlab_cli_double("landscape", "--lr", o[O_LR].value, &p.lr)) ||
      (o[O_TOL].value && sdlab_cli_double("landscape", "--tol", o[O_TOL].value, &p.tol)) ||
      (o[O_MD].value && sdlab_cli_double("landscape", "--md", o[O_MD].value, &md)) ||
      (o[O_BNB].value && sdlab_cli_size("landscape", "--bnb-nodes", o[O_BNB].value, &p.bnb_nodes)) ||
      (o[O_THREADS].value && sdlab_cli_size("landscape", "--threads", o[O_THREADS].value, &threads)))
    return SDLAB_EXIT_USAGE;
  if (check_values(threads, md, &p))
    return SDLAB_EXIT_USAGE;
  p.threads = (int)threads;
  p.seed = seed;
  int act_status = sdlab_activation_parse(o[O_ACT].value, &act);
  if (act_status)
    return sdlab_cli_fail("landscape", act_status);
  gsl_matrix *Wp = NULL, *Wr = NULL;
  int status = truth_of(o[O_TRUTH].value, n, dim, M, seed, nq, &act, &Wp, &Wr);
  if (status)
    return sdlab_cli_fail("landscape", status);
  gsl_vector *Md = gsl_vector_alloc(Wp->size2);
  if (Md == NULL) {
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    return sdlab_cli_fail("landscape", sdlab_fail(GSL_ENOMEM, "out of memory"));
  }
  gsl_vector_set_all(Md, md);
  char *staging = NULL;
  const int force = o[O_FORCE].value != NULL;
  if ((status = sdlab_io_outdir_begin(o[O_OUT].value, force, &staging))) {
    gsl_matrix_free(Wp);
    gsl_matrix_free(Wr);
    gsl_vector_free(Md);
    return sdlab_cli_fail("landscape", status);
  }
  sdlab_cli_progress prog;
  sdlab_cli_progress_init(&prog, o[O_QUIET].value != NULL);
  char *journal = malloc(strlen(o[O_OUT].value) + 9);
  if (journal)
    sprintf(journal, "%s.journal", o[O_OUT].value);
  p.journal = journal;
  sdlab_landscape l;
  status = journal ? sdlab_landscape_run_census(Wp, Wr, Md, nq, &act, &p, &l, sdlab_cli_progress_update, &prog)
                   : sdlab_fail(GSL_ENOMEM, "out of memory");
  sdlab_cli_progress_done(&prog);
  sdlab_landscape_counts cnt;
  if (!status) {
    sdlab_landscape_count(&l, &cnt);
    status = sdlab_landscape_write(&l, &p, md, staging);
  }
  if (!status)
    status = sdlab_io_outdir_commit(staging, o[O_OUT].value, force);
  else
    sdlab_io_outdir_abort(staging);
  if (!status && journal) /* the census is written: its journal has served */
    unlink(journal);
  free(journal);
  if (!status) {
    printf("sdlab landscape: %zu pieces (%zu open, %zu with dead neurons, %zu polysemantic); %zu certified\n", l.count,
           cnt.open, cnt.dead, cnt.polysemantic, l.certified);
    printf("  global minimum of L~ in [%.6g, %.6g]%s\n", l.global_lower, l.global_upper,
           l.global_upper - l.global_lower <= p.tol * fmax(1.0, l.global_upper) ? " (certified)" : "");
    printf("  %-28s %6s\n", "SGD end points", "runs");
    for (int c = 0; c < 4; c++)
      printf("  %-28s %6zu\n", sdlab_landscape_sgd_class_name((sdlab_sgd_class)c), cnt.classes[c]);
    printf("  branch and bound on %zu open pieces: %zu certified", l.bnb_run, l.certified_bnb);
    if (l.bnb_resumed)
      printf(" (%zu taken from %s.journal)", l.bnb_resumed, o[O_OUT].value);
    printf("\n");
    printf("  %.1f s for the pieces, %.1f s for SGD, %.1f s for the branch and bound\n", l.seconds_pieces,
           l.seconds_sgd, l.seconds_bnb);
  }
  sdlab_landscape_free(&l);
  gsl_matrix_free(Wp);
  gsl_matrix_free(Wr);
  gsl_vector_free(Md);
  return status ? sdlab_cli_fail("landscape", status) : SDLAB_EXIT_OK;
}
