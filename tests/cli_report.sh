#!/usr/bin/env bash
# cli_report.sh BUILD SRC: report.html as a user gets it, on real
# Fashion-MNIST images, 2 MPI ranks, opened in headless Chromium.
#  - the page's DOM has the charts, the confusion heat maps with every class
#    name, the top-loss thumbnails and the Grad-CAM overlays; it loads no
#    external resource, and its screenshot is not blank;
#  - the numbers in its JSON block equal metrics.csv's and `dltrain eval`'s;
#  - its Grad-CAM maps equal PyTorch hooks' on the same weights and images;
#  - `dltrain report RUNDIR` and `dltrain interpret` write the same numbers;
#    `dltrain show-batch` writes a grid that changes with --augment;
#  - a new run refuses a directory holding one (nothing touched), --overwrite
#    replaces it; events.jsonl parses line by line even for a skipped epoch.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
PY=/usr/bin/python3

NAMES="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag & <purse>,Ankle boot"
fm_train 2048 "$T/train.h5" --class-names "$NAMES"
fm_test 512 "$T/valid.h5" --class-names "$NAMES"
small_net "$T/net.txt"
RUN=$T/run
"${MPI[@]}" -np 2 "$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" \
  --epochs 2 --batch 32 --lr 0.05 --topk 3 --fbeta 1 --out "$RUN" --no-progress > "$T/train.log" 2>&1 \
  || { cat "$T/train.log"; fail "train failed"; }
[ -s "$RUN/report.html" ] || fail "no report.html after training"
ls "$RUN" | grep -q partial && fail "a .partial file was left in the run directory"

# (3) the JSON block against metrics.csv and dltrain eval (the last epoch is last.h5)
"$BUILD/dltrain" eval --checkpoint "$RUN/last.h5" --data "$T/valid.h5" --topk 3 --fbeta 1 --csv "$T/eval.csv" > "$T/eval.log" \
  || fail "eval failed"
check_numbers() {  # check_numbers REPORT METRICS_CSV|- EVAL_LOG EVAL_CSV [lr: each epoch has its lr]
  $PY - "$@" <<'PY' || fail "report numbers: $1"
import csv, json, re, sys
report, metrics, evlog, evcsv = sys.argv[1:5]
html = open(report, encoding="utf-8").read()
data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))
ev = data["eval"]
if metrics != "-":
    rows = list(csv.DictReader(open(metrics)))
    assert len(data["epochs"]) == len(rows), (len(data["epochs"]), len(rows))
    for got, want in zip(data["epochs"], rows):
        for k, v in want.items():   # the same text, so the same number
            assert "%.6f" % got[k] == "%.6f" % float(v), (k, got[k], v)
        assert len(sys.argv) < 6 or (got["lr"] is not None and got["lr"] > 0), got
    last = rows[-1]
    assert "%.6f" % ev["loss"] == last["valid_loss"], (ev["loss"], last["valid_loss"])
    assert "%.6f" % ev["accuracy"] == last["accuracy"], (ev["accuracy"], last["accuracy"])
    assert "%.6f" % ev["topk_accuracy"] == last["top3_accuracy"]
    assert "%.6f" % ev["fbeta"] == last["f1"]
log = open(evlog).read()
m = re.search(r"loss ([0-9.]+)  accuracy ([0-9.]+)  top3_accuracy ([0-9.]+)  f1 \(macro\) ([0-9.]+)", log)
assert m, log
for got, want in zip((ev["loss"], ev["accuracy"], ev["topk_accuracy"], ev["fbeta"]), m.groups()):
    assert "%.4f" % got == want, (got, want)
rows = {r["class"]: r for r in csv.DictReader(open(evcsv))}
names = data["classes"]
assert len(names) == 10 and names[8] == "Bag & <purse>", names
for i, name in enumerate(names):
    r = rows[name]
    assert [int(r["pred_" + n]) for n in names] == data["confusion"][i], name
    pc = data["per_class"][i]
    assert pc["name"] == name and pc["support"] == int(r["support"])
    for k, col in (("precision", "precision"), ("recall", "recall"), ("fbeta", "f1")):
        assert "%.6f" % pc[k] == r[col], (name, k, pc[k], r[col])
