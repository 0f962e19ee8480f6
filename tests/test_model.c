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
    expect_error("conv filter=8\n", "net.txt:1: 'conv' has no key 'filter' (its keys: name, input, filters, groups, size, stride, pad)");
    expect_error("# c\n\nconv filters=eight\n", "net.txt:3: bad value 'eight' for 'filters'");
    expect_error("dense units=10 oops\n", "net.txt:1: expected key=value, got 'oops'");
    expect_error("conv filters=4 pad=sme\n", "net.txt:1: bad value 'sme' for 'pad' (expected a whole number >= 0, same or valid)");
    expect_error("dense units=clases\n", "bad value 'clases' for 'units' (expected a whole number >= 1 or classes)");
    expect_error("conv name=a filters=2\nconv name=a filters=2\n", "net.txt:2: layer name 'a' is already used on line 1");
    expect_error("conv filters=4 size=4 pad=same\n", "net.txt:1: layer 'conv1': pad=same needs an odd kernel size");
    expect_error("conv filters=4 size=29\n", "smaller than the 29x29 kernel");
    expect_error("dense units=7\n", "the last layer gives 7 outputs but the data has 10 classes");
    expect_error("# nothing\n", "no layers");
    expect_error("input channels=3 height=28 width=28\ndense units=classes\n", "declares input 3x28x28");
    expect_error("dropout rate=1.5\ndense units=classes\n", "dropout needs 0 <= rate < 1");
}

/* input= and add from=: unknown, later and self names, a missing from=,
 * keys on the wrong kind, and shapes that do not add. */
static void test_graph_errors(void **s) {
    (void)s;
    expect_error("conv name=a filters=2 pad=same\nadd from=zz\ndense units=classes\n",
                 "net.txt:2: layer 'add2': from=zz: no layer has that name (from= names an earlier layer)");
    expect_error("conv name=a filters=2 pad=same\nadd from=b\nconv name=b filters=2 pad=same\ndense units=classes\n",
                 "net.txt:2: layer 'add2': from=b names a later layer; from= must name an earlier layer");
    expect_error("conv name=a filters=2 pad=same\nadd name=s from=s\ndense units=classes\n",
                 "net.txt:2: layer 's': from=s names this layer itself");
    expect_error("conv name=a filters=2 pad=same\n\nconv filters=2 input=nope\ndense units=classes\n",
                 "net.txt:3: layer 'conv2': input=nope: no layer has that name (input= names an earlier layer)");
    expect_error("conv name=a filters=2 input=b\nconv name=b filters=2\ndense units=classes\n",
                 "net.txt:1: layer 'a': input=b names a later layer");
    expect_error("conv name=a filters=2 pad=same\nadd\ndense units=classes\n",
                 "net.txt:2: layer 'add2': add needs from=NAME");
    expect_error("conv name=a filters=2 from=a\n", "net.txt:1: 'conv' has no key 'from'");
    expect_error("dwconv filters=8\n", "net.txt:1: 'dwconv' has no key 'filters' (its keys: name, input, size, stride, pad)");
    expect_error("add from=x y\n", "net.txt:1: expected key=value, got 'y'");
    expect_error("conv name=a filters=2 input=\n", "net.txt:1: input '' must be letters");
    /* the add's input (8 channels) and from= (4 channels) differ: both shapes named */
    expect_error("conv name=a filters=4 pad=same\nconv name=b filters=8 pad=same\nadd name=sum from=a\ndense units=classes\n",
                 "net.txt:3: layer 'sum': add: its input (8, 28, 28) (channels, height, width) and from=a (4, 28, 28) differ");
    /* input= changes the shape the layer sees: here b reads the 28x28 a, not the 14x14 pool */
    expect_error("conv name=a filters=4 pad=same\nmaxpool size=2\nconv name=b filters=4 pad=same input=a\nadd from=maxpool2\ndense units=classes\n",
                 "its input (4, 28, 28) (channels, height, width) and from=maxpool2 (4, 14, 14) differ");
    expect_error("dwconv size=4 pad=same\n", "net.txt:1: layer 'dwconv1': pad=same needs an odd kernel size");
    expect_error("dwconv size=29\n", "smaller than the 29x29 kernel");
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
    assert_non_null(strstr(dl_errmsg(), "neither a zoo model (fmnist-tfdoc fmnist-bn resnet8 mobilenet-s) nor a readable file"));
}

