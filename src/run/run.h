/* run/run.h: rank 0's run directory. Everything `dltrain train` writes
 * besides checkpoints goes through here: log.txt (what the console shows),
 * events.jsonl (one JSON object per line, for machines), metrics.csv (one
 * row per epoch), the epoch table and progress lines, lr_find.csv, and
 * report.html (run/report.h). The step loop hands over one EpochResult per
 * epoch; nothing here knows about groups, ranks or the optimizer.
 * Files a resume or a rerun depends on are rewritten whole: a temporary,
 * fsync, rename, fsync of the directory, so a crash leaves the old or the
 * new file, never a torn one.
 * Only rank 0 opens a RunDir; on other ranks it stays zeroed and every call
 * is a no-op. Not here: checkpoints (checkpoint.h), MPI. */
#ifndef DL_RUN_H
#define DL_RUN_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "data/dataset.h"
#include "evaluate.h"
#include "model.h"

typedef struct {
    int active;              /* 1 on rank 0 once opened */
    char *dir;
    char *log, *events;      /* log.txt and events.jsonl as written so far (rewritten whole) */
    int log_dirty;           /* log holds lines log.txt does not have yet */
    char *metrics;           /* metrics.csv as written so far */
    double *lr;              /* (epochs) the lr of each epoch's last step, for the report */
    int n_lr;
    int tty, show_progress;  /* progress: a bar on a terminal, else plain quarter lines */
    int last_q;
    int epochs, batch;       /* for the progress line */
    int epoch;               /* position stamped on events */
    int64_t step;
    int topk, multi;         /* the table's optional columns */
    double beta;
    int cam;                 /* Grad-CAM maps in report.html (0: none) */
} RunDir;

typedef struct {
    const char *dir;
    int resuming;            /* --resume: keep log.txt and events.jsonl, append */
    int overwrite;           /* --overwrite: a new run may replace one in dir */
    const char *metrics_csv; /* resuming: the checkpoint's metrics.csv history (NULL: new) */
    int topk, multi, epochs, batch;
    double beta;
    int tty, progress;       /* progress: -1 auto, 0 none */
    int cam;                 /* report.html: Grad-CAM of this many validation images */
} RunOpen;

/* Opens (rank 0) the run directory: creates it, refuses one that already
 * holds a run (run_dir_has_run) unless resuming or
 * overwriting, and writes metrics.csv's header (or the resumed history).
 * Free with run_close (accepts a zeroed RunDir). */
DlStatus run_open(RunDir *r, const RunOpen *o);
void run_close(RunDir *r);

/* A new run (not a resume) may start in dir: DL_EARG naming the run there
 * and the ways on, unless overwrite. */
DlStatus run_check_out(const char *dir, int overwrite);

/* 1 when dir holds a run worth keeping: last.h5, best.h5, or a metrics.csv
 * with an epoch row; name gets the first found. */
int run_dir_has_run(const char *dir, char *name, size_t cap);

/* Prints to stdout and appends to log.txt (no-op when inactive: ranks > 0).
 * log.txt is rewritten at the next event, the table header, an epoch's end
 * and run_close (run_flush_log), so a burst of lines costs one fsync. */
void run_say(RunDir *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void run_vsay(RunDir *r, const char *fmt, va_list ap);
void run_flush_log(RunDir *r);

/* Appends {"event":kind,"unix_time":...,"epoch":..,"step":..,<fields>} to
 * events.jsonl; fields is a printf format of already-encoded JSON members. */
void run_event(RunDir *r, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same at an explicit position (epoch done, optimizer steps so far). */
void run_vevent(RunDir *r, int epoch, int64_t step, const char *kind, const char *fmt, va_list ap);

/* A JSON string literal of s in buf (quotes included): control characters
 * and quotes escaped, invalid UTF-8 replaced by U+FFFD, and a string too long
 * for buf cut at a character boundary. Returns buf. */
const char *run_json_str(char *buf, size_t cap, const char *s);

/* The epoch table's header line (and its optional columns). */
void run_table_header(RunDir *r);
/* Progress within an epoch (bar or quarter lines). */
void run_progress(RunDir *r, int epoch, int64_t done, int64_t steps, double loss, double t0);

/* One finished epoch as the loop saw it; the report reads the rest from eval. */
typedef struct {
    int epoch;               /* 1-based */
    double train_loss, valid_loss, accuracy, topk, fbeta;   /* NAN: not measured */
    double time, images_per_s, lr;
    const EvalResult *eval;  /* validation counts (confusion matrix / per-tag) */
    const float *logits;     /* (valid->n, k) every validation sample's logits, or NULL */
    const Dataset *valid;
    Model *model;            /* for Grad-CAM (its buffers are used as scratch) */
    float *x;                /* (model->max_n, input) scratch */
    float threshold;
} EpochResult;

/* After an epoch: the table row, metrics.csv, the epoch event and
 * report.html. Returns DL_EIO (naming the file) when a write fails. */
DlStatus run_epoch_end(RunDir *r, const EpochResult *e);

/* The metric columns' names after accuracy ("top5_accuracy", "f2"...). */
void run_extra_names(char *table, char *csv, size_t cap, int topk, int multi, double beta);

/* lr-find: writes dir/lr_find.csv (and prints a sampled table and the
 * suggestions); report.html gets the loss-vs-lr plot. */
DlStatus run_lr_find_write(const char *dir, const double *lr, const double *raw, const double *sm, int done);

/* Rewrites a whole file atomically and durably: dir/path.partial, fsync,
 * rename, fsync of the directory. */
DlStatus run_write_file(const char *path, const void *data, size_t n);

/* Appends printf output to a growing heap string. */
void run_append(char **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
