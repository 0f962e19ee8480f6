/* flags.c: the table-driven command-line parser of dltrain and dlprep. */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static DlStatus parse_bool(const Flag *f, const char *v, const char *cmd) {
    static const char *const yes[] = { "1", "true", "yes", "on" }, *const no[] = { "0", "false", "no", "off" };
    if (!v) { *(int *)f->dst = 1; return DL_OK; }
    for (int i = 0; i < 4; i++) {
        if (!strcmp(v, yes[i])) { *(int *)f->dst = 1; return DL_OK; }
        if (!strcmp(v, no[i])) { *(int *)f->dst = 0; return DL_OK; }
    }
    return dl_fail(DL_EARG, "%s: bad value '%s' for --%s (a switch: give --%s alone, or =1/true/yes/on or =0/false/no/off)",
                   cmd, v, f->name, f->name);
}

/* "[0, 1)", ">= 0", "> 0" for the messages. */
static void range_text(char *buf, size_t cap, const Flag *f) {
    if (f->hi == HUGE_VAL) snprintf(buf, cap, "%s %.15g", f->range & FLAG_LO_OPEN ? ">" : ">=", f->lo);
    else snprintf(buf, cap, "in %c%.15g, %.15g%c", f->range & FLAG_LO_OPEN ? '(' : '[', f->lo, f->hi, f->range & FLAG_HI_OPEN ? ')' : ']');
}

/* One value for a number or string flag, checked whole and against the range. */
static DlStatus parse_value(const Flag *f, const char *v, const char *cmd) {
    char *end = NULL;
    double x = 0;
    errno = 0;
    /* strto* skip spaces and take signs and "nan"/"inf": numbers here start with a digit, '-', '+' or '.' */
    int numeric = isdigit((unsigned char)v[0]) || ((v[0] == '-' || v[0] == '+' || v[0] == '.') && v[1]);
    switch (f->type) {
    case F_STR: *(const char **)f->dst = v; return DL_OK;
    case F_BOOL: return DL_OK;
    case F_INT: {
        long n = strtol(v, &end, 10);
        if (n < -2147483647L || n > 2147483647L) errno = ERANGE;
        *(int *)f->dst = (int)n;
        x = (double)n;
        break;
    }
    case F_U64:
        numeric = isdigit((unsigned char)v[0]);   /* strtoull would wrap "-1" to 2^64-1 */
        *(uint64_t *)f->dst = strtoull(v, &end, 10);
        x = (double)*(uint64_t *)f->dst;
        break;
    case F_FLOAT: {
        float y = strtof(v, &end);
        if (!isfinite(y)) errno = ERANGE;
        *(float *)f->dst = y;
        x = (double)y;
        break;
    }
    }
    char want[96];
    if (f->range) range_text(want, sizeof want, f);
    if (!numeric || errno || !end || *end || end == v) {
        const char *kind = f->type == F_FLOAT ? "a finite number" : f->type == F_U64 ? "a whole number from 0 to 18446744073709551615" : "a whole number";
        if (f->range) return dl_fail(DL_EARG, "%s: bad value '%s' for --%s (expected %s %s)", cmd, v, f->name, kind, want);
        return dl_fail(DL_EARG, "%s: bad value '%s' for --%s (expected %s)", cmd, v, f->name, kind);
    }
    if (f->range && (x < f->lo || x > f->hi || (f->range & FLAG_LO_OPEN && x == f->lo) || (f->range & FLAG_HI_OPEN && x == f->hi)))
        return dl_fail(DL_EARG, "%s: --%s %s is out of range: it must be %s", cmd, f->name, v, want);
    return DL_OK;
}

DlStatus flags_parse(const Flag *flags, int nflags, int argc, char **argv, const char *cmd) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return dl_fail(DL_EARG, "%s: unexpected argument '%s' (see %s --help)", cmd, a, cmd);
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const Flag *f = NULL;
        for (int j = 0; j < nflags; j++)
            if (strlen(flags[j].name) == len && strncmp(flags[j].name, a + 2, len) == 0) f = &flags[j];
        if (!f) {   /* a near miss: one name a prefix of the other (--epoch for --epochs) */
            for (int j = 0; j < nflags && !f; j++) {
                size_t fl = strlen(flags[j].name), m = len < fl ? len : fl;
                if (m >= 3 && strncmp(flags[j].name, a + 2, m) == 0) f = &flags[j];
            }
            if (f) return dl_fail(DL_EARG, "%s: unknown flag '%s': did you mean --%s? (see %s --help)", cmd, a, f->name, cmd);
            return dl_fail(DL_EARG, "%s: unknown flag '%s' (see %s --help)", cmd, a, cmd);
        }
        if (f->type == F_BOOL) {
            DlStatus st = parse_bool(f, eq ? eq + 1 : NULL, cmd);
            if (st != DL_OK) return st;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return dl_fail(DL_EARG, "%s: --%s needs a value", cmd, f->name);
        DlStatus st = parse_value(f, v, cmd);
        if (st != DL_OK) return st;
    }
    for (int j = 0; j < nflags; j++)
        if (!flags[j].def && flags[j].type == F_STR && !*(const char **)flags[j].dst)
            return dl_fail(DL_EARG, "%s: --%s is required (see %s --help)", cmd, flags[j].name, cmd);
    return DL_OK;
}

void flags_print(const char *usage, const Flag *flags, int nflags) {
    printf("%s\n\n", usage);
    for (int j = 0; j < nflags; j++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", strlen(flags[j].name) == 1 ? "-" : "--", flags[j].name,
                 flags[j].type == F_BOOL ? "" : " V");
        printf("  %-22s %s", left, flags[j].help);
        if (flags[j].def) printf(" [default: %s]", flags[j].def);
        else if (flags[j].type != F_BOOL) printf(" (required)");
        printf("\n");
    }
}

int flags_want_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int flags_given(int argc, char **argv, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < argc; i++)
        if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, len) && (argv[i][2 + len] == '\0' || argv[i][2 + len] == '='))
            return 1;
    return 0;
}

void flags_error(const char *prog, const char *msg) {
    size_t n = strlen(prog);
    if (!strncmp(msg, prog, n) && msg[n] == ' ') fprintf(stderr, "%s\n", msg);   /* "dltrain train: ..." */
    else fprintf(stderr, "%s: %s\n", prog, msg);
}
