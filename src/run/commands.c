/* run/commands.c: the commands that draw: `dltrain report RUNDIR` (rebuild
 * report.html from a run directory's files: finished, stopped or still
 * running), `dltrain interpret` (the same report for any checkpoint and
 * dataset) and `dltrain show-batch` (a grid of a training batch after
 * augmentation, as a JPEG). */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "data/augment.h"
#include "evaluate.h"
#include "flags.h"
#include "report.h"
#include "run.h"
#include "sampler.h"
#include "str.h"

typedef struct {
    int cam, top, topk, batch;
    float beta, threshold;
} Opts;

/* Evaluates ckpt on data and writes dir/report.html with the given curves. */
static DlStatus report_from(const char *dir, const char *title, const char *ckpt, const char *data, const char *metrics,
                            const char *events, const Opts *o) {
    CheckpointInfo info;
    Dataset ds;
    Model m;
    DlStatus st = evaluate_open(&m, &ds, &info, ckpt, data, o->batch);
    if (st == DL_OK) st = dl_mkdir_p(dir);
    if (st == DL_OK) {
        double beta = o->beta > 0 ? o->beta : ds.multi ? 2.0 : 1.0;
        EvalOptions eo = { .topk = o->topk, .beta = beta, .threshold = o->threshold };
        eo.logits = dl_malloc(sizeof(float) * (size_t)(ds.n ? ds.n : 1) * ds.k);
        float *x = dl_malloc(sizeof(float) * (size_t)o->batch * shape_size(m.input));
        EvalResult er;
        evaluate_run(&er, &m, &ds, &eo, x);
        ReportInput ri = { .dir = dir, .title = title, .metrics_csv = metrics ? metrics : info.pos.metrics_csv,
                           .events = events, .valid = &ds, .eval = &er, .logits = eo.logits, .beta = beta,
                           .threshold = o->threshold, .model = &m, .x = x, .cam = o->cam, .top = o->top };
        st = report_write(&ri);
        if (st == DL_OK)
            printf("%s on %s: %lld images, loss %.4f, accuracy %.4f\nwrote %s/report.html\n", ckpt, data, (long long)ds.n,
                   evaluate_loss(&er), evaluate_accuracy(&er), dir);
        evaluate_free(&er);
        dl_free(x);
        dl_free(eo.logits);
    }
    model_free(&m);
    dataset_close(&ds);
    checkpoint_info_free(&info);
    return st;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    Str b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n < ((size_t)256 << 20)) str_put(&b, chunk, n);
    fclose(f);
    if (!b.s) str_put(&b, "", 0);
    return b.s;
}

/* The string value of "key":"..." in the last line of events that has it
 * and is a start or resume event (JSON escapes of quotes and backslashes undone). */
static char *start_field(const char *events, const char *key) {
    char *val = NULL, pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    for (const char *line = events; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *k = strstr(line, pat);
        int start = !strncmp(line, "{\"event\":\"start\"", 16) || !strncmp(line, "{\"event\":\"resume\"", 17);
        if (start && k && (size_t)(k - line) < len) {
            Str v = { 0 };
            for (const char *p = k + strlen(pat); *p && *p != '"' && p < line + len; p++) {
                if (*p == '\\' && p[1]) p++;
                str_put(&v, p, 1);
            }
            if (!v.s) str_put(&v, "", 0);
            dl_free(val);
            val = v.s;
        }
        line = end ? end + 1 : NULL;
    }
    return val;
}

static void opts_flags(Flag *f, Opts *o) {
    f[0] = (Flag){ "cam", F_INT, &o->cam, "8", "Grad-CAM heat maps of this many validation images (half top losses, half right answers)" };
    f[1] = (Flag){ "top", F_INT, &o->top, "16", "top-loss thumbnails" };
    f[2] = (Flag){ "topk", F_INT, &o->topk, "5", "k of top-k accuracy (single-label)" };
    f[3] = (Flag){ "fbeta", F_FLOAT, &o->beta, "1 (2 multi-label)", "beta of F-beta" };
    f[4] = (Flag){ "threshold", F_FLOAT, &o->threshold, "0.5", "multi-label: a tag is predicted when its probability exceeds this" };
    f[5] = (Flag){ "batch", F_INT, &o->batch, "64", "images per forward pass" };
}

