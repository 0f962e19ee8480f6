/* cli_import.c: `dltrain import MODEL.onnx -o START.h5 [--mean R,G,B
 * --std R,G,B]`: an ONNX graph (onnx/onnx_import.h) written as a dltrain
 * checkpoint with the model text, parameters and batch-norm statistics, no
 * optimizer state, and the input normalisation the network expects (the
 * same attributes --normalize records), so train --init/--model, eval and
 * predict apply it. The output is written as every checkpoint is
 * (temporary name, then rename); an existing file is kept unless
 * --overwrite. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli_import.h"
#include "flags.h"
#include "onnx/onnx_import.h"

/* "a,b,c" -> v[0..n), n = 1 or the channel count. */
static int parse_triple(const char *s, float v[3]) {
    char *end;
    int n = 0;
    while (n < 3) {
        v[n++] = strtof(s, &end);
        if (end == s || !isfinite(v[n - 1])) return 0;
        if (*end == '\0') break;
        if (*end != ',') return 0;
        s = end + 1;
    }
    return *end == '\0' ? n : 0;
}

DlStatus cli_import_run(const char *in, const char *out, const char *mean, const char *std, int overwrite, int quiet) {
    float mv[3], sv[3];
    int nm = 0, ns = 0;
    if ((mean != NULL) != (std != NULL)) return dl_fail(DL_EARG, "import: give --mean and --std together");
    if (mean && !(nm = parse_triple(mean, mv))) return dl_fail(DL_EARG, "import: --mean wants R,G,B like 0.485,0.456,0.406 (got '%s')", mean);
    if (std && !(ns = parse_triple(std, sv))) return dl_fail(DL_EARG, "import: --std wants R,G,B like 0.229,0.224,0.225 (got '%s')", std);
    for (int i = 0; i < ns; i++) if (!(sv[i] > 0)) return dl_fail(DL_EARG, "import: --std values must be > 0 (got '%s')", std);
    if (!overwrite && access(out, F_OK) == 0)
        return dl_fail(DL_EARG, "import: '%s' exists; choose another -o or add --overwrite", out);
    uint8_t *buf;
    size_t len;
    DlStatus st = onnx_read_file(&buf, &len, in);
    if (st != DL_OK) return st;
    OnnxImport imp;
    st = onnx_import(&imp, buf, len, in, NULL, 0);
    dl_free(buf);
    if (st != DL_OK) return st;
    Model m;
    st = onnx_import_model(&m, &imp, in, 1);
    if (st == DL_OK && mean && nm != ns) st = dl_fail(DL_EARG, "import: --mean has %d values, --std %d", nm, ns);
    if (st == DL_OK && mean && nm != 1 && nm != m.input.c)
        st = dl_fail(DL_EARG, "import: --mean/--std have %d values for a model with %d input channels", nm, m.input.c);
    if (st == DL_OK) {
        CheckpointMeta meta = { .pos = { .best_value = -INFINITY } };
        if (mean) {
            meta.norm.on = 1;
            meta.norm.channels = m.input.c;
            for (int i = 0; i < m.input.c; i++) { meta.norm.mean[i] = mv[nm == 1 ? 0 : i]; meta.norm.std[i] = sv[ns == 1 ? 0 : i]; }
        }
        st = checkpoint_save(out, &m, &meta);
    }
    if (st == DL_OK && !quiet) {
        printf("imported %s (ONNX opset %d%s%s): %d layers, %zu parameters, %zu running statistics, input %dx%dx%d%s\n",
               in, imp.opset, imp.producer[0] ? ", from " : "", imp.producer, m.n_layers, m.n_params, m.n_state,
               m.input.c, m.input.h, m.input.w, imp.nhwc ? " (the graph's NHWC input: dltrain feeds NCHW, its Transpose is gone)" : "");
        if (imp.dropped_softmax) printf("the graph's final Softmax is left out: dltrain's models output logits (eval and predict apply softmax)\n");
        if (mean) printf("input normalisation recorded: (x/255 - mean) / std per channel, mean %s, std %s\n", mean, std);
        else printf("no --mean/--std: inputs are fed as x/255 (torchvision's models want --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225)\n");
        printf("wrote %s (see `dltrain summary --model %s`)\n", out, out);
    }
    if (m.spec) model_free(&m);
    onnx_import_free(&imp);
    return st;
}

int cli_import(int argc, char **argv) {
    const char *out = NULL, *mean = NULL, *std = NULL;
    int overwrite = 0;
    const Flag flags[] = {
        { "o", F_STR, &out, "required", "the checkpoint to write (START.h5)" },
        { "mean", F_STR, &mean, "none", "per-channel mean the network expects on [0,1] inputs, R,G,B (recorded in the checkpoint)" },
        { "std", F_STR, &std, "none", "per-channel std, R,G,B (with --mean)" },
        { "overwrite", F_BOOL, &overwrite, NULL, "replace an existing -o file" },
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (flags_want_help(argc, argv)) {
        flags_print("usage: dltrain import MODEL.onnx -o START.h5 [--mean R,G,B --std R,G,B]", flags, nflags);
        return 0;
    }
    DlStatus st = DL_OK;
    const char *in = NULL;
    if (argc < 1 || argv[0][0] == '-') st = dl_fail(DL_EARG, "import: give the .onnx file first: dltrain import MODEL.onnx -o START.h5");
    else in = argv[0];
    char **rest = dl_calloc((size_t)argc + 1, sizeof(char *));   /* -o is --o */
    for (int i = 1; i < argc; i++) rest[i - 1] = !strcmp(argv[i], "-o") ? "--o" : argv[i];
    if (st == DL_OK) st = flags_parse(flags, nflags, argc - 1, rest, "dltrain import");
    dl_free(rest);
    if (st == DL_OK && !out) st = dl_fail(DL_EARG, "import: -o START.h5 is required (the checkpoint to write)");
    if (st == DL_OK && mean && !strcmp(mean, "none")) mean = NULL;
    if (st == DL_OK && std && !strcmp(std, "none")) std = NULL;
    if (st == DL_OK) st = cli_import_run(in, out, mean, std, overwrite, 0);
    if (st != DL_OK) {
        flags_error("dltrain", dl_errmsg());
        return st == DL_EARG ? 2 : 1;
    }
    return 0;
}
