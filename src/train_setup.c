/* train_setup.c: what a run starts from and how its epochs are set up:
 * --resume (the checkpoint's position and the flags it fixes), --init
 * (transfer learning), the lr schedules and --fine-tune's phases, and
 * opening the run directory. The step loop itself is train.c's. */
#define _POSIX_C_SOURCE 200809L
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Under mpirun a rank's stdout is a pipe or pty whatever mpirun's own stdout
 * is, so isatty() cannot tell. launch/mpirun.sh passes DLTRAIN_TTY (1 when
 * its stdout is a terminal); plain mpirun without it gets plain lines. */
int trainer_stdout_is_terminal(void) {
    const char *e = getenv("DLTRAIN_TTY");
    if (e) return atoi(e) != 0;
    if (getenv("OMPI_COMM_WORLD_SIZE")) return 0;
    return isatty(STDOUT_FILENO);
}

DlStatus trainer_open_run_dir(Trainer *t, int resuming) {
    const TrainConfig *c = t->c;
    RunOpen o = { .dir = c->out_dir, .resuming = resuming, .overwrite = c->overwrite,
                  .metrics_csv = t->pos.metrics_csv, .topk = t->topk, .multi = t->train.multi, .beta = t->beta,
                  .epochs = c->epochs, .batch = c->batch, .tty = trainer_stdout_is_terminal(), .progress = c->progress,
                  .cam = c->cam };
    DlStatus st = run_open(&t->run, &o);
    dl_free(t->pos.metrics_csv);
    t->pos.metrics_csv = NULL;
    if (st == DL_OK) t->valid_logits = dl_malloc(sizeof(float) * (size_t)(t->valid.n ? t->valid.n : 1) * t->train.k);
    return st;
}

/* --resume: the checkpoint fixes the model, seed, batch and groups (flags
 * that contradict it are errors) and the position to continue from. */
DlStatus trainer_resume_info(Trainer *t, TrainConfig *eff, const char *path) {
    CheckpointInfo info;
    DlStatus st = checkpoint_info(&info, path);
    if (st != DL_OK) return st;
    const TrainConfig *c = t->c;
    if (c->given.seed && c->seed != info.pos.seed)
        st = dl_fail(DL_EARG, "--seed %llu contradicts the checkpoint's seed %llu: drop --seed to resume '%s'",
                     (unsigned long long)c->seed, (unsigned long long)info.pos.seed, path);
    else if (c->given.batch && c->batch != info.pos.batch)
        st = dl_fail(DL_EARG, "--batch %d contradicts the checkpoint's batch %d: drop --batch to resume '%s' exactly",
                     c->batch, info.pos.batch, path);
    else if (c->given.groups && c->groups != info.pos.groups)
        st = dl_fail(DL_EARG, "--groups %d contradicts the checkpoint's groups %d: drop --groups to resume '%s' exactly",
                     c->groups, info.pos.groups, path);
    else if (info.pos.batch < 1 || info.pos.groups < 1)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' has no run position (batch, groups): it cannot be resumed", path);
    if (st == DL_OK && c->model) {
        char *text = NULL;
        int from_ckpt = 0;
        st = model_text_any(&text, c->model, &from_ckpt);
        if (st == DL_OK && from_ckpt) {
            char *h = model_text_head_classes(text);
            dl_free(text);
            text = h;
        }
        if (st == DL_OK && strcmp(text, info.model_text) != 0)
            st = dl_fail(DL_EARG, "checkpoint '%s' was trained with another model than '%s': drop --model to resume it",
                         path, c->model);
        dl_free(text);
    }
    if (st == DL_OK && c->normalize && !info.norm.on)
        st = dl_fail(DL_EARG, "--normalize contradicts checkpoint '%s', trained without it: drop --normalize to resume", path);
    if (st == DL_OK) {
        eff->normalize = info.norm.on;   /* the checkpoint decides */
        t->resume_norm = info.norm;
        eff->seed = info.pos.seed;
        eff->batch = info.pos.batch;
        eff->groups = info.pos.groups;
        t->model_text = dl_strdup(info.model_text);
        if (!c->model) eff->model = dl_strdup(info.model_source);
        t->pos = info.pos;
        t->pos.metrics_csv = info.pos.metrics_csv ? dl_strdup(info.pos.metrics_csv) : NULL;
    }
    checkpoint_info_free(&info);
    return st;
}

/* After build: the data must be the data the checkpoint was trained on. */
DlStatus trainer_resume_load(Trainer *t, const char *path, int64_t n) {
    CheckpointInfo info;
    DlStatus st = checkpoint_info(&info, path);
    if (st != DL_OK) return st;
    const Dataset *ds = &t->train;
    if (info.input.c != ds->c || info.input.h != ds->h || info.input.w != ds->w)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' was trained on %dx%dx%d images but '%s' has %dx%dx%d: resume on the same data",
                     path, info.input.c, info.input.h, info.input.w, ds->path, ds->c, ds->h, ds->w);
    else if (info.k != ds->k)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' has %d classes but '%s' has %d: resume on the same data (or use --init for a new task)",
                     path, info.k, ds->path, ds->k);
    for (int i = 0; st == DL_OK && i < ds->k; i++)
        if (strcmp(info.class_names[i], ds->class_names[i]) != 0)
            st = dl_fail(DL_EFORMAT, "checkpoint '%s' has class %d '%s' but '%s' has '%s': resume on the same data",
                         path, i, info.class_names[i], ds->path, ds->class_names[i]);
    if (st == DL_OK && info.pos.train_samples != n)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' was trained on %lld images but this run has %lld (--limit or another file): "
                     "resume with the same data", path, (long long)info.pos.train_samples, (long long)n);
    checkpoint_info_free(&info);
    if (st == DL_OK) st = checkpoint_load(path, &t->m, &t->ob);
    return st;
}

