/* dense.c: fully connected layer over the flattened (C*H*W) input.
 * weight (U, In) and bias (U), as torch.nn.Linear. */
#include <cblas.h>
#include <math.h>
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

/* Samples per group of a call (one group when the caller gives none). */
static int group_size(const LayerCtx *c) { return c->group_n > 0 ? c->group_n : c->n; }

static void wgrad_planned(const LayerCtx *c, int gn, int G, int U, int In);

#ifdef __AVX512F__
/* AVX-512 kernels. Each output is summed in an order fixed by the layer's
 * shape alone (forward: over the inputs in order, 16 samples in the lanes
 * of a vector; input gradient: over the units in order; weight gradient:
 * over a group's samples in order, then the groups' balanced tree), so a
 * call may take every sample of a thread at once, and the weight streams
 * from memory once per call. Blocks past the last sample or unit reuse row
 * 0 (or read zeros) and are not stored, so the kernels keep fixed sizes. */
#include <immintrin.h>

#define VL 16
#define FV 4   /* forward: sample vectors per block (x 7 to 14 units) */
#define XN 6   /* input gradient: samples x 16-input vectors per block */
#define XV 4
#define WU 6   /* weight gradient: units per block (x 32 inputs, two groups in registers) */
#define MAX_LEVELS 16
#define UNROLL _Pragma("GCC unroll 8")
#define UNROLL16 _Pragma("GCC unroll 16")


/* the weight gradient's transposed dy and strip of x, or the groups' bias
 * gradients and wgrad_small's sums; the forward's transposed input */
static size_t dense_scratch(const LayerSpec *s, int n) {
    size_t np = (size_t)(n + VL - 1) / VL * VL;
    size_t bwd = (size_t)n * (s->units + 1) + s->units * np + 2 * VL * np, fwd = shape_size(s->in) * np;
    return bwd > fwd ? bwd : fwd;
}

/* xt (In, Np) = x (N, In) transposed; samples from N to Np are 0 */
static void transpose_in(float *xt, const float *x, int N, int In, int Np) {
    __m512 r[VL];
    for (int n0 = 0; n0 < Np; n0 += VL)
        for (int i0 = 0; i0 < In; i0 += VL) {
            __mmask16 m = lanes16(In - i0);
            for (int a = 0; a < VL; a++)
                r[a] = n0 + a < N ? _mm512_maskz_loadu_ps(m, x + (size_t)(n0 + a) * In + i0) : _mm512_setzero_ps();
            transpose16(r);
            for (int b = 0; b < VL && i0 + b < In; b++) _mm512_storeu_ps(xt + (size_t)(i0 + b) * Np + n0, r[b]);
        }
}

/* Forward block: units u0..u0+UB x NV vectors of 16 samples from n0, over
 * every input in order: per input, NV sample vectors of xt and UB
 * broadcast weights feed UB * NV FMAs; the weight rows stream once. */
#define FWD_UB(NV) ((NV) <= 2 ? 14 : (NV) == 3 ? 9 : 7)   /* units per block: UB * NV <= 28 accumulators */
#define FWD_KERNEL(NV)                                                                                 \
    static void fwd_kernel_##NV(const LayerCtx *c, const float *xt, int Np, int n0, int u0) {         \
        enum { UB = FWD_UB(NV) };                                                                      \
        int N = c->n, U = c->s->units, In = (int)shape_size(c->s->in);                                \
        const float *wr[UB], *bias = c->w + (size_t)U * In;                                           \
        for (int b = 0; b < UB; b++) wr[b] = c->w + (size_t)(u0 + b < U ? u0 + b : u0) * In;          \
        __m512 acc[UB][NV];                                                                            \
        UNROLL16 for (int b = 0; b < UB; b++)                                                          \
            UNROLL16 for (int v = 0; v < NV; v++) acc[b][v] = _mm512_setzero_ps();                     \
        const float *xp = xt + n0;                                                                     \
        for (int i = 0; i < In; i++, xp += Np) {                                                       \
            __m512 xv[NV];                                                                             \
            UNROLL16 for (int v = 0; v < NV; v++) xv[v] = _mm512_loadu_ps(xp + v * VL);                \
            UNROLL16 for (int b = 0; b < UB; b++) {                                                    \
                __m512 wb = _mm512_set1_ps(wr[b][i]);                                                  \
                UNROLL16 for (int v = 0; v < NV; v++) acc[b][v] = _mm512_fmadd_ps(wb, xv[v], acc[b][v]); \
            }                                                                                          \
        }                                                                                              \
        __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), \
                                         _mm512_set1_epi32(U));                                        \
        for (int b = 0; b < UB && u0 + b < U; b++)                                                     \
            for (int v = 0; v < NV; v++) {                                                             \
                __m512 y = _mm512_add_ps(_mm512_set1_ps(bias[u0 + b]), acc[b][v]);                     \
                _mm512_mask_i32scatter_ps(c->out + (size_t)(n0 + v * VL) * U + u0 + b, lanes16(N - n0 - v * VL), idx, y, 4); \
            }                                                                                          \
    }

