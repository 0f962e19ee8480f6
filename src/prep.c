/* prep.c: the `dlprep` command line, which turns other formats into the
 * dataset file of DESIGN.md. This version reads IDX files (MNIST,
 * Fashion-MNIST; gzip-compressed or not, zlib tells them apart). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"
#include "dltrain.h"
#include "flags.h"

/* An IDX file: big-endian magic (0, 0, type 0x08 = ubyte, ndims), ndims
 * big-endian uint32 sizes, then the bytes. */
typedef struct {
    int ndims;
    uint32_t dims[4];
    uint8_t *data;            /* owned */
    size_t size;
} Idx;

static DlStatus idx_read(Idx *x, const char *path, int want_dims, const char *what) {
    *x = (Idx){ 0 };
    gzFile g = gzopen(path, "rb");
    if (!g) return dl_fail(DL_EIO, "cannot open %s file '%s': %s", what, path, strerror(errno));
    uint8_t head[4];
    DlStatus st = DL_OK;
    if (gzread(g, head, 4) != 4 || head[0] || head[1] || head[2] != 0x08 || head[3] != want_dims)
        st = dl_fail(DL_EFORMAT, "%s: not an IDX %s file (expected magic 0x0000080%d, as in train-%s-idx%d-ubyte.gz)",
                     path, what, want_dims, want_dims == 3 ? "images" : "labels", want_dims);
    x->ndims = want_dims;
    size_t size = 1;
    for (int i = 0; st == DL_OK && i < want_dims; i++) {
        uint8_t b[4];
        if (gzread(g, b, 4) != 4) { st = dl_fail(DL_EFORMAT, "%s: truncated IDX header", path); break; }
        x->dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (x->dims[i] == 0 || x->dims[i] > (1u << 28))
            st = dl_fail(DL_EFORMAT, "%s: IDX dimension %d is %u; expected 1..2^28", path, i, x->dims[i]);
        size *= x->dims[i];
    }
    if (st == DL_OK && size > ((size_t)1 << 36))
        st = dl_fail(DL_EFORMAT, "%s: IDX data of %zu bytes is too large", path, size);
    if (st == DL_OK) {
        x->data = dl_malloc(size);
        x->size = size;
        size_t got = 0;
        while (got < size) {
            unsigned chunk = size - got > (1u << 30) ? (1u << 30) : (unsigned)(size - got);
            int r = gzread(g, x->data + got, chunk);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got != size)
            st = dl_fail(DL_EFORMAT, "%s: truncated: the header promises %zu bytes of data, the file holds %zu "
                         "(re-download or re-install it)", path, size, got);
    }
    gzclose(g);
    if (st != DL_OK) { dl_free(x->data); *x = (Idx){ 0 }; }
    return st;
}

/* Splits "a,b,c" into new strings; returns the count. */
static int split_names(const char *s, char ***out) {
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    char **v = dl_calloc((size_t)n, sizeof(char *));
    const char *start = s;
    for (int i = 0; i < n; i++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        v[i] = dl_calloc(len + 1, 1);
        memcpy(v[i], start, len);
        start = end ? end + 1 : start + len;
    }
    *out = v;
    return n;
}

static DlStatus prep_idx(int argc, char **argv) {
    const char *images = NULL, *labels = NULL, *names = NULL, *out = NULL;
    int limit = 0;
    const Flag flags[] = {
        { "images", F_STR, &images, NULL, "IDX image file (N, H, W) ubyte, .gz or not" },
        { "labels", F_STR, &labels, NULL, "IDX label file (N) ubyte, .gz or not" },
        { "class-names", F_STR, &names, "0,1,...", "comma-separated class names, one per label value" },
        { "limit", F_INT, &limit, "0", "keep only the first N images (0: all)" },
        { "o", F_STR, &out, NULL, "output dataset file (.h5)" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        flags_print("usage: dlprep idx --images F --labels F [--class-names a,b,...] [--limit N] -o out.h5", flags, nflags);
        return DL_OK;
    }
    /* Accept -o as well as --o. */
    for (int i = 0; i < argc; i++) if (!strcmp(argv[i], "-o")) argv[i] = "--o";
    DlStatus st = flags_parse(flags, nflags, argc, argv, "dlprep idx");
    if (st != DL_OK) return st;
    if (limit < 0) return dl_fail(DL_EARG, "dlprep idx: --limit must be >= 0");
    Idx im, lb = { 0 };
    st = idx_read(&im, images, 3, "images");
    if (st == DL_OK) st = idx_read(&lb, labels, 1, "labels");
    char **cn = NULL;
    int k = 0;
    if (st == DL_OK && lb.dims[0] != im.dims[0])
        st = dl_fail(DL_EFORMAT, "%s has %u labels but %s has %u images; pass files of the same set",
                     labels, lb.dims[0], images, im.dims[0]);
    if (st == DL_OK) {
        int max = 0;
        for (size_t i = 0; i < lb.size; i++) if (lb.data[i] > max) max = lb.data[i];
        if (names) {
            k = split_names(names, &cn);
            if (max >= k)
                st = dl_fail(DL_EARG, "dlprep idx: %s has label %d but --class-names gives only %d names", labels, max, k);
            for (int i = 0; st == DL_OK && i < k; i++)
                if (!cn[i][0]) st = dl_fail(DL_EARG, "dlprep idx: --class-names has an empty name (position %d)", i + 1);
        } else {
            k = max + 1;
            cn = dl_calloc((size_t)k, sizeof(char *));
            for (int i = 0; i < k; i++) {
                char b[16];
                snprintf(b, sizeof b, "%d", i);
                cn[i] = dl_strdup(b);
            }
        }
    }
    if (st == DL_OK) {
        int64_t n = im.dims[0];
        if (limit > 0 && limit < n) n = limit;
        int32_t *lab = dl_malloc((size_t)n * sizeof *lab);
        for (int64_t i = 0; i < n; i++) lab[i] = lb.data[i];
        st = dataset_write(out, im.data, n, (int)im.dims[1], (int)im.dims[2], 1, lab, NULL, k, cn);
        if (st == DL_OK)
            printf("dlprep: wrote %s: %lld images %ux%u grey, %d classes\n", out, (long long)n, im.dims[1], im.dims[2], k);
        dl_free(lab);
    }
    for (int i = 0; cn && i < k; i++) dl_free(cn[i]);
    dl_free(cn);
    dl_free(im.data);
    dl_free(lb.data);
    return st;
}

static void usage(FILE *f) {
    fprintf(f,
            "dlprep %s: make dltrain's HDF5 dataset files\n\n"
            "usage: dlprep COMMAND [flags]   (dlprep COMMAND --help for its flags)\n\n"
            "commands:\n"
            "  idx       IDX image + label files (MNIST, Fashion-MNIST), gzip or not\n",
            DLTRAIN_VERSION);
}

int dl_dlprep_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("dlprep %s\n", DLTRAIN_VERSION); return 0; }
    DlStatus st;
    if (!strcmp(argv[1], "idx")) st = prep_idx(argc - 2, argv + 2);
    else {
        fprintf(stderr, "dlprep: unknown command '%s' (commands: idx; see dlprep --help)\n", argv[1]);
        return 2;
    }
    if (st != DL_OK) {
        fprintf(stderr, "dlprep: %s\n", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}
