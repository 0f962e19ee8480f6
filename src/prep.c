/* prep.c: the `dlprep` command line, which turns other formats into the
 * dataset file of DESIGN.md:
 *   idx     IDX files (MNIST, Fashion-MNIST; gzip or not, zlib tells them apart)
 *   folder  a tree of JPEGs, one subfolder per class (optionally train/ and
 *           valid/ or test/ subtrees), single-label
 *   csv     Planet-style image_name,tags labels over a folder of JPEGs, multi-label
 *   export  a dataset file back out as JPEGs (class folders, or labels.csv)
 * Images are presized: decoded, squashed whole to S x S (area average when
 * shrinking, bilinear when enlarging; resize.h) and stored raw or re-encoded
 * as JPEG; cropping and augmentation happen at training time. Bad files are
 * skipped with one warning each, or stop the import with --strict. Outputs
 * are written only once everything is read, atomically (dataset_write).
 * Not here: PNG and other formats, EXIF orientation, parallel decoding,
 * imports larger than memory. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"
#include "data/jpeg.h"
#include "data/resize.h"
#include "dltrain.h"
#include "flags.h"
#include "prep_read.h"
#include "prep_subset.h"

/* Splits "a,b,c" into new strings; returns the count. */
static int split_names(const char *s, char ***out) {
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    char **v = dl_calloc((size_t)n, sizeof(char *));
    const char *start = s;
    for (int i = 0; i < n; i++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        v[i] = dl_calloc(len + 1, 1);
        memcpy(v[i], start, len);
        start = end ? end + 1 : start + len;
    }
    *out = v;
    return n;
}

/* Accept -o as well as --o. */
static void dash_o(int argc, char **argv) {
    for (int i = 0; i < argc; i++) if (!strcmp(argv[i], "-o")) argv[i] = "--o";
}

static DlStatus prep_idx(int argc, char **argv) {
    const char *images = NULL, *labels = NULL, *names = NULL, *out = NULL;
    int limit = 0;
    const Flag flags[] = {
        { "images", F_STR, &images, NULL, "IDX image file (N, H, W) ubyte, .gz or not" },
        { "labels", F_STR, &labels, NULL, "IDX label file (N) ubyte, .gz or not" },
        { "class-names", F_STR, &names, "0,1,...", "comma-separated class names, one per label value" },
        { "limit", F_INT, &limit, "0", "keep only the first N images (0: all)", FLAG_IN(0, 2147483647) },
        { "o", F_STR, &out, NULL, "output dataset file (.h5)" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        flags_print("usage: dlprep idx --images F --labels F [--class-names a,b,...] [--limit N] -o out.h5", flags, nflags);
        return DL_OK;
    }
    dash_o(argc, argv);
    DlStatus st = flags_parse(flags, nflags, argc, argv, "dlprep idx");
    if (st != DL_OK) return st;
    if (limit < 0) return dl_fail(DL_EARG, "dlprep idx: --limit must be >= 0");
    Idx im, lb = { 0 };
    st = prep_idx_read(&im, images, 3, "images");
    if (st == DL_OK) st = prep_idx_read(&lb, labels, 1, "labels");
    char **cn = NULL;
    int k = 0;
    if (st == DL_OK && lb.dims[0] != im.dims[0])
        st = dl_fail(DL_EFORMAT, "%s has %u labels but %s has %u images; pass files of the same set",
                     labels, lb.dims[0], images, im.dims[0]);
    else if (st == DL_OK && (im.dims[1] > DATASET_MAX_SIDE || im.dims[2] > DATASET_MAX_SIDE ||
                             (int64_t)im.dims[1] * im.dims[2] > DATASET_MAX_PIXELS))
        st = dl_fail(DL_EFORMAT, "%s: images of %ux%u pixels; dltrain takes at most %d a side and %lld pixels an image",
                     images, im.dims[1], im.dims[2], DATASET_MAX_SIDE, (long long)DATASET_MAX_PIXELS);
    if (st == DL_OK) {
        int max = 0;
        for (size_t i = 0; i < lb.size; i++) if (lb.data[i] > max) max = lb.data[i];
        if (names) {
            k = split_names(names, &cn);
            if (max >= k)
                st = dl_fail(DL_EARG, "dlprep idx: %s has label %d but --class-names gives only %d names", labels, max, k);
            for (int i = 0; st == DL_OK && i < k; i++)
                if (!cn[i][0]) st = dl_fail(DL_EARG, "dlprep idx: --class-names has an empty name (position %d)", i + 1);
        } else {
            k = max + 1;
            cn = dl_calloc((size_t)k, sizeof(char *));
            for (int i = 0; i < k; i++) {
                char b[16];
                snprintf(b, sizeof b, "%d", i);
                cn[i] = dl_strdup(b);
            }
        }
    }
    if (st == DL_OK) {
        int64_t n = im.dims[0];
        if (limit > 0 && limit < n) n = limit;
        int32_t *lab = dl_malloc((size_t)n * sizeof *lab);
        for (int64_t i = 0; i < n; i++) lab[i] = lb.data[i];
        st = dataset_write(out, im.data, n, (int)im.dims[1], (int)im.dims[2], 1, lab, NULL, k, cn);
        if (st == DL_OK)
            printf("dlprep: wrote %s: %lld images %ux%u grey, %d classes\n", out, (long long)n, im.dims[1], im.dims[2], k);
        dl_free(lab);
    }
    for (int i = 0; cn && i < k; i++) dl_free(cn[i]);
    dl_free(cn);
    dl_free(im.data);
    dl_free(lb.data);
    return st;
}

/* ---- image imports (folder, csv) ---- */

typedef struct {
    const char *out, *valid_out, *store;
    int size, channels, quality, strict;
    float valid_fraction;
    uint64_t seed;
} ImportOpts;

/* The files to import, in output order, with their labels. */
typedef struct {
    int64_t n, cap;
    char **path;        /* (n) owned */
    int32_t *label;     /* (n) class index, single-label */
    uint8_t *targets;   /* (n, k) 0/1, multi-label; filled after the vocabulary is known */
} FileList;

static void filelist_add(FileList *l, char *path, int32_t label) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->path = dl_realloc(l->path, (size_t)l->cap * sizeof *l->path);
        l->label = dl_realloc(l->label, (size_t)l->cap * sizeof *l->label);
    }
    l->path[l->n] = path;
    l->label[l->n] = label;
    l->n++;
}

