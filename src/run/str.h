/* run/str.h: a growing string with its length, for pages of a few MB built
 * from many small pieces (appending never rescans what is there). */
#ifndef DL_STR_H
#define DL_STR_H

#include <stddef.h>

typedef struct {
    char *s;                   /* NUL-terminated; NULL while empty; free with dl_free */
    size_t n, cap;
} Str;

void str_put(Str *b, const char *p, size_t n);
void str_add(Str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
