/* onnx_internal.h: what the files of src/onnx/ share (not for the rest of
 * dltrain: see onnx_import.h). */
#ifndef DL_ONNX_INTERNAL_H
#define DL_ONNX_INTERNAL_H

#include <stdint.h>

#include "onnx.pb-c.h"
#include "onnx/onnx_import.h"

#define ONNX_MAX_ELEMS ((int64_t)1 << 28)   /* floats in one tensor (1 GiB) */
#define ONNX_MAX_NODES 100000

/* A decoded tensor: every value as float and as int64. */
typedef struct {
    int rank;
    int64_t dims[8];
    int64_t count;
    int isfloat;
    float *f;
    int64_t *i;
} OnnxTensor;

/* Decodes t after checking it (where: "file: node 'x'" for messages). On
 * failure *out needs no free. */
DlStatus onnx_tensor(OnnxTensor *out, const Onnx__TensorProto *t, const char *where);
void onnx_tensor_free(OnnxTensor *t);

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name);
int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt);
float onnx_attr_float(const Onnx__NodeProto *n, const char *name, float dflt);
int onnx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int cap);
void onnx_attr_str(const Onnx__NodeProto *n, const char *name, char *buf, size_t cap);

#endif
