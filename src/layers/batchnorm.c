/* batchnorm.c: batch normalisation over (N, H, W) per channel, PyTorch
 * semantics: eps 1e-5, momentum 0.1, biased variance to normalise, unbiased
 * variance for the running average. Works on conv output (C,H,W) and on
 * dense output (U,1,1).
 * Training uses the statistics of this group only (ghost batch norm): the
 * group's mean and unbiased variance go to ctx->bstat, and the model averages
 * them over all groups of the global batch before it updates the running
 * statistics, so the result does not depend on the number of ranks.
 * Eval mode (and a frozen layer) normalises with the running statistics. */
#include <math.h>
#include <string.h>

#include "layers/layer.h"

/* Sum of (v[i] - mu)^2 with 8 fixed lanes, like sum8. */
static float sqdev8(const float *v, size_t n, float mu) {
    float acc[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) { float d = v[i + j] - mu; acc[j] += d * d; }
    for (; i < n; i++) { float d = v[i] - mu; acc[i & 7] += d * d; }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The gradient at the output: dy, or with a relu after (relu_after) dy
 * where the output y is > 0 and 0 elsewhere, as relu's backward makes it. */
static inline float grad_at(const float *dy, const float *y, size_t i, int relu) {
    return relu && !(y[i] > 0.0f) ? 0.0f : dy[i];
}

/* Sums of g[i] and of g[i] * xhat[i], g = grad_at, xhat[i] = (x[i] - mu) *
 * istd recomputed exactly as forward computed it, with 8 fixed lanes each
 * (sum8's order), written with GCC vector types so the relu gate
 * vectorises too. */
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

static inline v8f load8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void sums8(const float *dy, const float *y, const float *x, size_t n,
                                                        float mu, float istd, int relu, float *sum, float *dot) {
    v8f acc = { 0 }, acd = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f g = load8(dy + i);
        if (relu) g = (v8f)((v8i)g & (load8(y + i) > 0.0f));
        acc += g;
        acd += g * ((load8(x + i) - mu) * istd);
    }
    for (; i < n; i++) {
        float g = grad_at(dy, y, i, relu);
        acc[i & 7] += g;
        acd[i & 7] += g * ((x[i] - mu) * istd);
    }
    *sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    *dot = ((acd[0] + acd[1]) + (acd[2] + acd[3])) + ((acd[4] + acd[5]) + (acd[6] + acd[7]));
}

static int always_relu(const LayerSpec *s) { (void)s; return 1; }

static DlStatus bn_shape(LayerSpec *s) { s->out = s->in; return DL_OK; }

static int bn_params(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "weight", 1, { s->in.c }, 0 };
    t[1] = (TensorInfo){ "bias", 1, { s->in.c }, 0 };
    return 2;
}

static int bn_states(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "running_mean", 1, { s->in.c }, 0 };
    t[1] = (TensorInfo){ "running_var", 1, { s->in.c }, 0 };
    return 2;
}

/* mean (C) then invstd (C); backward recomputes xhat from the input, which
 * costs less than writing and reading it back from memory */
static size_t bn_cache(const LayerSpec *s, int n) { return 2 * (size_t)s->in.c * n; }   /* a slot per possible group */

static void bn_init(const LayerSpec *s, float *w, float *state, DlRng *r) {
    (void)r;
    int C = s->in.c;
    for (int c = 0; c < C; c++) { w[c] = 1.0f; w[C + c] = 0.0f; state[c] = 0.0f; state[C + c] = 1.0f; }
}

static void bn_forward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int N = c->n, C = s->in.c;
    size_t HW = (size_t)s->in.h * s->in.w, CHW = C * HW, m = (size_t)N * HW;
    const float *gamma = c->w, *beta = c->w + C;
    float *means = c->cache, *invstd = c->cache + C;
    for (int ch = 0; ch < C; ch++) {
        float mean, istd;
        if (c->training) {
            /* float lanes per row (sum8: fixed order, vectorised), rows in double */
            double sum = 0.0, sq = 0.0;
            for (int n = 0; n < N; n++) sum += sum8(c->in + n * CHW + ch * HW, HW);
            double mu = sum / (double)m;
            for (int n = 0; n < N; n++) sq += sqdev8(c->in + n * CHW + ch * HW, HW, (float)mu);
            double var = sq / (double)m;
            mean = (float)mu;
            istd = (float)(1.0 / sqrt(var + s->eps));
            c->bstat[ch] = mean;
            c->bstat[C + ch] = (float)(m > 1 ? sq / (double)(m - 1) : var);
        } else {
            mean = c->state[ch];
            istd = 1.0f / sqrtf(c->state[C + ch] + s->eps);
        }
        means[ch] = mean;
        invstd[ch] = istd;
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                size_t j = n * CHW + ch * HW + i;
                float y = gamma[ch] * ((c->in[j] - mean) * istd) + beta[ch];
                c->out[j] = s->relu_after ? (y > 0.0f ? y : 0.0f) : y;
            }
    }
}

/* relu and fresh are constants in each caller, so each variant's loops
 * vectorise without a test per element. */
static inline __attribute__((always_inline)) void bn_backward_t(const LayerCtx *c, int relu, int fresh) {
    const LayerSpec *s = c->s;
    int N = c->n, C = s->in.c;
    size_t HW = (size_t)s->in.h * s->in.w, CHW = C * HW, m = (size_t)N * HW;
    const float *gamma = c->w, *means = c->cache, *invstd = c->cache + C;
    for (int ch = 0; ch < C; ch++) {
        double dbeta = 0.0, dgamma = 0.0;
        for (int n = 0; n < N; n++) {
            size_t j = n * CHW + ch * HW;
            float sb, sg;
            sums8(c->dout + j, c->out + j, c->in + j, HW, means[ch], invstd[ch], relu, &sb, &sg);
            dbeta += sb;
            dgamma += sg;
        }
        if (c->dw) { c->dw[ch] += (float)dgamma; c->dw[C + ch] += (float)dbeta; }
        if (!c->din) continue;
        float k = gamma[ch] * invstd[ch];
        if (!c->training) {   /* running statistics are constants */
            for (int n = 0; n < N; n++)
                for (size_t i = 0; i < HW; i++) {
                    size_t j = n * CHW + ch * HW + i;
                    c->din[j] = (fresh ? 0.0f : c->din[j]) + k * grad_at(c->dout, c->out, j, relu);
                }
            continue;
        }
        /* dx = gamma*invstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)) */
        float mb = (float)(dbeta / (double)m), mg = (float)(dgamma / (double)m), mu = means[ch], istd = invstd[ch];
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                size_t j = n * CHW + ch * HW + i;
                c->din[j] = (fresh ? 0.0f : c->din[j]) +
                            k * (grad_at(c->dout, c->out, j, relu) - mb - ((c->in[j] - mu) * istd) * mg);
            }
    }
}

static void bn_backward(const LayerCtx *c) {
    int relu = c->s->relu_after, fresh = c->din_fresh;
    if (relu && fresh) bn_backward_t(c, 1, 1);
    else if (relu) bn_backward_t(c, 1, 0);
    else if (fresh) bn_backward_t(c, 0, 1);
    else bn_backward_t(c, 0, 0);
}

const LayerOps bn_ops = {
    .kind = "bn", .shape = bn_shape, .params = bn_params, .states = bn_states,
    .cache_count = bn_cache, .scratch_count = no_floats, .bstat_count_per_channel = 2,
    .init = bn_init, .forward = bn_forward, .backward = bn_backward, .writes_din = 1, .takes_relu = always_relu,
};
