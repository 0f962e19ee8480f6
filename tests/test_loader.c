/* test_loader.c: streaming reads (a memory budget smaller than the file)
 * give the same bytes as in-memory reads, for raw /images and /jpeg files
 * and any index list; the prefetching loader delivers exactly what was
 * asked, across an epoch boundary, out of order and unasked; dataset_write
 * stores the per-channel mean and std. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "data/dataset.h"
#include "data/jpeg.h"
#include "data/loader.h"

enum { N = 53, H = 9, W = 7, C = 3, PER = H * W * C };

static char dir[] = "/tmp/dltrain_test_loader_XXXXXX";
static char raw_path[256], jpeg_path[256];
static uint8_t pixels[N * PER];

static int setup(void **s) {
    (void)s;
    if (!mkdtemp(dir)) return -1;
    snprintf(raw_path, sizeof raw_path, "%s/raw.h5", dir);
    snprintf(jpeg_path, sizeof jpeg_path, "%s/jpeg.h5", dir);
    for (int i = 0; i < N * PER; i++) pixels[i] = (uint8_t)((i * 37 + (i / PER) * 11) % 251);
    int32_t lab[N];
    for (int i = 0; i < N; i++) lab[i] = i % 3;
    char *names[3] = { "a", "b", "c" };
    if (dataset_write(raw_path, pixels, N, H, W, C, lab, NULL, 3, names) != DL_OK) return -1;
    JpegCodec jc = { 0 };
    uint8_t *jp[N];
    size_t js[N];
    for (int i = 0; i < N; i++)
        if (jpeg_encode(&jc, pixels + (size_t)i * PER, H, W, C, 80, &jp[i], &js[i]) != DL_OK) return -1;
    DlStatus st = dataset_write_jpeg(jpeg_path, jp, js, N, H, W, C, lab, NULL, 3, names);
    for (int i = 0; i < N; i++) dl_free(jp[i]);
    jpeg_codec_free(&jc);
    return st == DL_OK ? 0 : -1;
}

static int teardown(void **s) {
    (void)s;
    unlink(raw_path);
    unlink(jpeg_path);
    rmdir(dir);
    return 0;
}

/* index lists: shuffled, with runs of consecutive indices, repeats, reversed */
static int make_lists(int64_t lists[4][N]) {
    uint64_t r = 12345;
    for (int i = 0; i < N; i++) lists[0][i] = i;
    for (int i = N - 1; i > 0; i--) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int j = (int)((r >> 33) % (uint64_t)(i + 1));
        int64_t t = lists[0][i]; lists[0][i] = lists[0][j]; lists[0][j] = t;
    }
    for (int i = 0; i < N; i++) lists[1][i] = (i * 5 + (i / 4)) % N;   /* runs of 4-ish */
    for (int i = 0; i < N; i++) lists[2][i] = (i / 3) % 7;             /* repeats */
    for (int i = 0; i < N; i++) lists[3][i] = N - 1 - i;
    return 4;
}

static void same_bytes(const char *path) {
    Dataset mem, str;
    assert_int_equal(dataset_open(&mem, path), DL_OK);
    assert_int_equal(dataset_open_budget(&str, path, 1), DL_OK);
    assert_non_null(mem.images);
    assert_false(mem.streaming);
    assert_null(str.images);
    assert_true(str.streaming);
    assert_int_equal(str.n, N);
    assert_int_equal(str.h, H);
    assert_int_equal(str.w, W);
    assert_int_equal(str.c, C);
    assert_memory_equal(str.labels, mem.labels, sizeof(int32_t) * N);
    /* a budget the file fits in keeps it in memory */
    Dataset big;
    assert_int_equal(dataset_open_budget(&big, path, (int64_t)N * PER), DL_OK);
    assert_false(big.streaming);
    dataset_close(&big);

    int64_t lists[4][N];
    int nl = make_lists(lists);
    static uint8_t a[N * PER], b[N * PER];
    static float fa[N * PER], fb[N * PER];
    for (int l = 0; l < nl; l++)
        for (int n = 1; n <= N; n += 13) {
            memset(b, 0, sizeof b);
            assert_int_equal(dataset_read(&mem, lists[l], n, a, NULL), DL_OK);
            assert_int_equal(dataset_read(&str, lists[l], n, b, NULL), DL_OK);
            assert_memory_equal(a, b, (size_t)n * PER);
            for (int i = 0; i < n; i++)
                assert_memory_equal(a + (size_t)i * PER, mem.images + (size_t)lists[l][i] * PER, PER);
            dataset_images(&mem, lists[l], n, fa);
            dataset_images(&str, lists[l], n, fb);
            assert_memory_equal(fa, fb, sizeof(float) * (size_t)n * PER);
        }
    dataset_close(&mem);
    dataset_close(&str);
}

