#!/usr/bin/env bash
# cli_hostile.sh BUILD SRC: hostile files and bad flags, as a user meets them.
#  - datasets crafted with h5py: sizes past the limits (the 2 KB file that
#    declares (1, 65536, 65536, 1)), declared but never or partly written,
#    too many samples or classes, a filter that is not installed: train,
#    eval, summary --data and dlprep export each exit 1 naming the file and
#    the problem;
#  - training from h5py-written gzip, shuffle and LZF files gives the same
#    losses as the raw file (LZF also streamed from disk);
#  - checkpoints with a corrupted run position or normalisation: --resume
#    and eval exit 1 naming the attribute, nothing in the run is rewritten;
#  - a full disk (a small tmpfs, or a file-size limit) while last.h5 is
#    written: exit 1, the right message, the previous last.h5 intact, no
#    .partial left; dlprep the same;
#  - bad numeric and boolean flags of every command: exit 2 naming the flag
#    and its range; a model line past the size limits: exit 1 naming file:line.
set -euo pipefail
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); MNT=
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; [ -n "$KEEP" ] || rm -rf "$T"; }
trap cleanup EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
fm_train 512 "$T/train.h5"
fm_test 128 "$T/valid.h5"
small_net "$T/net.txt"
ARGS=(--train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" --batch 64 --no-progress)
WITHOUT_TRAIN=(--valid "$T/valid.h5" --model "$T/net.txt" --batch 64 --no-progress)

# expect_rc RC "message part" command...: exit status exactly RC, message contains the part
expect_rc() {
  local want_rc=$1 want=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" -eq "$want_rc" ] || fail "expected exit $want_rc, got $rc: $* -> $out"
  grep -qF -- "$want" <<<"$out" || fail "message for '$*' lacks '$want': $out"
}

# ---- hostile datasets ----
"$PY" - "$T" <<'EOF'
import sys, h5py, numpy as np
T = sys.argv[1]
def labels(f, n): f.create_dataset('labels', data=np.zeros(n, 'i8'))
with h5py.File(T + '/huge.h5', 'w') as f:          # the issue's 2 KB file: 65536 x 65536 declared, never written
    f.create_dataset('images', shape=(1, 65536, 65536, 1), dtype='u1'); labels(f, 1)
with h5py.File(T + '/unwritten.h5', 'w') as f:
    f.create_dataset('images', shape=(100, 28, 28, 1), dtype='u1'); labels(f, 100)
with h5py.File(T + '/partial.h5', 'w') as f:       # compressed, one chunk of ten written
    d = f.create_dataset('images', shape=(1000, 28, 28, 1), dtype='u1', chunks=(100, 28, 28, 1), compression='gzip')
    d[:100] = 7; labels(f, 1000)
with h5py.File(T + '/many.h5', 'w') as f:          # 2^40 samples declared in a few bytes
    f.create_dataset('images', shape=(2**40, 1, 1, 1), dtype='u1', chunks=(4096, 1, 1, 1)); labels(f, 1)
with h5py.File(T + '/classes.h5', 'w', libver='latest') as f:   # more class names than dltrain takes
    f.create_dataset('images', data=np.zeros((2, 28, 28, 1), 'u1')); labels(f, 2)
    f.attrs.create('class_names', data=np.array([b'c%d' % i for i in range(100001)]))
with h5py.File(T + '/lz4.h5', 'w') as f:           # a filter this HDF5 lacks (LZ4, hdf5-filter-plugin)
    f.create_dataset('images', data=np.zeros((4, 28, 28, 1), 'u1'), chunks=(2, 28, 28, 1), compression=32004,
                     allow_unknown_filter=True); labels(f, 4)
with h5py.File(T + '/train.h5', 'r') as s:         # the same training data, compressed three ways by h5py
    im, lb, cn = s['images'][:], s['labels'][:], s.attrs['class_names']
for name, kw in (('gzip', dict(compression='gzip')), ('shuffle', dict(compression='gzip', shuffle=True)),
                 ('lzf', dict(compression='lzf'))):
    with h5py.File(T + '/train-%s.h5' % name, 'w') as f:
        f.create_dataset('images', data=im, chunks=(64, 28, 28, 1), **kw)
        f.create_dataset('labels', data=lb, **kw)
        f.attrs['class_names'] = cn
EOF
[ "$(stat -c %s "$T/huge.h5")" -lt 8192 ] || fail "huge.h5 should be a few KB"
"$BUILD/dltrain" train "${ARGS[@]}" --epochs 1 --out "$T/run" > /dev/null
cp "$T/run/last.h5" "$T/last.orig.h5"
check_dataset() {   # FILE "message": every command that opens a dataset refuses it
  local f=$T/$1 want=$2
  expect_rc 1 "$want" "$BUILD/dltrain" train --train "$f" --valid "$T/valid.h5" --model "$T/net.txt" --out "$T/bad-$1" --no-progress
  expect_rc 1 "$want" "$BUILD/dltrain" eval --checkpoint "$T/run/last.h5" --data "$f"
  expect_rc 1 "$want" "$BUILD/dltrain" summary --model "$T/net.txt" --data "$f"
  expect_rc 1 "$want" "$BUILD/dlprep" export "$f" "$T/export-$1"
  [ ! -e "$T/bad-$1/last.h5" ] || fail "a run started from $1"
}
check_dataset huge.h5 "huge.h5: 'images' declares 65536x65536-pixel images (HxW); expected 1..65536 pixels a side and at most 268435456 pixels an image"
check_dataset unwritten.h5 "unwritten.h5: 'images' is declared but never written"
check_dataset partial.h5 "partial.h5: 'images' is declared but only partly written"
check_dataset many.h5 "many.h5: 'images' declares 1099511627776 samples; expected 1..2147483647"
check_dataset classes.h5 "classes.h5: attribute 'class_names' has 100001 names; dltrain takes at most 100000 classes"
check_dataset lz4.h5 "lz4.h5: cannot read 'images': it is compressed with HDF5 filter 32004 (LZ4), which is not installed: apt-get install -y hdf5-filter-plugin"

# h5py's gzip, shuffle and LZF files train to the same losses as the raw file
"$BUILD/dltrain" train "${ARGS[@]}" --epochs 1 --out "$T/raw" > /dev/null
for c in gzip shuffle lzf; do
  "$BUILD/dltrain" train --train "$T/train-$c.h5" "${WITHOUT_TRAIN[@]}" --epochs 1 --out "$T/c-$c" > /dev/null
  diff <(cut -d, -f1-4 "$T/raw/metrics.csv") <(cut -d, -f1-4 "$T/c-$c/metrics.csv") >/dev/null || fail "training from $c differs"
done
"$BUILD/dltrain" train --train "$T/train-lzf.h5" "${WITHOUT_TRAIN[@]}" --epochs 1 --memory-budget 1 --out "$T/c-lzf-stream" > "$T/stream.log"
diff <(cut -d, -f1-4 "$T/raw/metrics.csv") <(cut -d, -f1-4 "$T/c-lzf-stream/metrics.csv") >/dev/null || fail "streaming LZF differs"

# ---- hostile checkpoints: --resume and eval refuse them, the run is untouched ----
corrupt() {   # NAME PYTHON-STATEMENT (f is the checkpoint open for writing)
  cp "$T/last.orig.h5" "$T/$1.h5"
  "$PY" -c "import h5py, numpy as np; f = h5py.File('$T/$1.h5', 'r+'); $2; f.close()"
}
check_ckpt() {   # NAME "message"
  rm -rf "$T/res"; cp -r "$T/run" "$T/res"; cp "$T/$1.h5" "$T/res/last.h5"
  expect_rc 1 "$2" "$BUILD/dltrain" train "${ARGS[@]}" --epochs 3 --out "$T/res" --resume "$T/res/last.h5"
  cmp -s "$T/$1.h5" "$T/res/last.h5" || fail "resuming from $1 rewrote last.h5"
  cmp -s "$T/run/metrics.csv" "$T/res/metrics.csv" || fail "resuming from $1 rewrote metrics.csv"
}
corrupt step_neg "f.attrs['epoch_step'] = np.int64(-5)"
check_ckpt step_neg "attribute 'epoch_step' must be one integer in 0..9007199254740992"
corrupt step_big "f.attrs['epoch_step'] = np.int64(10**9); f.attrs['step'] = np.int64(10**9)"
check_ckpt step_big "inconsistent run position: epoch_step must be within an epoch"
corrupt epoch_neg "f.attrs['epoch'] = np.int64(-1)"
check_ckpt epoch_neg "attribute 'epoch' must be one integer in 0..1000000"
corrupt groups "f.attrs['groups'] = np.int64(128)"
check_ckpt groups "inconsistent run position: groups must be in 1..batch"
corrupt batch_str "f.attrs['batch'] = 'sixty-four'"
check_ckpt batch_str "attribute 'batch' must be one integer in 0..1048576"
corrupt loss_nan "f.attrs['epoch_loss_sum'] = np.float64('nan')"
check_ckpt loss_nan "attribute 'epoch_loss_sum' must be one finite number"
corrupt std_zero "f.attrs['normalize_mean'] = np.float32([0.3]); f.attrs['normalize_std'] = np.float32([0.0])"
check_ckpt std_zero "normalisation statistics must be 'normalize_mean' and 'normalize_std', 1 finite floats each"
corrupt std_chan "f.attrs['normalize_mean'] = np.float32([0.3, 0.3, 0.3]); f.attrs['normalize_std'] = np.float32([0.2, 0.2, 0.2])"
check_ckpt std_chan "every std > 0"
corrupt std_type "f.attrs['normalize_mean'] = np.int32([0]); f.attrs['normalize_std'] = np.int32([1])"
check_ckpt std_type "every std > 0"
corrupt input "f.attrs['input'] = np.int64([1, 65536, 65536])"
check_ckpt input "has no valid 'input' attribute"
corrupt classes "del f.attrs['class_names']; f.attrs['class_names'] = np.int64([1, 2])"
check_ckpt classes "attribute 'class_names' must be 1..100000 strings"
expect_rc 1 "attribute 'epoch_step' must be one integer" "$BUILD/dltrain" eval --checkpoint "$T/step_neg.h5" --data "$T/valid.h5"

# ---- a full disk while last.h5 is written ----
full=
if mkdir -p "$T/mnt" && mount -t tmpfs -o size=$(( $(du -sk "$T/run" | cut -f1) + 64 ))k tmpfs "$T/mnt" 2>/dev/null; then
  MNT=$T/mnt; full=tmpfs
  cp -r "$T/run" "$T/mnt/run"
  # the first file of the epoch's end to meet the full disk is named
  # (report.html, metrics.csv or last.h5, whichever is written first)
  expect_rc 1 ".partial': No space left on device" \
    "$BUILD/dltrain" train "${ARGS[@]}" --epochs 2 --out "$T/mnt/run" --resume "$T/mnt/run/last.h5"
  cmp -s "$T/run/last.h5" "$T/mnt/run/last.h5" || fail "a full disk changed last.h5"
  ! ls "$T/mnt/run/"*.partial >/dev/null 2>&1 || fail "a full disk left $(ls "$T/mnt/run/"*.partial)"
  rm -f "$T/mnt/run/best.h5" "$T/mnt/run/last.h5"; echo old > "$T/mnt/data.h5"
  expect_rc 1 "cannot write '$T/mnt/data.h5'" fm_train 60000 "$T/mnt/data.h5"
  [ "$(cat "$T/mnt/data.h5")" = old ] || fail "a failed dlprep changed its output"
  umount "$T/mnt"; MNT=
else   # no mount here (a container): a file-size limit, SIGXFSZ ignored, gives EFBIG the same way
  full=ulimit
  rm -rf "$T/res"; cp -r "$T/run" "$T/res"
  kb=$(( $(stat -c %s "$T/run/last.h5") / 2048 ))
  out=$( (trap '' XFSZ; ulimit -f "$kb"; "$BUILD/dltrain" train "${ARGS[@]}" --epochs 2 --out "$T/res" --resume "$T/res/last.h5") 2>&1) && fail "a file-size limit did not fail the run" || rc=$?
  if grep -q "MPI_Init\|PMIX" <<<"$out"; then
    echo "SKIP full-disk test: neither a tmpfs mount nor a file-size limit works here ($out)" >&2; full=
  else
    [ "$rc" -eq 1 ] || fail "full disk: exit $rc, not 1: $out"
    grep -qE "cannot write .*\.partial'" <<<"$out" || fail "full disk: $out"
    cmp -s "$T/run/last.h5" "$T/res/last.h5" || fail "a file-size limit changed last.h5"
  fi
fi

# ---- flags: every bad value names the flag and the range, exit 2 ----
TR=("$BUILD/dltrain" train "${ARGS[@]}" --out "$T/flags")
expect_rc 2 "bad value 'nan' for --momentum (expected a finite number in [0, 1))" "${TR[@]}" --momentum nan
expect_rc 2 "bad value 'inf' for --lr" "${TR[@]}" --lr inf
expect_rc 2 "bad value '-1' for --seed (expected a whole number from 0 to 18446744073709551615)" "${TR[@]}" --seed -1
expect_rc 2 "--weight-decay -0.1 is out of range: it must be in [0, 10]" "${TR[@]}" --weight-decay -0.1
expect_rc 2 "--beta1 1 is out of range: it must be in [0, 1)" "${TR[@]}" --optimizer adam --beta1 1
expect_rc 2 "--beta2 -0.5 is out of range: it must be in [0, 1)" "${TR[@]}" --optimizer adam --beta2 -0.5
expect_rc 2 "--eps 0 is out of range: it must be in (0, 1]" "${TR[@]}" --optimizer adam --eps 0
expect_rc 2 "--threshold 1.5 is out of range: it must be in [0, 1]" "${TR[@]}" --threshold 1.5
expect_rc 2 "--epochs 0 is out of range" "${TR[@]}" --epochs 0
expect_rc 2 "bad value '1e3' for --batch (expected a whole number in [1, 1048576])" "${TR[@]}" --batch 1e3
expect_rc 2 "bad value 'maybe' for --nesterov" "${TR[@]}" --nesterov=maybe
expect_rc 2 "--start-lr 0 is out of range" "$BUILD/dltrain" lr-find --train "$T/train.h5" --model "$T/net.txt" --out "$T/lrf" --start-lr 0
expect_rc 2 "bad value 'nan' for --threshold" "$BUILD/dltrain" eval --checkpoint "$T/run/last.h5" --data "$T/valid.h5" --threshold nan
expect_rc 2 "--classes 0 is out of range" "$BUILD/dltrain" summary --model "$T/net.txt" --classes 0
expect_rc 2 "--limit -1 is out of range: it must be in [0, 2147483647]" "$BUILD/dlprep" idx --images x --labels y -o "$T/x.h5" --limit -1
expect_rc 2 "bad value 'nan' for --valid-fraction" "$BUILD/dlprep" folder "$T" -o "$T/x.h5" --size 8 --valid-fraction nan
expect_rc 2 "--quality 0 is out of range: it must be in [1, 100]" "$BUILD/dlprep" export "$T/valid.h5" "$T/ex" --quality 0
expect_rc 2 "--per-class -3 is out of range" "$BUILD/dlprep" subset "$T/valid.h5" --classes 0,1 --per-class -3 -o "$T/sub.h5"
# --nesterov=0 means off (it used to turn Nesterov on)
"${TR[@]}" --epochs 1 --nesterov=0 > "$T/n0.log"
"$BUILD/dltrain" train "${ARGS[@]}" --epochs 1 --nesterov --out "$T/n1" > "$T/n1.log"
diff <(cut -d, -f1-4 "$T/raw/metrics.csv") <(cut -d, -f1-4 "$T/flags/metrics.csv") >/dev/null || fail "--nesterov=0 trained differently from the default"
! diff <(cut -d, -f1-4 "$T/raw/metrics.csv") <(cut -d, -f1-4 "$T/n1/metrics.csv") >/dev/null || fail "--nesterov had no effect"

# ---- model text past the limits: an error naming file:line, not an abort ----
printf 'input channels=1 height=28 width=28\ndense units=100000000\ndense units=10\n' > "$T/big.txt"
expect_rc 1 "$T/big.txt:2: layer 'dense1': 78500000000 parameters take the model past the 2147483647 it may have" \
  "$BUILD/dltrain" summary --model "$T/big.txt"
printf 'conv filters=100000000 size=1\ndense units=classes\n' > "$T/wide.txt"
expect_rc 1 "$T/wide.txt:1: layer 'conv1': output 100000000x28x28 is past the limits" "$BUILD/dltrain" summary --model "$T/wide.txt"
printf 'conv filters=4 size=3 stride=2 pad=0\ndwconv size=3 stride=2\ndense units=classes\n' > "$T/overhang.txt"
expect_rc 1 "$T/overhang.txt:2: layer 'dwconv2': input 1x1 is smaller than the 3x3 kernel" \
  "$BUILD/dltrain" summary --model "$T/overhang.txt" --input 1,4,4

echo "cli_hostile: ok (full disk by ${full:-nothing: skipped})"
