/* test_jpeg.c: JPEG decode/encode (jpeg.h), presizing (resize.h) and
 * JPEG-stored dataset files (/jpeg in dataset.h). JPEGs are made here with
 * tjCompress2 from known pixels, so decoded values can be checked against
 * the source; resize results are checked against values worked out by hand;
 * damaged, empty and foreign bytes must come back as DL_EFORMAT naming the
 * input. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <turbojpeg.h>

#include "data/dataset.h"
#include "data/jpeg.h"
#include "data/resize.h"
#include "lib/testutil.h"


/* A smooth test image (h, w, c): JPEG keeps smooth images within a few levels. */
static uint8_t *smooth(int h, int w, int c) {
    uint8_t *p = malloc((size_t)h * w * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++)
                p[((size_t)y * w + x) * c + ch] = (uint8_t)(40 + (150 * x) / w + (50 * y) / h + 7 * ch);
    return p;
}

/* Encodes with TurboJPEG directly (not through jpeg_encode). */
static uint8_t *tj_encode(const uint8_t *img, int h, int w, int pf, int samp, int quality, size_t *n) {
    tjhandle t = tjInitCompress();
    unsigned char *buf = NULL;
    unsigned long size = 0;
    if (tjCompress2(t, img, w, 0, h, pf, &buf, &size, samp, quality, 0) != 0) fail_msg("tjCompress2: %s", tjGetErrorStr2(t));
    tjDestroy(t);
    uint8_t *out = malloc(size);
    memcpy(out, buf, size);
    tjFree(buf);
    *n = size;
    return out;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m) m = d;
    }
    return m;
}

