/* checkpoint.h: the checkpoint file of DESIGN.md, in HDF5.
 * Root attributes: format_version, dltrain_version, model (the model text),
 * model_source, input (C,H,W), class_names, epoch (completed epochs), step
 * (optimizer steps so far), seed, batch, groups.
 * Groups: /params/<layer>/<tensor> (PyTorch layouts and names),
 * /state/<layer>/<tensor> (batch-norm running statistics),
 * /optim/momentum/<layer>/<tensor> (SGD momentum buffers).
 * Written to "<path>.partial", flushed, closed and renamed, so a crash never
 * leaves a torn file at `path`. */
#ifndef DL_CHECKPOINT_H
#define DL_CHECKPOINT_H

#include <stdint.h>

#include "model.h"

#define CHECKPOINT_FORMAT_VERSION 1

typedef struct {
    int epoch;                 /* completed epochs */
    int64_t step;              /* optimizer steps taken */
    uint64_t seed;
    int batch, groups;
    int k;
    char **class_names;        /* (k) */
    const float *momentum;     /* (n_params) or NULL */
} CheckpointMeta;

DlStatus checkpoint_save(const char *path, const Model *m, const CheckpointMeta *meta);

/* What a checkpoint says before a model is built from it. */
typedef struct {
    char *model_text, *model_source;
    Shape input;
    int epoch;
    int64_t step;
    uint64_t seed;
    int batch, groups;
    int k;
    char **class_names;
} CheckpointInfo;

/* Reads the attributes. On failure *info is zeroed. Free with checkpoint_info_free. */
DlStatus checkpoint_info(CheckpointInfo *info, const char *path);
void checkpoint_info_free(CheckpointInfo *info);

/* Loads every parameter and running statistic of m from the file; every
 * layer must be there with the same shapes (else DL_EFORMAT naming it).
 * momentum (n_params) is filled when non-NULL and present. */
DlStatus checkpoint_load(const char *path, Model *m, float *momentum);

#endif
