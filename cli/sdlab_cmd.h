/* sdlab_cmd.h: the `sdlab` commands, one a file (cli/sdlab_cmd_NAME.c): each parses its options, checks them,
 * calls the library and reports; sdlab_main.c dispatches to them.  Each returns the process's exit status
 * (SDLAB_EXIT_OK, SDLAB_EXIT_USAGE for a wrong command line, SDLAB_EXIT_FAIL for bad data or a failing
 * machine: sdlab_cli.h). */
#ifndef SDLAB_CMD_H
#define SDLAB_CMD_H

int sdlab_cmd_lrb(int argc, char **argv);
int sdlab_cmd_eval(int argc, char **argv);
int sdlab_cmd_construct(int argc, char **argv);
int sdlab_cmd_tsv(int argc, char **argv);
int sdlab_cmd_patterns(int argc, char **argv);
int sdlab_cmd_check(int argc, char **argv);
int sdlab_cmd_landscape(int argc, char **argv);
int sdlab_cmd_train(int argc, char **argv);
int sdlab_cmd_mlp(int argc, char **argv);
int sdlab_cmd_absorption(int argc, char **argv);
int sdlab_cmd_export(int argc, char **argv);
int sdlab_cmd_atlas(int argc, char **argv);

#endif
