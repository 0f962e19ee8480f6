/* run/report.c: report.html (see report.h). One pass builds the page and
 * its JSON block side by side; the page has no script and loads nothing
 * (a Content-Security-Policy of default-src 'none' says so to the browser). */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cam.h"
#include "run.h"
#include "svg.h"

/* metrics.csv parsed: column names and rows of numbers (text kept for the JSON). */
typedef struct {
    int ncol, nrow;
    char **col;                /* (ncol) */
    char ***text;              /* (nrow, ncol) */
    double *v;                 /* (nrow * ncol) */
} Table;

static char **split(const char *line, size_t len, int *n) {
    char **out = NULL;
    *n = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && line[j] != ',') j++;
        out = dl_realloc(out, sizeof(char *) * (size_t)(*n + 1));
        out[*n] = dl_malloc(j - i + 1);
        memcpy(out[*n], line + i, j - i);
        out[(*n)++][j - i] = '\0';
        i = j + 1;
    }
    return out;
}

static void table_parse(Table *t, const char *csv) {
    *t = (Table){ 0 };
    if (!csv) return;
    const char *p = csv;
    while (*p) {
        size_t len = strcspn(p, "\n");
        if (len > 0 && p[len - 1] == '\r') len--;
        int n;
        char **f = split(p, len, &n);
        if (!t->col) { t->col = f; t->ncol = n; }
        else if (n == t->ncol) {
            t->text = dl_realloc(t->text, sizeof(char **) * (size_t)(t->nrow + 1));
            t->v = dl_realloc(t->v, sizeof(double) * (size_t)(t->nrow + 1) * t->ncol);
            t->text[t->nrow] = f;
            for (int c = 0; c < n; c++) t->v[(size_t)t->nrow * n + c] = strtod(f[c], NULL);
            t->nrow++;
        } else {   /* a torn or foreign line: skipped */
            for (int c = 0; c < n; c++) dl_free(f[c]);
            dl_free(f);
        }
        p += strcspn(p, "\n");
        if (*p) p++;
    }
}

static void table_free(Table *t) {
    for (int c = 0; c < t->ncol; c++) dl_free(t->col[c]);
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) dl_free(t->text[r][c]);
        dl_free(t->text[r]);
    }
    dl_free(t->col); dl_free(t->text); dl_free(t->v);
}

static int table_find(const Table *t, const char *name) {
    for (int c = 0; c < t->ncol; c++) if (!strcmp(t->col[c], name)) return c;
    return -1;
}

/* Each epoch's lr from events.jsonl's epoch events (the last one per epoch). */
static double lr_of(const char *events, int epoch) {
    double lr = NAN;
    for (const char *p = events; p && (p = strstr(p, "{\"event\":\"epoch\"")); p++) {
        const char *e = strstr(p, "\"epoch\":"), *l = strstr(p, "\"lr\":"), *end = strchr(p, '\n');
        if (e && l && (!end || (e < end && l < end)) && atoi(e + 8) == epoch) lr = strtod(l + 5, NULL);
    }
    return lr;
}

/* A JSON string safe inside <script>: '<' as \u003c. */
static void json_str(Str *h, const char *s) {
    size_t cap = 6 * strlen(s ? s : "") + 8;
    char *buf = dl_malloc(cap);
    run_json_str(buf, cap, s);
    for (const char *p = buf; *p;) {
        size_t run = strcspn(p, "<");
        str_put(h, p, run);
        p += run;
        if (*p == '<') { str_add(h, "\\u003c"); p++; }
    }
    dl_free(buf);
}

static const char *num(char *b, double v) {
    if (isfinite(v)) snprintf(b, 32, "%.6f", v);
    else snprintf(b, 32, "null");
    return b;
}