assert len(data["top_losses"]) == 16 and len(data["cam"]["items"]) == 8
losses = [t["loss"] for t in data["top_losses"]]
assert losses == sorted(losses, reverse=True) and losses[0] > 1.0, losses
PY
}
check_numbers "$RUN/report.html" "$RUN/metrics.csv" "$T/eval.log" "$T/eval.csv" lr

# (2) Grad-CAM against PyTorch hooks on the same weights and images
$PY "$SRC/tests/reference/gradcam_ref.py" "$RUN/last.h5" "$T/valid.h5" "$RUN/report.html" 1e-4 \
  || fail "Grad-CAM differs from PyTorch's"

# (1) the page in headless Chromium: DOM, no external resource, a real screenshot
CHROME=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
        --disable-component-update --disable-sync --user-data-dir="$T/chrome" --window-size=1200,2000)
timeout 120 "${CHROME[@]}" --dump-dom "file://$RUN/report.html" > "$T/dom.html" 2> "$T/chrome.log" || { tail -5 "$T/chrome.log"; fail "chromium --dump-dom failed"; }
timeout 120 "${CHROME[@]}" --screenshot="$T/shot.png" "file://$RUN/report.html" >> "$T/chrome.log" 2>&1 || fail "chromium --screenshot failed"
$PY - "$T/dom.html" "$T/shot.png" "$NAMES" <<'PY' || fail "report.html in Chromium"
import sys
from html.parser import HTMLParser
import torch, torchvision.io as tio
dom, shot, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = []; self.stack = []; self.text = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs); self.tags.append((tag, a)); self.stack.append((tag, a))
    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag: pass
    def handle_data(self, d):
        ids = [a.get("id") for _, a in self.stack if a.get("id")]
        for i in ids: self.text.setdefault(i, []).append(d)
p = P(); p.feed(open(dom, encoding="utf-8").read())
svgs = [a.get("id") for t, a in p.tags if t == "svg"]
for want in ("chart-loss", "chart-metrics", "chart-lr"):
    assert want in svgs, (want, svgs)
assert sum(t == "polyline" for t, _ in p.tags) >= 4, "the charts have no lines"
assert sum(t == "text" and a.get("class") == "tick" for t, a in p.tags) >= 12, "the charts have no axis ticks"
for table in ("confusion-counts", "confusion-normalized"):
    cells = "".join(p.text.get(table, []))
    for n in names: assert n in cells, (table, n)
    assert sum(t == "td" and "background" in a.get("style", "") for t, a in p.tags) >= 200
thumbs = [a for t, a in p.tags if t == "img" and a.get("class") == "thumb"]
cams = [a for t, a in p.tags if t == "img" and a.get("class") == "cam-overlay"]
assert len(thumbs) == 16 and len(cams) == 8, (len(thumbs), len(cams))
assert all(a["src"].startswith("data:image/jpeg;base64,/9j/") for a in thumbs + cams)
# nothing external: every src/href is a data URI or a fragment; no script code, no CSS url(), no <link>
for t, a in p.tags:
    assert t not in ("link", "iframe", "object", "embed"), t
    assert not (t == "script" and (a.get("src") or a.get("type") != "application/json")), a
    for k in ("src", "href", "srcset", "poster", "background"):
        if k in a: assert a[k].startswith("data:") or a[k].startswith("#"), (t, k, a[k][:60])
src = open(dom, encoding="utf-8").read()
assert "url(" not in src and "@import" not in src
img = tio.read_image(shot).float()
assert img.shape[1] >= 1000, img.shape
assert img.std() > 20 and len(torch.unique(img[:3].reshape(3, -1), dim=1)[0]) > 50, "the screenshot looks blank"
PY

# dltrain report RUNDIR rebuilds it (from the run's files alone); interpret writes the same numbers
rm "$RUN/report.html"
"$BUILD/dltrain" report "$RUN" --topk 3 --fbeta 1 > "$T/report.log" || { cat "$T/report.log"; fail "dltrain report failed"; }
check_numbers "$RUN/report.html" "$RUN/metrics.csv" "$T/eval.log" "$T/eval.csv" lr
"$BUILD/dltrain" interpret --checkpoint "$RUN/last.h5" --data "$T/valid.h5" --out "$T/interp" --topk 3 --fbeta 1 > "$T/interp.log" \
  || { cat "$T/interp.log"; fail "dltrain interpret failed"; }
