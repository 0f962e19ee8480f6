/* run/commands.h: `dltrain report`, `dltrain interpret`, `dltrain show-batch`
 * (rank 0 does the work; they return the exit status, as cli.c's do). */
#ifndef DL_RUN_COMMANDS_H
#define DL_RUN_COMMANDS_H

#include "dist.h"

int run_cmd_report(int argc, char **argv, const Dist *d);
int run_cmd_interpret(int argc, char **argv, const Dist *d);
int run_cmd_show_batch(int argc, char **argv, const Dist *d);

#endif
