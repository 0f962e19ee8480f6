/* dense.c: fully connected layer over the flattened (C*H*W) input.
 * weight (U, In) and bias (U), as torch.nn.Linear. */
#include <cblas.h>
#include <string.h>

#include "layers/layer.h"

static DlStatus dense_shape(LayerSpec *s) {
    if (s->units < 1) return dl_fail(DL_EFORMAT, "dense needs units>=1 (or units=classes)");
    s->out = (Shape){ s->units, 1, 1 };
    return DL_OK;
}

static int dense_params(const LayerSpec *s, TensorInfo t[4]) {
    t[0] = (TensorInfo){ "weight", 2, { s->units, (int)shape_size(s->in) }, 1 };
    t[1] = (TensorInfo){ "bias", 1, { s->units }, 0 };
    return 2;
}

static void dense_init(const LayerSpec *s, float *w, float *state, DlRng *r) {
    (void)state;
    int in = (int)shape_size(s->in);
    init_fan_in_uniform(w, (size_t)s->units * (in + 1), in, r);   /* weight, then bias */
}

/* The GEMMs run per group of c->group_n samples, whatever the number of
 * groups in a call, so a sample's output has the same bits for any -np; and
 * in blocks of the weight that stay in L2 while every group of the call uses
 * them, so a large weight streams from memory once per call, not once per
 * group. */
#define UB 16   /* units per block of forward and weight gradient */
#define IB 64   /* input features per block of the input gradient */

static int group_size(const LayerCtx *c) { return c->group_n > 0 ? c->group_n : c->n; }

/* Stack depth the weight-gradient tree needs for up to n groups. */
static int tree_levels(int n) {
    int l = 1;
    while ((1 << (l - 1)) < n) l++;
    return l;
}

static size_t dense_scratch(const LayerSpec *s, int n) {
    return (size_t)tree_levels(n) * UB * (shape_size(s->in) + 1);
}

static void dense_forward(const LayerCtx *c) {
    int gn = group_size(c), G = c->n / gn, U = c->s->units, In = (int)shape_size(c->s->in);
    const float *weight = c->w, *bias = c->w + (size_t)U * In;
    for (int n = 0; n < c->n; n++) memcpy(c->out + (size_t)n * U, bias, sizeof(float) * U);
    for (int u0 = 0; u0 < U; u0 += UB) {
        int ub = U - u0 < UB ? U - u0 : UB;
        for (int g = 0; g < G; g++)   /* out_g (gn, ub) += in_g (gn, In) x weight[u0..]^T (In, ub) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, gn, ub, In, 1.0f, c->in + (size_t)g * gn * In, In,
                        weight + (size_t)u0 * In, In, 1.0f, c->out + (size_t)g * gn * U + u0, U);
    }
}

/* dw = the groups' weight gradients summed in a balanced binary tree,
 * ((g0 + g1) + (g2 + g3)), the order of the trainer's sums; a block of UB
 * units at a time, each group's block into a stack whose equal-sized top
 * two entries merge as they come. */
static void dense_weight_grad(const LayerCtx *c, int gn, int G, int U, int In) {
    size_t blk = (size_t)UB * In;
    float *dweight = c->dw, *dbias = c->dw + (size_t)U * In;
    float *slot_b = c->scratch + (size_t)tree_levels(G) * blk;   /* bias sums, UB per level */
    int size[32];
    for (int u0 = 0; u0 < U; u0 += UB) {
        int ub = U - u0 < UB ? U - u0 : UB, depth = 0;
        for (int g = 0; g < G; g++) {
            float *dst = depth == 0 ? dweight + (size_t)u0 * In : c->scratch + (size_t)depth * blk;
            float *db = slot_b + (size_t)depth * UB;
            const float *dout = c->dout + (size_t)g * gn * U;
            /* dst (ub, In) = dout_g[:, u0..]^T (ub, gn) x in_g (gn, In) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ub, In, gn, 1.0f, dout + u0, U,
                        c->in + (size_t)g * gn * In, In, 0.0f, dst, In);
            for (int u = 0; u < ub; u++) db[u] = 0.0f;
            for (int n = 0; n < gn; n++)
                for (int u = 0; u < ub; u++) db[u] += dout[(size_t)n * U + u0 + u];
            size[depth++] = 1;
            while (depth >= 2 && (size[depth - 1] == size[depth - 2] || g == G - 1)) {
                float *a = depth == 2 ? dweight + (size_t)u0 * In : c->scratch + (size_t)(depth - 2) * blk;
                const float *b = c->scratch + (size_t)(depth - 1) * blk;
                for (size_t i = 0; i < (size_t)ub * In; i++) a[i] += b[i];
                for (int u = 0; u < ub; u++) slot_b[(size_t)(depth - 2) * UB + u] += slot_b[(size_t)(depth - 1) * UB + u];
                size[depth - 2] += size[depth - 1];
                depth--;
            }
        }
        memcpy(dbias + u0, slot_b, sizeof(float) * ub);
    }
}

static void dense_backward(const LayerCtx *c) {
    int gn = group_size(c), G = c->n / gn, U = c->s->units, In = (int)shape_size(c->s->in);
    if (c->dw) dense_weight_grad(c, gn, G, U, In);
    if (c->din)
        for (int i0 = 0; i0 < In; i0 += IB) {
            int ib = In - i0 < IB ? In - i0 : IB;
            for (int g = 0; g < G; g++)   /* din_g[:, i0..] (gn, ib) += dout_g (gn, U) x weight[:, i0..] (U, ib) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, gn, ib, U, 1.0f, c->dout + (size_t)g * gn * U, U,
                            c->w + i0, In, 1.0f, c->din + (size_t)g * gn * In + i0, In);
        }
}

const LayerOps dense_ops = {
    .kind = "dense", .shape = dense_shape, .params = dense_params, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = dense_scratch, .init = dense_init,
    .forward = dense_forward, .backward = dense_backward, .grouped = 1,
};
