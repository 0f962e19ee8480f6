#!/usr/bin/env bash
# cli_transfer.sh BUILD SRC: transfer learning as a user runs it, on real
# Fashion-MNIST classes: pretrain on classes 0-5, then start a 4-class task
# (classes 6-9, 20 images each) from that checkpoint.
#  - --init loads the layers of the same name and shape and starts a new head;
#  - --freeze: the frozen layers' parameters and batch-norm statistics are
#    bitwise unchanged after training, the rest moved;
#  - --fine-tune E1,E2 trains both phases; the body moves only in phase 2;
#  - an unrelated architecture, an unknown layer: clear errors.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
fm_train 3000 "$T/all.h5"
"$BUILD/dlprep" subset "$T/all.h5" --classes 0,1,2,3,4,5 -o "$T/pre.h5" >/dev/null
"$BUILD/dlprep" subset "$T/all.h5" --classes 6,7,8,9 --per-class 20 -o "$T/target.h5" >/dev/null
h5dump -H -d /images "$T/target.h5" | grep -q "( 80, 28, 28, 1 )" || fail "subset --per-class 20 of 4 classes"
small_net "$T/net.txt"
A=(--model "$T/net.txt" --batch 16 --groups 4 --lr 0.05 --no-progress)
"$BUILD/dltrain" train --train "$T/pre.h5" --valid "$T/pre.h5" "${A[@]}" --epochs 1 --out "$T/pre" > "$T/pre.log"

"$BUILD/dltrain" train --train "$T/target.h5" --valid "$T/target.h5" "${A[@]}" --epochs 2 --out "$T/frozen" \
  --init "$T/pre/last.h5" --freeze bn2 > "$T/frozen.log"
grep -q "conv1 bn1 conv2 bn2 fc1: loaded" "$T/frozen.log" || fail "--init did not load the body: $(cat "$T/frozen.log")"
grep -q "fc2: re-initialised (new head)" "$T/frozen.log" || fail "--init did not start a new head"
for obj in /params/conv1 /params/bn1 /state/bn1 /params/conv2 /params/bn2 /state/bn2; do
  h5diff "$T/pre/last.h5" "$T/frozen/last.h5" "$obj" "$obj" >/dev/null || fail "frozen $obj changed"
done
h5diff -q "$T/pre/last.h5" "$T/frozen/last.h5" /params/fc1 /params/fc1 >/dev/null && fail "fc1 (not frozen) did not train"

"$BUILD/dltrain" train --train "$T/target.h5" --valid "$T/target.h5" "${A[@]}" --fine-tune 1,1 --stop-after 1 \
  --out "$T/ft" --init "$T/pre/last.h5" > "$T/ft1.log"
h5diff "$T/pre/last.h5" "$T/ft/last.h5" /params/fc1 /params/fc1 >/dev/null || fail "fine-tune phase 1 moved the body"
"$BUILD/dltrain" train --train "$T/target.h5" --valid "$T/target.h5" "${A[@]}" --fine-tune 1,1 \
  --out "$T/ft" --resume "$T/ft/last.h5" > "$T/ft2.log"
h5diff -q "$T/pre/last.h5" "$T/ft/last.h5" /params/conv1 /params/conv1 >/dev/null && fail "fine-tune phase 2 left conv1 frozen"
[ "$(wc -l < "$T/ft/metrics.csv")" -eq 3 ] || fail "fine-tune 1,1 should log 2 epochs"

# the lr range test: lrs 1e-4 .. 1 over 21 steps, exponential (x 10^(4/20) per
# step), loss recorded and smoothed, a suggestion printed, lr_find.csv written
"$BUILD/dltrain" lr-find --train "$T/pre.h5" "${A[@]}" --out "$T/lrf" --start-lr 1e-4 --end-lr 1 --iters 21 > "$T/lrf.log"
grep -q "suggested lr: " "$T/lrf.log" || fail "lr-find printed no suggestion: $(cat "$T/lrf.log")"
awk -F, 'NR == 2 && ($1 + 0) != 1e-4 { exit 1 }
         NR > 2 { r = $1 / prev; if (r < 1.584 || r > 1.586) exit 1 }
         NR > 1 { prev = $1; if ($2 == "" || $3 == "") exit 1 } END { if (NR < 13) exit 1 }' "$T/lrf/lr_find.csv" \
  || fail "lr_find.csv is not an exponential sweep: $(head -4 "$T/lrf/lr_find.csv")"
expect_error "--iters must be >= 2" "$BUILD/dltrain" lr-find --train "$T/pre.h5" "${A[@]}" --out "$T/x" --iters 1

printf 'conv name=a filters=4\nrelu\ndense name=b units=classes\n' > "$T/other.txt"
expect_error "shares no layer (same name and shapes) with this model" \
  "$BUILD/dltrain" train --train "$T/target.h5" --valid "$T/target.h5" --model "$T/other.txt" --out "$T/x" --init "$T/pre/last.h5"
expect_error "--freeze: the model has no layer 'conv9'" \
  "$BUILD/dltrain" train --train "$T/target.h5" --valid "$T/target.h5" "${A[@]}" --out "$T/x" --freeze conv9
expect_error "--init starts a new run from a checkpoint, --resume continues one" \
  "$BUILD/dltrain" train --train "$T/target.h5" --valid "$T/target.h5" "${A[@]}" --out "$T/x" --init "$T/pre/last.h5" --resume "$T/pre/last.h5"
expect_error "has no class 'Shirts' (its classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9; or an index 0..9)" \
  "$BUILD/dlprep" subset "$T/all.h5" --classes Shirts -o "$T/x.h5"
"$BUILD/dlprep" export "$T/target.h5" "$T/new/nested/dir" >/dev/null || fail "dlprep export into a new nested folder"
[ "$(find "$T/new/nested/dir" -name '*.jpg' | wc -l)" -eq 80 ] || fail "export wrote the wrong number of JPEGs"
echo "cli_transfer: passed"