static void curves(Str *h, Str *j, const ReportInput *in) {
    Table t;
    table_parse(&t, in->metrics_csv);
    int ce = table_find(&t, "epoch");
    str_add(j, "\"epochs\":[");
    for (int r = 0; r < t.nrow; r++) {
        str_add(j, "%s{", r ? "," : "");
        for (int c = 0; c < t.ncol; c++) {
            json_str(j, t.col[c]);
            int finite = t.text[r][c][0] && isfinite(t.v[(size_t)r * t.ncol + c]);   /* "nan" in the CSV: null */
            str_add(j, ":%s,", finite ? t.text[r][c] : "null");
        }
        char b[32];
        str_add(j, "\"lr\":%s}", num(b, lr_of(in->events, ce >= 0 ? (int)t.v[(size_t)r * t.ncol + ce] : r + 1)));
    }
    str_add(j, "],");
    if (ce < 0) { table_free(&t); return; }   /* not a metrics.csv */
    double *x = dl_malloc(sizeof(double) * (t.nrow + 1)), *ys = dl_malloc(sizeof(double) * (t.nrow + 1) * (t.ncol + 1));
    SvgSeries loss[2], met[8];
    int nl = 0, nm = 0;
    for (int r = 0; r < t.nrow; r++) x[r] = t.v[(size_t)r * t.ncol + ce];
    for (int c = 0; c < t.ncol; c++) {
        if (c == ce || !strcmp(t.col[c], "time") || !strcmp(t.col[c], "images_per_s")) continue;
        double *y = ys + (size_t)c * t.nrow;
        for (int r = 0; r < t.nrow; r++) y[r] = t.text[r][c][0] ? t.v[(size_t)r * t.ncol + c] : NAN;
        SvgSeries s = { t.col[c], x, y, t.nrow };
        if (strstr(t.col[c], "loss")) { if (nl < 2) loss[nl++] = s; }
        else if (nm < 8) met[nm++] = s;
    }
    double *lr = ys + (size_t)t.ncol * t.nrow;
    for (int r = 0; r < t.nrow; r++) lr[r] = lr_of(in->events, (int)x[r]);
    SvgSeries lrs = { "lr at epoch end", x, lr, t.nrow };
    str_add(h, "<section id=\"curves\"><h2>Training curves</h2><div class=\"charts\">\n");
    svg_chart(h, "chart-loss", "Loss per epoch", "epoch", "loss", loss, nl, 0);
    svg_chart(h, "chart-metrics", "Validation metrics per epoch", "epoch", "metric", met, nm, 0);
    svg_chart(h, "chart-lr", "Learning rate", "epoch", "learning rate", &lrs, 1, 0);
    str_add(h, "</div></section>\n");
    dl_free(x); dl_free(ys);
    table_free(&t);
}

static void lr_find_plot(Str *h, Str *j, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/lr_find.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    double *lr = NULL, *loss = NULL, *sm = NULL, a, b, c;
    int n = 0;
    char line[256];
    while (fgets(line, sizeof line, f) && n < 100000)
        if (sscanf(line, "%lf,%lf,%lf", &a, &b, &c) == 3) {
            lr = dl_realloc(lr, sizeof(double) * (n + 1)); loss = dl_realloc(loss, sizeof(double) * (n + 1));
            sm = dl_realloc(sm, sizeof(double) * (n + 1));
            lr[n] = a; loss[n] = b; sm[n++] = c;
        }
    fclose(f);
    SvgSeries s[2] = { { "loss", lr, loss, n }, { "smoothed loss", lr, sm, n } };
    str_add(h, "<section id=\"lr-find\"><h2>Learning-rate finder</h2>\n");
    svg_chart(h, "chart-lr-find", "Loss against learning rate (lr-find)", "learning rate (log scale)", "loss", s, 2, 1);
    str_add(h, "</section>\n");
    str_add(j, "\"lr_find\":{\"lr\":[");
    char nb[32];
    for (int i = 0; i < n; i++) str_add(j, "%s%.6g", i ? "," : "", lr[i]);
    str_add(j, "],\"smoothed_loss\":[");
    for (int i = 0; i < n; i++) str_add(j, "%s%s", i ? "," : "", num(nb, sm[i]));
    str_add(j, "]},");
    dl_free(lr); dl_free(loss); dl_free(sm);
}