DlStatus trainer_setup_schedule(Trainer *t, int64_t steps) {
    const TrainConfig *c = t->c;
    SchedKind kind;
    DlStatus st = schedule_parse_kind(c->schedule ? c->schedule : "constant", &kind);
    if (st != DL_OK) return st;
    /* --fine-tune E1,E2: one schedule per phase, the second at half the lr
     * (fastai's fine_tune); otherwise one over all epochs */
    int e1 = c->fine_tune[0], e2 = c->fine_tune[1];
    Schedule *ph[2] = { &t->sched, &t->sched2 };
    for (int p = 0; p < (e1 > 0 ? 2 : 1); p++) {
        int epochs = e1 > 0 ? (p == 0 ? e1 : e2) : c->epochs;
        *ph[p] = schedule_init(kind, p == 0 ? c->lr : c->lr / 2, (int64_t)epochs * steps);
        ph[p]->warmup_steps = kind == SCHED_ONECYCLE ? 0 : c->warmup;
        if (kind == SCHED_STEP) {
            ph[p]->step_size = (int64_t)(c->step_epochs > 0 ? c->step_epochs : 1) * steps;
            if (c->gamma > 0) ph[p]->gamma = c->gamma;
        }
        st = schedule_check(ph[p]);
        if (st != DL_OK) return st;
    }
    t->cur = &t->sched;
    return DL_OK;
}

/* Before each epoch: which layers train, at which lr factors, on which
 * schedule. A pure function of the epoch, so a resume lands in the same
 * phase. --fine-tune phase 2 unfreezes everything and spreads the lr
 * geometrically over the parameterised layers, from lr/lr_mult for the first
 * to lr for the last (fastai's slice(lr/100, lr)). */
void trainer_enter_epoch(Trainer *t, int epoch, int64_t steps) {
    const TrainConfig *c = t->c;
    Model *m = &t->m;
    int phase2 = c->fine_tune[0] > 0 && epoch >= c->fine_tune[0];
    m->frozen = phase2 ? 0 : t->freeze_at;
    for (int w = 1; w < t->nworkers; w++) t->wk[w].own.frozen = m->frozen;
    trainer_set_segments(t);
    t->cur = phase2 ? &t->sched2 : &t->sched;
    t->sched_from = phase2 ? (int64_t)c->fine_tune[0] * steps : 0;
    if (phase2 && c->lr_mult > 1) {
        int layers = 0, g = 0;
        for (int i = 0; i < m->n_layers; i++) layers += layer_param_count(&m->spec[i]) > 0;
        for (int i = 0, si = 0; i < m->n_layers; i++) {
            TensorInfo ti[4];
            int nt = layer_ops(m->spec[i].kind)->params(&m->spec[i], ti);
            if (!nt) continue;
            float mult = layers > 1 ? powf(c->lr_mult, -(float)(layers - 1 - g) / (float)(layers - 1)) : 1.0f;
            for (int j = 0; j < nt; j++) t->seg_mult[si++] = mult;
            g++;
        }
    }
}

/* --init: start from a trained model. Layers with the same name and shapes
 * are loaded; the head (the last layer with parameters) starts fresh when
 * the task's classes differ, and so do the layers named by --reinit. */
DlStatus trainer_init_from(Trainer *t, const char *path) {
    Model *m = &t->m;
    CheckpointInfo info;
    DlStatus st = checkpoint_info(&info, path);
    if (st != DL_OK) return st;
    int *reinit = dl_calloc((size_t)m->n_layers, sizeof(int));
    InitOutcome *out = dl_calloc((size_t)m->n_layers, sizeof(InitOutcome));
    int same_classes = info.k == t->train.k;
    for (int i = 0; same_classes && i < info.k; i++) same_classes = !strcmp(info.class_names[i], t->train.class_names[i]);
    int head = -1;
    for (int i = 0; i < m->n_layers; i++) if (layer_param_count(&m->spec[i]) > 0) head = i;
    if (!same_classes && head >= 0) reinit[head] = 1;
    const char *list = t->c->reinit;
    while (list && *list && st == DL_OK) {
        size_t len = strcspn(list, ",");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < 127 ? len : 127), list);
        int i = model_find_layer(m, name);
        if (i < 0) st = dl_fail(DL_EARG, "--reinit: the model has no layer '%s' (see dltrain summary)", name);
        else reinit[i] = 1;
        list += len + (list[len] == ',');
    }
    if (st == DL_OK) st = checkpoint_load_matching(path, m, reinit, out);
    if (st == DL_OK && t->d->rank == 0) {
        static const char *what[] = { "", "loaded", "new", "re-initialised (other shape)", "re-initialised (new head)" };
        if (info.k > 0) printf("init from %s (trained on %d classes%s):\n", path, info.k, same_classes ? ", the same" : "");
        else printf("init from %s (no classes recorded: an imported network):\n", path);
        for (int k = INIT_LOADED; k <= INIT_HEAD; k++) {
            int any = 0;
            for (int i = 0; i < m->n_layers; i++)
                if (out[i] == (InitOutcome)k) printf("%s%s", any++ ? " " : "  ", m->spec[i].name);
            if (any) printf(": %s\n", what[k]);
        }
    }
    dl_free(reinit);
    dl_free(out);
    checkpoint_info_free(&info);
    return st;
}

