/* optim.h: optimizers over flat float arrays. They know nothing about
 * layers: the model describes its parameters as segments (offset, length,
 * whether weight decay applies), so the same code serves any model and runs
 * straight after the gradient allreduce, identically on every rank.
 *
 * Semantics are PyTorch 1.13's torch.optim.SGD (dampening 0), Adam and AdamW
 * (amsgrad off), checked against tests/reference/fixtures/optim_*.h5.
 * One difference by design: PyTorch decays every parameter of a param group,
 * while we decay only segments with decay = 1 (conv and dense weights; never
 * biases or batch-norm scale and shift). The PyTorch equivalent is two param
 * groups, the second with weight_decay=0, and that is what the fixtures use.
 * Not here: amsgrad, dampening, maximize, sparse gradients. */
#ifndef DL_OPTIM_H
#define DL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain.h"

typedef struct { size_t off, len; int decay; } ParamSeg;

typedef struct {
    float momentum;        /* SGD momentum (PyTorch form: v = mu*v + g) */
    int nesterov;
    float weight_decay;    /* L2, added to the gradient of decayed segments */
} SgdConfig;

/* One SGD step: p -= lr * update, over every segment; mom has the size of
 * params and holds the momentum buffers. Same arithmetic as optim_step with
 * OPT_SGD and every segment at lr. */
void sgd_step(float *params, float *mom, const float *grads, const ParamSeg *seg, int nseg,
              const SgdConfig *c, float lr);

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW } OptKind;

typedef struct {
    OptKind kind;
    float momentum;        /* SGD: v = momentum*v + g (0: plain SGD) */
    int nesterov;          /* SGD: update g + momentum*v instead of v */
    float weight_decay;    /* SGD, Adam: L2 added to the gradient; AdamW: decoupled p -= lr*wd*p */
    float beta1, beta2, eps;   /* Adam, AdamW (PyTorch defaults 0.9, 0.999, 1e-8) */
    int threads;           /* OpenMP threads for a step (0 or 1: the caller's); the bits do not depend on it */
} OptConfig;

/* Floats of optimizer state for n_params parameters: n_params for SGD (the
 * momentum buffer, also allocated when momentum is 0), 2*n_params for Adam
 * and AdamW (first moment m at state[0..n), second moment v at
 * state[n..2n)). The state must start zeroed. */
size_t optim_state_count(const OptConfig *c, size_t n_params);

/* One optimizer step. params, grads: (n) with n = the end of the last
 * segment (max off+len), which must be the n_params given to
 * optim_state_count (the segments of the trainer cover the whole array);
 * state: optim_state_count(c, n) floats, zeroed before step 1.
 * seg_lr[s] is segment s's learning rate (discriminative lrs: pass the same
 * value for all for one lr). step counts from 1 (Adam's bias correction);
 * SGD ignores it. Elements outside every segment are not touched. */
void optim_step(float *params, float *state, const float *grads, const ParamSeg *seg, int nseg,
                const OptConfig *c, const float *seg_lr, int64_t step);

/* Clips grads[0..n) in place to global L2 norm max_norm, as
 * torch.nn.utils.clip_grad_norm_ (norm_type 2): if max_norm/(norm+1e-6) < 1,
 * every gradient is multiplied by that factor. Returns the norm before
 * clipping. The sum of squares is in double, sequential, in index order, so
 * every rank holding the same grads gets the same bits. A non-finite norm
 * is returned as is and leaves grads untouched (PyTorch would scale them by
 * NaN): the caller reports it. */
float optim_clip_grad_norm(float *grads, size_t n, float max_norm);

/* "sgd", "adam" or "adamw" -> *k; DL_EARG with the list of choices otherwise. */
DlStatus optim_parse_kind(const char *name, OptKind *k);
/* The name optim_parse_kind accepts for k (static string). */
const char *optim_kind_name(OptKind k);

#endif