static DlStatus opts_check(const Opts *o, const char *cmd) {
    if (o->cam < 0 || o->top < 0 || o->topk < 1 || o->batch < 1 || !(o->threshold >= 0.0f && o->threshold <= 1.0f) || !(o->beta >= 0))
        return dl_fail(DL_EARG, "%s: --cam and --top must be >= 0, --topk and --batch >= 1, --threshold in [0, 1], --fbeta >= 0", cmd);
    return DL_OK;
}

static int finish(DlStatus st) {
    if (st == DL_OK) return 0;
    flags_error("dltrain", dl_errmsg());
    return st == DL_EARG ? 2 : 1;
}

int run_cmd_report(int argc, char **argv, const Dist *d) {
    Opts o = { .cam = 8, .top = 16, .topk = 5, .batch = 64, .threshold = 0.5f };
    const char *data = NULL, *ckpt = NULL;
    Flag flags[8];
    opts_flags(flags, &o);
    flags[6] = (Flag){ "data", F_STR, &data, "the run's --valid", "validation dataset" };
    flags[7] = (Flag){ "checkpoint", F_STR, &ckpt, "RUNDIR/last.h5", "checkpoint to evaluate" };
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) flags_print("usage: dltrain report RUNDIR [flags]   (rewrites RUNDIR/report.html)", flags, 8);
        return 0;
    }
    if (d->rank != 0) return 0;
    if (argc < 1 || !strncmp(argv[0], "--", 2))
        return finish(dl_fail(DL_EARG, "dltrain report: give the run directory first: dltrain report RUNDIR"));
    const char *dir = argv[0];
    DlStatus st = flags_parse(flags, 8, argc - 1, argv + 1, "dltrain report");
    if (st == DL_OK) st = opts_check(&o, "dltrain report");
    char path[4200], last[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    char *metrics = st == DL_OK ? slurp(path) : NULL;
    if (st == DL_OK && !metrics)
        st = dl_fail(DL_EIO, "'%s' has no metrics.csv: is it a run directory (dltrain train --out)?", dir);
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    char *events = st == DL_OK ? slurp(path) : NULL;
    char *valid = events && !data ? start_field(events, "valid") : NULL;
    if (st == DL_OK && !data) data = valid;
    if (st == DL_OK && !data)
        st = dl_fail(DL_EFORMAT, "'%s/events.jsonl' names no validation data: give --data V.h5", dir);
    snprintf(last, sizeof last, "%s/last.h5", dir);
    struct stat sb;
    if (st == DL_OK && !ckpt && stat(last, &sb) != 0) {   /* a run still in its first epoch: curves only */
        ReportInput ri = { .dir = dir, .title = dir, .metrics_csv = metrics, .events = events };
        st = report_write(&ri);
        if (st == DL_OK) printf("%s has no checkpoint yet: wrote %s/report.html with the curves only\n", dir, dir);
    } else if (st == DL_OK) {
        st = report_from(dir, dir, ckpt ? ckpt : last, data, metrics, events, &o);
    }
    dl_free(metrics); dl_free(events); dl_free(valid);
    return finish(st);
}

int run_cmd_interpret(int argc, char **argv, const Dist *d) {
    Opts o = { .cam = 8, .top = 16, .topk = 5, .batch = 64, .threshold = 0.5f };
    const char *data = NULL, *ckpt = NULL, *out = NULL;
    Flag flags[9];
    opts_flags(flags, &o);
    flags[6] = (Flag){ "checkpoint", F_STR, &ckpt, NULL, "checkpoint (RUNDIR/last.h5, best.h5, or an imported model)" };
    flags[7] = (Flag){ "data", F_STR, &data, NULL, "dataset to interpret the model on (HDF5, same classes)" };
    flags[8] = (Flag){ "out", F_STR, &out, NULL, "directory for report.html" };
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) flags_print("usage: dltrain interpret --checkpoint C.h5 --data V.h5 --out DIR [--cam N] [flags]", flags, 9);
        return 0;
    }
    if (d->rank != 0) return 0;
    DlStatus st = flags_parse(flags, 9, argc, argv, "dltrain interpret");
    if (st == DL_OK) st = opts_check(&o, "dltrain interpret");
    if (st == DL_OK) {
        char title[4200];
        snprintf(title, sizeof title, "%s on %s", ckpt, data);
        st = report_from(out, title, ckpt, data, NULL, NULL, &o);
    }
    return finish(st);
}

