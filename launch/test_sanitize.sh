#!/usr/bin/env bash
# test_sanitize.sh: CI's second stage (README "Tests"). Builds dltrain with
# clang, AddressSanitizer and UBSan (-DDL_SANITIZE=ON) into build-asan/ and
# runs the whole ctest suite there: any out-of-bounds access, use after
# free, leak in our code, signed overflow, misaligned load or other UB fails
# the test that reached it (the run stops with status 86 and a stack).
# When the fuzz targets exist (tests/fuzz/, CMake option DL_FUZZ), they are
# built too and ctest replays their corpora under the sanitizers.
# Arguments go to ctest (e.g. -R cli_train).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh                       # packages (clang among them) and build/
BUILD=${BUILD:-build-asan}
ARGS=(-DCMAKE_BUILD_TYPE=Release -DDL_SANITIZE=ON)
[ -d tests/fuzz ] && ARGS+=(-DDL_FUZZ=ON)
CC=clang cmake -S . -B "$BUILD" "${ARGS[@]}" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
cd "$BUILD"
ctest --output-on-failure -j 2 "$@"
