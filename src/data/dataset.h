/* dataset.h: the HDF5 dataset file of DESIGN.md ("Dataset file"): open and
 * validate it, hand out batches as float tensors, and write it (dlprep).
 * Layout: /images uint8 (N,H,W,C); /labels int (N) for task "single" or
 * /targets uint8 (N,K) for task "multi"; root attributes class_names (K
 * strings), task, format_version. Readers accept what h5py writes by default
 * (any integer type for labels/attributes, fixed or variable-length strings,
 * any chunking or compression).
 * JPEG-stored files hold /jpeg instead of /images: variable-length uint8 (N),
 * one encoded JPEG per sample, and root attributes height, width, channels
 * (the decoded size). dataset_open decodes them all at open into the same
 * in-memory d->images, so nothing downstream knows how the file was stored;
 * this costs the decoded size in memory (streaming reads come later).
 * Not here (data-pipeline issue): streaming reads of files larger than
 * memory, prefetch threads, augmentation. */
#ifndef DL_DATASET_H
#define DL_DATASET_H

#include <stdint.h>

#include "util.h"

#define DATASET_FORMAT_VERSION 1

typedef struct {
    char *path;
    int64_t n;            /* samples */
    int h, w, c;          /* per-sample shape; stored (N,H,W,C) */
    int k;                /* classes (tags for multi-label) */
    int multi;            /* 1 when task == "multi" (/targets), else /labels */
    char **class_names;   /* k NUL-terminated strings, owned */
    uint8_t *images;      /* (N,H,W,C), the whole file in memory, owned */
    int32_t *labels;      /* (N) in [0,k), or NULL for multi-label, owned */
    uint8_t *targets;     /* (N,K) 0/1, or NULL for single-label, owned */
} Dataset;

/* Opens `path`, checks it against the contract and loads it. On failure
 * returns DL_EIO/DL_EFORMAT with a message naming the file, the object and
 * what was expected, and leaves *d zeroed (nothing to free). On success the
 * caller frees with dataset_close(). */
DlStatus dataset_open(Dataset *d, const char *path);

/* Frees everything; accepts a zeroed or failed Dataset. */
void dataset_close(Dataset *d);

/* x (n,C,H,W) = images idx[0..n) scaled to [0,1] (NCHW, from stored NHWC). */
void dataset_images(const Dataset *d, const int64_t *idx, int n, float *x);

/* Writes a dataset file atomically (to "<path>.partial", then rename), so a
 * failure never leaves a torn file at `path`. images (n,h,w,c) uint8; exactly
 * one of labels (n) / targets (n,k) is non-NULL; class_names has k entries. */
DlStatus dataset_write(const char *path, const uint8_t *images, int64_t n, int h, int w, int c,
                       const int32_t *labels, const uint8_t *targets, int k,
                       char *const *class_names);

/* The same, storing /jpeg: jpeg[i] holds jpeg_size[i] bytes of sample i's
 * encoded image, which decodes to (h, w, c); written with the attributes
 * height, width, channels. Atomic like dataset_write. */
DlStatus dataset_write_jpeg(const char *path, uint8_t *const *jpeg, const size_t *jpeg_size, int64_t n,
                            int h, int w, int c, const int32_t *labels, const uint8_t *targets, int k,
                            char *const *class_names);

#endif