check_numbers "$T/interp/report.html" "$RUN/metrics.csv" "$T/eval.log" "$T/eval.csv"   # curves from the checkpoint
"$BUILD/dltrain" interpret --checkpoint "$RUN/last.h5" --data "$T/valid.h5" --out "$T/interp4" --cam 4 >/dev/null
grep -o 'class="cam-overlay"' "$T/interp4/report.html" | wc -l | grep -qx 4 || fail "--cam 4 did not give 4 overlays"
# a run still in its first epoch: metrics.csv with the header only, no checkpoint yet
mkdir "$T/young"; head -1 "$RUN/metrics.csv" > "$T/young/metrics.csv"; cp "$RUN/events.jsonl" "$T/young/"
"$BUILD/dltrain" report "$T/young" > /dev/null || fail "report of a run without a checkpoint"
grep -q 'id="chart-loss"' "$T/young/report.html" || fail "the young run's report has no curves section"
expect_error "has no metrics.csv" "$BUILD/dltrain" report "$T/nowhere"
expect_error "cannot open" "$BUILD/dltrain" interpret --checkpoint "$T/nope.h5" --data "$T/valid.h5" --out "$T/x"

# show-batch: a real JPEG grid; --augment changes it, the same flags give the same bytes
"$BUILD/dltrain" show-batch --data "$T/train.h5" -o "$T/plain.jpg" > /dev/null || fail "show-batch"
"$BUILD/dltrain" show-batch --data "$T/train.h5" --augment hflip,translate=3 -o "$T/aug.jpg" > /dev/null
"$BUILD/dltrain" show-batch --data "$T/train.h5" --augment hflip,translate=3 -o "$T/aug2.jpg" > /dev/null
cmp -s "$T/aug.jpg" "$T/aug2.jpg" || fail "show-batch is not reproducible"
$PY - "$T/plain.jpg" "$T/aug.jpg" <<'PY' || fail "show-batch grids"
import sys, torchvision.io as tio
a, b = (tio.read_image(p).float() for p in sys.argv[1:3])
assert a.shape == b.shape == (1, 4 * 86 + 2, 4 * 86 + 2), a.shape   # 16 images of 84x84 (28x28 x3) with 2-pixel gaps
assert a.std() > 30 and (a - b).abs().mean() > 5, "augmentation changed nothing"
PY

# a new run refuses a directory that holds one, touching nothing; --overwrite replaces it
sum_before=$(cd "$RUN" && md5sum * | md5sum)
expect_error "already holds a run (last.h5): continue it with --resume $RUN/last.h5" \
  "$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" --epochs 1 --out "$RUN"
[ "$(cd "$RUN" && md5sum * | md5sum)" = "$sum_before" ] || fail "the refused run changed the directory"
"$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/net.txt" --epochs 1 --batch 32 \
  --out "$RUN" --overwrite --no-progress > /dev/null || fail "--overwrite failed"
[ "$(wc -l < "$RUN/metrics.csv")" -eq 2 ] || fail "--overwrite kept the old metrics"
grep -c '"event":"start"' "$RUN/events.jsonl" | grep -qx 1 || fail "--overwrite kept the old events"

# events.jsonl stays JSON when an epoch is skipped whole (NaN loss) and names are odd
cp "$T/net.txt" "$T/n$(printf '\xc3\xa9')t.txt"
"$BUILD/dltrain" train --train "$T/train.h5" --valid "$T/valid.h5" --model "$T/n$(printf '\xc3\xa9')t.txt" --epochs 2 \
  --batch 32 --lr 1e30 --skip-nonfinite --limit 256 --out "$T/nan" --no-progress > "$T/nan.log" 2>&1 || true
grep -q "skipped epoch 2" "$T/nan.log" || { cat "$T/nan.log"; fail "the NaN run skipped nothing in epoch 2"; }
$PY - "$T/nan/events.jsonl" <<'PY' || fail "events.jsonl is not JSON line by line"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
ev = [json.loads(l) for l in lines]
assert ev[0]["model"].endswith("n\u00e9t.txt"), ev[0]["model"]
ep = [e for e in ev if e["event"] == "epoch"]
assert len(ep) == 2 and ep[1]["train_loss"] is None, ep
PY
echo "cli_report: 1 passed, 0 failed"
