/* onnx_tensor.c: ONNX TensorProtos and attributes, checked: a tensor's
 * values come out as float32 (or int64 for shapes) only after its dims
 * (at most 8, each in [0, 2^31), at most 2^28 elements) agree with the
 * amount of data it carries (raw_data's byte length, or the typed field's
 * count). External data and other element types are refused by name. */
#include "onnx/onnx_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

DlStatus onnx_read_file(uint8_t **buf, size_t *len, const char *path) {
    *buf = NULL; *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dl_fail(DL_EIO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *b = dl_malloc(cap);
    while ((got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= ((size_t)1 << 31)) {
                fclose(f); dl_free(b);
                return dl_fail(DL_EFORMAT, "%s: larger than 2 GiB, protobuf's limit for one ONNX file", path);
            }
            b = dl_realloc(b, cap *= 2);
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) { dl_free(b); return dl_fail(DL_EIO, "cannot read '%s'", path); }
    *buf = b;
    *len = n;
    return DL_OK;
}

static size_t elem_size(int32_t type) {
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    default: return 0;
    }
}

/* A float value as an integer, 0 where the conversion is undefined (NaN, out of range). */
static int64_t to_i64(double v) { return v >= -9.0e18 && v <= 9.0e18 ? (int64_t)v : 0; }

DlStatus onnx_tensor(OnnxTensor *out, const Onnx__TensorProto *t, const char *where) {
    memset(out, 0, sizeof *out);
    const char *name = t->name ? t->name : "";
    if (t->n_dims > 8) return dl_fail(DL_EFORMAT, "%s: tensor '%s' has %zu dims (at most 8)", where, name, t->n_dims);
    int64_t count = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] >= ((int64_t)1 << 31))
            return dl_fail(DL_EFORMAT, "%s: tensor '%s' has dim %zu = %lld (must be 0 .. 2^31-1)", where, name, i,
                           (long long)t->dims[i]);
        count *= t->dims[i];
        if (count > ONNX_MAX_ELEMS)
            return dl_fail(DL_EFORMAT, "%s: tensor '%s' has more than %lld elements", where, name, (long long)ONNX_MAX_ELEMS);
        out->dims[i] = t->dims[i];
    }
    out->rank = (int)t->n_dims;
    out->count = count;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return dl_fail(DL_EFORMAT, "%s: tensor '%s' keeps its data in an external file; export with the weights inside "
                       "the .onnx (torch.onnx.export does for models under 2 GiB)", where, name);
    int32_t type = t->has_data_type ? t->data_type : 0;
    size_t es = elem_size(type);
    if (!es) return dl_fail(DL_EFORMAT, "%s: tensor '%s' has element type %d; import reads float32, float64, int32, int64 and bool",
                            where, name, (int)type);
    int isfloat = type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    size_t have;
    if (t->has_raw_data) {
        if (t->raw_data.len != (size_t)count * es)
            return dl_fail(DL_EFORMAT, "%s: tensor '%s' has %zu bytes of raw_data but its dims need %lld x %zu",
                           where, name, t->raw_data.len, (long long)count, es);
        have = (size_t)count;
    } else {
        have = type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? t->n_float_data
             : type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? t->n_int32_data
             : type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? t->n_int64_data
             : type == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? t->n_int32_data : t->n_double_data;
        if (have != (size_t)count)
            return dl_fail(DL_EFORMAT, "%s: tensor '%s' holds %zu values but its dims need %lld", where, name, have,
                           (long long)count);
    }
    out->f = dl_malloc(sizeof(float) * (size_t)(count ? count : 1));
    out->i = dl_malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
    out->isfloat = isfloat;
    const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
    for (int64_t k = 0; k < count; k++) {
        double v = 0.0;
        int64_t iv = 0;
        switch (type) {   /* raw_data is little-endian, as on every machine dltrain runs on */
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
            float x;
            if (raw) memcpy(&x, raw + 4 * k, 4); else x = t->float_data[k];
            v = x; iv = to_i64(v); break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
            if (raw) memcpy(&v, raw + 8 * k, 8); else v = t->double_data[k];
            iv = to_i64(v); break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: {
            int32_t x;
            if (raw) memcpy(&x, raw + 4 * k, 4); else x = t->int32_data[k];
            v = x; iv = x; break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:   /* one byte raw, else in int32_data */
            iv = raw ? raw[k] != 0 : t->int32_data[k] != 0;
            v = (double)iv; break;
        default:
            if (raw) memcpy(&iv, raw + 8 * k, 8); else iv = t->int64_data[k];
            v = (double)iv; break;
        }
        out->f[k] = (float)v;
        out->i[k] = iv;
    }
    return DL_OK;
}

void onnx_tensor_free(OnnxTensor *t) {
    dl_free(t->f); dl_free(t->i);
    memset(t, 0, sizeof *t);
}

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt) {
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

float onnx_attr_float(const Onnx__NodeProto *n, const char *name, float dflt) {
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

/* ints attribute into v (at most cap); returns the count, 0 if absent, -1 if too long. */
int onnx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int cap) {
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    if (!a) return 0;
    if (a->n_ints > (size_t)cap) return -1;
    for (size_t i = 0; i < a->n_ints; i++) v[i] = a->ints[i];
    return (int)a->n_ints;
}

/* string attribute into buf (cap), "" if absent. */
void onnx_attr_str(const Onnx__NodeProto *n, const char *name, char *buf, size_t cap) {
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    buf[0] = '\0';
    if (!a || !a->has_s) return;
    size_t len = a->s.len < cap - 1 ? a->s.len : cap - 1;
    memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++) if (buf[i] < 32 || buf[i] > 126) buf[i] = '?';
}
