#!/usr/bin/env bash
# cli_augment.sh BUILD SRC: the geometric augmentations and Adam's default lr
# as a user runs them, on real Fashion-MNIST images and real MPI ranks.
#  - --augment rotate,zoom,shear,warp (with hflip) gives bitwise identical
#    checkpoints and metrics for -np 1, 2 and 4, and other weights than
#    without them;
#  - a bad spec is a one-line error at start-up, exit 2, nothing trained;
#  - --optimizer adam / adamw without --lr run at 1e-3 (log and
#    events.jsonl say so); --lr still wins; sgd keeps 0.05.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"

fm_train 2048 "$T/train.h5"
fm_test 256 "$T/valid.h5"
small_net "$T/net.txt" 0.3

train() {  # train NP OUT [extra flags...]
  local np=$1 out=$2; shift 2
  OPENBLAS_NUM_THREADS=1 "${MPI[@]}" -np "$np" "$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" \
    --model "$T/net.txt" --epochs 1 --batch 32 --groups 4 --lr 0.05 --out "$out" --no-progress "$@" \
    > "$out.log" 2>&1 || { cat "$out.log"; fail "train -np $np $* failed"; }
}

SPEC=hflip,rotate=15,zoom=0.85:1.15,shear=8,warp=0.15
train 1 "$T/np1" --augment "$SPEC"
train 2 "$T/np2" --augment "$SPEC"
train 4 "$T/np4" --augment "$SPEC"
for run in np2 np4; do same_run "$T/np1" "$T/$run"; done
grep -q "augment: $SPEC (training only)" "$T/np1/log.txt" || fail "augment not reported"
# the comparison can fail: the geometric transforms change the weights
train 1 "$T/flip" --augment hflip
h5diff -q "$T/np1/last.h5" "$T/flip/last.h5" >/dev/null && fail "rotate/zoom/shear/warp changed nothing"
# it still learns (1 epoch, 64 steps, chance is 0.1)
acc=$(tail -n 1 "$T/np1/metrics.csv" | cut -d, -f4)
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "accuracy $acc after 1 epoch with $SPEC, expected > 0.5"

# bad specs: exit 2 at start-up, one line naming the item and the choices
for bad in rotate=-5 zoom=2:1 warp=2 shear=90 zoom=0.9; do
  rc=0
  out=$("$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" \
        --out "$T/bad" --no-progress --augment "hflip,$bad" 2>&1) || rc=$?
  [ "$rc" -eq 2 ] || fail "--augment $bad: exit $rc, expected 2: $out"
  grep -qF -- "--augment: cannot use '$bad' (choose from" <<<"$out" || fail "--augment $bad: message: $out"
  [ "$(wc -l <<<"$out")" -eq 1 ] || fail "--augment $bad: more than one line: $out"
  [ ! -e "$T/bad/last.h5" ] || fail "--augment $bad wrote a checkpoint"
done

# learning-rate defaults per optimizer: the start-up header and events.jsonl
short() {  # short OUT [flags...]: 1 epoch on 256 images, no --lr unless given
  local out=$1; shift
  "$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" --epochs 1 \
    --batch 32 --limit 256 --out "$out" --no-progress "$@" > "$out.log" 2>&1 || { cat "$out.log"; fail "train $* failed"; }
}
lr_is() {  # lr_is RUN WANT
  grep -q "; lr $2, schedule" "$1/log.txt" || fail "$1: header lr is not $2: $(grep 'parameters; optimizer' "$1/log.txt")"
  grep -q "\"lr\":$2," "$1/events.jsonl" || fail "$1: events.jsonl lr is not $2"
}
short "$T/adam" --optimizer adam
lr_is "$T/adam" 0.001
short "$T/adamw" --optimizer adamw
lr_is "$T/adamw" 0.001
short "$T/adam_lr" --optimizer adam --lr 0.01
lr_is "$T/adam_lr" 0.01
short "$T/sgd"
lr_is "$T/sgd" 0.05
help=$("$BUILD/dltrain" train --help)
grep -qF -- "learning rate [default: 0.05 (sgd), 1e-3 (adam, adamw)]" <<<"$help" || fail "--help lacks the lr defaults"
echo "cli_augment: 1 passed, 0 failed"
