/* prep_read.h: dlprep's readers of foreign files (prep_read.c). */
#ifndef DL_PREP_READ_H
#define DL_PREP_READ_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* An IDX file: big-endian magic (0, 0, type 0x08 = ubyte, ndims), ndims
 * big-endian uint32 sizes, then the bytes. */
typedef struct {
    int ndims;
    uint32_t dims[4];
    uint8_t *data;            /* owned */
    size_t size;
} Idx;

/* Reads an IDX ubyte file (gzip or not) of want_dims dimensions; `what`
 * ("images", "labels") goes into messages. On failure *x is zeroed. */
DlStatus prep_idx_read(Idx *x, const char *path, int want_dims, const char *what);

/* One labelled line of the CSV. */
typedef struct {
    char *name;
    char **tags;   /* ntags new strings */
    int ntags, line;
} CsvRow;

/* Reads a Planet-style 'image_name,tags' CSV into rows (new, each row's
 * name and tags owned); errors name csv:LINE. */
DlStatus prep_csv_read(const char *csv, CsvRow **rows_out, int *nrows_out);

/* Reads a whole regular file of at most 256 MiB; the message names it. */
DlStatus prep_read_bytes(const char *path, uint8_t **buf, size_t *n);

/* Frees n strings and the array (v may be NULL). */
void prep_free_strs(char **v, int n);

#endif
