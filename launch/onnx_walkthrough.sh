#!/usr/bin/env bash
# onnx_walkthrough.sh: README "Walkthrough: a torchvision network in, ONNX
# out", end to end.
#  1. a JPEG folder from a real dataset: Fashion-MNIST images written as RGB
#     JPEGs at SIZE x SIZE (`dlprep export`), train/ and test/ with one folder
#     per class, imported with `dlprep folder`;
#  2. torchvision mobilenet_v2 (random weights: ImageNet's cannot be
#     downloaded here) exported to ONNX by torch.onnx.export with batch norm
#     kept, imported with ImageNet's mean/std (`dltrain import`);
#  3. fine-tuned on the JPEG folder (`--model START.h5 --init START.h5
#     --fine-tune E1,E2`: a new 10-class head, then everything);
#  4. exported (`dltrain export`), and `dltrain predict` on the test JPEG
#     folder compared with `dltrain eval --predictions` on the imported test
#     set, image for image (same class, probabilities within 1e-5); ONNX
#     Runtime on the exported file too when BUILD/ort holds onnxruntime-node
#     (tests/cli_export.sh installs it there), within ORT_TOL (1e-4: on this
#     deep random-weight network float32 rounding alone moves a probability
#     by up to ~1.6e-5, ONNX Runtime's optimised graph against its
#     unoptimised one; tests/cli_export.sh holds the 1e-5 check). Exits
#     non-zero on any disagreement.
#
#   bash launch/onnx_walkthrough.sh
#
# Environment overrides: RUN (runs/onnx-walkthrough) BUILD (build) TRAIN
#   (2000 training images) TEST (500 test images) SIZE (32) WIDTH (1.0:
#   mobilenet_v2's width_mult) FINE_TUNE (1,2) SETUP (1; 0: skip
#   launch/setup.sh, the build must be there) ORT_TOL (1e-4). Safe to rerun: the JPEG
#   folder and the ONNX start are kept once made; the run is made afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ "${SETUP:-1}" = 0 ] || BUILD=$BUILD bash launch/setup.sh
RUN=${RUN:-runs/onnx-walkthrough} TRAIN=${TRAIN:-2000} TEST=${TEST:-500} SIZE=${SIZE:-32}
WIDTH=${WIDTH:-1.0} FINE_TUNE=${FINE_TUNE:-1,2}
FM=/usr/share/datasets/fashion-mnist
DT=$BUILD/dltrain DP=$BUILD/dlprep PY=/usr/bin/python3
die() { echo "onnx_walkthrough.sh: $*" >&2; exit 1; }
show() { echo "\$ $*"; }
[[ $FINE_TUNE =~ ^[0-9]+,[0-9]+$ ]] || { echo "onnx_walkthrough.sh: FINE_TUNE must be E1,E2, not '$FINE_TUNE'" >&2; exit 2; }
[ -x "$DT" ] && [ -x "$DP" ] || die "no $DT / $DP: build first (bash launch/setup.sh)"
mkdir -p "$RUN"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
NAMES="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"

# 1. the JPEG folder (made once; a half-made one is made again)
J=$RUN/jpeg
if [ ! -f "$J/.done-$TRAIN-$TEST-$SIZE" ]; then
  rm -rf "$J" && mkdir -p "$J"
  "$DP" idx --images $FM/train-images-idx3-ubyte.gz --labels $FM/train-labels-idx1-ubyte.gz --limit "$TRAIN" \
    --class-names "$NAMES" -o "$RUN/fm-train.h5" > /dev/null
  "$DP" idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz --limit "$TEST" \
    --class-names "$NAMES" -o "$RUN/fm-test.h5" > /dev/null
  "$DP" export "$RUN/fm-train.h5" "$J/train" --size "$SIZE" --channels 3 > /dev/null
  "$DP" export "$RUN/fm-test.h5" "$J/test" --size "$SIZE" --channels 3 > /dev/null
  rm -f "$RUN/fm-train.h5" "$RUN/fm-test.h5"
  touch "$J/.done-$TRAIN-$TEST-$SIZE"
fi
echo "JPEG folder $J: $(find "$J/train" -name '*.jpg' | wc -l) training, $(find "$J/test" -name '*.jpg' | wc -l) test images (RGB ${SIZE}x${SIZE}, 10 classes)"
show dlprep folder "$J" -o "$RUN/train.h5" --valid-out "$RUN/test.h5" --size "$SIZE" --channels 3
"$DP" folder "$J" -o "$RUN/train.h5" --valid-out "$RUN/test.h5" --size "$SIZE" --channels 3 > "$RUN/prep.log" 2>&1 \
  || { cat "$RUN/prep.log" >&2; die "dlprep folder failed"; }