static uint8_t luma(const uint8_t *p) { return (uint8_t)((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000); }

static void test_decode_rgb_and_grey(void **s) {
    (void)s;
    enum { H = 23, W = 37 };
    JpegCodec jc = { 0 };
    uint8_t *rgb = smooth(H, W, 3), *grey = smooth(H, W, 1), *out = NULL, *out2 = NULL;
    size_t n;
    int h, w, c;
    uint8_t *j = tj_encode(rgb, H, W, TJPF_RGB, TJSAMP_444, 100, &n);
    assert_int_equal(jpeg_decode(&jc, j, n, 0, 0, 0, "rgb.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(h, H);
    assert_int_equal(w, W);
    assert_int_equal(c, 3);
    int d = max_diff(out, rgb, (size_t)H * W * 3);
    if (d > 3) fail_msg("RGB decode differs by %d levels", d);
    /* colour to grey: BT.601 luma of the colour decode, within rounding */
    assert_int_equal(jpeg_decode(&jc, j, n, 1, 0, 0, "rgb.jpg", &out2, &h, &w, &c), DL_OK);
    assert_int_equal(c, 1);
    for (int p = 0; p < H * W; p++)
        if (abs((int)out2[p] - (int)luma(out + 3 * p)) > 2) fail_msg("pixel %d: grey %d, luma of RGB %d", p, out2[p], luma(out + 3 * p));
    free(j);
    dl_free(out);
    dl_free(out2);

    j = tj_encode(grey, H, W, TJPF_GRAY, TJSAMP_GRAY, 100, &n);
    assert_int_equal(jpeg_decode(&jc, j, n, 0, 0, 0, "grey.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(c, 1);
    d = max_diff(out, grey, (size_t)H * W);
    if (d > 2) fail_msg("grey decode differs by %d levels", d);
    /* grey to RGB: three equal channels */
    assert_int_equal(jpeg_decode(&jc, j, n, 3, 0, 0, "grey.jpg", &out2, &h, &w, &c), DL_OK);
    assert_int_equal(c, 3);
    for (int p = 0; p < H * W; p++) {
        assert_int_equal(out2[3 * p], out[p]);
        assert_int_equal(out2[3 * p + 1], out[p]);
        assert_int_equal(out2[3 * p + 2], out[p]);
    }
    free(j);
    dl_free(out);
    dl_free(out2);
    free(rgb);
    free(grey);
    jpeg_codec_free(&jc);
}

/* CMYK as libjpeg-turbo's tools write it (Adobe-inverted: 255 = no ink). */
static void rgb_to_cmyk(const uint8_t *rgb, uint8_t *cmyk) {
    double c = 1.0 - rgb[0] / 255.0, m = 1.0 - rgb[1] / 255.0, y = 1.0 - rgb[2] / 255.0;
    double k = c < m ? (c < y ? c : y) : (m < y ? m : y);
    cmyk[3] = (uint8_t)(255.0 - k * 255.0 + 0.5);
    if (k == 1.0) { cmyk[0] = cmyk[1] = cmyk[2] = 255; return; }
    cmyk[0] = (uint8_t)(255.0 - (c - k) / (1.0 - k) * 255.0 + 0.5);
    cmyk[1] = (uint8_t)(255.0 - (m - k) / (1.0 - k) * 255.0 + 0.5);
    cmyk[2] = (uint8_t)(255.0 - (y - k) / (1.0 - k) * 255.0 + 0.5);
}

static void test_decode_cmyk(void **s) {
    (void)s;
    enum { H = 23, W = 37 };
    uint8_t *rgb = smooth(H, W, 3), *cmyk = malloc(H * W * 4), *out = NULL;
    for (int p = 0; p < H * W; p++) rgb_to_cmyk(rgb + 3 * p, cmyk + 4 * p);
    size_t n;
    int h, w, c;
    uint8_t *j = tj_encode(cmyk, H, W, TJPF_CMYK, TJSAMP_444, 100, &n);
    JpegCodec jc = { 0 };
    assert_int_equal(jpeg_decode(&jc, j, n, 0, 0, 0, "cmyk.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(c, 3);
    int d = max_diff(out, rgb, (size_t)H * W * 3);
    if (d > 6) fail_msg("CMYK decode differs from the RGB source by %d levels", d);
    dl_free(out);
    assert_int_equal(jpeg_decode(&jc, j, n, 1, 0, 0, "cmyk.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(c, 1);
    for (int p = 0; p < H * W; p++)
        if (abs((int)out[p] - (int)luma(rgb + 3 * p)) > 6) fail_msg("CMYK to grey, pixel %d: %d vs %d", p, out[p], luma(rgb + 3 * p));
    dl_free(out);
    free(j);
    free(cmyk);
    free(rgb);
    jpeg_codec_free(&jc);
}

/* Large images decode at 1/2, 1/4 or 1/8 scale while that keeps min_h x min_w. */
static void test_decode_scaled(void **s) {
    (void)s;
    enum { H = 120, W = 160 };
    uint8_t *rgb = smooth(H, W, 3), *out = NULL;
    size_t n;
    int h, w, c;
    uint8_t *j = tj_encode(rgb, H, W, TJPF_RGB, TJSAMP_420, 90, &n);
    JpegCodec jc = { 0 };
    assert_int_equal(jpeg_decode(&jc, j, n, 3, 15, 20, "big.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(h, 15);
    assert_int_equal(w, 20);
    dl_free(out);
    assert_int_equal(jpeg_decode(&jc, j, n, 3, 16, 16, "big.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(h, 30);
    assert_int_equal(w, 40);
    dl_free(out);
    assert_int_equal(jpeg_decode(&jc, j, n, 3, 200, 200, "big.jpg", &out, &h, &w, &c), DL_OK);
    assert_int_equal(h, H);
    assert_int_equal(w, W);
    dl_free(out);
    free(j);
    free(rgb);
    jpeg_codec_free(&jc);
}

static void expect_bad(JpegCodec *jc, const uint8_t *b, size_t n, const char *name, const char *needle) {
    uint8_t *out = (uint8_t *)1;
    int h, w, c;
    DlStatus st = jpeg_decode(jc, b, n, 3, 0, 0, name, &out, &h, &w, &c);
    if (st != DL_EFORMAT) fail_msg("%s: status %d, want DL_EFORMAT", name, st);
    assert_null(out);
    if (strncmp(dl_errmsg(), name, strlen(name))) fail_msg("message '%s' does not start with the name %s", dl_errmsg(), name);
    if (!strstr(dl_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", dl_errmsg(), needle);
}

static void test_decode_errors(void **s) {
    (void)s;
    enum { H = 23, W = 37 };
    uint8_t *rgb = smooth(H, W, 3);
    size_t n;
    uint8_t *j = tj_encode(rgb, H, W, TJPF_RGB, TJSAMP_420, 90, &n);
    JpegCodec jc = { 0 };
    expect_bad(&jc, j, 0, "empty.jpg", "empty");
    expect_bad(&jc, j, n - 40, "cut.jpg", "Premature end");
    expect_bad(&jc, j, n / 2, "half.jpg", "JPEG");
    expect_bad(&jc, j, 200, "head.jpg", "not a readable JPEG");
    expect_bad(&jc, j, 3, "three.jpg", "JPEG");
    const uint8_t png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    expect_bad(&jc, png, sizeof png - 1, "x.jpg", "PNG");
    const char *text = "tags: clear primary\n";
    expect_bad(&jc, (const uint8_t *)text, strlen(text), "notes.jpg", "text");
    uint8_t garbage[300];
    for (int i = 0; i < 300; i++) garbage[i] = (uint8_t)(i * 151 + 17);
    expect_bad(&jc, garbage, sizeof garbage, "garbage.jpg", "not a JPEG");
    garbage[0] = 0xFF; garbage[1] = 0xD8;     /* a JPEG marker, then noise */
    expect_bad(&jc, garbage, sizeof garbage, "noise.jpg", "JPEG");
    /* bytes flipped in the entropy-coded data: refused or decoded, never a crash */
    uint8_t *flip = malloc(n), *out = NULL;
    memcpy(flip, j, n);
    for (size_t i = n / 2; i < n - 2; i += 7) flip[i] ^= 0x5A;
    int h, w, c;
    DlStatus st = jpeg_decode(&jc, flip, n, 3, 0, 0, "flip.jpg", &out, &h, &w, &c);
    assert_true(st == DL_OK || st == DL_EFORMAT);
    if (st == DL_OK) { assert_int_equal(h, H); dl_free(out); }
    free(flip);
    /* a benign warning (extraneous bytes between markers) is accepted */
    uint8_t *extra = malloc(n + 2);
    memcpy(extra, j, 2);
    extra[2] = 0x12;
    extra[3] = 0x34;
    memcpy(extra + 4, j + 2, n - 2);
    if (jpeg_decode(&jc, extra, n + 2, 3, 0, 0, "extra.jpg", &out, &h, &w, &c) != DL_OK) fail_msg("extra bytes: %s", dl_errmsg());
    dl_free(out);
    free(extra);
    /* the same codec still decodes a good image after all those failures
     * (libjpeg-turbo 2.1 handles can stay stuck after a header error) */
    expect_bad(&jc, garbage, sizeof garbage, "noise.jpg", "JPEG");
    assert_int_equal(jpeg_decode(&jc, j, n, 3, 0, 0, "good.jpg", &out, &h, &w, &c), DL_OK);
    dl_free(out);
    free(j);
    free(rgb);
    jpeg_codec_free(&jc);
}

static void test_encode_round_trip(void **s) {
    (void)s;
    enum { H = 23, W = 37 };
    JpegCodec jc = { 0 };
    for (int c = 1; c <= 3; c += 2) {
        uint8_t *img = smooth(H, W, c), *j, *out;
        size_t n;
        int h, w, oc;
        assert_int_equal(jpeg_encode(&jc, img, H, W, c, 95, &j, &n), DL_OK);
        assert_true(n > 100);
        assert_int_equal(jpeg_decode(&jc, j, n, 0, 0, 0, "rt.jpg", &out, &h, &w, &oc), DL_OK);
        assert_int_equal(oc, c);
        int d = max_diff(out, img, (size_t)H * W * c);
        if (d > 4) fail_msg("c=%d: quality 95 round trip differs by %d levels", c, d);
        dl_free(out);
        dl_free(j);
        free(img);
    }
    jpeg_codec_free(&jc);
}

static void test_resize_area(void **s) {
    (void)s;
    /* 4x4 -> 2x2: each output is the exact mean of its 2x2 block */
    const uint8_t src[16] = { 10, 20, 100, 104, 30, 40, 108, 112, 0, 0, 255, 255, 4, 8, 255, 251 };
    uint8_t dst[4];
    resize_image(dst, 2, 2, src, 4, 4, 1);
    const uint8_t want[4] = { 25, 106, 3, 254 };
    assert_memory_equal(dst, want, 4);
    /* the same per channel, three interleaved channels */
    uint8_t src3[48], dst3[12];
    for (int i = 0; i < 16; i++) { src3[3 * i] = src[i]; src3[3 * i + 1] = (uint8_t)(255 - src[i]); src3[3 * i + 2] = 77; }
    resize_image(dst3, 2, 2, src3, 4, 4, 3);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(dst3[3 * i], want[i]);
        assert_int_equal(dst3[3 * i + 1], 255 - want[i]);
        assert_int_equal(dst3[3 * i + 2], 77);
    }
    /* 3 -> 2 (a ratio of 1.5): [0,1.5) and [1.5,3) weighted by overlap:
     * (0 + 90 * 0.5) / 1.5 = 30 and (90 * 0.5 + 180) / 1.5 = 150 */
    const uint8_t row[3] = { 0, 90, 180 };
    uint8_t out[2];
    resize_image(out, 1, 2, row, 1, 3, 1);
    assert_int_equal(out[0], 30);
    assert_int_equal(out[1], 150);
    /* mean 2.5 rounds up */
    const uint8_t half[2] = { 2, 3 };
    resize_image(out, 1, 1, half, 1, 2, 1);
    assert_int_equal(out[0], 3);
    /* equal size copies */
    resize_image(dst3, 2, 2, src3, 2, 2, 3);
    assert_memory_equal(dst3, src3, 12);
}

static void test_resize_bilinear(void **s) {
    (void)s;
    /* 2x2 -> 4x4 with centres aligned: along each axis the outputs sit at
     * source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1), so a
     * row (a, b) becomes (a, .75a + .25b, .25a + .75b, b). */
    const uint8_t src[4] = { 0, 100, 200, 40 };
    uint8_t dst[16];
    resize_image(dst, 4, 4, src, 2, 2, 1);
    const uint8_t want[16] = {
        0, 25, 75, 100,          /* row 0 = top row */
        50, 59, 76, 85,          /* .75 top + .25 bottom: 50, 58.75, 76.25, 85 */
        150, 126, 79, 55,        /* .25 top + .75 bottom: 150, 126.25, 78.75, 55 */
        200, 160, 80, 40,        /* bottom row */
    };
    assert_memory_equal(dst, want, 16);
    /* one pixel grows to a constant image */
    const uint8_t one = 123;
    uint8_t big[9];
    resize_image(big, 3, 3, &one, 1, 1, 1);
    for (int i = 0; i < 9; i++) assert_int_equal(big[i], 123);
    /* mixed: width shrinks (area), height grows (bilinear) */
    const uint8_t m[4] = { 10, 30, 110, 130 };   /* (2, 2) */
    uint8_t mo[4];                                /* (4, 1) */
    resize_image(mo, 4, 1, m, 2, 2, 1);
    const uint8_t mwant[4] = { 20, 45, 95, 120 };
    assert_memory_equal(mo, mwant, 4);
}

static void test_convert_channels(void **s) {
    (void)s;
    const uint8_t rgb[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255 };
    uint8_t g[4];
    image_convert_channels(g, 1, rgb, 3, 4);
    const uint8_t want[4] = { 76, 150, 29, 255 };   /* 0.299, 0.587, 0.114 of 255, rounded */
    assert_memory_equal(g, want, 4);
    uint8_t back[12];
    image_convert_channels(back, 3, g, 1, 4);
    for (int i = 0; i < 4; i++)
        for (int ch = 0; ch < 3; ch++) assert_int_equal(back[3 * i + ch], want[i]);
}

/* /jpeg files: dataset_write_jpeg + dataset_open give the decoded pixels of
 * each stored JPEG; damage names the file and the index. */
static void test_dataset_jpeg(void **s) {
    (void)s;
    enum { N = 3, H = 23, W = 37, C = 3, K = 2 };
    JpegCodec jc = { 0 };
    uint8_t *jp[N], *want = malloc((size_t)N * H * W * C);
    size_t js[N];
    for (int i = 0; i < N; i++) {
        uint8_t *img = smooth(H, W, C), *dec;
        for (int p = 0; p < H * W * C; p++) img[p] = (uint8_t)(img[p] + 20 * i);
        assert_int_equal(jpeg_encode(&jc, img, H, W, C, 90, &jp[i], &js[i]), DL_OK);
        int h, w, c;
        assert_int_equal(jpeg_decode(&jc, jp[i], js[i], C, 0, 0, "x", &dec, &h, &w, &c), DL_OK);
        memcpy(want + (size_t)i * H * W * C, dec, (size_t)H * W * C);
        dl_free(dec);
        free(img);
    }
    int32_t lab[N] = { 1, 0, 1 };
    char *names[K] = { "cat", "dog house" };
    const char *path = tmp("j.h5");
    assert_int_equal(dataset_write_jpeg(path, jp, js, N, H, W, C, lab, NULL, K, names), DL_OK);
    assert_int_equal(access(tmp("j.h5.partial"), F_OK), -1);
    Dataset d;
    assert_int_equal(dataset_open(&d, path), DL_OK);
    assert_int_equal(d.n, N);
    assert_int_equal(d.h, H);
    assert_int_equal(d.w, W);
    assert_int_equal(d.c, C);
    assert_int_equal(d.k, K);
    assert_string_equal(d.class_names[1], "dog house");
    assert_memory_equal(d.labels, lab, sizeof lab);
    assert_memory_equal(d.images, want, (size_t)N * H * W * C);
    dataset_close(&d);

    /* multi-label targets ride along */
    uint8_t tg[N * K] = { 1, 0, 0, 0, 1, 1 };
    assert_int_equal(dataset_write_jpeg(tmp("jm.h5"), jp, js, N, H, W, C, NULL, tg, K, names), DL_OK);
    assert_int_equal(dataset_open(&d, tmp("jm.h5")), DL_OK);
    assert_true(d.multi);
    assert_memory_equal(d.targets, tg, sizeof tg);
    dataset_close(&d);

    /* a truncated JPEG at index 1: refused, naming the file and the index */
    size_t keep = js[1];
    js[1] = keep / 2;
    const char *bad = tmp("bad.h5");
    assert_int_equal(dataset_write_jpeg(bad, jp, js, N, H, W, C, lab, NULL, K, names), DL_OK);
    assert_int_equal(dataset_open(&d, bad), DL_EFORMAT);
    if (!strstr(dl_errmsg(), bad) || !strstr(dl_errmsg(), "jpeg[1]")) fail_msg("message '%s' lacks the file or jpeg[1]", dl_errmsg());
    assert_null(d.images);
    js[1] = keep;
    /* a JPEG of another size than the attributes say */
    assert_int_equal(dataset_write_jpeg(tmp("size.h5"), jp, js, N, H, W + 1, C, lab, NULL, K, names), DL_OK);
    assert_int_equal(dataset_open(&d, tmp("size.h5")), DL_EFORMAT);
    if (!strstr(dl_errmsg(), "jpeg[0]") || !strstr(dl_errmsg(), "37x23")) fail_msg("size message: '%s'", dl_errmsg());

    /* as h5py writes it: vlen uint8 (or int8), int64 labels, no height/width/channels */
    for (int sgn = 0; sgn < 2; sgn++) {
        hid_t f = H5Fcreate(tmp("h5py.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dim = N;
        hvl_t v[N];
        for (int i = 0; i < N; i++) v[i] = (hvl_t){ .len = js[i], .p = jp[i] };
        hid_t vt = H5Tvlen_create(sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8), sp = H5Screate_simple(1, &dim, NULL);
        hid_t ds = H5Dcreate2(f, "jpeg", vt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Dwrite(ds, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        H5Dclose(ds);
        int64_t lab64[N] = { 1, 0, 1 };
        ds = H5Dcreate2(f, "labels", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab64) >= 0);
        H5Dclose(ds);
        H5Sclose(sp);
        H5Tclose(vt);
        H5Fclose(f);
        assert_int_equal(dataset_open(&d, tmp("h5py.h5")), DL_OK);
        assert_int_equal(d.h, H);
        assert_int_equal(d.w, W);
        assert_int_equal(d.c, C);
        assert_int_equal(d.k, 2);
        assert_memory_equal(d.images, want, (size_t)N * H * W * C);
        dataset_close(&d);
    }

    for (int i = 0; i < N; i++) dl_free(jp[i]);
    free(want);
    jpeg_codec_free(&jc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_rgb_and_grey),
        cmocka_unit_test(test_decode_cmyk),
        cmocka_unit_test(test_decode_scaled),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_resize_area),
        cmocka_unit_test(test_resize_bilinear),
        cmocka_unit_test(test_convert_channels),
        cmocka_unit_test(test_dataset_jpeg),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
