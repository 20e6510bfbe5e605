/* sdlab: the command line. */
#include "sdlab_blas.h"
#include "sdlab_cli.h"
#include "sdlab_cmd.h"

#include <stdio.h>
#include <string.h>
#include <gsl/gsl_errno.h>

#define SDLAB_VERSION "0.1.0"

typedef int (*command_fn)(int, char **);
static const struct {
  const char *name;
  command_fn fn;
} COMMANDS[] = {{"lrb", sdlab_cmd_lrb}, {"eval", sdlab_cmd_eval}, {"construct", sdlab_cmd_construct}, {"tsv", sdlab_cmd_tsv},
                {"patterns", sdlab_cmd_patterns}, {"check", sdlab_cmd_check},
                {"landscape", sdlab_cmd_landscape}, {"train", sdlab_cmd_train}, {"mlp", sdlab_cmd_mlp},
                {"absorption", sdlab_cmd_absorption}, {"export", sdlab_cmd_export},
                {"atlas", sdlab_cmd_atlas}};
#define NCOMMANDS (sizeof COMMANDS / sizeof *COMMANDS)

static const char *USAGE =
  "usage: sdlab COMMAND [OPTIONS]\n"
  "\n"
  "sdlab turns the theory of sparse dictionary learning in arXiv:2512.05534 (piecewise biconvexity and\n"
  "spurious minima) into computation anyone can rerun and check.\n"
  "\n"
  "commands:\n"
  "  lrb        generate a Linear Representation Bench data set (Appendix C)\n"
  "  eval       recovery metrics M_GT, M_IP, MCC of a learned dictionary (§5.1)\n"
  "  construct  the paper's configurations (eq. 15, Example 3.5, zero loss without recovery)\n"
  "  tsv        a .npy array as a tab-separated table (for gnuplot)\n"
  "  patterns   every realizable activation pattern, enumerated exactly (Definition 3.1)\n"
  "  check      the proof checker: every theorem and proof step on random instances\n"
  "  landscape  every piece of L~ with bounds on its minimum, and where SGD ends\n"
  "  train      train an SAE, transcoder or crosscoder (relu, jumprelu, topk, batchtopk, matryoshka, topk-auxk,\n"
  "             gated)\n"
  "  mlp        train a Fashion-MNIST MLP here, extract its activations, show top images (real representations)\n"
  "  absorption classify latents on a hierarchy bench (parent, absorbing, sub-concept) and measure absorption\n"
  "  export     a trained run in the layout SAELens, sparsify or dictionary_learning loads\n"
  "  atlas      how often gradient descent ends at a spurious partial minimum, over many certified instances\n"
  "\n"
  "  sdlab COMMAND --help   options of one command\n"
  "  sdlab --version        the version\n";

int
main(int argc, char **argv)
{
  if (sdlab_blas_pin_kernel(argv) != 0)
    fprintf(stderr, "sdlab: warning: could not restart with OpenBLAS's %s kernels; this CPU's (%s) may give other "
            "bytes\n", SDLAB_BLAS_KERNEL, sdlab_blas_kernel());
  gsl_set_error_handler_off();
  if (argc < 2) {
    fputs(USAGE, stderr);
    return SDLAB_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    if (strcmp(cmd, "help") == 0 && argc > 2) {
      char *help_argv[] = {argv[2], "--help", NULL};
      for (size_t c = 0; c < NCOMMANDS; c++)
        if (strcmp(argv[2], COMMANDS[c].name) == 0)
          return COMMANDS[c].fn(2, help_argv);
      fprintf(stderr, "sdlab: error: unknown command '%s' (see sdlab --help)\n", argv[2]);
      return SDLAB_EXIT_USAGE;
    }
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("sdlab %s (OpenBLAS kernels: %s)\n", SDLAB_VERSION, sdlab_blas_kernel());
    return SDLAB_EXIT_OK;
  }
  /* commands of small products run OpenBLAS on one thread: faster, and its own threads (as many as the machine
   * has cores) would sum some products differently, so that the bytes would depend on the machine */
  static const char *small[] = {"construct", "patterns", "check", "landscape", "atlas"};
  for (size_t c = 0; c < sizeof small / sizeof *small; c++)
    if (strcmp(cmd, small[c]) == 0)
      sdlab_blas_openblas_single();
  for (size_t c = 0; c < NCOMMANDS; c++)
    if (strcmp(cmd, COMMANDS[c].name) == 0)
      return COMMANDS[c].fn(argc - 1, argv + 1);
  fprintf(stderr, "sdlab: error: unknown command '%s' (see sdlab --help)\n", cmd);
  return SDLAB_EXIT_USAGE;
}
