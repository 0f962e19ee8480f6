/* run/svg.h: inline SVG line charts and HTML text escaping for report.html. */
#ifndef DL_SVG_H
#define DL_SVG_H

#include "run/str.h"

typedef struct {
    const char *name;          /* legend */
    const double *x, *y;       /* (n); non-finite points are left out */
    int n;
} SvgSeries;

/* Appends an <svg class="chart" id=ID> with a title, labelled axes with
 * ticks and one polyline per series; logx: x on a log10 axis. */
void svg_chart(Str *h, const char *id, const char *title, const char *xlabel, const char *ylabel,
               const SvgSeries *s, int ns, int logx);

/* Appends s with & < > " escaped. */
void html_text(Str *h, const char *s);

#endif
