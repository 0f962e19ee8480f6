/* test_reference.c: every layer, loss, a residual block and the zoo models
 * against PyTorch. tests/reference/make_ref.py (run by hand with Debian's
 * python3-torch) wrote one HDF5 file per case: the model text, input x,
 * parameters, the training-mode output y, an upstream gradient dy, and the
 * gradients dx and of every parameter, plus batch-norm running statistics
 * after the step. Here the same model is built from the same text, given
 * the same parameters, and must match within a relative error of 1e-4
 * (max |ours - torch| / max(1, max |torch|)). */
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h5util.h"
#include "layers/loss.h"
#include "model.h"
#include "lib/testutil.h"

#define FIXTURES DL_SOURCE_DIR "/tests/reference/fixtures/"

/* Reads a float dataset of exactly `count` elements (any float type). */
static float *read_floats(hid_t f, const char *name, size_t count) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("fixture has no %s", name);
    hid_t sp = H5Dget_space(d);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    if (count && n != count) fail_msg("%s has %zu values, expected %zu", name, n, count);
    float *v = test_malloc(sizeof(float) * (n ? n : 1));
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return v;
}

static char *read_model_text(hid_t f) {
    char *text = h5_get_attr_str(f, "model");
    if (!text) fail_msg("fixture has no string attribute 'model'");
    return text;
}

/* The generic check of one layer or model fixture. */
static void check_fixture(const char *file, int dropout_off) {
    char path[1024];
    snprintf(path, sizeof path, FIXTURES "%s", file);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s (regenerate with tests/reference/make_ref.py)", path);
    char *text = read_model_text(f);
    hid_t d = H5Dopen2(f, "/x", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4];
    assert_int_equal(H5Sget_simple_extent_ndims(sp), 4);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp); H5Dclose(d);
    int n = (int)dims[0];
    Model m;
    if (model_init(&m, text, file, (Shape){ 0, 0, 0 }, 0, n) != DL_OK) fail_msg("%s: %s", file, dl_errmsg());
    if (dropout_off)
        for (int i = 0; i < m.n_layers; i++) if (m.spec[i].kind == LK_DROPOUT) m.spec[i].rate = 0.0f;
    model_init_params(&m, 1);   /* every trained value is overwritten below; running stats start at 0/1 */
    for (int i = 0; i < m.n_layers; i++) {
        TensorInfo t[4];
        int nt = layer_ops(m.spec[i].kind)->params(&m.spec[i], t);
        size_t off = m.w_off[i];
        for (int j = 0; j < nt; j++) {
            char name[256];
            snprintf(name, sizeof name, "/params/%s/%s", m.spec[i].name, t[j].name);
            float *v = read_floats(f, name, tensor_info_size(&t[j]));
            memcpy(m.params + off, v, sizeof(float) * tensor_info_size(&t[j]));
            test_free(v);
            off += tensor_info_size(&t[j]);
        }
    }
    size_t in = (size_t)n * shape_size(m.input), out = (size_t)n * m.classes;
    float *x = read_floats(f, "/x", in), *y = read_floats(f, "/y", out), *dy = read_floats(f, "/dy", out);
    float *dx = read_floats(f, "/dx", in);
    float *bstat = test_calloc(m.n_bstat + 1, sizeof(float)), *grads = test_calloc(m.n_params + 1, sizeof(float));
    int64_t sample[64] = { 0 };
    ForwardArgs a = { .training = 1, .sample = sample, .seed = 1, .bstat = bstat };
    m.input_grad = 1;
    const float *ours = model_forward(&m, x, n, &a);
    expect_close(file, "output", ours, y, out, 1e-4);
    memcpy(m.dlogits, dy, sizeof(float) * out);
    model_backward(&m, x, n, &a, grads);
    expect_close(file, "dx", m.dinput, dx, in, 1e-4);
    for (int i = 0; i < m.n_layers; i++) {
        TensorInfo t[4];
        const LayerOps *ops = layer_ops(m.spec[i].kind);
        int nt = ops->params(&m.spec[i], t);
        size_t off = m.w_off[i];
        for (int j = 0; j < nt; j++) {
            char name[256];
            snprintf(name, sizeof name, "/grads/%s/%s", m.spec[i].name, t[j].name);
            float *g = read_floats(f, name, tensor_info_size(&t[j]));
            expect_close(file, name, grads + off, g, tensor_info_size(&t[j]), 1e-4);
            test_free(g);
            off += tensor_info_size(&t[j]);
        }
    }
    /* running statistics after one step: one group, so the group's batch
     * statistics are the whole batch's, as in PyTorch */
    model_update_stats(&m, bstat, 1);
    for (int i = 0; i < m.n_layers; i++) {
        TensorInfo t[4];
        int nt = layer_ops(m.spec[i].kind)->states(&m.spec[i], t);
        size_t off = m.st_off[i];
        for (int j = 0; j < nt; j++) {
            char name[256];
            snprintf(name, sizeof name, "/state/%s/%s", m.spec[i].name, t[j].name);
            float *v = read_floats(f, name, tensor_info_size(&t[j]));
            expect_close(file, name, m.state + off, v, tensor_info_size(&t[j]), 1e-4);
            test_free(v);
            off += tensor_info_size(&t[j]);
        }
    }
    /* models: the loss and its gradient too */
    if (H5Lexists(f, "/labels", H5P_DEFAULT) > 0) {
        int32_t *labels = test_malloc(sizeof(int32_t) * n);
        hid_t ld = H5Dopen2(f, "/labels", H5P_DEFAULT);
        assert_true(H5Dread(ld, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) >= 0);
        H5Dclose(ld);
        float *loss = read_floats(f, "/loss", 1), *dl = read_floats(f, "/dlogits", out), *dz = test_malloc(sizeof(float) * out);
        double L = softmax_xent(dz, y, labels, n, m.classes, 1.0f / n, NULL) / n;
        expect_close(file, "loss", &(float){ (float)L }, loss, 1, 1e-5);
        expect_close(file, "dlogits", dz, dl, out, 1e-5);
        test_free(labels); test_free(loss); test_free(dl); test_free(dz);
    }
    test_free(x); test_free(y); test_free(dy); test_free(dx); test_free(bstat); test_free(grads);
    dl_free(text);
    model_free(&m);
    H5Fclose(f);
}

