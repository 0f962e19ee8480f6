/* export.h: a checkpoint's model as an ONNX inference graph (`dltrain export`).
 * Input "input": float32 (N, C, H, W), N dynamic: RGB (or grey) pixels / 255
 * of images squashed to H x W as dlprep presizes them; the training
 * normalisation (x - mean) / std is inside the graph (Sub, Div). Outputs
 * "logits" (N, K) and "softmax" (single-label) or "sigmoid" (multi-label)
 * (N, K). Batch norm is a BatchNormalization node with the running
 * statistics (eval form), dropout is gone. metadata_props: class_names (a
 * JSON array), task, presize, input, preprocessing, normalization, outputs,
 * dltrain_version. Written with protobuf-c's generated code from ONNX's own
 * schema, to "<out>.partial", flushed and renamed.
 * Not here: reading ONNX (import), external data (files over 2 GiB). */
#ifndef DL_ONNX_EXPORT_H
#define DL_ONNX_EXPORT_H

#include "util.h"

#define ONNX_EXPORT_OPSET_DEFAULT 13
#define ONNX_EXPORT_OPSET_MIN 9
#define ONNX_EXPORT_OPSET_MAX 17
#define ONNX_EXPORT_OPSET_RANGE "9-17"

/* Writes the model of checkpoint `ckpt` to `out` at `opset`. DL_EARG for an
 * opset outside the range, DL_EFORMAT for a bad checkpoint or a layer the
 * exporter cannot express, DL_EIO when `out` cannot be written (nothing is
 * left at `out` then, and an existing file there is kept). */
DlStatus onnx_export(const char *ckpt, const char *out, int opset);

#endif
