/* test_onnx_torch.c: torchvision networks exported by torch.onnx.export,
 * imported, against PyTorch itself (issue 16, Must show 1).
 * tests/onnx/make_torch_onnx.py (run here into the build directory, with
 * Debian's python3-torch and python3-torchvision; the files are large and
 * not committed) exports resnet18 and mobilenet_v2(width_mult=0.5) (and, logits
 * only, mobilenet_v2 at width 1.0 and squeezenet1_1) with
 * random weights and randomised batch-norm statistics at 3x64x64, once in
 * eval mode (batch norm folded into the convolutions) and once with
 * training=TrainingMode.TRAINING (BatchNormalization nodes kept), and
 * writes PyTorch's eval-mode logits for two images plus, in float64, the
 * gradients of sum(logits * r) w.r.t. the input and every parameter (the
 * training-mode export moves the running statistics one momentum step, so
 * each export has its own reference).
 * Each of the four graphs is imported; dltrain's eval-mode logits must match
 * within 1e-4 of the largest |logit| (relative), and for the kept-batch-norm
 * graphs one backward pass (eval mode, dlogits = r) must give PyTorch's
 * input gradient and the gradient of every PyTorch parameter, found by its
 * module name (import names layers after the initializers), within 1e-4
 * relative to the tensor's largest |value|. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <hdf5.h>

#include "model.h"
#include "onnx/onnx_import.h"

#define OUTDIR DL_BUILD_DIR "/onnx_torch"

static int generate(void **state) {
    (void)state;
    struct stat sb;
    if (stat(OUTDIR "/mobilenet_v2_05_bn_ref.h5", &sb) == 0 && stat(OUTDIR "/resnet18_bn_ref.h5", &sb) == 0 &&
        stat(OUTDIR "/squeezenet1_1_bn_ref.h5", &sb) == 0 && stat(OUTDIR "/mobilenet_v2_10_bn_ref.h5", &sb) == 0) return 0;
    int rc = system("/usr/bin/python3 " DL_SOURCE_DIR "/tests/onnx/make_torch_onnx.py " OUTDIR);
    if (rc != 0) {
        fprintf(stderr, "make_torch_onnx.py failed (rc %d): this test needs python3-torch, python3-torchvision, python3-h5py "
                        "(launch/setup.sh installs them)\n", rc);
        return -1;
    }
    return 0;
}

static float *read_floats(hid_t f, const char *name, size_t *n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    *n = (size_t)H5Sget_simple_extent_npoints(sp);
    float *v = malloc(sizeof(float) * (*n ? *n : 1));
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return v;
}

/* max |a - b| / max |b|, with the worst element in the message */
static void expect_rel(const char *what, const float *a, const float *b, size_t n, double tol) {
    double mx = 0.0, md = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(b[i]) > mx) mx = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) { md = d; worst = i; }
    }
    double rel = md / (mx > 0 ? mx : 1.0);
    printf("    %-40s rel err %.2e (max |ref| %.3g)\n", what, rel, mx);
    if (!(rel <= tol)) fail_msg("%s: rel err %.3g > %.3g (at %zu: ours %.9g, torch %.9g)", what, rel, tol, worst, a[worst], b[worst]);
}

static void import_file(Model *m, const char *path, int max_n) {
    uint8_t *buf;
    size_t len;
    if (onnx_read_file(&buf, &len, path) != DL_OK) fail_msg("%s", dl_errmsg());
    OnnxImport imp;
    DlStatus st = onnx_import(&imp, buf, len, path, NULL, 0);
    dl_free(buf);
    if (st != DL_OK) fail_msg("import: %s", dl_errmsg());
    st = onnx_import_model(m, &imp, path, max_n);
    onnx_import_free(&imp);
    if (st != DL_OK) fail_msg("model: %s", dl_errmsg());
}