static void check_loss(const char *file, int sigmoid) {
    char path[1024];
    snprintf(path, sizeof path, FIXTURES "%s", file);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s", path);
    hid_t d = H5Dopen2(f, "/logits", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp); H5Dclose(d);
    int N = (int)dims[0], K = (int)dims[1];
    float *z = read_floats(f, "/logits", (size_t)N * K), *loss = read_floats(f, "/loss", 1);
    float *dref = read_floats(f, "/dlogits", (size_t)N * K), *dz = test_malloc(sizeof(float) * N * K);
    double L;
    if (sigmoid) {
        float *t = read_floats(f, "/targets", (size_t)N * K);
        L = sigmoid_bce(dz, z, t, N, K, 1.0f / (N * K)) / (N * K);
        test_free(t);
    } else {
        int32_t *lab = test_malloc(sizeof(int32_t) * N);
        hid_t ld = H5Dopen2(f, "/labels", H5P_DEFAULT);
        assert_true(H5Dread(ld, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) >= 0);
        H5Dclose(ld);
        L = softmax_xent(dz, z, lab, N, K, 1.0f / N, NULL) / N;
        test_free(lab);
    }
    assert_true(isfinite(L));
    expect_close(file, "loss", &(float){ (float)L }, loss, 1, 1e-5);
    expect_close(file, "dlogits", dz, dref, (size_t)N * K, 1e-5);
    test_free(z); test_free(loss); test_free(dref); test_free(dz);
    H5Fclose(f);
}

