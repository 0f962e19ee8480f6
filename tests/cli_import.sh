#!/usr/bin/env bash
# cli_import.sh BUILD SRC: `dltrain import` as a user runs it (issue 16).
#  - the same network written the way torch.onnx.export writes it (NCHW,
#    initializers, Flatten, Gemm) and the way tf2onnx writes a Keras model
#    (NHWC input + Transpose, Constant nodes, Reshape, MatMul + Add) imports
#    to the same tensors (the torch path is checked against PyTorch itself by
#    test_onnx_torch);
#  - bad files: truncated, an unsupported op, an initializer of the wrong
#    size, dims claiming 2^40 values: one clear line naming the file (and the
#    node), exit 1, no output written; an existing -o needs --overwrite;
#  - the imported network fine-tuned on a dataset with another class count:
#    --model START.h5 --init START.h5 loads the body and starts a new head,
#    the recorded --mean/--std normalise training, validation and eval, and
#    --freeze keeps the frozen layers bitwise.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
/usr/bin/python3 "$SRC/tests/onnx/make_small_onnx.py" "$T" >/dev/null || fail "make_small_onnx.py (needs python3-onnx)"

"$BUILD/dltrain" import "$T/torchstyle.onnx" -o "$T/torch.h5" > "$T/torch.log"
"$BUILD/dltrain" import "$T/tfstyle.onnx" -o "$T/tf.h5" > "$T/tf.log"
grep -q "NHWC input" "$T/tf.log" || fail "the NHWC Transpose was not reported: $(cat "$T/tf.log")"
h5diff "$T/torch.h5" "$T/tf.h5" /params /params >/dev/null || fail "torch-style and tf2onnx-style graphs imported differently"
diff <("$BUILD/dltrain" summary --model "$T/torch.h5" | tail -n +2) <("$BUILD/dltrain" summary --model "$T/tf.h5" | tail -n +2) \
  || fail "the two graphs give different layers"

# bad input: a clear error, exit 1, nothing written
head -c 300 "$T/torchstyle.onnx" > "$T/trunc.onnx"
check_bad() {   # FILE MESSAGE
  local rc=0 out
  out=$("$BUILD/dltrain" import "$T/$1" -o "$T/bad.h5" 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || fail "import $1: exit $rc, expected 1 ($out)"
  grep -qF -- "$2" <<<"$out" || fail "import $1: message lacks '$2': $out"
  grep -qF -- "$1" <<<"$out" || fail "import $1: message does not name the file: $out"
  [ "$(wc -l <<<"$out")" -eq 1 ] || fail "import $1: not one line: $out"
  [ ! -e "$T/bad.h5" ] && [ ! -e "$T/bad.h5.partial" ] || fail "import $1 left a file behind"
}
check_bad trunc.onnx "not a valid ONNX file"
check_bad unsupported.onnx "node 'mytanh' (Tanh): op 'Tanh' is not supported by import"
check_bad badsize.onnx "tensor 'conv1.weight' has 140 bytes of raw_data but its dims need 36 x 4"
check_bad hugedims.onnx "tensor 'conv1.weight' has more than 268435456 elements"
check_bad missing.onnx "cannot open"
expect_error "exists; choose another -o or add --overwrite" "$BUILD/dltrain" import "$T/torchstyle.onnx" -o "$T/torch.h5"
expect_error "give --mean and --std together" "$BUILD/dltrain" import "$T/torchstyle.onnx" -o "$T/x.h5" --mean 0.5
expect_error "--std values must be > 0" "$BUILD/dltrain" import "$T/torchstyle.onnx" -o "$T/x.h5" --mean 0.5 --std 0

# the imported network (10 outputs) fine-tuned on 4 Fashion-MNIST classes
"$BUILD/dltrain" import "$T/torchstyle.onnx" -o "$T/start.h5" --mean 0.3 --std 0.4 >/dev/null
fm_train 600 "$T/all.h5"
"$BUILD/dlprep" subset "$T/all.h5" --classes 0,1,2,3 -o "$T/four.h5" >/dev/null
A=(--train "$T/four.h5" --valid "$T/four.h5" --model "$T/start.h5" --init "$T/start.h5" --batch 16 --groups 4 --lr 0.02 --no-progress)
"$BUILD/dltrain" train "${A[@]}" --fine-tune 1,1 --out "$T/ft" > "$T/ft.log"
grep -q "conv1: loaded" "$T/ft.log" || fail "--init did not load the imported body: $(cat "$T/ft.log")"
grep -q "fc: re-initialised (new head)" "$T/ft.log" || fail "--init did not start a new 4-class head: $(cat "$T/ft.log")"
grep -q "normalize: mean 0.3000, std 0.4000 per channel (from $T/start.h5" "$T/ft.log" \
  || fail "the recorded mean/std were not applied: $(grep normalize "$T/ft.log" || cat "$T/ft.log")"
h5dump -a normalize_mean "$T/ft/last.h5" | grep -q "0.3" || fail "the run's checkpoint lost the normalisation"
acc=$(awk -F, 'END { print $4 }' "$T/ft/metrics.csv")
"$BUILD/dltrain" eval --checkpoint "$T/ft/last.h5" --data "$T/four.h5" > "$T/eval.log"
grep -q "accuracy $(printf '%.4f' "$acc")" "$T/eval.log" || fail "eval (normalised as in training) does not reproduce accuracy $acc: $(head -3 "$T/eval.log")"
"$BUILD/dltrain" train "${A[@]}" --epochs 1 --freeze conv1 --out "$T/frz" > "$T/frz.log"
h5diff "$T/start.h5" "$T/frz/last.h5" /params/conv1 /params/conv1 >/dev/null || fail "--freeze conv1 moved the imported conv1"
echo "cli_import: passed"
