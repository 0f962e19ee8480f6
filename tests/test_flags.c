/* test_flags.c: the table-driven flag parser (src/flags.c) on the values
 * users mistype: ranges (closed, half-open, unbounded), nan/inf, an unsigned
 * flag given -1 or 2^64, trailing garbage, leading spaces, out-of-int
 * values, and switches given =0/=1/words. Each refusal is DL_EARG and its
 * message names the flag and the range. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flags.h"

static int n_int;
static float x_mom, x_eps, x_clip;
static uint64_t seed;
static int on;
static const char *name;

static const Flag table[] = {
    { "n", F_INT, &n_int, "1", "count", FLAG_IN(1, 100) },
    { "momentum", F_FLOAT, &x_mom, "0.9", "in [0, 1)", FLAG_IN_CO(0, 1) },
    { "eps", F_FLOAT, &x_eps, "1e-8", "in (0, 1]", FLAG_IN_OC(0, 1) },
    { "clip", F_FLOAT, &x_clip, "0", ">= 0", FLAG_IN(0, HUGE_VAL) },
    { "seed", F_U64, &seed, "1", "any unsigned" },
    { "nesterov", F_BOOL, &on, NULL, "switch" },
    { "name", F_STR, &name, "x", "a string" },
};

/* Parses one command line given as words; returns the status. */
static DlStatus parse(const char *a, const char *b) {
    char *argv[2] = { (char *)a, (char *)b };
    n_int = 1; x_mom = 0.9f; x_eps = 1e-8f; x_clip = 0; seed = 1; on = 0; name = "x";
    return flags_parse(table, (int)(sizeof table / sizeof table[0]), b ? 2 : 1, argv, "t");
}

static void refused(const char *a, const char *b, const char *msg) {
    DlStatus st = parse(a, b);
    if (st != DL_EARG || !strstr(dl_errmsg(), msg)) {
        print_error("'%s %s': status %d, message '%s', wanted '%s'\n", a, b ? b : "", st, dl_errmsg(), msg);
        fail();
    }
}

static void test_ranges(void **state) {
    (void)state;
    assert_int_equal(parse("--n", "100"), DL_OK);
    assert_int_equal(n_int, 100);
    refused("--n", "101", "t: --n 101 is out of range: it must be in [1, 100]");
    refused("--n", "0", "--n 0 is out of range");
    assert_int_equal(parse("--momentum=0", NULL), DL_OK);
    assert_true(x_mom == 0.0f);
    refused("--momentum=1", NULL, "--momentum 1 is out of range: it must be in [0, 1)");
    refused("--momentum", "-0.01", "it must be in [0, 1)");
    assert_int_equal(parse("--eps", "1"), DL_OK);
    refused("--eps", "0", "--eps 0 is out of range: it must be in (0, 1]");
    refused("--eps", "-1e-8", "(0, 1]");
    assert_int_equal(parse("--clip", "1e30"), DL_OK);
    refused("--clip", "-1", "--clip -1 is out of range: it must be >= 0");
}

static void test_not_numbers(void **state) {
    (void)state;
    refused("--momentum", "nan", "bad value 'nan' for --momentum (expected a finite number in [0, 1))");
    refused("--momentum", "-nan", "bad value '-nan'");
    refused("--clip", "inf", "bad value 'inf' for --clip");
    refused("--clip", "1e39", "bad value '1e39'");            /* past float: inf */
    refused("--clip", "infinity", "bad value");
    refused("--n", "5x", "bad value '5x' for --n (expected a whole number in [1, 100])");
    refused("--n", " 5", "bad value ' 5'");
    refused("--n", "", "bad value '' for --n");
    refused("--n", "1e1", "bad value '1e1'");
    refused("--n", "99999999999", "bad value '99999999999'");
    refused("--n", NULL, "--n needs a value");
}

static void test_unsigned(void **state) {
    (void)state;
    refused("--seed", "-1", "bad value '-1' for --seed (expected a whole number from 0 to 18446744073709551615)");
    refused("--seed", "+1", "bad value '+1'");
    refused("--seed", "18446744073709551616", "bad value '18446744073709551616'");
    assert_int_equal(parse("--seed", "18446744073709551615"), DL_OK);
    assert_true(seed == UINT64_MAX);
    assert_int_equal(parse("--seed=0", NULL), DL_OK);
    assert_true(seed == 0);
}

static void test_switches(void **state) {
    (void)state;
    assert_int_equal(parse("--nesterov", NULL), DL_OK);
    assert_int_equal(on, 1);
    const char *yes[] = { "1", "true", "yes", "on" }, *no[] = { "0", "false", "no", "off" };
    char buf[32];
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "--nesterov=%s", yes[i]);
        assert_int_equal(parse(buf, NULL), DL_OK);
        assert_int_equal(on, 1);
        snprintf(buf, sizeof buf, "--nesterov=%s", no[i]);
        on = 1;
        assert_int_equal(parse(buf, NULL), DL_OK);
        assert_int_equal(on, 0);
    }
    refused("--nesterov=2", NULL, "bad value '2' for --nesterov (a switch");
    refused("--nesterov=", NULL, "bad value '' for --nesterov");
    /* a switch never takes the next word as its value */
    refused("--nesterov", "0", "unexpected argument '0'");
    assert_int_equal(parse("--name", "nan"), DL_OK);   /* strings are not numbers */
    assert_string_equal(name, "nan");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_not_numbers),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
