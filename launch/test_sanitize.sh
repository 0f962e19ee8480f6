#!/usr/bin/env bash
# test_sanitize.sh: CI's second stage (README "Tests"). Builds dltrain with
# clang, AddressSanitizer and UBSan (-DDL_SANITIZE=ON) into build-asan/ and
# runs the whole ctest suite there: any out-of-bounds access, use after
# free, signed overflow, misaligned load or other UB (and a leak, in the
# unit tests) fails the test that reached it, with status 86 and a stack.
# When the fuzz targets exist (tests/fuzz/, CMake option DL_FUZZ), they are
# built in build-fuzz/ and ctest replays their corpora under the sanitizers
# too: a build of their own, because DL_FUZZ lowers the readers' size limits
# for the whole library (fast fuzzing), which real-sized runs would hit.
# Arguments go to the first ctest (e.g. -R cli_train).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh                       # packages (clang among them) and build/
BUILD=${BUILD:-build-asan}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDL_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
(cd "$BUILD" && ctest --output-on-failure -j 2 "$@")
if [ -f tests/fuzz/CMakeLists.txt ]; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DDL_FUZZ=ON -DDL_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j "$(nproc)"
  (cd build-fuzz && ctest --output-on-failure -j 2)
fi
