#!/bin/bash
# Writes datasets/fm-train.h5 (60,000 images) and datasets/fm-test.h5 (10,000)
# from Debian's dataset-fashion-mnist package (28x28 grey, 10 classes).
# usage: datasets/make_fmnist.sh [BUILD_DIR]   (BUILD_DIR holds dlprep; default build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
src=/usr/share/datasets/fashion-mnist
names='T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot'
if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
    echo "make_fmnist.sh: $src is missing; install it with: apt-get install dataset-fashion-mnist" >&2
    exit 1
fi
for set in train:train t10k:test; do
    in=${set%%:*} out=$here/fm-${set##*:}.h5
    if [ -f "$out" ]; then echo "make_fmnist.sh: $out exists, kept"; continue; fi
    "$build/dlprep" idx --images "$src/$in-images-idx3-ubyte.gz" --labels "$src/$in-labels-idx1-ubyte.gz" \
        --class-names "$names" -o "$out"
done
