#!/usr/bin/env bash
# launch/fuzz.sh [TARGET] [SECONDS]: builds the libFuzzer targets of
# tests/fuzz (clang, -DDL_FUZZ=ON, ASan + UBSan) into build-fuzz/ and fuzzes
# TARGET (model_text, csv, idx, dataset, checkpoint, onnx; default: each in turn)
# for SECONDS (default 600) at nice 10. New inputs go to
# build-fuzz/fuzz-work/TARGET/ (the seeds in tests/fuzz/corpus/TARGET/ are
# only read); a crash is saved as build-fuzz/fuzz-crashes/TARGET-crash-*:
# fix it, then copy the reproducer into tests/fuzz/corpus/TARGET/ so ctest
# replays it from then on. Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 ...".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_FUZZ:-$ROOT/build-fuzz}
SECONDS_EACH=${2:-600}
command -v clang >/dev/null || { echo "fuzz.sh: needs clang (apt-get install -y clang)" >&2; exit 2; }
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=clang cmake -S "$ROOT" -B "$BUILD" -DDL_FUZZ=ON -DDL_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
nice -n 10 cmake --build "$BUILD" -j2 >/dev/null
targets=(model_text csv idx dataset checkpoint onnx)
if [ -n "${1:-}" ] && [ "$1" != all ]; then
  [ -x "$BUILD/tests/fuzz/fuzz_$1" ] || { echo "fuzz.sh: no target '$1' (targets: ${targets[*]})" >&2; exit 2; }
  targets=("$1")
fi
mkdir -p "$BUILD/fuzz-crashes"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/fuzz-work/$t"
  echo "== fuzz_$t for ${SECONDS_EACH}s"
  # allocator_may_return_null: a huge malloc inside libhdf5 (sizes from a corrupt file)
  # fails as it does outside ASan, and HDF5 reports an error. -rss_limit_mb: the machine
  # is shared. -timeout: an input slower than 10 s is a finding. -fork=1
  # -ignore_timeouts=1: a hang inside libhdf5 itself (tests/fuzz/hdf5-bugs/) is saved as
  # an artifact and fuzzing goes on (exit 70 at the end); crashes and leaks stop it.
  log="$BUILD/fuzz-work/$t.log"
  rc=0
  ( cd "$BUILD/fuzz-work" && OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ASAN_OPTIONS=allocator_may_return_null=1 LSAN_OPTIONS=suppressions=$ROOT/tests/fuzz/lsan.supp nice -n 10 \
      "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -fork=1 -ignore_timeouts=1 \
      -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-crashes/$t-" ${FUZZ_FLAGS:-} \
      "$BUILD/fuzz-work/$t" "$ROOT/tests/fuzz/corpus/$t" ) >"$log" 2>&1 || rc=$?
  grep -E "^(#[0-9]+: cov|INFO: fuzzed for|INFO: exiting|==[0-9]+==ERROR|SUMMARY|INFO: seed corpus)|runtime error|Test unit written|crash|timeout" "$log" | tail -8 || true
  if [ "$rc" -eq 70 ]; then
    echo "fuzz_$t: timeouts only (triage $BUILD/fuzz-crashes/$t-timeout-*; full log: $log)"
  elif [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: exit $rc, a finding (full log: $log)"; status=1
  fi
done
exit $status
