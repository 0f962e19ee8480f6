/* test_augment.c: each augmentation against hand-written transforms: every
 * output is one of the allowed images (the 8 symmetries of the square, the
 * (2P+1)^2 zero-filled shifts), every allowed one occurs, each with about its
 * share, and the choice depends only on (seed, epoch, sample); rotate,
 * zoom, shear and warp against torchvision's outputs (a committed fixture). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <hdf5.h>

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
    /* the geometric ones */
    assert_int_equal(augment_parse(&a, "rotate=15,zoom=0.8:1.2,warp=0.3,shear=5"), DL_OK);
    assert_true(a.rotate == 15.0f && a.zoom_lo == 0.8f && a.zoom_hi == 1.2f && a.warp == 0.3f && a.shear == 5.0f);
    assert_true(augment_geometric(&a) && augment_any(&a));
    assert_int_equal(augment_parse(&a, "rotate,zoom,warp,shear"), DL_OK);
    assert_true(a.rotate == 10.0f && a.zoom_lo == 1.0f && a.zoom_hi == 1.1f && a.warp == 0.2f && a.shear == 10.0f);
    assert_int_equal(augment_parse(&a, "zoom=1:1"), DL_OK);
    assert_true(a.zoom_lo == 1.0f && a.zoom_hi == 1.0f);
    assert_int_equal(augment_parse(&a, "hflip"), DL_OK);
    assert_false(augment_geometric(&a));
    const char *bad[] = { "rotate=-5", "rotate=200", "rotate=x", "zoom=2:1", "zoom=0.8", "zoom=0:1", "zoom=1:5",
                          "zoom=1:2:3", "zoom=1:2x", "warp=2", "warp=1", "warp=-0.1", "shear=60", "shear=" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(augment_parse(&a, bad[i]), DL_EARG);
        char want[64];
        snprintf(want, sizeof want, "cannot use '%s'", bad[i]);
        assert_non_null(strstr(dl_errmsg(), want));
        assert_non_null(strstr(dl_errmsg(), "zoom=A:B (0.25 <= A <= B <= 4)"));
    }
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

/* rotate/zoom/shear/warp against torchvision 0.14 (fixture written by
 * tests/reference/make_augment_ref.py: F.rotate, F.affine, F.perspective,
 * bilinear, zeros outside) on a 3x13x17 random image. Same sampling grid
 * (pixel centres, align_corners=False) and the same zeros padding, so the
 * difference is float rounding only: torch builds the grid in float32
 * (and solves the perspective by least squares), we in double; a
 * coordinate off by ~1e-6 px moves a value by at most that times the
 * pixel-to-pixel step (< 1). Tolerance 1e-4 absolute on values in [0, 1];
 * a half-pixel or axis mistake gives errors ~0.1-0.5. */
