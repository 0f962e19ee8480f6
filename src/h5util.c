/* h5util.c: HDF5 attribute helpers shared by the dataset and checkpoint files. */
#include "h5util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Fixed-length strings from a file: one string and all of a list's bytes at
 * most this long (the largest real ones, a model text or a checkpoint's
 * metrics_csv, are well under it). */
#define H5_MAX_STR ((size_t)64 << 20)

int h5_put_attr_str(hid_t obj, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, t, &value) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp); H5Tclose(t);
    return ok;
}

int h5_put_attr_strs(hid_t obj, const char *name, char *const *v, int n) {
    hsize_t dim = (hsize_t)n;
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, &dim, NULL);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, t, v) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp); H5Tclose(t);
    return ok;
}

int h5_put_attr_i64(hid_t obj, const char *name, const int64_t *v, int n) {
    hsize_t dim = (hsize_t)n;
    hid_t sp = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, v) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return ok;
}

/* Reads an integer attribute of any integer type (n values). */
int h5_get_attr_i64(hid_t obj, const char *name, int64_t *v, int n) {
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(sp) == n &&
             H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    H5Tclose(t); H5Sclose(sp); H5Aclose(a);
    return ok;
}

/* Reads a string attribute (fixed or variable length) into a new string. */
char *h5_get_attr_str(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(t));   /* ASCII and UTF-8 do not convert */
            H5Tset_size(mt, H5T_VARIABLE);
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) { out = dl_strdup(s); H5free_memory(s); }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            if (n == 0 || n > H5_MAX_STR) { H5Tclose(t); H5Aclose(a); return NULL; }
            out = dl_calloc(n + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(t));   /* ASCII and UTF-8 do not convert */
            H5Tset_size(mt, n + 1);
            if (H5Aread(a, mt, out) < 0) { dl_free(out); out = NULL; }
            H5Tclose(mt);
        }
    }
    H5Tclose(t); H5Aclose(a);
    return out;
}

/* Reads a 1-D string attribute (fixed or variable length) into n new strings. */
char **h5_get_attr_strs(hid_t obj, const char *name, int *n) {
    *n = 0;
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    char **out = NULL;
    size_t fixed = H5Tis_variable_str(t) > 0 ? 1 : H5Tget_size(t);   /* bytes of one fixed-length string */
    if (H5Tget_class(t) == H5T_STRING && count > 0 && count < 1000000 && fixed > 0 &&
        fixed <= H5_MAX_STR / (size_t)count) {
        out = dl_calloc((size_t)count, sizeof(char *));
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(t));   /* ASCII and UTF-8 do not convert */
        if (H5Tis_variable_str(t) > 0) {
            H5Tset_size(mt, H5T_VARIABLE);
            char **raw = dl_calloc((size_t)count, sizeof(char *));
            if (H5Aread(a, mt, raw) >= 0)
                for (hssize_t i = 0; i < count; i++) out[i] = dl_strdup(raw[i] ? raw[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
            dl_free(raw);
        } else {
            size_t len = H5Tget_size(t);
            H5Tset_size(mt, len);
            H5Tset_strpad(mt, H5T_STR_NULLPAD);   /* all len bytes; numpy 'S' strings fill them */
            char *raw = dl_calloc((size_t)count * len + 1, 1);
            if (H5Aread(a, mt, raw) >= 0)
                for (hssize_t i = 0; i < count; i++) {
                    out[i] = dl_calloc(len + 1, 1);
                    memcpy(out[i], raw + i * len, len);
                }
            dl_free(raw);
        }
        H5Tclose(mt);
        for (hssize_t i = 0; i < count; i++) if (!out[i]) out[i] = dl_strdup("");
        *n = (int)count;
    }
    H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    return out;
}

int h5_put_attr_f64(hid_t obj, const char *name, double v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &v) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return ok;
}

int h5_get_attr_f64(hid_t obj, const char *name, double *v) {
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
    int ok = H5Tget_class(t) == H5T_FLOAT && H5Sget_simple_extent_npoints(sp) == 1 &&
             H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0;
    H5Tclose(t); H5Sclose(sp); H5Aclose(a);
    return ok;
}

/* ---- HDF5 filter 32000: LZF, h5py's own fast compression ----
 * Debian's hdf5-plugin-lzf (3.7.0-8) cannot load: liblzf_filter.so leaves
 * lzf_decompress undefined (it is not linked with liblzf), so HDF5 reports
 * "required filter 'lzf' is not registered" (HDF5_PLUGIN_PATH does not
 * help). The decoder is small, so it is registered here instead: decoding
 * only (dltrain never writes LZF). Format: liblzf's lzf_d.c; filter
 * parameters: h5py's lzf_filter.c (cd_values[2] = the chunk's bytes). */
