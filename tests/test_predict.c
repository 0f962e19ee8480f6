/* test_predict.c: predict's arithmetic and output helpers against values
 * worked out by hand: softmax (including logits that overflow exp in float),
 * sigmoid, the ranking of classes (ties keep class order), and CSV quoting
 * read back as text. The end-to-end behaviour on real files is
 * tests/cli_predict.sh. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "predict.h"

static void expect_near(float got, double want, double tol) {
    if (fabs((double)got - want) <= tol) return;
    fail_msg("got %.9g, expected %.9g (tolerance %g)", got, want, tol);
}

static void test_softmax(void **state) {
    (void)state;
    /* row 0: e^0, e^1, e^2 over their sum 1 + e + e^2 = 11.107337927...;
     * row 1: the same shifted by 1000 (exp(1000) overflows: must not matter) */
    const float z[6] = { 0.0f, 1.0f, 2.0f, 1000.0f, 1001.0f, 1002.0f };
    float p[6];
    predict_probs(p, z, 2, 3, 0);
    const double s = 1.0 + exp(1.0) + exp(2.0);
    for (int r = 0; r < 2; r++) {
        expect_near(p[3 * r + 0], 1.0 / s, 1e-7);
        expect_near(p[3 * r + 1], exp(1.0) / s, 1e-7);
        expect_near(p[3 * r + 2], exp(2.0) / s, 1e-7);
    }
    /* 0.0900305732, 0.2447284711, 0.6652409558 */
    expect_near(p[0], 0.0900305732, 1e-8);
    expect_near(p[2], 0.6652409558, 1e-7);
}

static void test_sigmoid(void **state) {
    (void)state;
    const float z[4] = { 0.0f, 2.0f, -2.0f, -800.0f };
    float p[4];
    predict_probs(p, z, 1, 4, 1);
    expect_near(p[0], 0.5, 0.0);
    expect_near(p[1], 1.0 / (1.0 + exp(-2.0)), 1e-7);   /* 0.880797078 */
    expect_near(p[2], 1.0 - 1.0 / (1.0 + exp(-2.0)), 1e-7);
    expect_near(p[3], 0.0, 0.0);                        /* underflows to 0, no NaN */
}

static void test_rank(void **state) {
    (void)state;
    const float p[6] = { 0.1f, 0.3f, 0.1f, 0.3f, 0.05f, 0.15f };
    int order[6];
    predict_rank(order, p, 6);
    const int want[6] = { 1, 3, 5, 0, 2, 4 };   /* ties (1,3) and (0,2) in class order */
    for (int i = 0; i < 6; i++) assert_int_equal(order[i], want[i]);
}

static void test_csv_field(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    const char *in[] = { "Ankle boot", "a,b", "say \"hi\"", "line\nbreak", "T-shirt/top" };
    for (int i = 0; i < 5; i++) {
        predict_csv_field(f, in[i]);
        fputc('|', f);
    }
    fclose(f);
    assert_string_equal(buf, "Ankle boot|\"a,b\"|\"say \"\"hi\"\"\"|\"line\nbreak\"|T-shirt/top|");
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_csv_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
