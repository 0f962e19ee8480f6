#!/usr/bin/env bash
# bench_loader.sh: the data pipeline's speed (a benchmark, not a test).
#  1. loader throughput on one core: dltrain trains a trivial model (one
#     dense layer) pinned to CPU 0 with --augment crop,hflip, so the step
#     time is reading + decoding + converting + augmenting; images/s of the
#     second epoch, for the file in memory, streamed raw (/images) and
#     streamed JPEG (/jpeg, decoded on the fly);
#  2. the data-wait share per step of fmnist-bn at -np 2 (--profile's
#     "data (load, augment)" row, second epoch: time run_group waits for the
#     prefetched samples plus conversion and augmentation).
#   bash tests/bench/bench_loader.sh [BUILD]      (BUILD default: build)
# Env: IMAGES (default 12800), SIZE (stored size, default 28; e.g. 96 with
# CHANNELS=3 for photo-like sizes). Output: a table; logs in bench-results/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
BUILD=$(cd "${1:-$root/build}" && pwd)
IMAGES=${IMAGES:-12800}; SIZE=${SIZE:-28}; CHANNELS=${CHANNELS:-1}
out=bench-results/loader; mkdir -p $out
FM=/usr/share/datasets/fashion-mnist
MPI=(mpirun --bind-to core --map-by core); [ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root)

"$BUILD/dlprep" idx --images $FM/train-images-idx3-ubyte.gz --labels $FM/train-labels-idx1-ubyte.gz \
  --limit "$IMAGES" -o $out/idx.h5 >/dev/null
"$BUILD/dlprep" idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz \
  --limit 1000 -o $out/vidx.h5 >/dev/null
rm -rf $out/jt $out/jv
"$BUILD/dlprep" export $out/idx.h5 $out/jt >/dev/null
"$BUILD/dlprep" export $out/vidx.h5 $out/jv >/dev/null
for store in raw jpeg; do
  "$BUILD/dlprep" folder $out/jt -o $out/train-$store.h5 --size $SIZE --channels $CHANNELS --store $store >/dev/null 2>&1
  "$BUILD/dlprep" folder $out/jv -o $out/valid-$store.h5 --size $SIZE --channels $CHANNELS --store $store >/dev/null 2>&1
done
printf 'dense name=fc units=classes\n' > $out/tiny.txt

run() {  # run NAME NP STORE BUDGET MODEL [flags...] -> the run's log
  local name=$1 np=$2 store=$3 budget=$4 model=$5; shift 5
  local args=(train --train $out/train-$store.h5 --valid $out/valid-$store.h5 --model "$model" --epochs 2
              --batch 64 --lr 0.01 --memory-budget "$budget" --out $out/run-$name --overwrite --no-progress "$@")
  if [ "$np" = 1 ]; then OPENBLAS_NUM_THREADS=1 taskset -c 0 "$BUILD/dltrain" "${args[@]}" > $out/$name.log 2>&1
  else "${MPI[@]}" -np "$np" -x OPENBLAS_NUM_THREADS=1 "$BUILD/dltrain" "${args[@]}" > $out/$name.log 2>&1; fi
}
ips() { sed -n 3p $out/run-$1/metrics.csv | awk -F, '{print $NF}'; }
data_row() { grep "data (load, augment)" $out/$1.log | tail -n 1 | awk '{print $(NF-1), $NF}'; }

echo "images $IMAGES, ${SIZE}x${SIZE}x$CHANNELS"
printf '%-34s %12s\n' "loader (1 core, crop+hflip)" "images/s"
for cfg in "memory raw 0" "stream raw 1" "stream jpeg 1"; do
  set -- $cfg
  run "tp-$1-$2" 1 "$2" "$3" $out/tiny.txt --augment crop,hflip
  printf '%-34s %12s\n' "$1 $2" "$(ips tp-$1-$2)"
done
printf '\n%-34s %12s %10s %10s\n' "fmnist-bn -np 2 (--profile)" "images/s" "data ms" "data %"
for cfg in "memory raw 0" "stream raw 1" "stream jpeg 1"; do
  set -- $cfg
  [ "$SIZE" = 28 ] && [ "$CHANNELS" = 1 ] || { echo "(fmnist-bn wants 28x28x1: skipped)"; break; }
  run "bn-$1-$2" 2 "$2" "$3" fmnist-bn --profile
  read -r ms pct < <(data_row "bn-$1-$2")
  printf '%-34s %12s %10s %10s\n' "$1 $2" "$(ips bn-$1-$2)" "$ms" "$pct"
done
