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
 * this costs the decoded size in memory, unless the file is opened with a
 * memory budget it exceeds (dataset_open_budget): then the file stays open
 * and samples are read on demand (dataset_read), raw ones by hyperslab,
 * JPEG ones decoded as read. Either way the bytes are the same.
 * HDF5 (serial) is not thread-safe: every HDF5 call of this file, and of any
 * caller that may run beside a reading thread (checkpoint saves), holds
 * dataset_h5_lock().
 * Presizing: dlprep folder/csv store the root attribute presize ("squash")
 * through dataset_write_presized; dltrain records it in checkpoints.
 * Normalisation: dataset_write(_jpeg) stores root attributes mean and std
 * (C floats each, per channel, in [0,1] units, over every pixel); with
 * d->normalize set, dataset_images and dataset_normalize map x to
 * (x - mean) / std. Prefetching: loader.h. Augmentation: augment.h. */
#ifndef DL_DATASET_H
#define DL_DATASET_H

#include <stdint.h>

#include "jpeg.h"
#include "util.h"

#define DATASET_FORMAT_VERSION 1

/* Limits on what a file may declare (checked in 64 bits before any product
 * or allocation; a file past one is refused with a message naming it):
 * H and W each, the pixels of one image (H*W, as jpeg_decode allows, so
 * H*W*C fits an int), samples, classes or tags, and the bytes held in memory
 * (never more than the machine has: a file that declares more is lying or
 * needs --memory-budget). */
#define DATASET_MAX_SIDE 65536
#define DATASET_MAX_PIXELS JPEG_MAX_PIXELS
#define DATASET_MAX_SAMPLES (((int64_t)1 << 31) - 1)
#define DATASET_MAX_CLASSES 100000

typedef struct {
    char *path;
    int64_t n;            /* samples */
    int h, w, c;          /* per-sample shape; stored (N,H,W,C) */
    int k;                /* classes (tags for multi-label) */
    int multi;            /* 1 when task == "multi" (/targets), else /labels */
    char **class_names;   /* k NUL-terminated strings, owned */
    uint8_t *images;      /* (N,H,W,C), the whole file in memory, owned; NULL when streaming */
    int32_t *labels;      /* (N) in [0,k), or NULL for multi-label, owned */
    uint8_t *targets;     /* (N,K) 0/1, or NULL for single-label, owned */
    int streaming;        /* 1: images stay in the file, read by dataset_read */
    int jpeg;             /* the file stores /jpeg (else /images) */
    int jpeg_signed;      /* /jpeg holds int8 bytes */
    int64_t h5_file, h5_data;   /* streaming: open HDF5 file and dataset (hid_t) */
    int has_stats;        /* the file has the mean/std attributes */
    float mean[3], std[3];      /* per channel, [0,1] units (std 1 when absent or 0) */
    int normalize;        /* dataset_images/dataset_normalize apply (x - mean) / std */
    char presize[16];     /* root attribute presize: how dlprep sized the images ("squash");
                           * "" when absent (dlprep idx: stored as the source had them) */
} Dataset;

/* Opens `path`, checks it against the contract and loads it. On failure
 * returns DL_EIO/DL_EFORMAT with a message naming the file, the object and
 * what was expected, and leaves *d zeroed (nothing to free). On success the
 * caller frees with dataset_close(). */
DlStatus dataset_open(Dataset *d, const char *path);

/* The same with a memory budget in bytes (<= 0: none): when the decoded
 * images exceed it, the file stays open and d->images is NULL (streaming). */
DlStatus dataset_open_budget(Dataset *d, const char *path, int64_t budget);

/* Raw uint8 samples idx[0..n) (any order, repeats allowed) into out (n,H,W,C),
 * from memory or from the file (one read per run of consecutive indices;
 * JPEG entries read together, then decoded with jc, which may be NULL).
 * Safe to call from any thread (HDF5 calls hold dataset_h5_lock). */
DlStatus dataset_read(const Dataset *d, const int64_t *idx, int n, uint8_t *out, JpegCodec *jc);

/* x (n,C,H,W) = bytes (n,H,W,C) / 255.0f; no normalisation. */
void dataset_convert(const Dataset *d, const uint8_t *bytes, int n, float *x);

/* With d->normalize: x (n,C,H,W) <- (x - mean[c]) / std[c]; else nothing. */
void dataset_normalize(const Dataset *d, float *x, int n);

/* Serialises HDF5 calls between threads (HDF5 serial is not thread-safe). */
void dataset_h5_lock(void);
void dataset_h5_unlock(void);

/* Frees everything; accepts a zeroed or failed Dataset. */
void dataset_close(Dataset *d);

/* x (n,C,H,W) = images idx[0..n) scaled to [0,1] (NCHW, from stored NHWC),
 * then normalised when d->normalize: dataset_read + dataset_convert +
 * dataset_normalize. A read error while streaming (the file changed or broke
 * under a run) prints the message and exits. */
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

/* dataset_write or dataset_write_jpeg (jpeg non-NULL: images unused) with
 * the root attribute presize = `presize` (dlprep folder/csv: "squash"), so
 * training can record it in the checkpoint and `dltrain predict` presizes new
 * images the same way. NULL or "" writes no attribute. */
DlStatus dataset_write_presized(const char *path, const uint8_t *images, uint8_t *const *jpeg, const size_t *jpeg_size,
                                int64_t n, int h, int w, int c, const int32_t *labels, const uint8_t *targets, int k,
                                char *const *class_names, const char *presize);

#endif
