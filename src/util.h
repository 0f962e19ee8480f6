/* util.h: status codes and messages, checked allocation, time, and the
 * counter-based random numbers that make every random choice a pure function
 * of (seed, purpose, epoch, sample, ...), so results never depend on the rank
 * count or on the order work is done in.
 * Not here: anything that knows about layers, files or MPI. */
#ifndef DL_UTIL_H
#define DL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain.h"

/* What the build targets (CMake's DLTRAIN_ARCH) and whether the AVX-512
 * kernels are in it, for the start-up header and --version: ranks of one run
 * need builds that sum the same way (README "Running on a cluster"). */
#ifndef DL_BUILD_ARCH
#define DL_BUILD_ARCH "unknown"
#endif
#ifdef __AVX512F__
#define DL_BUILD_DESC DL_BUILD_ARCH " build, AVX-512 kernels"
#else
#define DL_BUILD_DESC DL_BUILD_ARCH " build, no AVX-512 kernels"
#endif

/* Records a one-line message for `code` (printf-style) and returns `code`.
 * The message stays readable through dl_errmsg() until the next dl_fail. */
DlStatus dl_fail(DlStatus code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failure that cannot return a status (a read error on one rank mid-step,
 * a thread that cannot start, out of memory): prints "dltrain: MSG" and
 * exits with `code`; once a multi-rank job set a hook (dist_init), the hook
 * names the rank and host and ends every rank (MPI_Abort), never this
 * process alone while the others wait for it. */
void dl_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void dl_set_die_hook(void (*hook)(int code, const char *msg));

/* Allocation that never returns NULL: on failure it prints the byte count
 * and ends the job (running out of memory mid-step is not recoverable). */
void *dl_malloc(size_t n);
void *dl_calloc(size_t n, size_t size);
void *dl_realloc(void *p, size_t n);
char *dl_strdup(const char *s);
void dl_free(void *p);

/* mkdir -p: creates dir and its missing parents (DL_EIO naming the one
 * that could not be made). */
DlStatus dl_mkdir_p(const char *dir);

/* Durable replacement of a file that a rerun or a resume depends on
 * (checkpoints, dlprep's outputs): fsync of the file and of its folder
 * before the rename, rename (atomic: readers see the old file or the new
 * one), fsync of the folder after it, so after a crash of the machine `path`
 * is the old file or the whole new one, never empty. On failure tmp is
 * removed and the message names the file and the reason (DL_EIO). */
DlStatus dl_rename_durable(const char *tmp, const char *path);

/* Writes n bytes to "<path>.partial" and renames it into place with
 * dl_rename_durable. A full disk or a file-size limit is DL_EIO naming the
 * file ("disk full?"); `path` keeps its old contents. */
DlStatus dl_write_durable(const char *path, const void *buf, size_t n);

/* Seconds on a monotonic clock. */
double dl_now(void);

/* Abort with file:line when our own invariant breaks (a bug, not bad input). */
#define DL_CHECK(cond)                                                        \
    do {                                                                      \
        if (!(cond)) dl_panic(__FILE__, __LINE__, #cond);                     \
    } while (0)
void dl_panic(const char *file, int line, const char *what) __attribute__((noreturn));

/* Counter-based RNG: a strong 64-bit mix of the key words. The same key
 * gives the same bits on every rank, every run. splitmix64's finaliser (a
 * bijective mix with full avalanche) chained over the words;
 * dl_hash(a, b, c, d) == dl_hash_tail(dl_hash_head(a, b), c, d), so a loop
 * over c or d hashes its fixed head once (and the tail vectorises). */
static inline uint64_t dl_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint64_t dl_hash_head(uint64_t a, uint64_t b) {
    return dl_mix64(dl_mix64(a + 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull));
}
static inline uint64_t dl_hash_tail(uint64_t head, uint64_t c, uint64_t d) {
    return dl_mix64(dl_mix64(head ^ (c + 0x85ebca77c2b2ae63ull)) ^ (d + 0x27d4eb2f165667c5ull));
}
uint64_t dl_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* A 64-bit digest of n floats' bytes, chained from h (not cryptographic). */
uint64_t dl_digest(const float *v, size_t n, uint64_t h);
/* Uniform float in [0, 1) from 24 bits of h. */
static inline float dl_unit(uint64_t h) { return (float)(h >> 40) * (1.0f / 16777216.0f); }

/* Purposes that key the random streams; never renumber (checkpoints and
 * fixtures depend on them). */
enum { RNG_PERMUTE = 1, RNG_DROPOUT = 2, RNG_INIT = 3, RNG_AUGMENT = 4, RNG_SPLIT = 5 };

/* A small sequential generator seeded from a hash, for loops that need many
 * draws from one key (the epoch permutation, weight initialisation). */
typedef struct { uint64_t s; } DlRng;
static inline uint64_t rng_next(DlRng *r) { return dl_hash(r->s++, 0x9e3779b97f4a7c15ull, 0, 0); }
static inline float rng_unit(DlRng *r) { return dl_unit(rng_next(r)); }
/* Standard normal (Box-Muller). */
float rng_normal(DlRng *r);

/* In place Fisher-Yates shuffle of idx[0..n) keyed by the generator. */
void rng_shuffle(DlRng *r, int64_t *idx, int64_t n);

#endif
