/* test_augment.c: each augmentation against hand-written transforms: every
 * output is one of the allowed images (the 8 symmetries of the square, the
 * (2P+1)^2 zero-filled shifts), every allowed one occurs, each with about its
 * share, and the choice depends only on (seed, epoch, sample). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "data/augment.h"
#include "data/dataset.h"

enum { C = 2, H = 4, W = 4, N = C * H * W };

static void base(float *x) {   /* every pixel different */
    for (int i = 0; i < N; i++) x[i] = (float)(i * 7 % 31) / 31.0f;
}

/* The 8 symmetries written out by hand: rotations by 0/90/180/270 and their
 * mirror images; out[c][i][j] from in. */
static void hand_symmetry(float *out, const float *in, int k) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                int si, sj;
                switch (k) {
                case 0: si = i; sj = j; break;                     /* identity */
                case 1: si = j; sj = W - 1 - i; break;             /* rotate 90 */
                case 2: si = H - 1 - i; sj = W - 1 - j; break;     /* rotate 180 */
                case 3: si = H - 1 - j; sj = i; break;             /* rotate 270 */
                case 4: si = i; sj = W - 1 - j; break;             /* mirror left-right */
                case 5: si = H - 1 - i; sj = j; break;             /* mirror top-bottom */
                case 6: si = j; sj = i; break;                     /* transpose */
                default: si = H - 1 - j; sj = W - 1 - i; break;    /* anti-transpose */
                }
                out[(c * H + i) * W + j] = in[(c * H + si) * W + sj];
            }
}

static int which_symmetry(const float *y, const float *x) {
    float ref[N];
    for (int k = 0; k < 8; k++) {
        hand_symmetry(ref, x, k);
        if (!memcmp(ref, y, sizeof ref)) return k;
    }
    return -1;
}

static void run(float *y, const AugmentConfig *a, int epoch, int64_t sample) {
    float tmp[N];
    base(y);
    augment_sample(y, tmp, C, H, W, a, 42, epoch, sample);
}

static void test_parse(void **s) {
    (void)s;
    AugmentConfig a;
    assert_int_equal(augment_parse(&a, "hflip,translate=3,contrast=0.2"), DL_OK);
    assert_true(a.hflip && !a.vflip && a.translate == 3 && a.contrast == 0.2f);
    assert_int_equal(augment_parse(&a, "translate"), DL_OK);
    assert_int_equal(a.translate, 2);
    assert_int_equal(augment_parse(&a, "none"), DL_OK);
    assert_false(augment_any(&a));
    assert_int_equal(augment_parse(&a, "hflip,flip"), DL_EARG);
    assert_non_null(strstr(dl_errmsg(), "cannot use 'flip' (choose from hflip"));
    assert_int_equal(augment_parse(&a, "translate=-1"), DL_EARG);
    assert_int_equal(augment_parse(&a, "translate=1.5"), DL_EARG);
    assert_int_equal(augment_parse(&a, "contrast=1"), DL_EARG);
    assert_int_equal(augment_parse(&a, "crop"), DL_OK);
    assert_true(a.crop == 0.35f && augment_any(&a));
    assert_int_equal(augment_parse(&a, "crop=0.5,hflip"), DL_OK);
    assert_true(a.crop == 0.5f && a.hflip);
    assert_int_equal(augment_parse(&a, "crop=0"), DL_EARG);
    assert_int_equal(augment_parse(&a, "crop=1.5"), DL_EARG);
}

static void test_flips(void **s) {
    (void)s;
    AugmentConfig a = { .hflip = 1 };
    float x[N], y[N];
    base(x);
    int count[8] = { 0 };
    for (int i = 0; i < 2000; i++) {
        run(y, &a, 0, i);
        int k = which_symmetry(y, x);
        assert_true(k == 0 || k == 4);
        count[k]++;
    }
    assert_in_range(count[4], 900, 1100);
    a = (AugmentConfig){ .vflip = 1 };
    memset(count, 0, sizeof count);
    for (int i = 0; i < 2000; i++) {
        run(y, &a, 0, i);
        int k = which_symmetry(y, x);
        assert_true(k == 0 || k == 5);
        count[k]++;
    }
    assert_in_range(count[5], 900, 1100);
}

static void test_dihedral(void **s) {
    (void)s;
    AugmentConfig a = { .dihedral = 1 };
    float x[N], y[N];
    base(x);
    int count[8] = { 0 };
    for (int i = 0; i < 4000; i++) {
        run(y, &a, 1, i);
        int k = which_symmetry(y, x);
        assert_true(k >= 0);
        count[k]++;
    }
    for (int k = 0; k < 8; k++) assert_in_range(count[k], 400, 600);
}

