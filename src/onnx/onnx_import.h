/* onnx_import.h: an ONNX graph (opsets 9-17) -> a dltrain model description:
 * the model text (with its `input` line) and every layer's parameters and
 * running statistics in PyTorch's layouts, ready for model_init and a
 * checkpoint. The file is read with the protobuf-c code generated from
 * src/onnx/onnx.proto; everything in it is checked before use (sizes in 64
 * bits, raw_data length against dims, dims limits), and every op that does
 * not map is named in the error with its node. Not here: files written
 * (cli_import.c writes the checkpoint), ONNX export. */
#ifndef DL_ONNX_IMPORT_H
#define DL_ONNX_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* A named float tensor handed in from outside the model file (the
 * conformance tests feed a Conv's weight as a graph input): used as an
 * initializer of that name. */
typedef struct {
    const char *name;
    const float *data;
    int rank;
    int64_t dims[8];
} OnnxFeed;

typedef struct {
    char *text;              /* model text, input line first (owned) */
    int n_layers;
    float **arrays;          /* (n_layers * 4): layer i's params then running stats, in
                              * LayerOps order; NULL where the layer has fewer (owned) */
    size_t *sizes;           /* (n_layers * 4) floats in each */
    int nhwc;                /* the graph took NHWC input behind a leading Transpose */
    int dropped_softmax;     /* a trailing Softmax was left to dltrain (logits out) */
    int training_graph;      /* the graph is in training mode (BatchNormalization with
                              * training outputs or training_mode=1, Dropout with
                              * training_mode): ONNX runs it with batch statistics */
    int opset;
    char producer[64];
} OnnxImport;

/* Parses buf (len bytes of an ONNX ModelProto; `source` names it in
 * messages) with optional feeds. On failure returns DL_EFORMAT with one line
 * naming the file and the node, and *out needs no free. */
DlStatus onnx_import(OnnxImport *out, const uint8_t *buf, size_t len, const char *source,
                     const OnnxFeed *feeds, int n_feeds);
void onnx_import_free(OnnxImport *imp);

/* Builds m from the import (model_init with classes 0, then the arrays
 * copied into params and state). Free m with model_free. */
DlStatus onnx_import_model(Model *m, const OnnxImport *imp, const char *source, int max_n);

/* Reads a whole file (at most 2 GiB, protobuf's own limit). *buf is the
 * caller's (dl_free). */
DlStatus onnx_read_file(uint8_t **buf, size_t *len, const char *path);

#endif
