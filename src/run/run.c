/* run/run.c: rank 0's run directory (see run.h): log.txt, events.jsonl,
 * metrics.csv, the epoch table, progress lines, lr_find.csv; report.html is
 * drawn by report.c. */
#define _POSIX_C_SOURCE 200809L
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

void run_append(char **buf, const char *fmt, ...) {
    size_t have = *buf ? strlen(*buf) : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *buf = dl_realloc(*buf, have + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*buf + have, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

/* Temp file, fsync, rename, fsync of the folder (util.h): a crash never
 * leaves a torn log, metrics.csv, events.jsonl or report.html. */
DlStatus run_write_file(const char *path, const void *data, size_t n) {
    return dl_write_durable(path, data, n);
}

static DlStatus write_text(RunDir *r, const char *name, const char *text) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    return run_write_file(path, text ? text : "", text ? strlen(text) : 0);
}

/* The whole of a small text file (resume: the log and events so far), or NULL. */
static char *read_text(const char *path, size_t limit) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) { cap = cap ? 2 * cap : 8192; buf = dl_realloc(buf, cap); }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0 || n > limit) break;
    }
    fclose(f);
    if (n > limit) n = limit;   /* a runaway log is cut (its head kept): not worth the memory */
    buf[n] = '\0';
    return buf;
}

int run_dir_has_run(const char *dir, char *name, size_t cap) {
    static const char *files[] = { "last.h5", "best.h5", "metrics.csv" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4200], line[256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        /* metrics.csv counts from its first epoch row: a run that failed
         * before finishing an epoch left nothing to resume or keep */
        int rows = i < 2 || (fgets(line, sizeof line, f) && fgets(line, sizeof line, f));
        fclose(f);
        if (rows) {
            if (name) snprintf(name, cap, "%s", files[i]);
            return 1;
        }
    }
    return 0;
}

DlStatus run_check_out(const char *dir, int overwrite) {
    char found[32];
    if (!overwrite && run_dir_has_run(dir, found, sizeof found))
        return dl_fail(DL_EARG, "'%s' already holds a run (%s): continue it with --resume %s/last.h5, choose another --out, "
                       "or add --overwrite to replace it", dir, found, dir);
    return DL_OK;
}

void run_extra_names(char *table, char *csv, size_t cap, int topk, int multi, double beta) {
    char name[32];
    table[0] = csv[0] = '\0';
    if (topk > 0) {
        if (multi) snprintf(name, sizeof name, "exact_match");
        else snprintf(name, sizeof name, "top%d_accuracy", topk);
        snprintf(table + strlen(table), cap - strlen(table), "  %8.8s", multi ? "exact" : name);
        snprintf(csv + strlen(csv), cap - strlen(csv), ",%s", name);
    }
    if (beta > 0) {
        snprintf(name, sizeof name, "f%g", beta);
        snprintf(table + strlen(table), cap - strlen(table), "  %8s", name);
        snprintf(csv + strlen(csv), cap - strlen(csv), ",%s", name);
    }
}

DlStatus run_open(RunDir *r, const RunOpen *o) {
    *r = (RunDir){ .tty = o->tty, .show_progress = o->progress, .epochs = o->epochs, .batch = o->batch,
                   .topk = o->topk, .multi = o->multi, .beta = o->beta, .cam = o->cam };
    DlStatus st = o->resuming ? DL_OK : run_check_out(o->dir, o->overwrite);
    if (st == DL_OK) st = dl_mkdir_p(o->dir);
    if (st != DL_OK) return st;
    r->dir = dl_strdup(o->dir);
    r->active = 1;
    char path[4200];
    if (o->resuming) {   /* the log and events continue; metrics.csv restarts from the checkpoint's history */
        snprintf(path, sizeof path, "%s/log.txt", o->dir);
        r->log = read_text(path, (size_t)64 << 20);
        snprintf(path, sizeof path, "%s/events.jsonl", o->dir);
        r->events = read_text(path, (size_t)64 << 20);
    } else if (o->overwrite) {   /* the old run's checkpoints must not pass for this one's */
        static const char *old[] = { "last.h5", "best.h5", "report.html" };
        for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", o->dir, old[i]);
            if (remove(path) != 0 && errno != ENOENT)
                return dl_fail(DL_EIO, "--overwrite: cannot remove '%s': %s", path, strerror(errno));
        }
    }
    run_append(&r->log, "%s", "");
    run_append(&r->events, "%s", "");
    if (o->resuming && o->metrics_csv && *o->metrics_csv) run_append(&r->metrics, "%s", o->metrics_csv);
    else {
        char table[128], extra[128];
        run_extra_names(table, extra, sizeof extra, o->topk, o->multi, o->beta);
        run_append(&r->metrics, "epoch,train_loss,valid_loss,accuracy%s,time,images_per_s\n", extra);
    }
    st = write_text(r, "log.txt", r->log);
    if (st == DL_OK) st = write_text(r, "events.jsonl", r->events);
    if (st == DL_OK) st = write_text(r, "metrics.csv", r->metrics);
    return st;
}

