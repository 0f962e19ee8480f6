/* testutil.h: helpers shared by the cmocka tests (include after <cmocka.h>).
 *  - expect_close: max |ours - ref| / max(1, max |ref|) <= tol, the bound the
 *    PyTorch-fixture tests use, with the worst element in the message;
 *  - a scratch folder for files: test_dir_make / tmp / test_dir_remove,
 *    usable as cmocka group setup and teardown. */
#ifndef DL_TESTUTIL_H
#define DL_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* where: a fixture file or "" */
static inline void expect_close(const char *where, const char *what, const float *ours, const float *ref, size_t n,
                         double tol) {
    double maxref = 1.0, maxdiff = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
        double d = fabs((double)ours[i] - ref[i]);
        if (!(d <= maxdiff)) { maxdiff = d; worst = i; }
    }
    double rel = maxdiff / maxref;
    if (!(rel <= tol))
        fail_msg("%s%s%s: rel err %.3g > %.3g (at %zu: ours %.9g, torch %.9g)", where, *where ? " " : "", what, rel,
                 tol, worst, ours[worst], ref[worst]);
}

static char test_dir[] = "/tmp/dltrain_test_XXXXXX";

/* test_dir/name; the last 8 results stay valid */
static inline const char *tmp(const char *name) {
    static char buf[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", test_dir, name);
    return buf[i];
}

static inline int test_dir_make(void **state) {
    (void)state;
    return mkdtemp(test_dir) ? 0 : -1;
}

static inline int test_dir_remove(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
