/* dataset.c: read and validate the dataset file (contract in dataset.h
 * and DESIGN.md "Dataset file"), raw (/images) or JPEG-stored (/jpeg, decoded
 * whole at open). Every refusal names the file, the object and what was
 * expected. The writer is dataset_write.c. */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"
#include "jpeg.h"

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;
void dataset_h5_lock(void) { pthread_mutex_lock(&h5_mutex); }
void dataset_h5_unlock(void) { pthread_mutex_unlock(&h5_mutex); }

static void close_handles(Dataset *d) {
    if (d->h5_data > 0) H5Dclose((hid_t)d->h5_data);
    if (d->h5_file > 0) H5Fclose((hid_t)d->h5_file);
    d->h5_data = d->h5_file = 0;
}

void dataset_close(Dataset *d) {
    if (!d) return;
    if (d->h5_data > 0 || d->h5_file > 0) {
        dataset_h5_lock();
        close_handles(d);
        dataset_h5_unlock();
    }
    for (int i = 0; d->class_names && i < d->k; i++) dl_free(d->class_names[i]);
    dl_free(d->class_names);
    dl_free(d->images);
    dl_free(d->labels);
    dl_free(d->targets);
    dl_free(d->path);
    *d = (Dataset){ 0 };
}

/* Refuses an object that needs an HDF5 filter this process lacks (naming
 * it and its Debian package), or whose storage the file never (or,
 * chunked, only partly) wrote: HDF5 would read fill values for the rest, and a file of a
 * few bytes could declare terabytes of images. (H5Dget_space_status says
 * "partly" for any compressed dataset, so chunks are counted instead.) */
static DlStatus check_written(const char *path, hid_t ds, const char *name) {
    H5D_space_status_t s = H5D_SPACE_STATUS_ERROR;
    int part = 0;
    if (H5Dget_space_status(ds, &s) < 0 || s == H5D_SPACE_STATUS_NOT_ALLOCATED || s == H5D_SPACE_STATUS_ERROR)
        part = -1;
    hid_t pl = H5Dget_create_plist(ds), sp = H5Dget_space(ds);
    if (!part && pl >= 0 && H5Pget_layout(pl) == H5D_CHUNKED) {
        hsize_t dims[8], chunk[8], have = 0;
        int r = H5Sget_simple_extent_ndims(sp);
        double want = 1;
        if (r < 1 || r > 8 || H5Pget_chunk(pl, r, chunk) != r || H5Sget_simple_extent_dims(sp, dims, NULL) != r) part = -1;
        for (int i = 0; !part && i < r; i++) want *= chunk[i] ? (double)((dims[i] + chunk[i] - 1) / chunk[i]) : 1e300;
        if (!part && (H5Dget_num_chunks(ds, sp, &have) < 0 || (double)have < want)) part = 1;
    }
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    if (part)
        return dl_fail(DL_EFORMAT, "%s: '%s' is declared but %s written (an incomplete or damaged file: re-make it with dlprep)",
                       path, name, part > 0 ? "only partly" : "never");
    char why[512];
    if (h5_filters_missing(ds, why, sizeof why)) return dl_fail(DL_EFORMAT, "%s: cannot read '%s': %s", path, name, why);
    return DL_OK;
}

/* Refuses to hold more bytes in memory than the machine has (DL_EFORMAT:
 * a file that asks for that much is damaged, or must be streamed). */
static DlStatus check_memory(const char *path, const char *what, double bytes) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double have = pages > 0 && page > 0 ? (double)pages * (double)page : 1e300;
    if (bytes > have)
        return dl_fail(DL_EFORMAT, "%s: %s would take %.1f GiB of memory, more than this machine's %.1f GiB "
                       "(a damaged file, or give train a --memory-budget to read it from disk)",
                       path, what, bytes / 1073741824.0, have / 1073741824.0);
    return DL_OK;
}

