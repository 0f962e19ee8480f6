/* util.c: messages, allocation, clock and the counter-based RNG. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char errbuf[2048];

DlStatus dl_fail(DlStatus code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

const char *dl_errmsg(void) { return errbuf; }

static void (*die_hook)(int code, const char *msg);

void dl_set_die_hook(void (*hook)(int code, const char *msg)) { die_hook = hook; }

void dl_die(int code, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (die_hook) die_hook(code, msg);   /* does not return */
    fprintf(stderr, "dltrain: %s\n", msg);
    exit(code);
}

static void oom(size_t n) {
    if (die_hook) dl_die(1, "out of memory allocating %zu bytes (lower --batch, or use a smaller model)", n);
    fprintf(stderr, "dltrain: out of memory allocating %zu bytes (lower --batch, or use a smaller model)\n", n);
    abort();
}

/* Blocks of 4 MiB and more (weights, gradients, optimizer state,
 * activations) on transparent huge pages where the kernel offers them
 * (madvise mode, Debian's default): a dense layer's weight gradient or a
 * column block of its weight touches one 4 KiB page per row, and with
 * 2 MiB pages those stop missing the TLB. */
#define HUGE_FROM ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void *dl_malloc(size_t n) {
    void *p = NULL;
    if (n >= HUGE_FROM) {
        if (posix_memalign(&p, HUGE_PAGE, n)) p = NULL;
        if (p) madvise(p, n, MADV_HUGEPAGE);   /* advice only: no huge pages is no error */
    } else p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *dl_calloc(size_t n, size_t size) {
    if (n && size && n * size >= HUGE_FROM && n * size / size == n) return memset(dl_malloc(n * size), 0, n * size);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *dl_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *dl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(dl_malloc(n), s, n);
}

void dl_free(void *p) { free(p); }

double dl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dl_panic(const char *file, int line, const char *what) {
    if (die_hook) dl_die(70, "internal error at %s:%d: %s (please report this)", file, line, what);
    fprintf(stderr, "dltrain: internal error at %s:%d: %s (please report this)\n", file, line, what);
    abort();   /* one process: keep the core dump */
}

uint64_t dl_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return dl_hash_tail(dl_hash_head(a, b), c, d); }

float rng_normal(DlRng *r) {
    float u1 = rng_unit(r), u2 = rng_unit(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}

void rng_shuffle(DlRng *r, int64_t *idx, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_next(r) % (uint64_t)(i + 1));
        int64_t t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
}

uint64_t dl_digest(const float *v, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        h = (h ^ bits) * 0x100000001b3ull;   /* FNV-1a over 32-bit words */
    }
    return h;
}

DlStatus dl_mkdir_p(const char *dir) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return dl_fail(DL_EARG, "path too long: %s", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char keep = *p;
            *p = '\0';
            struct stat sb;
            if (mkdir(buf, 0777) != 0 && !(errno == EEXIST && stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode)))
                return dl_fail(DL_EIO, "cannot create folder '%s': %s", buf, strerror(errno));
            *p = keep;
            if (!keep) break;
        }
    }
    return DL_OK;
}

/* fsync of a file or folder by name; errno on failure. */
static int fsync_path(const char *path, int dir) {
    int fd = open(path, O_RDONLY | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return r;
}

/* The folder holding path ("." for a bare name). */
static void parent_dir(char *out, size_t cap, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == path) snprintf(out, cap, "/");
    else snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

DlStatus dl_rename_durable(const char *tmp, const char *path) {
    char dir[4096];
    parent_dir(dir, sizeof dir, path);
    DlStatus st = DL_OK;
    if (fsync_path(tmp, 0) != 0)
        st = dl_fail(DL_EIO, "cannot sync '%s' to disk: %s (disk full or failing?)", tmp, strerror(errno));
    else if (fsync_path(dir, 1) != 0 && errno != EINVAL)   /* EINVAL: a file system that cannot sync folders */
        st = dl_fail(DL_EIO, "cannot sync folder '%s': %s", dir, strerror(errno));
    else if (rename(tmp, path) != 0)
        st = dl_fail(DL_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (st != DL_OK) { remove(tmp); return st; }
    if (fsync_path(dir, 1) != 0 && errno != EINVAL)
        return dl_fail(DL_EIO, "wrote '%s' but cannot sync its folder '%s': %s", path, dir, strerror(errno));
    return DL_OK;
}

DlStatus dl_write_durable(const char *path, const void *buf, size_t n) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial", path) >= (int)sizeof tmp) return dl_fail(DL_EIO, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return dl_fail(DL_EIO, "cannot create '%s': %s (does the folder exist and is it writable?)", tmp, strerror(errno));
    const char *p = buf;
    size_t done = 0;
    int e = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { e = w < 0 ? errno : ENOSPC; break; }
        done += (size_t)w;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (e) {
        remove(tmp);
        return dl_fail(DL_EIO, "cannot write '%s': %s (disk full or over a file-size limit?); '%s' is unchanged", tmp,
                       strerror(e), path);
    }
    return dl_rename_durable(tmp, path);
}
