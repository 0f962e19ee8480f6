/* dataset_write.c: writes the dataset file (contract in dataset.h and
 * DESIGN.md "Dataset file") for dlprep: raw /images or /jpeg, labels or
 * targets, class names and the per-channel statistics, to "<path>.partial",
 * then fsync and rename into place (dl_rename_durable). The reader is
 * dataset.c. */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "h5util.h"
#include "jpeg.h"

/* Writes one dataset with chunks of whole samples (about 64 KiB each). */
static int put_array(hid_t f, const char *name, hid_t file_type, hid_t mem_type, int rank,
                     const hsize_t *dims, const void *v) {
    hsize_t chunk[4];
    size_t sample = H5Tget_size(file_type);
    for (int i = 1; i < rank; i++) { chunk[i] = dims[i]; sample *= dims[i]; }
    chunk[0] = 65536 / (sample ? sample : 1);
    if (chunk[0] < 1) chunk[0] = 1;
    if (chunk[0] > dims[0]) chunk[0] = dims[0];
    hid_t sp = H5Screate_simple(rank, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, rank, chunk);
    hid_t ds = H5Dcreate2(f, name, file_type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    int ok = ds >= 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    if (ds >= 0) ok = H5Dclose(ds) >= 0 && ok;
    H5Pclose(pl);
    H5Sclose(sp);
    return ok;
}

/* Labels or targets and the root attributes, common to both layouts. */
static int write_labels_attrs(hid_t f, int64_t n, const int32_t *labels, const uint8_t *targets, int k,
                              char *const *class_names) {
    hsize_t ldims[1] = { (hsize_t)n }, tdims[2] = { (hsize_t)n, (hsize_t)k };
    int ok = labels ? put_array(f, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, ldims, labels)
                    : put_array(f, "targets", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, tdims, targets);
    ok = ok && h5_put_attr_strs(f, "class_names", class_names, k);
    ok = ok && h5_put_attr_str(f, "task", labels ? "single" : "multi");
    ok = ok && h5_put_attr_i64(f, "format_version", &(int64_t){ DATASET_FORMAT_VERSION }, 1);
    return ok;
}

/* The pixels of one file to write: raw (n,h,w,c) or n encoded JPEGs. */
typedef struct {
    const uint8_t *images;
    uint8_t *const *jpeg;
    const size_t *jpeg_size;
    const char *presize;     /* root attribute presize; NULL or "": none */
} Pixels;

static int put_attr_f32(hid_t obj, const char *name, const float *v, int n) {
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_FLOAT, v) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return ok;
}

/* Per-channel sums of the stored pixels and their squares (exact integers). */
static void stats_add(uint64_t *sum, uint64_t *sq, const uint8_t *img, size_t pixels, int c) {
    for (size_t p = 0; p < pixels; p++)
        for (int ch = 0; ch < c; ch++) {
            uint64_t v = img[p * (size_t)c + ch];
            sum[ch] += v;
            sq[ch] += v * v;
        }
}

/* Root attributes mean and std of every stored pixel, per channel, in [0,1]
 * units (population std; double arithmetic from exact integer sums). JPEG
 * files: of the decoded images, what a reader sees (none when one of them
 * does not decode: the file is refused at open anyway). */
static int write_stats(hid_t f, const Pixels *px, int64_t n, int h, int w, int c) {
    uint64_t sum[3] = { 0 }, sq[3] = { 0 };
    const size_t pixels = (size_t)h * w;
    JpegCodec jc = { 0 };
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (px->images) {
            stats_add(sum, sq, px->images + (size_t)i * pixels * c, pixels, c);
            continue;
        }
        uint8_t *img = NULL;
        int ih, iw, ic;
        ok = jpeg_decode(&jc, px->jpeg[i], px->jpeg_size[i], c, 0, 0, "jpeg", &img, &ih, &iw, &ic) == DL_OK &&
             ih == h && iw == w;
        if (ok) stats_add(sum, sq, img, pixels, c);
        dl_free(img);
    }
    jpeg_codec_free(&jc);
    if (!ok) return 1;   /* an entry that does not decode (readers refuse it): no statistics */
    float mean[3], sd[3];
    double count = (double)n * (double)pixels;
    for (int ch = 0; ch < c; ch++) {
        double m = (double)sum[ch] / count, var = (double)sq[ch] / count - m * m;
        mean[ch] = (float)(m / 255.0);
        sd[ch] = (float)(sqrt(var > 0.0 ? var : 0.0) / 255.0);
    }
    return put_attr_f32(f, "mean", mean, c) && put_attr_f32(f, "std", sd, c);
}

