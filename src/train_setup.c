/* train_setup.c: what a run starts from and how its epochs are set up:
 * --resume (the checkpoint's position and the flags it fixes), --init
 * (transfer learning), the lr schedules and --fine-tune's phases, and
 * opening the run directory; checking the configuration, opening the data and
 * building the trainer (model, workers, the groups' summation tree). The step
 * loop itself is train.c's. */
#define _POSIX_C_SOURCE 200809L
#include "trainer.h"

#include <cblas.h>
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


/* Appends n to a comma-separated list. */
static void list_add(char *buf, size_t cap, int n) {
    size_t l = strlen(buf);
    snprintf(buf + l, cap - l, "%s%d", l ? ", " : "", n);
}

DlStatus trainer_check_config(const TrainConfig *c, const Dist *d) {
    if (c->epochs < 1) return dl_fail(DL_EARG, "--epochs must be >= 1 (got %d)", c->epochs);
    if (c->batch < 1) return dl_fail(DL_EARG, "--batch must be >= 1 (got %d)", c->batch);
    if (c->groups < 1 || c->groups > GTREE_MAX_GROUPS)
        return dl_fail(DL_EARG, "--groups must be 1 ... %d (got %d)", GTREE_MAX_GROUPS, c->groups);
    if (c->batch % c->groups)
        return dl_fail(DL_EARG, "--batch %d is not a multiple of --groups %d: every group has batch/groups samples",
                       c->batch, c->groups);
    if (c->groups % d->size) {   /* no uneven split: see README "Reproducibility" for why */
        char np[256] = "", gs[256] = "";
        for (int p = 1; p <= c->groups; p++) if (c->groups % p == 0) list_add(np, sizeof np, p);
        for (int g = d->size; g <= c->batch && g <= GTREE_MAX_GROUPS && strlen(gs) < 200; g += d->size)
            if (c->batch % g == 0) list_add(gs, sizeof gs, g);
        if (gs[0])
            return dl_fail(DL_EARG, "%d ranks cannot share %d groups with identical results: run with -np %s, "
                           "or with --groups %s for -np %d (--batch %d)", d->size, c->groups, np, gs, d->size, c->batch);
        return dl_fail(DL_EARG, "%d ranks cannot share %d groups with identical results: run with -np %s, "
                       "or with a --batch that is a multiple of %d and --groups %d", d->size, c->groups, np, d->size, d->size);
    }
    if (!(c->lr > 0)) return dl_fail(DL_EARG, "--lr must be > 0");
    const char *bm = c->best_metric;
    if (bm && strcmp(bm, "accuracy") && strcmp(bm, "valid_loss") && strcmp(bm, "fbeta") && strcmp(bm, "topk"))
        return dl_fail(DL_EARG, "--best-metric %s: choose accuracy, valid_loss, fbeta or topk", bm);
    if (bm && !strcmp(bm, "topk") && c->topk < 1) return dl_fail(DL_EARG, "--best-metric topk needs --topk K");
    return DL_OK;
}

void trainer_free(Trainer *t) {
    dl_free(t->red);
    for (int w = 0; t->wk && w < t->nworkers; w++) {
        Worker *k = &t->wk[w];
        if (w > 0) { k->own.params = NULL; k->own.state = NULL; model_free(&k->own); }   /* borrowed */
        dl_free(k->x); dl_free(k->targets); dl_free(k->aug_tmp); dl_free(k->labels); dl_free(k->merges);
    }
    dl_free(t->wk);
    gtree_free(&t->tree);
    dist_tree_free(&t->xt);
    dl_free(t->item_lo); dl_free(t->item_hi); dl_free(t->item_buf); dl_free(t->item_out);
    dl_free(t->reduce_scratch); dl_free(t->ob.state); dl_free(t->seg);
    dl_free(t->seg_lr); dl_free(t->seg_mult);
    dl_free(t->m.prof);
    loader_free(t->loader);
    sampler_free(&t->sampler);
    run_close(&t->run);
    dl_free(t->valid_logits);
    dl_free(t->model_text);
    dl_free(t->pos.metrics_csv);   /* a resume's copy: rank 0 frees it in open_run_dir, other ranks here */
    model_free(&t->m);
    dataset_close(&t->train);
    dataset_close(&t->valid);
}

