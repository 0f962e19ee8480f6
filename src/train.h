/* train.h: the training loop of `dltrain train`: every rank runs the same
 * steps on its slice of each global batch; rank 0 validates, reports and
 * writes the run directory (run/run.h; checkpoints here).
 *
 * Reproducibility (DESIGN.md): the global batch B is cut into G groups of
 * B/G samples; rank r computes groups [r*G/np, (r+1)*G/np). Each group's
 * gradient (and batch-norm statistics, and loss) is summed with the others
 * in one fixed balanced binary tree: inside a rank by a stack of partial
 * sums, across ranks by dist_allreduce_sum, which follows the same tree.
 * The epoch permutation and dropout masks are keyed by (seed, epoch, sample),
 * so the weights are the same bytes for any np that divides G. */
#ifndef DL_TRAIN_H
#define DL_TRAIN_H

#include <stdint.h>

#include "dist.h"

typedef struct {
    const char *train_path, *valid_path, *model, *out_dir;
    const char *augment;     /* --augment list (data/augment.h), NULL: none */
    int epochs, batch, groups;
    float lr, momentum, weight_decay;
    int nesterov;
    const char *optimizer;   /* sgd (default), adam, adamw */
    float beta1, beta2, eps; /* adam, adamw */
    const char *schedule;    /* constant (default), step, cosine, onecycle */
    int warmup;              /* linear warmup steps (constant, step, cosine) */
    int step_epochs;         /* step schedule: epochs between drops */
    float gamma;             /* step schedule: factor per drop */
    int topk;                /* report top-k accuracy (0: off) */
    const char *best_metric; /* best.h5 by accuracy (default), valid_loss, fbeta, topk */
    float fbeta;             /* report F-beta (0: off; multi-label: 2 by default) */
    float threshold;         /* multi-label decision threshold (0.5) */
    float clip;              /* clip the gradient's global norm to this (0: off) */
    int skip_nonfinite;      /* skip a step whose loss or gradient is NaN/Inf instead of stopping */
    uint64_t seed;
    int64_t limit;           /* use only the first `limit` training samples (0: all) */
    int progress;            /* -1: bar on a terminal, plain lines otherwise; 0: none */
    int fast_allreduce;      /* MPI_Allreduce instead of the fixed tree: not bit-identical across np */
    int lr_find;             /* > 0: run the lr range test for this many steps instead of training */
    float find_start, find_end;
    int profile;             /* print where the time goes after each epoch */
    int check_every;         /* compare a digest of every rank's weights every N steps (0: never) */
    int threads;             /* BLAS threads per rank (set by the caller; reported only) */
    const char *resume;      /* checkpoint to continue from exactly, or NULL */
    int checkpoint_every;    /* also write last.h5 every N steps (0: only at epoch ends) */
    int stop_after;          /* stop (resumably) after this many epochs of the --epochs schedule (0: run all) */
    const char *init;        /* --init CKPT: start from its matching layers (transfer learning) */
    const char *reinit;      /* comma-separated layers to start fresh despite --init */
    const char *freeze;      /* layers up to and including this one do not train */
    int unfreeze;            /* train every layer (overrides --freeze) */
    int fine_tune[2];        /* E1,E2: E1 epochs frozen, then E2 unfrozen with discriminative lrs */
    float lr_mult;           /* fine-tune phase 2: first layer's lr = lr / lr_mult */
    int memory_budget;       /* MiB of decoded images to hold in memory; larger files are streamed (<= 0: no limit) */
    int normalize;           /* (x - mean) / std with the training file's per-channel statistics */
    int overwrite;           /* a new run may replace the run already in out_dir */
    int cam;                 /* report.html: Grad-CAM maps of this many validation images */
    struct { int seed, batch, groups; } given;   /* which of these the user set (they must agree with --resume) */
} TrainConfig;

DlStatus train_run(const TrainConfig *c, const Dist *d);

#endif
