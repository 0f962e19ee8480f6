#!/usr/bin/env bash
# bench_predict.sh [BUILD]: `dltrain predict` images/s on N JPEG files (default
# 1,000) against torchvision transforms + PyTorch eval (tests/bench/predict_torch.py)
# on the same files and the same trained model, 1 process x THREADS threads
# each (default 1), alternating, best of REPEAT (default 2) per side.
# The files: Fashion-MNIST images squashed to SIZE x SIZE RGB (default 128) and
# written as JPEGs (dlprep folder + dlprep export); the model (MODEL, default
# resnet8) is trained 1 epoch on them presized to IN x IN (default 32), so both
# sides decode 128x128 JPEGs and shrink them to 32x32. Also prints how often
# the two pick the same class (their resize filters differ slightly).
# Not a test: run it on an otherwise idle machine; only same-sitting ratios mean anything.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-1000} SIZE=${SIZE:-128} IN=${IN:-32} MODEL=${MODEL:-resnet8} REPEAT=${REPEAT:-2} THREADS=${THREADS:-1}
W=${WORK:-/tmp/bench_predict}
FM=/usr/share/datasets/fashion-mnist
mkdir -p "$W"
if [ ! -d "$W/img$SIZE" ]; then
  "$BUILD/dlprep" idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz --limit "$N" -o "$W/fm.h5" >/dev/null
  rm -rf "$W/img28" && "$BUILD/dlprep" export "$W/fm.h5" "$W/img28" >/dev/null
  "$BUILD/dlprep" folder "$W/img28" -o "$W/big.h5" --size "$SIZE" --channels 3 >/dev/null
  "$BUILD/dlprep" export "$W/big.h5" "$W/img$SIZE.partial" >/dev/null && mv "$W/img$SIZE.partial" "$W/img$SIZE"
fi
CK=$W/run-$MODEL-$IN/last.h5
if [ ! -f "$CK" ]; then
  "$BUILD/dlprep" folder "$W/img$SIZE" -o "$W/train$IN.h5" --size "$IN" --channels 3 >/dev/null
  "$BUILD/dltrain" train --train "$W/train$IN.h5" --valid "$W/train$IN.h5" --model "$MODEL" --epochs 1 --batch 32 \
    --out "$W/run-$MODEL-$IN" --no-progress --normalize >/dev/null
fi
files=$(find "$W/img$SIZE" -name '*.jpg' | wc -l)
echo "bench_predict: $files JPEGs ${SIZE}x${SIZE} RGB, $MODEL at ${IN}x${IN}, $THREADS thread(s), best of $REPEAT"
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
best_ours=0 best_torch=0
for r in $(seq "$REPEAT"); do
  TIMEFORMAT='%R %U %S'
  t=$( { time "$BUILD/dltrain" predict --checkpoint "$CK" "$W/img$SIZE" --topk 1 --csv "$W/ours.csv" >/dev/null 2>"$W/ours.err"; } 2>&1 )
  ours=$(awk -v n="$files" -v t="$t" 'BEGIN { split(t, a, " "); print n / a[1] }')
  ours_cpu=$(awk -v n="$files" -v t="$t" 'BEGIN { split(t, a, " "); print n / (a[2] + a[3]) }')
  line=$(/usr/bin/python3 "$SRC/tests/bench/predict_torch.py" "$CK" "$W/img$SIZE" --threads "$THREADS" --print 2>&1 >"$W/torch.csv")
  torch=$(sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' <<<"$line")
  torch_cpu=$(sed -n 's/.*, \([0-9.]*\) images per CPU-second.*/\1/p' <<<"$line")
  printf "  round %d: dltrain predict %.0f images/s (whole command; %.0f per CPU-second), PyTorch %.0f images/s (decode to probabilities; %.0f per CPU-second)\n" \
    "$r" "$ours" "$ours_cpu" "$torch" "$torch_cpu"
  best_ours=$(awk -v a="$ours" -v b="$best_ours" 'BEGIN { print (a > b ? a : b) }')
  best_torch=$(awk -v a="$torch" -v b="$best_torch" 'BEGIN { print (a > b ? a : b) }')
done
same=$(paste -d, <(tail -n +2 "$W/ours.csv" | cut -d, -f1,2) "$W/torch.csv" | awk -F, '$2 == $4 { s++ } END { print s + 0 }')
printf "best: dltrain predict %.0f images/s, PyTorch %.0f images/s, ratio %.2f; same top class on %d of %d files\n" \
  "$best_ours" "$best_torch" "$(awk -v a="$best_ours" -v b="$best_torch" 'BEGIN { print a / b }')" "$same" "$files"
