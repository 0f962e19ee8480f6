#!/usr/bin/env bash
# transfer_fmnist.sh: README "Transfer learning", end to end. Builds the
# transfer split (classes 0-5 to pretrain on; classes 6-9 with 50 training
# images each as the target), pretrains MODEL on classes 0-5, then for each
# seed trains the same model on the 200 target images twice with the same
# flags and the same number of epochs: from scratch, and from the pretrained
# checkpoint with --fine-tune. Prints both accuracies on the 4,000 target
# test images per seed and their means, and writes them to RUN/transfer.csv.
# "last" is the final model; "best" is its best epoch (picked on those same
# test images, so optimistic).
#
#   bash launch/transfer_fmnist.sh [extra dltrain train flags for both target runs]
#   e.g. RUN=runs/transfer-adam bash launch/transfer_fmnist.sh --optimizer adam --lr 0.001
#
# Environment overrides: MODEL (fmnist-bn) SEEDS ("1 2 3 4 5 6 7 8 9 10")
#   FINE_TUNE (2,8: frozen epochs, unfrozen epochs; the run from scratch gets
#   their sum, so do not pass --epochs) RUN (runs/transfer-$MODEL)
#   PRE (RUN/pre: the pretraining run, reused once it has finished; an
#   interrupted one is resumed) PRE_EPOCHS (3) NP (2: ranks for pretraining)
#   BUILD (build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BUILD=$BUILD bash launch/setup.sh
bash datasets/make_fmnist_transfer.sh "$BUILD"
MODEL=${MODEL:-fmnist-bn} SEEDS=${SEEDS:-"1 2 3 4 5 6 7 8 9 10"} NP=${NP:-2}
FINE_TUNE=${FINE_TUNE:-2,8} RUN=${RUN:-runs/transfer-$MODEL}
PRE=${PRE:-$RUN/pre}
[[ $FINE_TUNE =~ ^([0-9]+),([0-9]+)$ ]] || { echo "transfer_fmnist.sh: FINE_TUNE must be E1,E2, not '$FINE_TUNE'" >&2; exit 2; }
EPOCHS=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
[ -n "${SEEDS// /}" ] || { echo "transfer_fmnist.sh: SEEDS is empty" >&2; exit 2; }
D=datasets
mkdir -p "$RUN"
if ! grep -qs '"event":"done"' "$PRE/events.jsonl"; then
  from=(--model "$MODEL")
  [ -f "$PRE/last.h5" ] && from=(--resume "$PRE/last.h5")   # an interrupted pretraining goes on
  echo "pretraining $MODEL on classes 0-5 (${PRE_EPOCHS:-3} epochs, $NP ranks): $PRE"
  bash launch/mpirun.sh -np "$NP" "$BUILD/dltrain" train --train $D/fm-pre-train.h5 --valid $D/fm-pre-test.h5 \
    "${from[@]}" --epochs "${PRE_EPOCHS:-3}" --out "$PRE" --no-progress > "$RUN/pre.log" 2>&1 ||
    { tail -3 "$RUN/pre.log" >&2; exit 1; }
fi
# the two runs of a seed go side by side, each with its share of the cores
threads=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))
# one target run: NAME SEED [flags...]; its output goes to RUN/NAME-sSEED.log
target() {
  local name=$1 seed=$2
  shift 2
  OPENBLAS_NUM_THREADS=$threads "$BUILD/dltrain" train --train $D/fm-target-train.h5 \
    --valid $D/fm-target-test.h5 --model "$MODEL" --batch 16 --groups 1 --seed "$seed" --no-progress \
    --out "$RUN/$name-s$seed" --overwrite "$@" > "$RUN/$name-s$seed.log" 2>&1 || { tail -3 "$RUN/$name-s$seed.log" >&2; return 1; }
}
# "best last" accuracy of a run, from its metrics.csv (column 4)
acc() {
  awk -F, 'NR > 1 { if ($4 > b) b = $4; l = $4 } END { if (NR < 2) exit 1; printf "%.4f %.4f", b, l }' "$1/metrics.csv"
}
s=
trap '[ -n "$s" ] && kill "$s" 2>/dev/null; true' EXIT
echo "seed,scratch_best,scratch_last,finetune_best,finetune_last" > "$RUN/transfer.csv"
printf '%-6s %-22s %-22s\n' seed "scratch best / last" "fine-tune best / last"
for seed in $SEEDS; do
  target scratch "$seed" --epochs "$EPOCHS" "$@" &
  s=$!
  target finetune "$seed" --init "$PRE/last.h5" --fine-tune "$FINE_TUNE" "$@" || { wait "$s"; exit 1; }
  wait "$s"
  s=
  scratch=$(acc "$RUN/scratch-s$seed")
  finetune=$(acc "$RUN/finetune-s$seed")
  read -r sb sl <<< "$scratch"
  read -r fb fl <<< "$finetune"
  echo "$seed,$sb,$sl,$fb,$fl" >> "$RUN/transfer.csv"
  printf '%-6s %-22s %-22s\n' "$seed" "$sb / $sl" "$fb / $fl"
done
# means, and in how many seeds the final model gains >= 10 points (in 1e-4 units: the csv has 4 decimals)
awk -F, 'NR > 1 { n++; for (i = 2; i <= 5; i++) s[i] += $i; if (int(($5 - $3) * 10000 + 0.5) >= 1000) w++ }
  END { printf "mean   %.4f / %.4f        %.4f / %.4f\n", s[2] / n, s[3] / n, s[4] / n, s[5] / n
        printf "fine-tuning minus scratch: best %+.1f points, last %+.1f points (mean of %d seeds; last ahead by >= 10 in %d)\n",
               100 * (s[4] - s[2]) / n, 100 * (s[5] - s[3]) / n, n, w + 0 }' "$RUN/transfer.csv"
echo "per-seed figures: $RUN/transfer.csv; runs and logs: $RUN/"
