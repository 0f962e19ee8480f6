/* metrics.c: confusion-matrix and per-tag counting, the figures derived from
 * them, and the per-eval CSV reports. Conventions are in metrics.h. */
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------- shared ---------- */

/* 0 for an empty denominator: sklearn's zero_division=0. */
static double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

double metrics_fbeta(int64_t tp, int64_t fp, int64_t fn, double beta) {
    double b2 = beta * beta, w = (1.0 + b2) * (double)tp;
    return tp > 0 ? w / (w + b2 * (double)fn + (double)fp) : 0.0;
}

/* ---------- single-label ---------- */

void single_metrics_init(SingleMetrics *m, int k, int topk) {
    DL_CHECK(k >= 1 && topk >= 1);
    *m = (SingleMetrics){ .k = k, .topk = topk < k ? topk : k };
    m->confusion = dl_calloc((size_t)k * (size_t)k, sizeof(int64_t));
}

void single_metrics_free(SingleMetrics *m) {
    dl_free(m->confusion);
    *m = (SingleMetrics){ 0 };
}

void single_metrics_reset(SingleMetrics *m) {
    memset(m->confusion, 0, (size_t)m->k * (size_t)m->k * sizeof(int64_t));
    m->n = m->topk_hits = 0;
    m->loss_sum = 0.0;
}

/* Argmax with ties to the lowest index; NaN never compares greater. */
static int argmax(const float *x, int k) {
    int best = 0;
    float v = -INFINITY;
    for (int c = 0; c < k; c++)
        if (x[c] > v) { v = x[c]; best = c; }
    return best;
}

/* Hit when fewer than topk other classes are strictly larger (in_top_k). */
static int in_top_k(const float *x, int k, int label, int topk) {
    float t = x[label];
    if (isnan(t)) return 0;
    int larger = 0;
    for (int c = 0; c < k; c++) larger += x[c] > t;
    return larger < topk;
}

void single_metrics_add(SingleMetrics *m, const float *logits, const int32_t *labels, int n) {
    int k = m->k;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * (size_t)k;
        int y = labels[i];
        DL_CHECK(y >= 0 && y < k);
        m->confusion[(size_t)y * (size_t)k + (size_t)argmax(x, k)]++;
        m->topk_hits += in_top_k(x, k, y, m->topk);
    }
    m->n += n;
}

void single_metrics_merge(SingleMetrics *into, const SingleMetrics *from) {
    DL_CHECK(into->k == from->k && into->topk == from->topk);
    for (size_t i = 0; i < (size_t)into->k * (size_t)into->k; i++) into->confusion[i] += from->confusion[i];
    into->n += from->n;
    into->topk_hits += from->topk_hits;
    into->loss_sum += from->loss_sum;
}

static int64_t single_trace(const SingleMetrics *m) {
    int64_t t = 0;
    for (int c = 0; c < m->k; c++) t += m->confusion[(size_t)c * (size_t)m->k + (size_t)c];
    return t;
}

/* tp, fp (predicted c, true other) and fn (true c, predicted other) of class c. */
void single_class_counts(const SingleMetrics *m, int c, int64_t *tp, int64_t *fp, int64_t *fn) {
    int64_t row = 0, col = 0;
    for (int j = 0; j < m->k; j++) {
        row += m->confusion[(size_t)c * (size_t)m->k + (size_t)j];
        col += m->confusion[(size_t)j * (size_t)m->k + (size_t)c];
    }
    *tp = m->confusion[(size_t)c * (size_t)m->k + (size_t)c];
    *fp = col - *tp;
    *fn = row - *tp;
}

double single_accuracy(const SingleMetrics *m) { return ratio((double)single_trace(m), (double)m->n); }
double single_topk_accuracy(const SingleMetrics *m) { return ratio((double)m->topk_hits, (double)m->n); }
double single_loss_mean(const SingleMetrics *m) { return ratio(m->loss_sum, (double)m->n); }

