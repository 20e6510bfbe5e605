/* sdlab: the command line. */
#include "sdlab_cli.h"

#include <stdio.h>
#include <string.h>
#include <gsl/gsl_errno.h>

#define SDLAB_VERSION "0.1.0"

static const char *USAGE =
  "usage: sdlab COMMAND [OPTIONS]\n"
  "\n"
  "sdlab turns the theory of sparse dictionary learning in arXiv:2512.05534 (piecewise biconvexity and\n"
  "spurious minima) into computation anyone can rerun and check.\n"
  "\n"
  "commands:\n"
  "  lrb     generate a Linear Representation Bench data set (Appendix C)\n"
  "  eval    recovery metrics M_GT, M_IP, MCC of a learned dictionary (§5.1)\n"
  "\n"
  "  sdlab COMMAND --help   options of one command\n"
  "  sdlab --version        the version\n";

int
main(int argc, char **argv)
{
  gsl_set_error_handler_off();
  if (argc < 2) {
    fputs(USAGE, stderr);
    return SDLAB_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    if (strcmp(cmd, "help") == 0 && argc > 2) {
      char *help_argv[] = {argv[2], "--help", NULL};
      if (strcmp(argv[2], "lrb") == 0)
        return sdlab_cmd_lrb(2, help_argv);
      if (strcmp(argv[2], "eval") == 0)
        return sdlab_cmd_eval(2, help_argv);
      fprintf(stderr, "sdlab: error: unknown command '%s' (see sdlab --help)\n", argv[2]);
      return SDLAB_EXIT_USAGE;
    }
    fputs(USAGE, stdout);
    return SDLAB_EXIT_OK;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("sdlab %s\n", SDLAB_VERSION);
    return SDLAB_EXIT_OK;
  }
  if (strcmp(cmd, "lrb") == 0)
    return sdlab_cmd_lrb(argc - 1, argv + 1);
  if (strcmp(cmd, "eval") == 0)
    return sdlab_cmd_eval(argc - 1, argv + 1);
  fprintf(stderr, "sdlab: error: unknown command '%s' (see sdlab --help)\n", cmd);
  return SDLAB_EXIT_USAGE;
}