#define LZF_MAX_CHUNK ((size_t)1 << 30)

/* Decodes in (n bytes) into out (cap bytes); the decoded size, or 0 when
 * the input is malformed or does not fit (*too_small set then). */
static size_t lzf_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int *too_small) {
    size_t i = 0, o = 0;
    *too_small = 0;
    while (i < n) {
        size_t ctrl = in[i++];
        if (ctrl < 32) {                              /* a literal run of ctrl + 1 bytes */
            size_t len = ctrl + 1;
            if (i + len > n) return 0;
            if (o + len > cap) { *too_small = 1; return 0; }
            memcpy(out + o, in + i, len);
            i += len;
            o += len;
        } else {                                      /* a back reference */
            size_t len = ctrl >> 5, back = (ctrl & 0x1f) << 8;
            if (len == 7) { if (i >= n) return 0; len += in[i++]; }
            if (i >= n) return 0;
            back += (size_t)in[i++] + 1;
            len += 2;
            if (back > o) return 0;
            if (o + len > cap) { *too_small = 1; return 0; }
            for (size_t k = 0; k < len; k++, o++) out[o] = out[o - back];   /* may overlap: byte by byte */
        }
    }
    return o;
}

static size_t lzf_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                         size_t *buf_size, void **buf) {
    if (!(flags & H5Z_FLAG_REVERSE)) return 0;       /* no encoder */
    size_t cap = cd_nelmts >= 3 && cd_values[2] > 0 ? cd_values[2] : 4 * nbytes + 64;
    for (;;) {
        if (cap > LZF_MAX_CHUNK) return 0;
        uint8_t *out = H5allocate_memory(cap, 0);
        if (!out) return 0;
        int too_small;
        size_t got = lzf_decode(*buf, nbytes, out, cap, &too_small);
        if (got) {
            H5free_memory(*buf);
            *buf = out;
            *buf_size = cap;
            return got;
        }
        H5free_memory(out);
        if (!too_small) return 0;
        cap *= 2;
    }
}

static void register_lzf(void) {
    static const H5Z_class2_t lzf = { H5Z_CLASS_T_VERS, (H5Z_filter_t)H5_FILTER_LZF, 0, 1,
                                      "lzf (decoder built into dltrain)", NULL, NULL, lzf_filter };
    H5Zregister(&lzf);
}

void h5_register_filters(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_lzf);
}

/* Known filters and the Debian package that provides each. */
static const struct { int id; const char *name, *pkg; } known_filters[] = {
    { 307, "bzip2", "hdf5-filter-plugin" }, { 32004, "LZ4", "hdf5-filter-plugin" },
    { 32008, "bitshuffle", "hdf5-filter-plugin" }, { 32001, "Blosc", NULL }, { 32015, "Zstandard", NULL },
};

int h5_filters_missing(hid_t dset, char *msg, size_t cap) {
    hid_t pl = H5Dget_create_plist(dset);
    if (pl < 0) return 0;
    int missing = 0, n = H5Pget_nfilters(pl);
    for (int i = 0; i < n && !missing; i++) {
        unsigned fl, cd[8];
        size_t nc = 8;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)i, &fl, &nc, cd, sizeof name, name, NULL);
        if (id < 0 || H5Zfilter_avail(id) > 0) continue;
        missing = 1;
        const char *known = NULL, *pkg = NULL;
        for (size_t k = 0; k < sizeof known_filters / sizeof known_filters[0]; k++)
            if (known_filters[k].id == (int)id) { known = known_filters[k].name; pkg = known_filters[k].pkg; }
        if (pkg)
            snprintf(msg, cap, "it is compressed with HDF5 filter %d (%s), which is not installed: apt-get install -y %s, "
                     "or re-write it with gzip (h5py: compression=\"gzip\")", (int)id, known, pkg);
        else
            snprintf(msg, cap, "it is compressed with HDF5 filter %d (%s), which this HDF5 cannot decode: re-write it "
                     "with gzip (h5py: compression=\"gzip\") or put the filter's plugin in HDF5_PLUGIN_PATH",
                     (int)id, known ? known : name[0] ? name : "unknown");
    }
    H5Pclose(pl);
    return missing;
}
