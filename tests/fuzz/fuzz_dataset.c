/* fuzz_dataset: the dataset opener (src/data/dataset.c) on HDF5 bytes:
 * opened streaming (a 64 KiB budget) and a few samples read and converted
 * as the loader does, then opened whole when that is small. */
#include "fuzz_common.h"

#include <hdf5.h>

#include "data/dataset.h"

static void read_some(Dataset *d) {
    size_t per = (size_t)d->h * d->w * d->c;
    if (per > ((size_t)1 << 20)) return;
    int64_t idx[4] = { 0, d->n - 1, d->n / 2, 0 };
    uint8_t *b = dl_malloc(4 * per);
    float *x = dl_malloc(4 * per * sizeof(float));
    if (dataset_read(d, idx, 4, b, NULL) == DL_OK) {
        dataset_convert(d, b, 4, x);
        d->normalize = d->has_stats;
        dataset_normalize(d, x, 4);
    }
    for (int64_t i = 0; d->labels && i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= d->k) abort();   /* the opener promises labels in [0, k) */
    dl_free(b);
    dl_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, ".h5");
    Dataset d;
    if (dataset_open_budget(&d, path, 1 << 16) == DL_OK) {
        int small = (double)d.n * d.h * d.w * d.c <= (double)(1 << 24);
        read_some(&d);
        dataset_close(&d);
        if (small && dataset_open(&d, path) == DL_OK) {
            read_some(&d);
            dataset_close(&d);
        }
    }
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) abort();   /* an HDF5 handle left open */
    return 0;
}
