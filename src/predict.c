/* predict.c: see predict.h. One file at a time is read, decoded and
 * presized with the code dlprep uses (jpeg_decode with the same DCT-scaling
 * bound, resize_image), scaled and normalised with the dataset code
 * (dataset_convert, dataset_normalize), so an image gives the model the same
 * floats as it does through `dlprep folder` + `dltrain eval`. Batches of
 * --batch images run through model_forward in eval mode. */
#define _POSIX_C_SOURCE 200809L
#include "predict.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "data/dataset.h"
#include "data/jpeg.h"
#include "data/resize.h"
#include "model.h"

#define PREDICT_MAX_FILE_BYTES (1 << 28)   /* 256 MiB, as dlprep */
#define PREDICT_MAX_DEPTH 32
#define PREDICT_WHY 1024                  /* bytes kept of one skip message */

#ifdef _OPENMP
#include <omp.h>
#define THREAD_NUM() omp_get_thread_num()
#else
#define THREAD_NUM() 0
#endif

void predict_probs(float *p, const float *logits, int n, int k, int multi) {
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float *q = p + (size_t)i * k;
        if (multi) {
            for (int j = 0; j < k; j++) q[j] = (float)(1.0 / (1.0 + exp(-(double)z[j])));
            continue;
        }
        double mx = z[0], sum = 0.0;
        for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < k; j++) sum += exp((double)z[j] - mx);
        for (int j = 0; j < k; j++) q[j] = (float)(exp((double)z[j] - mx) / sum);
    }
}

/* ---- the files ---- */

typedef struct {
    int64_t n, cap;
    char **path;   /* (n) owned */
} PathList;

static void paths_add(PathList *l, char *p) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->path = dl_realloc(l->path, (size_t)l->cap * sizeof *l->path);
    }
    l->path[l->n++] = p;
}

