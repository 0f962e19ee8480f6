#!/bin/bash
# Builds the Fashion-MNIST transfer-learning split (README, "Transfer learning"):
#   fm-pre-train.h5 / fm-pre-test.h5       classes 0-5 (T-shirt/top ... Sandal), all images: pretraining
#   fm-target-train.h5                     classes 6-9 (Shirt, Sneaker, Bag, Ankle boot), 50 images each
#   fm-target-test.h5                      classes 6-9, all 4,000 test images
# usage: datasets/make_fmnist_transfer.sh [BUILD_DIR]   (default build; makes fm-*.h5 first if missing)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ -f "$here/fm-train.h5" ] && [ -f "$here/fm-test.h5" ] || bash "$here/make_fmnist.sh" "$build"
pre='T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal'
target='Shirt,Sneaker,Bag,Ankle boot'
"$build/dlprep" subset "$here/fm-train.h5" --classes "$pre" -o "$here/fm-pre-train.h5"
"$build/dlprep" subset "$here/fm-test.h5" --classes "$pre" -o "$here/fm-pre-test.h5"
"$build/dlprep" subset "$here/fm-train.h5" --classes "$target" --per-class 50 --seed 1 -o "$here/fm-target-train.h5"
"$build/dlprep" subset "$here/fm-test.h5" --classes "$target" -o "$here/fm-target-test.h5"