void run_close(RunDir *r) {
    run_flush_log(r);
    dl_free(r->dir); dl_free(r->log); dl_free(r->events); dl_free(r->metrics); dl_free(r->lr);
    *r = (RunDir){ 0 };
}

void run_vsay(RunDir *r, const char *fmt, va_list ap) {
    if (!r->active) return;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    size_t have = strlen(r->log);
    r->log = dl_realloc(r->log, have + (size_t)n + 1);
    vsnprintf(r->log + have, (size_t)n + 1, fmt, ap);
    fputs(r->log + have, stdout);
    fflush(stdout);
    r->log_dirty = 1;   /* on disk at the next event, epoch end or close: one fsync, not one a line */
}

void run_flush_log(RunDir *r) {
    if (!r->active || !r->log_dirty) return;
    r->log_dirty = 0;
    /* a failed log write is not worth stopping a run for; the console has it */
    if (write_text(r, "log.txt", r->log) != DL_OK) fprintf(stderr, "dltrain: %s\n", dl_errmsg());
}

void run_say(RunDir *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    run_vsay(r, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static int utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    for (int i = 1; i < n; i++) if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))) return 0;
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

const char *run_json_str(char *buf, size_t cap, const char *s) {
    size_t j = 0;
    buf[j++] = '"';
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        char esc[8];
        int len = utf8_len(p), in = len ? len : 1;
        const char *out = (const char *)p;
        size_t on = (size_t)len;
        if (*p == '"' || *p == '\\') { snprintf(esc, sizeof esc, "\\%c", *p); out = esc; on = 2; }
        else if (*p < 0x20 || *p == 0x7f) { snprintf(esc, sizeof esc, "\\u%04x", *p); out = esc; on = 6; }
        else if (!len) { out = "\xef\xbf\xbd"; on = 3; }   /* U+FFFD for a byte that is no character */
        if (j + on + 2 > cap) break;   /* whole characters only: room for the closing quote and NUL */
        memcpy(buf + j, out, on);
        j += on;
        p += in;
    }
    buf[j++] = '"';
    buf[j] = '\0';
    return buf;
}

void run_vevent(RunDir *r, int epoch, int64_t step, const char *kind, const char *fmt, va_list ap) {
    if (!r->active) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    run_append(&r->events, "{\"event\":\"%s\",\"unix_time\":%.3f,\"epoch\":%d,\"step\":%lld", kind,
               (double)now.tv_sec + now.tv_nsec * 1e-9, epoch, (long long)step);
    if (fmt && *fmt) {
        va_list ap2;
        va_copy(ap2, ap);
        int n = vsnprintf(NULL, 0, fmt, ap2);
        va_end(ap2);
        size_t have = strlen(r->events);
        r->events = dl_realloc(r->events, have + (size_t)n + 2);
        r->events[have] = ',';
        vsnprintf(r->events + have + 1, (size_t)n + 1, fmt, ap);
    }
    run_append(&r->events, "}\n");
    if (write_text(r, "events.jsonl", r->events) != DL_OK) fprintf(stderr, "dltrain: %s\n", dl_errmsg());
    run_flush_log(r);
}

void run_event(RunDir *r, const char *kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    run_vevent(r, r->epoch, r->step, kind, fmt, ap);
    va_end(ap);
}

void run_table_header(RunDir *r) {
    char xtable[128], xcsv[128];
    run_extra_names(xtable, xcsv, sizeof xtable, r->topk, r->multi, r->beta);
    run_say(r, "%5s  %10s  %10s  %8s%s  %6s  %8s\n", "epoch", "train_loss", "valid_loss", "accuracy", xtable, "time", "img/s");
    run_flush_log(r);
}

void run_progress(RunDir *r, int epoch, int64_t done, int64_t steps, double loss, double t0) {
    if (!r->active || r->show_progress == 0) return;
    double el = dl_now() - t0, ips = done * r->batch / (el > 0 ? el : 1e-9);
    if (done <= 1) r->last_q = 0;
    if (r->tty) {
        int w = 30, fill = (int)(w * done / steps);
        char bar[64];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = '\0';
        printf("\r epoch %d/%d [%s] %lld/%lld  loss %.4f  %.0f img/s  eta %.0fs ", epoch + 1, r->epochs, bar,
               (long long)done, (long long)steps, loss, ips, (steps - done) * r->batch / (ips > 0 ? ips : 1));
        if (done == steps) printf("\r%*s\r", 100, "");
        fflush(stdout);
    } else {
        int q = (int)(4 * done / steps);
        if (q > r->last_q && q < 4) {
            printf("  epoch %d: %lld/%lld steps, loss %.4f, %.0f img/s\n", epoch + 1, (long long)done, (long long)steps, loss, ips);
            fflush(stdout);
        }
        r->last_q = q;
    }
}