/* Output shape of layer `name`, and the input shape of the layer `dense`. */
static void expect_shape(const Model *m, const char *name, int c, int h, int w) {
    int i = model_find_layer(m, name);
    if (i < 0) fail_msg("no layer '%s'", name);
    Shape o = m->spec[i].out;
    if (o.c != c || o.h != h || o.w != w)
        fail_msg("%s: output (%d, %d, %d), expected (%d, %d, %d)", name, o.c, o.h, o.w, c, h, w);
}

/* resnet8 and mobilenet-s on 28x28x1 (10 classes), 32x32x3 (10) and 48x48x3
 * (5). Parameter counts by hand, for C input channels and K classes:
 *
 * resnet8 (every conv has a bias; bn has weight+bias = 2 per channel):
 *   stem  3x3 C->16: 144C+16        stem_bn 32
 *   b1c1  3x3 16->16: 2304+16=2320  b1n1 32    b1c2 2320  b1n2 32   (identity shortcut)
 *   b2c1  3x3 16->32: 4608+32=4640  b2n1 64    b2c2 3x3 32->32: 9216+32=9248  b2n2 64
 *   b2sc  1x1 16->32: 512+32=544    b2scn 64
 *   b3c1  3x3 32->64: 18432+64=18496 b3n1 128  b3c2 3x3 64->64: 36864+64=36928 b3n2 128
 *   b3sc  1x1 32->64: 2048+64=2112  b3scn 128
 *   fc    64K+K
 *   total = 144C + 16 + 32 + 4704 + 14624 + 57920 + 65K = 144C + 77296 + 65K
 *   C=3, K=10: 78378.   C=1, K=10: 78090.   C=3, K=5: 78053.
 *   running stats (2 per bn channel): 2*(16+16+16+32+32+32+64+64+64) = 672
 *
 * mobilenet-s (dwconv: C*9 weights + C biases; pointwise: 1x1 conv):
 *   stem  3x3 s2 C->32: 288C+32     stem_bn 64
 *   b1dw  32*9+32=320   bn 64       b1pw 32->64: 2048+64=2112     bn 128
 *   b2dw  64*9+64=640   bn 128      b2pw 64->128: 8192+128=8320   bn 256
 *   b3dw  128*9+128=1280 bn 256     b3pw 128->128: 16384+128=16512 bn 256
 *   b4dw  1280           bn 256     b4pw 16512                     bn 256
 *   fc    128K+K
 *   total = 288C + 96 + 2624 + 9344 + 18304 + 18304 + 129K = 288C + 48672 + 129K
 *   C=3, K=10: 50826.   C=1, K=10: 50250.   C=3, K=5: 50181.
 *   running stats: 2*(32+32+64+64+128+128+128+128+128) = 1664 */
