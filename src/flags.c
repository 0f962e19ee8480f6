/* flags.c: the table-driven command-line parser of dltrain and dlprep. */
#include "flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (f->type == F_BOOL) { *(int *)f->dst = 1; continue; }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return dl_fail(DL_EARG, "%s: --%s needs a value", cmd, f->name);
        char *end = NULL;
        errno = 0;
        switch (f->type) {
        case F_STR: *(const char **)f->dst = v; end = (char *)v + strlen(v); break;
        case F_INT: { long x = strtol(v, &end, 10); *(int *)f->dst = (int)x; if (x < -2147483647L || x > 2147483647L) errno = ERANGE; break; }
        case F_U64: *(uint64_t *)f->dst = strtoull(v, &end, 10); break;
        case F_FLOAT: *(float *)f->dst = strtof(v, &end); break;
        case F_BOOL: break;
        }
        if (errno || !end || *end || end == v)
            return dl_fail(DL_EARG, "%s: bad value '%s' for --%s", cmd, v, f->name);
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