/* Heat-map cell colour: white to dark blue by v in [0, 1]. */
static void cell(Str *h, double v, const char *text) {
    int r = (int)(255 - 225 * v), g = (int)(255 - 170 * v), b = (int)(255 - 80 * v);
    str_add(h, "<td style=\"background:rgb(%d,%d,%d);color:%s\">%s</td>", r, g, b, v > 0.55 ? "#fff" : "#000", text);
}

static void confusion(Str *h, Str *j, const ReportInput *in) {
    const SingleMetrics *s = &in->eval->single;
    int k = s->k;
    char *const *names = in->valid->class_names;
    str_add(h, "<div class=\"charts\">");
    for (int norm = 0; norm < 2; norm++) {
        str_add(h, "<div><h3>%s</h3><table class=\"heatmap\" id=\"confusion-%s\"><tr><th class=\"corner\">true \\ predicted</th>",
                   norm ? "Row-normalised (recall on the diagonal)" : "Counts", norm ? "normalized" : "counts");
        for (int c = 0; c < k; c++) { str_add(h, "<th class=\"class-name col\">"); html_text(h, names[c]); str_add(h, "</th>"); }
        str_add(h, "</tr>\n");
        int64_t mx = 1;
        for (size_t i = 0; i < (size_t)k * k; i++) if (s->confusion[i] > mx) mx = s->confusion[i];
        for (int r = 0; r < k; r++) {
            int64_t row = 0;
            for (int c = 0; c < k; c++) row += s->confusion[(size_t)r * k + c];
            str_add(h, "<tr><th class=\"class-name row\">");
            html_text(h, names[r]);
            str_add(h, "</th>");
            for (int c = 0; c < k; c++) {
                int64_t v = s->confusion[(size_t)r * k + c];
                char t[32];
                double f = norm ? (row ? (double)v / row : 0.0) : (double)v / mx;
                if (norm) snprintf(t, sizeof t, "%.2f", f);
                else snprintf(t, sizeof t, "%lld", (long long)v);
                cell(h, f, t);
            }
            str_add(h, "</tr>\n");
        }
        str_add(h, "</table></div>\n");
    }
    str_add(h, "</div>\n");
    str_add(j, "\"confusion\":[");
    for (int r = 0; r < k; r++) {
        str_add(j, "%s[", r ? "," : "");
        for (int c = 0; c < k; c++) str_add(j, "%s%lld", c ? "," : "", (long long)s->confusion[(size_t)r * k + c]);
        str_add(j, "]");
    }
    str_add(j, "],");
}