/* A JSON number, or null for NaN and infinities (JSON has neither). */
static const char *jnum(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.6f", v);
    else snprintf(buf, cap, "null");
    return buf;
}

DlStatus run_epoch_end(RunDir *r, const EpochResult *e) {
    if (!r->active) return DL_OK;
    char xt[64] = "", xc[64] = "", xj[128] = "", nb[4][32];
    if (r->topk > 0) {
        snprintf(xt, sizeof xt, "  %8.4f", e->topk);
        snprintf(xc, sizeof xc, ",%.6f", e->topk);
        snprintf(xj, sizeof xj, ",\"%s\":%s", r->multi ? "exact_match" : "topk_accuracy", jnum(nb[0], 32, e->topk));
    }
    if (r->beta > 0) {
        snprintf(xt + strlen(xt), sizeof xt - strlen(xt), "  %8.4f", e->fbeta);
        snprintf(xc + strlen(xc), sizeof xc - strlen(xc), ",%.6f", e->fbeta);
        snprintf(xj + strlen(xj), sizeof xj - strlen(xj), ",\"fbeta\":%s", jnum(nb[0], 32, e->fbeta));
    }
    int secs = (int)(e->time + 0.5);
    run_say(r, "%5d  %10.4f  %10.4f  %8.4f%s  %02d:%02d  %8.0f\n", e->epoch, e->train_loss, e->valid_loss, e->accuracy, xt,
            secs / 60, secs % 60, e->images_per_s);
    run_append(&r->metrics, "%d,%.6f,%.6f,%.6f%s,%.2f,%.1f\n", e->epoch, e->train_loss, e->valid_loss, e->accuracy, xc,
               e->time, e->images_per_s);
    run_event(r, "epoch", "\"train_loss\":%s,\"valid_loss\":%s,\"accuracy\":%s%s,\"time\":%.2f,\"images_per_s\":%.1f,\"lr\":%.6g",
              jnum(nb[1], 32, e->train_loss), jnum(nb[2], 32, e->valid_loss), jnum(nb[3], 32, e->accuracy), xj,
              e->time, e->images_per_s, e->lr);
    DlStatus st = write_text(r, "metrics.csv", r->metrics);
    run_flush_log(r);
    if (e->epoch > r->n_lr) {
        r->lr = dl_realloc(r->lr, sizeof(double) * (size_t)e->epoch);
        for (int i = r->n_lr; i < e->epoch; i++) r->lr[i] = NAN;
        r->n_lr = e->epoch;
    }
    r->lr[e->epoch - 1] = e->lr;
    if (st == DL_OK && e->eval) {
        ReportInput ri = { .dir = r->dir, .title = r->dir, .metrics_csv = r->metrics, .events = r->events,
                           .valid = e->valid, .eval = e->eval, .logits = e->logits, .beta = r->beta > 0 ? r->beta : 1.0,
                           .threshold = e->threshold, .model = e->model, .x = e->x, .cam = r->cam };
        double t0 = dl_now();
        st = report_write(&ri);
        /* what the report costs, next to the epoch's time (README: Performance) */
        if (st == DL_OK) run_event(r, "report", "\"seconds\":%.4f", dl_now() - t0);
    }
    return st;
}

DlStatus run_lr_find_write(const char *dir, const double *lr, const double *raw, const double *sm, int done) {
    DlStatus st = dl_mkdir_p(dir);
    char path[4200], *csv = NULL;
    run_append(&csv, "lr,loss,smoothed_loss\n");
    printf("%12s  %10s  %10s\n", "lr", "loss", "smoothed");
    for (int i = 0; i < done; i++) {
        run_append(&csv, "%.6g,%.6f,%.6f\n", lr[i], raw[i], sm[i]);
        if (i % (done / 25 + 1) == 0 || i == done - 1) printf("%12.3g  %10.4f  %10.4f\n", lr[i], raw[i], sm[i]);
    }
    snprintf(path, sizeof path, "%s/lr_find.csv", dir);
    if (st == DL_OK) st = run_write_file(path, csv, strlen(csv));
    dl_free(csv);
    if (st == DL_OK) printf("wrote %s\n", path);
    /* the plot joins the run's report; a directory without a run gets a report of its own */
    if (st == DL_OK && !run_dir_has_run(dir, NULL, 0)) {
        ReportInput ri = { .dir = dir, .title = dir };
        st = report_write(&ri);
        if (st == DL_OK) printf("wrote %s/report.html\n", dir);
    }
    return st;
}
