/* run/svg.c: line charts as inline SVG for report.html: axes, ticks with
 * labels, axis titles, a legend; linear or logarithmic x. */
#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *COLOURS[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b" };

/* A round step near range / n: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int n) {
    double raw = range / n, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

void html_text(Str *h, const char *s) {
    while (s && *s) {
        size_t run = strcspn(s, "<>&\"");
        str_put(h, s, run);
        s += run;
        if (!*s) break;
        str_add(h, "%s", *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : "&quot;");
        s++;
    }
}

void svg_chart(Str *h, const char *id, const char *title, const char *xlabel, const char *ylabel,
               const SvgSeries *s, int ns, int logx) {
    const double W = 340, H = 240, L = 62, R = 14, T = 34, B = 44;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double x = logx ? log10(s[k].x[i]) : s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
    str_add(h, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>", id, W, H, W, H);
    html_text(h, title);
    str_add(h, "</title><rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>"
               "<text x=\"%.0f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">", W / 2);
    html_text(h, title);
    str_add(h, "</text>");
    if (!isfinite(x0)) {   /* nothing to draw yet */
        str_add(h, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#888\">no data yet</text></svg>\n", W / 2, H / 2);
        return;
    }
    if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
    if (y1 - y0 < 1e-12) { y0 -= fabs(y0) * 0.05 + 1e-3; y1 += fabs(y1) * 0.05 + 1e-3; }
    double ys = nice_step(y1 - y0, 5);
    y0 = floor(y0 / ys) * ys;
    y1 = ceil(y1 / ys) * ys;
    double pw = W - L - R, ph = H - T - B;
#define PX(x) (L + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (T + (y1 - (y)) / (y1 - y0) * ph)
    str_add(h, "<g class=\"axes\" stroke=\"#444\" stroke-width=\"1\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n", L, T + ph, L + pw, T + ph, L, T, L, T + ph);
    for (double y = y0; y <= y1 + ys * 0.5; y += ys) {   /* y ticks and grid */
        str_add(h, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.4g</text>\n",
                   L, PY(y), L + pw, PY(y), L - 5, PY(y) + 4, fabs(y) < ys * 1e-6 ? 0.0 : y);
    }
    double xs = logx ? 1.0 : nice_step(x1 - x0, 6);
    if (!logx && xs < 1 && x1 - x0 >= 1) xs = 1;
    for (double x = ceil(x0 / xs - 1e-9) * xs; x <= x1 + 1e-9; x += xs) {   /* x ticks */
        char lab[32];
        if (logx) snprintf(lab, sizeof lab, "1e%d", (int)lround(x));
        else snprintf(lab, sizeof lab, "%.4g", x);
        str_add(h, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%s</text>\n",
                   PX(x), T + ph, PX(x), T + ph + 5, PX(x), T + ph + 18, lab);
    }
    str_add(h, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">", L + pw / 2, H - 8);
    html_text(h, xlabel);
    str_add(h, "</text><text class=\"ylabel\" transform=\"translate(16,%.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
               T + ph / 2);
    html_text(h, ylabel);
    str_add(h, "</text>\n");
    for (int k = 0; k < ns; k++) {
        const char *col = COLOURS[k % 6];
        str_add(h, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int i = 0; i < s[k].n; i++) {
            double x = logx ? log10(s[k].x[i]) : s[k].x[i], y = s[k].y[i];
            if (isfinite(x) && isfinite(y)) str_add(h, "%.1f,%.1f ", PX(x), PY(y));
        }
        str_add(h, "\"/>\n");
        if (s[k].n <= 40)
            for (int i = 0; i < s[k].n; i++) {
                double x = logx ? log10(s[k].x[i]) : s[k].x[i], y = s[k].y[i];
                if (isfinite(x) && isfinite(y))
                    str_add(h, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(x), PY(y), col);
            }
        str_add(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"3\" fill=\"%s\"/>"
                   "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", L + pw - 128, T + 6 + 14.0 * k, col,
                   L + pw - 112, T + 10 + 14.0 * k);
        html_text(h, s[k].name);
        str_add(h, "</text>\n");
    }
#undef PX
#undef PY
    str_add(h, "</svg>\n");
}

void str_put(Str *b, const char *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 > 4096 ? (b->n + n + 1) * 2 : 4096;
        b->s = dl_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void str_add(Str *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof small) { str_put(b, small, (size_t)n); return; }
    char *big = dl_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    str_put(b, big, (size_t)n);
    dl_free(big);
}
