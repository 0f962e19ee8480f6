/* loader.c: see loader.h. One thread, two slots, one mutex and condition. */
#define _POSIX_C_SOURCE 200809L
#include "loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FREE, PENDING, LOADING, READY, HELD };

typedef struct {
    int state, epoch, n;
    int64_t step;
    int64_t *idx;
    uint8_t *bytes;
    DlStatus st;
    char msg[2048];
} Slot;

struct Loader {
    const Dataset *d;
    int cap;
    size_t per;
    Slot s[2];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    JpegCodec jc;   /* the thread's decoder */
};

static void *loader_main(void *arg) {
    Loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        Slot *s = NULL;
        while (!l->quit && !s) {
            for (int i = 0; i < 2 && !s; i++) if (l->s[i].state == PENDING) s = &l->s[i];
            if (!s && !l->quit) pthread_cond_wait(&l->cv, &l->mu);
        }
        if (l->quit) break;
        s->state = LOADING;
        pthread_mutex_unlock(&l->mu);
        DlStatus st = dataset_read(l->d, s->idx, s->n, s->bytes, &l->jc);
        pthread_mutex_lock(&l->mu);
        s->st = st;
        if (st != DL_OK) snprintf(s->msg, sizeof s->msg, "%s", dl_errmsg());
        s->state = READY;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

Loader *loader_new(const Dataset *d, int cap) {
    Loader *l = dl_calloc(1, sizeof *l);
    l->d = d;
    l->cap = cap;
    l->per = (size_t)d->h * d->w * d->c;
    for (int i = 0; i < 2; i++) {
        l->s[i].idx = dl_malloc(sizeof(int64_t) * (size_t)cap);
        l->s[i].bytes = dl_malloc(l->per * (size_t)cap);
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->th, NULL, loader_main, l) != 0)
        dl_die(1, "cannot start the loader thread (too many processes or threads on this node?)");
    return l;
}

static Slot *find(Loader *l, int epoch, int64_t step) {
    for (int i = 0; i < 2; i++) {
        Slot *s = &l->s[i];
        if (s->state != FREE && s->state != HELD && s->epoch == epoch && s->step == step) return s;
    }
    return NULL;
}

static void request_locked(Loader *l, int epoch, int64_t step, const int64_t *idx, int n) {
    if (find(l, epoch, step)) return;
    Slot *s = NULL;
    for (int i = 0; i < 2 && !s; i++) if (l->s[i].state == FREE) s = &l->s[i];
    if (!s) {   /* one slot is held, the other holds an unfetched request: replace it */
        s = l->s[0].state == HELD ? &l->s[1] : &l->s[0];
        while (s->state == LOADING) pthread_cond_wait(&l->cv, &l->mu);
    }
    s->epoch = epoch;
    s->step = step;
    s->n = n < l->cap ? n : l->cap;
    memcpy(s->idx, idx, sizeof(int64_t) * (size_t)s->n);
    s->st = DL_OK;
    s->state = PENDING;
    pthread_cond_broadcast(&l->cv);
}

void loader_request(Loader *l, int epoch, int64_t step, const int64_t *idx, int n) {
    pthread_mutex_lock(&l->mu);
    request_locked(l, epoch, step, idx, n);
    pthread_mutex_unlock(&l->mu);
}

DlStatus loader_get(Loader *l, int epoch, int64_t step, const int64_t *idx, int n, const uint8_t **bytes,
                    const int64_t **got_idx, double *wait) {
    double t0 = dl_now();
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < 2; i++) if (l->s[i].state == HELD) l->s[i].state = FREE;
    Slot *s = find(l, epoch, step);
    if (!s && idx) {
        request_locked(l, epoch, step, idx, n);
        s = find(l, epoch, step);
    }
    if (!s) {
        pthread_mutex_unlock(&l->mu);
        return dl_fail(DL_EARG, "loader: epoch %d step %lld was never requested", epoch + 1, (long long)step + 1);
    }
    while (s->state != READY) pthread_cond_wait(&l->cv, &l->mu);
    s->state = HELD;
    DlStatus st = s->st;
    if (st != DL_OK) dl_fail(st, "%s", s->msg);
    pthread_mutex_unlock(&l->mu);
    *bytes = s->bytes;
    if (got_idx) *got_idx = s->idx;
    if (wait) *wait = dl_now() - t0;
    return st;
}

void loader_free(Loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->th, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    jpeg_codec_free(&l->jc);
    for (int i = 0; i < 2; i++) { dl_free(l->s[i].idx); dl_free(l->s[i].bytes); }
    dl_free(l);
}
