/* cli.c: the `dltrain` command line. Every flag is declared once in a table
 * with its type and default; --help prints the table. Unknown flags are
 * errors. Only this file (through main) decides the exit status. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "checkpoint.h"
#include "cli_import.h"
#include "dist.h"
#include "evaluate.h"
#include "flags.h"
#include "dltrain.h"
#include "model.h"
#include "onnx/export.h"
#include "predict.h"
#include "run/commands.h"
#include "train.h"

/* Threads per rank: OPENBLAS_NUM_THREADS if set, else the node's cores
 * divided by the ranks on it (dist_local_size), at least 1. */
static int setup_threads(const Dist *d) {
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    int n = env ? atoi(env) : 0;
    if (n < 1) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = (int)(cores / dist_local_size(d));
        if (n < 1) n = 1;
    }
    openblas_set_num_threads(n);
    return n;
}

/* train, or (lr_find) the learning-rate range test with the same flags */
static int cmd_train(int argc, char **argv, const Dist *d, int lr_find) {
    TrainConfig c = { .epochs = 10, .batch = 64, .groups = 4, .lr = 0.05f, .momentum = 0.9f,
                      .seed = 1, .progress = -1, .check_every = 100,
                      .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step_epochs = 1, .gamma = 0.1f,
                      .threshold = 0.5f, .lr_mult = 100.0f, .cam = 8 };
    const char *fine_tune = NULL;
    int no_progress = 0, comm_timeout = DIST_DEFAULT_TIMEOUT;
    const Flag flags[] = {
        { "train", F_STR, &c.train_path, NULL, "training dataset (HDF5, from dlprep)" },
        { "valid", F_STR, &c.valid_path, lr_find ? "unused" : NULL, "validation dataset (HDF5), evaluated after every epoch" },
        { "model", F_STR, &c.model, "from --resume", "zoo model name or model file (see `dltrain summary`); required unless --resume" },
        { "out", F_STR, &c.out_dir, NULL, lr_find ? "output directory: lr_find.csv (and report.html)" : "run directory: last.h5, best.h5, metrics.csv, log.txt, events.jsonl, report.html" },
        { "overwrite", F_BOOL, &c.overwrite, NULL, "start a new run in an --out that already holds one (its checkpoints, log and metrics are replaced)" },
        { "cam", F_INT, &c.cam, "8", "report.html: Grad-CAM heat maps of this many validation images (half top losses, half right answers; 0: none)", FLAG_IN(0, 1000) },
        { "epochs", F_INT, &c.epochs, "10", "passes over the training data", FLAG_IN(1, 1000000) },
        { "batch", F_INT, &c.batch, "64", "global batch size (all ranks together)", FLAG_IN(1, 1 << 20) },
        { "groups", F_INT, &c.groups, "4", "fixed groups per batch (1 ... 1024); batch-norm statistics are per group; -np must divide it", FLAG_IN(1, 1 << 20) },
        { "lr", F_FLOAT, &c.lr, "0.05 (sgd), 1e-3 (adam, adamw)", "learning rate", FLAG_IN_OC(0, HUGE_VAL) },
        { "optimizer", F_STR, &c.optimizer, "sgd", "sgd, adam or adamw (PyTorch semantics)" },
        { "momentum", F_FLOAT, &c.momentum, "0.9", "SGD momentum", FLAG_IN_CO(0, 1) },
        { "nesterov", F_BOOL, &c.nesterov, NULL, "Nesterov momentum" },
        { "beta1", F_FLOAT, &c.beta1, "0.9", "Adam/AdamW beta1", FLAG_IN_CO(0, 1) },
        { "beta2", F_FLOAT, &c.beta2, "0.999", "Adam/AdamW beta2", FLAG_IN_CO(0, 1) },
        { "eps", F_FLOAT, &c.eps, "1e-8", "Adam/AdamW epsilon", FLAG_IN_OC(0, 1) },
        { "weight-decay", F_FLOAT, &c.weight_decay, "0", "weight decay on conv/dense weights (never biases or batch norm); L2 for sgd/adam, decoupled for adamw", FLAG_IN(0, 10) },
        { "schedule", F_STR, &c.schedule, "constant", "learning-rate schedule per step: constant, step, cosine, onecycle (lr is the peak)" },
        { "warmup", F_INT, &c.warmup, "0", "linear warmup over the first N steps (constant, step, cosine)", FLAG_IN(0, 2147483647) },
        { "step-epochs", F_INT, &c.step_epochs, "1", "step schedule: epochs between lr drops", FLAG_IN(1, 1000000) },
        { "gamma", F_FLOAT, &c.gamma, "0.1", "step schedule: lr factor per drop", FLAG_IN_OC(0, 1) },
        { "skip-nonfinite", F_BOOL, &c.skip_nonfinite, NULL, "skip a step whose loss or gradient is NaN/Inf (no update) instead of stopping" },
        { "clip", F_FLOAT, &c.clip, "0", "clip the gradient's global L2 norm to this (0: off)", FLAG_IN(0, HUGE_VAL) },
        { "seed", F_U64, &c.seed, "1", "seed of every random choice (init, shuffling, dropout, augmentation)" },
        { "topk", F_INT, &c.topk, "0", "also report top-k accuracy (single-label) / exact-match ratio (multi-label)", FLAG_IN(0, 100000) },
        { "fbeta", F_FLOAT, &c.fbeta, "0", "also report F-beta: macro over classes (single-label); per-sample mean, 2 by default (multi-label)", FLAG_IN(0, 1000) },
        { "best-metric", F_STR, &c.best_metric, "accuracy", "best.h5 keeps the epoch best by accuracy, valid_loss, fbeta or topk" },
        { "threshold", F_FLOAT, &c.threshold, "0.5", "multi-label: a tag is predicted when its probability exceeds this", FLAG_IN(0, 1) },
        { "augment", F_STR, &c.augment, "none", "training augmentation, comma-separated: crop=S, hflip, vflip, dihedral, translate=P, brightness=B, contrast=C, rotate=D, zoom=A:B, shear=S, warp=M" },
        { "limit", F_INT, &c.limit, "0", "train on the first N images only (0: all); for quick checks", FLAG_IN(0, 2147483647) },
        { "fast-allreduce", F_BOOL, &c.fast_allreduce, NULL, "use MPI_Allreduce: may be faster on a cluster, but weights are no longer bit-identical across -np" },
        { "resume", F_STR, &c.resume, "none", "continue a run exactly from its checkpoint (RUNDIR/last.h5); seed, batch, groups and model come from it" },
        { "init", F_STR, &c.init, "none", "transfer learning: start from this checkpoint's layers of the same name and shape (new head when the classes differ)" },
        { "reinit", F_STR, &c.reinit, "none", "with --init: comma-separated layers to start fresh anyway" },
        { "freeze", F_STR, &c.freeze, "none", "layers up to and including this one do not train (no backward; batch norm keeps its running statistics)" },
        { "unfreeze", F_BOOL, &c.unfreeze, NULL, "train every layer (the default; overrides --freeze)" },
        { "fine-tune", F_STR, &fine_tune, "none", "E1,E2: E1 epochs with all but the head frozen (or up to --freeze), then E2 epochs unfrozen at lr/2 with discriminative lrs; sets --epochs to E1+E2" },
        { "lr-mult", F_FLOAT, &c.lr_mult, "100", "--fine-tune phase 2: the first layer's lr is the head's / this (geometric in between)", FLAG_IN(1, 1e6) },
        { "stop-after", F_INT, &c.stop_after, "0", "stop after this many epochs, resumably (the schedule still spans --epochs)", FLAG_IN(0, 1000000) },
        { "checkpoint-every", F_INT, &c.checkpoint_every, "0", "also write last.h5 every N steps (0: at epoch ends only)", FLAG_IN(0, 2147483647) },
        { "check-every", F_INT, &c.check_every, "100", "compare a digest of every rank's weights every N steps; abort if they differ (0: never)", FLAG_IN(0, 2147483647) },
        { "memory-budget", F_INT, &c.memory_budget, "4096", "MiB of decoded training (and validation) images to hold in memory; a larger file is read from disk as it trains (0: no limit)", FLAG_IN(0, 2147483647) },
        { "normalize", F_BOOL, &c.normalize, NULL, "subtract the training file's per-channel mean and divide by its std (dlprep stores them), for training and validation" },
        { "profile", F_BOOL, &c.profile, NULL, "after each epoch, print forward/backward time per layer, data, allreduce and optimizer time" },
        { "no-progress", F_BOOL, &no_progress, NULL, "no progress bar or progress lines" },
        { "comm-timeout", F_INT, &comm_timeout, "300", "seconds a rank waits for a silent peer (a dead rank or link) before it ends the job, "
          "naming the peer and the checkpoint to resume from; above the slowest step and rank 0's validation + save (0: forever)" },
        /* lr-find only (last, so train's table stops before them) */
        { "start-lr", F_FLOAT, &c.find_start, "1e-7", "lr-find: first learning rate", FLAG_IN_OC(0, HUGE_VAL) },
        { "end-lr", F_FLOAT, &c.find_end, "10", "lr-find: last learning rate", FLAG_IN_OC(0, HUGE_VAL) },
        { "iters", F_INT, &c.lr_find, "100", "lr-find: steps, lr growing exponentially (stops early when the loss explodes)", FLAG_IN(1, 1000000) },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]) - (lr_find ? 0 : 3);
    if (lr_find) { c.lr_find = 100; c.find_start = 1e-7f; c.find_end = 10.0f; c.valid_path = "none"; }
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0)
            flags_print(lr_find ? "usage: [mpirun -np N] dltrain lr-find --train T.h5 --model NAME|FILE --out RUNDIR [train's flags]"
                                : "usage: [mpirun -np N] dltrain train --train T.h5 --valid V.h5 --model NAME|FILE --out RUNDIR [flags]",
                        flags, nflags);
        return 0;
    }
    DlStatus st = flags_parse(flags, nflags, argc, argv, lr_find ? "dltrain lr-find" : "dltrain train");
    if (st == DL_OK && lr_find && (c.lr_find < 2 || !(c.find_start > 0) || !(c.find_end > c.find_start)))
        st = dl_fail(DL_EARG, "dltrain lr-find: --iters must be >= 2 and 0 < --start-lr < --end-lr");
    if (st == DL_OK && fine_tune) {
        char extra;
        if (sscanf(fine_tune, "%d,%d%c", &c.fine_tune[0], &c.fine_tune[1], &extra) != 2 || c.fine_tune[0] < 1 || c.fine_tune[1] < 1)
            st = dl_fail(DL_EARG, "dltrain train: --fine-tune wants E1,E2 (two epoch counts >= 1, like 2,5), got '%s'", fine_tune);
        else if (flags_given(argc, argv, "epochs") && c.epochs != c.fine_tune[0] + c.fine_tune[1])
            st = dl_fail(DL_EARG, "dltrain train: --fine-tune %s trains %d epochs but --epochs says %d: drop --epochs",
                         fine_tune, c.fine_tune[0] + c.fine_tune[1], c.epochs);
        else c.epochs = c.fine_tune[0] + c.fine_tune[1];
    }
    if (st == DL_OK && comm_timeout < 0)
        st = dl_fail(DL_EARG, "dltrain train: --comm-timeout wants seconds >= 0 (0: wait forever), got %d", comm_timeout);
    if (st == DL_OK && c.init && c.resume)
        st = dl_fail(DL_EARG, "dltrain train: --init starts a new run from a checkpoint, --resume continues one: give one of them");
    if (st == DL_OK && !flags_given(argc, argv, "lr") && c.optimizer &&
        (!strcmp(c.optimizer, "adam") || !strcmp(c.optimizer, "adamw")))
        c.lr = 1e-3f;   /* Adam's usual default (PyTorch, Keras); SGD's 0.05 diverges with it */
    c.given.seed = flags_given(argc, argv, "seed");
    c.given.batch = flags_given(argc, argv, "batch");
    c.given.groups = flags_given(argc, argv, "groups");
    if (no_progress) c.progress = 0;
    if (st == DL_OK) {
        c.threads = setup_threads(d);
        dist_set_timeout(d, comm_timeout);
        st = train_run(&c, d);
    }
    if (st != DL_OK) {
        if (d->rank == 0) flags_error("dltrain", dl_errmsg());
        return st == DL_EARG ? 2 : st == DL_EINTR ? 3 : 1;
    }
    return 0;
}

