/* loss.h: the two losses, each returning the loss summed over its terms (in
 * double) and writing the gradient times `scale`. The trainer passes
 * scale = 1/B for softmax (mean over the global batch B) and 1/(B*K) for
 * sigmoid (mean over every sample and tag, PyTorch's BCEWithLogitsLoss), so
 * the gradients of all groups add up to the gradient of the global mean. */
#ifndef DL_LOSS_H
#define DL_LOSS_H

#include <stdint.h>

/* Softmax cross-entropy via log-softmax (stable for any logit size).
 * dlogits (N,K) = scale * (softmax(logits) - onehot(labels)).
 * correct (may be NULL) gets the number of samples whose argmax is the label. */
double softmax_xent(float *dlogits, const float *logits, const int32_t *labels,
                    int N, int K, float scale, int *correct);

/* Sigmoid binary cross-entropy per element, stable form
 * max(z,0) - z*t + log1p(exp(-|z|)). dlogits (N,K) = scale * (sigmoid(z) - t). */
double sigmoid_bce(float *dlogits, const float *logits, const float *targets,
                   int N, int K, float scale);

#endif