static int write_file(const char *tmp, const Pixels *px, int64_t n, int h, int w, int c,
                      const int32_t *labels, const uint8_t *targets, int k, char *const *class_names) {
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 0;
    int ok;
    if (px->images) {
        hsize_t idims[4] = { (hsize_t)n, (hsize_t)h, (hsize_t)w, (hsize_t)c };
        ok = put_array(f, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, idims, px->images);
    } else {
        hsize_t jdim = (hsize_t)n;
        hvl_t *v = dl_malloc((size_t)n * sizeof *v);
        for (int64_t i = 0; i < n; i++) v[i] = (hvl_t){ .len = px->jpeg_size[i], .p = px->jpeg[i] };
        hid_t ft = H5Tvlen_create(H5T_STD_U8LE), mt = H5Tvlen_create(H5T_NATIVE_UINT8);
        ok = put_array(f, "jpeg", ft, mt, 1, &jdim, v);
        H5Tclose(ft);
        H5Tclose(mt);
        dl_free(v);
        ok = ok && h5_put_attr_i64(f, "height", &(int64_t){ h }, 1) && h5_put_attr_i64(f, "width", &(int64_t){ w }, 1) &&
             h5_put_attr_i64(f, "channels", &(int64_t){ c }, 1);
    }
    ok = ok && write_labels_attrs(f, n, labels, targets, k, class_names);
    if (px->presize && px->presize[0]) ok = ok && h5_put_attr_str(f, "presize", px->presize);
    ok = ok && write_stats(f, px, n, h, w, c);
    ok = H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0 && ok;
    ok = H5Fclose(f) >= 0 && ok;
    return ok;
}

static DlStatus write_atomic(const char *path, const Pixels *px, int64_t n, int h, int w, int c,
                             const int32_t *labels, const uint8_t *targets, int k, char *const *class_names) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial", path) >= (int)sizeof tmp)
        return dl_fail(DL_EIO, "output path too long: %s", path);
    dataset_h5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int ok = write_file(tmp, px, n, h, w, c, labels, targets, k, class_names);
    dataset_h5_unlock();
    if (!ok) {
        remove(tmp);
        return dl_fail(DL_EIO, "cannot write '%s' (check that its folder exists, is writable and has space); "
                      "nothing was written in its place", path);
    }
    return dl_rename_durable(tmp, path);   /* fsync, rename, fsync of the folder: never an empty file after a crash */
}

DlStatus dataset_write(const char *path, const uint8_t *images, int64_t n, int h, int w, int c,
                       const int32_t *labels, const uint8_t *targets, int k, char *const *class_names) {
    Pixels px = { .images = images };
    return write_atomic(path, &px, n, h, w, c, labels, targets, k, class_names);
}

DlStatus dataset_write_jpeg(const char *path, uint8_t *const *jpeg, const size_t *jpeg_size, int64_t n,
                            int h, int w, int c, const int32_t *labels, const uint8_t *targets, int k,
                            char *const *class_names) {
    Pixels px = { .jpeg = jpeg, .jpeg_size = jpeg_size };
    return write_atomic(path, &px, n, h, w, c, labels, targets, k, class_names);
}

DlStatus dataset_write_presized(const char *path, const uint8_t *images, uint8_t *const *jpeg, const size_t *jpeg_size,
                                int64_t n, int h, int w, int c, const int32_t *labels, const uint8_t *targets, int k,
                                char *const *class_names, const char *presize) {
    Pixels px = { .images = jpeg ? NULL : images, .jpeg = jpeg, .jpeg_size = jpeg_size, .presize = presize };
    return write_atomic(path, &px, n, h, w, c, labels, targets, k, class_names);
}
