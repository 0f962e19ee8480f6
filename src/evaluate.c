/* evaluate.c: see evaluate.h. */
#include "evaluate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "layers/loss.h"
#include "predict.h"

DlStatus evaluate_open(Model *m, Dataset *ds, CheckpointInfo *info, const char *ckpt, const char *data, int batch) {
    *m = (Model){ 0 };
    *ds = (Dataset){ 0 };
    DlStatus st = checkpoint_info(info, ckpt);
    if (st != DL_OK) return st;
    st = dataset_open(ds, data);
    if (st == DL_OK && (ds->c != info->input.c || ds->h != info->input.h || ds->w != info->input.w))
        st = dl_fail(DL_EFORMAT, "'%s' has %dx%dx%d images but checkpoint '%s' expects %dx%dx%d (make it with the same dlprep --size/--channels)",
                     data, ds->c, ds->h, ds->w, ckpt, info->input.c, info->input.h, info->input.w);
    else if (st == DL_OK && ds->k != info->k)
        st = dl_fail(DL_EFORMAT, "'%s' has %d classes but checkpoint '%s' was trained on %d", data, ds->k, ckpt, info->k);
    for (int i = 0; st == DL_OK && i < ds->k; i++)
        if (strcmp(ds->class_names[i], info->class_names[i]) != 0)
            st = dl_fail(DL_EFORMAT, "class %d is '%s' in '%s' but '%s' in checkpoint '%s'", i, ds->class_names[i], data,
                         info->class_names[i], ckpt);
    if (st == DL_OK && info->norm.on) {   /* the inputs as the model saw them in training */
        ds->normalize = 1;
        memcpy(ds->mean, info->norm.mean, sizeof ds->mean);
        memcpy(ds->std, info->norm.std, sizeof ds->std);
    }
    if (st == DL_OK) st = model_init(m, info->model_text, info->model_source, info->input, info->k, batch);
    if (st == DL_OK) st = checkpoint_load(ckpt, m, NULL);
    return st;
}

void evaluate_run(EvalResult *r, Model *m, const Dataset *v, const EvalOptions *o, float *x) {
    *r = (EvalResult){ .multi = v->multi };
    int bs = m->max_n, k = m->classes;
    if (r->multi) multi_metrics_init(&r->mlt, k, o->beta, o->threshold);
    else single_metrics_init(&r->single, k, o->topk > 0 ? o->topk : 1);
    int64_t *idx = dl_malloc(sizeof(int64_t) * (size_t)bs);
    int32_t *labels = dl_malloc(sizeof(int32_t) * (size_t)bs);
    float *targets = dl_malloc(sizeof(float) * (size_t)bs * k);
    for (int64_t i = 0; i < v->n; i += bs) {
        int n = (int)(v->n - i < bs ? v->n - i : bs);
        for (int j = 0; j < n; j++) idx[j] = i + j;
        dataset_images(v, idx, n, x);
        ForwardArgs a = { .training = 0, .sample = idx };
        const float *logits = model_forward(m, x, n, &a);
        if (o->logits) memcpy(o->logits + (size_t)i * k, logits, sizeof(float) * (size_t)n * k);
        if (o->probs) predict_probs(o->probs + (size_t)i * k, logits, n, k, r->multi);
        if (r->multi) {
            const uint8_t *t8 = v->targets + (size_t)i * k;
            for (size_t e = 0; e < (size_t)n * k; e++) targets[e] = t8[e] ? 1.0f : 0.0f;
            r->mlt.loss_sum += sigmoid_bce(m->dlogits, logits, targets, n, k, 1.0f) / k;
            multi_metrics_add(&r->mlt, logits, t8, n);
        } else {
            for (int j = 0; j < n; j++) labels[j] = v->labels[i + j];
            r->single.loss_sum += softmax_xent(m->dlogits, logits, labels, n, k, 1.0f, NULL);
            single_metrics_add(&r->single, logits, labels, n);
        }
    }
    dl_free(idx);
    dl_free(labels);
    dl_free(targets);
}

void evaluate_free(EvalResult *r) {
    single_metrics_free(&r->single);
    multi_metrics_free(&r->mlt);
}

double evaluate_loss(const EvalResult *r) {
    return r->multi ? multi_loss_mean(&r->mlt) : single_loss_mean(&r->single);
}

double evaluate_accuracy(const EvalResult *r) {
    return r->multi ? multi_accuracy(&r->mlt) : single_accuracy(&r->single);
}

double evaluate_fbeta(const EvalResult *r, double beta) {
    return r->multi ? multi_fbeta_samples(&r->mlt) : single_fbeta_macro(&r->single, beta);
}

double evaluate_topk(const EvalResult *r) {
    return r->multi ? multi_exact_match(&r->mlt) : single_topk_accuracy(&r->single);
}

static void tag_list(FILE *f, char *const *names, int k, const float *p, float threshold, const uint8_t *t) {
    for (int c = 0, any = 0; c < k; c++)
        if (t ? t[c] != 0 : p[c] > threshold) { fprintf(f, "%s%s", any ? " " : "", names[c]); any = 1; }
}

DlStatus evaluate_write_predictions(const char *path, const Dataset *v, const float *probs, int topk, float threshold) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial", path) >= (int)sizeof tmp) return dl_fail(DL_EIO, "CSV path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return dl_fail(DL_EIO, "cannot write '%s': %s (check the folder)", tmp, strerror(errno));
    const int k = v->k, K = topk < k ? topk : k;
    int *order = dl_malloc(sizeof(int) * (size_t)k);
    if (v->multi) fprintf(f, "index,targets,tags\n");
    else {
        fprintf(f, "index,label,class,probability");
        for (int j = 2; j <= K; j++) fprintf(f, ",class_%d,probability_%d", j, j);
        fputc('\n', f);
    }
    for (int64_t i = 0; i < v->n; i++) {
        const float *p = probs + (size_t)i * k;
        fprintf(f, "%lld,", (long long)i);
        if (v->multi) {
            tag_list(f, v->class_names, k, p, threshold, v->targets + (size_t)i * k);
            fputc(',', f);
            tag_list(f, v->class_names, k, p, threshold, NULL);
        } else {
            predict_csv_field(f, v->class_names[v->labels[i]]);
            predict_rank(order, p, k);
            for (int j = 0; j < K; j++) {
                fputc(',', f);
                predict_csv_field(f, v->class_names[order[j]]);
                fprintf(f, ",%.8f", p[order[j]]);
            }
        }
        fputc('\n', f);
    }
    dl_free(order);
    int bad = fflush(f) != 0 || ferror(f);
    bad = fclose(f) != 0 || bad;
    if (bad) { remove(tmp); return dl_fail(DL_EIO, "cannot write '%s' (disk full?)", tmp); }
    if (rename(tmp, path) != 0) {
        DlStatus st = dl_fail(DL_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        remove(tmp);
        return st;
    }
    return DL_OK;
}