FWD_KERNEL(1) FWD_KERNEL(2) FWD_KERNEL(3) FWD_KERNEL(4)
static void (*const fwd_kernels[FV + 1])(const LayerCtx *, const float *, int, int, int) = {
    NULL, fwd_kernel_1, fwd_kernel_2, fwd_kernel_3, fwd_kernel_4,
};

/* y[n][u] = bias[u] + sum over i in order of x[n][i] * weight[u][i] */
static void dense_forward(const LayerCtx *c) {
    int N = c->n, U = c->s->units, In = (int)shape_size(c->s->in), Np = (N + VL - 1) / VL * VL;
    float *xt = c->scratch;
    transpose_in(xt, c->in, N, In, Np);
    for (int n0 = 0; n0 < Np; n0 += FV * VL) {
        int nv = (Np - n0) / VL < FV ? (Np - n0) / VL : FV;
        for (int u0 = 0; u0 < U; u0 += FWD_UB(nv)) fwd_kernels[nv](c, xt, Np, n0, u0);
    }
}

/* din[n][i] += sum over u of dout[n][u] * weight[u][i] */
static void dense_input_grad(const LayerCtx *c, int N, int U, int In) {
    for (int i0 = 0; i0 < In; i0 += XV * VL) {
        __mmask16 m[XV];
        for (int v = 0; v < XV; v++) m[v] = lanes16(In - i0 - v * VL);
        for (int n0 = 0; n0 < N; n0 += XN) {
            const float *dr[XN];
            for (int a = 0; a < XN; a++) dr[a] = c->dout + (size_t)(n0 + a < N ? n0 + a : n0) * U;
            __m512 acc[XN][XV];
            UNROLL for (int a = 0; a < XN; a++)
                UNROLL for (int v = 0; v < XV; v++) acc[a][v] = _mm512_setzero_ps();
            const float *w = c->w + i0;
            for (int u = 0; u < U; u++, w += In) {
                __m512 wv[XV];
                UNROLL for (int v = 0; v < XV; v++) wv[v] = _mm512_maskz_loadu_ps(m[v], w + v * VL);
                UNROLL for (int a = 0; a < XN; a++) {
                    __m512 d = _mm512_set1_ps(dr[a][u]);
                    UNROLL for (int v = 0; v < XV; v++) acc[a][v] = _mm512_fmadd_ps(d, wv[v], acc[a][v]);
                }
            }
            UNROLL for (int a = 0; a < XN; a++) {
                if (n0 + a >= N) break;
                UNROLL for (int v = 0; v < XV; v++) {
                    float *dst = c->din + (size_t)(n0 + a) * In + i0 + v * VL;
                    __m512 base = c->din_fresh ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m[v], dst);
                    _mm512_mask_storeu_ps(dst, m[v], _mm512_add_ps(base, acc[a][v]));
                }
            }
        }
    }
}

/* One group's weight-gradient block: units u0..u0+WU x inputs i0..i0+32,
 * summed over samples n0..n1 in order. */
static inline __attribute__((always_inline)) void wgrad_block(__m512 acc[WU][2], const float *xp, const float *dyt,
                                                              int Np, int n0, int n1, int u0) {
    UNROLL for (int b = 0; b < WU; b++) acc[b][0] = acc[b][1] = _mm512_setzero_ps();
    for (int n = n0; n < n1; n++) {
        __m512 x0 = _mm512_loadu_ps(xp + (size_t)n * 2 * VL), x1 = _mm512_loadu_ps(xp + (size_t)n * 2 * VL + VL);
        UNROLL for (int b = 0; b < WU; b++) {
            __m512 dv = _mm512_set1_ps(dyt[(size_t)(u0 + b) * Np + n]);
            acc[b][0] = _mm512_fmadd_ps(dv, x0, acc[b][0]);
            acc[b][1] = _mm512_fmadd_ps(dv, x1, acc[b][1]);
        }
    }
}

