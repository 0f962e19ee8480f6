/* fuzz_checkpoint: the checkpoint loader (src/checkpoint.c) on HDF5 bytes:
 * checkpoint_info (attributes, run position, normalisation), then the model
 * it names built and every tensor loaded with SGD's optimizer state, and
 * the --init path (checkpoint_load_matching). */
#include "fuzz_common.h"

#include <hdf5.h>

#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, ".h5");
    CheckpointInfo info;
    if (checkpoint_info(&info, path) != DL_OK) {
        if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) abort();   /* an HDF5 handle left open */
        return 0;
    }
    Model m;
    if (model_init(&m, info.model_text, info.model_source, info.input, info.k, 1) == DL_OK) {
        float *state = dl_calloc(m.n_params ? m.n_params : 1, sizeof(float));
        OptimBuffers ob = { .kind = "sgd", .nbuf = 1, .names = { "momentum" }, .state = state };
        checkpoint_load(path, &m, &ob);
        InitOutcome *out = dl_calloc((size_t)m.n_layers, sizeof *out);
        checkpoint_load_matching(path, &m, NULL, out);
        dl_free(out);
        dl_free(state);
        model_free(&m);
    }
    checkpoint_info_free(&info);
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) abort();   /* an HDF5 handle left open */
    return 0;
}