/* The sample count and image size limits of dataset.h (64-bit arithmetic). */
static DlStatus check_shape(const char *path, const char *name, uint64_t n, uint64_t h, uint64_t w) {
    if (n < 1 || n > (uint64_t)DATASET_MAX_SAMPLES)
        return dl_fail(DL_EFORMAT, "%s: '%s' declares %llu samples; expected 1..%lld", path, name,
                       (unsigned long long)n, (long long)DATASET_MAX_SAMPLES);
    if (h < 1 || w < 1 || h > DATASET_MAX_SIDE || w > DATASET_MAX_SIDE || h * w > (uint64_t)DATASET_MAX_PIXELS)
        return dl_fail(DL_EFORMAT, "%s: '%s' declares %llux%llu-pixel images (HxW); expected 1..%d pixels a side and "
                       "at most %lld pixels an image", path, name, (unsigned long long)h, (unsigned long long)w,
                       DATASET_MAX_SIDE, (long long)DATASET_MAX_PIXELS);
    return DL_OK;
}

/* Opens dataset `name` and checks it is an integer array of `rank`
 * dimensions; fills dims. Returns a negative hid and sets the error otherwise. */
static hid_t open_int_array(hid_t f, const char *path, const char *name, int rank, hsize_t *dims,
                            const char *expect) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        dl_fail(DL_EFORMAT, "%s: no dataset '%s' (expected %s; make the file with dlprep)", path, name, expect);
        return -1;
    }
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) {
        dl_fail(DL_EFORMAT, "%s: '%s' is not a dataset (expected %s)", path, name, expect);
        return -1;
    }
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(sp);
    int ok = H5Tget_class(t) == H5T_INTEGER && r == rank;
    if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Tclose(t);
    if (!ok) {
        H5Dclose(ds);
        dl_fail(DL_EFORMAT, "%s: '%s' has the wrong type or rank (expected %s)", path, name, expect);
        return -1;
    }
    return ds;
}

static DlStatus read_images(Dataset *d, hid_t f, int64_t budget) {
    hsize_t dims[4];
    hid_t ds = open_int_array(f, d->path, "images", 4, dims, "uint8 (N, H, W, C) with C = 1 or 3");
    if (ds < 0) return DL_EFORMAT;
    hid_t t = H5Dget_type(ds);
    int u8 = H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    H5Tclose(t);
    DlStatus st = DL_OK;
    if (!u8)
        st = dl_fail(DL_EFORMAT, "%s: 'images' must be uint8 (pixels 0..255), not a wider or signed integer type", d->path);
    else if (dims[3] != 1 && dims[3] != 3)
        st = dl_fail(DL_EFORMAT, "%s: 'images' has %llu channels in its last dimension; expected (N, H, W, C) with C = 1 or 3",
                     d->path, (unsigned long long)dims[3]);
    else st = check_shape(d->path, "images", dims[0], dims[1], dims[2]);
    if (st == DL_OK) st = check_written(d->path, ds, "images");
    if (st == DL_OK) {
        d->n = (int64_t)dims[0];
        d->h = (int)dims[1];
        d->w = (int)dims[2];
        d->c = (int)dims[3];
        double bytes = (double)d->n * (double)d->h * (double)d->w * (double)d->c;
        if (budget > 0 && bytes > (double)budget) {
            d->streaming = 1;           /* read on demand: keep the dataset open */
            d->h5_data = (int64_t)ds;
            return DL_OK;
        }
        st = check_memory(d->path, "'images'", bytes);
    }
    if (st == DL_OK) {
        d->images = dl_malloc((size_t)d->n * (size_t)d->h * (size_t)d->w * (size_t)d->c);
        if (H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->images) < 0)
            st = dl_fail(DL_EIO, "%s: cannot read 'images' (the file is damaged or truncated)", d->path);
    }
    H5Dclose(ds);
    return st;
}

