/* fuzz_onnx.c: libFuzzer harness over ONNX import (issue 16): any bytes as
 * a .onnx file go through onnx_import and, when it accepts them, through
 * onnx_import_model (model_init and the parameter copy) with one sample.
 * A clean error is fine; a crash, a leak, an out-of-bounds read (under
 * ASan/UBSan) or an abort is a bug. Seeds: tests/fuzz/corpus/onnx/.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -Ibuild/onnx-gen ...
 *   ./fuzz_onnx -max_total_time=60 tests/fuzz/corpus/onnx */
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "onnx/onnx_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    OnnxImport imp;
    if (onnx_import(&imp, data, size, "fuzz.onnx", NULL, 0) != DL_OK) return 0;
    Model m;
    if (onnx_import_model(&m, &imp, "fuzz.onnx", 1) == DL_OK) model_free(&m);
    onnx_import_free(&imp);
    return 0;
}
