/* optim.c: SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight decay)
 * and AdamW (decoupled weight decay) in PyTorch 1.13's form, so figures
 * compare with torch.optim. The per-element math is float, as PyTorch does
 * for float32 tensors; scalars PyTorch computes in Python (bias corrections,
 * 1 - lr*wd) are computed in double and rounded once to float, as PyTorch
 * rounds them when it passes them to a float32 kernel.
 * A step may run on several threads (OptConfig.threads): each takes whole
 * chunks of a segment, and every element's arithmetic is the same. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* torch.optim.SGD on one segment (dampening 0). PyTorch starts the buffer
 * as a copy of the first update; ours starts at 0 and mu*0 + d == d. */
static void sgd_segment(float *p, float *v, const float *g, size_t len, float wd, float mu, int nesterov,
                        float lr) {
    for (size_t i = 0; i < len; i++) {
        float d = g[i] + wd * p[i];
        if (mu != 0.0f) {
            v[i] = mu * v[i] + d;
            d = nesterov ? d + mu * v[i] : v[i];
        }
        p[i] -= lr * d;
    }
}

void sgd_step(float *params, float *mom, const float *grads, const ParamSeg *seg, int nseg,
              const SgdConfig *c, float lr) {
    for (int s = 0; s < nseg; s++) {
        size_t o = seg[s].off;
        sgd_segment(params + o, mom + o, grads + o, seg[s].len, seg[s].decay ? c->weight_decay : 0.0f,
                    c->momentum, c->nesterov, lr);
    }
}

/* The decimal a float setting was written as: any decimal of at most 6
 * significant digits (FLT_DIG) prints back as itself with %.6g. Adam needs
 * it because 1 - beta2 cancels: 1 - 0.999f is 0.00099998713, 1.3e-5 off
 * the 0.001 PyTorch uses (it keeps betas as Python floats). */
static double as_written(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", (double)x);
    return strtod(buf, NULL);
}

/* torch.optim.Adam/AdamW on one segment, after AdamW's decoupled decay:
 * wd is Adam's L2 term (0 for AdamW); a1, a2 are 1 - beta1, 1 - beta2. */
static void adam_segment(float *p, float *m, float *v, const float *g, size_t len, float wd, float beta1,
                         float beta2, float a1, float a2, float eps, float step_size, float bc2_sqrt) {
    for (size_t i = 0; i < len; i++) {
        float d = g[i] + wd * p[i];
        m[i] = m[i] * beta1 + a1 * d;
        v[i] = v[i] * beta2 + a2 * d * d;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += -step_size * (m[i] / denom);
    }
}

size_t optim_state_count(const OptConfig *c, size_t n_params) {
    return c->kind == OPT_SGD ? n_params : 2 * n_params;
}

#define CHUNK 65536   /* parameters per task of a threaded step */

void optim_step(float *params, float *state, const float *grads, const ParamSeg *seg, int nseg,
                const OptConfig *c, const float *seg_lr, int64_t step) {
    size_t n = 0;   /* the second state buffer starts here (see optim.h) */
    for (int s = 0; s < nseg; s++)
        if (seg[s].off + seg[s].len > n) n = seg[s].off + seg[s].len;
    DL_CHECK(c->kind == OPT_SGD || c->kind == OPT_ADAM || c->kind == OPT_ADAMW);
    DL_CHECK(c->kind == OPT_SGD || step >= 1);
    /* PyTorch: bias_correction = 1 - beta ** step in Python floats */
    double beta1 = as_written(c->beta1), beta2 = as_written(c->beta2);
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    float bc2_sqrt = (float)sqrt(bc2), a1 = (float)(1.0 - beta1), a2 = (float)(1.0 - beta2);
    int threads = c->threads > 1 ? c->threads : 1;
    (void)threads;
    for (int s = 0; s < nseg; s++) {
        int tasks = (int)((seg[s].len + CHUNK - 1) / CHUNK);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tasks > 1)
#endif
        for (int k = 0; k < tasks; k++) {
            size_t o = seg[s].off + (size_t)k * CHUNK, len = seg[s].len - (size_t)k * CHUNK;
            if (len > CHUNK) len = CHUNK;
            float *p = params + o, wd = seg[s].decay ? c->weight_decay : 0.0f;
            if (c->kind == OPT_SGD) {
                sgd_segment(p, state + o, grads + o, len, wd, c->momentum, c->nesterov, seg_lr[s]);
                continue;
            }
            if (c->kind == OPT_ADAMW) {
                if (wd != 0.0f) {
                    float keep = (float)(1.0 - (double)seg_lr[s] * wd);   /* param.mul_(1 - lr * wd) */
                    for (size_t i = 0; i < len; i++) p[i] *= keep;
                }
                wd = 0.0f;
            }
            adam_segment(p, state + o, state + n + o, grads + o, len, wd, c->beta1, c->beta2, a1, a2, c->eps,
                         (float)((double)seg_lr[s] / bc1), bc2_sqrt);
        }
    }
}

float optim_clip_grad_norm(float *grads, size_t n, float max_norm) {
    /* 16 fixed lanes in double (they vectorise; one chain would wait on
     * each add), then the lanes pairwise: the same bits every run */
    double acc[16] = { 0 };
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += (double)grads[i + j] * grads[i + j];
    for (; i < n; i++) acc[i & 15] += (double)grads[i] * grads[i];
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) acc[j] += acc[j + w];
    double norm = sqrt(acc[0]);
    double scale = (double)max_norm / (norm + 1e-6);
    if (scale < 1.0) {   /* false for a NaN norm: grads stay as they are */
        float f = (float)scale;
        for (size_t k = 0; k < n; k++) grads[k] *= f;
    }
    return (float)norm;
}

static const char *const OPT_NAMES[] = { [OPT_SGD] = "sgd", [OPT_ADAM] = "adam", [OPT_ADAMW] = "adamw" };

DlStatus optim_parse_kind(const char *name, OptKind *k) {
    for (int i = 0; i < (int)(sizeof OPT_NAMES / sizeof *OPT_NAMES); i++)
        if (strcmp(name, OPT_NAMES[i]) == 0) {
            *k = (OptKind)i;
            return DL_OK;
        }
    return dl_fail(DL_EARG, "unknown optimizer '%s': choose sgd, adam or adamw", name);
}

const char *optim_kind_name(OptKind k) {
    DL_CHECK((int)k >= 0 && (int)k < (int)(sizeof OPT_NAMES / sizeof *OPT_NAMES));
    return OPT_NAMES[k];
}
