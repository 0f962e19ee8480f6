/* fuzz_idx: dlprep idx's reader of IDX files (prep_idx_read in
 * src/prep_read.c), plain or gzip (zlib tells them apart). The first byte
 * picks the dimension count asked for (3: images, 1: labels). */
#include "fuzz_common.h"

#include "prep_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int dims = data[0] & 1 ? 3 : 1;
    const char *path = fuzz_file(data + 1, size - 1, ".idx");
    Idx x;
    if (prep_idx_read(&x, path, dims, dims == 3 ? "images" : "labels") == DL_OK) {
        size_t want = 1;
        for (int i = 0; i < x.ndims; i++) want *= x.dims[i];
        if (want != x.size) abort();   /* the header's product is what was read */
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < x.size; i++) sum += x.data[i];   /* every byte is there (ASan checks) */
        dl_free(x.data);
    }
    return 0;
}
