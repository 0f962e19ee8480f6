/* run/cam.c: Grad-CAM of the last convolution (report.h), and the pictures
 * report.html shows: thumbnails and heat-map overlays as JPEG data URIs. */
#include "report.h"

#include <math.h>
#include <string.h>

#include "cam.h"

int report_cam_target(const Model *m, int *P, int *Q) {
    int t = -1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->spec[i].kind == LK_CONV || m->spec[i].kind == LK_DWCONV) t = i;
    if (t < 0) return -1;
    /* the conv's output after what follows it element-wise: batch norm and activations */
    for (int j = t + 1; j < m->n_layers; j++) {
        const LayerSpec *s = &m->spec[j];
        if (s->src != t || (s->kind != LK_BN && s->kind != LK_RELU && s->kind != LK_LEAKY)) break;
        int others = 0;   /* nothing else may read the conv's own output */
        for (int k = 0; k < m->n_layers; k++) others += k != j && (m->spec[k].src == t || m->spec[k].from == t);
        if (others) break;
        t = j;
    }
    *P = m->spec[t].out.h;
    *Q = m->spec[t].out.w;
    return t;
}

int report_gradcam(Model *m, const float *x, int n, const int *cls, float *maps, int *P, int *Q) {
    int t = report_cam_target(m, P, Q);
    if (t < 0) return -1;
    DL_CHECK(n >= 1 && n <= m->max_n);
    int64_t *idx = dl_calloc((size_t)n, sizeof(int64_t));
    ForwardArgs a = { .training = 0, .sample = idx };
    model_forward(m, x, n, &a);
    /* d logit[cls] / d logits: one-hot; backward stops at the target, whose
     * gradient buffer then holds d logit / d A (layers below run nothing) */
    memset(m->dlogits, 0, sizeof(float) * (size_t)n * m->classes);
    for (int i = 0; i < n; i++) m->dlogits[(size_t)i * m->classes + cls[i]] = 1.0f;
    int frozen = m->frozen, input_grad = m->input_grad;
    m->frozen = t;
    m->input_grad = 0;
    float *scratch = dl_calloc(m->n_params + 1, sizeof(float));   /* parameter gradients: thrown away */
    model_backward(m, x, n, &a, scratch);
    m->frozen = frozen;
    m->input_grad = input_grad;
    Shape o = m->spec[t].out;
    size_t pq = (size_t)o.h * o.w;
    for (int i = 0; i < n; i++) {
        const float *A = m->act[t] + (size_t)i * shape_size(o), *G = m->grad[t] + (size_t)i * shape_size(o);
        float *out = maps + (size_t)i * pq;
        for (size_t p = 0; p < pq; p++) out[p] = 0.0f;
        for (int k = 0; k < o.c; k++) {
            double alpha = 0.0;
            for (size_t p = 0; p < pq; p++) alpha += G[(size_t)k * pq + p];
            alpha /= (double)pq;
            for (size_t p = 0; p < pq; p++) out[p] += (float)(alpha * A[(size_t)k * pq + p]);
        }
        for (size_t p = 0; p < pq; p++) if (!(out[p] > 0.0f) || !isfinite(out[p])) out[p] = 0.0f;   /* relu; a diverged model draws nothing */
    }
    dl_free(scratch);
    dl_free(idx);
    return t;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void append_b64(Str *h, const uint8_t *d, size_t n) {
    size_t out = 4 * ((n + 2) / 3);
    str_put(h, "", 0);
    if (h->n + out + 1 > h->cap) { h->cap = (h->n + out + 1) * 2; h->s = dl_realloc(h->s, h->cap); }
    char *p = h->s + h->n;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        *p++ = B64[v >> 18 & 63];
        *p++ = B64[v >> 12 & 63];
        *p++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *p = '\0';
    h->n += out;
}

/* Integer upscale so the smaller side is at least 84 pixels (28x28 -> 84x84). */
static int scale_of(int h, int w) {
    int s = 1, side = h < w ? h : w;
    while (side * s < 84 && s < 8) s++;
    return s;
}

/* Appends "data:image/jpeg;base64,..." of img (h, w, c). */
static DlStatus append_jpeg(Str *html, JpegCodec *jc, const uint8_t *img, int h, int w, int c) {
    uint8_t *jpg = NULL;
    size_t n = 0;
    DlStatus st = jpeg_encode(jc, img, h, w, c, 90, &jpg, &n);
    if (st != DL_OK) return st;
    str_add(html, "data:image/jpeg;base64,");
    append_b64(html, jpg, n);
    dl_free(jpg);
    return DL_OK;
}

DlStatus cam_thumbnail(Str *html, JpegCodec *jc, const uint8_t *img, int h, int w, int c) {
    int s = scale_of(h, w), H = h * s, W = w * s;
    uint8_t *big = dl_malloc((size_t)H * W * c);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memcpy(big + ((size_t)y * W + x) * c, img + ((size_t)(y / s) * w + x / s) * c, (size_t)c);
    DlStatus st = append_jpeg(html, jc, big, H, W, c);
    dl_free(big);
    return st;
}

/* The jet colour map at v in [0, 1]. */
static void jet(float v, float rgb[3]) {
    float r = 1.5f - fabsf(4.0f * v - 3.0f), g = 1.5f - fabsf(4.0f * v - 2.0f), b = 1.5f - fabsf(4.0f * v - 1.0f);
    rgb[0] = r < 0 ? 0 : r > 1 ? 1 : r;
    rgb[1] = g < 0 ? 0 : g > 1 ? 1 : g;
    rgb[2] = b < 0 ? 0 : b > 1 ? 1 : b;
}

DlStatus cam_overlay(Str *html, JpegCodec *jc, const uint8_t *img, int h, int w, int c, const float *map, int P, int Q) {
    int s = scale_of(h, w), H = h * s, W = w * s;
    float mx = 0.0f;
    for (int i = 0; i < P * Q; i++) if (map[i] > mx) mx = map[i];
    uint8_t *out = dl_malloc((size_t)H * W * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            /* the map bilinearly at the pixel centre (align_corners=False) */
            float fy = ((float)y + 0.5f) * P / H - 0.5f, fx = ((float)x + 0.5f) * Q / W - 0.5f;
            fy = fy < 0 ? 0 : fy > P - 1 ? (float)(P - 1) : fy;
            fx = fx < 0 ? 0 : fx > Q - 1 ? (float)(Q - 1) : fx;
            int y0 = (int)fy, x0 = (int)fx, y1 = y0 + 1 < P ? y0 + 1 : y0, x1 = x0 + 1 < Q ? x0 + 1 : x0;
            float ay = fy - y0, ax = fx - x0;
            float v = (1 - ay) * ((1 - ax) * map[y0 * Q + x0] + ax * map[y0 * Q + x1]) +
                      ay * ((1 - ax) * map[y1 * Q + x0] + ax * map[y1 * Q + x1]);
            float rgb[3];
            jet(mx > 0 ? v / mx : 0.0f, rgb);
            const uint8_t *px = img + ((size_t)(y / s) * w + x / s) * c;
            for (int k = 0; k < 3; k++) {
                float base = px[c == 3 ? k : 0];
                out[((size_t)y * W + x) * 3 + k] = (uint8_t)(0.55f * base + 0.45f * 255.0f * rgb[k] + 0.5f);
            }
        }
    DlStatus st = append_jpeg(html, jc, out, H, W, 3);
    dl_free(out);
    return st;
}
