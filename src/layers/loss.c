/* loss.c: softmax cross-entropy and sigmoid binary cross-entropy. */
#include "layers/loss.h"

#include <math.h>
#include <stddef.h>

double softmax_xent(float *dlogits, const float *logits, const int32_t *labels,
                    int N, int K, float scale, int *correct) {
    double total = 0.0;
    int right = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        int best = 0;
        for (int k = 1; k < K; k++) if (z[k] > z[best]) best = k;
        right += best == labels[n];
        double mx = z[best], sum = 0.0;
        for (int k = 0; k < K; k++) sum += exp((double)z[k] - mx);
        double lse = mx + log(sum);                  /* log-sum-exp */
        total += lse - z[labels[n]];
        if (dlogits)
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                dlogits[(size_t)n * K + k] = (float)(scale * (p - (k == labels[n])));
            }
    }
    if (correct) *correct = right;
    return total;
}

double sigmoid_bce(float *dlogits, const float *logits, const float *targets,
                   int N, int K, float scale) {
    double total = 0.0;
    for (size_t i = 0; i < (size_t)N * K; i++) {
        double z = logits[i], t = targets[i];
        total += fmax(z, 0.0) - z * t + log1p(exp(-fabs(z)));
        if (dlogits) {
            double p = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
            dlogits[i] = (float)(scale * (p - t));
        }
    }
    return total;
}