static DlStatus read_labels(Dataset *d, hid_t f) {
    hsize_t dim;
    hid_t ds = open_int_array(f, d->path, "labels", 1, &dim, "integer (N) class indices");
    if (ds < 0) return DL_EFORMAT;
    DlStatus st = DL_OK;
    int64_t *v = NULL;
    if ((int64_t)dim != d->n)
        st = dl_fail(DL_EFORMAT, "%s: 'labels' has %llu entries but 'images' has %lld; they must match",
                     d->path, (unsigned long long)dim, (long long)d->n);
    else if ((st = check_written(d->path, ds, "labels")) == DL_OK &&
             (st = check_memory(d->path, "'labels'", 12.0 * (double)d->n)) == DL_OK) {
        v = dl_malloc((size_t)d->n * sizeof *v);
        if (H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            st = dl_fail(DL_EIO, "%s: cannot read 'labels' (the file is damaged or truncated)", d->path);
    }
    H5Dclose(ds);
    if (st != DL_OK) { dl_free(v); return st; }
    int64_t max = -1;
    for (int64_t i = 0; i < d->n; i++) {
        if (v[i] < 0 || (d->k > 0 && v[i] >= d->k)) {
            st = dl_fail(DL_EFORMAT, "%s: labels[%lld] = %lld is outside 0..%d (%d class names)", d->path,
                         (long long)i, (long long)v[i], d->k - 1, d->k);
            dl_free(v);
            return st;
        }
        if (v[i] > max) max = v[i];
    }
    if (d->k == 0) {                    /* no class_names: classes 0..max, named by number */
        if (max + 1 > DATASET_MAX_CLASSES) {
            dl_free(v);
            return dl_fail(DL_EFORMAT, "%s: labels go up to %lld, past the %d classes dltrain takes", d->path, (long long)max,
                           DATASET_MAX_CLASSES);
        }
        d->k = (int)max + 1;
        d->class_names = dl_calloc((size_t)d->k, sizeof(char *));
        for (int i = 0; i < d->k; i++) {
            char b[16];
            snprintf(b, sizeof b, "%d", i);
            d->class_names[i] = dl_strdup(b);
        }
    }
    d->labels = dl_malloc((size_t)d->n * sizeof *d->labels);
    for (int64_t i = 0; i < d->n; i++) d->labels[i] = (int32_t)v[i];
    dl_free(v);
    return DL_OK;
}

static DlStatus read_targets(Dataset *d, hid_t f) {
    hsize_t dims[2];
    hid_t ds = open_int_array(f, d->path, "targets", 2, dims, "0/1 integers (N, K) for task \"multi\"");
    if (ds < 0) return DL_EFORMAT;
    DlStatus st = DL_OK;
    if ((int64_t)dims[0] != d->n)
        st = dl_fail(DL_EFORMAT, "%s: 'targets' has %llu rows but 'images' has %lld; they must match",
                     d->path, (unsigned long long)dims[0], (long long)d->n);
    else if (d->k > 0 && (int)dims[1] != d->k)
        st = dl_fail(DL_EFORMAT, "%s: 'targets' has %llu columns but there are %d class names",
                     d->path, (unsigned long long)dims[1], d->k);
    else if (dims[1] < 1 || dims[1] > DATASET_MAX_CLASSES)
        st = dl_fail(DL_EFORMAT, "%s: 'targets' has %llu columns; expected 1..%d tags", d->path, (unsigned long long)dims[1],
                     DATASET_MAX_CLASSES);
    if (st == DL_OK) st = check_written(d->path, ds, "targets");
    if (st == DL_OK) st = check_memory(d->path, "'targets'", (double)d->n * (double)dims[1]);
    if (st == DL_OK) {
        int k = (int)dims[1];
        d->targets = dl_malloc((size_t)d->n * (size_t)k);
        if (H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->targets) < 0)
            st = dl_fail(DL_EIO, "%s: cannot read 'targets' (the file is damaged or truncated)", d->path);
        for (int64_t i = 0; st == DL_OK && i < d->n * (int64_t)k; i++)
            if (d->targets[i] > 1)
                st = dl_fail(DL_EFORMAT, "%s: targets[%lld, %lld] = %d; expected 0 or 1", d->path,
                             (long long)(i / k), (long long)(i % k), d->targets[i]);
        if (st == DL_OK && d->k == 0) {
            d->k = k;
            d->class_names = dl_calloc((size_t)k, sizeof(char *));
            for (int i = 0; i < k; i++) {
                char b[16];
                snprintf(b, sizeof b, "tag%d", i);
                d->class_names[i] = dl_strdup(b);
            }
        }
    }
    H5Dclose(ds);
    return st;
}

