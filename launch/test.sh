#!/usr/bin/env bash
# test.sh: README command (2). Installs what is missing, builds, and runs the
# whole test suite with ctest (unit tests, PyTorch fixtures, MPI runs with
# real ranks, end-to-end command-line tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
cd build
ctest --output-on-failure -j 2 "$@"
