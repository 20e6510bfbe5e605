/* sdlab patterns: every realizable activation pattern (Definition 3.1) of n_q latents on given feature
 * directions, enumerated exactly, with counts. */
#include "sdlab_activation.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_io.h"
#include "sdlab_json.h"
#include "sdlab_npy.h"
#include "sdlab_patterns.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *USAGE =
  "usage: sdlab patterns --truth W_p.npy --latents Q --activation relu|jumprelu:T|topk:K|topk-relu:K\n"
  "                      [--out FILE] [--max N]\n"
  "\n"
  "Enumerate every realizable activation pattern (Definition 3.1 of arXiv:2512.05534) of Q latents on the\n"
  "feature directions (columns of W_p, at most 64), exactly: each pattern has a witness encoder and each\n"
  "pruned branch a Farkas certificate, both checked in rational arithmetic. Prints one JSON object:\n"
  "  single       relu, jumprelu: the single-neuron patterns F = {d : <w, w_p^d> > 0 (or > T)}\n"
  "  joint        patterns (F_1, ..., F_Q) with neurons labelled (relu: single^Q)\n"
  "  joint_up_to_permutation   the same up to relabelling the neurons\n"
  "  open         patterns whose region in W_E has a nonempty interior (the others exist only on a\n"
  "               boundary, such as an exact tie broken by the lower-index rule)\n"
  "  cover        Cover's prediction for directions in general position\n"
  "  exact        every certificate verified exactly\n"
  "Top-k (and Top-k then ReLU, which activates the same neurons) couples the neurons through the ranking,\n"
  "so its joint patterns are enumerated directly (K < Q; a Top-k of K = Q is ReLU and takes the\n"
  "single-neuron enumeration). batchtopk couples the features of a batch and is not\n"
  "enumerated.\n"
  "\n"
  "  --out FILE   write every pattern, one per line (TSV: index, F_1 .. F_Q or F, open, verified, witness)\n"
  "  --max N      refuse when the enumeration would exceed N patterns or search nodes (default 1000000)\n";

enum { O_TRUTH, O_LATENTS, O_ACT, O_OUT, O_MAX, O_COUNT };

static void
print_set(FILE *fp, uint64_t mask, size_t n)
{
  int any = 0;
  for (size_t d = 0; d < n; d++)
    if (mask >> d & 1) {
      fprintf(fp, "%s%zu", any ? "," : "", d);
      any = 1;
    }
  if (!any)
    fputc('-', fp);
}