void single_precision_recall(const SingleMetrics *m, double *precision, double *recall) {
    for (int c = 0; c < m->k; c++) {
        int64_t tp, fp, fn;
        single_class_counts(m, c, &tp, &fp, &fn);
        precision[c] = ratio((double)tp, (double)(tp + fp));
        recall[c] = ratio((double)tp, (double)(tp + fn));
    }
}

double single_fbeta_class(const SingleMetrics *m, int c, double beta) {
    int64_t tp, fp, fn;
    single_class_counts(m, c, &tp, &fp, &fn);
    return metrics_fbeta(tp, fp, fn, beta);
}

double single_fbeta_macro(const SingleMetrics *m, double beta) {
    double s = 0.0;
    for (int c = 0; c < m->k; c++) s += single_fbeta_class(m, c, beta);
    return s / m->k;
}

/* ---------- multi-label ---------- */

void multi_metrics_init(MultiMetrics *m, int k, double beta, float threshold) {
    DL_CHECK(k >= 1 && beta >= 0.0 && threshold >= 0.0f && threshold <= 1.0f);
    *m = (MultiMetrics){ .k = k, .beta = beta, .threshold = threshold };
    m->tp = dl_calloc((size_t)k, sizeof(int64_t));
    m->fp = dl_calloc((size_t)k, sizeof(int64_t));
    m->fn = dl_calloc((size_t)k, sizeof(int64_t));
}

void multi_metrics_free(MultiMetrics *m) {
    dl_free(m->tp);
    dl_free(m->fp);
    dl_free(m->fn);
    *m = (MultiMetrics){ 0 };
}

void multi_metrics_reset(MultiMetrics *m) {
    size_t bytes = (size_t)m->k * sizeof(int64_t);
    memset(m->tp, 0, bytes);
    memset(m->fp, 0, bytes);
    memset(m->fn, 0, bytes);
    m->n = m->exact = 0;
    m->fbeta_samples_sum = m->precision_samples_sum = m->recall_samples_sum = m->loss_sum = 0.0;
}

/* Strictly above the threshold; NaN compares false, so it is never predicted. */
static int multi_predicted(float logit, float threshold) {
    return 1.0 / (1.0 + exp(-(double)logit)) > (double)threshold;
}

void multi_metrics_add(MultiMetrics *m, const float *logits, const uint8_t *targets, int n) {
    int k = m->k;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * (size_t)k;
        const uint8_t *t = targets + (size_t)i * (size_t)k;
        int64_t tp = 0, fp = 0, fn = 0;
        for (int j = 0; j < k; j++) {
            int p = multi_predicted(x[j], m->threshold), y = t[j] != 0;
            int hit = p && y, extra = p && !y, missed = !p && y;
            m->tp[j] += hit;    tp += hit;
            m->fp[j] += extra;  fp += extra;
            m->fn[j] += missed; fn += missed;
        }
        m->fbeta_samples_sum += metrics_fbeta(tp, fp, fn, m->beta);
        m->precision_samples_sum += ratio((double)tp, (double)(tp + fp));
        m->recall_samples_sum += ratio((double)tp, (double)(tp + fn));
        m->exact += fp + fn == 0;
    }
    m->n += n;
}

void multi_metrics_merge(MultiMetrics *into, const MultiMetrics *from) {
    DL_CHECK(into->k == from->k && into->beta == from->beta && into->threshold == from->threshold);
    for (int j = 0; j < into->k; j++) {
        into->tp[j] += from->tp[j];
        into->fp[j] += from->fp[j];
        into->fn[j] += from->fn[j];
    }
    into->n += from->n;
    into->exact += from->exact;
    into->fbeta_samples_sum += from->fbeta_samples_sum;
    into->precision_samples_sum += from->precision_samples_sum;
    into->recall_samples_sum += from->recall_samples_sum;
    into->loss_sum += from->loss_sum;
}

