/* lr_find.c: `dltrain lr-find`, the learning-rate range test, on the
 * trainer's step (train.c). */
#include "trainer.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

/* dltrain lr-find: Leslie Smith's range test as fastai runs it: the lr grows
 * exponentially from --start-lr to --end-lr over --iters steps, the loss is
 * smoothed (exponential average, beta 0.98, debiased), and the sweep stops
 * when the smoothed loss exceeds 4x its minimum. Suggestions: the lr of the
 * steepest descent of the smoothed loss (per log lr), and the lr of the
 * minimum / 10. Writes RUNDIR/lr_find.csv; trains nothing that is kept. */
DlStatus trainer_lr_find(Trainer *t, int64_t steps, int64_t n) {
    const TrainConfig *c = t->c;
    int iters = c->lr_find, done = 0;
    double *lr = dl_calloc((size_t)iters, sizeof(double)), *raw = dl_calloc((size_t)iters, sizeof(double));
    double *sm = dl_calloc((size_t)iters, sizeof(double)), avg = 0.0, best = INFINITY;
    DlStatus st = DL_OK;
    int epoch = 0;
    int64_t s = 0;
    t->steps = steps;
    t->last_epoch = INT_MAX;
    trainer_enter_epoch(t, 0, steps);
    trainer_shuffle_epoch(t, 0, n);
    for (int i = 0; i < iters && st == DL_OK; i++) {
        if (s == steps) { trainer_shuffle_epoch(t, ++epoch, n); s = 0; }
        lr[i] = c->find_start * pow((double)c->find_end / c->find_start, (double)i / (iters - 1));
        t->lr_override = (float)lr[i];
        double loss, right;
        int stop, skipped;
        st = trainer_step(t, epoch, s++, &loss, &right, &stop, &skipped);
        if (skipped) loss = NAN;
        t->pos.step++;
        if (st == DL_ENUMERIC) { st = DL_OK; break; }   /* diverged: the end of the sweep */
        if (st != DL_OK) break;
        avg = 0.98 * avg + 0.02 * loss;
        raw[i] = loss;
        sm[i] = avg / (1.0 - pow(0.98, i + 1));
        done = i + 1;
        if (sm[i] < best) best = sm[i];
        if (stop || (i > 10 && sm[i] > 4.0 * best)) break;
    }
    if (st == DL_OK && t->d->rank == 0) {
        int imin = 0, isteep = -1;
        double steep = 0.0;
        for (int i = 0; i < done; i++) if (sm[i] < sm[imin]) imin = i;
        for (int i = 1; i + 1 < done && i <= imin; i++) {   /* slope per unit log lr, before the minimum */
            double g = (sm[i + 1] - sm[i - 1]) / (log(lr[i + 1]) - log(lr[i - 1]));
            if (isteep < 0 || g < steep) { steep = g; isteep = i; }
        }
        st = run_lr_find_write(c->out_dir, lr, raw, sm, done);
        if (done < 3) printf("the loss diverged at once: lower --start-lr\n");
        else {
            printf("minimum smoothed loss %.4f at lr %.3g; suggested lr: %.3g (steepest descent), %.3g (minimum / 10)\n",
                   sm[imin], lr[imin], isteep >= 0 ? lr[isteep] : lr[imin] / 10, lr[imin] / 10);
        }
    }
    dl_free(lr); dl_free(raw); dl_free(sm);
    return dist_agree(t->d, st);
}

