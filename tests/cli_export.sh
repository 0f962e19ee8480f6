#!/usr/bin/env bash
# cli_export.sh BUILD SRC: `dltrain export` checked by a runtime no one here
# wrote. Models trained a few steps on JPEGs imported with `dlprep folder`
# (fmnist-bn with --normalize, resnet8, a model with every other layer kind,
# and a multi-label one) are exported to ONNX at several opsets; python3-onnx's
# checker accepts each file, and ONNX Runtime (npm's onnxruntime-node under
# Node, installed into BUILD/ort from tests/ort/package.json when missing)
# gives the probabilities `dltrain predict` gives on the same JPEG files,
# within 1e-5 (tests/ort/check_export.py). Bad opsets, checkpoints and output
# paths are clear errors that leave no file behind.
set -euo pipefail
export LC_ALL=C
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap '[ -n "$KEEP" ] || rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
DT=$BUILD/dltrain
PY=/usr/bin/python3

# ONNX Runtime for Node, from the npm registry (test-only; its CPU library ships in the package)
command -v node >/dev/null && command -v npm >/dev/null || fail "needs node and npm (launch/setup.sh installs nodejs and npm)"
$PY -c "import onnx, h5py, numpy" 2>/dev/null || fail "needs python3-onnx, python3-h5py, python3-numpy (launch/setup.sh installs them)"
ORT=$BUILD/ort
if [ ! -f "$ORT/node_modules/onnxruntime-node/package.json" ] || ! cmp -s "$SRC/tests/ort/package.json" "$ORT/package.json"; then
  mkdir -p "$ORT"
  cp "$SRC/tests/ort/package.json" "$ORT/package.json"
  (cd "$ORT" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
    || fail "npm install onnxruntime-node into $ORT failed (it needs the npm registry)"
fi

fm_train 300 "$T/fm.h5" --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
"$BUILD/dlprep" export "$T/fm.h5" "$T/img" >/dev/null
"$BUILD/dlprep" folder "$T/img" -o "$T/g28.h5" --size 28 --channels 1 >/dev/null
"$BUILD/dlprep" folder "$T/img" -o "$T/c32.h5" --size 32 --channels 3 >/dev/null

# every layer kind the exporter knows that the zoo models above leave out
cat > "$T/allkinds.txt" <<'NET'
conv    name=c1 filters=8 size=3 pad=same
bn      name=n1
leaky   alpha=0.1
conv    name=c2 filters=8 size=3 pad=1
bn      name=n2
add     from=c1
relu    name=r1
dwconv  name=dw size=3 stride=2 pad=same
avgpool size=2
maxpool size=2 stride=1
flatten
dropout rate=0.3
dense   name=fc1 units=16
bn      name=n3
relu
dropout rate=0.2
dense   name=fc2 units=classes
NET

# check MODEL DATA OPSET [train flags]: train 1 epoch, predict every class, export, compare
check() {
  local model=$1 data=$2 opset=$3 tag; shift 3
  tag=$(basename "$model"); tag=${tag%.*}
  "$DT" train --train "$T/$data.h5" --valid "$T/$data.h5" --model "$model" --epochs 1 --batch 32 --seed 5 \
    --out "$T/run-$tag" --no-progress "$@" > /dev/null
  "$DT" predict --checkpoint "$T/run-$tag/last.h5" "$T/img" --topk 10 --csv "$T/pred-$tag.csv" > /dev/null 2>&1
  "$DT" export --checkpoint "$T/run-$tag/last.h5" -o "$T/$tag.onnx" --opset "$opset" > /dev/null
  mkdir -p "$T/ort-$tag"
  $PY "$SRC/tests/ort/check_export.py" "$T/$tag.onnx" "$T/$data.h5" "$T/pred-$tag.csv" "$ORT" "$T/ort-$tag" \
    || fail "$tag (opset $opset): the exported graph disagrees with dltrain predict"
}
check fmnist-bn g28 13 --normalize
check resnet8 c32 9
check "$T/allkinds.txt" c32 17

# the layer kinds import brought: relu6 and clip (ONNX Clip: min/max as
# attributes before opset 11, as inputs from 11), concat, grouped conv, pools
# with pads, ceil mode (mp2 is a case where PyTorch drops a last window that
# would start in the padding) and count_pad; the same checkpoint at opset 10
# (attributes, ceil_mode) and 13 (inputs); opset 9 has no ceil_mode for ap1
cp "$SRC/tests/onnx/newkinds.txt" "$T/newkinds.txt"
check "$T/newkinds.txt" c32 13
"$DT" export --checkpoint "$T/run-newkinds/last.h5" -o "$T/newkinds10.onnx" --opset 10 > /dev/null
$PY -c "import onnx,sys; g=onnx.load(sys.argv[1]).graph; c=[n for n in g.node if n.op_type=='Clip']; assert c and all(len(n.input)==1 and len(n.attribute)==2 for n in c)" \
  "$T/newkinds10.onnx" || fail "opset 10: Clip should carry min/max as attributes"
mkdir -p "$T/ort-newkinds10"
$PY "$SRC/tests/ort/check_export.py" "$T/newkinds10.onnx" "$T/c32.h5" "$T/pred-newkinds.csv" "$ORT" "$T/ort-newkinds10" \
  || fail "newkinds (opset 10): the exported graph disagrees with dltrain predict"
expect_error "layer 'ap1' (line 8): an avgpool with ceil=1 and count_pad=1 needs ONNX's ceil_mode, which opset 9 lacks" \
  "$DT" export --checkpoint "$T/run-newkinds/last.h5" -o "$T/newkinds9.onnx" --opset 9
[ ! -e "$T/newkinds9.onnx" ] || fail "a refused export left a file"

# torchvision networks (random weights, batch norm kept) imported with
# ImageNet's mean/std, trained a few steps with a new 10-class head, exported
# and run in ONNX Runtime: resnet18 (residual adds), mobilenet_v2 (relu6,
# depthwise), squeezenet1_1 (concat, ceil-mode pools), all at 3x32x32
for net in resnet18 mobilenet_v2 squeezenet1_1; do
  $PY "$SRC/tests/onnx/export_torchvision.py" $net "$T/$net.onnx" 32 bn 0.5 > /dev/null || fail "torch.onnx.export of $net"
  "$DT" import "$T/$net.onnx" -o "$T/$net.h5" --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 > /dev/null
done
check "$T/resnet18.h5" c32 13 --init "$T/resnet18.h5" --limit 128 --lr 0.01
check "$T/mobilenet_v2.h5" c32 11 --init "$T/mobilenet_v2.h5" --limit 128 --lr 0.01
check "$T/squeezenet1_1.h5" c32 17 --init "$T/squeezenet1_1.h5" --limit 128 --lr 0.01

# multi-label: a sigmoid output; predict prints every tag with --threshold 0
fm_tags_csv "$T/img" > "$T/labels.csv"
"$BUILD/dlprep" csv "$T/labels.csv" --images "$T/img" -o "$T/multi.h5" --size 28 --channels 1 > /dev/null
"$DT" train --train "$T/multi.h5" --valid "$T/multi.h5" --model fmnist-bn --epochs 1 --batch 32 --out "$T/run-multi" \
  --no-progress --normalize > /dev/null
"$DT" predict --checkpoint "$T/run-multi/last.h5" "$T/img" --threshold 0 > "$T/pred-multi.out" 2>/dev/null
"$DT" export --checkpoint "$T/run-multi/last.h5" -o "$T/multi.onnx" --opset 11 > /dev/null
mkdir -p "$T/ort-multi"
$PY "$SRC/tests/ort/check_export.py" "$T/multi.onnx" "$T/multi.h5" "$T/pred-multi.out" "$ORT" "$T/ort-multi" \
  || fail "multi-label: the exported graph disagrees with dltrain predict"

# bad input: clear errors, nothing left behind, an existing file replaced whole
C=$T/run-fmnist-bn/last.h5
rc=0; "$DT" export --checkpoint "$C" -o "$T/x.onnx" --opset 8 > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "9-17" "$T/err" || fail "--opset 8: exit $rc, $(cat "$T/err")"
rc=0; "$DT" export --checkpoint "$C" -o "$T/x.onnx" --opset 18 > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--opset 18: exit $rc"
expect_error "cannot open checkpoint '$T/nope.h5'" "$DT" export --checkpoint "$T/nope.h5" -o "$T/x.onnx"
expect_error "cannot write '$T/no/such/dir/x.onnx.partial'" "$DT" export --checkpoint "$C" -o "$T/no/such/dir/x.onnx"
rc=0; "$DT" export --checkpoint "$C" > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "export without -o: exit $rc, expected 2"
[ ! -e "$T/x.onnx" ] || fail "a failed export left $T/x.onnx"
echo "old" > "$T/old.onnx"
"$DT" export --checkpoint "$C" -o "$T/old.onnx" > /dev/null
cmp -s "$T/old.onnx" "$T/fmnist-bn.onnx" || fail "re-export over an existing file differs from the first export"
[ ! -e "$T/old.onnx.partial" ] || fail "export left a .partial file"
# a layer the graph cannot express is refused by name
printf 'dense name=fc0 units=48\nconv name=cv filters=4 size=1\nflatten\ndense name=fc units=classes\n' > "$T/odd.txt"
"$DT" train --train "$T/g28.h5" --valid "$T/g28.h5" --model "$T/odd.txt" --epochs 1 --batch 32 --limit 64 \
  --out "$T/run-odd" --no-progress > /dev/null
expect_error "layer 'cv' (line 2) is a 'conv' after a flat layer" "$DT" export --checkpoint "$T/run-odd/last.h5" -o "$T/odd.onnx"
[ ! -e "$T/odd.onnx" ] && [ ! -e "$T/odd.onnx.partial" ] || fail "a refused export left a file"
echo "cli_export: passed"