static void test_translate(void **s) {
    (void)s;
    AugmentConfig a = { .translate = 1 };
    float x[N], y[N], ref[N];
    base(x);
    int count[9] = { 0 };
    for (int i = 0; i < 1800; i++) {
        run(y, &a, 0, i);
        int found = -1;
        for (int dy = -1; dy <= 1 && found < 0; dy++)
            for (int dx = -1; dx <= 1 && found < 0; dx++) {
                for (int c = 0; c < C; c++)
                    for (int r = 0; r < H; r++)
                        for (int q = 0; q < W; q++) {
                            int sr = r - dy, sq = q - dx;
                            ref[(c * H + r) * W + q] = sr < 0 || sr >= H || sq < 0 || sq >= W ? 0.0f : x[(c * H + sr) * W + sq];
                        }
                if (!memcmp(ref, y, sizeof ref)) found = (dy + 1) * 3 + dx + 1;
            }
        assert_true(found >= 0);
        count[found]++;
    }
    for (int k = 0; k < 9; k++) assert_in_range(count[k], 140, 260);
}

static void test_jitter(void **s) {
    (void)s;
    AugmentConfig a = { .brightness = 0.2f };
    float x[N], y[N];
    base(x);
    int saw_pos = 0, saw_neg = 0;
    for (int i = 0; i < 100; i++) {
        run(y, &a, 0, i);
        float b = y[0] - x[0];
        assert_true(fabsf(b) <= 0.2f);
        for (int j = 0; j < N; j++) assert_float_equal(y[j] - x[j], b, 1e-6);
        saw_pos |= b > 0.05f;
        saw_neg |= b < -0.05f;
    }
    assert_true(saw_pos && saw_neg);
    a = (AugmentConfig){ .contrast = 0.3f };
    double mx = 0;
    for (int j = 0; j < N; j++) mx += x[j];
    mx /= N;
    for (int i = 0; i < 100; i++) {
        run(y, &a, 0, i);
        double my = 0;
        for (int j = 0; j < N; j++) my += y[j];
        assert_float_equal(my / N, mx, 1e-5);
        double k = (y[1] - mx) / (x[1] - mx);
        assert_true(k >= 0.7 - 1e-4 && k <= 1.3 + 1e-4);
        for (int j = 0; j < N; j++) assert_float_equal(y[j] - mx, k * (x[j] - mx), 1e-5);
    }
}

static void test_keyed(void **s) {
    (void)s;
    AugmentConfig a = { .dihedral = 1, .translate = 1, .brightness = 0.1f };
    float y1[N], y2[N];
    int differ_epoch = 0, differ_sample = 0;
    for (int i = 0; i < 50; i++) {
        run(y1, &a, 3, i);
        run(y2, &a, 3, i);
        assert_memory_equal(y1, y2, sizeof y1);          /* same key, same bytes */
        run(y2, &a, 4, i);
        differ_epoch += memcmp(y1, y2, sizeof y1) != 0;
        run(y2, &a, 3, i + 1000);
        differ_sample += memcmp(y1, y2, sizeof y1) != 0;
    }
    assert_true(differ_epoch > 40 && differ_sample > 40);
    /* enabling another transform does not change the others' choices:
     * hflip alone gives identity (0) or mirror (4); with vflip added, the
     * left-right part must stay: 0 -> 0 or top-bottom (5), 4 -> 4 or 180 (2) */
    AugmentConfig f = { .hflip = 1 }, fv = { .hflip = 1, .vflip = 1 };
    float x[N];
    base(x);
    for (int i = 0; i < 50; i++) {
        run(y1, &f, 0, i);
        run(y2, &fv, 0, i);
        int k1 = which_symmetry(y1, x), k2 = which_symmetry(y2, x);
        if (k1 == 0) assert_true(k2 == 0 || k2 == 5);
        else assert_true(k1 == 4 && (k2 == 4 || k2 == 2));
    }
}

/* Bilinear resample of box (y0, x0, bh, bw) to H x W written out in double:
 * half-pixel centres, coordinates clamped to the box. */
static void hand_crop(double *out, const float *in, const int box[4]) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double sy = (i + 0.5) * box[2] / H - 0.5, sx = (j + 0.5) * box[3] / W - 0.5;
                if (sy < 0) sy = 0;
                if (sx < 0) sx = 0;
                int y0 = (int)sy, x0 = (int)sx;
                int y1 = y0 + 1 < box[2] ? y0 + 1 : box[2] - 1, x1 = x0 + 1 < box[3] ? x0 + 1 : box[3] - 1;
                double fy = sy - y0, fx = sx - x0;
#define P(y, x) (double)in[(c * H + box[0] + (y)) * W + box[1] + (x)]
                out[(c * H + i) * W + j] = (1 - fy) * ((1 - fx) * P(y0, x0) + fx * P(y0, x1)) +
                                           fy * ((1 - fx) * P(y1, x0) + fx * P(y1, x1));
