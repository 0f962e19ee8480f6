/* zoo.c: the model zoo (built-in model texts, the same format as model
 * files: see model_text.c) and model_text_load. */
#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the zoo: the same text format as model files ---- */

static const struct { const char *name, *text; } zoo[] = {
    { "fmnist-tfdoc",
      "# The TensorFlow tutorial CNN (DESIGN.md reference model).\n"
      "conv    name=conv1 filters=32 size=5 pad=same\n"
      "relu\n"
      "maxpool size=2\n"
      "conv    name=conv2 filters=64 size=5 pad=same\n"
      "relu\n"
      "maxpool size=2\n"
      "dense   name=fc1 units=1024\n"
      "relu\n"
      "dropout rate=0.4\n"
      "dense   name=fc2 units=classes\n" },
    { "fmnist-bn",
      "# Two conv+pool blocks with batch norm (DESIGN.md reference model).\n"
      "conv    name=conv1 filters=32 size=3 pad=same\n"
      "bn      name=bn1\n"
      "relu\n"
      "conv    name=conv2 filters=32 size=3 pad=same\n"
      "bn      name=bn2\n"
      "relu\n"
      "maxpool size=2\n"
      "conv    name=conv3 filters=64 size=3 pad=same\n"
      "bn      name=bn3\n"
      "relu\n"
      "conv    name=conv4 filters=64 size=3 pad=same\n"
      "bn      name=bn4\n"
      "relu\n"
      "maxpool size=2\n"
      "dense   name=fc1 units=128\n"
      "relu\n"
      "dropout rate=0.3\n"
      "dense   name=fc2 units=classes\n" },
    { "resnet8",
      "# ResNet-8, the CIFAR layout of He et al. 2016 (3 stages of one basic block,\n"
      "# 16/32/64 filters), with 1x1 conv + bn projection shortcuts where the\n"
      "# shape changes. Convs keep their bias (dltrain convs always have one).\n"
      "conv    name=stem filters=16 size=3 pad=same\n"
      "bn      name=stem_bn\n"
      "relu    name=stem_relu\n"
      "conv    name=b1c1 filters=16 size=3 pad=same\n"
      "bn      name=b1n1\n"
      "relu    name=b1r1\n"
      "conv    name=b1c2 filters=16 size=3 pad=same\n"
      "bn      name=b1n2\n"
      "add     name=b1add from=stem_relu\n"
      "relu    name=b1out\n"
      "conv    name=b2c1 filters=32 size=3 stride=2 pad=1\n"
      "bn      name=b2n1\n"
      "relu    name=b2r1\n"
      "conv    name=b2c2 filters=32 size=3 pad=same\n"
      "bn      name=b2n2\n"
      "conv    name=b2sc filters=32 size=1 stride=2 input=b1out\n"
      "bn      name=b2scn\n"
      "add     name=b2add from=b2n2\n"
      "relu    name=b2out\n"
      "conv    name=b3c1 filters=64 size=3 stride=2 pad=1\n"
      "bn      name=b3n1\n"
      "relu    name=b3r1\n"
      "conv    name=b3c2 filters=64 size=3 pad=same\n"
      "bn      name=b3n2\n"
      "conv    name=b3sc filters=64 size=1 stride=2 input=b2out\n"
      "bn      name=b3scn\n"
      "add     name=b3add from=b3n2\n"
      "relu    name=b3out\n"
      "gap     name=pool\n"
      "dense   name=fc units=classes\n" },
    { "mobilenet-s",
      "# A small MobileNet (v1 layout, Howard et al. 2017): a strided stem, then\n"
      "# depthwise-separable blocks (3x3 depthwise + bn + relu, 1x1 pointwise +\n"
      "# bn + relu), widths 32-64-128-128-128, stride 2 in blocks 2 and 4.\n"
      "conv    name=stem filters=32 size=3 stride=2 pad=1\n"
      "bn      name=stem_bn\n"
      "relu    name=stem_relu\n"
      "dwconv  name=b1dw size=3 pad=same\n"
      "bn      name=b1dwn\n"
      "relu    name=b1dwr\n"
      "conv    name=b1pw filters=64 size=1\n"
      "bn      name=b1pwn\n"
      "relu    name=b1out\n"
      "dwconv  name=b2dw size=3 stride=2 pad=1\n"
      "bn      name=b2dwn\n"
      "relu    name=b2dwr\n"
      "conv    name=b2pw filters=128 size=1\n"
      "bn      name=b2pwn\n"
      "relu    name=b2out\n"
      "dwconv  name=b3dw size=3 pad=same\n"
      "bn      name=b3dwn\n"
      "relu    name=b3dwr\n"
      "conv    name=b3pw filters=128 size=1\n"
      "bn      name=b3pwn\n"
      "relu    name=b3out\n"
      "dwconv  name=b4dw size=3 stride=2 pad=1\n"
      "bn      name=b4dwn\n"
      "relu    name=b4dwr\n"
      "conv    name=b4pw filters=128 size=1\n"
      "bn      name=b4pwn\n"
      "relu    name=b4out\n"
      "gap     name=pool\n"
      "dropout name=drop rate=0.2\n"
      "dense   name=fc units=classes\n" },
};
#define ZOO_COUNT (sizeof zoo / sizeof zoo[0])

const char *model_zoo_names(void) { return "fmnist-tfdoc fmnist-bn resnet8 mobilenet-s"; }

DlStatus model_text_load(char **text, const char *name_or_file) {
    *text = NULL;
    for (size_t i = 0; i < ZOO_COUNT; i++)
        if (strcmp(zoo[i].name, name_or_file) == 0) { *text = dl_strdup(zoo[i].text); return DL_OK; }
    FILE *f = fopen(name_or_file, "rb");
    if (!f)
        return dl_fail(DL_EIO, "model '%s' is neither a zoo model (%s) nor a readable file: %s",
                       name_or_file, model_zoo_names(), strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = dl_malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) buf = dl_realloc(buf, cap *= 2);
    }
    int err = ferror(f);
    fclose(f);
    if (err) { dl_free(buf); return dl_fail(DL_EIO, "cannot read model file '%s'", name_or_file); }
    buf[len] = '\0';
    *text = buf;
    return DL_OK;
}
