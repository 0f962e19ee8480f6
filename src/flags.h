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
    /* Numbers: the valid range when `range` is set (FLAG_IN and friends
     * below). Every number must be finite and written in full ("nan", "inf",
     * "1e", "-1" for an unsigned flag and out-of-type values are refused);
     * one outside the range is a DL_EARG naming the flag and the range. */
    int range;                /* 0: any; else FLAG_LO_OPEN / FLAG_HI_OPEN bits | FLAG_RANGED */
    double lo, hi;            /* hi = HUGE_VAL: no upper bound */
} Flag;

enum { FLAG_RANGED = 1, FLAG_LO_OPEN = 2, FLAG_HI_OPEN = 4 };
/* Trailing initialisers of a Flag: value in [a, b], [a, b), (a, b], (a, b). */
#define FLAG_IN(a, b) .range = FLAG_RANGED, .lo = (a), .hi = (b)
#define FLAG_IN_CO(a, b) .range = FLAG_RANGED | FLAG_HI_OPEN, .lo = (a), .hi = (b)
#define FLAG_IN_OC(a, b) .range = FLAG_RANGED | FLAG_LO_OPEN, .lo = (a), .hi = (b)
#define FLAG_IN_OO(a, b) .range = FLAG_RANGED | FLAG_LO_OPEN | FLAG_HI_OPEN, .lo = (a), .hi = (b)

/* Parses argv[0..argc) into the flags' destinations; string flags with
 * def == NULL are required. A boolean flag is --name, --name=1|true|yes|on
 * or --name=0|false|no|off. */
DlStatus flags_parse(const Flag *flags, int nflags, int argc, char **argv, const char *cmd);
void flags_print(const char *usage, const Flag *flags, int nflags);
int flags_want_help(int argc, char **argv);
/* Prints msg on stderr as "prog: msg", or as it is when it already names
 * the program ("dltrain train: ..."). */
void flags_error(const char *prog, const char *msg);
/* 1 if --name (or --name=...) appears in argv. */
int flags_given(int argc, char **argv, const char *name);

#endif