static void test_geometry_torchvision(void **s) {
    (void)s;
    enum { GC = 3, GH = 13, GW = 17, GN = GC * GH * GW, CASES = 12 };
    hid_t f = H5Fopen(DL_SOURCE_DIR "/tests/reference/fixtures/augment_geometry.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    static float x[GN], y[CASES][GN], got[GN], tmp[GN];
    static double cases[CASES][5];
    hid_t d = H5Dopen2(f, "/x", H5P_DEFAULT);
    assert_true(d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/y", H5P_DEFAULT);
    assert_true(d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/cases", H5P_DEFAULT);
    assert_true(d >= 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, cases) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    double worst = 0.0;
    for (int k = 0; k < CASES; k++) {
        AugmentGeometry g = { cases[k][0], cases[k][1], cases[k][2], cases[k][3], cases[k][4] };
        double hm[9];
        augment_geometry_map(hm, GH, GW, &g);
        memcpy(got, x, sizeof got);
        augment_resample(got, tmp, GC, GH, GW, hm);
        double err = 0.0, moved = 0.0;
        for (int i = 0; i < GN; i++) {
            err = fmax(err, fabs((double)got[i] - y[k][i]));
            moved = fmax(moved, fabs((double)x[i] - y[k][i]));
        }
        if (err > 1e-4) fail_msg("case %d (angle %g scale %g shear %g warp %g,%g): max |ours - torchvision| = %g", k,
                                 g.angle, g.scale, g.shear, g.warp_x, g.warp_y, err);
        assert_true(moved > 0.05);   /* the case does transform the image */
        worst = fmax(worst, err);
    }
    print_message("geometry vs torchvision: %d cases, max abs difference %.2g\n", CASES, worst);
    /* identity: every pixel centre maps onto itself */
    AugmentGeometry id = { 0.0, 1.0, 0.0, 0.0, 0.0 };
    double hm[9];
    augment_geometry_map(hm, GH, GW, &id);
    memcpy(got, x, sizeof got);
    augment_resample(got, tmp, GC, GH, GW, hm);
    for (int i = 0; i < GN; i++) assert_true(fabsf(got[i] - x[i]) < 1e-6f);
    /* zoom out to 1/2: the outer ring is zeros (padding), the centre kept */
    AugmentGeometry half = { 0.0, 0.5, 0.0, 0.0, 0.0 };
    augment_geometry_map(hm, GH, GW, &half);
    memcpy(got, x, sizeof got);
    augment_resample(got, tmp, GC, GH, GW, hm);
    for (int c = 0; c < GC; c++) {
        assert_true(got[(c * GH + 0) * GW + 0] == 0.0f && got[(c * GH + GH - 1) * GW + GW - 1] == 0.0f);
        assert_true(got[(c * GH + 6) * GW + 8] == x[(c * GH + 6) * GW + 8]);   /* centre pixel maps to itself */
    }
}

static void read_fixture(hid_t f, const char *name, hid_t type, void *buf) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("augment_geometry.h5 has no %s", name);
    assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
}

static void mul3(double out[9], const double a[9], const double b[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) out[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
}

/* All four at once: one map = torchvision's two steps
 * perspective(affine(x)), on a linear ramp (which bilinear sampling
 * reproduces exactly, so resampling twice loses nothing) at the pixels where
 * neither step reached the border. The other order (affine of the warp)
 * must fail the same check. */
static void test_geometry_composite(void **s) {
    (void)s;
    enum { GH = 13, GW = 17, GN = GH * GW, CASES = 2 };
    hid_t f = H5Fopen(DL_SOURCE_DIR "/tests/reference/fixtures/augment_geometry.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    static float ramp[GN], y[CASES][GN], got[GN], tmp[GN];
    static unsigned char mask[CASES][GN];
    static double cases[CASES][5];
    read_fixture(f, "/ramp", H5T_NATIVE_FLOAT, ramp);
    read_fixture(f, "/composite_y", H5T_NATIVE_FLOAT, y);
    read_fixture(f, "/composite_mask", H5T_NATIVE_UCHAR, mask);
    read_fixture(f, "/composite_cases", H5T_NATIVE_DOUBLE, cases);
    H5Fclose(f);
    for (int k = 0; k < CASES; k++) {
        AugmentGeometry g = { cases[k][0], cases[k][1], cases[k][2], cases[k][3], cases[k][4] };
        AugmentGeometry ga = { g.angle, g.scale, g.shear, 0.0, 0.0 }, gw = { 0.0, 1.0, 0.0, g.warp_x, g.warp_y };
        double hm[9], ha[9], hw[9], prod[9], rev[9];
        augment_geometry_map(hm, GH, GW, &g);
        augment_geometry_map(ha, GH, GW, &ga);
        augment_geometry_map(hw, GH, GW, &gw);
        mul3(prod, ha, hw);   /* source = inverse affine of the warped point */
        mul3(rev, hw, ha);
        for (int i = 0; i < 9; i++) assert_true(fabs(hm[i] - prod[i]) < 1e-9 * (1 + fabs(prod[i])));
        double err = 0.0, err_rev = 0.0;
        int n = 0;
        memcpy(got, ramp, sizeof got);
        augment_resample(got, tmp, 1, GH, GW, hm);
        for (int i = 0; i < GN; i++)
            if (mask[k][i]) { err = fmax(err, fabs((double)got[i] - y[k][i])); n++; }
        memcpy(got, ramp, sizeof got);
        augment_resample(got, tmp, 1, GH, GW, rev);
        for (int i = 0; i < GN; i++)
            if (mask[k][i]) err_rev = fmax(err_rev, fabs((double)got[i] - y[k][i]));
        assert_true(n > GN / 3);
        if (err > 1e-4) fail_msg("composite case %d: max |ours - torchvision's two steps| = %g on %d pixels", k, err, n);
        assert_true(err_rev > 0.02);
        print_message("composite %d: %d pixels, max abs difference %.2g (other order: %.2g)\n", k, n, err, err_rev);
    }
}

/* augment_sample with rotate/zoom/shear/warp: the parameters come from
 * draws 11..15 of the sample's keyed generator (after the older
 * transforms' 10), lie in their ranges, and the output is the resample
 * through their map; the same key gives the same bytes; turning them on
 * leaves hflip's choices (same symmetry first, then the map). */
static void test_geometry_sample(void **s) {
    (void)s;
    AugmentConfig a = { .rotate = 20.0f, .zoom_lo = 0.8f, .zoom_hi = 1.2f, .shear = 10.0f, .warp = 0.2f };
    float x[N], y[N], y2[N], want[N], tmp[N];
    double seen_lo[5] = { 1e9, 1e9, 1e9, 1e9, 1e9 }, seen_hi[5] = { -1e9, -1e9, -1e9, -1e9, -1e9 };
    for (int i = 0; i < 300; i++) {
        run(y, &a, 5, i);
        DlRng r = { dl_hash(42, RNG_AUGMENT, 5, (uint64_t)i) };
        for (int k = 0; k < 10; k++) rng_next(&r);
        float u[5];
        for (int k = 0; k < 5; k++) u[k] = rng_unit(&r);
        AugmentGeometry g;
        augment_geometry_draw(&g, &a, u[0], u[1], u[2], u[3], u[4]);
        double v[5] = { g.angle, g.scale, g.shear, g.warp_x, g.warp_y };
        for (int k = 0; k < 5; k++) { seen_lo[k] = fmin(seen_lo[k], v[k]); seen_hi[k] = fmax(seen_hi[k], v[k]); }
        assert_true(fabs(g.angle) <= 20 && g.scale >= 0.8 - 1e-6 && g.scale <= 1.2 + 1e-6 && fabs(g.shear) <= 10);
        assert_true(fabs(g.warp_x) <= 0.2 && fabs(g.warp_y) <= 0.2);
        double hm[9];
        augment_geometry_map(hm, H, W, &g);
        base(want);
        augment_resample(want, tmp, C, H, W, hm);
        assert_memory_equal(want, y, sizeof y);
        run(y2, &a, 5, i);
        assert_memory_equal(y, y2, sizeof y);
    }
    /* the ranges are covered, not just respected */
    assert_true(seen_lo[0] < -18 && seen_hi[0] > 18 && seen_lo[1] < 0.82 && seen_hi[1] > 1.18);
    assert_true(seen_lo[2] < -9 && seen_hi[2] > 9 && seen_lo[3] < -0.18 && seen_hi[4] > 0.18);
    AugmentConfig f = { .hflip = 1 }, fr = { .hflip = 1, .rotate = 30.0f };
    base(x);
    for (int i = 0; i < 50; i++) {
        run(y, &f, 0, i);
        int k = which_symmetry(y, x);
        run(y2, &fr, 0, i);
        DlRng r = { dl_hash(42, RNG_AUGMENT, 0, (uint64_t)i) };
        for (int j = 0; j < 10; j++) rng_next(&r);
        float u = rng_unit(&r);
        AugmentGeometry g;
        augment_geometry_draw(&g, &fr, u, 0, 0.5f, 0.5f, 0.5f);
        double hm[9];
        augment_geometry_map(hm, H, W, &g);
        hand_symmetry(want, x, k);
        augment_resample(want, tmp, C, H, W, hm);
        assert_memory_equal(want, y2, sizeof y2);
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
        cmocka_unit_test(test_geometry_torchvision), cmocka_unit_test(test_geometry_composite),
        cmocka_unit_test(test_geometry_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
