/* run/report.h: report.html, one self-contained page (inline SVG, CSS and
 * data-URI JPEG thumbnails; no script, no external file) drawn from what a
 * run knows: metrics.csv (the curves), the lr of each epoch (events.jsonl),
 * lr_find.csv when present, and a validation pass (confusion matrix heat
 * map, per-class precision / recall / F-beta, the top losses, Grad-CAM
 * overlays). The numbers are also embedded as JSON in
 * <script type="application/json" id="report-data"> for machines and tests.
 * Written atomically and durably (run_write_file). */
#ifndef DL_REPORT_H
#define DL_REPORT_H

#include "data/dataset.h"
#include "evaluate.h"
#include "model.h"

typedef struct {
    const char *dir;           /* writes dir/report.html; reads dir/lr_find.csv if there */
    const char *title;
    const char *metrics_csv;   /* the curves (NULL or header only: none) */
    const char *events;        /* events.jsonl text: each epoch's lr (NULL: none) */
    const Dataset *valid;      /* NULL: curves only */
    const EvalResult *eval;
    const float *logits;       /* (valid->n, k) */
    double beta;
    float threshold;
    Model *model;              /* Grad-CAM (NULL: none); its buffers are scratch */
    float *x;                  /* (model->max_n, input) */
    int cam;                   /* images with a class activation map */
    int top;                   /* top-loss thumbnails (0: 16) */
} ReportInput;

DlStatus report_write(const ReportInput *in);

/* Grad-CAM (Selvaraju et al. 2017) of the last convolution of m for
 * samples x (n <= max_n, input), each for class cls[i]: the target is the
 * conv's output after the batch norm and activations that follow it with
 * the same shape (what Keras calls the last conv layer's output). For each
 * sample, alpha_k = mean over positions of d logit[cls] / d A_k and
 * map = relu(sum_k alpha_k A_k), (P, Q) floats into maps (n, P*Q).
 * Returns the target layer's index (its name: m->spec[i].name) and P, Q,
 * or -1 when the model has no convolution. Eval mode; parameters and
 * running statistics are untouched. */
int report_gradcam(Model *m, const float *x, int n, const int *cls, float *maps, int *P, int *Q);

/* The layer report_gradcam maps (-1: none) and its output size P x Q. */
int report_cam_target(const Model *m, int *P, int *Q);

#endif
