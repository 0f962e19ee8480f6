/* fuzz_common.h: what every libFuzzer target of tests/fuzz shares. The
 * readers under test take a path (HDF5, zlib and stdio open files by name),
 * so each input is written to one temporary file per process, rewritten in
 * place for every input. A new target (fuzz_onnx.c) includes this, calls
 * fuzz_file() and adds its name to the list in tests/fuzz/CMakeLists.txt. */
#ifndef DL_FUZZ_COMMON_H
#define DL_FUZZ_COMMON_H

#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The path of this process's temporary file holding data[0..size), with
 * the given suffix (".h5", ".csv"...). Aborts if it cannot be written (the
 * harness is broken, not the input). */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    static char path[256];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/dlfuzz-%ld%s", dir && *dir ? dir : "/tmp", (long)getpid(), suffix);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Removes the temporary file at exit. */
static void fuzz_cleanup(void) {
    char path[256];
    const char *dir = getenv("TMPDIR");
    const char *suffixes[] = { ".h5", ".csv", ".idx", ".model", "" };
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/dlfuzz-%ld%s", dir && *dir ? dir : "/tmp", (long)getpid(), suffixes[i]);
        unlink(path);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    atexit(fuzz_cleanup);
    return 0;
}

#endif
