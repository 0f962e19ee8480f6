#!/usr/bin/env bash
# train_fmnist.sh: README command (1). Installs what is missing, builds,
# makes the Fashion-MNIST HDF5 files from Debian's dataset-fashion-mnist,
# and trains fmnist-bn on 2 MPI ranks (each call starts RUN afresh: --overwrite;
# continue a stopped one with dltrain train ... --resume RUN/last.h5). Environment overrides:
#   EPOCHS (10) MODEL (fmnist-bn) NP (2) RUN (runs/fmnist-bn) LR (0.05) BATCH (64) SCHEDULE (cosine)
#   AUGMENT (none; e.g. hflip,rotate=10,zoom=0.9:1.1) WD (0: --weight-decay)
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
bash datasets/make_fmnist.sh build
EPOCHS=${EPOCHS:-10} MODEL=${MODEL:-fmnist-bn} NP=${NP:-2} RUN=${RUN:-runs/$MODEL}
exec bash launch/mpirun.sh -np "$NP" build/dltrain train \
  --train datasets/fm-train.h5 --valid datasets/fm-test.h5 --model "$MODEL" \
  --epochs "$EPOCHS" --batch "${BATCH:-64}" --lr "${LR:-0.05}" --schedule "${SCHEDULE:-cosine}" --weight-decay "${WD:-0}" \
  ${AUGMENT:+--augment "$AUGMENT"} --out "$RUN" --overwrite
