/* loader.h: a background thread that reads the uint8 samples of the next
 * training step while the current one computes (DESIGN.md "Data flow").
 *
 * Request/response, double-buffered: the train loop asks for (epoch, step)
 * with the step's sample indices (this rank's slice of the global batch,
 * copied), then gets them; loader_get blocks until that request's bytes are
 * ready and holds them until the next loader_get. At most two requests are
 * buffered (the one held and one in flight), so memory is bounded by two
 * steps of this rank's samples. A get for a step never requested (resume,
 * a changed plan) reads it at once; a request that is never fetched is just
 * overwritten. The bytes are exactly dataset_read's, so results do not
 * depend on whether, when or on which thread a step was prefetched. */
#ifndef DL_LOADER_H
#define DL_LOADER_H

#include <stdint.h>

#include "dataset.h"

typedef struct Loader Loader;

/* A loader for d (which must outlive it) of at most cap samples a request.
 * Starts the thread. */
Loader *loader_new(const Dataset *d, int cap);

/* Asks for idx[0..n) (n <= cap) under the tag (epoch, step); returns at once
 * (unless both buffers are busy: then waits for the one in flight). A tag
 * already requested and not yet fetched is not asked again. */
void loader_request(Loader *l, int epoch, int64_t step, const int64_t *idx, int n);

/* The bytes (n, H, W, C) and indices of request (epoch, step), waiting for
 * them; when nothing was requested under the tag, idx/n (non-NULL) are read
 * now. Valid until the next loader_get. *wait gets the seconds spent waiting
 * (may be NULL). On a read error returns its status and message. */
DlStatus loader_get(Loader *l, int epoch, int64_t step, const int64_t *idx, int n, const uint8_t **bytes,
                    const int64_t **got_idx, double *wait);

/* Stops the thread (dropping any request in flight) and frees. NULL is fine. */
void loader_free(Loader *l);

#endif