/* dw = the groups' weight gradients summed in a balanced binary tree,
 * ((g0 + g1) + (g2 + g3)), the order of the trainer's sums: per block of
 * WU units x 32 inputs, two groups at a time in registers, merged, then
 * on a stack whose equal-sized top two entries merge as they come. The
 * last block of units overlaps the one before (U >= WU) and stores only
 * its new units. */
static void wgrad(const LayerCtx *c, int gn, int G, int U, int In) {
    __m512 stack[MAX_LEVELS][WU][2];
    int size[MAX_LEVELS], N = c->n, Np = (N + VL - 1) / VL * VL;
    float *dyt = c->scratch, *xp = dyt + (size_t)U * Np;   /* dy transposed (U, Np); a strip of x (N, 32) */
    transpose_in(dyt, c->dout, N, U, Np);
    for (int i0 = 0; i0 < In; i0 += 2 * VL) {   /* the strip of every sample stays in L1 */
        __mmask16 m0 = lanes16(In - i0), m1 = lanes16(In - i0 - VL);
        for (int n = 0; n < N; n++) {
            const float *xn = c->in + (size_t)n * In + i0;
            _mm512_storeu_ps(xp + (size_t)n * 2 * VL, _mm512_maskz_loadu_ps(m0, xn));
            _mm512_storeu_ps(xp + (size_t)n * 2 * VL + VL, _mm512_maskz_loadu_ps(m1, xn + VL));
        }
        for (int u0 = 0; u0 < U; u0 += WU) {
            int ub = u0 + WU <= U ? u0 : U - WU;   /* the block computed; units from u0 are stored */
            int depth = 0;
            for (int g = 0; g < G; g += 2) {
                __m512 a[WU][2], b[WU][2];
                wgrad_block(a, xp, dyt, Np, g * gn, (g + 1) * gn, ub);
                if (g + 1 < G) {
                    wgrad_block(b, xp, dyt, Np, (g + 1) * gn, (g + 2) * gn, ub);
                    UNROLL for (int k = 0; k < WU; k++) {
                        a[k][0] = _mm512_add_ps(a[k][0], b[k][0]);
                        a[k][1] = _mm512_add_ps(a[k][1], b[k][1]);
                    }
                }
                UNROLL for (int k = 0; k < WU; k++) { stack[depth][k][0] = a[k][0]; stack[depth][k][1] = a[k][1]; }
                size[depth++] = 2;
                while (depth >= 2 && size[depth - 1] == size[depth - 2]) {
                    for (int k = 0; k < WU; k++)
                        for (int v = 0; v < 2; v++)
                            stack[depth - 2][k][v] = _mm512_add_ps(stack[depth - 2][k][v], stack[depth - 1][k][v]);
                    size[depth - 2] *= 2;
                    depth--;
                }
            }
            for (int k = u0 - ub; k < WU; k++) {
                float *dst = c->dw + (size_t)(ub + k) * In + i0;
                _mm512_mask_storeu_ps(dst, m0, stack[0][k][0]);
                _mm512_mask_storeu_ps(dst + VL, m1, stack[0][k][1]);
            }
        }
    }
}

/* Layers narrower than a block: plain loops, the same sums in the same order. */
static void wgrad_small(const LayerCtx *c, int gn, int G, int U, int In) {
    float *tmp = c->scratch + (size_t)G * U;   /* (G) partial sums of one weight */
    for (int u = 0; u < U; u++)
        for (int i = 0; i < In; i++) {
            for (int g = 0; g < G; g++) {
                float sum = 0.0f;
                for (int n = g * gn; n < (g + 1) * gn; n++) sum = fmaf(c->dout[(size_t)n * U + u], c->in[(size_t)n * In + i], sum);
                tmp[g] = sum;
            }
            for (int span = 1; span < G; span *= 2)
                for (int g = 0; g + span < G; g += 2 * span) tmp[g] += tmp[g + span];
            c->dw[(size_t)u * In + i] = tmp[0];
        }
}

