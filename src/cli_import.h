/* cli_import.h: the `dltrain import` command (cli_import.c). */
#ifndef DL_CLI_IMPORT_H
#define DL_CLI_IMPORT_H

#include "util.h"

/* argv: the arguments after `import`; returns the exit status. */
int cli_import(int argc, char **argv);
/* The command's work: in.onnx -> out.h5 (mean/std: "R,G,B" or NULL). */
DlStatus cli_import_run(const char *in, const char *out, const char *mean, const char *std, int overwrite, int quiet);

#endif