static void multi_totals(const MultiMetrics *m, int64_t *tp, int64_t *fp, int64_t *fn) {
    *tp = *fp = *fn = 0;
    for (int j = 0; j < m->k; j++) { *tp += m->tp[j]; *fp += m->fp[j]; *fn += m->fn[j]; }
}

double multi_fbeta_samples(const MultiMetrics *m) { return ratio(m->fbeta_samples_sum, (double)m->n); }

double multi_fbeta_micro(const MultiMetrics *m) {
    int64_t tp, fp, fn;
    multi_totals(m, &tp, &fp, &fn);
    return metrics_fbeta(tp, fp, fn, m->beta);
}

double multi_fbeta_tag(const MultiMetrics *m, int j) { return metrics_fbeta(m->tp[j], m->fp[j], m->fn[j], m->beta); }

double multi_fbeta_macro(const MultiMetrics *m) {
    double s = 0.0;
    for (int j = 0; j < m->k; j++) s += multi_fbeta_tag(m, j);
    return s / m->k;
}

double multi_accuracy(const MultiMetrics *m) {
    int64_t tp, fp, fn;
    multi_totals(m, &tp, &fp, &fn);
    double decisions = (double)m->n * m->k;
    return ratio(decisions - (double)(fp + fn), decisions);
}

double multi_exact_match(const MultiMetrics *m) { return ratio((double)m->exact, (double)m->n); }
double multi_loss_mean(const MultiMetrics *m) { return ratio(m->loss_sum, (double)m->n); }

/* ---------- CSV ---------- */

/* One field, quoted (RFC 4180) when it holds a separator, quote or newline. */
static void csv_field(FILE *f, const char *prefix, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { fprintf(f, "%s%s", prefix, s); return; }
    fprintf(f, "\"%s", prefix);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);                   /* a quote is doubled */
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Class i's name, or its index when there are no names. */
static void csv_name(FILE *f, const char *prefix, char *const *names, int i) {
    if (names && names[i]) csv_field(f, prefix, names[i]);
    else fprintf(f, "%s%d", prefix, i);
}

static DlStatus csv_open(FILE **f, char **tmp, const char *path) {
    size_t len = strlen(path) + sizeof ".partial";
    *tmp = dl_malloc(len);
    snprintf(*tmp, len, "%s.partial", path);
    if (!(*f = fopen(*tmp, "w"))) {
        DlStatus st = dl_fail(DL_EIO, "cannot write metrics '%s': %s (check that the run directory exists and is writable)",
                              *tmp, strerror(errno));
        dl_free(*tmp);
        *tmp = NULL;
        return st;
    }
    return DL_OK;
}

