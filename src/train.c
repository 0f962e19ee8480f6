/* train.c: the step loop (see train.h for the reproducibility design) and
 * validation. Rank 0's outputs (log, events, metrics.csv, the epoch table,
 * report.html) go through run/run.h; the epoch order is sampler.h's. */
#define _POSIX_C_SOURCE 200809L
#include "trainer.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "checkpoint.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "evaluate.h"
#include "layers/loss.h"
#include "model.h"
#include "optim.h"
#include "run/run.h"
#include "sampler.h"
#include "schedule.h"

/* Set by SIGTERM/SIGINT/SIGUSR1: finish the step, save, stop. A second
 * signal kills at once (checkpoints are renamed into place, never torn). */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig) {
    if (g_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_signal = sig;
}

/* Prints on rank 0 to stdout and the run log. */
static void say(Trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(Trainer *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    run_vsay(&t->run, fmt, ap);
    va_end(ap);
}

/* An events.jsonl line stamped with the run's position. */
static void event(Trainer *t, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void event(Trainer *t, const char *kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    run_vevent(&t->run, t->pos.epoch, t->pos.step, kind, fmt, ap);
    va_end(ap);
}

static const char *jstr(char *buf, size_t cap, const char *s) { return run_json_str(buf, cap, s); }

/* Labels or 0/1 targets of samples idx[0..n) into the worker's buffers. */
static void load_targets(Worker *t, const Dataset *ds, const int64_t *idx, int n) {
    for (int i = 0; i < n; i++) {
        if (ds->multi)
            for (int k = 0; k < ds->k; k++) t->targets[(size_t)i * ds->k + k] = ds->targets[idx[i] * ds->k + k] ? 1.0f : 0.0f;
        else t->labels[i] = ds->labels[idx[i]];
    }
}

/* Loss summed over group samples [off, off + n) (and tags); writes their
 * rows of m->dlogits scaled so the gradients of all groups add up to the
 * global batch mean. */
static double group_loss(Worker *t, const Dataset *ds, const float *logits, int off, int n, int batch, int *correct) {
    Model *m = t->m;
    size_t o = (size_t)off * m->classes;
    if (!ds->multi)
        return softmax_xent(m->dlogits + o, logits + o, t->labels + off, n, m->classes, 1.0f / (float)batch, correct);
    double loss = sigmoid_bce(m->dlogits + o, logits + o, t->targets + o, n, m->classes, 1.0f / ((float)batch * m->classes));
    int right = 0;   /* element-wise accuracy at threshold 0.5 (fastai's accuracy_multi) */
    for (size_t i = o; i < o + (size_t)n * m->classes; i++) right += (logits[i] > 0.0f) == (t->targets[i] > 0.5f);
    *correct = right;
    return loss / m->classes;
}

/* Groups g0 .. g0 + gw of the step on worker k: into group g's buffer
 * red + g * red_n its batch statistics, loss and right answers; the
 * gradients of the gw groups summed into the subtrees of the tree that lie
 * in the run (k->merges), each in its first group's buffer. */
static void run_groups(Trainer *t, Worker *k, int epoch, int g0) {
    const TrainConfig *c = t->c;
    Model *m = k->m;
    const Dataset *ds = &t->train;
    const size_t per = (size_t)ds->c * ds->h * ds->w;
    const int n = t->gw * t->gs;
    const int64_t *idx = t->step_idx + (int64_t)g0 * t->gs;   /* = perm + step * batch + (rank * local + g0) * gs */
    double tp = dl_now();
    for (int g = 0; g < t->gw; g++)   /* parameter ranges: written by model_backward */
        memset(t->red + (size_t)(g0 + g) * t->red_n + m->n_params, 0, sizeof(float) * (t->red_n - m->n_params));
    dataset_convert(ds, t->step_bytes + (size_t)g0 * t->gs * per, n, k->x);
    if (augment_any(&t->aug))
        for (int i = 0; i < n; i++)
            augment_sample(k->x + i * per, k->aug_tmp, ds->c, ds->h, ds->w, &t->aug, c->seed, epoch, idx[i]);
    dataset_normalize(ds, k->x, n);
    load_targets(k, &t->train, idx, n);
    if (k == t->wk) t->prof_data += dl_now() - tp;
    float *red = t->red + (size_t)g0 * t->red_n;
    ForwardArgs a = { .training = 1, .sample = idx, .seed = c->seed, .epoch = epoch, .bstat = red + m->n_params,
                      .group_n = t->gs, .stride = t->red_n, .merges = k->merges };
    const float *logits = model_forward(m, k->x, n, &a);
    for (int g = 0; g < t->gw; g++) {
        int right = 0;
        float *extra = red + (size_t)g * t->red_n + m->n_params + m->n_bstat;
        extra[RED_LOSS] = (float)group_loss(k, &t->train, logits, g * t->gs, t->gs, c->batch, &right);
        extra[RED_CORRECT] = (float)right;
    }
    model_backward(m, k->x, n, &a, red);
}

/* One optimizer step over global batch `step` of the epoch. Returns the
 * global batch's mean loss (through the reduced buffer). */
static const int64_t *perm_of(Trainer *t, int epoch);

/* This rank's samples of step (epoch, step): from the loader, which reads
 * them ahead; then asks it for the next step's. A read error (the file
 * changed or broke under the run) ends the whole job, naming this rank: the
 * other ranks would otherwise wait for this one forever. */
static void step_data(Trainer *t, int epoch, int64_t step) {
    const int64_t off = (int64_t)t->d->rank * t->local * t->gs, cnt = (int64_t)t->local * t->gs;
    double wait = 0.0;
    DlStatus st = loader_get(t->loader, epoch, step, perm_of(t, epoch) + step * t->c->batch + off, (int)cnt,
                             &t->step_bytes, &t->step_idx, &wait);
    if (st != DL_OK) dist_fatal(t->d, 1, "%s", dl_errmsg());
    t->prof_data += wait;
    int ne = epoch;
    int64_t ns = step + 1;
    if (ns >= t->steps) { ne++; ns = 0; }
    if (ne < t->last_epoch)
        loader_request(t->loader, ne, ns, perm_of(t, ne) + ns * t->c->batch + off, (int)cnt);
}

DlStatus trainer_step(Trainer *t, int epoch, int64_t step, double *loss, double *correct, int *stop, int *skipped) {
    Model *m = &t->m;
    const TrainConfig *c = t->c;
    int W = t->nworkers, L = t->local;
    *skipped = 0;
    step_data(t, epoch, step);
    /* groups w * gw .. on thread w: which thread runs a group does not
     * change its bytes */
#ifdef _OPENMP
#pragma omp parallel for num_threads(W) schedule(static, 1) if (W > 1)
#endif
    for (int w = 0; w < W; w++) run_groups(t, &t->wk[w], epoch, w * t->gw);
    /* the groups' sums in the tree (gtree.h): each worker has summed its
     * run's subtrees; the rest here, up to the subtrees of the rank's block */
    size_t np = m->n_params;
    const int base = t->d->rank * L;   /* the block's first group */
#ifdef _OPENMP
#pragma omp parallel num_threads(W) if (W > 1)
#endif
    {   /* the parameters' sums over the workers, a range of them per thread */
        int tid = 0, nth = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        nth = omp_get_num_threads();
#endif
        size_t lo = np * tid / nth, hi = np * (tid + 1) / nth;
        float **buf = t->item_buf + (size_t)tid * (L + 1);
        for (int i = 0; i < t->ni; i++) buf[i] = t->red + (size_t)(t->item_lo[i] - base) * t->red_n + lo;
        gtree_sum(&t->tree, t->ni, t->item_lo, t->item_hi, buf, hi - lo, t->item_out + (size_t)tid * L);
    }
    for (int g = 0; g < L; g++)   /* batch statistics, loss, right answers */
        t->item_buf[g] = t->red + (size_t)g * t->red_n + np;
    gtree_sum(&t->tree, L, t->item_lo + t->ni, t->item_hi + t->ni, t->item_buf, t->red_n - np, t->item_out);
    float *red = t->red;
    red[m->n_params + m->n_bstat + RED_STOP] = g_signal ? 1.0f : 0.0f;   /* summed: any rank stops all */
    double tr = dl_now();
    if (c->fast_allreduce) {   /* no fixed order anyway: the rank's subtrees into red, then MPI's sum */
        for (int j = 1; j < t->nroots; j++)
            for (size_t i = 0; i < t->red_n; i++) red[i] += t->red[(size_t)(t->roots[j] - base) * t->red_n + i];
        dist_allreduce_sum_mpi(t->d, red, t->red_n);
    }
    else if (is_pow2(t->G)) dist_allreduce_sum(t->d, red, t->red_n, t->reduce_scratch);   /* one subtree per rank */
    else dist_allreduce_tree(t->d, &t->xt, &t->tree, red, t->red_n);
    t->prof_reduce += dl_now() - tr;
    *loss = red[m->n_params + m->n_bstat + RED_LOSS] / c->batch;
    *correct = red[m->n_params + m->n_bstat + RED_CORRECT];
    *stop = red[m->n_params + m->n_bstat + RED_STOP] > 0.0f;
    /* the global gradient norm: clipping, and the check for Inf/NaN gradients;
     * the same reduced numbers on every rank, so every rank decides alike */
    float norm = isfinite(*loss) ? optim_clip_grad_norm(red, m->n_params, c->clip > 0 ? c->clip : INFINITY) : NAN;
    if (!isfinite(*loss) || !isfinite(norm)) {
        if (c->skip_nonfinite) {   /* no update, no statistics: as if the batch were not there */
            *skipped = 1;
            return DL_OK;
        }
        if (!isfinite(*loss))
            return dl_fail(DL_ENUMERIC, "loss is %g at epoch %d step %lld: lower --lr, or --skip-nonfinite "
                           "(the run directory keeps the last good last.h5)", *loss, epoch + 1, (long long)step + 1);
        return dl_fail(DL_ENUMERIC, "gradient norm is %g at epoch %d step %lld: lower --lr, set --clip, or --skip-nonfinite "
                       "(the run directory keeps the last good last.h5)", norm, epoch + 1, (long long)step + 1);
    }
    float lr = t->lr_override > 0 ? t->lr_override : schedule_lr(t->cur, t->pos.step - t->sched_from);
    for (int i = 0; i < t->nseg; i++) t->seg_lr[i] = lr * t->seg_mult[i];
    optim_step(m->params, t->ob.state, red, t->seg, t->nseg, &t->opt, t->seg_lr, t->pos.step + 1);
    model_update_stats(m, red + m->n_params, t->G);
    t->prof_opt += dl_now() - tr;   /* allreduce included; subtracted in the report */
    return DL_OK;
}

/* The safety net of the bitwise design: every rank must hold the same
 * weights, batch-norm statistics and momentum after every step. A digest
 * is cheap (one pass over the parameters); compare them across ranks. */
static DlStatus check_same_weights(Trainer *t, int epoch, int64_t step) {
    uint64_t h = dl_digest(t->m.params, t->m.n_params, 0xcbf29ce484222325ull);
    h = dl_digest(t->m.state, t->m.n_state, h);
    h = dl_digest(t->ob.state, (size_t)t->ob.nbuf * t->m.n_params, h);
    int bad = dist_first_differing(t->d, h);
    if (bad < 0) return DL_OK;
    return dl_fail(DL_ENUMERIC, "rank %d's weights differ from rank 0's at epoch %d step %lld: the ranks diverged "
                   "(a non-deterministic library or a faulty node); the last good checkpoint is the run's last.h5",
                   bad, epoch + 1, (long long)step + 1);
}

/* --profile: where this epoch's training time went, per step. */
static void profile_report(Trainer *t, int64_t steps, double total) {
    Model *m = &t->m;
    uint64_t sent = dist_bytes_sent() - t->sent0, most = m->prof ? dist_max_u64(t->d, sent) : 0;
    t->sent0 = dist_bytes_sent();
    if (t->d->rank == 0 && m->prof) {
        double layers = 0.0, opt = t->prof_opt - t->prof_reduce;
        for (int i = 0; i < 2 * m->n_layers; i++) layers += m->prof[i];
        say(t, "profile (rank 0, ms per step; %d group%s of %d per rank):\n", t->local, t->local > 1 ? "s" : "", t->gs);
        say(t, "  %-12s %-8s %9s %9s %6s\n", "layer", "kind", "forward", "backward", "share");
        for (int i = 0; i < m->n_layers; i++)
            say(t, "  %-12s %-8s %9.3f %9.3f %5.1f%%\n", m->spec[i].name, layer_ops(m->spec[i].kind)->kind,
                1e3 * m->prof[2 * i] / steps, 1e3 * m->prof[2 * i + 1] / steps,
                100.0 * (m->prof[2 * i] + m->prof[2 * i + 1]) / total);
        double rest = total - layers - t->prof_data - t->prof_reduce - opt;
        say(t, "  %-21s %9.3f %15.1f%%\n", "data (load, augment)", 1e3 * t->prof_data / steps, 100.0 * t->prof_data / total);
        say(t, "  %-21s %9.3f %15.1f%%\n", "allreduce", 1e3 * t->prof_reduce / steps, 100.0 * t->prof_reduce / total);
        int N = t->d->size;
        double ring = 8.0 * (N - 1) / N * (double)t->red_n;   /* a ring allreduce's bytes per rank */
        if (N > 1 && !t->c->fast_allreduce)
            say(t, "  exchange: %.0f bytes sent per rank per step (the most of any rank; rank 0 %.0f), "
                "%.2fx a ring allreduce's %.0f (%zu floats, %d ranks, %d groups, %d subtree%s per rank at most)\n",
                (double)most / steps, (double)sent / steps, (double)most / steps / ring, ring, t->red_n, N, t->G,
                is_pow2(t->G) ? 1 : t->xt.kmax, is_pow2(t->G) || t->xt.kmax == 1 ? "" : "s");
        say(t, "  %-21s %9.3f %15.1f%%\n", "optimizer, bn stats", 1e3 * opt / steps, 100.0 * opt / total);
        say(t, "  %-21s %9.3f %15.1f%%\n", "other (loss, sums)", 1e3 * rest / steps, 100.0 * rest / total);
        say(t, "  %-21s %9.3f\n", "step", 1e3 * total / steps);
    }
    if (m->prof) memset(m->prof, 0, sizeof(double) * 2 * (size_t)m->n_layers);
    t->prof_data = t->prof_reduce = t->prof_opt = 0.0;
}

static DlStatus save(Trainer *t, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", t->c->out_dir, name);
    t->pos.metrics_csv = t->run.metrics;
    CheckpointMeta meta = { .pos = t->pos, .k = t->train.k, .class_names = t->train.class_names, .optim = t->ob,
                            .multi = t->train.multi, .presize = t->train.presize };
    if (t->train.normalize) {
        meta.norm = (Normalization){ .on = 1, .channels = t->train.c };
        memcpy(meta.norm.mean, t->train.mean, sizeof meta.norm.mean);
        memcpy(meta.norm.std, t->train.std, sizeof meta.norm.std);
    }
    dataset_h5_lock();   /* the loader thread may be reading the training file */
    DlStatus st = checkpoint_save(path, &t->m, &meta);
    dataset_h5_unlock();
    t->pos.metrics_csv = NULL;
    char js[4200];
    if (st == DL_OK) event(t, "checkpoint", "\"path\":%s,\"epoch_step\":%lld", jstr(js, sizeof js, path),
                           (long long)t->pos.epoch_step);
    return st;
}

/* Every rank, once last.h5 is complete: the checkpoint a rank that gives
 * up on a silent peer tells the user to resume from. */
static void note_checkpoint(const Trainer *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/last.h5", t->c->out_dir);
    dist_set_checkpoint(t->d, path);
}

static const char *signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGUSR1 ? "SIGUSR1" : "a signal";
}

static const int64_t *perm_of(Trainer *t, int epoch) { return sampler_of(&t->sampler, epoch); }

void trainer_shuffle_epoch(Trainer *t, int epoch, int64_t n) {
    t->n_used = n;
    sampler_enter(&t->sampler, epoch, n);
}

/* Rank 0 after an epoch: validation, the run directory (table row,
 * metrics.csv, events, report.html), last.h5 and, when it is the best so
 * far by --best-metric, best.h5. */
static DlStatus end_epoch(Trainer *t, int epoch, double train_loss, double train_time, double t0, int64_t steps) {
    const TrainConfig *c = t->c;
    EvalOptions eo = { .topk = t->topk > 0 ? t->topk : 1, .beta = t->beta > 0 ? t->beta : 1.0, .threshold = c->threshold,
                       .logits = t->valid_logits };
    EvalResult er;
    if (t->nworkers > 1) openblas_set_num_threads(c->threads);   /* validation: BLAS threads */
    evaluate_run(&er, &t->m, &t->valid, &eo, t->wk[0].x);
    double vloss = evaluate_loss(&er), vacc = evaluate_accuracy(&er);
    double vtop = evaluate_topk(&er), vf = evaluate_fbeta(&er, eo.beta);
    EpochResult e = { .epoch = epoch + 1, .train_loss = train_loss, .valid_loss = vloss, .accuracy = vacc, .topk = vtop,
                      .fbeta = vf, .time = dl_now() - t0, .images_per_s = steps * c->batch / train_time,
                      .lr = schedule_lr(t->cur, t->pos.step - 1 - t->sched_from), .eval = &er, .logits = t->valid_logits,
                      .valid = &t->valid, .model = &t->m, .x = t->wk[0].x, .threshold = c->threshold };
    t->run.epoch = t->pos.epoch;
    t->run.step = t->pos.step;
    DlStatus st = run_epoch_end(&t->run, &e);
    if (t->nworkers > 1) openblas_set_num_threads(1);
    evaluate_free(&er);
    /* best.h5 by --best-metric; higher is better (the loss is negated) */
    const char *bm = c->best_metric ? c->best_metric : "accuracy";
    double v = !strcmp(bm, "valid_loss") ? -vloss : !strcmp(bm, "fbeta") ? vf : !strcmp(bm, "topk") ? vtop : vacc;
    int best = v > t->pos.best_value;
    if (best) t->pos.best_value = v;
    if (st == DL_OK) st = save(t, "last.h5");
    if (st == DL_OK && best) st = save(t, "best.h5");
    return st;
}

DlStatus train_run(const TrainConfig *cfg, const Dist *d) {
    TrainConfig eff = *cfg;
    Trainer t = { .c = &eff, .d = d };
    t.pos.best_value = -INFINITY;
    const TrainConfig *c = &eff;
    DlStatus st = DL_OK;
    if (cfg->resume) st = dist_agree(d, trainer_resume_info(&t, &eff, cfg->resume));
    if (st == DL_OK && cfg->init && !cfg->resume) {   /* the normalisation the network was trained or imported with */
        CheckpointInfo info;
        st = dist_agree(d, checkpoint_info(&info, cfg->init));
        if (st == DL_OK && info.norm.on) { eff.normalize = 1; t.resume_norm = info.norm; }
        if (st == DL_OK) checkpoint_info_free(&info);
    }
    if (st == DL_OK && !eff.model) st = dl_fail(DL_EARG, "--model is required (unless --resume)");
    if (st == DL_OK) st = trainer_check_config(c, d);
    /* before the data load: a directory holding a run is refused at once */
    if (st == DL_OK && d->rank == 0 && !cfg->resume && !c->lr_find) st = run_check_out(c->out_dir, c->overwrite);
    st = dist_agree(d, st);
    if (st == DL_OK) st = trainer_open_data(&t);
    if (st == DL_OK) st = dist_agree(d, trainer_build(&t));
    int64_t n = t.train.n;
    if (c->limit > 0 && c->limit < n) n = c->limit;
    if (st == DL_OK && n < c->batch)
        st = dl_fail(DL_EARG, "'%s' has %lld training images, fewer than one batch of %d: lower --batch",
                     c->train_path, (long long)n, c->batch);
    int64_t steps = n / (c->batch > 0 ? c->batch : 1);   /* the last partial batch is dropped (a new one each epoch) */
    t.n_used = n;
    t.sampler.used = n;
    t.steps = steps;
    if (st == DL_OK) st = trainer_setup_schedule(&t, steps);
    if (st == DL_OK && cfg->resume) st = dist_agree(d, trainer_resume_load(&t, cfg->resume, n));
    if (st == DL_OK && t.pos.epoch >= c->epochs)
        st = dl_fail(DL_EARG, "'%s' has already trained %d epochs: raise --epochs to train more", cfg->resume, t.pos.epoch);
    if (st == DL_OK && c->lr_find) {
        st = trainer_lr_find(&t, steps, n);
        trainer_free(&t);
        return st;
    }
    if (st == DL_OK && d->rank == 0) st = trainer_open_run_dir(&t, cfg->resume != NULL);
    st = dist_agree(d, st);
    if (st != DL_OK) {
        if (eff.model != cfg->model) dl_free((char *)eff.model);
        trainer_free(&t);
        return st;
    }
    t.pos.seed = c->seed;
    t.pos.batch = c->batch;
    t.pos.groups = c->groups;
    t.pos.train_samples = n;

    char ranks[1024];
    dist_describe(d, c->threads, ranks, sizeof ranks);   /* collective */
    if (cfg->resume) dist_set_checkpoint(d, cfg->resume);
    say(&t, "dltrain %s (" DL_BUILD_DESC "): %s, global batch %d in %d groups of %d, %lld steps/epoch, "
        "%lld training images, %lld validation\n",
        DLTRAIN_VERSION, ranks, c->batch, t.G, t.gs, (long long)steps, (long long)n, (long long)t.valid.n);
    char optdesc[160];
    if (t.opt.kind == OPT_SGD)
        snprintf(optdesc, sizeof optdesc, "sgd momentum %g%s", c->momentum, c->nesterov ? " (nesterov)" : "");
    else
        snprintf(optdesc, sizeof optdesc, "%s betas %g,%g eps %g", t.ob.kind, c->beta1, c->beta2, c->eps);
    say(&t, "model %s: %zu parameters; optimizer %s, weight decay %g; lr %g, schedule %s%s; seed %llu\n",
        c->model, t.m.n_params, optdesc, c->weight_decay, c->lr, schedule_kind_name(t.sched.kind),
        t.sched.warmup_steps ? " with warmup" : "", (unsigned long long)c->seed);
    if (cfg->resume)
        say(&t, "resuming %s: epoch %d, step %lld of it (%lld steps in all)\n", cfg->resume, t.pos.epoch + 1,
            (long long)t.pos.epoch_step, (long long)t.pos.step);
    if (augment_any(&t.aug)) say(&t, "augment: %s (training only)\n", c->augment);
    if (t.train.streaming || t.valid.streaming)
        say(&t, "streaming %s%s%s from the file%s (decoded images exceed --memory-budget %d MiB)\n",
            t.train.streaming ? "training" : "", t.train.streaming && t.valid.streaming ? " and " : "",
            t.valid.streaming ? "validation" : "", t.train.streaming && t.valid.streaming ? "s" : "", c->memory_budget);
    if (c->normalize) {
        char ms[64] = "", ss[64] = "";
        for (int i = 0; i < t.train.c; i++) {
            snprintf(ms + strlen(ms), sizeof ms - strlen(ms), "%s%.4f", i ? "," : "", t.train.mean[i]);
            snprintf(ss + strlen(ss), sizeof ss - strlen(ss), "%s%.4f", i ? "," : "", t.train.std[i]);
        }
        say(&t, "normalize: mean %s, std %s per channel (from %s; training and validation)\n", ms, ss,
            t.resume_norm.on ? (cfg->resume ? cfg->resume : cfg->init) : c->train_path);
    }
    if (c->fast_allreduce && d->size > 1)
        say(&t, "--fast-allreduce: MPI_Allreduce; the weights will not be bit-identical to other -np runs\n");
    char js[3][4200];
    event(&t, cfg->resume ? "resume" : "start",
          "\"model\":%s,\"train\":%s,\"valid\":%s,\"ranks\":%d,\"batch\":%d,\"groups\":%d,\"lr\":%g,\"seed\":%llu,"
          "\"epochs\":%d,\"steps_per_epoch\":%lld",
          jstr(js[0], sizeof js[0], c->model), jstr(js[1], sizeof js[1], c->train_path),
          jstr(js[2], sizeof js[2], c->valid_path), d->size, c->batch, c->groups, c->lr,
          (unsigned long long)c->seed, c->epochs, (long long)steps);
    run_table_header(&t.run);

    struct sigaction sa = { 0 }, old[3];
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[3] = { SIGTERM, SIGINT, SIGUSR1 };
    g_signal = 0;
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &sa, &old[i]);
    dist_watch_signal(d, &g_signal);   /* a rank waiting on a dead peer gives up after a grace */

    /* Testing hook (tests/cli_train.sh): nudge one weight on this rank after
     * step 2, to show that divergence is caught and named. */
    const char *fault = getenv("DLTRAIN_TEST_DIVERGE_RANK");
    int fault_rank = fault ? atoi(fault) : -1;
    int stop = 0;
    int last_epoch = c->stop_after > 0 && c->stop_after < c->epochs ? c->stop_after : c->epochs;
    t.last_epoch = last_epoch;
    for (int epoch = t.pos.epoch; epoch < last_epoch && st == DL_OK && !stop; epoch++) {
        trainer_enter_epoch(&t, epoch, steps);
        double t0 = dl_now(), sum_loss = t.pos.epoch_loss_sum;
        int64_t first = t.pos.epoch_step;
        trainer_shuffle_epoch(&t, epoch, n);
        for (int64_t s = first; s < steps && st == DL_OK && !stop; s++) {
            double loss, right;
            int skipped;
            st = trainer_step(&t, epoch, s, &loss, &right, &stop, &skipped);
            if (skipped) {
                t.pos.epoch_skipped++;
                say(&t, "skipped epoch %d step %lld: non-finite loss or gradient (--skip-nonfinite)\n", epoch + 1, (long long)s + 1);
            } else sum_loss += loss;
            t.pos.step++;
            t.pos.epoch_step = s + 1;
            t.pos.epoch_loss_sum = sum_loss;
            int64_t counted = s + 1 - t.pos.epoch_skipped;
            if (st == DL_OK && fault_rank == d->rank && t.pos.step == 2) t.m.params[0] += 1e-3f;
            if (st == DL_OK && c->check_every > 0 && t.pos.step % c->check_every == 0)
                st = check_same_weights(&t, epoch, s);
            if (st == DL_OK && (t.run.tty ? (s % 10 == 0 || s == steps - 1) : 1))
                run_progress(&t.run, epoch, s + 1, steps, counted > 0 ? sum_loss / counted : NAN, t0);
            /* mid-epoch saves (epoch ends save below); the condition is the same on every rank */
            int due = s + 1 < steps && (stop || (c->checkpoint_every > 0 && t.pos.step % c->checkpoint_every == 0));
            if (due && st == DL_OK && d->rank == 0) st = save(&t, "last.h5");
            if (due) st = dist_agree(d, st);
            if (due && st == DL_OK) note_checkpoint(&t);
        }
        if (st != DL_OK || (stop && t.pos.epoch_step < steps)) break;
        double train_time = dl_now() - t0;
        profile_report(&t, steps - first, train_time);
        t.pos.epoch = epoch + 1;
        t.pos.epoch_step = 0;
        t.pos.epoch_loss_sum = 0.0;
        int64_t counted = steps - t.pos.epoch_skipped;
        double train_loss = counted > 0 ? sum_loss / counted : NAN;
        t.pos.epoch_skipped = 0;
        if (d->rank == 0) st = end_epoch(&t, epoch, train_loss, train_time, t0, steps - first);
        st = dist_agree(d, st);
        if (st == DL_OK) note_checkpoint(&t);
    }
    dist_watch_signal(d, NULL);
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &old[i], NULL);
    if (st == DL_OK && stop) {
        event(&t, "stopped", "\"signal\":\"%s\",\"epoch_step\":%lld", signal_name(g_signal ? g_signal : SIGTERM),
              (long long)t.pos.epoch_step);
        st = dl_fail(DL_EINTR, "stopped by %s after epoch %d step %lld; saved %s/last.h5 (resume: add --resume %s/last.h5 "
                     "to the same command)", g_signal ? signal_name(g_signal) : "a signal on another rank",
                     t.pos.epoch + (t.pos.epoch_step > 0), (long long)t.pos.epoch_step, c->out_dir, c->out_dir);
    } else if (st == DL_OK && last_epoch < c->epochs) {
        event(&t, "paused", "\"epochs\":%d", c->epochs);
        say(&t, "stopped after epoch %d of %d (--stop-after); continue with --resume %s/last.h5\n", last_epoch,
            c->epochs, c->out_dir);
    } else if (st == DL_OK) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        const char *bm = c->best_metric ? c->best_metric : "accuracy";
        double bv = !strcmp(bm, "valid_loss") ? -t.pos.best_value : t.pos.best_value;
        event(&t, "done", "\"best_metric\":\"%s\",\"best_value\":%.6f,\"max_rss_mib\":%.1f", bm, bv, ru.ru_maxrss / 1024.0);
        say(&t, "peak memory (rank 0): %.0f MiB\n", ru.ru_maxrss / 1024.0);
        say(&t, "saved %s/last.h5 (best %s %.4f in %s/best.h5) and %s/metrics.csv\n", c->out_dir, bm, bv,
            c->out_dir, c->out_dir);
    } else {
        char e[4200];
        event(&t, "error", "\"message\":%s", jstr(e, sizeof e, dl_errmsg()));
    }
    if (eff.model != cfg->model) dl_free((char *)eff.model);
    trainer_free(&t);
    return st;
}
