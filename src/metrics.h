/* metrics.h: classification metrics as pure functions over flat arrays.
 * Single-label tasks accumulate a confusion matrix from logits; multi-label
 * (sigmoid) tasks accumulate per-tag counts and the per-sample F-beta. Both
 * keep only counts and sums, so partial results from ranks or threads merge
 * exactly (the integer counts) and every figure is derived at the end.
 * Not here: MPI (gather the structs with dist.c, then *_merge), the loss
 * (callers add it to loss_sum), printing. The only I/O is the CSV writers.
 *
 * Conventions (sklearn with zero_division=0, fastai's fbeta; no NaN, ever):
 *  - precision of a class never predicted is 0; recall of a class with no
 *    true samples is 0; F-beta is 0 when precision + recall == 0, i.e. when
 *    tp == 0. F-beta = (1+b^2) P R / (b^2 P + R), computed from the counts as
 *    (1+b^2) tp / ((1+b^2) tp + b^2 fn + fp).
 *  - macro averages take the per-class (per-tag) F-beta and average it over
 *    all k classes, absent ones included as 0: sklearn's
 *    fbeta_score(average='macro', labels=range(k), zero_division=0).
 *  - every ratio over an empty set (n == 0) is 0.
 *  - single-label prediction is the argmax; ties go to the lowest index and a
 *    NaN logit never wins (an all-NaN row predicts class 0).
 *  - top-k: the true class is a hit when fewer than topk other classes have a
 *    strictly larger logit (TensorFlow's in_top_k), so classes tied at the
 *    boundary all count as in the top k. Because of that, top-1 can exceed
 *    argmax accuracy when logits tie exactly, and a constant output scores
 *    1.0 at every k. A NaN true logit is never a hit. topk is clamped to k.
 *  - multi-label: tag j is predicted when sigmoid(logit) > threshold
 *    (strictly, as fastai's accuracy_multi/fbeta); a NaN logit is never
 *    predicted. The samples average scores a sample with no true and no
 *    predicted tags as 0 (sklearn average='samples', zero_division=0).
 *  - multi_accuracy is per-tag accuracy over all n*k decisions (fastai's
 *    accuracy_multi); the share of samples with every tag right is
 *    multi_exact_match (sklearn's accuracy_score on multi-label input).
 * The double sums (loss, per-sample scores) depend on the order samples are
 * added and merged in; the integer counts do not. */
#ifndef DL_METRICS_H
#define DL_METRICS_H

#include <stdint.h>

#include "util.h"

/* Single-label: accumulate a confusion matrix from logits. */
typedef struct {
    int k;                 /* classes */
    int topk;              /* k for top-k accuracy, in [1, k] */
    int64_t n;             /* samples seen */
    int64_t *confusion;    /* (k, k): row = true class, column = predicted (argmax) */
    int64_t topk_hits;
    double loss_sum;       /* caller may add the loss (sum over samples) */
} SingleMetrics;

/* Allocates the confusion matrix (zeroed); k >= 1, topk >= 1 (clamped to k).
 * single_metrics_free releases it and accepts a zeroed struct. */
void single_metrics_init(SingleMetrics *m, int k, int topk);
void single_metrics_free(SingleMetrics *m);
void single_metrics_reset(SingleMetrics *m);   /* zero the counts, keep k and topk */
/* labels in [0, k) (the dataset reader checks them at open). */
void single_metrics_add(SingleMetrics *m, const float *logits /* (n,k) */, const int32_t *labels, int n);
/* into += from; both must have the same k and topk. */
void single_metrics_merge(SingleMetrics *into, const SingleMetrics *from);

double single_accuracy(const SingleMetrics *m);
double single_topk_accuracy(const SingleMetrics *m);
double single_loss_mean(const SingleMetrics *m);
void single_precision_recall(const SingleMetrics *m, double *precision /*k*/, double *recall /*k*/);
/* Class c's true positives, false positives and false negatives. */
void single_class_counts(const SingleMetrics *m, int c, int64_t *tp, int64_t *fp, int64_t *fn);
double single_fbeta_class(const SingleMetrics *m, int c, double beta);
double single_fbeta_macro(const SingleMetrics *m, double beta);   /* macro average over classes */

/* Multi-label (sigmoid outputs), Planet/fastai convention. */
typedef struct {
    int k;
    float threshold;       /* on the probability sigmoid(logit); 0.5 is the usual */
    int64_t n;
    double fbeta_samples_sum;   /* sum over samples of per-sample F-beta (for the samples average) */
    double precision_samples_sum, recall_samples_sum;   /* same, for precision and recall */
    double beta;
    int64_t *tp, *fp, *fn;      /* (k) per tag counts */
    int64_t exact;              /* samples with every tag right */
    double loss_sum;            /* caller may add the loss (sum over samples) */
} MultiMetrics;

/* Allocates the per-tag counts (zeroed); k >= 1, beta >= 0, threshold in
 * [0, 1]. multi_metrics_free accepts a zeroed struct. */
void multi_metrics_init(MultiMetrics *m, int k, double beta, float threshold);
void multi_metrics_free(MultiMetrics *m);
void multi_metrics_reset(MultiMetrics *m);     /* zero the counts, keep k, beta, threshold */
void multi_metrics_add(MultiMetrics *m, const float *logits /* (n,k) */, const uint8_t *targets /* (n,k) 0/1 */, int n);
/* into += from; both must have the same k, beta and threshold. */
void multi_metrics_merge(MultiMetrics *into, const MultiMetrics *from);

double multi_fbeta_samples(const MultiMetrics *m);  /* mean over samples (default report) */
double multi_fbeta_micro(const MultiMetrics *m);    /* from tp, fp, fn summed over tags */
double multi_fbeta_macro(const MultiMetrics *m);    /* mean over tags of the per-tag F-beta */
double multi_fbeta_tag(const MultiMetrics *m, int j);
double multi_accuracy(const MultiMetrics *m);       /* right decisions / (n*k) */
double multi_exact_match(const MultiMetrics *m);    /* exact / n */
double multi_loss_mean(const MultiMetrics *m);

/* F-beta from counts with the conventions above (0 when tp == 0). */
double metrics_fbeta(int64_t tp, int64_t fp, int64_t fn, double beta);

/* CSV writers, one file per eval: written to path.partial, then renamed, so
 * a reader never sees half a file. class_names may be NULL (classes are then
 * named by index); names with a comma, quote or newline are quoted (RFC 4180).
 * Return DL_OK or DL_EIO with a message naming the path.
 *
 * single: header class,support,predicted,precision,recall,f<beta>,pred_<name>...
 *   one row per class (support = true samples, predicted = times predicted,
 *   then its confusion row), then rows "accuracy" (accuracy in the
 *   precision, recall and f columns: the micro average), "top<k>_accuracy"
 *   when topk > 1 (likewise), "macro_avg"; summary rows leave the confusion
 *   columns empty. Ratios are printed with %.6f.
 * multi: header tag,support,predicted,tp,fp,fn,precision,recall,f<beta>,accuracy
 *   one row per tag (accuracy = that tag's right decisions / n), then
 *   "micro_avg" (summed counts), "macro_avg" (means over tags; tp/fp/fn
 *   empty), "samples_avg" (means over samples; tp/fp/fn/accuracy empty);
 *   these three give the total support and predicted, and "exact_match"
 *   (support = n, only the accuracy column). */
DlStatus metrics_write_single_csv(const char *path, const SingleMetrics *m, char *const *class_names, double beta);
DlStatus metrics_write_multi_csv(const char *path, const MultiMetrics *m, char *const *class_names);

#endif