/* Per class (single) or per tag (multi): precision, recall, F-beta, support. */
static void per_class(Str *h, Str *j, const ReportInput *in) {
    const EvalResult *e = in->eval;
    int k = in->valid->k;
    str_add(h, "<table class=\"metrics\" id=\"per-class\"><tr><th>%s</th><th>precision</th><th>recall</th><th>F%g</th>"
               "<th>support</th></tr>\n", e->multi ? "tag" : "class", in->beta);
    str_add(j, "\"per_class\":[");
    for (int c = 0; c < k; c++) {
        int64_t tp, fp, fn;
        if (e->multi) { tp = e->mlt.tp[c]; fp = e->mlt.fp[c]; fn = e->mlt.fn[c]; }
        else single_class_counts(&e->single, c, &tp, &fp, &fn);
        double p = tp + fp ? (double)tp / (double)(tp + fp) : 0.0, r = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
        double f = e->multi ? multi_fbeta_tag(&e->mlt, c) : metrics_fbeta(tp, fp, fn, in->beta);
        str_add(h, "<tr><td class=\"class-name\">");
        html_text(h, in->valid->class_names[c]);
        str_add(h, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td></tr>\n", p, r, f, (long long)(tp + fn));
        str_add(j, "%s{\"name\":", c ? "," : "");
        json_str(j, in->valid->class_names[c]);
        str_add(j, ",\"precision\":%.6f,\"recall\":%.6f,\"fbeta\":%.6f,\"support\":%lld,\"tp\":%lld,\"fp\":%lld,\"fn\":%lld}",
                   p, r, f, (long long)(tp + fn), (long long)tp, (long long)fp, (long long)fn);
    }
    str_add(h, "</table>\n");
    str_add(j, "],");
}

/* Per-sample loss, prediction and its probability from the logits. */
typedef struct {
    int64_t i;
    double loss, prob;
    int pred;
} Sample;

static int by_loss_desc(const void *a, const void *b) {
    const Sample *x = a, *y = b;
    if (x->loss != y->loss) return x->loss < y->loss ? 1 : -1;   /* NaN sorts as "not larger" */
    return x->i < y->i ? -1 : x->i > y->i;
}

static void sample_stats(Sample *s, const ReportInput *in, int64_t i) {
    const Dataset *v = in->valid;
    int k = v->k;
    const float *z = in->logits + (size_t)i * k;
    s->i = i;
    if (!v->multi) {
        int p = 0;
        for (int c = 1; c < k; c++) if (z[c] > z[p]) p = c;
        double mx = z[p], sum = 0.0;
        for (int c = 0; c < k; c++) sum += exp((double)z[c] - mx);
        s->pred = p;
        s->prob = 1.0 / sum;
        s->loss = mx + log(sum) - z[v->labels[i]];
    } else {
        double l = 0.0;
        int p = 0;
        for (int c = 0; c < k; c++) {
            double x = z[c], t = v->targets[(size_t)i * k + c] ? 1.0 : 0.0;
            l += (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));   /* stable BCE with logits */
            if (z[c] > z[p]) p = c;
        }
        s->loss = l / k;
        s->pred = p;
        s->prob = 1.0 / (1.0 + exp(-(double)z[p]));
    }
}

static void tags(Str *h, const Dataset *v, const float *z, const uint8_t *t, float thr) {
    int any = 0;
    for (int c = 0; c < v->k; c++)
        if (z ? 1.0 / (1.0 + exp(-(double)z[c])) > thr : t[c]) { str_add(h, any++ ? " " : ""); html_text(h, v->class_names[c]); }
    if (!any) str_add(h, "(none)");
}

static void caption(Str *h, const ReportInput *in, const Sample *s) {
    const Dataset *v = in->valid;
    if (!v->multi) {
        str_add(h, "<figcaption><b>");
        html_text(h, v->class_names[s->pred]);
        str_add(h, "</b> / ");
        html_text(h, v->class_names[v->labels[s->i]]);
        str_add(h, "<br>loss %.2f, p %.2f</figcaption>", s->loss, s->prob);
    } else {
        str_add(h, "<figcaption>true: ");
        tags(h, v, NULL, v->targets + (size_t)s->i * v->k, 0);
        str_add(h, "<br>predicted: ");
        tags(h, v, in->logits + (size_t)s->i * v->k, NULL, in->threshold);
        str_add(h, "<br>loss %.3f</figcaption>", s->loss);
    }
}

static DlStatus sample_image(const Dataset *v, int64_t i, uint8_t *buf, JpegCodec *jc, const uint8_t **img) {
    size_t per = (size_t)v->h * v->w * v->c;
    if (v->images) { *img = v->images + (size_t)i * per; return DL_OK; }
    *img = buf;
    return dataset_read(v, &i, 1, buf, jc);
}

