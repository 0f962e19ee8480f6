#!/usr/bin/env bash
# cli_prep.sh BUILD SRC: dlprep idx as a user runs it, on Debian's real
# Fashion-MNIST files and on broken copies of them. A good import has the
# right counts, labels and class names (checked with h5dump, independently of
# our reader); every bad input exits non-zero with a one-line message naming
# the file, and leaves no output file (not even a .partial).
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"

# good: gzip and plain input give the same file content
"$BUILD/dlprep" idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz \
  --class-names 'T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot' \
  -o "$T/test.h5" | grep -q "10000 images 28x28 grey, 10 classes" || fail "import message"
h5dump -H -d /images "$T/test.h5" | grep -q "( 10000, 28, 28, 1 )" || fail "/images shape"
h5dump -A -a /class_names "$T/test.h5" | grep -q '"Ankle boot"' || fail "class names"
# the first test labels of Fashion-MNIST are 9 2 1 1 6 (bytes 8.. of the label file)
zcat $FM/t10k-images-idx3-ubyte.gz > "$T/img"; zcat $FM/t10k-labels-idx1-ubyte.gz > "$T/lab"
want=$(od -An -tu1 -j8 -N5 "$T/lab" | tr -s ' ' | sed 's/^ //')
got=$(h5dump -d /labels -s 0 -c 5 -y -w 0 "$T/test.h5" | grep -A1 "DATA {" | tail -1 | tr -d ' ,' | sed 's/./& /g;s/ $//')
[ "$want" = "$got" ] || fail "labels: want '$want', got '$got'"
# images: byte 16 + 28*14 + 14 of the IDX file is pixel (0, 14, 14)
wantp=$(od -An -tu1 -j$((16 + 28 * 14 + 14)) -N1 "$T/img" | tr -d ' ')
gotp=$(h5dump -d /images -s 0,14,14,0 -c 1,1,1,1 -y -w 0 "$T/test.h5" | grep -A1 "DATA {" | tail -1 | tr -d ' ,')
[ "$wantp" = "$gotp" ] || fail "pixel (0,14,14): want $wantp, got $gotp"
"$BUILD/dlprep" idx --images "$T/img" --labels "$T/lab" --limit 100 -o "$T/plain.h5" >/dev/null
h5dump -H -d /images "$T/plain.h5" | grep -q "( 100, 28, 28, 1 )" || fail "--limit 100"
"$BUILD/dltrain" summary --model fmnist-bn --data "$T/plain.h5" | grep -q "Total params: 468202" || fail "summary --data"

expect_no_output() {  # expect_no_output OUT "message part" command...
  local out=$1 want=$2; shift 2
  local msg rc=0
  msg=$("$@" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "expected failure: $*"
  grep -qF -- "$want" <<<"$msg" || fail "message for '$*' lacks '$want': $msg"
  [ "$(wc -l <<<"$msg")" -eq 1 ] || fail "message is not one line: $msg"
  [ ! -e "$out" ] && [ ! -e "$out.partial" ] || fail "$out left behind after: $msg"
}
head -c 5000 "$T/img" > "$T/short"                      # cut off mid-image
gzip -c "$T/short" > "$T/short.gz"
expect_no_output "$T/o.h5" "$T/short.gz: truncated" "$BUILD/dlprep" idx --images "$T/short.gz" --labels "$T/lab" -o "$T/o.h5"
expect_no_output "$T/o.h5" "$T/lab: not an IDX images file" "$BUILD/dlprep" idx --images "$T/lab" --labels "$T/lab" -o "$T/o.h5"
expect_no_output "$T/o.h5" "cannot open images file '$T/none'" "$BUILD/dlprep" idx --images "$T/none" --labels "$T/lab" -o "$T/o.h5"
zcat $FM/train-labels-idx1-ubyte.gz > "$T/lab60k"
expect_no_output "$T/o.h5" "has 60000 labels but $T/img has 10000 images" \
  "$BUILD/dlprep" idx --images "$T/img" --labels "$T/lab60k" -o "$T/o.h5"
expect_no_output "$T/o.h5" "has label 9 but --class-names gives only 3 names" \
  "$BUILD/dlprep" idx --images "$T/img" --labels "$T/lab" --class-names a,b,c -o "$T/o.h5"
expect_no_output "$T/no/dir/o.h5" "cannot write '$T/no/dir/o.h5'" \
  "$BUILD/dlprep" idx --images "$T/img" --labels "$T/lab" -o "$T/no/dir/o.h5"
expect_no_output "$T/o.h5" "--images is required" "$BUILD/dlprep" idx --labels "$T/lab" -o "$T/o.h5"
# dltrain refuses a file that is not a dataset, naming it
expect_no_output "$T/run" "$T/lab: not an HDF5 file" \
  "$BUILD/dltrain" train --train "$T/lab" --valid "$T/test.h5" --model fmnist-bn --out "$T/run"
echo "cli_prep: passed"