static void paths_free(PathList *l) {
    for (int64_t i = 0; i < l->n; i++) dl_free(l->path[i]);
    dl_free(l->path);
    *l = (PathList){ 0 };
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_jpeg_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static void skip_note(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "dltrain predict: skipped ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* Adds the .jpg/.jpeg files under dir in sorted order, recursively, in the
 * order dlprep folder imports them (so a folder of a class lines up with its
 * dataset); hidden names are ignored, other files named and counted. */
static void walk_dir(PathList *l, const char *dir, int depth, int64_t *skipped) {
    if (depth > PREDICT_MAX_DEPTH) {
        skip_note("%s: nested more than 32 folders deep (a symlink loop?)%s", dir, "");
        (*skipped)++;
        return;
    }
    DIR *d = opendir(dir);
    if (!d) { skip_note("%s: cannot list the folder: %s", dir, strerror(errno)); (*skipped)++; return; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) { cap = cap ? 2 * cap : 64; names = dl_realloc(names, cap * sizeof *names); }
        names[n++] = dl_strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = dl_malloc(len);
        snprintf(p, len, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) { walk_dir(l, p, depth + 1, skipped); dl_free(p); }
        else if (has_jpeg_ext(names[i])) paths_add(l, p);   /* unreadable ones: named when read */
        else { skip_note("%s: not a .jpg/.jpeg file%s", p, ""); (*skipped)++; dl_free(p); }
        dl_free(names[i]);
    }
    dl_free(names);
}

/* Reads a whole regular file of at most PREDICT_MAX_FILE_BYTES. */
static DlStatus read_file(const char *path, uint8_t **buf, size_t *n) {
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dl_fail(DL_EIO, "%s: cannot read: %s", path, strerror(errno));
    struct stat sb;
    DlStatus st = DL_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) st = dl_fail(DL_EIO, "%s: not a regular file", path);
    else if (sb.st_size == 0) st = dl_fail(DL_EFORMAT, "%s: empty file", path);
    else if (sb.st_size > PREDICT_MAX_FILE_BYTES)
        st = dl_fail(DL_EFORMAT, "%s: %lld bytes is too large for one image (256 MiB at most)", path, (long long)sb.st_size);
    else {
        *buf = dl_malloc((size_t)sb.st_size);
        *n = fread(*buf, 1, (size_t)sb.st_size, f);
        if (ferror(f) || *n == 0) st = dl_fail(DL_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
    fclose(f);
    if (st != DL_OK) { dl_free(*buf); *buf = NULL; *n = 0; }
    return st;
}

/* ---- output ---- */

void predict_csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Planet's image_name: the file name without folder and extension. */
static void csv_image_name(FILE *f, const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t len = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    char *name = dl_malloc(len + 1);
    memcpy(name, b, len);
    name[len] = '\0';
    predict_csv_field(f, name);
    dl_free(name);
}

typedef struct {
    const PredictOptions *o;
    int k, multi, topk;
    char **names;       /* (k) class names */
    FILE *csv;          /* NULL: none */
    int *order;         /* (k) scratch */
} Out;

void predict_rank(int *order, const float *p, int k) {
    for (int j = 0; j < k; j++) order[j] = j;
    for (int a = 1; a < k; a++) {   /* insertion sort: k is small, and it is stable */
        int v = order[a], b = a;
        while (b > 0 && p[order[b - 1]] < p[v]) { order[b] = order[b - 1]; b--; }
        order[b] = v;
    }
}

static void emit(Out *u, const char *path, const float *p) {
    predict_rank(u->order, p, u->k);
    printf("%s:", path);
    if (u->multi) {
        int any = 0;
        for (int j = 0; j < u->k; j++) {
            int c = u->order[j];
            if (p[c] > u->o->threshold) { printf("%s %s %.6f", any ? "," : "", u->names[c], p[c]); any = 1; }
        }
        if (!any) printf(" (no tag above %g)", u->o->threshold);
    } else {
        for (int j = 0; j < u->topk; j++) printf("%s %s %.6f", j ? "," : "", u->names[u->order[j]], p[u->order[j]]);
    }
    printf("\n");
    if (!u->csv) return;
    if (u->multi) {   /* Planet submission: image_name,tags (space-separated, in class order) */
        csv_image_name(u->csv, path);
        fputc(',', u->csv);
        int any = 0;
        for (int c = 0; c < u->k; c++)
            if (p[c] > u->o->threshold) { fprintf(u->csv, "%s%s", any ? " " : "", u->names[c]); any = 1; }
        fputc('\n', u->csv);
        return;
    }
    predict_csv_field(u->csv, path);
    for (int j = 0; j < u->topk; j++) {
        fputc(',', u->csv);
        predict_csv_field(u->csv, u->names[u->order[j]]);
        fprintf(u->csv, ",%.8f", p[u->order[j]]);
    }
    fputc('\n', u->csv);
}

static void csv_header(const Out *u) {
    if (u->multi) { fprintf(u->csv, "image_name,tags\n"); return; }
    fprintf(u->csv, "file,class,probability");
    for (int j = 2; j <= u->topk; j++) fprintf(u->csv, ",class_%d,probability_%d", j, j);
    fputc('\n', u->csv);
}

/* ---- the run ---- */

static DlStatus check_info(const CheckpointInfo *info, const char *path) {
    if (info->k < 1 || !info->class_names)
        return dl_fail(DL_EFORMAT, "checkpoint '%s' has no class names: it cannot name predictions (train it with a current dltrain)", path);
    if (info->presize[0] && strcmp(info->presize, "squash") != 0)
        return dl_fail(DL_EFORMAT, "checkpoint '%s' was trained on images presized by '%s', which this dltrain does not know: upgrade dltrain",
                       path, info->presize);
    if (info->input.h < 1 || info->input.w < 1 || info->input.h > 4096 || info->input.w > 4096)
        return dl_fail(DL_EFORMAT, "checkpoint '%s' records an input of %dx%d pixels; dlprep sizes images 1..4096 (damaged file?)",
                       path, info->input.h, info->input.w);
    if (info->input.c != 1 && info->input.c != 3)
        return dl_fail(DL_EFORMAT, "checkpoint '%s' takes %d-channel input; predict reads grey (1) or RGB (3) images", path, info->input.c);
    return DL_OK;
}

DlStatus predict_run(const PredictOptions *o, char *const *paths, int n_paths, int64_t *done, int64_t *skipped) {
    *done = *skipped = 0;
    CheckpointInfo info;
    DlStatus st = checkpoint_info(&info, o->checkpoint);
    if (st != DL_OK) return st;
    Model m = { 0 };
    st = check_info(&info, o->checkpoint);
    if (st == DL_OK) st = model_init(&m, info.model_text, info.model_source, info.input, info.k, o->batch);
    if (st == DL_OK) st = checkpoint_load(o->checkpoint, &m, NULL);
    if (st == DL_OK && m.classes != info.k)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s': the model has %d outputs but %d class names", o->checkpoint, m.classes, info.k);
    if (st != DL_OK) { model_free(&m); checkpoint_info_free(&info); return st; }

    PathList files = { 0 };
    for (int i = 0; i < n_paths; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) walk_dir(&files, paths[i], 0, skipped);
        else paths_add(&files, dl_strdup(paths[i]));   /* named files are tried whatever their name */
    }

    const int C = info.input.c, H = info.input.h, W = info.input.w, B = o->batch, k = info.k;
    const size_t per = (size_t)C * H * W;
    /* the dataset code's conversion and normalisation, on a dataset of one presized image */
    Dataset geom = { .h = H, .w = W, .c = C, .normalize = info.norm.on };
    for (int c = 0; c < 3; c++) { geom.mean[c] = info.norm.on ? info.norm.mean[c] : 0.0f; geom.std[c] = info.norm.on ? info.norm.std[c] : 1.0f; }
    float *x = dl_malloc(sizeof(float) * per * (size_t)B);   /* (B, C, H, W) */
    float *prob = dl_malloc(sizeof(float) * (size_t)B * k);  /* (B, k) */
    int64_t *idx = dl_malloc(sizeof(int64_t) * (size_t)B);
    const char **batch_path = dl_malloc(sizeof(char *) * (size_t)B);
    Out u = { .o = o, .k = k, .multi = info.multi, .topk = o->topk < k ? o->topk : k, .names = info.class_names,
              .order = dl_malloc(sizeof(int) * (size_t)k) };
    char tmp[4096] = "";
    if (o->csv) {
        if (snprintf(tmp, sizeof tmp, "%s.partial", o->csv) >= (int)sizeof tmp) st = dl_fail(DL_EIO, "CSV path too long: %s", o->csv);
        else if (!(u.csv = fopen(tmp, "w"))) st = dl_fail(DL_EIO, "cannot write '%s': %s (check the folder)", tmp, strerror(errno));
        else csv_header(&u);
    }
    /* Each round decodes up to B files, T threads at once (each with its own
     * codec and presize buffer; no BLAS inside), then runs the ones that
     * decoded as one batch. A sample's output does not depend on what else
     * is in the batch, so skips and --batch change no number. */
    const int T = o->threads > 1 ? o->threads : 1;
    JpegCodec *jc = dl_calloc((size_t)T, sizeof *jc);
    uint8_t *px = dl_malloc(per * (size_t)T);               /* (T, H, W, C) presized images */
    int *ok = dl_malloc(sizeof(int) * (size_t)B);
    char *why = dl_malloc((size_t)B * PREDICT_WHY);          /* (B, PREDICT_WHY) skip messages */
    for (int64_t next = 0; st == DL_OK && next < files.n;) {
        const int cnt = files.n - next < B ? (int)(files.n - next) : B;
#pragma omp parallel for num_threads(T) schedule(dynamic, 1) if (T > 1 && cnt > 1)
        for (int j = 0; j < cnt; j++) {
            const int t = THREAD_NUM();
            const char *path = files.path[next + j];
            uint8_t *buf = NULL, *img = NULL;
            size_t len = 0;
            int h, w, c;
            DlStatus bad = read_file(path, &buf, &len);
            /* min size H x W: the DCT-scaled decode dlprep's import_files does */
            if (bad == DL_OK) bad = jpeg_decode(&jc[t], buf, len, C, H, W, path, &img, &h, &w, &c);
            dl_free(buf);
            ok[j] = bad == DL_OK;
            if (!ok[j]) { snprintf(why + (size_t)j * PREDICT_WHY, PREDICT_WHY, "%s", dl_errmsg()); continue; }
            resize_image(px + per * (size_t)t, H, W, img, h, w, C);
            dl_free(img);
            dataset_convert(&geom, px + per * (size_t)t, 1, x + per * (size_t)j);
        }
        int nb = 0;
        for (int j = 0; j < cnt; j++) {   /* in file order: messages and rows do not depend on threads */
            if (!ok[j]) {
                fprintf(stderr, "dltrain predict: skipped %s\n", why + (size_t)j * PREDICT_WHY);
                (*skipped)++;
                continue;
            }
            if (nb != j) memcpy(x + per * (size_t)nb, x + per * (size_t)j, sizeof(float) * per);
            batch_path[nb] = files.path[next + j];
            idx[nb] = nb;
            nb++;
        }
        next += cnt;
        if (nb == 0) continue;
        dataset_normalize(&geom, x, nb);
        ForwardArgs a = { .training = 0, .sample = idx };
        const float *logits = model_forward(&m, x, nb, &a);
        predict_probs(prob, logits, nb, k, info.multi);
        for (int j = 0; j < nb; j++) emit(&u, batch_path[j], prob + (size_t)j * k);
        *done += nb;
    }
    for (int t = 0; t < T; t++) jpeg_codec_free(&jc[t]);
    dl_free(jc);
    dl_free(ok);
    dl_free(why);
    int none = st == DL_OK && *done == 0;   /* nothing predicted: write no CSV, keep any earlier one */
    if (u.csv) {
        int bad = fflush(u.csv) != 0 || ferror(u.csv);
        bad = fclose(u.csv) != 0 || bad;
        if (st == DL_OK && bad) st = dl_fail(DL_EIO, "cannot write '%s' (disk full?)", tmp);
        if (st == DL_OK && !none && rename(tmp, o->csv) != 0)
            st = dl_fail(DL_EIO, "cannot rename '%s' to '%s': %s", tmp, o->csv, strerror(errno));
        if (st != DL_OK || none) remove(tmp);
    }
    if (none)
        st = dl_fail(DL_EFORMAT, "no image predicted: %lld file%s skipped (see above; predict reads .jpg/.jpeg files and folders of them)",
                     (long long)*skipped, *skipped == 1 ? "" : "s");
    dl_free(u.order);
    dl_free(batch_path);
    dl_free(idx);
    dl_free(px);
    dl_free(prob);
    dl_free(x);
    paths_free(&files);
    model_free(&m);
    checkpoint_info_free(&info);
    return st;
}
