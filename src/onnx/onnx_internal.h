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

/* ---- the import in progress (onnx_import.c; onnx_ops.c maps the nodes) ---- */

typedef struct {
    const char *name;   /* points into the proto */
    int is_const;
    int layer;          /* activation: the layer whose output it is; -1: the model input */
    int rank;           /* activation: its ONNX rank, batch included (dltrain shapes
                         * (C, H, W) hold (N, D) as (D, 1, 1), (N, C, L) as (C, L, 1)) */
    OnnxTensor t;       /* constant (owned) */
} Value;

typedef struct {
    LayerSpec s;
    float *arr[4];
    size_t n[4];
} ILayer;

typedef struct {
    const char *source;
    const Onnx__GraphProto *g;
    Value *v;
    int nv, capv;
    ILayer *L;
    int nl, capl;
    Shape input;
    int input_rank;
    int nhwc, softmax, opset, training;
    size_t act_floats;             /* per-sample floats of the layers so far */
    const Onnx__NodeProto *node;   /* the node being mapped, for messages */
    char where[512];
} Ctx;

#define FAIL(c, ...) imp_fail_at(c, __VA_ARGS__)
/* DL_EFORMAT with "file: node 'name' (Op): " and the message. */
DlStatus imp_fail_at(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
Value *imp_find(Ctx *c, const char *name);                  /* latest definition, or NULL */
Value *imp_add_value(Ctx *c, const char *name);             /* may move every Value */
void imp_set_act(Ctx *c, const char *name, int layer, int rank);
Shape imp_act_shape(Ctx *c, const Value *v);
DlStatus imp_in_act(Ctx *c, int k, Value **out);            /* node input k, an activation */
DlStatus imp_in_const(Ctx *c, int k, const OnnxTensor **out, int optional);
/* Appends layer s reading src (and from), names and shapes it; the node's
 * first output becomes its activation. */
DlStatus imp_add_layer(Ctx *c, LayerSpec *s, const Value *src, const Value *from, const char *weight);
float *imp_copy_floats(const float *v, size_t n);
void imp_set_array(ILayer *l, int k, float *p, size_t n);
LayerSpec imp_spec_of(LayerKind k);                         /* the parser's defaults */
DlStatus imp_map_node(Ctx *c, const Onnx__NodeProto *n);    /* onnx_ops.c */

#endif
