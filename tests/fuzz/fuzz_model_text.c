/* fuzz_model_text: the model-text parser and model_init's shape and size
 * checks (src/model.c), on a 1x12x12 input with 10 classes and a group of 2,
 * then one forward pass. Any input must give DL_OK or a message, never a
 * crash, a leak or undefined behaviour. */
#include "fuzz_common.h"

#include "model.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = dl_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    Model m;
    Shape in = { 1, 12, 12 };
    if (size && data[0] == '@') in = (Shape){ 0, 0, 0 };   /* take the shape from an `input` line */
    if (model_init(&m, text, "fuzz.model", in, 10, 2) == DL_OK) {
        static float x[2 * 3 * 64 * 64];   /* zeros */
        ForwardArgs fa = { 0 };
        if (shape_size(m.input) <= 3 * 64 * 64) model_forward(&m, x, 2, &fa);
        model_free(&m);
    }
    dl_free(text);
    return 0;
}
