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

/* Sum of dy[i] * xhat[i], xhat[i] = (x[i] - mu) * istd recomputed exactly
 * as forward computed it, with 8 fixed lanes. */
static float dot_xhat8(const float *dy, const float *x, size_t n, float mu, float istd) {
    float acc[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += dy[i + j] * ((x[i + j] - mu) * istd);
    for (; i < n; i++) acc[i & 7] += dy[i] * ((x[i] - mu) * istd);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

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
                c->out[j] = gamma[ch] * ((c->in[j] - mean) * istd) + beta[ch];
            }
    }
}

static void bn_backward(const LayerCtx *c) {
    const LayerSpec *s = c->s;
    int N = c->n, C = s->in.c;
    size_t HW = (size_t)s->in.h * s->in.w, CHW = C * HW, m = (size_t)N * HW;
    const float *gamma = c->w, *means = c->cache, *invstd = c->cache + C;
    for (int ch = 0; ch < C; ch++) {
        double dbeta = 0.0, dgamma = 0.0;
        for (int n = 0; n < N; n++) {
            size_t j = n * CHW + ch * HW;
            dbeta += sum8(c->dout + j, HW);
            dgamma += dot_xhat8(c->dout + j, c->in + j, HW, means[ch], invstd[ch]);
        }
        if (c->dw) { c->dw[ch] += (float)dgamma; c->dw[C + ch] += (float)dbeta; }
        if (!c->din) continue;
        float k = gamma[ch] * invstd[ch];
        if (!c->training) {   /* running statistics are constants */
            for (int n = 0; n < N; n++)
                for (size_t i = 0; i < HW; i++) {
                    size_t j = n * CHW + ch * HW + i;
                    c->din[j] = (c->din_fresh ? 0.0f : c->din[j]) + k * c->dout[j];
                }
            continue;
        }
        /* dx = gamma*invstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)) */
        float mb = (float)(dbeta / (double)m), mg = (float)(dgamma / (double)m), mu = means[ch], istd = invstd[ch];
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                size_t j = n * CHW + ch * HW + i;
                c->din[j] = (c->din_fresh ? 0.0f : c->din[j]) + k * (c->dout[j] - mb - ((c->in[j] - mu) * istd) * mg);
            }
    }
}

const LayerOps bn_ops = {
    .kind = "bn", .shape = bn_shape, .params = bn_params, .states = bn_states,
    .cache_count = bn_cache, .scratch_count = no_floats, .bstat_count_per_channel = 2,
    .init = bn_init, .forward = bn_forward, .backward = bn_backward, .writes_din = 1,
};