static void filelist_free(FileList *l) {
    for (int64_t i = 0; i < l->n; i++) dl_free(l->path[i]);
    dl_free(l->path);
    dl_free(l->label);
    dl_free(l->targets);
    *l = (FileList){ 0 };
}

/* Decoded samples: raw pixels or encoded JPEGs, with their labels. */
typedef struct {
    int64_t n;
    int k, multi;
    size_t bytes;         /* S * S * C, one raw sample */
    uint8_t *images;      /* raw: (n, S, S, C) */
    uint8_t **jpeg;       /* jpeg store: (n) encoded images, owned */
    size_t *jpeg_size;    /* (n) */
    int32_t *label;       /* (n) single-label */
    uint8_t *targets;     /* (n, k) multi-label */
} Samples;

static void samples_free(Samples *s) {
    for (int64_t i = 0; s->jpeg && i < s->n; i++) dl_free(s->jpeg[i]);
    dl_free(s->jpeg);
    dl_free(s->jpeg_size);
    dl_free(s->images);
    dl_free(s->label);
    dl_free(s->targets);
    *s = (Samples){ 0 };
}

/* Progress on a terminal only: one \r-updated line on stderr. */
typedef struct {
    int tty, shown;
    int64_t done, total;
    double t0, last;
} Progress;

static void progress_clear(Progress *p) {
    if (p->shown) fputs("\r\033[K", stderr);
    p->shown = 0;
}

static void progress_tick(Progress *p) {
    p->done++;
    if (!p->tty) return;
    double t = dl_now();
    if (t - p->last < 0.2 && p->done < p->total) return;
    p->last = t;
    fprintf(stderr, "\rdlprep: %lld/%lld images (%.0f/s)", (long long)p->done, (long long)p->total,
            p->done / (t - p->t0 + 1e-9));
    p->shown = 1;
}