/* One integer attribute of the root or of /jpeg (h5py users may put it on
 * either); 0 when absent, -1 when present but not one integer. */
static int jpeg_attr(hid_t f, hid_t ds, const char *name, int64_t *v) {
    hid_t objs[2] = { f, ds };
    for (int i = 0; i < 2; i++)
        if (H5Aexists(objs[i], name) > 0) return h5_get_attr_i64(objs[i], name, v, 1) ? 1 : -1;
    return 0;
}

/* /jpeg: variable-length uint8 (N), one encoded image each, all of the size
 * the attributes height, width, channels give (or, without them, the size
 * and channels of the first image). Decoded into d->images at once, reading
 * BLOCK entries at a time so the encoded bytes of the whole file are never
 * all in memory. */
static DlStatus read_jpeg(Dataset *d, hid_t f, int64_t budget) {
    enum { BLOCK = 1024 };
    hid_t ds = H5Dopen2(f, "jpeg", H5P_DEFAULT);
    if (ds < 0) return dl_fail(DL_EFORMAT, "%s: 'jpeg' is not a dataset (expected variable-length uint8 (N), one JPEG each)", d->path);
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    hid_t base = H5Tget_class(t) == H5T_VLEN ? H5Tget_super(t) : H5I_INVALID_HID;
    int ok = base >= 0 && H5Tget_class(base) == H5T_INTEGER && H5Tget_size(base) == 1 &&
             H5Sget_simple_extent_ndims(sp) == 1;
    int is_signed = ok && H5Tget_sign(base) != H5T_SGN_NONE;   /* int8 bytes: read as int8, no clipping */
    hsize_t n = 0;
    if (ok) H5Sget_simple_extent_dims(sp, &n, NULL);
    if (base >= 0) H5Tclose(base);
    H5Tclose(t);
    DlStatus st = DL_OK;
    if (!ok)
        st = dl_fail(DL_EFORMAT, "%s: 'jpeg' has the wrong type or rank (expected variable-length uint8 (N), one JPEG each, "
                     "as h5py.vlen_dtype(numpy.uint8) writes)", d->path);
    else if (n < 1)
        st = dl_fail(DL_EFORMAT, "%s: 'jpeg' holds no images; expected N >= 1", d->path);
    else if (n > (hsize_t)DATASET_MAX_SAMPLES)
        st = dl_fail(DL_EFORMAT, "%s: 'jpeg' declares %llu images; expected at most %lld", d->path, (unsigned long long)n,
                     (long long)DATASET_MAX_SAMPLES);
    if (st == DL_OK) st = check_written(d->path, ds, "jpeg");
    int64_t hw[3] = { 0, 0, 0 };
    const char *names[3] = { "height", "width", "channels" };
    for (int i = 0; st == DL_OK && i < 3; i++) {
        int r = jpeg_attr(f, ds, names[i], &hw[i]);
        if (r < 0 || (r > 0 && (hw[i] < 1 || hw[i] > 65536 || (i == 2 && hw[i] != 1 && hw[i] != 3))))
            st = dl_fail(DL_EFORMAT, "%s: attribute '%s' must be one integer (%s)", d->path, names[i],
                         i == 2 ? "1 or 3 channels" : "1..65536 pixels");
    }
    if (st == DL_OK && (hw[0] > 0) != (hw[1] > 0))
        st = dl_fail(DL_EFORMAT, "%s: 'jpeg' has only one of the attributes height and width; give both or neither", d->path);
    if (st == DL_OK && hw[0] > 0) st = check_shape(d->path, "jpeg", n, (uint64_t)hw[0], (uint64_t)hw[1]);
    d->n = (int64_t)n;
    d->jpeg = 1;
    d->jpeg_signed = is_signed;
    hid_t mt = H5Tvlen_create(is_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8);
    if (st == DL_OK && budget > 0 && (!hw[0] || !hw[2])) {
        /* the size the attributes leave open comes from the first image */
        hsize_t start = 0, one = 1;
        hid_t ms = H5Screate_simple(1, &one, NULL);
        hvl_t v0 = { 0 };
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &one, NULL);
        if (H5Dread(ds, mt, ms, sp, H5P_DEFAULT, &v0) < 0)
            st = dl_fail(DL_EIO, "%s: cannot read 'jpeg' entry 0 (the file is damaged or truncated)", d->path);
        JpegCodec jc0 = { 0 };
        uint8_t *img = NULL;
        int ih, iw, ic;
        if (st == DL_OK) {
            char name[4096];
            snprintf(name, sizeof name, "%s: jpeg[0]", d->path);
            st = jpeg_decode(&jc0, v0.p, v0.len, (int)hw[2], 0, 0, name, &img, &ih, &iw, &ic);
            if (st != DL_OK) {
                char why[2048];
                snprintf(why, sizeof why, "%s", dl_errmsg());
                st = dl_fail(DL_EFORMAT, "%s (re-make the file with dlprep)", why);
            }
        }
        if (st == DL_OK) {
            if (!hw[0]) { hw[0] = ih; hw[1] = iw; }
            hw[2] = ic;
        }
        dl_free(img);
        jpeg_codec_free(&jc0);
        H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, &v0);
        H5Sclose(ms);
    }
    if (st == DL_OK && budget > 0 && (double)d->n * (double)hw[0] * (double)hw[1] * (double)hw[2] > (double)budget) {
        d->h = (int)hw[0];
        d->w = (int)hw[1];
        d->c = (int)hw[2];
        d->streaming = 1;               /* decoded on demand: keep the dataset open */
        d->h5_data = (int64_t)ds;
        H5Tclose(mt);
        H5Sclose(sp);
        return DL_OK;
    }
    hvl_t *v = dl_calloc(BLOCK, sizeof *v);
    JpegCodec jc = { 0 };
    size_t sample = 0;
    for (int64_t b = 0; st == DL_OK && b < d->n; b += BLOCK) {
        hsize_t start = (hsize_t)b, count = (hsize_t)(d->n - b < BLOCK ? d->n - b : BLOCK);
        hid_t ms = H5Screate_simple(1, &count, NULL);
        memset(v, 0, BLOCK * sizeof *v);
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &count, NULL);
        if (H5Dread(ds, mt, ms, sp, H5P_DEFAULT, v) < 0)
            st = dl_fail(DL_EIO, "%s: cannot read 'jpeg' entries %lld..%lld (the file is damaged or truncated)",
                         d->path, (long long)b, (long long)(b + (int64_t)count - 1));
        for (hsize_t i = 0; st == DL_OK && i < count; i++) {
            int64_t idx = b + (int64_t)i;
            char name[4096];
            snprintf(name, sizeof name, "%s: jpeg[%lld]", d->path, (long long)idx);
            uint8_t *img = NULL;
            int ih, iw, ic;
            st = jpeg_decode(&jc, v[i].p, v[i].len, (int)hw[2], 0, 0, name, &img, &ih, &iw, &ic);
            if (st != DL_OK) {
                char why[2048];
                snprintf(why, sizeof why, "%s", dl_errmsg());
                st = dl_fail(DL_EFORMAT, "%s (re-make the file with dlprep)", why);
                break;
            }
            if (!d->images) {                 /* the first image fixes any size the attributes left open */
                if (!hw[0]) { hw[0] = ih; hw[1] = iw; }
                hw[2] = ic;
                d->h = (int)hw[0];
                d->w = (int)hw[1];
                d->c = (int)hw[2];
                sample = (size_t)d->h * (size_t)d->w * (size_t)d->c;
                if ((st = check_memory(d->path, "the decoded 'jpeg' images", (double)d->n * (double)sample)) != DL_OK) {
                    dl_free(img);
                    break;
                }
                d->images = dl_malloc((size_t)d->n * sample);
            }
            if (ih != d->h || iw != d->w)
                st = dl_fail(DL_EFORMAT, "%s is %dx%d pixels (WxH) but the file's images are %dx%d; "
                             "re-make the file with dlprep (it stores one size)", name, iw, ih, d->w, d->h);
            else
                memcpy(d->images + (size_t)idx * sample, img, sample);
            dl_free(img);
        }
        H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, v);    /* frees what the read allocated; NULL entries are skipped */
        H5Sclose(ms);
    }
    jpeg_codec_free(&jc);
    dl_free(v);
    H5Tclose(mt);
    H5Sclose(sp);
    H5Dclose(ds);
    return st;
}