#undef P
            }
}

static void test_crop(void **s) {
    (void)s;
    float x[N], y[N], tmp[N];
    double want[N];
    int box[4];
    /* scale 1, aspect 1 (u_ratio 0.5): the whole image, unchanged */
    augment_crop_box(H, W, 1.0f, 0.7f, 0.5f, 0.3f, 0.9f, box);
    assert_true(box[0] == 0 && box[1] == 0 && box[2] == H && box[3] == W);
    base(x);
    memcpy(y, x, sizeof y);
    augment_crop(y, tmp, C, H, W, box);
    assert_memory_equal(x, y, sizeof x);
    /* a hand-checked case: the top-left 2x2 quarter doubled */
    int q[4] = { 0, 0, 2, 2 };
    memcpy(y, x, sizeof y);
    augment_crop(y, tmp, C, H, W, q);
    assert_true(y[0] == x[0]);                                   /* clamped corner */
    assert_true(fabsf(y[1] - (0.75f * x[0] + 0.25f * x[1])) < 1e-6f);
    assert_true(fabsf(y[3] - x[1]) < 1e-6f);                     /* clamped edge */
    /* augment_sample: the box comes from draws 7..10 of the sample's keyed
     * generator (after the older transforms' 6), lies in the image with an
     * area fraction in about [scale, 1], and the output is its resample */
    AugmentConfig a = { .crop = 0.35f };
    int cropped = 0;
    for (int i = 0; i < 200; i++) {
        run(y, &a, 2, i);
        DlRng r = { dl_hash(42, RNG_AUGMENT, 2, (uint64_t)i) };
        for (int k = 0; k < 6; k++) rng_next(&r);
        float ua = rng_unit(&r), ur = rng_unit(&r), uy = rng_unit(&r), ux = rng_unit(&r);
        augment_crop_box(H, W, a.crop, ua, ur, uy, ux, box);
        assert_true(box[0] >= 0 && box[1] >= 0 && box[2] >= 1 && box[3] >= 1);
        assert_true(box[0] + box[2] <= H && box[1] + box[3] <= W);
        assert_true(box[2] * box[3] >= 2);   /* 0.35 * 16 = 5.6 px, rounded per side */
        base(x);
        hand_crop(want, x, box);
        for (int p = 0; p < N; p++) assert_true(fabs(y[p] - want[p]) < 1e-5);
        cropped += memcmp(x, y, sizeof x) != 0;
        float y2[N];
        run(y2, &a, 2, i);
        assert_memory_equal(y, y2, sizeof y);     /* keyed: same (seed, epoch, sample), same bytes */
    }
    assert_true(cropped > 150);
    /* adding crop leaves the flips' choices: hflip alone vs hflip + crop of
     * the full image (scale 1 still draws aspect: compare only when square) */
    AugmentConfig f = { .hflip = 1 }, fc = { .hflip = 1, .crop = 1.0f };
    for (int i = 0; i < 50; i++) {
        float y1[N];
        run(y1, &f, 0, i);
        run(y, &fc, 0, i);
        DlRng r = { dl_hash(42, RNG_AUGMENT, 0, (uint64_t)i) };
        for (int k = 0; k < 6; k++) rng_next(&r);
        float ua = rng_unit(&r), ur = rng_unit(&r), uy = rng_unit(&r), ux = rng_unit(&r);
        augment_crop_box(H, W, 1.0f, ua, ur, uy, ux, box);
        if (box[2] == H && box[3] == W) assert_memory_equal(y1, y, sizeof y);
    }
}

/* --normalize: (x - mean[c]) / std[c] per channel, nothing without it */
static void test_normalize(void **s) {
    (void)s;
    Dataset d = { .h = H, .w = W, .c = C, .normalize = 1, .mean = { 0.5f, 0.25f }, .std = { 0.5f, 2.0f } };
    float x[2 * N], y[2 * N];
    for (int i = 0; i < 2 * N; i++) x[i] = y[i] = (float)i / (2 * N);
    dataset_normalize(&d, y, 2);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++) {
                int i = (b * C + c) * H * W + p;
                assert_true(y[i] == (x[i] - d.mean[c]) / d.std[c]);
            }
    d.normalize = 0;
    memcpy(y, x, sizeof y);
    dataset_normalize(&d, y, 2);
    assert_memory_equal(x, y, sizeof x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_flips),  cmocka_unit_test(test_dihedral),
        cmocka_unit_test(test_translate), cmocka_unit_test(test_jitter), cmocka_unit_test(test_keyed),
        cmocka_unit_test(test_crop),      cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