static void dense_weight_grad(const LayerCtx *c, int gn, int G, int U, int In) {
    DL_CHECK((G & (G - 1)) == 0 && G < (1 << (MAX_LEVELS - 3)));   /* the trainer's groups: a power of two */
    if (U >= WU) wgrad(c, gn, G, U, In);
    else wgrad_small(c, gn, G, U, In);
    /* bias: each group's sum over its samples in order, then the same tree */
    float *db = c->scratch, *dbias = c->dw + (size_t)U * In;
    for (int g = 0; g < G; g++)
        for (int u = 0; u < U; u++) {
            float sum = 0.0f;
            for (int n = g * gn; n < (g + 1) * gn; n++) sum += c->dout[(size_t)n * U + u];
            db[(size_t)g * U + u] = sum;
        }
    for (int span = 1; span < G; span *= 2)
        for (int g = 0; g + span < G; g += 2 * span)
            for (int u = 0; u < U; u++) db[(size_t)g * U + u] += db[(size_t)(g + span) * U + u];
    memcpy(dbias, db, sizeof(float) * U);
}

static void dense_backward(const LayerCtx *c) {
    int gn = group_size(c), G = c->n / gn, U = c->s->units, In = (int)shape_size(c->s->in);
    if (c->dw) wgrad_planned(c, gn, G, U, In);
    if (c->din) dense_input_grad(c, c->n, U, In);
}

#else   /* OpenBLAS */

/* The GEMMs run per group of c->group_n samples, whatever the number of
 * groups in a call, so a sample's output has the same bits for any -np; and
 * in blocks of the weight that stay in L2 while every group of the call uses
 * them, so a large weight streams from memory once per call, not once per
 * group. */
#define UB 16   /* units per block of forward and weight gradient */
#define IB 64   /* input features per block of the input gradient */


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
    if (c->dw) wgrad_planned(c, gn, G, U, In);
    if (c->din && c->din_fresh) memset(c->din, 0, sizeof(float) * c->n * In);
    if (c->din)
        for (int i0 = 0; i0 < In; i0 += IB) {
            int ib = In - i0 < IB ? In - i0 : IB;
            for (int g = 0; g < G; g++)   /* din_g[:, i0..] (gn, ib) += dout_g (gn, U) x weight[:, i0..] (U, ib) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, gn, ib, U, 1.0f, c->dout + (size_t)g * gn * U, U,
                            c->w + i0, In, 1.0f, c->din + (size_t)g * gn * In + i0, In);
        }
}

#endif

/* 1 if the plan is the balanced tree over G (a power of two) groups: after
 * group g, as many merges as g + 1 has trailing zero bits. */
static int plan_balanced(const uint8_t *merges, int G) {
    if (G & (G - 1)) return 0;
    for (int g = 0; g < G; g++)
        if (merges[g] != __builtin_ctz((unsigned)g + 1)) return 0;
    return 1;
}

/* The weight gradient summed as c->merges says (model.h): the balanced
 * tree in one call, which streams the weight once; any other tree (groups
 * not a power of two, gtree.h) one group at a time, each group's gradient
 * with the bits a call of its own gives it, then summed on a stack of
 * group buffers in the plan's order. */
static void wgrad_planned(const LayerCtx *c, int gn, int G, int U, int In) {
    if (!c->merges || plan_balanced(c->merges, G)) {
        dense_weight_grad(c, gn, G, U, In);
        return;
    }
    size_t np = (size_t)U * In + U;
    int top[64], depth = 0;
    for (int g = 0; g < G; g++) {
        LayerCtx cg = *c;
        cg.n = cg.group_n = gn;
        cg.in = c->in + (size_t)g * gn * In;
        cg.dout = c->dout + (size_t)g * gn * U;
        cg.dw = c->dw + g * c->dw_stride;
        dense_weight_grad(&cg, gn, 1, U, In);
        DL_CHECK(depth < 64);
        top[depth++] = g;
        for (int k = 0; k < c->merges[g]; k++, depth--) {
            float *dst = c->dw + top[depth - 2] * c->dw_stride;
            const float *src = c->dw + top[depth - 1] * c->dw_stride;
            for (size_t e = 0; e < np; e++) dst[e] += src[e];
        }
    }
}

const LayerOps dense_ops = {
    .kind = "dense", .shape = dense_shape, .params = dense_params, .states = no_tensors,
    .cache_count = no_floats, .scratch_count = dense_scratch, .init = dense_init,
    .forward = dense_forward, .backward = dense_backward, .grouped = 1, .writes_din = 1,
};
