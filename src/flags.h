/* flags.h: table-driven command-line flags. Every flag is declared once
 * with its type, destination and default; --help prints the table; unknown
 * flags, missing values and unparsable numbers are DL_EARG errors whose
 * message names the command (cmd, e.g. "dlprep idx") and the flag. */
#ifndef DL_FLAGS_H
#define DL_FLAGS_H

#include "util.h"

typedef enum { F_STR, F_INT, F_FLOAT, F_BOOL, F_U64 } FlagType;

typedef struct {
    const char *name;         /* without the leading -- */
    FlagType type;
    void *dst;
    const char *def;          /* shown in --help; NULL: required */
    const char *help;
} Flag;

/* Parses argv[0..argc) into the flags' destinations; string flags with
 * def == NULL are required. */
DlStatus flags_parse(const Flag *flags, int nflags, int argc, char **argv, const char *cmd);
void flags_print(const char *usage, const Flag *flags, int nflags);
int flags_want_help(int argc, char **argv);
/* Prints msg on stderr as "prog: msg", or as it is when it already names
 * the program ("dltrain train: ..."). */
void flags_error(const char *prog, const char *msg);
/* 1 if --name (or --name=...) appears in argv. */
int flags_given(int argc, char **argv, const char *name);

#endif