static void sample_json(Str *j, const ReportInput *in, const Sample *s) {
    char b[2][32];
    str_add(j, "{\"index\":%lld,\"predicted\":%d,\"loss\":%s,\"probability\":%s", (long long)s->i, s->pred, num(b[0], s->loss),
               num(b[1], s->prob));
    if (!in->valid->multi) str_add(j, ",\"actual\":%d", in->valid->labels[s->i]);
    str_add(j, "}");
}

/* Multi-label: every tag of sample i decided right at the threshold. */
static int exact_tags(const ReportInput *in, int64_t i) {
    const Dataset *v = in->valid;
    const float *z = in->logits + (size_t)i * v->k;
    for (int c = 0; c < v->k; c++)
        if ((1.0 / (1.0 + exp(-(double)z[c])) > in->threshold) != (v->targets[(size_t)i * v->k + c] != 0)) return 0;
    return 1;
}

/* The grid of the top losses, and the CAM overlays. */
static DlStatus samples(Str *h, Str *j, const ReportInput *in) {
    const Dataset *v = in->valid;
    int64_t n = v->n;
    Sample *all = dl_malloc(sizeof(Sample) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) sample_stats(&all[i], in, i);
    qsort(all, (size_t)n, sizeof(Sample), by_loss_desc);
    int top = in->top > 0 ? in->top : 16;
    if (top > n) top = (int)n;
    uint8_t *buf = dl_malloc((size_t)v->h * v->w * v->c);
    JpegCodec jc = { 0 };
    DlStatus st = DL_OK;
    str_add(h, "<section id=\"top-losses\"><h2>Top losses</h2><p>The validation images the model gets most wrong: "
               "%s, loss, probability of the prediction.</p><div class=\"grid\">\n",
               v->multi ? "true and predicted tags" : "<b>predicted</b> / actual");
    str_add(j, "\"top_losses\":[");
    for (int t = 0; t < top && st == DL_OK; t++) {
        const uint8_t *img;
        st = sample_image(v, all[t].i, buf, &jc, &img);
        if (st != DL_OK) break;
        str_add(h, "<figure class=\"top-loss\"><img class=\"thumb\" alt=\"sample %lld\" src=\"", (long long)all[t].i);
        st = cam_thumbnail(h, &jc, img, v->h, v->w, v->c);
        str_add(h, "\">");
        caption(h, in, &all[t]);
        str_add(h, "</figure>\n");
        str_add(j, "%s", t ? "," : "");
        sample_json(j, in, &all[t]);
    }
    str_add(h, "</div></section>\n");
    str_add(j, "],");
    /* Grad-CAM: the first half from the top losses, the rest right answers of distinct classes */
    int P = 0, Q = 0, tgt = in->model ? report_cam_target(in->model, &P, &Q) : -1;
    int want = in->cam < (int)n ? in->cam : (int)n;
    if (st == DL_OK && tgt >= 0 && want > 0) {
        Sample *pick = dl_malloc(sizeof(Sample) * (size_t)want);
        int np = 0, nw = (want + 1) / 2;
        for (int t = 0; t < nw && t < n; t++) pick[np++] = all[t];
        uint8_t *seen = dl_calloc((size_t)v->k, 1);
        for (int pass = 0; pass < 2 && np < want; pass++)
            for (int64_t t = n - 1; t >= 0 && np < want; t--) {   /* lowest losses first */
                const Sample *s = &all[t];
                int right = v->multi ? exact_tags(in, s->i) : s->pred == v->labels[s->i];
                int dup = 0;
                for (int q = 0; q < np; q++) dup |= pick[q].i == s->i;
                if (!right || dup || (pass == 0 && seen[s->pred])) continue;
                seen[s->pred] = 1;
                pick[np++] = *s;
            }
        dl_free(seen);
        Model *m = in->model;
        float *maps = dl_malloc(sizeof(float) * (size_t)np * P * Q);
        int *cls = dl_malloc(sizeof(int) * (size_t)np);
        int64_t *idx = dl_malloc(sizeof(int64_t) * (size_t)m->max_n);
        for (int q = 0; q < np; q++) cls[q] = pick[q].pred;
        for (int q0 = 0; q0 < np; q0 += m->max_n) {
            int cnt = np - q0 < m->max_n ? np - q0 : m->max_n;
            for (int q = 0; q < cnt; q++) idx[q] = pick[q0 + q].i;
            dataset_images(v, idx, cnt, in->x);
            report_gradcam(m, in->x, cnt, cls + q0, maps + (size_t)q0 * P * Q, &P, &Q);
        }
        str_add(h, "<section id=\"cam\"><h2>Where the model looks (Grad-CAM)</h2><p>Grad-CAM of layer <code>");
        html_text(h, m->spec[tgt].name);
        str_add(h, "</code> (%dx%d) for the predicted class: top losses first, then right answers.</p><div class=\"grid\">\n", P, Q);
        str_add(j, "\"cam\":{\"layer\":");
        json_str(j, m->spec[tgt].name);
        str_add(j, ",\"h\":%d,\"w\":%d,\"items\":[", P, Q);
        for (int q = 0; q < np && st == DL_OK; q++) {
            const uint8_t *img;
            st = sample_image(v, pick[q].i, buf, &jc, &img);
            if (st != DL_OK) break;
            str_add(h, "<figure class=\"cam\"><img class=\"cam-image\" alt=\"image\" src=\"");
            st = cam_thumbnail(h, &jc, img, v->h, v->w, v->c);
            str_add(h, "\"><img class=\"cam-overlay\" alt=\"Grad-CAM\" src=\"");
            if (st == DL_OK) st = cam_overlay(h, &jc, img, v->h, v->w, v->c, maps + (size_t)q * P * Q, P, Q);
            str_add(h, "\">");
            caption(h, in, &pick[q]);
            str_add(h, "</figure>\n");
            str_add(j, "%s{\"index\":%lld,\"class\":%d,\"map\":[", q ? "," : "", (long long)pick[q].i, cls[q]);
            for (int p = 0; p < P * Q; p++) str_add(j, "%s%.7g", p ? "," : "", maps[(size_t)q * P * Q + p]);
            str_add(j, "]}");
        }
        str_add(h, "</div></section>\n");
        str_add(j, "]},");
        dl_free(maps); dl_free(cls); dl_free(idx); dl_free(pick);
    }
    jpeg_codec_free(&jc);
    dl_free(buf);
    dl_free(all);
    return st;
}

