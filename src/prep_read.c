/* prep_read.c: dlprep's readers of foreign files (IDX, the labels CSV, whole
 * files), kept apart from the command line so the fuzz targets
 * (tests/fuzz/) drive exactly the code dlprep runs. Everything read is
 * checked against limits before use. */
#define _POSIX_C_SOURCE 200809L
#include "prep_read.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

void prep_free_strs(char **v, int n) {
    for (int i = 0; v && i < n; i++) dl_free(v[i]);
    dl_free(v);
}

/* The entries of `dir` (without . and .. and hidden names), sorted bytewise. */
/* Reads a whole file; the message names it. */
DlStatus prep_read_bytes(const char *path, uint8_t **buf, size_t *n) {
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dl_fail(DL_EIO, "%s: cannot read: %s", path, strerror(errno));
    struct stat sb;
    DlStatus st = DL_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = dl_fail(DL_EIO, "%s: not a regular file", path);
    else if (sb.st_size > (1 << 28))
        st = dl_fail(DL_EFORMAT, "%s: %lld bytes is too large for one image (256 MiB at most)", path, (long long)sb.st_size);
    else {
        *buf = dl_malloc((size_t)sb.st_size);
        *n = fread(*buf, 1, (size_t)sb.st_size, f);
        if (ferror(f)) st = dl_fail(DL_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
    fclose(f);
    if (st != DL_OK) { dl_free(*buf); *buf = NULL; *n = 0; }
    return st;
}

DlStatus prep_idx_read(Idx *x, const char *path, int want_dims, const char *what) {
    *x = (Idx){ 0 };
    gzFile g = gzopen(path, "rb");
    if (!g) return dl_fail(DL_EIO, "cannot open %s file '%s': %s", what, path, strerror(errno));
    uint8_t head[4];
    DlStatus st = DL_OK;
    if (gzread(g, head, 4) != 4 || head[0] || head[1] || head[2] != 0x08 || head[3] != want_dims)
        st = dl_fail(DL_EFORMAT, "%s: not an IDX %s file (expected magic 0x0000080%d, as in train-%s-idx%d-ubyte.gz)",
                     path, what, want_dims, want_dims == 3 ? "images" : "labels", want_dims);
    x->ndims = want_dims;
    size_t size = 1;
    for (int i = 0; st == DL_OK && i < want_dims; i++) {
        uint8_t b[4];
        if (gzread(g, b, 4) != 4) { st = dl_fail(DL_EFORMAT, "%s: truncated IDX header", path); break; }
        x->dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (x->dims[i] == 0 || x->dims[i] > (1u << 28))
            st = dl_fail(DL_EFORMAT, "%s: IDX dimension %d is %u; expected 1..2^28", path, i, x->dims[i]);
        else if ((size *= x->dims[i]) > ((size_t)1 << 36))   /* checked at each step: the product of three could wrap */
            st = dl_fail(DL_EFORMAT, "%s: IDX header declares more than 2^36 bytes of data (damaged file?)", path);
    }
    if (st == DL_OK) {
        /* Grown as the data arrives, never sized from the header alone: a
         * 16-byte file may declare 2^36 bytes. */
        size_t cap = size < ((size_t)1 << 20) ? size : ((size_t)1 << 20), got = 0;
        x->data = dl_malloc(cap);
        x->size = size;
        while (got < size) {
            if (got == cap) {
                cap = size - cap < cap ? size : 2 * cap;
                x->data = dl_realloc(x->data, cap);
            }
            unsigned chunk = cap - got > (1u << 30) ? (1u << 30) : (unsigned)(cap - got);
            int r = gzread(g, x->data + got, chunk);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got != size)
            st = dl_fail(DL_EFORMAT, "%s: truncated: the header promises %zu bytes of data, the file holds %zu "
                         "(re-download or re-install it)", path, size, got);
    }
    gzclose(g);
    if (st != DL_OK) { dl_free(x->data); *x = (Idx){ 0 }; }
    return st;
}

/* Splits one CSV line into at most `max` fields (double quotes allowed,
 * "" inside quotes is a quote); the line is modified in place. Returns the
 * field count (max + 1 means "more than max"). */
static int csv_fields(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return max + 1;
        char *out = p;
        f[n++] = p;
        if (*p == '"') {
            char *q = p + 1;
            for (;;) {
                if (!*q) break;
                if (*q == '"' && q[1] == '"') { *out++ = '"'; q += 2; continue; }
                if (*q == '"') { q++; break; }
                *out++ = *q++;
            }
            while (*q && *q != ',') q++;
            char sep = *q;
            *out = '\0';
            if (sep != ',') return n;
            p = q + 1;
        } else {
            char *comma = strchr(p, ',');
            if (!comma) return n;
            *comma = '\0';
            p = comma + 1;
        }
    }
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int name_in(const char *s, const char *const *names) {
    for (; *names; names++) if (!strcasecmp(s, *names)) return 1;
    return 0;
}

DlStatus prep_csv_read(const char *csv, CsvRow **rows_out, int *nrows_out) {
    uint8_t *buf;
    size_t len;
    DlStatus st = prep_read_bytes(csv, &buf, &len);
    if (st != DL_OK) return st;
    char *text = dl_malloc(len + 1);
    memcpy(text, buf, len);
    text[len] = '\0';
    dl_free(buf);
    if (strlen(text) != len) {
        dl_free(text);
        return dl_fail(DL_EFORMAT, "%s: holds NUL bytes; expected a text CSV file (image_name,tags)", csv);
    }
    char *p = text;
    if (!strncmp(p, "\xEF\xBB\xBF", 3)) p += 3;   /* UTF-8 byte order mark, as Excel writes */
    CsvRow *rows = NULL;
    int nrows = 0, cap = 0, lineno = 0, header = 0;
    static const char *const name_cols[] = { "image_name", "image", "fname", "filename", "file", "name", "id", NULL };
    static const char *const tag_cols[] = { "tags", "labels", "label", NULL };
    while (st == DL_OK && *p) {
        char *line = p, *nl = strchr(p, '\n');
        if (nl) { *nl = '\0'; p = nl + 1; } else p += strlen(p);
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        if (!*trim(line)) continue;                   /* blank lines carry nothing */
        char *f[3];
        int nf = csv_fields(line, f, 2);
        if (!header) {
            header = 1;
            if (nf != 2 || !name_in(trim(f[0]), name_cols) || !name_in(trim(f[1]), tag_cols))
                st = dl_fail(DL_EFORMAT, "%s:%d: unknown header; expected 'image_name,tags' (Planet style: an image name, "
                             "then its tags separated by spaces)", csv, lineno);
            continue;
        }
        if (nf == 1)
            st = dl_fail(DL_EFORMAT, "%s:%d: no comma; expected 'image_name,tags' (tags may be empty: 'name,')", csv, lineno);
        else if (nf > 2)
            st = dl_fail(DL_EFORMAT, "%s:%d: more than 2 fields; expected 'image_name,tags' with tags separated by spaces "
                         "(quote a name that holds a comma)", csv, lineno);
        else if (!*trim(f[0]))
            st = dl_fail(DL_EFORMAT, "%s:%d: empty image name; expected 'image_name,tags'", csv, lineno);
        if (st != DL_OK) break;
        if (nrows == cap) {
            cap = cap ? 2 * cap : 1024;
            rows = dl_realloc(rows, (size_t)cap * sizeof *rows);
        }
        CsvRow *r = &rows[nrows++];
        *r = (CsvRow){ .name = dl_strdup(trim(f[0])), .line = lineno };
        char *save = NULL;
        for (char *t = strtok_r(f[1], " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            r->tags = dl_realloc(r->tags, (size_t)(r->ntags + 1) * sizeof *r->tags);
            r->tags[r->ntags++] = dl_strdup(t);
        }
    }
    if (st == DL_OK && !header) st = dl_fail(DL_EFORMAT, "%s: empty file; expected a header 'image_name,tags' and one line per image", csv);
    else if (st == DL_OK && !nrows) st = dl_fail(DL_EFORMAT, "%s: has a header but no image lines", csv);
    dl_free(text);
    if (st != DL_OK) {
        for (int i = 0; i < nrows; i++) { dl_free(rows[i].name); prep_free_strs(rows[i].tags, rows[i].ntags); }
        dl_free(rows);
        rows = NULL;
        nrows = 0;
    }
    *rows_out = rows;
    *nrows_out = nrows;
    return st;
}

