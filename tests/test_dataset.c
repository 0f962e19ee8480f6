/* test_dataset.c: the dataset file contract. dataset_write files round-trip;
 * files laid out the way h5py writes them by default (int64 labels,
 * fixed-length strings, contiguous or gzip storage, no task attribute) are
 * read; every broken file is refused with a message naming the file and the
 * object; a failed write leaves no file behind. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>

#include "data/dataset.h"
#include "lib/testutil.h"


static void expect_refused(const char *path, DlStatus want, const char *needle) {
    Dataset d;
    DlStatus st = dataset_open(&d, path);
    if (st != want) fail_msg("%s: status %d, want %d (%s)", path, st, want, dl_errmsg());
    if (!strstr(dl_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", dl_errmsg(), needle);
    if (!strstr(dl_errmsg(), path)) fail_msg("message '%s' does not name the file", dl_errmsg());
    assert_null(d.images);
}

static void test_round_trip(void **s) {
    (void)s;
    enum { N = 5, H = 3, W = 4, C = 3, K = 3 };
    uint8_t img[N * H * W * C];
    for (int i = 0; i < N * H * W * C; i++) img[i] = (uint8_t)(i * 7 + 3);
    int32_t lab[N] = { 2, 0, 1, 1, 2 };
    char *names[K] = { "T-shirt/top", "Ankle boot", "naïve ü" };
    const char *path = tmp("rt.h5");
    assert_int_equal(dataset_write(path, img, N, H, W, C, lab, NULL, K, names), DL_OK);
    assert_int_equal(access(tmp("rt.h5.partial"), F_OK), -1);
    Dataset d;
    assert_int_equal(dataset_open(&d, path), DL_OK);
    assert_int_equal(d.n, N);
    assert_int_equal(d.h, H);
    assert_int_equal(d.w, W);
    assert_int_equal(d.c, C);
    assert_int_equal(d.k, K);
    assert_false(d.multi);
    for (int i = 0; i < K; i++) assert_string_equal(d.class_names[i], names[i]);
    assert_memory_equal(d.labels, lab, sizeof lab);
    assert_memory_equal(d.images, img, sizeof img);
    /* dataset_images: NHWC bytes -> NCHW floats / 255; pick samples 3 and 1 */
    float x[2 * C * H * W];
    dataset_images(&d, (int64_t[]){ 3, 1 }, 2, x);
    for (int b = 0; b < 2; b++) {
        int src = b == 0 ? 3 : 1;
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++)
                assert_true(x[(b * C + c) * H * W + p] == (float)img[(src * H * W + p) * C + c] / 255.0f);
    }
    dataset_close(&d);
    dataset_close(&d);   /* closing twice is harmless */
}

static void test_multi_round_trip(void **s) {
    (void)s;
    uint8_t img[4 * 2 * 2] = { 0 };
    uint8_t tg[4 * 3] = { 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0 };
    char *names[3] = { "clear", "haze", "road" };
    const char *path = tmp("multi.h5");
    assert_int_equal(dataset_write(path, img, 4, 2, 2, 1, NULL, tg, 3, names), DL_OK);
    Dataset d;
    assert_int_equal(dataset_open(&d, path), DL_OK);
    assert_true(d.multi);
    assert_null(d.labels);
    assert_int_equal(d.k, 3);
    assert_memory_equal(d.targets, tg, sizeof tg);
    dataset_close(&d);
}

/* ---- files written with the raw HDF5 API, as other tools write them ---- */

typedef struct {
    hid_t img_type;          /* file type of /images */
    int rank, n, h, w, c;    /* /images shape (rank 4 unless testing) */
    int gzip;                /* chunked + deflate, else contiguous */
    const char *labels_name; /* "labels", "targets" or NULL */
    hid_t lab_type;
    int lab_count;           /* entries in /labels (rows in /targets) */
    int lab_cols;            /* /targets columns */
    int64_t lab_value;       /* every label (or target) */
    int names;               /* class_names: 0 none, 1 fixed-length, 2 variable */
    const char *task;        /* NULL: no task attribute */
    int64_t version;         /* <0: no format_version */
} Spec;

static Spec h5py_like(void) {
    return (Spec){ .img_type = H5T_STD_U8LE, .rank = 4, .n = 6, .h = 5, .w = 5, .c = 1, .gzip = 1,
                   .labels_name = "labels", .lab_type = H5T_STD_I64LE, .lab_count = 6, .lab_cols = 1,
                   .lab_value = 1, .names = 1, .task = NULL, .version = -1 };
}