int run_cmd_show_batch(int argc, char **argv, const Dist *d) {
    const char *data = NULL, *out = NULL, *augment = NULL;
    int batch = 16, epoch = 1;
    uint64_t seed = 1;
    const Flag flags[] = {
        { "data", F_STR, &data, NULL, "training dataset (HDF5)" },
        { "augment", F_STR, &augment, "none", "augmentation as for dltrain train" },
        { "batch", F_INT, &batch, "16", "images in the grid (the first ones of the epoch's order)" },
        { "seed", F_U64, &seed, "1", "seed, as for dltrain train" },
        { "epoch", F_INT, &epoch, "1", "which epoch's order and augmentation (1-based)" },
        { "out", F_STR, &out, NULL, "the grid as a JPEG file (also -o)" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) flags_print("usage: dltrain show-batch --data D.h5 [--augment LIST] -o grid.jpg [flags]", flags, nflags);
        return 0;
    }
    if (d->rank != 0) return 0;
    char **av = dl_malloc(sizeof(char *) * (size_t)(argc + 1));
    for (int i = 0; i < argc; i++) av[i] = !strcmp(argv[i], "-o") ? "--out" : argv[i];   /* -o as dlprep has it */
    DlStatus st = flags_parse(flags, nflags, argc, av, "dltrain show-batch");
    dl_free(av);
    if (st == DL_OK && (batch < 1 || batch > 1024 || epoch < 1))
        st = dl_fail(DL_EARG, "dltrain show-batch: --batch must be in [1, 1024] and --epoch >= 1");
    AugmentConfig aug;
    if (st == DL_OK) st = augment_parse(&aug, augment);
    Dataset ds = { 0 };
    if (st == DL_OK) st = dataset_open_budget(&ds, data, (int64_t)1 << 30);
    if (st == DL_OK && aug.dihedral && ds.h != ds.w)
        st = dl_fail(DL_EARG, "--augment dihedral needs square images; '%s' has %dx%d (use hflip,vflip)", data, ds.h, ds.w);
    if (st == DL_OK) {
        int n = batch < ds.n ? batch : (int)ds.n, C = ds.c, H = ds.h, W = ds.w;
        size_t per = (size_t)C * H * W;
        int64_t *perm = dl_malloc(sizeof(int64_t) * (size_t)ds.n);
        sampler_order(perm, ds.n, ds.n, seed, epoch - 1);
        uint8_t *bytes = dl_malloc(per * (size_t)n);
        float *x = dl_malloc(sizeof(float) * per * (size_t)n), *tmp = dl_malloc(sizeof(float) * per);
        JpegCodec jc = { 0 };
        st = dataset_read(&ds, perm, n, bytes, &jc);
        int cols = (int)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols, s = 1, gap = 2;
        while ((H < W ? H : W) * s < 84 && s < 8) s++;
        int GH = rows * (H * s + gap) + gap, GW = cols * (W * s + gap) + gap;
        uint8_t *grid = dl_malloc((size_t)GH * GW * C), *jpg = NULL;
        memset(grid, 255, (size_t)GH * GW * C);
        if (st == DL_OK) {
            dataset_convert(&ds, bytes, n, x);   /* as training sees it, before normalisation */
            for (int i = 0; i < n; i++) {
                float *xi = x + per * i;
                if (augment_any(&aug)) augment_sample(xi, tmp, C, H, W, &aug, seed, epoch - 1, perm[i]);
                int oy = gap + (i / cols) * (H * s + gap), ox = gap + (i % cols) * (W * s + gap);
                for (int y = 0; y < H * s; y++)
                    for (int xx = 0; xx < W * s; xx++)
                        for (int c = 0; c < C; c++) {
                            float v = xi[((size_t)c * H + y / s) * W + xx / s] * 255.0f + 0.5f;
                            grid[((size_t)(oy + y) * GW + ox + xx) * C + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                        }
            }
            size_t nj = 0;
            st = jpeg_encode(&jc, grid, GH, GW, C, 95, &jpg, &nj);
            if (st == DL_OK) st = run_write_file(out, jpg, nj);
            if (st == DL_OK)
                printf("wrote %s: %d images of epoch %d as training sees them (%s), %dx%d grid\n", out, n, epoch,
                       augment_any(&aug) ? augment : "no augmentation", rows, cols);
        }
        dl_free(jpg); dl_free(grid); dl_free(perm); dl_free(bytes); dl_free(x); dl_free(tmp);
        jpeg_codec_free(&jc);
    }
    dataset_close(&ds);
    return finish(st);
}
