/* cli.c: the `dltrain` command line. Every flag is declared once in a table
 * with its type and default; --help prints the table. Unknown flags are
 * errors. Only this file (through main) decides the exit status. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "dist.h"
#include "flags.h"
#include "dltrain.h"
#include "model.h"
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

static int cmd_train(int argc, char **argv, const Dist *d) {
    TrainConfig c = { .epochs = 10, .batch = 64, .groups = 4, .lr = 0.05f, .momentum = 0.9f,
                      .seed = 1, .progress = -1, .check_every = 100,
                      .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step_epochs = 1, .gamma = 0.1f };
    int no_progress = 0;
    const Flag flags[] = {
        { "train", F_STR, &c.train_path, NULL, "training dataset (HDF5, from dlprep)" },
        { "valid", F_STR, &c.valid_path, NULL, "validation dataset (HDF5), evaluated after every epoch" },
        { "model", F_STR, &c.model, "from --resume", "zoo model name or model file (see `dltrain summary`); required unless --resume" },
        { "out", F_STR, &c.out_dir, NULL, "run directory: last.h5, metrics.csv, log.txt" },
        { "epochs", F_INT, &c.epochs, "10", "passes over the training data" },
        { "batch", F_INT, &c.batch, "64", "global batch size (all ranks together)" },
        { "groups", F_INT, &c.groups, "4", "fixed groups per batch (power of two); batch-norm statistics are per group; -np must divide it" },
        { "lr", F_FLOAT, &c.lr, "0.05", "learning rate" },
        { "optimizer", F_STR, &c.optimizer, "sgd", "sgd, adam or adamw (PyTorch semantics)" },
        { "momentum", F_FLOAT, &c.momentum, "0.9", "SGD momentum" },
        { "nesterov", F_BOOL, &c.nesterov, NULL, "Nesterov momentum" },
        { "beta1", F_FLOAT, &c.beta1, "0.9", "Adam/AdamW beta1" },
        { "beta2", F_FLOAT, &c.beta2, "0.999", "Adam/AdamW beta2" },
        { "eps", F_FLOAT, &c.eps, "1e-8", "Adam/AdamW epsilon" },
        { "weight-decay", F_FLOAT, &c.weight_decay, "0", "weight decay on conv/dense weights (never biases or batch norm); L2 for sgd/adam, decoupled for adamw" },
        { "schedule", F_STR, &c.schedule, "constant", "learning-rate schedule per step: constant, step, cosine, onecycle (lr is the peak)" },
        { "warmup", F_INT, &c.warmup, "0", "linear warmup over the first N steps (constant, step, cosine)" },
        { "step-epochs", F_INT, &c.step_epochs, "1", "step schedule: epochs between lr drops" },
        { "gamma", F_FLOAT, &c.gamma, "0.1", "step schedule: lr factor per drop" },
        { "clip", F_FLOAT, &c.clip, "0", "clip the gradient's global L2 norm to this (0: off)" },
        { "seed", F_U64, &c.seed, "1", "seed of every random choice (init, shuffling, dropout)" },
        { "augment", F_STR, &c.augment, "none", "training augmentation, comma-separated: hflip, vflip, dihedral, translate=P, brightness=B, contrast=C" },
        { "limit", F_INT, &c.limit, "0", "train on the first N images only (0: all); for quick checks" },
        { "fast-allreduce", F_BOOL, &c.fast_allreduce, NULL, "use MPI_Allreduce: may be faster on a cluster, but weights are no longer bit-identical across -np" },
        { "resume", F_STR, &c.resume, "none", "continue a run exactly from its checkpoint (RUNDIR/last.h5); seed, batch, groups and model come from it" },
        { "stop-after", F_INT, &c.stop_after, "0", "stop after this many epochs, resumably (the schedule still spans --epochs)" },
        { "checkpoint-every", F_INT, &c.checkpoint_every, "0", "also write last.h5 every N steps (0: at epoch ends only)" },
        { "check-every", F_INT, &c.check_every, "100", "compare a digest of every rank's weights every N steps; abort if they differ (0: never)" },
        { "no-progress", F_BOOL, &no_progress, NULL, "no progress bar or progress lines" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0)
            flags_print("usage: [mpirun -np N] dltrain train --train T.h5 --valid V.h5 --model NAME|FILE --out RUNDIR [flags]",
                        flags, nflags);
        return 0;
    }
    DlStatus st = flags_parse(flags, nflags, argc, argv, "dltrain train");
    c.given.seed = flags_given(argc, argv, "seed");
    c.given.batch = flags_given(argc, argv, "batch");
    c.given.groups = flags_given(argc, argv, "groups");
    if (no_progress) c.progress = 0;
    if (st == DL_OK) {
        c.threads = setup_threads(d);
        st = train_run(&c, d);
    }
    if (st != DL_OK) {
        if (d->rank == 0) fprintf(stderr, "dltrain: %s\n", dl_errmsg());
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
        { "model", F_STR, &model, NULL, "zoo model name or model file" },
        { "data", F_STR, &data, "none", "take input shape and classes from this dataset" },
        { "input", F_STR, &input, "1,28,28", "input channels,height,width (without --data)" },
        { "classes", F_INT, &classes, "10", "class count (without --data)" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        if (d->rank == 0) {
            flags_print("usage: dltrain summary --model NAME|FILE [--data D.h5 | --input C,H,W --classes K]", flags, nflags);
            printf("\nzoo models: %s\n", model_zoo_names());
        }
        return 0;
    }
    DlStatus st = flags_parse(flags, nflags, argc, argv, "dltrain summary");
    Shape in = { 0, 0, 0 };
    if (st == DL_OK && data) {
        Dataset ds;
        st = dataset_open(&ds, data);
        if (st == DL_OK) { in = (Shape){ ds.c, ds.h, ds.w }; classes = ds.k; dataset_close(&ds); }
    } else if (st == DL_OK && input && !parse_shape(input, &in)) {
        st = dl_fail(DL_EARG, "summary: --input wants C,H,W like 3,64,64 (got '%s')", input);
    }
    char *text = NULL;
    Model m = { 0 };
    if (st == DL_OK) st = model_text_load(&text, model);
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
        if (d->rank == 0) fprintf(stderr, "dltrain: %s\n", dl_errmsg());
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
            "  summary   print a model's layers, output shapes and parameter counts\n\n"
            "zoo models: %s\n",
            DLTRAIN_VERSION, model_zoo_names());
}

int dl_dltrain_main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv) != DL_OK) { fprintf(stderr, "dltrain: %s\n", dl_errmsg()); return 1; }
    int rc;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (d.rank == 0) usage(argc < 2 ? stderr : stdout);
        rc = argc < 2 ? 2 : 0;
    } else if (!strcmp(argv[1], "--version")) {
        if (d.rank == 0) printf("dltrain %s\n", DLTRAIN_VERSION);
        rc = 0;
    } else if (!strcmp(argv[1], "train")) rc = cmd_train(argc - 2, argv + 2, &d);
    else if (!strcmp(argv[1], "summary")) rc = cmd_summary(argc - 2, argv + 2, &d);
    else {
        if (d.rank == 0) fprintf(stderr, "dltrain: unknown command '%s' (commands: train, summary; see dltrain --help)\n", argv[1]);
        rc = 2;
    }
    dist_finalize(&d);
    return rc;
}