/* Root attributes mean and std: C floats each, std > 0 (0 is stored for a
 * constant channel and read as 1). Absent: has_stats 0, the identity. */
static DlStatus read_stats(Dataset *d, hid_t f) {
    for (int c = 0; c < 3; c++) { d->mean[c] = 0.0f; d->std[c] = 1.0f; }
    int a = H5Aexists(f, "mean") > 0, b = H5Aexists(f, "std") > 0;
    if (!a && !b) return DL_OK;
    float v[2][3];
    const char *names[2] = { "mean", "std" };
    for (int i = 0; i < 2; i++) {
        hid_t at = H5Aopen(f, names[i], H5P_DEFAULT);
        int ok = at >= 0;
        if (ok) {
            hid_t sp = H5Aget_space(at), ty = H5Aget_type(at);
            ok = H5Tget_class(ty) == H5T_FLOAT && H5Sget_simple_extent_npoints(sp) == d->c &&
                 H5Aread(at, H5T_NATIVE_FLOAT, v[i]) >= 0;
            H5Tclose(ty);
            H5Sclose(sp);
            H5Aclose(at);
        }
        for (int c = 0; ok && c < d->c; c++) ok = isfinite(v[i][c]) && v[i][c] >= (i ? 0.0f : -1e30f);
        if (!ok)
            return dl_fail(DL_EFORMAT, "%s: attribute '%s' must be %d floats (per-channel %s in [0,1] units); re-run dlprep",
                           d->path, names[i], d->c, i ? "std" : "mean");
    }
    for (int c = 0; c < d->c; c++) {
        d->mean[c] = v[0][c];
        d->std[c] = v[1][c] > 0.0f ? v[1][c] : 1.0f;
    }
    d->has_stats = 1;
    return DL_OK;
}

