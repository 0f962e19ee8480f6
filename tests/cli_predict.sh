#!/usr/bin/env bash
# cli_predict.sh BUILD SRC: `dltrain predict` on real JPEG files.
# Fashion-MNIST images are written out as JPEGs (dlprep export), imported with
# `dlprep folder` (presized 28 -> 20, the area-average path; and 28 -> 32 RGB,
# the bilinear path), a model is trained on them, and predict on the JPEG
# folder must agree with `dltrain eval --predictions` on the dataset image for
# image (same classes in the same order, probabilities within 1e-5). Then bad
# files: non-images, a truncated JPEG, an empty file, a PNG named .jpg and a
# missing path are named and skipped while the rest are predicted; all bad
# means exit 1 and no CSV; bad flags exit 2. Multi-label: Planet-style CSV.
set -euo pipefail
export LC_ALL=C
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap '[ -n "$KEEP" ] || rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
DT=$BUILD/dltrain

fm_train 300 "$T/fm.h5" --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
"$BUILD/dlprep" export "$T/fm.h5" "$T/img" >/dev/null
"$BUILD/dlprep" folder "$T/img" -o "$T/g20.h5" --size 20 --channels 1 >/dev/null
"$BUILD/dlprep" folder "$T/img" -o "$T/c32.h5" --size 32 --channels 3 >/dev/null
h5dump -a /presize "$T/g20.h5" | grep -q '"squash"' || fail "dlprep folder did not record presize=squash"

# agree: PREDICT_CSV EVAL_CSV: row i of predict (file,class,p,...) equals row i
# of eval --predictions (index,label,class,p,...): same classes, |dp| <= 1e-5
agree() {
  [ "$(wc -l < "$1")" -eq "$(wc -l < "$2")" ] || fail "$1 has $(wc -l < "$1") lines, $2 $(wc -l < "$2")"
  paste -d'\n' <(tail -n +2 "$1" | cut -d, -f2-) <(tail -n +2 "$2" | cut -d, -f3-) | awk -F, '
    NR % 2 { split($0, a, ","); n = NF; next }
    {
      if (NF != n) { print "row " NR/2 ": " NF " vs " n " fields"; bad = 1; exit }
      for (j = 1; j <= NF; j += 2) {
        if (a[j] != $j) { print "row " NR/2 ": class " a[j] " vs " $j; bad = 1 }
        d = a[j + 1] - $(j + 1); if (d < 0) d = -d; if (d > max) max = d
        if (d > 1e-5) { print "row " NR/2 ": probability " a[j + 1] " vs " $(j + 1); bad = 1 }
      }
      rows++
    }
    END { if (bad) exit 1; printf "%d images, max |diff| %.2g\n", rows, max }' \
    || fail "predict ($1) and eval ($2) disagree"
}

for cfg in "fmnist-bn g20 --normalize" "resnet8 c32"; do
  set -- $cfg
  model=$1 data=$2; shift 2
  "$DT" train --train "$T/$data.h5" --valid "$T/$data.h5" --model "$model" --epochs 1 --batch 32 --seed 3 \
    --out "$T/run-$model" --no-progress "$@" > /dev/null
  h5dump -a /presize "$T/run-$model/last.h5" | grep -q '"squash"' || fail "$model: checkpoint lacks presize=squash"
  h5dump -a /task "$T/run-$model/last.h5" | grep -q '"single"' || fail "$model: checkpoint lacks task=single"
  "$DT" eval --checkpoint "$T/run-$model/last.h5" --data "$T/$data.h5" --topk 10 --predictions "$T/eval-$model.csv" > /dev/null
  "$DT" predict --checkpoint "$T/run-$model/last.h5" "$T/img" --topk 10 --csv "$T/pred-$model.csv" \
    > "$T/pred-$model.out" 2> "$T/pred-$model.err"
  grep -q "predicted 300 files, skipped 0" "$T/pred-$model.err" || fail "$model: $(cat "$T/pred-$model.err")"
  [ "$(wc -l < "$T/pred-$model.out")" -eq 300 ] || fail "$model: expected 300 lines on stdout"
  echo "$model: predict = eval: $(agree "$T/pred-$model.csv" "$T/eval-$model.csv")"
done

# files named one by one, another batch size, flags after the paths: the same rows
files=("$T/img/Bag/"*.jpg)
"$DT" predict "${files[@]}" --checkpoint "$T/run-fmnist-bn/last.h5" --batch 7 --topk 10 --csv "$T/bag.csv" 2>/dev/null >/dev/null
diff <(tail -n +2 "$T/bag.csv") <(grep "^$T/img/Bag/" "$T/pred-fmnist-bn.csv") > /dev/null \
  || fail "files named one by one at --batch 7 differ from the folder run"
# 2 threads (files decoded two at a time): the same bytes
OPENBLAS_NUM_THREADS=2 "$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" "$T/img" --topk 10 --csv "$T/pred-2t.csv" \
  > /dev/null 2>&1
cmp -s "$T/pred-2t.csv" "$T/pred-fmnist-bn.csv" || fail "2 threads give another CSV than 1"
# top-k on stdout: 3 classes by falling probability
line=$("$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" "${files[0]}" --topk 3 2>/dev/null)
awk -F', ' '{ if (NF != 3) exit 1; for (i = 1; i <= 3; i++) { n = split($i, w, " "); p[i] = w[n] } ; exit !(p[1] >= p[2] && p[2] >= p[3]) }' <<<"$line" \
  || fail "top-3 line is not 3 classes by falling probability: $line"

