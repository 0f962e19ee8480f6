/* conv_direct.h: stride-1 3x3 and 5x5 convolutions as direct AVX-512
 * kernels (conv_direct.c); conv.c calls them when conv_direct_supports(). */
#ifndef DL_CONV_DIRECT_H
#define DL_CONV_DIRECT_H

#include "layers/layer.h"

/* 1 if this build has the kernels (AVX-512) and they cover the layer. */
int conv_direct_supports(const LayerSpec *s);
size_t conv_direct_scratch(const LayerSpec *s, int pad, int P, int Q);
void conv_direct_forward(const LayerCtx *c, int pad, int P, int Q);
void conv_direct_backward(const LayerCtx *c, int pad, int P, int Q);

#endif
