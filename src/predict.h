/* predict.h: `dltrain predict`: image files in, classes (or tags) out.
 * A checkpoint's model runs in eval mode on JPEG files, each presized as
 * dlprep presized the training images (the checkpoint's input C,H,W and its
 * presize attribute: "squash", the only method today) and normalised as in
 * training; it prints the top-k classes with probabilities (single-label) or
 * the tags above a threshold (multi-label) per file, and writes a CSV.
 * Files that do not decode are named on stderr and skipped.
 * Not here: PNG and other formats (dlprep imports JPEG only, so a model never
 * saw anything else), EXIF orientation, several ranks. */
#ifndef DL_PREDICT_H
#define DL_PREDICT_H

#include <stdint.h>
#include <stdio.h>

#include "util.h"

typedef struct {
    const char *checkpoint;
    const char *csv;         /* NULL: no CSV */
    int topk;                /* single-label: classes printed per file (capped at the class count) */
    float threshold;         /* multi-label: a tag is predicted above this probability */
    int batch;               /* images per forward pass */
    int threads;             /* files decoded at once (OpenMP); the model's own threading is BLAS's */
} PredictOptions;

/* Predicts every file of paths[0..n_paths): a folder is walked recursively in
 * sorted order (its .jpg/.jpeg files; other files are named and skipped, as
 * dlprep does). *done and *skipped count the files. Returns DL_OK when at
 * least one file was predicted; DL_EFORMAT when every file was skipped;
 * DL_EIO/DL_EFORMAT for a bad checkpoint or an unwritable CSV (the CSV is
 * written to "<csv>.partial" and renamed, never torn). */
DlStatus predict_run(const PredictOptions *o, char *const *paths, int n_paths, int64_t *done, int64_t *skipped);

/* p (n, k) = softmax over each row of logits (n, k), or the sigmoid of each
 * logit when multi; computed in double, rounded to float. */
void predict_probs(float *p, const float *logits, int n, int k, int multi);

/* order (k) = the classes by falling probability p (k); ties: lower index first. */
void predict_rank(int *order, const float *p, int k);

/* f gets s as one CSV field (RFC 4180: quoted when it holds a comma, quote
 * or line break). */
void predict_csv_field(FILE *f, const char *s);

#endif