int
sdlab_cmd_patterns(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--truth", "--latents", "--activation", "--out", "--max"};
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, NULL);
  int r = sdlab_cli_parse("patterns", argc, argv, o, O_COUNT);
  if (r == 1) {
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (r || sdlab_cli_require("patterns", o, O_COUNT, names, 3))
    return SDLAB_EXIT_USAGE;
  size_t nq, maxn = 1000000;
  sdlab_activation act;
  if (sdlab_cli_size("patterns", "--latents", o[O_LATENTS].value, &nq) ||
      (o[O_MAX].value && sdlab_cli_size("patterns", "--max", o[O_MAX].value, &maxn)))
    return SDLAB_EXIT_USAGE;
  int act_status = sdlab_activation_parse(o[O_ACT].value, &act);
  if (act_status)
    return sdlab_cli_fail("patterns", act_status);
  sdlab_patterns_method method;
  int status = sdlab_activation_check(&act, nq);
  if (!status)
    status = sdlab_patterns_method_of(&act, nq, &method);
  if (status)
    return sdlab_cli_fail("patterns", status);
  gsl_matrix *Wp = NULL;
  if ((status = sdlab_npy_load_matrix(o[O_TRUTH].value, "--truth", &Wp)))
    return sdlab_cli_fail("patterns", status);
  const size_t n = Wp->size2, np = Wp->size1;
  if ((status = sdlab_patterns_check_range(Wp, nq, method == SDLAB_PATTERNS_TOPK, o[O_TRUTH].value))) { /* before GLPK sees them */
    gsl_matrix_free(Wp);
    return sdlab_cli_fail("patterns", status);
  }
  sdlab_patterns_set set;
  double t0 = sdlab_now();
  status = sdlab_patterns_enumerate(Wp, nq, &act, maxn, &set);
  const sdlab_pattern_list *single = set.single;
  const sdlab_joint_list *joint = set.joint;
  double seconds = sdlab_now() - t0;
  sdlab_json j;
  sdlab_json_init(&j);
  if (!status) {
    char an[64];
    sdlab_activation_format(&act, an, sizeof an);
    sdlab_json_object_begin(&j, NULL);
    sdlab_json_string(&j, "activation", an);
    sdlab_json_integer(&j, "n", (long long)n);
    sdlab_json_integer(&j, "n_p", (long long)np);
    sdlab_json_integer(&j, "n_q", (long long)nq);
    if (single) {
      sdlab_json_integer(&j, "single", (long long)single->count);
      sdlab_json_integer(&j, "single_open", (long long)single->open_count);
      sdlab_json_number(&j, "cover", single->threshold ? sdlab_patterns_threshold_count(n, np) : sdlab_patterns_cover_count(n, np));
      sdlab_json_number(&j, "joint", sdlab_patterns_joint_count(single->count, nq));
      sdlab_json_number(&j, "joint_up_to_permutation", sdlab_patterns_joint_count_unordered(single->count, nq));
      sdlab_json_number(&j, "joint_open", sdlab_patterns_joint_count(single->open_count, nq));
      sdlab_json_bool(&j, "exact", single->exact);
      sdlab_json_integer(&j, "lp_calls", (long long)single->lp_calls);
    } else {
      sdlab_json_integer(&j, "joint", (long long)joint->count);
      sdlab_json_integer(&j, "joint_up_to_permutation", (long long)joint->unordered);
      sdlab_json_integer(&j, "joint_open", (long long)joint->open_count);
      sdlab_json_bool(&j, "exact", joint->exact);
      sdlab_json_integer(&j, "lp_calls", (long long)joint->lp_calls);
    }
    sdlab_json_object_end(&j);
    if (isatty(STDERR_FILENO)) /* the time on the terminal only: the answer's bytes depend on the input alone */
      fprintf(stderr, "sdlab patterns: %.1f s\n", seconds);
  }
  if (!status && o[O_OUT].value) {
    sdlab_io_atomic_file f;
    if (!(status = sdlab_io_atomic_open(&f, o[O_OUT].value))) {
      if (single) {
        fprintf(f.fp, "# index\tF\topen\tverified\twitness (w%s)\n", single->threshold ? ", s" : "");
        for (size_t c = 0; c < single->count; c++) {
          fprintf(f.fp, "%zu\t", c);
          print_set(f.fp, single->masks[c], n);
          fprintf(f.fp, "\t%d\t%d", single->open[c], single->verified[c]);
          for (size_t a = 0; a < single->wsize; a++)
            fprintf(f.fp, "\t%.17g", single->witness[c * single->wsize + a]);
          fputc('\n', f.fp);
        }
      } else {
        fprintf(f.fp, "# index");
        for (size_t i = 0; i < nq; i++)
          fprintf(f.fp, "\tF_%zu", i + 1);
        fprintf(f.fp, "\topen\tverified\tW_E (row-major)\n");
        for (size_t c = 0; c < joint->count; c++) {
          fprintf(f.fp, "%zu", c);
          for (size_t i = 0; i < nq; i++) {
            fputc('\t', f.fp);
            print_set(f.fp, joint->F[c * nq + i], n);
          }
          fprintf(f.fp, "\t%d\t%d", joint->open[c], joint->verified[c]);
          for (size_t a = 0; a < nq * np; a++)
            fprintf(f.fp, "\t%.17g", joint->witness[c * nq * np + a]);
          fputc('\n', f.fp);
        }
      }
      status = sdlab_io_atomic_commit(&f);
    }
  }
  const char *text = status ? NULL : sdlab_json_text(&j);
  if (!status)
    fputs(text, stdout);
  sdlab_json_free(&j);
  sdlab_patterns_set_free(&set);
  gsl_matrix_free(Wp);
  return status ? sdlab_cli_fail("patterns", status) : SDLAB_EXIT_OK;
}
