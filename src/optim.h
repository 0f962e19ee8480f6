/* optim.h: optimizers over flat float arrays. They know nothing about
 * layers: the model describes its parameters as segments (offset, length,
 * whether weight decay applies), so the same code serves any model and runs
 * straight after the gradient allreduce, identically on every rank. */
#ifndef DL_OPTIM_H
#define DL_OPTIM_H

#include <stddef.h>

typedef struct { size_t off, len; int decay; } ParamSeg;

typedef struct {
    float momentum;        /* SGD momentum (PyTorch form: v = mu*v + g) */
    int nesterov;
    float weight_decay;    /* L2, added to the gradient of decayed segments */
} SgdConfig;

/* One SGD step: p -= lr * update, over every segment; mom has the size of
 * params and holds the momentum buffers. */
void sgd_step(float *params, float *mom, const float *grads, const ParamSeg *seg, int nseg,
              const SgdConfig *c, float lr);

#endif
