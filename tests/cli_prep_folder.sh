#!/usr/bin/env bash
# cli_prep_folder.sh BUILD SRC: dlprep folder, csv and export on real JPEGs.
# The tree is made from Fashion-MNIST: `dlprep export` writes 28x28 grey JPEGs
# in class folders, a second export at 40x40 RGB is mixed in (sizes and
# channel counts differ), then bad files are added: a cut-off JPEG, a PNG
# named .jpg, an empty file, a text file (and an unreadable file when not
# root). Counts, labels and class names are checked with h5dump,
# independently of our reader; bad files are named once on stderr and
# skipped; --strict fails and leaves nothing; --store jpeg reads back in
# dltrain; train/ + test/ trees, --valid-fraction and Planet-style CSVs work.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'chmod -R u+rwX "$T"; rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export LC_ALL=C
P="$BUILD/dlprep"

# vals FILE OBJECT [-a]: the values of a dataset (or attribute, with -a), one a line
vals() {
  local flag=-d; [ "${3:-}" = -a ] && flag=-a
  h5dump $flag "$2" -y -w 0 "$1" | awk '/DATA \{/{f=1;next} f&&/^ *\}/{f=0} f' \
    | sed 's/^ *([0-9,]*): *//' | { if [ "$flag" = -a ]; then grep -o '"[^"]*"' | tr -d '"'; else tr ',' '\n' | tr -d ' ' | grep -v '^$'; fi; }
}
shape() { h5dump -H -d "$2" "$1" | grep -o 'SIMPLE { ( [0-9, ]* )' | sed 's/SIMPLE { //'; }
# per_class FILE.h5: "count label" lines from /labels
per_class() { vals "$1" /labels | sort -n | uniq -c | awk '{print $2, $1}'; }
# tree_counts DIR: "index count" of .jpg/.jpeg files per class folder, in sorted order
tree_counts() { local i=0 d; for d in "$1"/*/; do echo "$i $(find "$d" -iname '*.jp*g' | wc -l)"; i=$((i + 1)); done; }
expect_nothing_left() {  # expect_nothing_left OUT "message part" command...: exit 1, last line names it, no file
  local out=$1 want=$2; shift 2
  local msg rc=0
  msg=$("$@" 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || fail "expected failure (rc $rc): $*"
  grep -qF -- "$want" <<<"$(tail -1 <<<"$msg")" || fail "message for '$*' lacks '$want': $msg"
  [ ! -e "$out" ] && [ ! -e "$out.partial" ] || fail "$out left behind after: $msg"
}

names='T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot'
"$P" idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz --class-names "$names" \
  --limit 400 -o "$T/fm.h5" >/dev/null
"$P" export "$T/fm.h5" "$T/tree" --limit 400 | grep -q "exported 400 images 28x28 grey" || fail "export message"
[ -d "$T/tree/T-shirt_top" ] && [ -d "$T/tree/Ankle boot" ] || fail "export class folders: $(ls "$T/tree")"
"$P" export "$T/fm.h5" "$T/rgb" --limit 40 --size 40 --channels 3 >/dev/null
for d in "$T"/rgb/*/; do c=$(basename "$d"); for f in "$d"*.jpg; do cp "$f" "$T/tree/$c/rgb-$(basename "$f")"; done; done
first=$(ls "$T/tree/Bag" | head -1)
cp "$T/tree/Bag/$first" "$T/tree/Bag/UPPER.JPEG"                  # any case: imported
cp -r "$T/tree" "$T/clean"                                         # good files only, for the split checks
head -c 300 "$T/tree/Bag/$first" > "$T/tree/Bag/cut.jpg"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10' > "$T/tree/Bag/bad-png.jpg"
: > "$T/tree/Coat/empty.JPG"
echo "a text file" > "$T/tree/Coat/notes.txt"
bad=(Bag/cut.jpg Bag/bad-png.jpg Coat/empty.JPG Coat/notes.txt)
if [ "$(id -u)" -ne 0 ]; then                                      # root reads chmod 000 files anyway
  cp "$T/tree/Bag/$first" "$T/tree/Dress/locked.jpg"; chmod 000 "$T/tree/Dress/locked.jpg"; bad+=(Dress/locked.jpg)
fi
good=441                                                           # 400 + 40 + UPPER.JPEG

# import: counts, labels per class folder, sorted class names, bad files named once each
"$P" folder "$T/tree" -o "$T/f.h5" --size 32 >"$T/out" 2>"$T/err" || fail "folder import: $(cat "$T/err")"
grep -q "imported $good, skipped ${#bad[@]}" "$T/out" || fail "summary: $(cat "$T/out")"
for b in "${bad[@]}"; do
  [ "$(grep -cF "$T/tree/$b" "$T/err")" -eq 1 ] || fail "$b not named exactly once on stderr: $(cat "$T/err")"
done
[ "$(wc -l < "$T/err")" -eq "${#bad[@]}" ] || fail "stderr has more than one line per bad file: $(cat "$T/err")"
grep -q "bad-png.jpg: a PNG image" "$T/err" || fail "PNG reason: $(cat "$T/err")"
grep -q "notes.txt: not a .jpg/.jpeg file" "$T/err" || fail "txt reason: $(cat "$T/err")"
[ "$(shape "$T/f.h5" /images)" = "( $good, 32, 32, 3 )" ] || fail "/images shape $(shape "$T/f.h5" /images)"
[ "$(vals "$T/f.h5" /class_names -a | paste -sd,)" = "$(ls "$T/tree" | paste -sd,)" ] || fail "class names $(vals "$T/f.h5" /class_names -a | paste -sd,)"
diff <(per_class "$T/f.h5") <(tree_counts "$T/clean") >/dev/null || fail "labels per class: $(per_class "$T/f.h5" | paste -sd' ')"
# grey sources become three equal channels
px=$(h5dump -d /images -s 0,16,16,0 -c 1,1,1,3 -y -w 0 "$T/f.h5" | awk '/DATA \{/{getline; print}' | tr -d ' ')
[ "$(cut -d, -f1 <<<"$px")" = "$(cut -d, -f2 <<<"$px")" ] && [ "$(cut -d, -f2 <<<"$px")" = "$(cut -d, -f3 <<<"$px")" ] \
  || fail "grey image not repeated over 3 channels: $px"
"$P" folder "$T/tree" -o "$T/g.h5" --size 20 --channels 1 >/dev/null 2>&1
[ "$(shape "$T/g.h5" /images)" = "( $good, 20, 20, 1 )" ] || fail "--channels 1 shape"

# --strict: the first bad file (in sorted order) stops it; nothing is written
expect_nothing_left "$T/s.h5" "$T/tree/Bag/bad-png.jpg: a PNG image" "$P" folder "$T/tree" -o "$T/s.h5" --size 32 --strict

# --store jpeg: /jpeg + size attributes; dltrain reads it; export decodes it
"$P" folder "$T/tree" -o "$T/j.h5" --size 32 --store jpeg --quality 90 2>/dev/null | grep -q "as JPEG (quality 90" || fail "jpeg store message"
h5dump -H "$T/j.h5" | grep -q 'DATASET "jpeg"' || fail "no /jpeg in $T/j.h5"
h5dump -a /height "$T/j.h5" | grep -q "32" || fail "height attribute"
[ "$(vals "$T/j.h5" /labels | paste -sd,)" = "$(vals "$T/f.h5" /labels | paste -sd,)" ] || fail "jpeg store labels differ from raw"
[ "$(stat -c %s "$T/j.h5")" -lt "$(stat -c %s "$T/f.h5")" ] || fail "--store jpeg is not smaller than raw"
"$BUILD/dltrain" summary --model fmnist-bn --data "$T/j.h5" | grep -q "Total params" || fail "dltrain summary --data on a /jpeg file"
"$P" export "$T/j.h5" "$T/back" --limit 3 | grep -q "exported 3 images 32x32 RGB" || fail "export of a /jpeg file"
expect_nothing_left "$T/x.h5" "--quality applies only with --store jpeg" "$P" folder "$T/tree" -o "$T/x.h5" --size 32 --quality 90

# train/ + test/ layout writes both; classes must agree
mkdir -p "$T/split"; cp -r "$T/clean" "$T/split/train"
"$P" export "$T/fm.h5" "$T/split/test" --limit 100 >/dev/null
"$P" folder "$T/split" -o "$T/tr.h5" --valid-out "$T/te.h5" --size 28 --channels 1 >"$T/out" 2>&1 || fail "split import: $(cat "$T/out")"
[ "$(shape "$T/tr.h5" /images)" = "( $good, 28, 28, 1 )" ] || fail "train part shape $(shape "$T/tr.h5" /images)"
[ "$(shape "$T/te.h5" /images)" = "( 100, 28, 28, 1 )" ] || fail "test part shape $(shape "$T/te.h5" /images)"
# 28x28 grey JPEG at --size 28 --channels 1: the first sample equals its source image within JPEG error
src=$(ls "$T/split/train/Ankle boot" | head -1); src=$((10#${src%.jpg}))
img() { h5dump -d /images -s "$2,0,0,0" -c 1,28,28,1 -y -w 0 "$1" | awk '/DATA \{/{f=1;next} f&&/^ *\}/{f=0} f' | tr ',' '\n' | tr -d ' ' | grep -v '^$'; }
maxd=$(paste <(img "$T/tr.h5" 0) <(img "$T/fm.h5" $src) | awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {print m+0}')
[ "$maxd" -le 12 ] || fail "sample 0 differs from fm.h5 image $src by $maxd levels"
expect_nothing_left "$T/tr2.h5" "give --valid-out" "$P" folder "$T/split" -o "$T/tr2.h5" --size 28
mkdir "$T/split/test/Extra"; cp "$T/tree/Bag/$first" "$T/split/test/Extra/"
expect_nothing_left "$T/tr2.h5" "class folder '$T/split/test/Extra' has no match in '$T/split/train'" \
  "$P" folder "$T/split" -o "$T/tr2.h5" --valid-out "$T/te2.h5" --size 28
rm -r "$T/split/test/Extra"; mkdir "$T/clean2"; cp -r "$T/clean/Bag" "$T/clean2/"; mkdir "$T/clean2/Empty class"
expect_nothing_left "$T/e.h5" "class folder '$T/clean2/Empty class' holds no .jpg/.jpeg files" "$P" folder "$T/clean2" -o "$T/e.h5" --size 8

# --valid-fraction: round(F * n) of each class, seeded
"$P" folder "$T/clean" -o "$T/vt.h5" --valid-out "$T/vv.h5" --valid-fraction 0.2 --seed 7 --size 16 --channels 1 >/dev/null
diff <(per_class "$T/vv.h5") <(tree_counts "$T/clean" | awk '{printf "%d %d\n", $1, int(0.2 * $2 + 0.5)}') >/dev/null \
  || fail "valid split per class: $(per_class "$T/vv.h5" | paste -sd' ')"
diff <(per_class "$T/vt.h5") <(tree_counts "$T/clean" | awk '{printf "%d %d\n", $1, $2 - int(0.2 * $2 + 0.5)}') >/dev/null \
  || fail "train split per class: $(per_class "$T/vt.h5" | paste -sd' ')"
"$P" folder "$T/clean" -o "$T/vt2.h5" --valid-out "$T/vv2.h5" --valid-fraction 0.2 --seed 7 --size 16 --channels 1 >/dev/null
h5diff "$T/vv.h5" "$T/vv2.h5" >/dev/null || fail "same seed, different split"
"$P" folder "$T/clean" -o "$T/vt3.h5" --valid-out "$T/vv3.h5" --valid-fraction 0.2 --seed 8 --size 16 --channels 1 >/dev/null
! h5diff "$T/vv.h5" "$T/vv3.h5" >/dev/null || fail "--seed does not change the split"
expect_nothing_left "$T/v4.h5" "--valid-fraction needs --valid-out" "$P" folder "$T/clean" -o "$T/v4.h5" --valid-fraction 0.2 --size 8

# Planet-style CSV: sorted tag vocabulary, 0/1 targets, a sample without tags
mkdir "$T/planet"
for n in a b c d e; do cp "$T/tree/Bag/$first" "$T/planet/train_$n.jpg"; done
cp "$T/tree/Bag/cut.jpg" "$T/planet/train_f.jpg"
printf 'image_name,tags\r\ntrain_a,clear primary\r\ntrain_b,haze\r\ntrain_c,\r\ntrain_d,road water\r\ntrain_e.jpg,primary  clear\r\ntrain_f,haze\r\n' > "$T/planet/labels.csv"
"$P" csv "$T/planet/labels.csv" --images "$T/planet" -o "$T/p.h5" --size 16 >"$T/out" 2>"$T/err" || fail "csv import: $(cat "$T/err")"
grep -q "imported 5, skipped 1" "$T/out" || fail "csv summary: $(cat "$T/out")"
grep -q "train_f.jpg: " "$T/err" || fail "csv: cut file not named: $(cat "$T/err")"
[ "$(vals "$T/p.h5" /class_names -a | paste -sd,)" = "clear,haze,primary,road,water" ] || fail "tag vocabulary"
[ "$(vals "$T/p.h5" /targets | paste -sd' ')" = "1 0 1 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 1 1 1 0 1 0 0" ] \
  || fail "targets: $(vals "$T/p.h5" /targets | paste -sd' ')"
h5dump -a /task "$T/p.h5" | grep -q '"multi"' || fail "task multi"
"$P" csv "$T/planet/labels.csv" --images "$T/planet" -o "$T/pt.h5" --valid-out "$T/pv.h5" --valid-fraction 0.4 --size 16 >/dev/null 2>&1
[ "$(shape "$T/pt.h5" /targets)" = "( 3, 5 )" ] && [ "$(shape "$T/pv.h5" /targets)" = "( 2, 5 )" ] || fail "csv split 3 + 2"
# export of a multi-label set writes labels.csv, which re-imports to the same targets
"$P" export "$T/p.h5" "$T/pexp" >/dev/null
head -1 "$T/pexp/labels.csv" | grep -qx "image_name,tags" || fail "export labels.csv header"
"$P" csv "$T/pexp/labels.csv" --images "$T/pexp" -o "$T/p2.h5" --size 16 >/dev/null
[ "$(vals "$T/p2.h5" /targets | paste -sd' ')" = "$(vals "$T/p.h5" /targets | paste -sd' ')" ] || fail "csv export round trip"
# CSV errors name file:line
printf 'image_name,tags\ntrain_a,clear\ntrain_zz,haze\n' > "$T/missing.csv"
expect_nothing_left "$T/o.h5" "$T/missing.csv:3: no image 'train_zz'" "$P" csv "$T/missing.csv" --images "$T/planet" -o "$T/o.h5" --size 8
printf 'image_name,tags\ntrain_a clear\n' > "$T/nocomma.csv"
expect_nothing_left "$T/o.h5" "$T/nocomma.csv:2: no comma" "$P" csv "$T/nocomma.csv" --images "$T/planet" -o "$T/o.h5" --size 8
printf 'image_name,tags\ntrain_a,clear\n,haze\n' > "$T/noname.csv"
expect_nothing_left "$T/o.h5" "$T/noname.csv:3: empty image name" "$P" csv "$T/noname.csv" --images "$T/planet" -o "$T/o.h5" --size 8
printf 'file;labels\ntrain_a;clear\n' > "$T/header.csv"
expect_nothing_left "$T/o.h5" "$T/header.csv:1: unknown header" "$P" csv "$T/header.csv" --images "$T/planet" -o "$T/o.h5" --size 8
expect_nothing_left "$T/o.h5" "train_f.jpg: " "$P" csv "$T/planet/labels.csv" --images "$T/planet" -o "$T/o.h5" --size 8 --strict
echo "cli_prep_folder: passed"
