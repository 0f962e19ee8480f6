/* model.h: a CNN as an ordered list of layers, built from a model text
 * (one layer per line, see the format comment in model.c and README.md;
 * `input=` and `add from=` make it a DAG with skip connections), with one
 * block each for parameters, running statistics, and the per-group working
 * memory.
 * The model works on one group of samples at a time: forward, then backward
 * that ADDS the group's gradient into a caller-owned buffer, so the trainer
 * decides how groups are summed (a fixed tree: see train.c).
 * Not here: losses (layers/loss.h), the optimizer (optim.h), files. */
#ifndef DL_MODEL_H
#define DL_MODEL_H

#include <stdio.h>

#include "layers/layer.h"

/* What a model text may ask for (model_init refuses more, naming file:line):
 * floats of one layer's output per sample, floats of one layer's output for
 * a whole group (max_n samples), and parameters of one layer and of the
 * model (each fits the int sizes of the kernels). Lowered by fuzz builds. */
#ifndef MODEL_MAX_ACTIVATION
#define MODEL_MAX_ACTIVATION ((size_t)1 << 28)
#endif
#ifndef MODEL_MAX_GROUP_ACTIVATION
#define MODEL_MAX_GROUP_ACTIVATION (((size_t)1 << 31) - 1)
#endif
#ifndef MODEL_MAX_PARAMS
#define MODEL_MAX_PARAMS (((size_t)1 << 31) - 1)
#endif

typedef struct {
    char *text;              /* the model text as given (kept in checkpoints) */
    char *source;            /* zoo name or file path, for messages */
    int n_layers;
    LayerSpec *spec;         /* (n_layers) */
    Shape input;             /* per-sample input */
    int classes;             /* output width of the model */
    size_t n_params;         /* trained floats */
    size_t n_state;          /* running statistics */
    size_t n_bstat;          /* per-group batch statistics handed to the trainer */
    size_t *w_off, *st_off, *bs_off;   /* (n_layers) offsets into params, state, bstat */
    float *params;           /* (n_params), owned */
    float *state;            /* (n_state), owned */
    int frozen;              /* layers [0, frozen) get no backward at all; their batch norm
                              * uses (and keeps) its running statistics, as Keras does */
    /* working memory for groups of up to max_n samples */
    int max_n;
    float **act;             /* act[i] (max_n, out_i): output of layer i */
    int *inplace;            /* inplace[i]: relu i runs in place on its input's buffers
                              * (act[i] == act[src], grad[src] == grad[i]); 2: its input
                              * layer does the relu (relu_after) and i is skipped */
    float **cache;           /* cache[i]: what layer i keeps for backward */
    float **grad;            /* grad[i] (max_n, out_i): gradient w.r.t. layer i's output,
                              * summed over its consumers; the last is dlogits */
    float *scratch;          /* largest scratch need of any layer */
    float **written;         /* (n_layers + 2) model_backward: the gradient buffers written so far */
    float *dlogits;          /* (max_n, classes) */
    float *dinput;           /* (max_n, input): gradient w.r.t. the input, when input_grad is set */
    int input_grad;          /* tests and saliency: backward also fills dinput */
    double *prof;            /* --profile: (2 * n_layers) seconds in forward, backward (owned by the caller; NULL: off) */
} Model;

/* Reads the model text for `name_or_file`: a zoo name (see model_zoo_names)
 * or a path. *text is owned by the caller. */
DlStatus model_text_load(char **text, const char *name_or_file);

/* Space-separated zoo names, for messages and --help. */
const char *model_zoo_names(void);

/* model_text.c: a copy of `text` whose head, the last dense (units=N) or
 * conv (filters=N) layer when only relu, gap, flatten or dropout layers
 * follow it, has units=classes / filters=classes (a checkpoint's model on a
 * dataset with its own class count: the head takes the dataset's). Caller
 * frees. */
char *model_text_head_classes(const char *text);

/* model_text.c: parses `text` (messages say `source:line`) into *count
 * specs with src/from resolved (shapes not yet); `declared` gets the
 * `input` line's shape, or zeros. *out is the caller's (dl_free). */
DlStatus model_text_parse(const char *text, const char *source, LayerSpec **out, int *count, Shape *declared);

/* Parses `text` (messages say `source:line`), resolves shapes for `input`
 * and `classes` (used by `units=classes`), and allocates every buffer for
 * groups of up to max_n samples. Parameters are zero until model_init_params
 * or a checkpoint fills them. On failure returns DL_EFORMAT and *m needs no
 * free; on success free with model_free(). A model text that starts with an
 * `input` line must match `input` (a zero input takes it from the text). */
DlStatus model_init(Model *m, const char *text, const char *source, Shape input, int classes, int max_n);
void model_free(Model *m);

/* Deterministic initial parameters and running statistics from `seed`. */
void model_init_params(Model *m, uint64_t seed);

typedef struct {
    int training;            /* 1: batch statistics and dropout */
    const int64_t *sample;   /* (n) dataset indices: dropout keys */
    uint64_t seed;
    int epoch;
    float *bstat;            /* training: (n_bstat) group 0's batch statistics */
    int group_n;             /* samples per group (0: all n are one group): batch norm's
                              * statistics and the dense GEMMs are per group */
    size_t stride;           /* floats from one group's bstat (and gradient) buffer to the next */
    const uint8_t *merges;   /* backward with several groups: how to sum them (gtree_plan of
                              * the call's groups); NULL: the balanced tree into group 0's */
} ForwardArgs;

/* Runs n <= max_n samples x (n, input) forward; returns the logits (n,
 * classes), valid until the next call. */
const float *model_forward(Model *m, const float *x, int n, const ForwardArgs *a);

/* Backward of the last forward from m->dlogits (n, classes): WRITES each
 * unfrozen layer's parameter gradient into grads (n_params); frozen layers'
 * ranges are left as they are. With several groups (a->group_n), group g's
 * buffer is grads + g * a->stride and on return group 0's holds the groups'
 * gradients summed in a balanced binary tree, ((g0 + g1) + (g2 + g3)); the
 * other groups' parameter ranges are left undefined. With a->merges, the
 * groups are pushed in order on a stack and after group g's push the top
 * two entries are summed (top into the one below) a->merges[g] times; each
 * entry left (a subtree of the caller's tree) is in its first group's buffer. */
void model_backward(Model *m, const float *x, int n, const ForwardArgs *a, float *grads);

/* After a training step: running stats <- (1-momentum)*running +
 * momentum*(bstat_sum / groups), bstat_sum being the sum over all groups. */
void model_update_stats(Model *m, const float *bstat_sum, int groups);

/* Index of the layer named `name`, or -1. */
int model_find_layer(const Model *m, const char *name);

/* Prints a Keras-like table: layer, type, output shape, parameters, totals. */
void model_summary(const Model *m, FILE *f);

#endif