static void test_zoo_graphs(void **s) {
    (void)s;
    const struct { Shape in; int K; size_t resnet, mobile; int r3, m1, m2; } cases[] = {
        /* r3: resnet8 stage-3 side; m1/m2: mobilenet-s side after the stem / at gap */
        { { 1, 28, 28 }, 10, 78090, 50250, 7, 14, 4 },
        { { 3, 32, 32 }, 10, 78378, 50826, 8, 16, 4 },
        { { 3, 48, 48 }, 5, 78053, 50181, 12, 24, 6 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *text;
        Model m;
        Shape in = cases[k].in;
        assert_int_equal(model_text_load(&text, "resnet8"), DL_OK);
        if (model_init(&m, text, "resnet8", in, cases[k].K, 2) != DL_OK) fail_msg("resnet8: %s", dl_errmsg());
        assert_int_equal(m.n_params, cases[k].resnet);
        assert_int_equal(m.n_state, 672);
        assert_int_equal(m.classes, cases[k].K);
        expect_shape(&m, "b1out", 16, in.h, in.w);
        int r2 = (in.h - 1) / 2 + 1;   /* 3x3 stride 2 pad 1 and 1x1 stride 2 pad 0 agree */
        expect_shape(&m, "b2n2", 32, r2, r2);
        expect_shape(&m, "b2scn", 32, r2, r2);
        expect_shape(&m, "b3out", 64, cases[k].r3, cases[k].r3);
        expect_shape(&m, "pool", 64, 1, 1);
        int sc = model_find_layer(&m, "b2sc"), add = model_find_layer(&m, "b2add");
        assert_int_equal(m.spec[sc].src, model_find_layer(&m, "b1out"));
        assert_int_equal(m.spec[add].src, model_find_layer(&m, "b2scn"));
        assert_int_equal(m.spec[add].from, model_find_layer(&m, "b2n2"));
        model_free(&m);
        free(text);
        assert_int_equal(model_text_load(&text, "mobilenet-s"), DL_OK);
        if (model_init(&m, text, "mobilenet-s", in, cases[k].K, 2) != DL_OK) fail_msg("mobilenet-s: %s", dl_errmsg());
        assert_int_equal(m.n_params, cases[k].mobile);
        assert_int_equal(m.n_state, 1664);
        expect_shape(&m, "stem", 32, cases[k].m1, cases[k].m1);
        expect_shape(&m, "b1out", 64, cases[k].m1, cases[k].m1);
        expect_shape(&m, "b4out", 128, cases[k].m2, cases[k].m2);
        expect_shape(&m, "fc", cases[k].K, 1, 1);
        model_free(&m);
        free(text);
    }
}

/* An imported network's head takes the dataset's class count (--model CKPT). */
static void expect_head(const char *text, const char *want) {
    char *h = model_text_head_classes(text);
    if (strcmp(h, want) != 0) fail_msg("head of:\n%s\ngave:\n%s\nexpected:\n%s", text, h, want);
    dl_free(h);
}

static void test_head_classes(void **s) {
    (void)s;
    expect_head("input channels=3 height=8 width=8\nconv name=c filters=4\ngap\ndense name=fc units=1000\n",
                "input channels=3 height=8 width=8\nconv name=c filters=4\ngap\ndense name=fc units=classes\n");
    /* SqueezeNet: a 1x1 conv head, then relu and global pooling */
    expect_head("conv name=a filters=8 size=3\ndropout rate=0.5\nconv name=cls filters=1000 size=1 stride=1 pad=0\nrelu name=r\ngap\n",
                "conv name=a filters=8 size=3\ndropout rate=0.5\nconv name=cls filters=classes size=1 stride=1 pad=0\nrelu name=r\ngap\n");
    /* a layer that is not a head's tail after the last conv: unchanged */
    expect_head("conv name=a filters=8\nbn name=b\n", "conv name=a filters=8\nbn name=b\n");
    expect_head("dense name=fc units=classes\n", "dense name=fc units=classes\n");
    Model m;
    assert_int_equal(model_init(&m, "input channels=3 height=8 width=8\nconv name=cls filters=classes size=1\ngap\n", "t",
                                (Shape){ 0, 0, 0 }, 7, 1), DL_OK);
    assert_int_equal(m.classes, 7);
    model_free(&m);
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
    assert_null(strstr(buf, "<-"));   /* a plain chain shows no links */
    model_free(&m);
    /* a skip connection shows where the layer reads from */
    assert_int_equal(model_init(&m, "input channels=2 height=4 width=4\nconv name=a filters=2 pad=same\n"
                                "relu name=r\nconv name=b filters=2 pad=same input=a\nadd name=s from=r\n",
                                "tiny.txt", (Shape){ 0, 0, 0 }, 0, 1), DL_OK);
    memset(buf, 0, sizeof buf);
    f = fmemopen(buf, sizeof buf - 1, "w");
    model_summary(&m, f);
    fclose(f);
    assert_non_null(strstr(buf, "b                    conv       (2, 4, 4)                    38  <- a\n"));
    assert_non_null(strstr(buf, "s                    add        (2, 4, 4)                     0  <- b + r\n"));
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_graph_errors),
        cmocka_unit_test(test_zoo_shapes),
        cmocka_unit_test(test_zoo_graphs),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_head_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
