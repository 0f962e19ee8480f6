/* checkpoint.c: save and load checkpoints (format in checkpoint.h). */
#include "checkpoint.h"

#include <errno.h>
#include <math.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "dltrain.h"
#include "data/dataset.h"
#include "h5util.h"


static int put_floats(hid_t group, const char *name, const float *v, const TensorInfo *t) {
    hsize_t dims[4];
    for (int i = 0; i < t->rank; i++) dims[i] = (hsize_t)t->dims[i];
    hid_t sp = H5Screate_simple(t->rank, dims, NULL);
    hid_t d = H5Dcreate2(group, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return ok;
}

/* Writes every tensor of one kind (params, states) under root/<layer>/. */
static int put_layer_tensors(hid_t file, const char *root, const Model *m, const float *base,
                             const size_t *off, int use_states) {
    hid_t g = H5Gcreate2(file, root, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return 0;
    int ok = 1;
    for (int i = 0; i < m->n_layers && ok; i++) {
        TensorInfo t[4];
        const LayerOps *ops = layer_ops(m->spec[i].kind);
        int nt = use_states ? ops->states(&m->spec[i], t) : ops->params(&m->spec[i], t);
        if (!nt) continue;
        hid_t lg = H5Gcreate2(g, m->spec[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (lg < 0) { ok = 0; break; }
        const float *v = base + off[i];
        for (int j = 0; j < nt && ok; j++) {
            ok = put_floats(lg, t[j].name, v, &t[j]);
            v += tensor_info_size(&t[j]);
        }
        H5Gclose(lg);
    }
    H5Gclose(g);
    return ok;
}

static hid_t create_group_path(hid_t file, const char *path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

static int put_position(hid_t f, const RunPosition *p) {
    int64_t v[] = { p->epoch, p->step, p->epoch_step, (int64_t)p->seed, p->batch, p->groups, p->train_samples,
                    p->epoch_skipped };
    const char *names[] = { "epoch", "step", "epoch_step", "seed", "batch", "groups", "train_samples", "epoch_skipped" };
    int ok = 1;
    for (int i = 0; i < 8; i++) ok = ok && h5_put_attr_i64(f, names[i], &v[i], 1);
    ok = ok && h5_put_attr_f64(f, "epoch_loss_sum", p->epoch_loss_sum);
    ok = ok && h5_put_attr_f64(f, "best_value", p->best_value);
    ok = ok && h5_put_attr_str(f, "metrics_csv", p->metrics_csv ? p->metrics_csv : "");
    return ok;
}

/* Limits on the run position a checkpoint may hold (past them the file is
 * damaged or not ours: refused before anything indexes with them). */
#define CKPT_MAX_EPOCHS 1000000
#define CKPT_MAX_BATCH (1 << 20)
#define CKPT_MAX_STEPS ((int64_t)1 << 53)   /* exact in a double */

/* The run position, each attribute range-checked; missing ones (older
 * files, or a checkpoint never meant to be resumed) read as zero. A present
 * attribute of the wrong type or out of range is DL_EFORMAT naming it. */
static DlStatus get_position(hid_t f, const char *path, RunPosition *p) {
    *p = (RunPosition){ .best_value = -INFINITY };
    int64_t v[8] = { 0 };
    static const struct { const char *name; int64_t lo, hi; } ints[8] = {
        { "epoch", 0, CKPT_MAX_EPOCHS }, { "step", 0, CKPT_MAX_STEPS }, { "epoch_step", 0, CKPT_MAX_STEPS },
        /* batch, groups, train_samples 0: no run position (`dltrain import`'s
         * checkpoints): a start for --init/--model, refused by --resume */
        { "seed", INT64_MIN, INT64_MAX }, { "batch", 0, CKPT_MAX_BATCH }, { "groups", 0, CKPT_MAX_BATCH },
        { "train_samples", 0, DATASET_MAX_SAMPLES }, { "epoch_skipped", 0, CKPT_MAX_STEPS },
    };
    for (int i = 0; i < 8; i++) {
        if (H5Aexists(f, ints[i].name) <= 0) continue;
        if (!h5_get_attr_i64(f, ints[i].name, &v[i], 1) || v[i] < ints[i].lo || v[i] > ints[i].hi)
            return dl_fail(DL_EFORMAT, "checkpoint '%s': attribute '%s' must be one integer in %lld..%lld "
                           "(the file is damaged: resume from another checkpoint)", path, ints[i].name,
                           (long long)ints[i].lo, (long long)ints[i].hi);
    }
    p->epoch = (int)v[0];
    p->step = v[1];
    p->epoch_step = v[2];
    p->seed = (uint64_t)v[3];
    p->batch = (int)v[4];
    p->groups = (int)v[5];
    p->train_samples = v[6];
    p->epoch_skipped = v[7];
    const char *bad = NULL;
    if (p->groups > 0 && (p->batch < 1 || p->groups > p->batch)) bad = "groups must be in 1..batch";
    else if (p->epoch_step > p->step) bad = "epoch_step must not exceed step";
    else if (p->epoch_skipped > p->epoch_step) bad = "epoch_skipped must not exceed epoch_step";
    else if (p->epoch_step > 0 && (p->batch < 1 || p->epoch_step > p->train_samples / p->batch))
        bad = "epoch_step must be within an epoch (train_samples / batch steps)";
    if (bad) return dl_fail(DL_EFORMAT, "checkpoint '%s': inconsistent run position: %s (the file is damaged)", path, bad);
    const char *fnames[2] = { "epoch_loss_sum", "best_value" };
    double *fv[2] = { &p->epoch_loss_sum, &p->best_value };
    for (int i = 0; i < 2; i++) {
        if (H5Aexists(f, fnames[i]) <= 0) continue;
        if (!h5_get_attr_f64(f, fnames[i], fv[i]) || isnan(*fv[i]) || *fv[i] == INFINITY ||
            (i == 0 && !isfinite(*fv[i])))
            return dl_fail(DL_EFORMAT, "checkpoint '%s': attribute '%s' must be one %s number (the file is damaged)", path,
                           fnames[i], i == 0 ? "finite" : "finite (or -inf)");
    }
    if (H5Aexists(f, "metrics_csv") > 0 && !(p->metrics_csv = h5_get_attr_str(f, "metrics_csv")))
        return dl_fail(DL_EFORMAT, "checkpoint '%s': attribute 'metrics_csv' must be a string (at most 64 MiB)", path);
    return DL_OK;
}

/* normalize_mean and normalize_std: both or neither, `channels` finite
 * floats each (the input's channel count), every std > 0. */
static DlStatus get_normalization(hid_t f, const char *path, int channels, Normalization *n) {
    *n = (Normalization){ 0 };
    const char *names[2] = { "normalize_mean", "normalize_std" };
    float *vals[2] = { n->mean, n->std };
    int have = (H5Aexists(f, names[0]) > 0) + (H5Aexists(f, names[1]) > 0);
    if (have == 0) return DL_OK;
    for (int i = 0; i < 2; i++) {
        int ok = have == 2;
        hid_t a = ok ? H5Aopen(f, names[i], H5P_DEFAULT) : H5I_INVALID_HID;
        if (a >= 0) {
            hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
            ok = H5Tget_class(t) == H5T_FLOAT && H5Sget_simple_extent_npoints(sp) == channels && channels >= 1 &&
                 channels <= 3 && H5Aread(a, H5T_NATIVE_FLOAT, vals[i]) >= 0;
            H5Tclose(t); H5Sclose(sp); H5Aclose(a);
        } else ok = 0;
        for (int c = 0; ok && c < channels; c++) ok = isfinite(vals[i][c]) && (i == 0 || vals[i][c] > 0.0f);
        if (!ok)
            return dl_fail(DL_EFORMAT, "checkpoint '%s': normalisation statistics must be 'normalize_mean' and 'normalize_std', "
                           "%d finite floats each (one per input channel), every std > 0 (the file is damaged)", path, channels);
    }
    n->channels = channels;
    n->on = 1;
    return DL_OK;
}

/* Builds the whole checkpoint in memory (HDF5's core driver, no backing
 * file) and returns its bytes in *image (new) and *size, or 0. HDF5 never
 * touches the disk: a full disk meets our own write() (dl_write_durable),
 * never HDF5's close, which on a failed flush leaves a half-closed file
 * that crashes the library's shutdown at exit. The cost: the file's size in
 * memory while it is written. */
static int write_image(const Model *m, const CheckpointMeta *meta, void **image, size_t *size) {
    *image = NULL;
    *size = 0;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) { if (fapl >= 0) H5Pclose(fapl); return 0; }
    hid_t f = H5Fcreate("checkpoint-in-memory.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return 0;
    int64_t input[3] = { m->input.c, m->input.h, m->input.w };
    int ok = 1;
    ok = ok && h5_put_attr_i64(f, "format_version", &(int64_t){ CHECKPOINT_FORMAT_VERSION }, 1);
    ok = ok && h5_put_attr_str(f, "dltrain_version", DLTRAIN_VERSION);
    ok = ok && h5_put_attr_str(f, "model", m->text);
    ok = ok && h5_put_attr_str(f, "model_source", m->source);
    ok = ok && h5_put_attr_i64(f, "input", input, 3);
    if (meta->k > 0) ok = ok && h5_put_attr_strs(f, "class_names", meta->class_names, meta->k);
    ok = ok && put_position(f, &meta->pos);
    ok = ok && h5_put_attr_str(f, "task", meta->multi ? "multi" : "single");
    if (meta->presize && meta->presize[0]) ok = ok && h5_put_attr_str(f, "presize", meta->presize);
    if (meta->norm.on) {
        hsize_t dim = (hsize_t)meta->norm.channels;
        const char *names[2] = { "normalize_mean", "normalize_std" };
        const float *vals[2] = { meta->norm.mean, meta->norm.std };
        for (int i = 0; i < 2 && ok; i++) {
            hid_t sp = H5Screate_simple(1, &dim, NULL);
            hid_t a = H5Acreate2(f, names[i], H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
            ok = a >= 0 && H5Awrite(a, H5T_NATIVE_FLOAT, vals[i]) >= 0;
            if (a >= 0) H5Aclose(a);
            H5Sclose(sp);
        }
    }
    ok = ok && put_layer_tensors(f, "params", m, m->params, m->w_off, 0);
    ok = ok && put_layer_tensors(f, "state", m, m->state, m->st_off, 1);
    if (ok && meta->optim.state) {
        hid_t g = create_group_path(f, "optim");
        ok = g >= 0;
        if (g >= 0) H5Gclose(g);
        ok = ok && h5_put_attr_str(f, "optimizer", meta->optim.kind);
        for (int b = 0; b < meta->optim.nbuf && ok; b++) {
            char root[64];
            snprintf(root, sizeof root, "optim/%s", meta->optim.names[b]);
            ok = put_layer_tensors(f, root, m, meta->optim.state + (size_t)b * m->n_params, m->w_off, 0);
        }
    }
    ok = H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0 && ok;
    ssize_t n = ok ? H5Fget_file_image(f, NULL, 0) : -1;
    if (n > 0) {
        *image = dl_malloc((size_t)n);
        ok = H5Fget_file_image(f, *image, (size_t)n) == n;
        *size = (size_t)n;
    } else ok = 0;
    ok = H5Fclose(f) >= 0 && ok;
    if (!ok) { dl_free(*image); *image = NULL; *size = 0; }
    return ok;
}

DlStatus checkpoint_save(const char *path, const Model *m, const CheckpointMeta *meta) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    void *image;
    size_t size;
    if (!write_image(m, meta, &image, &size))
        return dl_fail(DL_EIO, "cannot build checkpoint '%s' in memory (HDF5 error)", path);
    /* "<path>.partial", fsync, rename, fsync of the folder: a crash, a full
     * disk or a kill never leaves a torn or empty file at `path`. */
    DlStatus st = dl_write_durable(path, image, size);
    dl_free(image);
    if (st != DL_OK) {
        char why[2048];
        snprintf(why, sizeof why, "%s", dl_errmsg());
        st = dl_fail(DL_EIO, "cannot write checkpoint: %s", why);
    }
    return st;
}

DlStatus model_text_any(char **text, const char *name_or_file, int *from_checkpoint) {
    *text = NULL;
    if (from_checkpoint) *from_checkpoint = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *f = fopen(name_or_file, "rb");
    unsigned char magic[8] = { 0 };
    int is_h5 = f && fread(magic, 1, 8, f) == 8 && memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0;
    if (f) fclose(f);
    if (!is_h5) return model_text_load(text, name_or_file);
    CheckpointInfo info;
    DlStatus st = checkpoint_info(&info, name_or_file);
    if (st != DL_OK) return st;
    *text = dl_strdup(info.model_text);
    checkpoint_info_free(&info);
    if (from_checkpoint) *from_checkpoint = 1;
    return DL_OK;
}

void checkpoint_info_free(CheckpointInfo *info) {
    dl_free(info->model_text);
    dl_free(info->model_source);
    dl_free(info->pos.metrics_csv);
    for (int i = 0; i < info->k; i++) dl_free(info->class_names[i]);
    dl_free(info->class_names);
    *info = (CheckpointInfo){ 0 };
}

DlStatus checkpoint_info(CheckpointInfo *info, const char *path) {
    *info = (CheckpointInfo){ 0 };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0)
        return dl_fail(DL_EIO, "cannot open checkpoint '%s': missing, truncated or not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return dl_fail(DL_EIO, "cannot open checkpoint '%s': truncated or not an HDF5 file", path);
    int64_t ver = 0, input[3] = { 0 };
    DlStatus st = DL_OK;
    if (!h5_get_attr_i64(f, "format_version", &ver, 1) || !(info->model_text = h5_get_attr_str(f, "model")))
        st = dl_fail(DL_EFORMAT, "'%s' is not a dltrain checkpoint (no format_version or model attribute)", path);
    else if (ver > CHECKPOINT_FORMAT_VERSION)
        st = dl_fail(DL_EFORMAT, "'%s' has checkpoint format %lld; this dltrain %s reads up to %d: upgrade dltrain",
                     path, (long long)ver, DLTRAIN_VERSION, CHECKPOINT_FORMAT_VERSION);
    else if (!h5_get_attr_i64(f, "input", input, 3) || (input[0] != 1 && input[0] != 3) || input[1] < 1 || input[2] < 1 ||
             input[1] > DATASET_MAX_SIDE || input[2] > DATASET_MAX_SIDE || input[1] * input[2] > DATASET_MAX_PIXELS)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' has no valid 'input' attribute (3 integers C,H,W: C 1 or 3, H and W 1..%d, "
                     "H*W at most %lld)", path, DATASET_MAX_SIDE, (long long)DATASET_MAX_PIXELS);
    if (st == DL_OK) {
        info->model_source = h5_get_attr_str(f, "model_source");
        if (!info->model_source) info->model_source = dl_strdup(path);
        info->input = (Shape){ (int)input[0], (int)input[1], (int)input[2] };
        st = get_position(f, path, &info->pos);
    }
    if (st == DL_OK) st = get_normalization(f, path, info->input.c, &info->norm);
    if (st == DL_OK) {
        char *task = H5Aexists(f, "task") > 0 ? h5_get_attr_str(f, "task") : NULL;
        info->multi = task && !strcmp(task, "multi");
        dl_free(task);
        char *pre = H5Aexists(f, "presize") > 0 ? h5_get_attr_str(f, "presize") : NULL;
        if (pre && strlen(pre) < sizeof info->presize) strcpy(info->presize, pre);
        else if (pre) snprintf(info->presize, sizeof info->presize, "?");   /* unknown: predict refuses it */
        dl_free(pre);
    }
    if (st == DL_OK && H5Aexists(f, "class_names") > 0) {
        info->class_names = h5_get_attr_strs(f, "class_names", &info->k);
        if (!info->class_names || info->k > DATASET_MAX_CLASSES)
            st = dl_fail(DL_EFORMAT, "checkpoint '%s': attribute 'class_names' must be 1..%d strings (the file is damaged)",
                         path, DATASET_MAX_CLASSES);
    }
    H5Fclose(f);
    if (st != DL_OK) checkpoint_info_free(info);
    return st;
}

static DlStatus get_layer_tensors(hid_t f, const char *path, const char *root, const Model *m,
                                  float *base, const size_t *off, int use_states) {
    for (int i = 0; i < m->n_layers; i++) {
        TensorInfo t[4];
        const LayerOps *ops = layer_ops(m->spec[i].kind);
        int nt = use_states ? ops->states(&m->spec[i], t) : ops->params(&m->spec[i], t);
        float *v = base + off[i];
        for (int j = 0; j < nt; j++) {
            char name[256];
            snprintf(name, sizeof name, "/%s/%s/%s", root, m->spec[i].name, t[j].name);
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
            if (d < 0) return dl_fail(DL_EFORMAT, "checkpoint '%s' has no '%s': it was written for another model", path, name);
            hid_t sp = H5Dget_space(d);
            hsize_t dims[8];
            int rank = H5Sget_simple_extent_ndims(sp);
            int same = rank == t[j].rank;
            if (same) {
                H5Sget_simple_extent_dims(sp, dims, NULL);
                for (int k = 0; k < rank; k++) same &= dims[k] == (hsize_t)t[j].dims[k];
            }
            int ok = same && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
            H5Sclose(sp); H5Dclose(d);
            if (!same) return dl_fail(DL_EFORMAT, "checkpoint '%s': '%s' has another shape than this model's layer (another architecture or class count?)", path, name);
            if (!ok) return dl_fail(DL_EIO, "checkpoint '%s': cannot read '%s' (file damaged?)", path, name);
            v += tensor_info_size(&t[j]);
        }
    }
    return DL_OK;
}

DlStatus checkpoint_load(const char *path, Model *m, const OptimBuffers *o) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return dl_fail(DL_EIO, "cannot open checkpoint '%s': truncated or not an HDF5 file", path);
    DlStatus st = get_layer_tensors(f, path, "params", m, m->params, m->w_off, 0);
    if (st == DL_OK) st = get_layer_tensors(f, path, "state", m, m->state, m->st_off, 1);
    if (st == DL_OK && o && o->state) {
        char *kind = h5_get_attr_str(f, "optimizer");
        if (!kind && H5Lexists(f, "/optim/momentum", H5P_DEFAULT) > 0) kind = dl_strdup("sgd");
        if (!kind || strcmp(kind, o->kind) != 0)
            st = dl_fail(DL_EFORMAT, "checkpoint '%s' holds %s optimizer state, this run uses %s: resume with --optimizer %s",
                         path, kind ? kind : "no", o->kind, kind ? kind : "(any)");
        for (int b = 0; st == DL_OK && b < o->nbuf; b++) {
            char root[64];
            snprintf(root, sizeof root, "optim/%s", o->names[b]);
            st = get_layer_tensors(f, path, root, m, o->state + (size_t)b * m->n_params, m->w_off, 0);
        }
        dl_free(kind);
    }
    H5Fclose(f);
    return st;
}

/* 1: /root/<layer>/ holds every tensor of layer i with the model's shapes;
 * 0: the checkpoint has no such layer; -1: it has it with other shapes. */
static int layer_match(hid_t f, const char *root, const Model *m, int i, int use_states) {
    TensorInfo t[4];
    const LayerOps *ops = layer_ops(m->spec[i].kind);
    int nt = use_states ? ops->states(&m->spec[i], t) : ops->params(&m->spec[i], t);
    char name[256];
    snprintf(name, sizeof name, "/%s/%s", root, m->spec[i].name);
    if (nt == 0) return 1;
    if (H5Lexists(f, root, H5P_DEFAULT) <= 0 || H5Lexists(f, name, H5P_DEFAULT) <= 0) return 0;
    for (int j = 0; j < nt; j++) {
        snprintf(name, sizeof name, "/%s/%s/%s", root, m->spec[i].name, t[j].name);
        if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        if (d < 0) return -1;
        hid_t sp = H5Dget_space(d);
        hsize_t dims[8];
        int same = H5Sget_simple_extent_ndims(sp) == t[j].rank;
        if (same) {
            H5Sget_simple_extent_dims(sp, dims, NULL);
            for (int k = 0; k < t[j].rank; k++) same &= dims[k] == (hsize_t)t[j].dims[k];
        }
        H5Sclose(sp);
        H5Dclose(d);
        if (!same) return -1;
    }
    return 1;
}

static int layer_read(hid_t f, const char *root, const Model *m, int i, float *v, int use_states) {
    TensorInfo t[4];
    const LayerOps *ops = layer_ops(m->spec[i].kind);
    int nt = use_states ? ops->states(&m->spec[i], t) : ops->params(&m->spec[i], t);
    for (int j = 0; j < nt; j++) {
        char name[256];
        snprintf(name, sizeof name, "/%s/%s/%s", root, m->spec[i].name, t[j].name);
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        int ok = d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
        if (d >= 0) H5Dclose(d);
        if (!ok) return 0;
        v += tensor_info_size(&t[j]);
    }
    return 1;
}

DlStatus checkpoint_load_matching(const char *path, Model *m, const int *reinit, InitOutcome *outcome) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0)
        return dl_fail(DL_EIO, "cannot open checkpoint '%s': missing, truncated or not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return dl_fail(DL_EIO, "cannot open checkpoint '%s'", path);
    DlStatus st = DL_OK;
    int loaded = 0, trained = 0;
    for (int i = 0; i < m->n_layers && st == DL_OK; i++) {
        if (layer_param_count(&m->spec[i]) == 0 && layer_state_count(&m->spec[i]) == 0) { outcome[i] = INIT_NONE; continue; }
        trained++;
        int p = layer_match(f, "params", m, i, 0), q = layer_match(f, "state", m, i, 1);
        int need_p = layer_param_count(&m->spec[i]) > 0, need_q = layer_state_count(&m->spec[i]) > 0;
        if (reinit && reinit[i]) outcome[i] = INIT_HEAD;
        else if ((need_p && p < 0) || (need_q && q < 0)) outcome[i] = INIT_SHAPE;
        else if ((need_p && p == 0) || (need_q && q == 0)) outcome[i] = INIT_NEW;
        else if (!layer_read(f, "params", m, i, m->params + m->w_off[i], 0) ||
                 !layer_read(f, "state", m, i, m->state + m->st_off[i], 1))
            st = dl_fail(DL_EIO, "checkpoint '%s': cannot read layer '%s' (file damaged?)", path, m->spec[i].name);
        else { outcome[i] = INIT_LOADED; loaded++; }
    }
    H5Fclose(f);
    if (st == DL_OK && loaded == 0 && trained > 0)
        st = dl_fail(DL_EFORMAT, "checkpoint '%s' shares no layer (same name and shapes) with this model: "
                     "it is another architecture; name the layers alike or start without --init", path);
    return st;
}