# 2. the torchvision network as ONNX, imported with ImageNet's mean/std
START=$RUN/mobilenet_v2.onnx
if [ ! -f "$START.done-calib-$SIZE-$WIDTH" ]; then
  show python3 tests/onnx/export_torchvision.py mobilenet_v2 "$START" "$SIZE" calib "$WIDTH"
  $PY tests/onnx/export_torchvision.py mobilenet_v2 "$START" "$SIZE" calib "$WIDTH" || die "torch.onnx.export failed (needs python3-torch, python3-torchvision)"
  rm -f "$START".done-* && touch "$START.done-calib-$SIZE-$WIDTH"
fi
show dltrain import "$START" -o "$RUN/start.h5" --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --overwrite
"$DT" import "$START" -o "$RUN/start.h5" --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --overwrite | tail -1

# 3. fine-tuning: a new 10-class head first, then everything
rm -rf "$RUN/run"
show dltrain train --train "$RUN/train.h5" --valid "$RUN/test.h5" --model "$RUN/start.h5" --init "$RUN/start.h5" \
  --fine-tune "$FINE_TUNE" --batch 32 --lr 0.01 --out "$RUN/run"
"$DT" train --train "$RUN/train.h5" --valid "$RUN/test.h5" --model "$RUN/start.h5" --init "$RUN/start.h5" \
  --fine-tune "$FINE_TUNE" --batch 32 --lr 0.01 --out "$RUN/run" --no-progress > "$RUN/train.log" 2>&1 \
  || { tail -5 "$RUN/train.log" >&2; die "training failed (log: $RUN/train.log)"; }
grep -E "new head|loaded [0-9]+|normalize" "$RUN/train.log" | head -3 || true
awk -F, 'NR > 1 { printf "  epoch %s: train loss %.4f, valid loss %.4f, accuracy %.4f\n", $1, $2, $3, $4 }' "$RUN/run/metrics.csv"

# 4. export, then predict on the JPEG files vs eval on the imported set
C=$RUN/run/last.h5
show dltrain export --checkpoint "$C" -o "$RUN/model.onnx"
"$DT" export --checkpoint "$C" -o "$RUN/model.onnx" > /dev/null
echo "  $RUN/model.onnx: $(stat -c %s "$RUN/model.onnx") bytes"
show dltrain eval --checkpoint "$C" --data "$RUN/test.h5" --topk 10 --predictions "$RUN/eval.csv"
"$DT" eval --checkpoint "$C" --data "$RUN/test.h5" --topk 10 --predictions "$RUN/eval.csv" | head -2
show dltrain predict --checkpoint "$C" "$J/test" --topk 10 --csv "$RUN/predict.csv"
"$DT" predict --checkpoint "$C" "$J/test" --topk 10 --csv "$RUN/predict.csv" > "$RUN/predict.out" 2> "$RUN/predict.err" \
  || { cat "$RUN/predict.err" >&2; die "predict failed"; }
head -2 "$RUN/predict.out" | sed 's/^/  /'
tail -1 "$RUN/predict.err" | sed 's/^/  /'
# row i of predict (file,class,p,...) against row i of eval (index,label,class,p,...)
[ "$(wc -l < "$RUN/predict.csv")" -eq "$(wc -l < "$RUN/eval.csv")" ] \
  || die "predict.csv has $(wc -l < "$RUN/predict.csv") lines, eval.csv $(wc -l < "$RUN/eval.csv")"
paste -d'\n' <(tail -n +2 "$RUN/predict.csv" | cut -d, -f2-) <(tail -n +2 "$RUN/eval.csv" | cut -d, -f3-) | awk -F, '
  NR % 2 { split($0, a, ","); n = NF; next }
  {
    if (NF != n) { print "row " NR/2 ": " NF " vs " n " fields"; bad++; next }
    if (a[1] != $1) { print "row " NR/2 ": predict says " a[1] ", eval " $1; bad++ }
    for (j = 1; j <= NF; j += 2) {
      d = a[j + 1] - $(j + 1); if (d < 0) d = -d; if (d > max) max = d
      if (a[j] != $j || d > 1e-5) { print "row " NR/2 ": " a[j] " " a[j + 1] " vs " $j " " $(j + 1); bad++ }
    }
    rows++
  }
  END { if (bad) { print bad " disagreements" > "/dev/stderr"; exit 1 }
        printf "predict (JPEG files) = eval (dataset) on %d images: same class for every image, max |diff| of the 10 probabilities %.2g\n", rows, max }' \
  || die "dltrain predict and dltrain eval disagree ($RUN/predict.csv, $RUN/eval.csv)"
ORT=$BUILD/ort
if [ -f "$ORT/node_modules/onnxruntime-node/package.json" ] && command -v node > /dev/null; then
  mkdir -p "$RUN/ort"
  CHECK_TOL=${ORT_TOL:-1e-4} $PY tests/ort/check_export.py "$RUN/model.onnx" "$RUN/test.h5" "$RUN/predict.csv" "$ORT" "$RUN/ort" \
    || die "ONNX Runtime on $RUN/model.onnx disagrees with dltrain predict"
else
  echo "ONNX Runtime check skipped: no $ORT/node_modules/onnxruntime-node (ctest -R cli_export installs it)"
fi
echo "walkthrough done: $RUN"