/* Root attribute presize: a short word ("squash"); absent: "". */
static DlStatus read_presize(Dataset *d, hid_t f) {
    d->presize[0] = '\0';
    if (H5Aexists(f, "presize") <= 0) return DL_OK;
    char *v = h5_get_attr_str(f, "presize");
    DlStatus st = DL_OK;
    if (!v || !v[0] || strlen(v) >= sizeof d->presize)
        st = dl_fail(DL_EFORMAT, "%s: attribute 'presize' must be a short word like \"squash\"; re-run dlprep", d->path);
    else
        strcpy(d->presize, v);
    dl_free(v);
    return st;
}

static DlStatus read_file(Dataset *d, hid_t f, int64_t budget) {
    int64_t version = 0;
    if (H5Aexists(f, "format_version") > 0) {
        if (!h5_get_attr_i64(f, "format_version", &version, 1))
            return dl_fail(DL_EFORMAT, "%s: attribute 'format_version' must be one integer", d->path);
        if (version > DATASET_FORMAT_VERSION)
            return dl_fail(DL_EFORMAT, "%s: format_version %lld is newer than this dltrain reads (%d); update dltrain",
                           d->path, (long long)version, DATASET_FORMAT_VERSION);
    }
    /* task: "single" or "multi"; when absent, what the file holds decides. */
    char *task = h5_get_attr_str(f, "task");
    if (!task && H5Aexists(f, "task") > 0)
        return dl_fail(DL_EFORMAT, "%s: attribute 'task' must be a string, \"single\" or \"multi\"", d->path);
    if (task) {
        if (strcmp(task, "single") && strcmp(task, "multi")) {
            DlStatus st = dl_fail(DL_EFORMAT, "%s: attribute 'task' is \"%s\"; expected \"single\" or \"multi\"", d->path, task);
            dl_free(task);
            return st;
        }
        d->multi = !strcmp(task, "multi");
        dl_free(task);
    } else {
        d->multi = H5Lexists(f, "targets", H5P_DEFAULT) > 0 && H5Lexists(f, "labels", H5P_DEFAULT) <= 0;
    }
    if (H5Aexists(f, "class_names") > 0) {
        d->class_names = h5_get_attr_strs(f, "class_names", &d->k);
        if (!d->class_names)
            return dl_fail(DL_EFORMAT, "%s: attribute 'class_names' must be a list of 1..%d strings (one per class)", d->path,
                           DATASET_MAX_CLASSES);
        if (d->k > DATASET_MAX_CLASSES)
            return dl_fail(DL_EFORMAT, "%s: attribute 'class_names' has %d names; dltrain takes at most %d classes", d->path,
                           d->k, DATASET_MAX_CLASSES);
    }
    DlStatus st = H5Lexists(f, "images", H5P_DEFAULT) <= 0 && H5Lexists(f, "jpeg", H5P_DEFAULT) > 0
                      ? read_jpeg(d, f, budget) : read_images(d, f, budget);
    if (st == DL_OK) st = d->multi ? read_targets(d, f) : read_labels(d, f);
    if (st == DL_OK) st = read_stats(d, f);
    if (st == DL_OK) st = read_presize(d, f);
    return st;
}