DlStatus trainer_open_data(Trainer *t) {
    int64_t budget = (int64_t)t->c->memory_budget << 20;
    DlStatus st = dataset_open_budget(&t->train, t->c->train_path, budget);
    if (st == DL_OK && t->c->normalize) {
        if (!t->train.has_stats && !t->resume_norm.on)
            st = dl_fail(DL_EFORMAT, "--normalize: '%s' has no mean/std attributes (made by an older dlprep): "
                         "re-run dlprep to store them", t->train.path);
        t->train.normalize = 1;
        if (t->resume_norm.on) {   /* resuming: exactly the statistics the run started with */
            memcpy(t->train.mean, t->resume_norm.mean, sizeof t->train.mean);
            memcpy(t->train.std, t->resume_norm.std, sizeof t->train.std);
        }
    }
    if (t->c->lr_find) return dist_agree(t->d, st);   /* no validation */
    if (st == DL_OK && t->d->rank == 0) st = dataset_open_budget(&t->valid, t->c->valid_path, budget);
    if (st == DL_OK && t->d->rank == 0 && t->c->normalize) {   /* validation uses the training statistics */
        t->valid.normalize = 1;
        memcpy(t->valid.mean, t->train.mean, sizeof t->valid.mean);
        memcpy(t->valid.std, t->train.std, sizeof t->valid.std);
    }
    if (st == DL_OK && t->d->rank == 0) {
        const Dataset *a = &t->train, *b = &t->valid;
        if (a->h != b->h || a->w != b->w || a->c != b->c)
            st = dl_fail(DL_EFORMAT, "'%s' has %dx%dx%d images but '%s' has %dx%dx%d: build both with the same dlprep --size/--channels",
                         b->path, b->h, b->w, b->c, a->path, a->h, a->w, a->c);
        else if (a->k != b->k || a->multi != b->multi)
            st = dl_fail(DL_EFORMAT, "'%s' has %d classes (%s) but '%s' has %d (%s): validate on data with the training classes",
                         b->path, b->k, b->multi ? "multi" : "single", a->path, a->k, a->multi ? "multi" : "single");
        for (int i = 0; st == DL_OK && i < a->k; i++)
            if (strcmp(a->class_names[i], b->class_names[i]) != 0)
                st = dl_fail(DL_EFORMAT, "class %d is '%s' in '%s' but '%s' in '%s': the files must list the same classes in the same order",
                             i, a->class_names[i], a->path, b->class_names[i], b->path);
    }
    return dist_agree(t->d, st);
}

/* One optimizer segment per parameter tensor of the layers not frozen
 * (frozen layers are never touched: not even momentum or weight decay). */
void trainer_set_segments(Trainer *t) {
    Model *m = &t->m;
    t->nseg = 0;
    for (int i = m->frozen; i < m->n_layers; i++) {
        TensorInfo ti[4];
        int nt = layer_ops(m->spec[i].kind)->params(&m->spec[i], ti);
        size_t off = m->w_off[i];
        for (int j = 0; j < nt; j++) {
            t->seg_mult[t->nseg] = 1.0f;
            t->seg[t->nseg++] = (ParamSeg){ off, tensor_info_size(&ti[j]), ti[j].decay };
            off += tensor_info_size(&ti[j]);
        }
    }
}

