#!/usr/bin/env bash
# setup.sh: installs the Debian packages dltrain needs (only those missing),
# then configures and builds into ./build. Sourced or run by the other
# launch/ scripts; safe to run again (it does only what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build tools and libraries (README, "Dependencies", says what each is for).
PKGS=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev
      libhdf5-dev hdf5-tools libturbojpeg0-dev zlib1g-dev libcmocka-dev dataset-fashion-mnist
      libprotobuf-c-dev protobuf-c-compiler iproute2)
PKGS+=(python3-onnx python3-h5py python3-numpy)   # tests/cli_export.sh: onnx's checker, dataset pixels for ONNX Runtime
PKGS+=(python3-torch python3-torchvision libonnx-testdata)   # ONNX import tests: torch exports torchvision networks, ONNX's conformance data
PKGS+=(clang libomp-dev)   # launch/test_sanitize.sh: clang's ASan/UBSan (and libFuzzer) build, with OpenMP
PKGS+=(chromium)   # tests/cli_report.sh: report.html in a real browser (DOM, screenshot)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# tests/cli_export.sh runs ONNX Runtime from npm under Node: Debian's nodejs and
# npm, unless a node and npm are already there (e.g. from NodeSource, whose
# nodejs package conflicts with Debian's npm).
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to apt-get install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

BUILD=${BUILD:-build}
# DLTRAIN_ARCH=x86-64-v3 (or generic, x86-64-v4): a build for every node of a
# cluster (README "Running on a cluster"); unset: the build's own (native).
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release ${DLTRAIN_ARCH:+-DDLTRAIN_ARCH="$DLTRAIN_ARCH"} >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