DlStatus dataset_open(Dataset *d, const char *path) { return dataset_open_budget(d, path, 0); }

static DlStatus open_locked(Dataset *d, const char *path, int64_t budget) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h5_register_filters();
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dl_fail(DL_EIO, "cannot open dataset '%s': %s (make it with dlprep, e.g. datasets/make_fmnist.sh)",
                       path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return dl_fail(DL_EFORMAT, "%s: not an HDF5 file (make datasets with dlprep)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return dl_fail(DL_EIO, "%s: cannot open the HDF5 file (damaged, or no read permission)", path);
    d->path = dl_strdup(path);
    DlStatus st = read_file(d, f, budget);
    if (st == DL_OK && d->streaming) d->h5_file = (int64_t)f;
    else H5Fclose(f);
    if (st != DL_OK) close_handles(d);
    return st;
}

DlStatus dataset_open_budget(Dataset *d, const char *path, int64_t budget) {
    *d = (Dataset){ 0 };
    dataset_h5_lock();
    DlStatus st = open_locked(d, path, budget);
    dataset_h5_unlock();
    if (st != DL_OK) dataset_close(d);
    return st;
}

/* Streaming raw: one hyperslab read per run of consecutive indices. */
static DlStatus read_raw(const Dataset *d, const int64_t *idx, int n, uint8_t *out) {
    const size_t per = (size_t)d->h * d->w * d->c;
    DlStatus st = DL_OK;
    hid_t ds = (hid_t)d->h5_data;
    dataset_h5_lock();
    hid_t sp = H5Dget_space(ds);
    for (int i = 0; i < n && st == DL_OK;) {
        int j = i + 1;
        while (j < n && idx[j] == idx[j - 1] + 1) j++;
        hsize_t start[4] = { (hsize_t)idx[i], 0, 0, 0 };
        hsize_t count[4] = { (hsize_t)(j - i), (hsize_t)d->h, (hsize_t)d->w, (hsize_t)d->c };
        hid_t ms = H5Screate_simple(4, count, NULL);
        if (H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(ds, H5T_NATIVE_UINT8, ms, sp, H5P_DEFAULT, out + per * (size_t)i) < 0)
            st = dl_fail(DL_EIO, "%s: cannot read 'images' %lld..%lld (the file is damaged, truncated or changed)",
                         d->path, (long long)idx[i], (long long)idx[j - 1]);
        H5Sclose(ms);
        i = j;
    }
    H5Sclose(sp);
    dataset_h5_unlock();
    return st;
}

/* Streaming JPEG: the n entries in one point-selection read (under the
 * lock), decoded outside it. */
static DlStatus read_jpeg_entries(const Dataset *d, const int64_t *idx, int n, uint8_t *out, JpegCodec *jc) {
    const size_t per = (size_t)d->h * d->w * d->c;
    hid_t ds = (hid_t)d->h5_data;
    hsize_t *coord = dl_malloc(sizeof(hsize_t) * (size_t)n), cnt = (hsize_t)n;
    for (int i = 0; i < n; i++) coord[i] = (hsize_t)idx[i];
    hvl_t *v = dl_calloc((size_t)n, sizeof *v);
    DlStatus st = DL_OK;
    dataset_h5_lock();
    hid_t mt = H5Tvlen_create(d->jpeg_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8);
    hid_t sp = H5Dget_space(ds), ms = H5Screate_simple(1, &cnt, NULL);
    if (H5Sselect_elements(sp, H5S_SELECT_SET, (size_t)n, coord) < 0 || H5Dread(ds, mt, ms, sp, H5P_DEFAULT, v) < 0)
        st = dl_fail(DL_EIO, "%s: cannot read %d 'jpeg' entries from %lld (the file is damaged, truncated or changed)",
                     d->path, n, (long long)idx[0]);
    dataset_h5_unlock();
    JpegCodec own = { 0 };
    if (!jc) jc = &own;
    for (int i = 0; i < n && st == DL_OK; i++) {
        char name[4096];
        snprintf(name, sizeof name, "%s: jpeg[%lld]", d->path, (long long)idx[i]);
        uint8_t *img = NULL;
        int ih, iw, ic;
        st = jpeg_decode(jc, v[i].p, v[i].len, d->c, 0, 0, name, &img, &ih, &iw, &ic);
        if (st == DL_OK && (ih != d->h || iw != d->w))
            st = dl_fail(DL_EFORMAT, "%s is %dx%d pixels (WxH) but the file's images are %dx%d; "
                         "re-make the file with dlprep (it stores one size)", name, iw, ih, d->w, d->h);
        if (st == DL_OK) memcpy(out + per * (size_t)i, img, per);
        dl_free(img);
    }
    jpeg_codec_free(&own);
    dataset_h5_lock();
    H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, v);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Tclose(mt);
    dataset_h5_unlock();
    dl_free(v);
    dl_free(coord);
    return st;
}

