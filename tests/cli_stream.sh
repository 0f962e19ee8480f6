#!/usr/bin/env bash
# cli_stream.sh BUILD SRC: streaming reads (--memory-budget smaller than the
# file) train the very same model as in-memory reads:
#  - the same small net on 2048 Fashion-MNIST images, in memory (-np 1) and
#    streamed (-np 1 and -np 2), with crop/flip augmentation and
#    --normalize: bitwise identical checkpoints and metrics (same_run),
#    validation streamed too;
#  - streamed, stopped after epoch 1 and resumed: the same again;
#  - a --store jpeg file (dlprep export, then dlprep folder) streamed and
#    decoded on the fly learns (accuracy > 0.6 after 2 epochs);
#  - --normalize on a file without mean/std names the file and says to re-run dlprep.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"

fm_train 2048 "$T/train.h5"
fm_test 1400 "$T/valid.h5"   # 1.1 MB: streamed too at --memory-budget 1
h5dump -a /mean "$T/train.h5" | grep -q "DATA" || fail "dlprep idx stored no /mean attribute"

cat > "$T/net.txt" <<'NET'
conv    name=conv1 filters=8 size=3 pad=same
bn      name=bn1
relu
maxpool size=2
dense   name=fc1 units=32
relu
dropout rate=0.3
dense   name=fc2 units=classes
NET

train() {  # train NP OUT TRAIN VALID [extra flags...]
  local np=$1 out=$2 tr=$3 va=$4; shift 4
  OPENBLAS_NUM_THREADS=1 "${MPI[@]}" -np "$np" "$BUILD/dltrain" train --train "$tr" --valid "$va" \
    --model "$T/net.txt" --epochs 2 --batch 32 --groups 4 --lr 0.05 --out "$out" --no-progress "$@" \
    > "$out.log" 2>&1 || { cat "$out.log"; fail "train -np $np $* failed"; }
}

F=(--augment crop=0.6,hflip --normalize)
train 1 "$T/mem" "$T/train.h5" "$T/valid.h5" "${F[@]}"
grep -q "streaming" "$T/mem/log.txt" && fail "the default budget streamed a 1.6 MB file"
train 1 "$T/s1" "$T/train.h5" "$T/valid.h5" "${F[@]}" --memory-budget 1
grep -q "streaming training and validation from the files" "$T/s1/log.txt" || fail "--memory-budget 1 did not stream"
train 2 "$T/s2" "$T/train.h5" "$T/valid.h5" "${F[@]}" --memory-budget 1
same_run "$T/mem" "$T/s1"
same_run "$T/mem" "$T/s2"
# stop after epoch 1, resume (streamed, the other np): as if never stopped
train 2 "$T/r" "$T/train.h5" "$T/valid.h5" "${F[@]}" --memory-budget 1 --stop-after 1
# (the checkpoint carries the normalisation: the resume does not repeat --normalize)
train 1 "$T/r" "$T/train.h5" "$T/valid.h5" --augment crop=0.6,hflip --memory-budget 1 --resume "$T/r/last.h5"
same_run "$T/mem" "$T/r"
# dltrain eval applies the checkpoint's normalisation: it reproduces the last epoch's accuracy
acc=$(tail -n 1 "$T/mem/metrics.csv" | cut -d, -f4)
"$BUILD/dltrain" eval --checkpoint "$T/mem/last.h5" --data "$T/valid.h5" | grep -q "accuracy $(printf %.4f "$acc")" \
  || fail "eval of a --normalize checkpoint does not reproduce accuracy $acc"

# JPEG-stored, decoded while streaming
"$BUILD/dlprep" export "$T/train.h5" "$T/jt" >/dev/null
"$BUILD/dlprep" export "$T/valid.h5" "$T/jv" >/dev/null
"$BUILD/dlprep" folder "$T/jt" -o "$T/train_j.h5" --size 28 --channels 1 --store jpeg >/dev/null 2>&1
"$BUILD/dlprep" folder "$T/jv" -o "$T/valid_j.h5" --size 28 --channels 1 --store jpeg >/dev/null 2>&1
h5ls "$T/train_j.h5" | grep -q "^jpeg" || fail "dlprep folder --store jpeg wrote no /jpeg"
train 1 "$T/j" "$T/train_j.h5" "$T/valid_j.h5" --memory-budget 1
grep -q "streaming training and validation from the files" "$T/j/log.txt" || fail "the jpeg run did not stream"
acc=$(tail -n 1 "$T/j/metrics.csv" | cut -d, -f4)
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }' || fail "jpeg streaming: accuracy $acc after 2 epochs, expected > 0.6"

# a file without the statistics
h5copy -i "$T/train.h5" -o "$T/nostats.h5" -s /images -d /images
h5copy -i "$T/train.h5" -o "$T/nostats.h5" -s /labels -d /labels
expect_error "nostats.h5' has no mean/std attributes" \
  "$BUILD/dltrain" train --train "$T/nostats.h5" --valid "$T/valid.h5" --model "$T/net.txt" --out "$T/x" --normalize
expect_error "re-run dlprep" \
  "$BUILD/dltrain" train --train "$T/nostats.h5" --valid "$T/valid.h5" --model "$T/net.txt" --out "$T/x" --normalize
echo "cli_stream: 1 passed, 0 failed"