#define FIXTURE_TEST(fn, file) static void fn(void **s) { (void)s; check_fixture(file, 0); }
FIXTURE_TEST(test_conv3x3_s1_p1, "conv3x3_s1_p1.h5")
FIXTURE_TEST(test_conv5x5_same, "conv5x5_same.h5")
FIXTURE_TEST(test_conv3x3_s2_p0, "conv3x3_s2_p0.h5")
FIXTURE_TEST(test_conv3x3_s2_p1, "conv3x3_s2_p1.h5")
FIXTURE_TEST(test_conv1x1, "conv1x1.h5")
FIXTURE_TEST(test_dense, "dense.h5")
FIXTURE_TEST(test_relu, "relu.h5")
FIXTURE_TEST(test_leaky, "leaky.h5")
FIXTURE_TEST(test_maxpool2, "maxpool2.h5")
FIXTURE_TEST(test_maxpool3_s2, "maxpool3_s2.h5")
FIXTURE_TEST(test_avgpool2, "avgpool2.h5")
FIXTURE_TEST(test_avgpool3_s2, "avgpool3_s2.h5")
FIXTURE_TEST(test_gap, "gap.h5")
FIXTURE_TEST(test_flatten, "flatten.h5")
FIXTURE_TEST(test_bn_conv, "bn_conv.h5")
FIXTURE_TEST(test_bn_dense, "bn_dense.h5")
FIXTURE_TEST(test_dwconv3x3_s1_same, "dwconv3x3_s1_same.h5")
FIXTURE_TEST(test_dwconv3x3_s2_p1, "dwconv3x3_s2_p1.h5")
FIXTURE_TEST(test_residual_block, "residual_block.h5")
FIXTURE_TEST(test_conv_groups, "conv_groups.h5")
FIXTURE_TEST(test_conv_groups_s1, "conv_groups_s1.h5")
FIXTURE_TEST(test_clip, "clip.h5")
FIXTURE_TEST(test_relu6, "relu6.h5")
FIXTURE_TEST(test_maxpool3_s2_p1_ceil, "maxpool3_s2_p1_ceil.h5")
FIXTURE_TEST(test_avgpool3_s2_p1_ceil, "avgpool3_s2_p1_ceil.h5")
FIXTURE_TEST(test_avgpool2_p1_nocount, "avgpool2_p1_nocount.h5")
FIXTURE_TEST(test_fire, "fire.h5")
static void test_model_fmnist_bn(void **s) { (void)s; check_fixture("model_fmnist_bn.h5", 1); }
static void test_model_fmnist_tfdoc(void **s) { (void)s; check_fixture("model_fmnist_tfdoc.h5", 1); }
static void test_model_resnet8(void **s) { (void)s; check_fixture("model_resnet8.h5", 1); }
static void test_model_mobilenet_s(void **s) { (void)s; check_fixture("model_mobilenet_s.h5", 1); }
static void test_loss_softmax(void **s) { (void)s; check_loss("loss_softmax.h5", 0); }
static void test_loss_sigmoid(void **s) { (void)s; check_loss("loss_sigmoid.h5", 1); }

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv3x3_s1_p1), cmocka_unit_test(test_conv5x5_same),
        cmocka_unit_test(test_conv3x3_s2_p0), cmocka_unit_test(test_conv3x3_s2_p1),
        cmocka_unit_test(test_conv1x1),       cmocka_unit_test(test_dense),
        cmocka_unit_test(test_relu),          cmocka_unit_test(test_leaky),
        cmocka_unit_test(test_maxpool2),      cmocka_unit_test(test_maxpool3_s2),
        cmocka_unit_test(test_avgpool2),      cmocka_unit_test(test_avgpool3_s2),
        cmocka_unit_test(test_gap),           cmocka_unit_test(test_flatten),
        cmocka_unit_test(test_bn_conv),       cmocka_unit_test(test_bn_dense),
        cmocka_unit_test(test_dwconv3x3_s1_same), cmocka_unit_test(test_dwconv3x3_s2_p1),
        cmocka_unit_test(test_residual_block),
        cmocka_unit_test(test_conv_groups), cmocka_unit_test(test_conv_groups_s1), cmocka_unit_test(test_clip),
        cmocka_unit_test(test_relu6), cmocka_unit_test(test_maxpool3_s2_p1_ceil),
        cmocka_unit_test(test_avgpool3_s2_p1_ceil), cmocka_unit_test(test_avgpool2_p1_nocount),
        cmocka_unit_test(test_fire),
        cmocka_unit_test(test_model_fmnist_bn), cmocka_unit_test(test_model_fmnist_tfdoc),
        cmocka_unit_test(test_model_resnet8), cmocka_unit_test(test_model_mobilenet_s),
        cmocka_unit_test(test_loss_softmax),  cmocka_unit_test(test_loss_sigmoid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
