#!/usr/bin/env bash
# cli_walkthrough.sh BUILD SRC: launch/onnx_walkthrough.sh's core at a reduced
# size (300 training and 100 test JPEGs, mobilenet_v2 width 0.5 at 32x32,
# fine-tune 1,1): torchvision export -> dltrain import -> fine-tune -> export;
# the script itself fails when `dltrain predict` on the JPEG folder and
# `dltrain eval --predictions` on the imported set differ for any image (or
# ONNX Runtime disagrees, when BUILD/ort has it); here its figures are
# checked to be there, and a rerun in the same folder must work too.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
run() { RUN=$T/wt BUILD=$BUILD TRAIN=300 TEST=100 FINE_TUNE=1,1 WIDTH=0.5 SETUP=0 bash "$SRC/launch/onnx_walkthrough.sh" > "$T/out$1" 2>&1 \
  || fail "onnx_walkthrough.sh (run $1) failed: $(tail -5 "$T/out$1")"; }
run 1
grep -q "predict (JPEG files) = eval (dataset) on 100 images: same class for every image" "$T/out1" \
  || fail "no predict = eval line: $(tail -5 "$T/out1")"
grep -q "classifier.1: re-initialised (new head)" "$T/out1" || fail "the imported mobilenet_v2 did not get a new head"
[ "$(grep -c '^  epoch' "$T/out1")" -eq 2 ] || fail "expected 2 epochs: $(cat "$T/out1")"
[ -s "$T/wt/model.onnx" ] || fail "no exported model"
/usr/bin/python3 -c "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$T/wt/model.onnx" || fail "onnx checker rejects model.onnx"
run 2   # safe to rerun: reuses the JPEG folder and the ONNX start
grep -q "predict (JPEG files) = eval (dataset) on 100 images" "$T/out2" || fail "rerun: $(tail -5 "$T/out2")"
cmp -s <(grep '^  epoch' "$T/out1") <(grep '^  epoch' "$T/out2") || fail "the rerun trained differently"
echo "cli_walkthrough: passed"
