/* trainer.h: the state of one `dltrain train` / `lr-find` run, shared by
 * the files of the trainer and by nothing else: train.c (the step loop),
 * train_setup.c (what a run starts from: resume, --init, the schedule and
 * the fine-tune phases, the run directory) and lr_find.c. Not a public API. */
#ifndef DL_TRAINER_H
#define DL_TRAINER_H

#include "train.h"

#include "checkpoint.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "gtree.h"
#include "model.h"
#include "optim.h"
#include "run/run.h"
#include "sampler.h"
#include "schedule.h"

/* Extra floats after grads and batch statistics in the reduced buffer. */
enum { RED_LOSS, RED_CORRECT, RED_STOP, RED_EXTRA };

/* What one thread needs to run groups: a model workspace (worker 0 is the
 * trainer's model; the others share its parameters and statistics) and
 * input buffers. */
typedef struct {
    Model *m;
    Model own;                 /* workers > 0: their workspace */
    float *x, *targets, *aug_tmp;   /* (gw * gs, input), (gw * gs, classes), (input) */
    int32_t *labels;           /* (gw * gs) */
    uint8_t *merges;           /* (gw) how its groups are summed (gtree_plan) */
    int first[GTREE_MAX_DEPTH], nroots;   /* the subtrees its run leaves, by first group (G-wide) */
} Worker;

typedef struct {
    const TrainConfig *c;
    const Dist *d;
    Dataset train, valid;
    Model m;
    int G, gs, local;          /* groups per batch, samples per group, groups per rank */
    size_t red_n;              /* n_params + n_bstat + RED_EXTRA */
    float *red;                /* (local * red_n) one buffer per local group, summed in a tree */
    Worker *wk;                /* (nworkers) threads, each running gw consecutive groups */
    int nworkers, gw;          /* nworkers * gw = local */
    GTree tree;                /* the fixed sum over the G groups (gtree.h) */
    DistTree xt;               /* G not a power of two: the exchange of the rank's subtrees */
    int *item_lo, *item_hi;    /* (ni + local) the rank's items to sum, G-wide: workers' subtrees, then single groups */
    int ni;
    int roots[GTREE_MAX_DEPTH], nroots;   /* the subtrees of the rank's block (first groups, G-wide) */
    float **item_buf;          /* (nworkers * (local + 1)) their buffers, per worker thread */
    int *item_out;             /* (nworkers * local) */
    uint64_t sent0;            /* dist_bytes_sent() when the epoch's profile began */
    float *reduce_scratch;     /* red_n/2 + 1 */
    OptConfig opt;
    OptimBuffers ob;           /* optimizer state: ob.nbuf buffers of n_params */
    Schedule sched;            /* the run's schedule; --fine-tune: phase 1's */
    Schedule sched2;           /* --fine-tune: phase 2 (unfrozen) */
    const Schedule *cur;       /* this epoch's schedule, counted from step sched_from */
    int64_t sched_from;
    int freeze_at;             /* layers [0, freeze_at) frozen by --freeze / phase 1 of --fine-tune */
    ParamSeg *seg;             /* trained (unfrozen) parameter tensors */
    float *seg_lr, *seg_mult;  /* (nseg) this step's lr; discriminative factor */
    int nseg;
    Sampler sampler;           /* the epoch order (and the next epoch's, for reading ahead) */
    int64_t n_used, steps;     /* training samples used (--limit), steps per epoch */
    int last_epoch;            /* no prefetch past the last step of epoch last_epoch - 1 */
    Loader *loader;            /* background reads of the next step's samples */
    const uint8_t *step_bytes; /* this step's samples of this rank (local * gs, NHWC) */
    const int64_t *step_idx;   /* and their indices */
    RunPosition pos;           /* where the run stands (checkpointed) */
    Normalization resume_norm; /* --resume or --init: the checkpoint's input normalisation */
    double prof_data, prof_reduce, prof_opt;   /* seconds this epoch: batch loading, allreduce, optimizer */
    float lr_override;         /* lr-find: this step's lr */
    int topk;                  /* extra metric columns (0: off) */
    double beta;
    char *model_text;          /* from the checkpoint when resuming without --model */
    AugmentConfig aug;
    RunDir run;                /* rank 0: the run directory (zeroed elsewhere: its calls do nothing) */
    float *valid_logits;       /* rank 0: (valid.n, k) the last validation's logits, for report.html */
} Trainer;

static inline int is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

/* train.c */
DlStatus trainer_step(Trainer *t, int epoch, int64_t step, double *loss, double *correct, int *stop, int *skipped);
void trainer_shuffle_epoch(Trainer *t, int epoch, int64_t n);

/* train_setup.c */
DlStatus trainer_check_config(const TrainConfig *c, const Dist *d);
void trainer_free(Trainer *t);
DlStatus trainer_open_data(Trainer *t);
DlStatus trainer_build(Trainer *t);
void trainer_set_segments(Trainer *t);
int trainer_stdout_is_terminal(void);
DlStatus trainer_open_run_dir(Trainer *t, int resuming);
DlStatus trainer_resume_info(Trainer *t, TrainConfig *eff, const char *path);
DlStatus trainer_resume_load(Trainer *t, const char *path, int64_t n);
DlStatus trainer_setup_schedule(Trainer *t, int64_t steps);
void trainer_enter_epoch(Trainer *t, int epoch, int64_t steps);
DlStatus trainer_init_from(Trainer *t, const char *path);

/* lr_find.c */
DlStatus trainer_lr_find(Trainer *t, int64_t steps, int64_t n);

#endif