/* Multi-label: F-beta (samples average) against the threshold. */
static void threshold_curve(Str *h, Str *j, const ReportInput *in) {
    const Dataset *v = in->valid;
    enum { NT = 19 };
    double th[NT], fb[NT];
    for (int t = 0; t < NT; t++) {
        MultiMetrics mm;
        th[t] = 0.05 * (t + 1);
        multi_metrics_init(&mm, v->k, in->beta, (float)th[t]);
        multi_metrics_add(&mm, in->logits, v->targets, (int)v->n);
        fb[t] = multi_fbeta_samples(&mm);
        multi_metrics_free(&mm);
    }
    SvgSeries s = { "F-beta (samples)", th, fb, NT };
    svg_chart(h, "chart-threshold", "F-beta against the decision threshold", "threshold", "F-beta", &s, 1, 0);
    str_add(j, "\"threshold_curve\":[");
    for (int t = 0; t < NT; t++) str_add(j, "%s{\"threshold\":%.2f,\"fbeta\":%.6f}", t ? "," : "", th[t], fb[t]);
    str_add(j, "],");
}

static void eval_summary(Str *h, Str *j, const ReportInput *in) {
    const EvalResult *e = in->eval;
    double loss = evaluate_loss(e), acc = evaluate_accuracy(e), top = evaluate_topk(e), f = evaluate_fbeta(e, in->beta);
    char extra[64] = "";
    if (e->multi) snprintf(extra, sizeof extra, ", exact match %.4f", top);
    else if (e->single.topk > 1) snprintf(extra, sizeof extra, ", top-%d accuracy %.4f", e->single.topk, top);
    str_add(h, "<section id=\"validation\"><h2>Validation</h2><p class=\"summary\">%lld images: loss %.4f, accuracy %.4f%s, "
               "F%g (%s) %.4f</p>\n", (long long)in->valid->n, loss, acc, extra, in->beta, e->multi ? "samples" : "macro", f);
    char b[4][32];
    str_add(j, "\"eval\":{\"n\":%lld,\"loss\":%s,\"accuracy\":%s,\"%s\":%s,\"fbeta\":%s,\"beta\":%g", (long long)in->valid->n,
               num(b[0], loss), num(b[1], acc), e->multi ? "exact_match" : "topk_accuracy", num(b[2], top), num(b[3], f), in->beta);
    if (!e->multi) str_add(j, ",\"topk\":%d", e->single.topk);
    else str_add(j, ",\"threshold\":%g,\"fbeta_micro\":%.6f,\"fbeta_macro\":%.6f", in->threshold, multi_fbeta_micro(&e->mlt),
                    multi_fbeta_macro(&e->mlt));
    str_add(j, "},");
}

