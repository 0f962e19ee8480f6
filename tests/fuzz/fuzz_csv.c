/* fuzz_csv: dlprep csv's reader of the Planet-style labels file
 * (prep_csv_read in src/prep_read.c): header, quoting, fields, tags. */
#include "fuzz_common.h"

#include "prep_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, ".csv");
    CsvRow *rows = NULL;
    int n = 0;
    if (prep_csv_read(path, &rows, &n) == DL_OK) {
        for (int i = 0; i < n; i++) {
            if (!rows[i].name[0] || rows[i].line < 1) abort();   /* the reader promises non-empty names */
            dl_free(rows[i].name);
            prep_free_strs(rows[i].tags, rows[i].ntags);
        }
        dl_free(rows);
    } else if (rows || n) abort();   /* on failure nothing is handed out */
    return 0;
}
