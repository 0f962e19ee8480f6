/* h5util.c: HDF5 attribute helpers shared by the dataset and checkpoint files. */
#include "h5util.h"

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