static void write_raw(const char *path, const Spec *sp) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dims[4] = { (hsize_t)sp->n, (hsize_t)sp->h, (hsize_t)sp->w, (hsize_t)sp->c };
    size_t count = (size_t)sp->n * sp->h * sp->w * sp->c;
    double *img = calloc(count, sizeof(double));
    for (size_t i = 0; i < count; i++) img[i] = (double)(i % 251);
    hid_t space = H5Screate_simple(sp->rank, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    if (sp->gzip) {
        hsize_t chunk[4] = { 1, dims[1], dims[2], dims[3] };
        H5Pset_chunk(pl, sp->rank, chunk);
        H5Pset_deflate(pl, 4);
    }
    hid_t ds = H5Dcreate2(f, "images", sp->img_type, space, H5P_DEFAULT, pl, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, img) >= 0);
    H5Dclose(ds); H5Pclose(pl); H5Sclose(space);
    free(img);
    if (sp->labels_name) {
        int targets = !strcmp(sp->labels_name, "targets");
        hsize_t ld[2] = { (hsize_t)sp->lab_count, (hsize_t)sp->lab_cols };
        size_t lc = (size_t)sp->lab_count * (targets ? sp->lab_cols : 1);
        int64_t *lab = malloc(lc * sizeof *lab);
        for (size_t i = 0; i < lc; i++) lab[i] = sp->lab_value;
        space = H5Screate_simple(targets ? 2 : 1, ld, NULL);
        ds = H5Dcreate2(f, sp->labels_name, sp->lab_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) >= 0);
        H5Dclose(ds); H5Sclose(space);
        free(lab);
    }
    if (sp->names) {   /* "a", "bb", "ccc" */
        hsize_t k = 3;
        space = H5Screate_simple(1, &k, NULL);
        hid_t t = H5Tcopy(H5T_C_S1);
        if (sp->names == 1) {
            H5Tset_size(t, 3);
            H5Tset_strpad(t, H5T_STR_NULLPAD);   /* numpy 'S3' */
            hid_t a = H5Acreate2(f, "class_names", t, space, H5P_DEFAULT, H5P_DEFAULT);
            assert_true(H5Awrite(a, t, "a\0\0bb\0ccc") >= 0);
            H5Aclose(a);
        } else {
            H5Tset_size(t, H5T_VARIABLE);
            const char *v[3] = { "a", "bb", "ccc" };
            hid_t a = H5Acreate2(f, "class_names", t, space, H5P_DEFAULT, H5P_DEFAULT);
            assert_true(H5Awrite(a, t, v) >= 0);
            H5Aclose(a);
        }
        H5Tclose(t); H5Sclose(space);
    }
    if (sp->task) {
        space = H5Screate(H5S_SCALAR);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(sp->task));
        hid_t a = H5Acreate2(f, "task", t, space, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Awrite(a, t, sp->task) >= 0);
        H5Aclose(a); H5Tclose(t); H5Sclose(space);
    }
    if (sp->version >= 0) {
        space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "format_version", H5T_STD_I8LE, space, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Awrite(a, H5T_NATIVE_INT64, &sp->version) >= 0);
        H5Aclose(a); H5Sclose(space);
    }
    assert_true(H5Fclose(f) >= 0);
}

static void test_h5py_defaults(void **s) {
    (void)s;
    Spec sp = h5py_like();
    write_raw(tmp("h5py.h5"), &sp);
    Dataset d;
    assert_int_equal(dataset_open(&d, tmp("h5py.h5")), DL_OK);
    assert_int_equal(d.n, 6);
    assert_int_equal(d.k, 3);
    assert_string_equal(d.class_names[2], "ccc");
    assert_int_equal(d.labels[5], 1);
    assert_int_equal(d.images[26], 26);
    dataset_close(&d);
    /* variable-length names, int8 labels, contiguous, task and version given */
    sp.names = 2; sp.lab_type = H5T_STD_I8LE; sp.gzip = 0; sp.task = "single"; sp.version = 1;
    write_raw(tmp("vlen.h5"), &sp);
    assert_int_equal(dataset_open(&d, tmp("vlen.h5")), DL_OK);
    assert_string_equal(d.class_names[1], "bb");
    dataset_close(&d);
    /* no class_names: classes are numbered 0..max label */
    sp.names = 0; sp.lab_value = 4;
    write_raw(tmp("nonames.h5"), &sp);
    assert_int_equal(dataset_open(&d, tmp("nonames.h5")), DL_OK);
    assert_int_equal(d.k, 5);
    assert_string_equal(d.class_names[4], "4");
    dataset_close(&d);
    /* multi-label without a task attribute: /targets decides */
    sp = h5py_like();
    sp.labels_name = "targets"; sp.lab_cols = 3; sp.lab_type = H5T_STD_U8LE;
    write_raw(tmp("multi_notask.h5"), &sp);
    assert_int_equal(dataset_open(&d, tmp("multi_notask.h5")), DL_OK);
    assert_true(d.multi);
    dataset_close(&d);
}