static void test_stream_raw(void **s) {
    (void)s;
    same_bytes(raw_path);
    Dataset d;   /* the raw file's bytes are the written pixels */
    assert_int_equal(dataset_open_budget(&d, raw_path, 1), DL_OK);
    static uint8_t b[N * PER];
    int64_t all[N];
    for (int i = 0; i < N; i++) all[i] = i;
    assert_int_equal(dataset_read(&d, all, N, b, NULL), DL_OK);
    assert_memory_equal(b, pixels, sizeof pixels);
    dataset_close(&d);
}

static void test_stream_jpeg(void **s) {
    (void)s;
    same_bytes(jpeg_path);
}

/* mean and std attributes: per channel over every pixel, [0,1] units */
static void test_stats(void **s) {
    (void)s;
    Dataset d;
    assert_int_equal(dataset_open(&d, raw_path), DL_OK);
    assert_true(d.has_stats);
    for (int ch = 0; ch < C; ch++) {
        double sum = 0, sq = 0;
        for (int i = ch; i < N * PER; i += C) { double v = pixels[i] / 255.0; sum += v; sq += v * v; }
        double m = sum / (N * H * W), sd = sqrt(sq / (N * H * W) - m * m);
        assert_true(fabs(d.mean[ch] - m) < 1e-6);
        assert_true(fabs(d.std[ch] - sd) < 1e-6);
    }
    dataset_close(&d);
    assert_int_equal(dataset_open(&d, jpeg_path), DL_OK);   /* the decoded images' statistics */
    assert_true(d.has_stats);
    assert_true(d.mean[0] > 0.1f && d.mean[0] < 0.9f && d.std[0] > 0.01f);
    dataset_close(&d);
}

static void check_got(const Dataset *d, const uint8_t *bytes, const int64_t *got, const int64_t *want, int n) {
    static uint8_t b[N * PER];
    assert_memory_equal(got, want, sizeof(int64_t) * (size_t)n);
    assert_int_equal(dataset_read(d, want, n, b, NULL), DL_OK);
    assert_memory_equal(bytes, b, (size_t)n * PER);
}

/* The loader, as the train loop drives it: 2 epochs of steps of 8 samples
 * from two permutations, each step requested while the previous is held;
 * then a get never requested (a resume) and a request replaced unfetched. */
static void loader_run(const char *path, int64_t budget) {
    enum { B = 8, STEPS = N / B };
    Dataset d;
    assert_int_equal(dataset_open_budget(&d, path, budget), DL_OK);
    int64_t perm[4][N];
    make_lists(perm);   /* epoch 0: shuffled, epoch 1: runs */
    Loader *l = loader_new(&d, B);
    const uint8_t *bytes;
    const int64_t *got;
    loader_request(l, 0, 0, perm[0], B);
    for (int e = 0; e < 2; e++)
        for (int s = 0; s < STEPS; s++) {
            assert_int_equal(loader_get(l, e, s, NULL, 0, &bytes, &got, NULL), DL_OK);
            int ne = s + 1 < STEPS ? e : e + 1, ns = s + 1 < STEPS ? s + 1 : 0;
            if (ne < 2) loader_request(l, ne, ns, perm[ne] + ns * B, B);   /* prefetch while "computing" */
            check_got(&d, bytes, got, perm[e] + s * B, B);
        }
    /* resume mid-epoch: nothing requested under this tag */
    assert_int_equal(loader_get(l, 1, 3, perm[1] + 3 * B, B, &bytes, &got, NULL), DL_OK);
    check_got(&d, bytes, got, perm[1] + 3 * B, B);
    /* a prefetch that is not what comes next is replaced */
    loader_request(l, 1, 4, perm[1] + 4 * B, B);
    loader_request(l, 5, 0, perm[0], B);
    assert_int_equal(loader_get(l, 1, 5, perm[1] + 5 * B, B, &bytes, &got, NULL), DL_OK);
    check_got(&d, bytes, got, perm[1] + 5 * B, B);
    /* a tag never requested and no indices: an error, not a hang */
    assert_int_equal(loader_get(l, 9, 9, NULL, 0, &bytes, &got, NULL), DL_EARG);
    loader_request(l, 0, 1, perm[0] + B, B);   /* freed with a request in flight */
    loader_free(l);
    dataset_close(&d);
}

static void test_loader_memory(void **s) { (void)s; loader_run(raw_path, 0); }
static void test_loader_stream_raw(void **s) { (void)s; loader_run(raw_path, 1); }
static void test_loader_stream_jpeg(void **s) { (void)s; loader_run(jpeg_path, 1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_raw),       cmocka_unit_test(test_stream_jpeg),
        cmocka_unit_test(test_stats),            cmocka_unit_test(test_loader_memory),
        cmocka_unit_test(test_loader_stream_raw), cmocka_unit_test(test_loader_stream_jpeg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