DlStatus dataset_read(const Dataset *d, const int64_t *idx, int n, uint8_t *out, JpegCodec *jc) {
    const size_t per = (size_t)d->h * d->w * d->c;
    if (n <= 0) return DL_OK;
    if (!d->streaming) {
        for (int i = 0; i < n; i++) memcpy(out + per * (size_t)i, d->images + per * (size_t)idx[i], per);
        return DL_OK;
    }
    return d->jpeg ? read_jpeg_entries(d, idx, n, out, jc) : read_raw(d, idx, n, out);
}

void dataset_convert(const Dataset *d, const uint8_t *bytes, int n, float *x) {
    const int hw = d->h * d->w, c = d->c;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = bytes + (size_t)i * (size_t)(hw * c);
        float *dst = x + (size_t)i * (size_t)(hw * c);
        if (c == 1)
            for (int p = 0; p < hw; p++) dst[p] = (float)src[p] / 255.0f;
        else
            for (int p = 0; p < hw; p++)
                for (int ch = 0; ch < c; ch++) dst[ch * hw + p] = (float)src[p * c + ch] / 255.0f;
    }
}

void dataset_normalize(const Dataset *d, float *x, int n) {
    if (!d->normalize) return;
    const size_t hw = (size_t)d->h * d->w;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < d->c; ch++) {
            float *p = x + ((size_t)i * d->c + ch) * hw, m = d->mean[ch], s = d->std[ch];
            for (size_t j = 0; j < hw; j++) p[j] = (p[j] - m) / s;
        }
}

void dataset_images(const Dataset *d, const int64_t *idx, int n, float *x) {
    if (!d->streaming) {
        const size_t per = (size_t)d->h * d->w * d->c;
        for (int i = 0; i < n; i++) dataset_convert(d, d->images + per * (size_t)idx[i], 1, x + per * (size_t)i);
    } else {
        uint8_t *b = dl_malloc((size_t)n * d->h * d->w * d->c);
        if (dataset_read(d, idx, n, b, NULL) != DL_OK) dl_die(1, "%s", dl_errmsg());   /* the whole job: see util.h */
        dataset_convert(d, b, n, x);
        dl_free(b);
    }
    dataset_normalize(d, x, n);
}
