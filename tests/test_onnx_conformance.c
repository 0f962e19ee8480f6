/* test_onnx_conformance.c: ONNX's own conformance data (Debian's
 * libonnx-testdata: node/test_* and pytorch-converted/test_*, each a
 * model.onnx with test_data_set_0/input_*.pb and output_*.pb TensorProtos)
 * through dltrain import (issue 16, Must show 6).
 * Every test whose graph uses only ops that import maps is a candidate. Its
 * first graph input is the data; the other inputs (a Conv's weight, a
 * BatchNormalization's statistics, Clip's bounds) are fed to import as
 * initializers. Each candidate is either
 *   PASS: imported, run (eval mode, or training mode for a training graph:
 *         batch statistics), output_0 within 1e-5 absolute or 1e-4
 *         relative of the shipped one, element by element; or
 *   REFUSED: import says why in one line naming the file (an attribute or
 *         shape dltrain does not support);
 *   RANDOM: a training-mode Dropout with ratio > 0 (its mask is random);
 * and nothing may be FAIL: imported but answered wrongly. A trailing
 * Softmax is applied as eval/predict apply it (dltrain's models output
 * logits). The passes must include every test listed in
 * tests/onnx/conformance_pass.txt (so refusing everything cannot pass), and
 * the table of outcomes goes to BUILD/onnx_conformance.txt. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "onnx/onnx_internal.h"

#define DATA "/usr/share/libonnx-testdata/data"

static const char *const mapped[] = { "Conv", "BatchNormalization", "Relu", "LeakyRelu", "Clip", "MaxPool", "AveragePool",
                                      "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul", "Add", "Sum", "Concat",
                                      "Dropout", "Identity", "Constant", "Transpose", "Softmax" };

static int is_mapped(const char *op) {
    for (size_t i = 0; i < sizeof mapped / sizeof *mapped; i++) if (!strcmp(mapped[i], op)) return 1;
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    uint8_t *buf;
    return onnx_read_file(&buf, len, path) == DL_OK ? buf : NULL;
}

static Onnx__TensorProto *read_pb(const char *path) {
    size_t len;
    uint8_t *buf = slurp(path, &len);
    if (!buf) return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
    dl_free(buf);
    return t;
}

typedef enum { R_SKIP, R_PASS, R_REFUSED, R_FAIL, R_RANDOM } Outcome;

/* Runs one test directory; msg gets the reason for REFUSED / FAIL. */
static Outcome run_one(const char *dir, char *msg, size_t cap) {
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t len;
    uint8_t *buf = slurp(path, &len);
    if (!buf) return R_SKIP;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp || !mp->graph || mp->graph->n_node == 0) {
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        dl_free(buf);
        return R_SKIP;
    }
    const Onnx__GraphProto *g = mp->graph;
    int cand = 1;
    for (size_t i = 0; i < g->n_node; i++) cand &= g->node[i]->op_type && is_mapped(g->node[i]->op_type);
    /* graph inputs that are not initializers, in order: input_0.pb, input_1.pb, ... */
    const char *names[16];
    int nin = 0;
    for (size_t i = 0; i < g->n_input && nin < 16; i++) {
        int init = 0;
        for (size_t j = 0; j < g->n_initializer; j++) init |= !strcmp(g->initializer[j]->name, g->input[i]->name);
        if (!init) names[nin++] = g->input[i]->name;
    }
    Outcome out = R_SKIP;
    Onnx__TensorProto *pb[16] = { 0 }, *want = NULL;
    OnnxTensor in[16], ref = { 0 };
    int ndec = 0;
    if (!cand || nin < 1) goto done;
    for (int k = 0; k < nin; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
        if (!(pb[k] = read_pb(path)) || onnx_tensor(&in[k], pb[k], path) != DL_OK) {
            /* not float data (uint8, int8, sequences): import must refuse the graph itself */
            OnnxImport imp;
            snprintf(path, sizeof path, "%s/model.onnx", dir);
            if (onnx_import(&imp, buf, len, path, NULL, 0) != DL_OK) { snprintf(msg, cap, "%s", dl_errmsg()); out = R_REFUSED; }
            else { snprintf(msg, cap, "imported a graph whose input %d is not float data", k); out = R_FAIL; onnx_import_free(&imp); }
            goto done;
        }
        ndec++;
    }
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    if (!(want = read_pb(path)) || onnx_tensor(&ref, want, path) != DL_OK) { snprintf(msg, cap, "cannot read %.900s", path); out = R_FAIL; goto done; }
    OnnxFeed feeds[16];
    for (int k = 1; k < nin; k++) {
        feeds[k - 1] = (OnnxFeed){ .name = names[k], .data = in[k].f, .rank = in[k].rank };
        memcpy(feeds[k - 1].dims, in[k].dims, sizeof in[k].dims);
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    OnnxImport imp;
    if (onnx_import(&imp, buf, len, path, feeds, nin - 1) != DL_OK) {
        snprintf(msg, cap, "%s", dl_errmsg());
        out = strstr(msg, path) && !strchr(msg, '\n') ? R_REFUSED : R_FAIL;   /* one line naming the file */
        goto done;
    }
    int N = in[0].rank >= 1 ? (int)in[0].dims[0] : 1;
    Model m;
    if (N < 1 || onnx_import_model(&m, &imp, path, N) != DL_OK) {
        snprintf(msg, cap, "%s", N < 1 ? "empty batch" : dl_errmsg());
        out = R_REFUSED;
        onnx_import_free(&imp);
        goto done;
    }
    int random = 0;   /* training-mode dropout: ONNX's random mask is not ours */
    for (int i = 0; i < m.n_layers; i++) random |= imp.training_graph && m.spec[i].kind == LK_DROPOUT && m.spec[i].rate > 0;
    if (random) {
        snprintf(msg, cap, "training-mode dropout with ratio > 0: a random mask, not comparable");
        out = R_RANDOM;
    } else if ((size_t)in[0].count != (size_t)N * shape_size(m.input) || (size_t)ref.count != (size_t)N * m.classes) {
        snprintf(msg, cap, "sizes: input %lld for %d x %zu, output %lld for %d x %d", (long long)in[0].count, N,
                 shape_size(m.input), (long long)ref.count, N, m.classes);
        out = R_FAIL;
    } else {
        int64_t sample[64];
        for (int i = 0; i < N && i < 64; i++) sample[i] = i;
        float *bstat = dl_calloc(m.n_bstat + 1, sizeof(float));
        ForwardArgs a = { .training = imp.training_graph, .sample = sample, .bstat = bstat };
        const float *y = model_forward(&m, in[0].f, N, &a);
        float *o = dl_malloc(sizeof(float) * (size_t)ref.count);
        memcpy(o, y, sizeof(float) * (size_t)ref.count);
        if (imp.dropped_softmax)
            for (int i = 0; i < N; i++) {
                float *r = o + (size_t)i * m.classes, mx = r[0];
                double sum = 0.0;
                for (int k = 1; k < m.classes; k++) if (r[k] > mx) mx = r[k];
                for (int k = 0; k < m.classes; k++) sum += exp((double)r[k] - mx);
                for (int k = 0; k < m.classes; k++) r[k] = (float)(exp((double)r[k] - mx) / sum);
            }
        out = R_PASS;
        double worst = 0.0;
        for (int64_t k = 0; k < ref.count; k++) {
            double d = fabs((double)o[k] - ref.f[k]);
            if (!(d <= 1e-5 || d <= 1e-4 * fabs(ref.f[k]))) {
                if (out == R_PASS) snprintf(msg, cap, "output %lld: %.9g, expected %.9g", (long long)k, o[k], ref.f[k]);
                out = R_FAIL;
            }
            if (d > worst) worst = d;
        }
        if (out == R_PASS) snprintf(msg, cap, "max abs err %.2g%s", worst, imp.training_graph ? " (training mode)" : "");
        dl_free(o);
        dl_free(bstat);
    }
    model_free(&m);
    onnx_import_free(&imp);
done:
    for (int k = 0; k < ndec; k++) onnx_tensor_free(&in[k]);
    for (int k = 0; k < nin; k++) if (pb[k]) onnx__tensor_proto__free_unpacked(pb[k], NULL);
    if (want) onnx__tensor_proto__free_unpacked(want, NULL);
    onnx_tensor_free(&ref);
    onnx__model_proto__free_unpacked(mp, NULL);
    dl_free(buf);
    return out;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_conformance(void **state) {
    (void)state;
    static const char *const sets[] = { "node", "pytorch-converted" };
    FILE *table = fopen(DL_BUILD_DIR "/onnx_conformance.txt", "w");
    assert_non_null(table);
    char *passed[4096];
    int npass = 0, nref = 0, nfail = 0;
    for (size_t s = 0; s < 2; s++) {
        char root[512];
        snprintf(root, sizeof root, DATA "/%s", sets[s]);
        DIR *d = opendir(root);
        if (!d) fail_msg("%s is missing: install libonnx-testdata (launch/setup.sh does)", root);
        char *names[2048];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < 2048)
            if (!strncmp(e->d_name, "test_", 5)) names[n++] = strdup(e->d_name);
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (int i = 0; i < n; i++) {
            char dir[1024], msg[1024] = "";
            snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
            Outcome o = run_one(dir, msg, sizeof msg);
            if (o != R_SKIP)
                fprintf(table, "%-8s %s/%s  %s\n", o == R_PASS ? "PASS" : o == R_REFUSED ? "REFUSED" : o == R_RANDOM ? "RANDOM" : "FAIL",
                        sets[s], names[i], msg);
            if (o == R_FAIL) { nfail++; printf("FAIL %s/%s: %s\n", sets[s], names[i], msg); }
            if (o == R_REFUSED) nref++;
            if (o == R_PASS && npass < 4096) {
                char full[512];
                snprintf(full, sizeof full, "%s/%s", sets[s], names[i]);
                passed[npass++] = strdup(full);
            }
            free(names[i]);
        }
    }
    fclose(table);
    printf("conformance: %d pass, %d refused with a reason, %d wrong (table: %s)\n", npass, nref, nfail,
           DL_BUILD_DIR "/onnx_conformance.txt");
    FILE *f = fopen(DL_SOURCE_DIR "/tests/onnx/conformance_pass.txt", "r");
    assert_non_null(f);
    char line[512];
    int missing = 0, listed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        listed++;
        int found = 0;
        for (int i = 0; i < npass && !found; i++) found = !strcmp(passed[i], line);
        if (!found) { printf("expected to pass, did not: %s\n", line); missing++; }
    }
    fclose(f);
    for (int i = 0; i < npass; i++) free(passed[i]);
    assert_int_equal(nfail, 0);
    assert_int_equal(missing, 0);
    assert_true(listed > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_conformance) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