/* Closes f and renames tmp onto path; on any write error removes tmp. */
static DlStatus csv_close(FILE *f, char *tmp, const char *path) {
    DlStatus st = DL_OK;
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        st = dl_fail(DL_EIO, "cannot write metrics '%s': %s (disk full?)", tmp, strerror(errno));
    else if (rename(tmp, path) != 0)
        st = dl_fail(DL_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (st != DL_OK) remove(tmp);
    dl_free(tmp);
    return st;
}

/* A summary row for the single-label table: name, counts, three ratios, and
 * the k confusion columns left empty. */
static void single_summary_row(FILE *f, const char *name, const SingleMetrics *m, double p, double r, double fb) {
    fprintf(f, "%s,%lld,%lld,%.6f,%.6f,%.6f", name, (long long)m->n, (long long)m->n, p, r, fb);
    for (int j = 0; j < m->k; j++) fputc(',', f);
    fputc('\n', f);
}

DlStatus metrics_write_single_csv(const char *path, const SingleMetrics *m, char *const *class_names, double beta) {
    FILE *f;
    char *tmp;
    DlStatus st = csv_open(&f, &tmp, path);
    if (st != DL_OK) return st;
    int k = m->k;
    fprintf(f, "class,support,predicted,precision,recall,f%g", beta);
    for (int j = 0; j < k; j++) { fputc(',', f); csv_name(f, "pred_", class_names, j); }
    fputc('\n', f);
    double psum = 0.0, rsum = 0.0;
    for (int c = 0; c < k; c++) {
        int64_t tp, fp, fn;
        single_class_counts(m, c, &tp, &fp, &fn);
        double p = ratio((double)tp, (double)(tp + fp)), r = ratio((double)tp, (double)(tp + fn));
        psum += p;
        rsum += r;
        csv_name(f, "", class_names, c);
        fprintf(f, ",%lld,%lld,%.6f,%.6f,%.6f", (long long)(tp + fn), (long long)(tp + fp), p, r,
                metrics_fbeta(tp, fp, fn, beta));
        for (int j = 0; j < k; j++) fprintf(f, ",%lld", (long long)m->confusion[(size_t)c * (size_t)k + (size_t)j]);
        fputc('\n', f);
    }
    double acc = single_accuracy(m), topk = single_topk_accuracy(m);
    single_summary_row(f, "accuracy", m, acc, acc, acc);
    if (m->topk > 1) {
        char name[32];
        snprintf(name, sizeof name, "top%d_accuracy", m->topk);
        single_summary_row(f, name, m, topk, topk, topk);
    }
    single_summary_row(f, "macro_avg", m, psum / k, rsum / k, single_fbeta_macro(m, beta));
    return csv_close(f, tmp, path);
}

static void multi_row(FILE *f, int64_t tp, int64_t fp, int64_t fn, double p, double r, double fb, double acc) {
    fprintf(f, ",%lld,%lld,%lld,%lld,%lld,%.6f,%.6f,%.6f,%.6f\n", (long long)(tp + fn), (long long)(tp + fp),
            (long long)tp, (long long)fp, (long long)fn, p, r, fb, acc);
}

DlStatus metrics_write_multi_csv(const char *path, const MultiMetrics *m, char *const *class_names) {
    FILE *f;
    char *tmp;
    DlStatus st = csv_open(&f, &tmp, path);
    if (st != DL_OK) return st;
    int k = m->k;
    double n = (double)m->n, psum = 0.0, rsum = 0.0, fsum = 0.0, asum = 0.0;
    fprintf(f, "tag,support,predicted,tp,fp,fn,precision,recall,f%g,accuracy\n", m->beta);
    for (int j = 0; j < k; j++) {
        int64_t tp = m->tp[j], fp = m->fp[j], fn = m->fn[j];
        double p = ratio((double)tp, (double)(tp + fp)), r = ratio((double)tp, (double)(tp + fn));
        double fb = multi_fbeta_tag(m, j), acc = ratio(n - (double)(fp + fn), n);
        psum += p; rsum += r; fsum += fb; asum += acc;
        csv_name(f, "", class_names, j);
        multi_row(f, tp, fp, fn, p, r, fb, acc);
    }
    int64_t tp, fp, fn;
    multi_totals(m, &tp, &fp, &fn);
    fputs("micro_avg", f);
    multi_row(f, tp, fp, fn, ratio((double)tp, (double)(tp + fp)), ratio((double)tp, (double)(tp + fn)),
              multi_fbeta_micro(m), multi_accuracy(m));
    fprintf(f, "macro_avg,%lld,%lld,,,,%.6f,%.6f,%.6f,%.6f\n", (long long)(tp + fn), (long long)(tp + fp),
            psum / k, rsum / k, fsum / k, asum / k);
    fprintf(f, "samples_avg,%lld,%lld,,,,%.6f,%.6f,%.6f,\n", (long long)(tp + fn), (long long)(tp + fp),
            ratio(m->precision_samples_sum, n), ratio(m->recall_samples_sum, n), multi_fbeta_samples(m));
    fprintf(f, "exact_match,%lld,,,,,,,,%.6f\n", (long long)m->n, multi_exact_match(m));
    return csv_close(f, tmp, path);
}
