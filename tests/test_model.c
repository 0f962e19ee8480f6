/* test_model.c: the model text parser (every error names file:line and what
 * to do), the zoo's shapes and parameter counts (hand-computed), and the
 * summary table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"

static void expect_error(const char *text, const char *needle) {
    Model m;
    DlStatus st = model_init(&m, text, "net.txt", (Shape){ 1, 28, 28 }, 10, 2);
    assert_int_equal(st, DL_EFORMAT);
    if (!strstr(dl_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", dl_errmsg(), needle);
}

static void test_parse_errors(void **s) {
    (void)s;
    expect_error("conv filters=8\nconvv filters=8\n", "net.txt:2: unknown layer kind 'convv'");
    expect_error("conv filter=8\n", "net.txt:1: 'conv' has no key 'filter' (its keys: name, filters, size, stride, pad)");
    expect_error("# c\n\nconv filters=eight\n", "net.txt:3: bad value 'eight' for 'filters'");
    expect_error("dense units=10 oops\n", "net.txt:1: expected key=value, got 'oops'");
    expect_error("conv name=a filters=2\nconv name=a filters=2\n", "net.txt:2: layer name 'a' is already used on line 1");
    expect_error("conv filters=4 size=4 pad=same\n", "net.txt:1: layer 'conv1': pad=same needs an odd kernel size");
    expect_error("conv filters=4 size=29\n", "smaller than the 29x29 kernel");
    expect_error("dense units=7\n", "the last layer gives 7 outputs but the data has 10 classes");
    expect_error("# nothing\n", "no layers");
    expect_error("input channels=3 height=28 width=28\ndense units=classes\n", "declares input 3x28x28");
    expect_error("dropout rate=1.5\ndense units=classes\n", "dropout needs 0 <= rate < 1");
}

static void test_zoo_shapes(void **s) {
    (void)s;
    char *text;
    Model m;
    assert_int_equal(model_text_load(&text, "fmnist-bn"), DL_OK);
    assert_int_equal(model_init(&m, text, "fmnist-bn", (Shape){ 1, 28, 28 }, 10, 4), DL_OK);
    /* conv1 1*9*32+32, conv2 32*9*32+32, conv3 32*9*64+64, conv4 64*9*64+64,
     * 4 bn (2C each), fc1 3136*128+128, fc2 128*10+10 */
    size_t want = 320 + 9248 + 18496 + 36928 + 2 * (32 + 32 + 64 + 64) + 401536 + 1290;
    assert_int_equal(m.n_params, want);
    assert_int_equal(m.n_state, 2 * (32 + 32 + 64 + 64));
    int fc1 = model_find_layer(&m, "fc1");
    assert_int_equal(m.spec[fc1].in.c * m.spec[fc1].in.h * m.spec[fc1].in.w, 64 * 7 * 7);
    model_free(&m);
    /* zoo models take their input and classes from the data: 48x48 RGB, 5 classes */
    assert_int_equal(model_init(&m, text, "fmnist-bn", (Shape){ 3, 48, 48 }, 5, 4), DL_OK);
    assert_int_equal(m.classes, 5);
    assert_int_equal(m.spec[fc1].in.c * m.spec[fc1].in.h * m.spec[fc1].in.w, 64 * 12 * 12);
    model_free(&m);
    free(text);
    assert_int_equal(model_text_load(&text, "fmnist-tfdoc"), DL_OK);
    assert_int_equal(model_init(&m, text, "fmnist-tfdoc", (Shape){ 1, 28, 28 }, 10, 4), DL_OK);
    assert_int_equal(m.n_params, (25 * 32 + 32) + (32 * 25 * 64 + 64) + (3136 * 1024 + 1024) + (1024 * 10 + 10));
    model_free(&m);
    free(text);
    assert_int_equal(model_text_load(&text, "no-such-model"), DL_EIO);
    assert_non_null(strstr(dl_errmsg(), "neither a zoo model (fmnist-tfdoc fmnist-bn) nor a readable file"));
}

static void test_summary(void **s) {
    (void)s;
    Model m;
    assert_int_equal(model_init(&m, "input channels=3 height=8 width=8\nconv name=c filters=4 size=3\nbn name=b\nrelu\ngap\ndense name=head units=2\n",
                                "tiny.txt", (Shape){ 0, 0, 0 }, 0, 1), DL_OK);
    char buf[4096] = { 0 };
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    model_summary(&m, f);
    fclose(f);
    assert_non_null(strstr(buf, "c                    conv       (4, 6, 6)                   112"));
    assert_non_null(strstr(buf, "head                 dense      (2)                          10"));
    assert_non_null(strstr(buf, "Total params: 130"));
    assert_non_null(strstr(buf, "+ 8 running statistics"));
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_zoo_shapes),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
