/* optim.c: SGD with momentum, Nesterov momentum and L2 weight decay, in
 * PyTorch's form (torch.optim.SGD, dampening 0), so figures compare. */
#include "optim.h"

void sgd_step(float *params, float *mom, const float *grads, const ParamSeg *seg, int nseg,
              const SgdConfig *c, float lr) {
    for (int s = 0; s < nseg; s++) {
        float wd = seg[s].decay ? c->weight_decay : 0.0f, mu = c->momentum;
        float *p = params + seg[s].off, *v = mom + seg[s].off;
        const float *g = grads + seg[s].off;
        for (size_t i = 0; i < seg[s].len; i++) {
            float d = g[i] + wd * p[i];
            if (mu != 0.0f) {
                v[i] = mu * v[i] + d;
                d = c->nesterov ? d + mu * v[i] : v[i];
            }
            p[i] -= lr * d;
        }
    }
}
