/* dltrain.h: the public API of libdltrain, the library behind the `dltrain`
 * and `dlprep` programs. Everything here is stable; the module headers under
 * src/ are internal and may change.
 *
 * Errors: every function that can fail on outside input returns a DlStatus;
 * on anything but DL_OK, dl_errmsg() holds one line naming the file, the
 * object and what to do. Programs print it once and exit non-zero. */
#ifndef DLTRAIN_H
#define DLTRAIN_H

#ifdef __cplusplus
extern "C" {
#endif

#define DLTRAIN_VERSION "0.1.0"

typedef enum {
    DL_OK = 0,
    DL_EIO,       /* a file could not be opened, read or written */
    DL_EFORMAT,   /* a file breaks its contract (dataset, checkpoint, model) */
    DL_EARG,      /* a bad command-line value */
    DL_ENUMERIC,  /* NaN or Inf in a loss or gradient */
    DL_EINTR,     /* stopped by a signal after saving */
} DlStatus;

/* The message recorded by the last failure (never NULL; "" if none). The
 * pointer stays valid until the next failure on this thread; do not free. */
const char *dl_errmsg(void);

/* Entry points of the two programs; argv as given to main(). They return
 * the process exit status. dltrain's entry initialises MPI. */
int dl_dltrain_main(int argc, char **argv);
int dl_dlprep_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