static int parse_shape(const char *s, Shape *out) {
    return sscanf(s, "%d,%d,%d", &out->c, &out->h, &out->w) == 3 && out->c > 0 && out->h > 0 && out->w > 0;
}

static int cmd_summary(int argc, char **argv, const Dist *d) {
    const char *model = NULL, *data = NULL, *input = NULL;
    int classes = 10;
    const Flag flags[] = {
        { "model", F_STR, &model, NULL, "zoo model name, model file or checkpoint (e.g. from dltrain import)" },
        { "data", F_STR, &data, "none", "take input shape and classes from this dataset" },
        { "input", F_STR, &input, "1,28,28", "input channels,height,width (without --data)" },
        { "classes", F_INT, &classes, "10", "class count (without --data)", FLAG_IN(1, 100000) },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) {
            flags_print("usage: dltrain summary --model NAME|FILE|CKPT [--data D.h5 | --input C,H,W --classes K]", flags, nflags);
            printf("\nzoo models: %s\n", model_zoo_names());
        }
        return 0;
    }
    DlStatus st = flags_parse(flags, nflags, argc, argv, "dltrain summary");
    Shape in = { 0, 0, 0 };
    if (st == DL_OK && data) {
        Dataset ds;
        st = dataset_open_budget(&ds, data, 1);   /* streaming: the shape, no images read */
        if (st == DL_OK) { in = (Shape){ ds.c, ds.h, ds.w }; classes = ds.k; dataset_close(&ds); }
    } else if (st == DL_OK && input && !parse_shape(input, &in)) {
        st = dl_fail(DL_EARG, "summary: --input wants C,H,W like 3,64,64 (got '%s')", input);
    }
    char *text = NULL;
    Model m = { 0 };
    int from_ckpt = 0;
    if (st == DL_OK) st = model_text_any(&text, model, &from_ckpt);
    if (st == DL_OK && from_ckpt && !data && !flags_given(argc, argv, "classes")) classes = 0;   /* as the checkpoint has it */
    if (st == DL_OK) {
        /* Without --data or --input, an `input` line in the model file wins
         * over the default 1x28x28. */
        int guess = !data && !input;
        st = model_init(&m, text, model, in, classes, 1);
        if (st != DL_OK && guess && strstr(dl_errmsg(), "no input shape"))
            st = model_init(&m, text, model, (Shape){ 1, 28, 28 }, classes, 1);
    }
    if (st == DL_OK && d->rank == 0) model_summary(&m, stdout);
    model_free(&m);
    dl_free(text);
    if (st != DL_OK) {
        if (d->rank == 0) flags_error("dltrain", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}

/* dltrain eval: every metric of a checkpoint on a dataset, printed and as CSV. */
static DlStatus eval_run(const char *ckpt, const char *data, const char *csv, const char *pred_csv, EvalOptions *eo, int batch) {
    CheckpointInfo info;
    Dataset ds = { 0 };
    Model m = { 0 };
    DlStatus st = evaluate_open(&m, &ds, &info, ckpt, data, batch);
    if (st == DL_OK) {
        float *x = dl_malloc(sizeof(float) * (size_t)batch * shape_size(m.input));
        EvalResult r;
        if (pred_csv) eo->probs = dl_malloc(sizeof(float) * (size_t)ds.n * (size_t)ds.k);
        evaluate_run(&r, &m, &ds, eo, x);
        dl_free(x);
        printf("%s on %s: %lld images, %d %s\n", ckpt, data, (long long)ds.n, ds.k, ds.multi ? "tags" : "classes");
        printf("loss %.4f  accuracy %.4f", evaluate_loss(&r), evaluate_accuracy(&r));
        if (ds.multi)
            printf("  exact_match %.4f  f%g (samples) %.4f  micro %.4f  macro %.4f  (threshold %g)\n", multi_exact_match(&r.mlt),
                   eo->beta, multi_fbeta_samples(&r.mlt), multi_fbeta_micro(&r.mlt), multi_fbeta_macro(&r.mlt), eo->threshold);
        else
            printf("  top%d_accuracy %.4f  f%g (macro) %.4f\n", r.single.topk, single_topk_accuracy(&r.single), eo->beta,
                   single_fbeta_macro(&r.single, eo->beta));
        int k = ds.k, w = 12;
        for (int i = 0; i < k; i++) if ((int)strlen(ds.class_names[i]) > w) w = (int)strlen(ds.class_names[i]);
        printf("\n%-*s  %9s  %9s  %9s  %8s\n", w, ds.multi ? "tag" : "class", "precision", "recall", "f-beta", "support");
        for (int i = 0; i < k; i++) {
            int64_t tp, fp, fn;
            if (ds.multi) { tp = r.mlt.tp[i]; fp = r.mlt.fp[i]; fn = r.mlt.fn[i]; }
            else single_class_counts(&r.single, i, &tp, &fp, &fn);
            printf("%-*s  %9.4f  %9.4f  %9.4f  %8lld\n", w, ds.class_names[i], tp + fp ? (double)tp / (double)(tp + fp) : 0.0,
                   tp + fn ? (double)tp / (double)(tp + fn) : 0.0, metrics_fbeta(tp, fp, fn, eo->beta), (long long)(tp + fn));
        }
        if (!ds.multi) {
            printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-*s", w, "");
            for (int j = 0; j < k; j++) printf(" %6d", j);
            printf("\n");
            for (int i = 0; i < k; i++) {
                printf("%-*s", w, ds.class_names[i]);
                for (int j = 0; j < k; j++) printf(" %6lld", (long long)r.single.confusion[(size_t)i * k + j]);
                printf("\n");
            }
        }
        if (csv) {
            st = ds.multi ? metrics_write_multi_csv(csv, &r.mlt, ds.class_names)
                          : metrics_write_single_csv(csv, &r.single, ds.class_names, eo->beta);
            if (st == DL_OK) printf("\nwrote %s\n", csv);
        }
        if (pred_csv && st == DL_OK) {
            st = evaluate_write_predictions(pred_csv, &ds, eo->probs, eo->topk, eo->threshold);
            if (st == DL_OK) printf("wrote %s\n", pred_csv);
        }
        dl_free(eo->probs);
        eo->probs = NULL;
        evaluate_free(&r);
    }
    model_free(&m);
    dataset_close(&ds);
    checkpoint_info_free(&info);
    return st;
}

static int cmd_eval(int argc, char **argv, const Dist *d) {
    const char *ckpt = NULL, *data = NULL, *csv = NULL, *pred_csv = NULL;
    int topk = 5, batch = 64;
    float beta = 0.0f, threshold = 0.5f;
    const Flag flags[] = {
        { "checkpoint", F_STR, &ckpt, NULL, "checkpoint file (RUNDIR/last.h5 or best.h5)" },
        { "data", F_STR, &data, NULL, "dataset to evaluate on (HDF5, same classes)" },
        { "csv", F_STR, &csv, "none", "also write per-class metrics (and the confusion matrix) as CSV" },
        { "predictions", F_STR, &pred_csv, "none", "also write each image's prediction as CSV, in `dltrain predict`'s columns (index and true class first)" },
        { "topk", F_INT, &topk, "5", "k of top-k accuracy (single-label); also the class,probability pairs per row of --predictions", FLAG_IN(1, 100000) },
        { "fbeta", F_FLOAT, &beta, "1 (2 multi-label)", "beta of F-beta", FLAG_IN(0, 1000) },
        { "threshold", F_FLOAT, &threshold, "0.5", "multi-label: predict a tag when its probability exceeds this", FLAG_IN(0, 1) },
        { "batch", F_INT, &batch, "64", "images per forward pass", FLAG_IN(1, 1 << 20) },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0)
            flags_print("usage: dltrain eval --checkpoint C.h5 --data V.h5 [--csv out.csv] [flags]", flags, nflags);
        return 0;
    }
    DlStatus st = flags_parse(flags, nflags, argc, argv, "dltrain eval");
    if (st == DL_OK && (topk < 1 || batch < 1 || !(threshold >= 0.0f && threshold <= 1.0f) || beta < 0))
        st = dl_fail(DL_EARG, "dltrain eval: --topk and --batch must be >= 1, --threshold in [0, 1], --fbeta >= 0");
    if (st == DL_OK && d->rank == 0) {
        Dataset probe;   /* the default beta depends on the task */
        if (beta == 0.0f) {
            int multi = dataset_open_budget(&probe, data, 1) == DL_OK && probe.multi;   /* streaming: reads no images */
            dataset_close(&probe);
            beta = multi ? 2.0f : 1.0f;
        }
        EvalOptions eo = { .topk = topk, .beta = beta, .threshold = threshold };
        setup_threads(d);
        st = eval_run(ckpt, data, csv, pred_csv, &eo, batch);
    }
    if (st != DL_OK) {
        if (d->rank == 0) flags_error("dltrain", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}

/* dltrain predict --checkpoint C.h5 FILE|DIR ... : flags and paths may come
 * in any order; every argument that is not a flag or a flag's value is a path. */
static int cmd_predict(int argc, char **argv, const Dist *d) {
    PredictOptions o = { .topk = 5, .threshold = 0.5f, .batch = 64 };
    const Flag flags[] = {
        { "checkpoint", F_STR, &o.checkpoint, NULL, "checkpoint file (RUNDIR/best.h5 or last.h5)" },
        { "topk", F_INT, &o.topk, "5", "single-label: print the K most probable classes per file (CSV: K class,probability pairs)" },
        { "threshold", F_FLOAT, &o.threshold, "0.5", "multi-label: print the tags whose probability exceeds this" },
        { "csv", F_STR, &o.csv, "none", "also write a CSV: file,class,probability,... (single-label) or image_name,tags (multi-label, Planet style)" },
        { "batch", F_INT, &o.batch, "64", "images per forward pass" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) {
            flags_print("usage: dltrain predict --checkpoint C.h5 FILE|DIR ... [--topk K] [--threshold T] [--csv out.csv] [--batch B]", flags, nflags);
            printf("\nFolders are walked recursively in sorted order (their .jpg/.jpeg files). Each image is squashed\n"
                   "to the checkpoint's input size as dlprep presized the training images, and normalised as in\n"
                   "training. Files that do not decode are named on stderr and skipped; the exit status is 1 only\n"
                   "when no file could be predicted.\n");
        }
        return 0;
    }
    char **fl = dl_malloc(sizeof(char *) * (size_t)(argc + 1)), **pos = dl_malloc(sizeof(char *) * (size_t)(argc + 1));
    int nfl = 0, npos = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) { pos[npos++] = argv[i]; continue; }
        fl[nfl++] = argv[i];
        if (!strchr(argv[i], '=') && i + 1 < argc) fl[nfl++] = argv[++i];   /* every predict flag takes a value */
    }
    DlStatus st = flags_parse(flags, nflags, nfl, fl, "dltrain predict");
    if (st == DL_OK && (o.topk < 1 || o.batch < 1 || o.batch > 65536 || !(o.threshold >= 0.0f && o.threshold <= 1.0f)))
        st = dl_fail(DL_EARG, "dltrain predict: --topk must be >= 1, --batch 1..65536, --threshold in [0, 1]");
    if (st == DL_OK && npos == 0)
        st = dl_fail(DL_EARG, "dltrain predict: give the image files or folders to predict (dltrain predict --checkpoint C.h5 DIR)");
    int64_t done = 0, skipped = 0;
    if (st == DL_OK && d->rank == 0) {
        o.threads = setup_threads(d);
        st = predict_run(&o, pos, npos, &done, &skipped);
        fflush(stdout);
        if (st == DL_OK) {
            fprintf(stderr, "dltrain predict: predicted %lld file%s, skipped %lld\n", (long long)done, done == 1 ? "" : "s",
                    (long long)skipped);
            if (o.csv) fprintf(stderr, "dltrain predict: wrote %s\n", o.csv);
        }
    }
    dl_free(fl);
    dl_free(pos);
    if (st != DL_OK) {
        if (d->rank == 0) flags_error("dltrain", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}

static int cmd_export(int argc, char **argv, const Dist *d) {
    const char *ckpt = NULL, *out = NULL;
    int opset = ONNX_EXPORT_OPSET_DEFAULT;
    const Flag flags[] = {
        { "checkpoint", F_STR, &ckpt, NULL, "checkpoint file (RUNDIR/best.h5 or last.h5)" },
        { "o", F_STR, &out, NULL, "output ONNX file (written to OUT.partial, then renamed)" },
        { "opset", F_INT, &opset, "13", "ONNX opset version, " ONNX_EXPORT_OPSET_RANGE },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) {
            flags_print("usage: dltrain export --checkpoint C.h5 -o MODEL.onnx [--opset N]", flags, nflags);
            printf("\nThe ONNX graph takes 'input': float32 N x C x H x W, RGB (or grey) pixels / 255 of images squashed\n"
                   "to H x W; the training normalisation is inside the graph. Outputs: 'logits' and 'softmax'\n"
                   "(single-label) or 'sigmoid' (multi-label). Batch norm in eval form, dropout removed; class\n"
                   "names and the preprocessing are in the model's metadata_props.\n");
        }
        return 0;
    }
    char **fl = dl_malloc(sizeof(char *) * (size_t)(argc + 1));
    for (int i = 0; i < argc; i++) fl[i] = !strcmp(argv[i], "-o") ? "--o" : argv[i];   /* -o as dlprep takes it */
    DlStatus st = flags_parse(flags, nflags, argc, fl, "dltrain export");
    dl_free(fl);
    if (st == DL_OK && d->rank == 0) st = onnx_export(ckpt, out, opset);
    if (st == DL_OK && d->rank == 0) printf("dltrain export: wrote %s (opset %d)\n", out, opset);
    if (st != DL_OK) {
        if (d->rank == 0) flags_error("dltrain", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "dltrain %s: data-parallel CNN training, the same weights bit for bit for any rank count\n\n"
            "usage: [mpirun -np N] dltrain COMMAND [flags]   (dltrain COMMAND --help for its flags)\n\n"
            "commands:\n"
            "  train     train a model on an HDF5 dataset (see dlprep), validate every epoch\n"
            "  lr-find   the learning-rate range test: loss against an exponentially growing lr, a suggestion\n"
            "  eval      every metric of a checkpoint on a dataset: accuracy, top-k, F-beta, per class, confusion\n"
            "  predict   classes (or tags) with probabilities for JPEG files and folders, from a checkpoint\n"
            "  export    write a checkpoint's model as an ONNX file for any ONNX runtime\n"
            "  summary   print a model's layers, output shapes and parameter counts\n"
            "  import    an ONNX model (from PyTorch, Keras via tf2onnx, ...) as a dltrain checkpoint to start from\n"
            "  report    rebuild RUNDIR/report.html (curves, confusion heat map, top losses, Grad-CAM) from a run\n"
            "  interpret the same report for any checkpoint and dataset\n"
            "  show-batch  a grid of a training batch after augmentation, as a JPEG\n\n"
            "zoo models: %s\n",
            DLTRAIN_VERSION, model_zoo_names());
}

int dl_dltrain_main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv) != DL_OK) { flags_error("dltrain", dl_errmsg()); return 1; }
    int rc;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (d.rank == 0) usage(argc < 2 ? stderr : stdout);
        rc = argc < 2 ? 2 : 0;
    } else if (!strcmp(argv[1], "--version")) {
        if (d.rank == 0) printf("dltrain %s (%s)\n", DLTRAIN_VERSION, DL_BUILD_DESC);
        rc = 0;
    } else if (!strcmp(argv[1], "train")) rc = cmd_train(argc - 2, argv + 2, &d, 0);
    else if (!strcmp(argv[1], "lr-find")) rc = cmd_train(argc - 2, argv + 2, &d, 1);
    else if (!strcmp(argv[1], "summary")) rc = cmd_summary(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "eval")) rc = cmd_eval(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "predict")) rc = cmd_predict(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "export")) rc = cmd_export(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "import")) rc = d.rank == 0 ? cli_import(argc - 2, argv + 2) : 0;
    else if (!strcmp(argv[1], "report")) rc = run_cmd_report(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "interpret")) rc = run_cmd_interpret(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "show-batch")) rc = run_cmd_show_batch(argc - 2, argv + 2, &d);
    else {
        if (d.rank == 0) fprintf(stderr, "dltrain: unknown command '%s' (commands: train, lr-find, eval, predict, export, import, summary, report, interpret, show-batch; see dltrain --help)\n", argv[1]);
        rc = 2;
    }
    dist_finalize(&d);
    return rc;
}