/* One warning line on stderr (the progress line is cleared first). */
static void warn(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(Progress *p, const char *fmt, ...) {
    progress_clear(p);
    va_list ap;
    va_start(ap, fmt);
    fputs("dlprep: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static char *join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = dl_malloc(na + nb + 2);
    memcpy(s, a, na);
    s[na] = '/';
    memcpy(s + na + 1, b, nb + 1);
    return s;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int has_jpeg_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static DlStatus list_dir(const char *dir, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return dl_fail(DL_EIO, "cannot list folder '%s': %s", dir, strerror(errno));
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;   /* ., .., and hidden files such as .DS_Store, ._x.jpg */
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *names = dl_realloc(*names, (size_t)cap * sizeof **names);
        }
        (*names)[(*n)++] = dl_strdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return DL_OK;
}

static int has_subdir(const char *dir) {
    char **names;
    int n, found = 0;
    if (!is_dir(dir) || list_dir(dir, &names, &n) != DL_OK) return 0;
    for (int i = 0; i < n && !found; i++) {
        char *p = join(dir, names[i]);
        found = is_dir(p);
        dl_free(p);
    }
    prep_free_strs(names, n);
    return found;
}

/* Decodes, presizes and stores every file of l into s; bad files are skipped
 * with one warning each (*skipped counts them) or, with --strict, stop the
 * import. Labels follow their samples. */
static DlStatus import_files(Samples *s, const FileList *l, int k, int multi, const ImportOpts *o,
                             int64_t *skipped) {
    const int S = o->size, C = o->channels, store_jpeg = !strcmp(o->store, "jpeg");
    *s = (Samples){ .k = k, .multi = multi, .bytes = (size_t)S * S * C };
    if (store_jpeg) {
        s->jpeg = dl_calloc((size_t)l->n, sizeof *s->jpeg);
        s->jpeg_size = dl_calloc((size_t)l->n, sizeof *s->jpeg_size);
    } else {
        s->images = dl_malloc((size_t)l->n * s->bytes);
    }
    if (multi) s->targets = dl_malloc((size_t)l->n * (size_t)k);
    else s->label = dl_malloc((size_t)l->n * sizeof *s->label);
    uint8_t *scratch = dl_malloc(s->bytes);
    JpegCodec jc = { 0 };
    Progress pg = { .tty = isatty(STDERR_FILENO), .total = l->n, .t0 = dl_now() };
    DlStatus st = DL_OK;
    for (int64_t i = 0; i < l->n && st == DL_OK; i++) {
        uint8_t *buf = NULL, *img = NULL;
        size_t len = 0;
        int h, w, c;
        DlStatus bad = prep_read_bytes(l->path[i], &buf, &len);
        if (bad == DL_OK) bad = jpeg_decode(&jc, buf, len, C, S, S, l->path[i], &img, &h, &w, &c);
        dl_free(buf);
        if (bad != DL_OK) {
            if (o->strict) {
                char why[2048];
                snprintf(why, sizeof why, "%s", dl_errmsg());
                st = dl_fail(bad, "%s (--strict stops at the first bad file: fix or remove it, or drop --strict to skip it)", why);
            } else {
                warn(&pg, "skipped %s", dl_errmsg());
                (*skipped)++;
            }
            progress_tick(&pg);
            continue;
        }
        uint8_t *dst = store_jpeg ? scratch : s->images + (size_t)s->n * s->bytes;
        resize_image(dst, S, S, img, h, w, C);
        dl_free(img);
        if (store_jpeg) st = jpeg_encode(&jc, scratch, S, S, C, o->quality, &s->jpeg[s->n], &s->jpeg_size[s->n]);
        if (multi) memcpy(s->targets + (size_t)s->n * k, l->targets + (size_t)i * k, (size_t)k);
        else s->label[s->n] = l->label[i];
        s->n++;
        progress_tick(&pg);
    }
    progress_clear(&pg);
    jpeg_codec_free(&jc);
    dl_free(scratch);
    return st;
}

/* Moves the samples with pick[i] set from s into v (in order) and closes the
 * gaps in s, so the raw pixels are never all copied. */
static void samples_split(Samples *v, Samples *s, const uint8_t *pick) {
    int64_t nv = 0;
    for (int64_t i = 0; i < s->n; i++) nv += pick[i];
    *v = (Samples){ .n = nv, .k = s->k, .multi = s->multi, .bytes = s->bytes };
    if (s->jpeg) {
        v->jpeg = dl_calloc((size_t)nv, sizeof *v->jpeg);
        v->jpeg_size = dl_calloc((size_t)nv, sizeof *v->jpeg_size);
    } else {
        v->images = dl_malloc((size_t)nv * s->bytes);
    }
    if (s->multi) v->targets = dl_malloc((size_t)nv * (size_t)s->k);
    else v->label = dl_malloc((size_t)nv * sizeof *v->label);
    int64_t a = 0, b = 0;   /* next slot in s, in v */
    for (int64_t i = 0; i < s->n; i++) {
        Samples *d = pick[i] ? v : s;
        int64_t j = pick[i] ? b++ : a++;
        if (s->jpeg) { d->jpeg[j] = s->jpeg[i]; d->jpeg_size[j] = s->jpeg_size[i]; }
        else memmove(d->images + (size_t)j * s->bytes, s->images + (size_t)i * s->bytes, s->bytes);
        if (s->multi) memmove(d->targets + (size_t)j * s->k, s->targets + (size_t)i * s->k, (size_t)s->k);
        else d->label[j] = s->label[i];
    }
    s->n = a;
}

/* pick[i] = 1 for the samples that go to validation: per group (class for
 * single-label, one group for multi-label), the group's samples in import
 * order are shuffled by a generator keyed (seed, RNG_SPLIT, group) and the
 * first round(F * count) are taken, leaving at least one for training. */
static uint8_t *split_pick(const Samples *s, float fraction, uint64_t seed) {
    uint8_t *pick = dl_calloc((size_t)s->n + 1, 1);
    int64_t *idx = dl_malloc(((size_t)s->n + 1) * sizeof *idx);
    int groups = s->multi ? 1 : s->k;
    for (int g = 0; g < groups; g++) {
        int64_t m = 0;
        for (int64_t i = 0; i < s->n; i++)
            if (s->multi || s->label[i] == g) idx[m++] = i;
        DlRng r = { dl_hash(seed, RNG_SPLIT, (uint64_t)g, 0) };
        rng_shuffle(&r, idx, m);
        int64_t nv = llround((double)fraction * (double)m);
        if (nv > m - 1) nv = m - 1;         /* every class keeps a training image */
        for (int64_t i = 0; i < nv; i++) pick[idx[i]] = 1;
    }
    dl_free(idx);
    return pick;
}

static DlStatus samples_write(const char *path, const Samples *s, const ImportOpts *o, char **names) {
    if (s->n == 0)
        return dl_fail(DL_EARG, "no images for '%s' (raise --valid-fraction, or add images)", path);
    int S = o->size, C = o->channels;
    DlStatus st = dataset_write_presized(path, s->images, s->jpeg, s->jpeg_size, s->n, S, S, C, s->label, s->targets, s->k,
                                         names, "squash");   /* import_files' jpeg_decode + resize_image */
    if (st != DL_OK) return st;
    size_t stored = 0;
    for (int64_t i = 0; s->jpeg && i < s->n; i++) stored += s->jpeg_size[i];
    if (s->jpeg)
        printf("dlprep: wrote %s: %lld images %dx%d %s as JPEG (quality %d, %.1f KiB each), %d %s\n", path,
               (long long)s->n, S, S, C == 1 ? "grey" : "RGB", o->quality, stored / 1024.0 / (double)s->n, s->k,
               s->multi ? "tags" : "classes");
    else
        printf("dlprep: wrote %s: %lld images %dx%d %s, %d %s\n", path, (long long)s->n, S, S, C == 1 ? "grey" : "RGB",
               s->k, s->multi ? "tags" : "classes");
    return DL_OK;
}

/* Writes the training part to o->out and, when v is non-NULL, the other part
 * to o->valid_out; if the second write fails the first file is removed, so
 * a pair is never half written. */
static DlStatus write_outputs(const Samples *t, const Samples *v, const ImportOpts *o, char **names,
                              int64_t skipped) {
    DlStatus st = samples_write(o->out, t, o, names);
    if (st == DL_OK && v) {
        st = samples_write(o->valid_out, v, o, names);
        if (st != DL_OK) remove(o->out);
    }
    if (st == DL_OK)
        printf("dlprep: imported %lld, skipped %lld\n", (long long)(t->n + (v ? v->n : 0)), (long long)skipped);
    return st;
}

/* The flags shared by folder and csv; *o gets their defaults first. */
#define IMPORT_FLAGS(o)                                                                                          \
    { "o", F_STR, &(o).out, NULL, "output dataset file (.h5); with a split, the training part" },                \
    { "size", F_INT, &(o).size, NULL, "presize: every image squashed whole to SIZE x SIZE pixels", FLAG_IN(1, 4096) },             \
    { "channels", F_INT, &(o).channels, "3", "3: RGB (grey images repeated); 1: grey (colour as BT.601 luma)", FLAG_IN(1, 3) }, \
    { "store", F_STR, &(o).store, "raw", "raw: uint8 pixels (/images); jpeg: re-encoded JPEGs (/jpeg), smaller" }, \
    { "quality", F_INT, &(o).quality, "95", "JPEG quality 1..100 with --store jpeg", FLAG_IN(1, 100) },                           \
    { "valid-fraction", F_FLOAT, &(o).valid_fraction, "0", "share of images held out for validation", FLAG_IN_CO(0, 1) },          \
    { "valid-out", F_STR, &(o).valid_out, "none", "validation output file (.h5)" },                              \
    { "seed", F_U64, &(o).seed, "1", "seed of the validation split" },                                          \
    { "strict", F_BOOL, &(o).strict, NULL, "stop at the first bad file instead of skipping it" }

static DlStatus check_import_opts(const ImportOpts *o, int argc, char **argv, const char *cmd) {
    if (o->size < 1 || o->size > 4096) return dl_fail(DL_EARG, "%s: --size is required, 1..4096 pixels (e.g. --size 64)", cmd);
    if (o->channels != 1 && o->channels != 3) return dl_fail(DL_EARG, "%s: --channels must be 1 or 3, not %d", cmd, o->channels);
    if (strcmp(o->store, "raw") && strcmp(o->store, "jpeg"))
        return dl_fail(DL_EARG, "%s: --store must be raw or jpeg, not '%s'", cmd, o->store);
    if (o->quality < 1 || o->quality > 100) return dl_fail(DL_EARG, "%s: --quality must be 1..100, not %d", cmd, o->quality);
    if (flags_given(argc, argv, "quality") && strcmp(o->store, "jpeg"))
        return dl_fail(DL_EARG, "%s: --quality applies only with --store jpeg", cmd);
    if (!(o->valid_fraction >= 0.0f && o->valid_fraction < 1.0f))
        return dl_fail(DL_EARG, "%s: --valid-fraction must be in [0, 1), e.g. 0.2", cmd);
    if (o->valid_out && !strcmp(o->valid_out, o->out))
        return dl_fail(DL_EARG, "%s: -o and --valid-out name the same file '%s'", cmd, o->out);
    return DL_OK;
}

/* The first `count` arguments are positional (not flags). */
static DlStatus take_positional(int argc, char **argv, int count, const char *cmd, const char *what) {
    for (int i = 0; i < count; i++)
        if (i >= argc || argv[i][0] == '-')
            return dl_fail(DL_EARG, "%s: the first argument%s must be %s (see %s --help)", cmd, count > 1 ? "s" : "", what, cmd);
    return DL_OK;
}

/* ---- dlprep folder ---- */

/* Adds the .jpg/.jpeg files under dir (sorted, recursively) with `label`;
 * other files are skipped with a warning. */
static DlStatus collect_files(FileList *l, const char *dir, int32_t label, int depth, int64_t *skipped) {
    if (depth > 32) return dl_fail(DL_EFORMAT, "'%s' is nested more than 32 folders deep (a symlink loop?)", dir);
    char **names;
    int n;
    DlStatus st = list_dir(dir, &names, &n);
    Progress quiet = { 0 };
    for (int i = 0; i < n && st == DL_OK; i++) {
        char *p = join(dir, names[i]);
        if (is_dir(p)) st = collect_files(l, p, label, depth + 1, skipped);
        else if (has_jpeg_ext(names[i])) { filelist_add(l, p, label); p = NULL; }   /* unreadable ones: reported at import */
        else { warn(&quiet, "skipped %s: not a .jpg/.jpeg file", p); (*skipped)++; }
        dl_free(p);
    }
    prep_free_strs(names, n);
    return st;
}

/* The class folders of dir (sorted); files beside them are reported and
 * left alone. */
static DlStatus list_classes(const char *dir, char ***classes, int *k) {
    char **names;
    int n;
    DlStatus st = list_dir(dir, &names, &n);
    if (st != DL_OK) return st;
    *classes = dl_calloc((size_t)n + 1, sizeof **classes);
    *k = 0;
    Progress quiet = { 0 };
    for (int i = 0; i < n; i++) {
        char *p = join(dir, names[i]);
        if (is_dir(p)) (*classes)[(*k)++] = dl_strdup(names[i]);
        else warn(&quiet, "ignored %s: not in a class folder", p);
        dl_free(p);
    }
    prep_free_strs(names, n);
    if (*k == 0) {
        prep_free_strs(*classes, 0);
        *classes = NULL;
        return dl_fail(DL_EFORMAT, "'%s' has no class folders; expected %s/<class>/*.jpg (one folder per class)", dir, dir);
    }
    return DL_OK;
}

/* Every class folder's files, in class order; an empty class folder is an error. */
static DlStatus collect_tree(FileList *l, const char *dir, char **classes, int k, int64_t *skipped) {
    DlStatus st = DL_OK;
    for (int c = 0; c < k && st == DL_OK; c++) {
        char *p = join(dir, classes[c]);
        int64_t before = l->n;
        st = collect_files(l, p, c, 0, skipped);
        if (st == DL_OK && l->n == before)
            st = dl_fail(DL_EFORMAT, "class folder '%s' holds no .jpg/.jpeg files; add images or remove the folder", p);
        dl_free(p);
    }
    return st;
}

/* A class with no readable image cannot be learned: refuse it by name. */
static DlStatus check_classes_present(const Samples *s, const char *dir, char **classes) {
    int64_t *count = dl_calloc((size_t)s->k, sizeof *count);
    for (int64_t i = 0; i < s->n; i++) count[s->label[i]]++;
    DlStatus st = DL_OK;
    for (int c = 0; c < s->k && st == DL_OK; c++)
        if (!count[c])
            st = dl_fail(DL_EFORMAT, "class folder '%s/%s' has no readable JPEG (every file was skipped); fix or remove them",
                         dir, classes[c]);
    dl_free(count);
    return st;
}

static const char folder_usage[] =
    "usage: dlprep folder DIR -o out.h5 --size S [--channels 1|3] [--store raw|jpeg]\n"
    "                     [--valid-fraction F --valid-out valid.h5] [--seed N] [--strict] [--quality Q]\n\n"
    "Imports DIR/<class>/*.jpg: one subfolder per class; the folder names, sorted bytewise, become\n"
    "class_names (files in deeper subfolders belong to their class folder). When DIR holds train/ and\n"
    "valid/ (or val/, or test/) with the same class folders, both are imported: train/ to -o, the\n"
    "other to --valid-out. Otherwise --valid-fraction F holds out round(F * n) images of each class\n"
    "(a stratified split, keyed by --seed).\n"
    "Presizing: stored at S, crop later. Each image is squashed whole to S x S (aspect ratio not kept,\n"
    "nothing cut off; fastai's Resize(method='squash')): area averaging where it shrinks, bilinear\n"
    "where it grows. Random crops and flips belong to training (dltrain train --augment).\n"
    "Bad files (damaged or empty JPEGs, other formats named .jpg, unreadable files) are skipped with\n"
    "one warning each; --strict makes the first one an error. Files not named .jpg/.jpeg are skipped\n"
    "with a warning; names starting with '.' are ignored.";

static DlStatus prep_folder(int argc, char **argv) {
    ImportOpts o = { .channels = 3, .store = "raw", .quality = 95, .seed = 1 };
    const Flag flags[] = { IMPORT_FLAGS(o) };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) { flags_print(folder_usage, flags, nflags); return DL_OK; }
    DlStatus st = take_positional(argc, argv, 1, "dlprep folder", "the image folder (dlprep folder DIR -o out.h5 --size S)");
    if (st != DL_OK) return st;
    const char *dir = argv[0];
    dash_o(argc - 1, argv + 1);
    st = flags_parse(flags, nflags, argc - 1, argv + 1, "dlprep folder");
    if (st == DL_OK) st = check_import_opts(&o, argc - 1, argv + 1, "dlprep folder");
    if (st != DL_OK) return st;
    if (!is_dir(dir))
        return dl_fail(DL_EIO, "dlprep folder: '%s' %s (expected DIR/<class>/*.jpg)", dir,
                       access(dir, F_OK) == 0 ? "is not a folder" : "does not exist");

    /* train/ + valid/ (or val/, test/) layout? */
    char *train_dir = join(dir, "train"), *other_dir = NULL;
    const char *others[] = { "valid", "val", "test" };
    if (has_subdir(train_dir))
        for (int i = 0; i < 3 && !other_dir; i++) {
            char *p = join(dir, others[i]);
            if (is_dir(p)) other_dir = p;
            else dl_free(p);
        }
    char **classes = NULL, **vclasses = NULL;
    int k = 0, vk = 0;
    int64_t skipped = 0;
    FileList tl = { 0 }, vl = { 0 };
    Samples ts = { 0 }, vs = { 0 };
    if (other_dir) {
        if (o.valid_fraction > 0)
            st = dl_fail(DL_EARG, "dlprep folder: '%s' is already split into train/ and %s; drop --valid-fraction",
                         dir, strrchr(other_dir, '/') + 1);
        else if (!o.valid_out)
            st = dl_fail(DL_EARG, "dlprep folder: '%s' holds train/ and %s/; give --valid-out FILE for the second "
                         "(or import %s alone)", dir, strrchr(other_dir, '/') + 1, train_dir);
        if (st == DL_OK) st = list_classes(train_dir, &classes, &k);
        if (st == DL_OK) st = list_classes(other_dir, &vclasses, &vk);
        for (int i = 0, j = 0; st == DL_OK && (i < k || j < vk);) {   /* both sorted: walk them together */
            int c = i == k ? 1 : j == vk ? -1 : strcmp(classes[i], vclasses[j]);
            if (c < 0)
                st = dl_fail(DL_EFORMAT, "dlprep folder: class folder '%s/%s' has no match in '%s'; both need the same classes",
                             train_dir, classes[i], other_dir);
            else if (c > 0)
                st = dl_fail(DL_EFORMAT, "dlprep folder: class folder '%s/%s' has no match in '%s'; both need the same classes",
                             other_dir, vclasses[j], train_dir);
            i++, j++;
        }
        if (st == DL_OK) {
            char **names;
            int n;
            if (list_dir(dir, &names, &n) == DL_OK) {
                Progress quiet = { 0 };
                for (int i = 0; i < n; i++) {
                    char *p = join(dir, names[i]);
                    if (strcmp(p, train_dir) && strcmp(p, other_dir))
                        warn(&quiet, "ignored %s: only train/ and %s/ are imported", p, strrchr(other_dir, '/') + 1);
                    dl_free(p);
                }
                prep_free_strs(names, n);
            }
        }
        if (st == DL_OK) st = collect_tree(&tl, train_dir, classes, k, &skipped);
        if (st == DL_OK) st = collect_tree(&vl, other_dir, classes, k, &skipped);
    } else {
        if (o.valid_out && o.valid_fraction == 0)
            st = dl_fail(DL_EARG, "dlprep folder: --valid-out needs --valid-fraction F ('%s' has no train/ and valid/ or test/ folders)", dir);
        else if (o.valid_fraction > 0 && !o.valid_out)
            st = dl_fail(DL_EARG, "dlprep folder: --valid-fraction needs --valid-out FILE for the held-out images");
        if (st == DL_OK) st = list_classes(dir, &classes, &k);
        if (st == DL_OK) st = collect_tree(&tl, dir, classes, k, &skipped);
    }
    if (st == DL_OK) st = import_files(&ts, &tl, k, 0, &o, &skipped);
    if (st == DL_OK) st = check_classes_present(&ts, other_dir ? train_dir : dir, classes);
    if (st == DL_OK && other_dir) st = import_files(&vs, &vl, k, 0, &o, &skipped);
    if (st == DL_OK && o.valid_fraction > 0) {
        uint8_t *pick = split_pick(&ts, o.valid_fraction, o.seed);
        samples_split(&vs, &ts, pick);
        dl_free(pick);
    }
    if (st == DL_OK) st = write_outputs(&ts, o.valid_out ? &vs : NULL, &o, classes, skipped);
    samples_free(&ts);
    samples_free(&vs);
    filelist_free(&tl);
    filelist_free(&vl);
    prep_free_strs(classes, k);
    prep_free_strs(vclasses, vk);
    dl_free(train_dir);
    dl_free(other_dir);
    return st;
}

/* ---- dlprep csv ---- */

static const char csv_usage[] =
    "usage: dlprep csv LABELS.csv --images DIR -o out.h5 --size S [--channels 1|3] [--store raw|jpeg]\n"
    "                  [--valid-fraction F --valid-out valid.h5] [--seed N] [--strict] [--quality Q]\n\n"
    "Imports a multi-label set in the style of Kaggle's Planet: a header 'image_name,tags', then one\n"
    "line per image, its tags separated by spaces (none is fine). The image of a line is\n"
    "DIR/image_name if that file exists, else DIR/image_name.jpg. The sorted set of all tags becomes\n"
    "class_names; /targets (N, K) holds 0/1 per image and tag (task \"multi\").\n"
    "--valid-fraction F holds out round(F * n) images chosen at random (keyed by --seed); the split\n"
    "is not stratified, as images carry several tags.\n"
    "Presizing: stored at S, crop later: each image is squashed whole to S x S (fastai's\n"
    "Resize(method='squash')), area averaging where it shrinks, bilinear where it grows.\n"
    "Damaged files are skipped with a warning (--strict: an error); a line naming a missing image,\n"
    "a malformed line or an unknown header is an error naming LABELS.csv:LINE.";

static DlStatus prep_csv(int argc, char **argv) {
    ImportOpts o = { .channels = 3, .store = "raw", .quality = 95, .seed = 1 };
    const char *images = NULL;
    const Flag flags[] = {
        { "images", F_STR, &images, NULL, "folder that holds the images named in the CSV" },
        IMPORT_FLAGS(o),
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) { flags_print(csv_usage, flags, nflags); return DL_OK; }
    DlStatus st = take_positional(argc, argv, 1, "dlprep csv", "the labels file (dlprep csv LABELS.csv --images DIR -o out.h5 --size S)");
    if (st != DL_OK) return st;
    const char *csv = argv[0];
    dash_o(argc - 1, argv + 1);
    st = flags_parse(flags, nflags, argc - 1, argv + 1, "dlprep csv");
    if (st == DL_OK) st = check_import_opts(&o, argc - 1, argv + 1, "dlprep csv");
    if (st == DL_OK && (o.valid_fraction > 0) != (o.valid_out != NULL))
        st = dl_fail(DL_EARG, "dlprep csv: --valid-fraction and --valid-out go together");
    if (st == DL_OK && !is_dir(images)) st = dl_fail(DL_EIO, "dlprep csv: --images '%s' is not a folder", images);
    if (st != DL_OK) return st;
    CsvRow *rows = NULL;
    int nrows = 0, k = 0;
    char **vocab = NULL;
    FileList fl = { 0 };
    Samples ts = { 0 }, vs = { 0 };
    int64_t skipped = 0;
    st = prep_csv_read(csv, &rows, &nrows);
    /* Every line's image must exist before any is decoded. */
    for (int i = 0; st == DL_OK && i < nrows; i++) {
        char *p = join(images, rows[i].name);
        if (!is_file(p)) {
            char *q = dl_malloc(strlen(p) + 5);
            sprintf(q, "%s.jpg", p);
            if (!is_file(q))
                st = dl_fail(DL_EIO, "%s:%d: no image '%s' in %s (looked for %s and %s); check --images, or remove the line",
                             csv, rows[i].line, rows[i].name, images, p, q);
            dl_free(p);
            p = q;
        }
        filelist_add(&fl, p, -1);
    }
    if (st == DL_OK) {   /* the tag vocabulary: every tag of every line, sorted bytewise */
        int total = 0;
        for (int i = 0; i < nrows; i++) total += rows[i].ntags;
        vocab = dl_calloc((size_t)total + 1, sizeof *vocab);
        for (int i = 0; i < nrows; i++)
            for (int t = 0; t < rows[i].ntags; t++) vocab[k++] = rows[i].tags[t];
        qsort(vocab, (size_t)k, sizeof *vocab, cmp_str);
        int u = 0;
        for (int i = 0; i < k; i++) if (!u || strcmp(vocab[u - 1], vocab[i])) vocab[u++] = vocab[i];
        k = u;
        for (int i = 0; i < k; i++) vocab[i] = dl_strdup(vocab[i]);
        if (k == 0) st = dl_fail(DL_EFORMAT, "%s: no line has a tag; expected 'image_name,tag1 tag2 ...'", csv);
    }
    if (st == DL_OK) {
        fl.targets = dl_calloc((size_t)nrows * (size_t)k, 1);
        for (int i = 0; i < nrows; i++)
            for (int t = 0; t < rows[i].ntags; t++) {
                char **hit = bsearch(&rows[i].tags[t], vocab, (size_t)k, sizeof *vocab, cmp_str);
                fl.targets[(size_t)i * k + (size_t)(hit - vocab)] = 1;
            }
        st = import_files(&ts, &fl, k, 1, &o, &skipped);
    }
    if (st == DL_OK && ts.n == 0)
        st = dl_fail(DL_EFORMAT, "%s: none of its %d images could be read (see the warnings above)", csv, nrows);
    if (st == DL_OK && o.valid_fraction > 0) {
        uint8_t *pick = split_pick(&ts, o.valid_fraction, o.seed);
        samples_split(&vs, &ts, pick);
        dl_free(pick);
    }
    if (st == DL_OK) st = write_outputs(&ts, o.valid_out ? &vs : NULL, &o, vocab, skipped);
    for (int i = 0; i < nrows; i++) { dl_free(rows[i].name); prep_free_strs(rows[i].tags, rows[i].ntags); }
    dl_free(rows);
    prep_free_strs(vocab, k);
    filelist_free(&fl);
    samples_free(&ts);
    samples_free(&vs);
    return st;
}

/* ---- dlprep export ---- */

/* A folder or file name for a class or tag: '/' (and, for tags, spaces and
 * commas) become '_', and a leading '.' (hidden, which import ignores) too. */
static char *safe_name(const char *s, int tag, int i) {
    if (!*s) {
        char b[32];
        snprintf(b, sizeof b, "%s%d", tag ? "tag" : "class", i);
        return dl_strdup(b);
    }
    char *r = dl_strdup(s);
    for (char *p = r; *p; p++)
        if (*p == '/' || (tag && (isspace((unsigned char)*p) || *p == ',' || *p == '"'))) *p = '_';
    if (r[0] == '.') r[0] = '_';
    return r;
}

static DlStatus make_dir(const char *dir) { return dl_mkdir_p(dir); }

static DlStatus write_bytes(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return dl_fail(DL_EIO, "cannot write '%s': %s", path, strerror(errno));
    int ok = fwrite(b, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok) { remove(path); return dl_fail(DL_EIO, "cannot write '%s' (disk full?)", path); }
    return DL_OK;
}

static const char export_usage[] =
    "usage: dlprep export DATA.h5 DIR [--limit N] [--size S] [--channels 1|3] [--quality Q] [--format jpeg]\n\n"
    "Writes a dataset file back out as JPEG files, to look at it or to re-import it: single-label\n"
    "sets as DIR/<class>/<index>.jpg (what `dlprep folder` reads), multi-label sets as\n"
    "DIR/<index>.jpg plus DIR/labels.csv (image_name,tags; what `dlprep csv` reads). '/' in class\n"
    "names and spaces in tags become '_'. Files of the same name in DIR are replaced.";

static DlStatus prep_export(int argc, char **argv) {
    const char *format = "jpeg";
    int limit = 0, size = 0, channels = 0, quality = 95;
    const Flag flags[] = {
        { "limit", F_INT, &limit, "0", "export only the first N images (0: all)", FLAG_IN(0, 2147483647) },
        { "size", F_INT, &size, "stored size", "squash each image to S x S (area / bilinear, as the imports)", FLAG_IN(1, 4096) },
        { "channels", F_INT, &channels, "stored channels", "1: grey (BT.601 luma); 3: RGB", FLAG_IN(1, 3) },
        { "quality", F_INT, &quality, "95", "JPEG quality 1..100", FLAG_IN(1, 100) },
        { "format", F_STR, &format, "jpeg", "image format (only jpeg so far)" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) { flags_print(export_usage, flags, nflags); return DL_OK; }
    DlStatus st = take_positional(argc, argv, 2, "dlprep export", "the dataset file and the output folder (dlprep export DATA.h5 DIR)");
    if (st != DL_OK) return st;
    const char *data = argv[0], *dir = argv[1];
    st = flags_parse(flags, nflags, argc - 2, argv + 2, "dlprep export");
    if (st != DL_OK) return st;
    if (strcmp(format, "jpeg")) return dl_fail(DL_EARG, "dlprep export: --format must be jpeg (the only format so far), not '%s'", format);
    if (limit < 0) return dl_fail(DL_EARG, "dlprep export: --limit must be >= 0");
    if (size < 0 || size > 4096) return dl_fail(DL_EARG, "dlprep export: --size must be 1..4096");
    if (channels != 0 && channels != 1 && channels != 3) return dl_fail(DL_EARG, "dlprep export: --channels must be 1 or 3");
    if (quality < 1 || quality > 100) return dl_fail(DL_EARG, "dlprep export: --quality must be 1..100");
    Dataset d;
    st = dataset_open(&d, data);
    if (st != DL_OK) return st;
    int64_t n = limit > 0 && limit < d.n ? limit : d.n;
    int S_h = size ? size : d.h, S_w = size ? size : d.w, C = channels ? channels : d.c;
    char **names = dl_calloc((size_t)d.k, sizeof *names);
    for (int i = 0; i < d.k; i++) {
        names[i] = safe_name(d.class_names[i], d.multi, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {   /* two names that differ only where '_' replaced something */
                char *r = dl_malloc(strlen(names[i]) + 16);
                sprintf(r, "%s_%d", names[i], i);
                dl_free(names[i]);
                names[i] = r;
                break;
            }
    }
    st = make_dir(dir);
    for (int i = 0; st == DL_OK && !d.multi && i < d.k; i++) {
        char *p = join(dir, names[i]);
        st = make_dir(p);
        dl_free(p);
    }
    FILE *csv = NULL;
    char *csv_path = join(dir, "labels.csv");
    if (st == DL_OK && d.multi) {
        if (!(csv = fopen(csv_path, "w"))) st = dl_fail(DL_EIO, "cannot write '%s': %s", csv_path, strerror(errno));
        else fputs("image_name,tags\n", csv);
    }
    int width = 6;
    for (int64_t m = n - 1; m >= 1000000; m /= 10) width++;
    uint8_t *conv = dl_malloc((size_t)d.h * d.w * C), *sized = dl_malloc((size_t)S_h * S_w * C);
    JpegCodec jc = { 0 };
    for (int64_t i = 0; st == DL_OK && i < n; i++) {
        const uint8_t *src = d.images + (size_t)i * d.h * d.w * d.c;
        image_convert_channels(conv, C, src, d.c, (size_t)d.h * d.w);
        resize_image(sized, S_h, S_w, conv, d.h, d.w, C);
        uint8_t *jpg;
        size_t len;
        st = jpeg_encode(&jc, sized, S_h, S_w, C, quality, &jpg, &len);
        if (st != DL_OK) break;
        char file[64], num[24];
        int len_num = snprintf(num, sizeof num, "%lld", (long long)i);
        snprintf(file, sizeof file, "%.*s%s.jpg", width > len_num ? width - len_num : 0, "000000000000000000", num);
        char *sub = d.multi ? dl_strdup(dir) : join(dir, names[d.labels[i]]);
        char *p = join(sub, file);
        st = write_bytes(p, jpg, len);
        if (st == DL_OK && csv) {
            fprintf(csv, "%.*s,", (int)(strlen(file) - 4), file);
            for (int t = 0, first = 1; t < d.k; t++)
                if (d.targets[(size_t)i * d.k + t]) { fprintf(csv, "%s%s", first ? "" : " ", names[t]); first = 0; }
            fputc('\n', csv);
        }
        dl_free(p);
        dl_free(sub);
        dl_free(jpg);
    }
    if (csv && fclose(csv) != 0 && st == DL_OK) st = dl_fail(DL_EIO, "cannot write '%s' (disk full?)", csv_path);
    if (st == DL_OK)
        printf("dlprep: exported %lld images %dx%d %s to %s (%s)\n", (long long)n, S_w, S_h, C == 1 ? "grey" : "RGB", dir,
               d.multi ? "labels.csv" : "one folder per class");
    jpeg_codec_free(&jc);
    dl_free(conv);
    dl_free(sized);
    dl_free(csv_path);
    prep_free_strs(names, d.k);
    dataset_close(&d);
    return st;
}

static void usage(FILE *f) {
    fprintf(f,
            "dlprep %s: make dltrain's HDF5 dataset files\n\n"
            "usage: dlprep COMMAND [flags]   (dlprep COMMAND --help for its flags)\n\n"
            "commands:\n"
            "  idx       IDX image + label files (MNIST, Fashion-MNIST), gzip or not\n"
            "  folder    a folder of JPEGs, one subfolder per class (single-label)\n"
            "  csv       JPEGs with Planet-style image_name,tags labels (multi-label)\n"
            "  export    write a dataset file back out as JPEG files\n"
            "  subset    some classes of a dataset (relabelled), optionally N images of each\n\n"
            "folder and csv presize: each image is squashed whole to --size S (stored at S, crop later).\n",
            DLTRAIN_VERSION);
}

int dl_dlprep_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("dlprep %s\n", DLTRAIN_VERSION); return 0; }
    DlStatus st;
    if (!strcmp(argv[1], "idx")) st = prep_idx(argc - 2, argv + 2);
    else if (!strcmp(argv[1], "folder")) st = prep_folder(argc - 2, argv + 2);
    else if (!strcmp(argv[1], "csv")) st = prep_csv(argc - 2, argv + 2);
    else if (!strcmp(argv[1], "export")) st = prep_export(argc - 2, argv + 2);
    else if (!strcmp(argv[1], "subset")) st = prep_subset(argc - 2, argv + 2);
    else {
        fprintf(stderr, "dlprep: unknown command '%s' (commands: idx, folder, csv, export, subset; see dlprep --help)\n", argv[1]);
        return 2;
    }
    if (st != DL_OK) {
        flags_error("dlprep", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}