static void check_net(const char *net, const char *variant, int backward) {
    char path[512], ref[512];
    snprintf(path, sizeof path, OUTDIR "/%s_%s.onnx", net, variant);
    snprintf(ref, sizeof ref, OUTDIR "/%s_%s_ref.h5", net, variant);
    printf("  %s\n", path);
    Model m;
    import_file(&m, path, 2);
    hid_t f = H5Fopen(ref, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    size_t nx, ny, nr, ndx;
    float *x = read_floats(f, "x", &nx), *logits = read_floats(f, "logits", &ny), *r = read_floats(f, "r", &nr);
    assert_int_equal(nx, 2 * shape_size(m.input));
    assert_int_equal(ny, (size_t)2 * m.classes);
    ForwardArgs a = { .training = 0 };
    m.input_grad = backward;
    const float *y = model_forward(&m, x, 2, &a);
    char what[256];
    snprintf(what, sizeof what, "%s %s logits", net, variant);
    expect_rel(what, y, logits, ny, 1e-4);
    if (backward) {
        float *grads = calloc(m.n_params, sizeof(float));
        memcpy(m.dlogits, r, sizeof(float) * nr);
        model_backward(&m, x, 2, &a, grads);
        float *dx = read_floats(f, "dx", &ndx);
        expect_rel("input gradient", m.dinput, dx, ndx, 1e-4);
        free(dx);
        int matched = 0;
        for (int i = 0; i < m.n_layers; i++) {
            TensorInfo t[4];
            int nt = layer_ops(m.spec[i].kind)->params(&m.spec[i], t);
            size_t off = m.w_off[i];
            for (int j = 0; j < nt; j++) {
                char name[256];
                snprintf(name, sizeof name, "grads/%s/%s", m.spec[i].name, t[j].name);
                size_t len = tensor_info_size(&t[j]), n;
                n = 0;
                float *g = NULL;
                H5E_BEGIN_TRY { g = read_floats(f, name, &n); } H5E_END_TRY;
                if (g) {   /* a conv without bias in PyTorch has none to compare */
                    assert_int_equal(n, len);
                    expect_rel(name, grads + off, g, len, 1e-4);
                    matched++;
                    free(g);
                }
                off += len;
            }
        }
        /* every PyTorch parameter was found: count the datasets under grads/ */
        hsize_t nmod = 0, total = 0;
        hid_t gg = H5Gopen2(f, "grads", H5P_DEFAULT);
        H5Gget_num_objs(gg, &nmod);
        for (hsize_t k = 0; k < nmod; k++) {
            char mod[256];
            H5Gget_objname_by_idx(gg, k, mod, sizeof mod);
            hid_t sub = H5Gopen2(gg, mod, H5P_DEFAULT);
            hsize_t c = 0;
            H5Gget_num_objs(sub, &c);
            total += c;
            H5Gclose(sub);
        }
        H5Gclose(gg);
        printf("    %d of %llu PyTorch parameter gradients compared\n", matched, (unsigned long long)total);
        assert_int_equal(matched, (int)total);
        free(grads);
    }
    free(x); free(logits); free(r);
    H5Fclose(f);
    model_free(&m);
}

static void test_resnet18_folded(void **s) { (void)s; check_net("resnet18", "eval", 0); }
static void test_resnet18_bn(void **s) { (void)s; check_net("resnet18", "bn", 1); }
static void test_mobilenet_v2_folded(void **s) { (void)s; check_net("mobilenet_v2_05", "eval", 0); }
static void test_mobilenet_v2_bn(void **s) { (void)s; check_net("mobilenet_v2_05", "bn", 1); }
/* beyond Must show 1: width 1.0, and squeezenet1_1 (fire modules: concat,
 * ceil-mode max pooling; its kept-batch-norm export has training-mode Dropout) */
static void test_mobilenet_v2_10(void **s) { (void)s; check_net("mobilenet_v2_10", "eval", 0); check_net("mobilenet_v2_10", "bn", 0); }
static void test_squeezenet1_1(void **s) { (void)s; check_net("squeezenet1_1", "eval", 0); check_net("squeezenet1_1", "bn", 0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet18_folded),
        cmocka_unit_test(test_resnet18_bn),
        cmocka_unit_test(test_mobilenet_v2_folded),
        cmocka_unit_test(test_mobilenet_v2_bn),
        cmocka_unit_test(test_mobilenet_v2_10),
        cmocka_unit_test(test_squeezenet1_1),
    };
    return cmocka_run_group_tests(tests, generate, NULL);
}
