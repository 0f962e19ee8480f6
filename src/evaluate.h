/* evaluate.h: run a model over a whole dataset in eval mode (running
 * batch-norm statistics, no dropout, no augmentation) and collect the loss
 * and every metric of metrics.h. Used by validation during training (rank 0)
 * and by `dltrain eval`. */
#ifndef DL_EVALUATE_H
#define DL_EVALUATE_H

#include "data/dataset.h"
#include "checkpoint.h"
#include "metrics.h"
#include "model.h"

typedef struct {
    int topk;                /* top-k accuracy (1: same as accuracy) */
    double beta;             /* F-beta */
    float threshold;         /* multi-label decision threshold on the probability */
    float *logits;           /* (v->n, k) when not NULL: every sample's logits (report.html's top losses) */
    float *probs;            /* (v->n, k): each sample's probabilities (softmax, or sigmoid per
                              * tag) as `dltrain predict` computes them; NULL: not kept */
} EvalOptions;

typedef struct {
    int multi;
    SingleMetrics single;    /* single-label tasks (loss_sum filled) */
    MultiMetrics mlt;        /* multi-label tasks (loss_sum filled) */
} EvalResult;

/* Evaluates m (built for up to max_n samples per pass) on all of v. x holds
 * max_n inputs. Free r with evaluate_free. */
void evaluate_run(EvalResult *r, Model *m, const Dataset *v, const EvalOptions *o, float *x);
void evaluate_free(EvalResult *r);

/* Builds checkpoint ckpt's model (passes of up to `batch` samples) with its
 * weights, and opens dataset `data`, refusing one whose image size or
 * classes differ from the checkpoint's; the dataset gets the checkpoint's
 * input normalisation. Whatever happens, free m, ds and info with
 * model_free, dataset_close and checkpoint_info_free. */
DlStatus evaluate_open(Model *m, Dataset *ds, CheckpointInfo *info, const char *ckpt, const char *data, int batch);
/* `dltrain eval --predictions`: one CSV row per sample of v from probs (n,
 * k): single-label "index,label,class,probability" and topk-1 more
 * class,probability pairs (predict's columns, with the index and true class
 * for its file); multi-label "index,targets,tags" (true and predicted tags
 * above threshold). Written to "<path>.partial" and renamed. */
DlStatus evaluate_write_predictions(const char *path, const Dataset *v, const float *probs, int topk, float threshold);

double evaluate_loss(const EvalResult *r);       /* mean per sample (per tag for multi-label) */
double evaluate_accuracy(const EvalResult *r);   /* argmax accuracy; per-decision for multi-label */
double evaluate_fbeta(const EvalResult *r, double beta);   /* macro (single), samples (multi) */
double evaluate_topk(const EvalResult *r);

#endif
