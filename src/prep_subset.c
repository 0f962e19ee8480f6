/* prep_subset.c: `dlprep subset`, a new dataset file from some classes of
 * another (relabelled 0..k-1 in the order given), optionally only the first
 * N images of each class in a seeded random order: the small target sets of
 * transfer learning, and quick experiments. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "flags.h"
#include "prep_subset.h"

/* Resolves one --classes entry: a class name, or an index. */
static int class_index(const Dataset *d, const char *tok) {
    for (int i = 0; i < d->k; i++) if (!strcmp(d->class_names[i], tok)) return i;
    char *end;
    long v = strtol(tok, &end, 10);
    return *tok && !*end && v >= 0 && v < d->k ? (int)v : -1;
}

DlStatus prep_subset(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *classes = NULL;
    int per_class = 0;
    uint64_t seed = 1;
    const Flag flags[] = {
        { "classes", F_STR, &classes, NULL, "comma-separated class names or indices to keep, in their new order" },
        { "per-class", F_INT, &per_class, "0", "keep N images of each class, chosen at random from --seed (0: all)", FLAG_IN(0, 2147483647) },
        { "seed", F_U64, &seed, "1", "seed of the choice" },
        { "o", F_STR, &out, NULL, "output dataset file (.h5)" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        flags_print("usage: dlprep subset IN.h5 --classes a,b,... [--per-class N] [--seed S] -o out.h5", flags, nflags);
        return DL_OK;
    }
    if (argc < 1 || !strncmp(argv[0], "--", 2))
        return dl_fail(DL_EARG, "dlprep subset: give the input dataset first (dlprep subset IN.h5 --classes ... -o out.h5)");
    in = argv[0];
    for (int i = 1; i < argc; i++) if (!strcmp(argv[i], "-o")) argv[i] = "--o";
    DlStatus st = flags_parse(flags, nflags, argc - 1, argv + 1, "dlprep subset");
    if (st != DL_OK) return st;
    if (per_class < 0) return dl_fail(DL_EARG, "dlprep subset: --per-class must be >= 0");
    Dataset d;
    st = dataset_open(&d, in);
    if (st != DL_OK) return st;
    if (d.multi) {
        dataset_close(&d);
        return dl_fail(DL_EARG, "dlprep subset: '%s' is multi-label; subset works on single-label datasets", in);
    }
    int k = 0, *pick = dl_calloc((size_t)d.k, sizeof(int));   /* pick[old] = new + 1 */
    char **names = dl_calloc((size_t)d.k, sizeof(char *));
    char *copy = dl_strdup(classes), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == DL_OK; tok = strtok_r(NULL, ",", &save)) {
        int c = class_index(&d, tok);
        if (c < 0) {
            char list[1024] = "";
            for (int i = 0; i < d.k && strlen(list) < sizeof list - 64; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", d.class_names[i]);
            st = dl_fail(DL_EFORMAT, "dlprep subset: '%s' has no class '%s' (its classes: %s; or an index 0..%d)", in, tok,
                         list, d.k - 1);
        }
        else if (pick[c]) st = dl_fail(DL_EARG, "dlprep subset: class '%s' is listed twice", tok);
        else { pick[c] = ++k; names[k - 1] = d.class_names[c]; }
    }
    dl_free(copy);
    if (st == DL_OK && k == 0) st = dl_fail(DL_EARG, "dlprep subset: --classes is empty");
    if (st == DL_OK) {
        /* per class, a seeded order of its samples; keep the first per_class */
        int64_t *order = dl_malloc(sizeof(int64_t) * (size_t)d.n), n = 0;
        int64_t *keep = dl_malloc(sizeof(int64_t) * (size_t)d.n);
        for (int c = 0; c < d.k; c++) {
            if (!pick[c]) continue;
            int64_t m = 0;
            for (int64_t i = 0; i < d.n; i++) if (d.labels[i] == c) order[m++] = i;
            if (per_class > 0) {
                DlRng r = { dl_hash(seed, RNG_SPLIT, (uint64_t)c, 0) };
                rng_shuffle(&r, order, m);
                if (m > per_class) m = per_class;
            }
            for (int64_t i = 0; i < m; i++) keep[n++] = order[i];
        }
        /* back in file order, so the subset reads like the original */
        for (int64_t i = 0; i < d.n; i++) order[i] = 0;
        for (int64_t i = 0; i < n; i++) order[keep[i]] = 1;
        size_t per = (size_t)d.h * d.w * d.c;
        uint8_t *img = dl_malloc(per * (size_t)(n ? n : 1));
        int32_t *lab = dl_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
        int64_t j = 0;
        for (int64_t i = 0; i < d.n; i++)
            if (order[i]) {
                memcpy(img + per * (size_t)j, d.images + per * (size_t)i, per);
                lab[j++] = pick[d.labels[i]] - 1;
            }
        if (n == 0) st = dl_fail(DL_EARG, "dlprep subset: no images of those classes in '%s'", in);
        else st = dataset_write_presized(out, img, NULL, NULL, n, d.h, d.w, d.c, lab, NULL, k, names, d.presize);
        if (st == DL_OK) printf("dlprep: wrote %s: %lld images, %d classes\n", out, (long long)n, k);
        dl_free(img); dl_free(lab); dl_free(order); dl_free(keep);
    }
    dl_free(pick);
    dl_free(names);
    dataset_close(&d);
    return st;
}
