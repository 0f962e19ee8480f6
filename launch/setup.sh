#!/usr/bin/env bash
# setup.sh: installs the Debian packages dltrain needs (only those missing),
# then configures and builds into ./build. Sourced or run by the other
# launch/ scripts; safe to run again (it does only what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build tools and libraries (README, "Dependencies", says what each is for).
PKGS=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev
      libhdf5-dev hdf5-tools libturbojpeg0-dev zlib1g-dev libcmocka-dev dataset-fashion-mnist
      libprotobuf-c-dev protobuf-c-compiler python3-h5py)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
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
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
