#!/usr/bin/env bash
# cli_multilabel.sh BUILD SRC: a multi-label task end to end, Planet style.
# Fashion-MNIST images exported as JPEGs, tagged from their class (clothing,
# upper, lower, warm, footwear, summer: 0-3 tags each, none for a bag), imported
# with `dlprep csv`, trained with the sigmoid loss (chosen from the file's
# task), validated with per-sample F2, and evaluated with `dltrain eval`.
set -euo pipefail
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap '[ -n "$KEEP" ] || rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
fm_train 1600 "$T/fm.h5" --class-names tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot
"$BUILD/dlprep" export "$T/fm.h5" "$T/img" >/dev/null
{
  echo "image_name,tags"
  for dir in "$T"/img/*/; do
    cls=$(basename "$dir")
    case $cls in
      tshirt|shirt) tags="clothing upper" ;;  trouser) tags="clothing lower" ;;  dress) tags="clothing" ;;
      pullover|coat) tags="clothing upper warm" ;;  sandal) tags="footwear summer" ;;  sneaker) tags="footwear" ;;
      boot) tags="footwear warm" ;;  bag) tags="" ;;
    esac
    for f in "$dir"*.jpg; do echo "$cls/$(basename "$f" .jpg),$tags"; done
  done
} > "$T/labels.csv"
"$BUILD/dlprep" csv "$T/labels.csv" --images "$T/img" -o "$T/train.h5" --valid-out "$T/valid.h5" \
  --valid-fraction 0.25 --size 28 --channels 1 > "$T/prep.log"
grep -q "imported 1600, skipped 0" "$T/prep.log" || fail "csv import: $(cat "$T/prep.log")"
[ "$(h5dump -A -a /class_names "$T/train.h5" | grep -o '"[a-z]*"' | wc -l)" -eq 6 ] || fail "expected 6 tags"
cat > "$T/net.txt" <<'NET'
conv    name=conv1 filters=8 size=3 pad=same
bn      name=bn1
relu
maxpool size=2
conv    name=conv2 filters=16 size=3 pad=same
relu
maxpool size=2
dense   name=fc1 units=32
relu
dense   name=fc2 units=classes
NET
"$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" --epochs 3 --batch 32 \
  --lr 0.05 --out "$T/run" --no-progress --topk 1 > "$T/train.log"
head -1 "$T/run/metrics.csv" | grep -q "^epoch,train_loss,valid_loss,accuracy,exact_match,f2,time,images_per_s$" \
  || fail "multi-label metrics.csv columns: $(head -1 "$T/run/metrics.csv")"
f2=$(tail -n 1 "$T/run/metrics.csv" | cut -d, -f6)
awk -v f="$f2" 'BEGIN { exit !(f > 0.8) }' || fail "F2 $f2 after 3 epochs, expected > 0.8"
"$BUILD/dltrain" eval --checkpoint "$T/run/last.h5" --data "$T/valid.h5" --csv "$T/eval.csv" > "$T/eval.log"
grep -q "f2 (samples) $(printf %.4f "$f2")" "$T/eval.log" || fail "eval F2 differs from training's $f2: $(head -2 "$T/eval.log")"
grep -q "^samples_avg," "$T/eval.csv" || fail "eval.csv lacks samples_avg"
# report.html: per-tag F2 equal to eval's CSV, the threshold curve through the
# run's own F2 at 0.5, the worst samples with true and predicted tags
/usr/bin/python3 - "$T/run/report.html" "$T/eval.csv" "$f2" <<'PY' || fail "multi-label report.html"
import csv, json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))
assert d["multi"] and len(d["classes"]) == 6
rows = {r["tag"]: r for r in csv.DictReader(open(sys.argv[2]))}
for pc in d["per_class"]:
    assert "%.6f" % pc["fbeta"] == rows[pc["name"]]["f2"], pc
curve = {round(p["threshold"], 2): p["fbeta"] for p in d["threshold_curve"]}
assert len(curve) == 19 and "%.6f" % curve[0.5] == sys.argv[3], (curve[0.5], sys.argv[3])
assert len(d["top_losses"]) == 16 and 'id="chart-threshold"' in html
assert html.count("<figcaption>true: ") >= 16 and "predicted: " in html
PY
echo "cli_multilabel: passed"