# bad files among good ones
B=$T/bad; mkdir -p "$B/sub"
cp "$T/img/Bag/$(ls "$T/img/Bag" | head -1)" "$B/a.jpg"
cp "$T/img/Coat/$(ls "$T/img/Coat" | head -1)" "$B/sub/b.JPEG"
good=$T/img/Dress/$(ls "$T/img/Dress" | head -1)
head -c $(( $(stat -c %s "$good") / 2 )) "$good" > "$B/truncated.jpg"
: > "$B/empty.jpg"
echo "not an image" > "$B/text.jpg"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\10\2\0\0\0' > "$B/png.jpg"
echo "notes" > "$B/notes.txt"
rc=0
"$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" "$B" "$T/missing.jpg" --csv "$T/bad.csv" > "$T/bad.out" 2> "$T/bad.err" || rc=$?
[ "$rc" -eq 0 ] || fail "predict with some bad files exited $rc: $(cat "$T/bad.err")"
[ "$(wc -l < "$T/bad.out")" -eq 2 ] || fail "expected the 2 good files predicted: $(cat "$T/bad.out")"
for f in truncated.jpg empty.jpg text.jpg png.jpg notes.txt; do
  grep -q "skipped $B/$f" "$T/bad.err" || fail "$f not named as skipped: $(cat "$T/bad.err")"
done
grep -q "skipped $T/missing.jpg" "$T/bad.err" || fail "missing file not named: $(cat "$T/bad.err")"
grep "skipped $B/png.jpg" "$T/bad.err" | grep -qi "png" || fail "PNG not recognised: $(grep png.jpg "$T/bad.err")"
grep -q "predicted 2 files, skipped 6" "$T/bad.err" || fail "counts: $(tail -1 "$T/bad.err")"
OPENBLAS_NUM_THREADS=2 "$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" "$B" "$T/missing.jpg" > "$T/bad2.out" 2> "$T/bad2.err"
cmp -s "$T/bad.out" "$T/bad2.out" && cmp -s <(grep -v wrote "$T/bad.err") "$T/bad2.err" \
  || fail "2 threads: other output or skip messages than 1: $(cat "$T/bad2.err")"
[ "$(wc -l < "$T/bad.csv")" -eq 3 ] || fail "bad.csv should hold a header and 2 rows"
grep -q "^$B/sub/b.JPEG," "$T/bad.csv" || fail "sub/b.JPEG (a subfolder, upper-case extension) not predicted"

# all bad: exit 1, no CSV written, an existing one kept
echo keep > "$T/keep.csv"
rc=0
"$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" "$B/empty.jpg" "$B/text.jpg" --csv "$T/keep.csv" > /dev/null 2> "$T/none.err" || rc=$?
[ "$rc" -eq 1 ] || fail "all files bad: exit $rc, expected 1"
grep -q "no image predicted" "$T/none.err" || fail "all bad: $(cat "$T/none.err")"
[ "$(cat "$T/keep.csv")" = keep ] && [ ! -e "$T/keep.csv.partial" ] || fail "all bad: the existing CSV was touched"

# bad command lines and checkpoints
rc=0; "$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" --topk 0 "$B" > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--topk 0: exit $rc, expected 2"
rc=0; "$DT" predict --checkpoint "$T/run-fmnist-bn/last.h5" > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "no paths: exit $rc, expected 2"
expect_error "cannot open checkpoint '$T/nope.h5'" "$DT" predict --checkpoint "$T/nope.h5" "$B"
expect_error "not a dltrain checkpoint" "$DT" predict --checkpoint "$T/g20.h5" "$B"

# multi-label: Planet-style image_name,tags; tags as eval --predictions gives them
fm_tags_csv "$T/img" > "$T/labels.csv"
"$BUILD/dlprep" csv "$T/labels.csv" --images "$T/img" -o "$T/multi.h5" --size 24 --channels 1 > /dev/null
"$DT" train --train "$T/multi.h5" --valid "$T/multi.h5" --model fmnist-bn --epochs 2 --batch 32 --out "$T/run-multi" \
  --no-progress > /dev/null
h5dump -a /task "$T/run-multi/last.h5" | grep -q '"multi"' || fail "multi-label checkpoint lacks task=multi"
"$DT" eval --checkpoint "$T/run-multi/last.h5" --data "$T/multi.h5" --predictions "$T/eval-multi.csv" > /dev/null
"$DT" predict --checkpoint "$T/run-multi/last.h5" "$T/img" --csv "$T/planet.csv" > "$T/multi.out" 2>/dev/null
[ "$(head -1 "$T/planet.csv")" = "image_name,tags" ] || fail "Planet CSV header: $(head -1 "$T/planet.csv")"
[ "$(wc -l < "$T/planet.csv")" -eq 301 ] || fail "Planet CSV should have 300 rows"
diff <(tail -n +2 "$T/planet.csv" | cut -d, -f2) <(tail -n +2 "$T/eval-multi.csv" | cut -d, -f3) > /dev/null \
  || fail "predicted tags differ from eval --predictions'"
tail -n +2 "$T/planet.csv" | cut -d, -f2 | grep -q . || fail "no tag predicted for any image after 2 epochs: $(head -5 "$T/planet.csv")"
echo "cli_predict: passed"