DlStatus trainer_build(Trainer *t) {
    const TrainConfig *c = t->c;
    t->G = c->groups;
    t->gs = c->batch / c->groups;
    t->local = c->groups / t->d->size;
    /* Threads: with several groups per rank, each thread runs a run of
     * consecutive groups (BLAS single-threaded inside), the way ranks do;
     * else BLAS threads. Every run leaves the subtrees of the sum inside
     * it, so how the rank's groups are cut into runs changes no bits. */
    t->nworkers = 1;
    for (int w = 2; w <= c->threads && w <= t->local; w++)
        if (t->local % w == 0) t->nworkers = w;
    t->gw = t->local / t->nworkers;
    gtree_init(&t->tree, t->G);
    t->topk = c->topk > t->train.k ? t->train.k : c->topk;
    t->beta = c->fbeta > 0 ? c->fbeta : t->train.multi ? 2.0 : 0.0;
    DlStatus st = augment_parse(&t->aug, c->augment);
    if (st == DL_OK && t->aug.dihedral && t->train.h != t->train.w)
        st = dl_fail(DL_EARG, "--augment dihedral needs square images; '%s' has %dx%d (use hflip,vflip)",
                     t->train.path, t->train.h, t->train.w);
    if (st != DL_OK) return st;
    char *text = NULL;
    if (t->model_text) text = dl_strdup(t->model_text);
    else {
        int from_ckpt = 0;
        st = model_text_any(&text, c->model, &from_ckpt);
        if (st == DL_OK && from_ckpt) {   /* e.g. an imported network: its head takes this dataset's classes */
            char *h = model_text_head_classes(text);
            dl_free(text);
            text = h;
        }
    }
    if (st == DL_OK) {
        Shape in = { t->train.c, t->train.h, t->train.w };
        st = model_init(&t->m, text, c->model, in, t->train.k, t->gw * t->gs);
    }
    dl_free(text);
    if (st != DL_OK) return st;
    model_init_params(&t->m, c->seed);
    Model *m = &t->m;
    if (c->freeze) {
        int i = model_find_layer(m, c->freeze);
        if (i < 0) return dl_fail(DL_EARG, "--freeze: the model has no layer '%s' (see dltrain summary --model %s)", c->freeze, c->model);
        t->freeze_at = i + 1;
    } else if (c->fine_tune[0] > 0) {
        for (int i = 0; i < m->n_layers; i++) if (layer_param_count(&m->spec[i]) > 0) t->freeze_at = i;   /* all but the head */
    }
    if (c->unfreeze) t->freeze_at = 0;
    if (c->init) {
        st = trainer_init_from(t, c->init);
        if (st != DL_OK) return st;
    }
    t->red_n = m->n_params + m->n_bstat + RED_EXTRA;
    t->red = dl_calloc((size_t)t->local * t->red_n, sizeof(float));   /* frozen layers' ranges stay 0 */
    if (!is_pow2(t->G)) dist_tree_init(&t->xt, t->d, &t->tree, t->red_n);
    t->reduce_scratch = dl_malloc(sizeof(float) * (t->red_n / 2 + 1));
    st = optim_parse_kind(c->optimizer ? c->optimizer : "sgd", &t->opt.kind);
    if (st != DL_OK) return st;
    t->opt.momentum = c->momentum;
    t->opt.nesterov = c->nesterov;
    t->opt.weight_decay = c->weight_decay;
    t->opt.beta1 = c->beta1;
    t->opt.beta2 = c->beta2;
    t->opt.eps = c->eps;
    t->opt.threads = t->nworkers;   /* the step splits its parameters between the workers' threads */
    t->ob.kind = optim_kind_name(t->opt.kind);
    t->ob.nbuf = (int)(optim_state_count(&t->opt, m->n_params) / (m->n_params ? m->n_params : 1));
    t->ob.names[0] = t->opt.kind == OPT_SGD ? "momentum" : "exp_avg";
    t->ob.names[1] = "exp_avg_sq";
    t->ob.state = dl_calloc(optim_state_count(&t->opt, m->n_params) + 1, sizeof(float));
    t->seg = dl_calloc((size_t)m->n_layers * 4, sizeof(ParamSeg));
    t->seg_lr = dl_calloc((size_t)m->n_layers * 4, sizeof(float));
    t->seg_mult = dl_calloc((size_t)m->n_layers * 4, sizeof(float));
    trainer_set_segments(t);
    if (c->profile) m->prof = dl_calloc(2 * (size_t)m->n_layers, sizeof(double));
    t->wk = dl_calloc((size_t)t->nworkers, sizeof(Worker));
    for (int w = 0; w < t->nworkers && st == DL_OK; w++) {
        Worker *k = &t->wk[w];
        if (w == 0) k->m = m;
        else {
            st = model_init(&k->own, m->text, m->source, m->input, m->classes, t->gw * t->gs);
            if (st != DL_OK) break;
            dl_free(k->own.params); dl_free(k->own.state);
            k->own.params = m->params;   /* shared, read-only during a step */
            k->own.state = m->state;
            k->m = &k->own;
        }
        k->x = dl_malloc(sizeof(float) * t->gw * t->gs * shape_size(m->input));
        k->aug_tmp = dl_malloc(sizeof(float) * shape_size(m->input));
        k->labels = dl_malloc(sizeof(int32_t) * t->gw * t->gs);
        k->targets = dl_malloc(sizeof(float) * t->gw * t->gs * m->classes);
        int g0 = t->d->rank * t->local + w * t->gw;   /* its run of groups, G-wide */
        k->merges = dl_malloc((size_t)t->gw);
        gtree_plan(&t->tree, g0, g0 + t->gw, k->merges);
        DL_CHECK(gtree_roots(&t->tree, g0, g0 + t->gw, NULL) <= GTREE_MAX_DEPTH);
        k->nroots = gtree_roots(&t->tree, g0, g0 + t->gw, k->first);
    }
    /* items summed after the workers: their subtrees (parameters), then
     * every group alone (batch statistics, loss: not summed by the model) */
    DL_CHECK(gtree_roots(&t->tree, t->d->rank * t->local, (t->d->rank + 1) * t->local, NULL) <= GTREE_MAX_DEPTH);
    t->nroots = gtree_roots(&t->tree, t->d->rank * t->local, (t->d->rank + 1) * t->local, t->roots);
    t->item_lo = dl_malloc(sizeof(int) * 2 * t->local);
    t->item_hi = dl_malloc(sizeof(int) * 2 * t->local);
    t->ni = 0;
    for (int w = 0; w < t->nworkers; w++)
        for (int j = 0; j < t->wk[w].nroots; j++, t->ni++) {
            t->item_lo[t->ni] = t->wk[w].first[j];
            t->item_hi[t->ni] = j + 1 < t->wk[w].nroots ? t->wk[w].first[j + 1] : t->d->rank * t->local + (w + 1) * t->gw;
        }
    for (int g = 0; g < t->local; g++) {
        t->item_lo[t->ni + g] = t->d->rank * t->local + g;
        t->item_hi[t->ni + g] = t->d->rank * t->local + g + 1;
    }
    t->item_buf = dl_malloc(sizeof(float *) * t->nworkers * (t->local + 1));
    t->item_out = dl_malloc(sizeof(int) * t->nworkers * t->local);
    if (st != DL_OK) return st;
    sampler_init(&t->sampler, t->train.n, t->train.n, c->seed);
    t->loader = loader_new(&t->train, t->local * t->gs);
    if (t->nworkers > 1) openblas_set_num_threads(1);   /* each thread runs its own groups */
    return DL_OK;
}