static const char *STYLE =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}"
    "h3{font-size:14px}.charts{display:flex;flex-wrap:wrap;gap:12px}"
    "table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}"
    "th.class-name,td.class-name{text-align:left}table.heatmap td{min-width:30px;text-align:center}"
    ".grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;font-size:11px;text-align:center;width:180px}"
    "figure.top-loss{width:110px}figure img{image-rendering:pixelated;width:84px;height:auto;margin:2px}"
    "figure.top-loss img{width:100px}.meta{color:#666;font-size:12px}";

DlStatus report_write(const ReportInput *in) {
    Str hs = { 0 }, js = { 0 }, *h = &hs, *j = &js;
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    str_add(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
               "<title>dltrain report: ");
    html_text(h, in->title);
    str_add(h, "</title><style>%s</style></head><body>\n<h1>dltrain report: ", STYLE);
    html_text(h, in->title);
    str_add(h, "</h1><p class=\"meta\">written %s by dltrain %s", when, DLTRAIN_VERSION);
    if (in->valid) { str_add(h, "; validation data "); html_text(h, in->valid->path); }
    str_add(h, "</p>\n");
    str_add(j, "{\"title\":");
    json_str(j, in->title);
    str_add(j, ",");
    if (in->metrics_csv) curves(h, j, in);
    lr_find_plot(h, j, in->dir);
    DlStatus st = DL_OK;
    if (in->valid && in->eval) {
        const Dataset *v = in->valid;
        str_add(j, "\"multi\":%s,\"classes\":[", v->multi ? "true" : "false");
        for (int c = 0; c < v->k; c++) { str_add(j, "%s", c ? "," : ""); json_str(j, v->class_names[c]); }
        str_add(j, "],");
        eval_summary(h, j, in);
        if (!v->multi) {
            str_add(h, "<h3>Confusion matrix</h3>\n");
            confusion(h, j, in);
        } else threshold_curve(h, j, in);
        str_add(h, "<h3>Per %s</h3>\n", v->multi ? "tag" : "class");
        per_class(h, j, in);
        str_add(h, "</section>\n");
        if (in->logits) st = samples(h, j, in);
    }
    str_add(j, "\"format\":1}");
    str_add(h, "<script type=\"application/json\" id=\"report-data\">");
    str_put(h, js.s, js.n);
    str_add(h, "</script>\n</body></html>\n");
    if (st == DL_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/report.html", in->dir);
        st = run_write_file(path, hs.s, hs.n);
    }
    dl_free(hs.s);
    dl_free(js.s);
    return st;
}
