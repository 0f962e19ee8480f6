/* checkpoint.h: the checkpoint file of DESIGN.md, in HDF5.
 * Root attributes: format_version, dltrain_version, model (the model text),
 * model_source, input (C,H,W), class_names, task ("single"/"multi"), presize
 * (how dlprep sized the training images, for predict), and the run position (RunPosition
 * below: epoch, step, epoch_step, epoch_loss_sum, seed, batch, groups,
 * train_samples, best_value, metrics_csv), everything an exact resume
 * needs: every random choice is keyed by (seed, epoch, sample), so the
 * sampler and RNG state is the position itself.
 * Groups: /params/<layer>/<tensor> (PyTorch layouts and names),
 * /state/<layer>/<tensor> (batch-norm running statistics),
 * /optim/<buffer>/<layer>/<tensor> with root attribute optimizer: SGD's
 * "momentum", Adam's and AdamW's "exp_avg" and "exp_avg_sq" (PyTorch's names).
 * Written to "<path>.partial", flushed, closed and renamed, so a crash never
 * leaves a torn file at `path`. */
#ifndef DL_CHECKPOINT_H
#define DL_CHECKPOINT_H

#include <stdint.h>

#include "model.h"

#define CHECKPOINT_FORMAT_VERSION 1

typedef struct {
    int epoch;                 /* completed epochs */
    int64_t step;              /* optimizer steps taken in all (the schedule position) */
    int64_t epoch_step;        /* steps already done in epoch `epoch` (0 at an epoch boundary) */
    double epoch_loss_sum;     /* sum of those steps' losses, so the epoch's train_loss continues exactly */
    int64_t epoch_skipped;     /* --skip-nonfinite: steps of this epoch skipped (not in the sum) */
    uint64_t seed;
    int batch, groups;
    int64_t train_samples;     /* training-set size: resuming on other data is refused */
    double best_value;         /* best --best-metric value so far, higher is better (valid_loss negated); -inf: none */
    char *metrics_csv;         /* metrics.csv so far (owned by whoever filled it) */
} RunPosition;

/* --normalize: inputs were (x - mean) / std per channel (attributes
 * normalize_mean, normalize_std); eval and resume apply the same. */
typedef struct {
    int on, channels;
    float mean[3], std[3];
} Normalization;

/* Optimizer state: nbuf buffers of n_params floats, one after the other. */
typedef struct {
    const char *kind;          /* "sgd", "adam", "adamw" */
    int nbuf;
    const char *names[2];
    float *state;              /* (nbuf * n_params); NULL: none saved / not wanted */
} OptimBuffers;

typedef struct {
    RunPosition pos;
    int k;
    char **class_names;        /* (k) */
    OptimBuffers optim;
    Normalization norm;
    int multi;                 /* the task: attribute task, "multi" (sigmoid per tag) or "single" (softmax) */
    const char *presize;       /* the training file's presize attribute ("squash"): written as
                                * attribute presize so predict sizes new images the same way; NULL/"": none */
} CheckpointMeta;

DlStatus checkpoint_save(const char *path, const Model *m, const CheckpointMeta *meta);

/* What a checkpoint says before a model is built from it. */
typedef struct {
    char *model_text, *model_source;
    Shape input;
    RunPosition pos;           /* pos.metrics_csv owned by the info */
    Normalization norm;        /* the input normalisation the model was trained with */
    int multi;                 /* attribute task == "multi" (absent: single-label, as before it existed) */
    char presize[16];          /* how dlprep sized the training images ("squash"); "": not recorded */
    int k;
    char **class_names;
} CheckpointInfo;

/* --model NAME|FILE|CKPT: a zoo name, a model text file, or a checkpoint
 * (an HDF5 file: its model text, e.g. from `dltrain import`; then
 * *from_checkpoint is 1 if not NULL). *text is the caller's (dl_free). */
DlStatus model_text_any(char **text, const char *name_or_file, int *from_checkpoint);

/* Reads the attributes. On failure *info is zeroed. Free with checkpoint_info_free. */
DlStatus checkpoint_info(CheckpointInfo *info, const char *path);
void checkpoint_info_free(CheckpointInfo *info);

/* Loads every parameter and running statistic of m from the file; every
 * layer must be there with the same shapes (else DL_EFORMAT naming it).
 * With o (and o->state), also the optimizer state, which must be of the
 * same kind (else DL_EFORMAT). */
DlStatus checkpoint_load(const char *path, Model *m, const OptimBuffers *o);

/* --init (transfer learning): what happened to each layer of the model. */
typedef enum {
    INIT_NONE,     /* no parameters or statistics */
    INIT_LOADED,   /* same name and shapes in the checkpoint: loaded */
    INIT_NEW,      /* no layer of that name in the checkpoint: kept its fresh initialisation */
    INIT_SHAPE,    /* same name, other shapes (e.g. another class count): fresh initialisation */
    INIT_HEAD,     /* asked to start fresh (the head of a new task): fresh initialisation */
} InitOutcome;

/* Loads parameters and running statistics of every layer of m that the
 * checkpoint holds under the same name with the same shapes, except layers
 * with reinit[i] set (reinit may be NULL); the rest keep what m holds.
 * outcome (n_layers) says what happened. DL_EFORMAT if no layer matched. */
DlStatus checkpoint_load_matching(const char *path, Model *m, const int *reinit, InitOutcome *outcome);

#endif