static void test_refused(void **s) {
    (void)s;
    expect_refused(tmp("missing.h5"), DL_EIO, "No such file");
    FILE *f = fopen(tmp("text.h5"), "w");
    fputs("not hdf5\n", f);
    fclose(f);
    expect_refused(tmp("text.h5"), DL_EFORMAT, "not an HDF5 file");

    Spec sp;
    sp = h5py_like(); sp.img_type = H5T_IEEE_F32LE;
    write_raw(tmp("float.h5"), &sp);
    expect_refused(tmp("float.h5"), DL_EFORMAT, "'images' has the wrong type or rank");
    sp = h5py_like(); sp.img_type = H5T_STD_U16LE;
    write_raw(tmp("u16.h5"), &sp);
    expect_refused(tmp("u16.h5"), DL_EFORMAT, "'images' must be uint8");
    sp = h5py_like(); sp.rank = 3;
    write_raw(tmp("rank3.h5"), &sp);
    expect_refused(tmp("rank3.h5"), DL_EFORMAT, "'images' has the wrong type or rank (expected uint8 (N, H, W, C)");
    sp = h5py_like(); sp.c = 2;
    write_raw(tmp("c2.h5"), &sp);
    expect_refused(tmp("c2.h5"), DL_EFORMAT, "2 channels");
    sp = h5py_like(); sp.labels_name = NULL;
    write_raw(tmp("nolabels.h5"), &sp);
    expect_refused(tmp("nolabels.h5"), DL_EFORMAT, "no dataset 'labels'");
    sp = h5py_like(); sp.lab_count = 5;
    write_raw(tmp("short.h5"), &sp);
    expect_refused(tmp("short.h5"), DL_EFORMAT, "'labels' has 5 entries but 'images' has 6");
    sp = h5py_like(); sp.lab_value = 3;
    write_raw(tmp("range.h5"), &sp);
    expect_refused(tmp("range.h5"), DL_EFORMAT, "labels[0] = 3 is outside 0..2");
    sp = h5py_like(); sp.lab_value = -1; sp.names = 0;
    write_raw(tmp("negative.h5"), &sp);
    expect_refused(tmp("negative.h5"), DL_EFORMAT, "labels[0] = -1");
    sp = h5py_like(); sp.task = "regression";
    write_raw(tmp("task.h5"), &sp);
    expect_refused(tmp("task.h5"), DL_EFORMAT, "'task' is \"regression\"");
    sp = h5py_like(); sp.version = 9;
    write_raw(tmp("version.h5"), &sp);
    expect_refused(tmp("version.h5"), DL_EFORMAT, "format_version 9 is newer");
    sp = h5py_like(); sp.labels_name = "targets"; sp.lab_cols = 3; sp.lab_value = 2; sp.task = "multi";
    write_raw(tmp("targets2.h5"), &sp);
    expect_refused(tmp("targets2.h5"), DL_EFORMAT, "targets[0, 0] = 2; expected 0 or 1");
    sp = h5py_like(); sp.labels_name = "targets"; sp.lab_cols = 4; sp.lab_value = 1; sp.task = "multi";
    write_raw(tmp("targets4.h5"), &sp);
    expect_refused(tmp("targets4.h5"), DL_EFORMAT, "'targets' has 4 columns but there are 3 class names");

    /* a truncated copy of a good file (a copy cut short by a full disk) */
    uint8_t img[64 * 28 * 28] = { 0 };
    int32_t lab[64] = { 0 };
    char *names[1] = { "x" };
    assert_int_equal(dataset_write(tmp("whole.h5"), img, 64, 28, 28, 1, lab, NULL, 1, names), DL_OK);
    f = fopen(tmp("whole.h5"), "rb");
    static char buf[1 << 17];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(tmp("cut.h5"), "wb");
    fwrite(buf, 1, len / 2, f);
    fclose(f);
    Dataset d;
    DlStatus st = dataset_open(&d, tmp("cut.h5"));
    assert_int_not_equal(st, DL_OK);
    assert_non_null(strstr(dl_errmsg(), tmp("cut.h5")));
}

static void test_failed_write_leaves_nothing(void **s) {
    (void)s;
    uint8_t img[4] = { 0 };
    int32_t lab[1] = { 0 };
    char *names[1] = { "x" };
    const char *path = tmp("no/such/dir/out.h5");
    DlStatus st = dataset_write(path, img, 1, 2, 2, 1, lab, NULL, 1, names);
    assert_int_equal(st, DL_EIO);
    assert_non_null(strstr(dl_errmsg(), path));
    assert_int_equal(access(path, F_OK), -1);
    /* an existing file is replaced only by a complete one: a write that
     * fails keeps the old file intact */
    path = tmp("keep.h5");
    assert_int_equal(dataset_write(path, img, 1, 2, 2, 1, lab, NULL, 1, names), DL_OK);
    assert_int_equal(mkdir(tmp("keep.h5.partial"), 0700), 0);   /* the temporary cannot be made */
    uint8_t img2[4] = { 9, 9, 9, 9 };
    assert_int_equal(dataset_write(path, img2, 1, 2, 2, 1, lab, NULL, 1, names), DL_EIO);
    Dataset d;
    assert_int_equal(dataset_open(&d, path), DL_OK);
    assert_memory_equal(d.images, img, sizeof img);
    dataset_close(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_multi_round_trip),
        cmocka_unit_test(test_h5py_defaults),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_failed_write_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
