#!/usr/bin/python3
"""check_export.py MODEL.onnx DATA.h5 PREDICTIONS ORT_DIR TMP: checks a graph
written by `dltrain export` against `dltrain predict`, image for image.

- python3-onnx's checker (with shape inference) accepts the file; the input is
  float32 (N, C, H, W) with a symbolic batch dimension, the outputs are
  "logits" and "softmax" (single-label) or "sigmoid" (multi-label), and
  metadata_props holds the dataset's class names and task.
- ONNX Runtime (onnxruntime-node, under Node: tests/ort/run_ort.js) runs the
  graph on the dataset's presized images scaled to [0,1] (DATA.h5 is what
  `dlprep folder` made of the JPEG files predict read, with the same decoder
  and resize code); its probabilities must equal predict's within 1e-5 for
  every image and class, and the same argmax (single-label). A second run on
  the first 3 images alone (another batch size) must give the same values.
CHECK_TOL in the environment replaces the 1e-5 tolerance.
PREDICTIONS: single-label, predict's --csv written with --topk K (every
class); multi-label, predict's stdout with --threshold 0 (every tag).
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import onnx

TOL = float(os.environ.get("CHECK_TOL", "1e-5"))   # the walkthrough passes a looser one (README)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read_predict(path, names, multi):
    """(n, k) probabilities in class order from predict's output."""
    rows = []
    idx = {c: j for j, c in enumerate(names)}
    if multi:
        for line in open(path):
            _, _, rest = line.rstrip("\n").rpartition(": ")
            p = np.full(len(names), np.nan)
            for item in rest.split(", "):
                tag, _, val = item.rpartition(" ")
                p[idx[tag]] = float(val)
            rows.append(p)
    else:
        import csv
        with open(path, newline="") as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                p = np.full(len(names), np.nan)
                pairs = row[1:]
                for j in range(0, len(pairs), 2):
                    p[idx[pairs[j]]] = float(pairs[j + 1])
                rows.append(p)
    a = np.array(rows)
    if np.isnan(a).any():
        fail("%s does not list every class for every image (run predict with --topk K / --threshold 0)" % path)
    return a


def run_ort(model, x, ort_dir, tmp, tag):
    out = os.path.join(tmp, "ort-" + tag)
    os.makedirs(out, exist_ok=True)
    inp = os.path.join(out, "input.f32")
    x.astype("<f4").tofile(inp)
    env = dict(os.environ, NODE_PATH=os.path.join(ort_dir, "node_modules"))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_ort.js")
    subprocess.run(["node", script, model, inp] + [str(d) for d in x.shape] + [out], check=True, env=env)
    sess = json.load(open(os.path.join(out, "session.json")))
    res = {n: np.fromfile(os.path.join(out, n + ".f32"), dtype="<f4").reshape(sess["shapes"][n]) for n in sess["outputNames"]}
    return sess, res


def main():
    model_path, data, predictions, ort_dir, tmp = sys.argv[1:6]
    m = onnx.load(model_path)
    onnx.checker.check_model(m, full_check=True)
    meta = {p.key: p.value for p in m.metadata_props}
    with h5py.File(data, "r") as f:
        images = f["images"][()]
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in f.attrs["class_names"]]
        multi = (f.attrs["task"].decode() if isinstance(f.attrs["task"], bytes) else str(f.attrs["task"])) == "multi"
    prob_name = "sigmoid" if multi else "softmax"
    if json.loads(meta.get("class_names", "null")) != names:
        fail("metadata class_names %r, dataset %r" % (meta.get("class_names"), names))
    if meta.get("task") != ("multi" if multi else "single"):
        fail("metadata task %r" % meta.get("task"))
    inp = m.graph.input[0]
    dims = inp.type.tensor_type.shape.dim
    if inp.name != "input" or inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or len(dims) != 4 \
            or not dims[0].dim_param or dims[0].dim_value:
        fail("graph input is not float32 (N, C, H, W) with a symbolic N: %s" % inp)
    outs = [o.name for o in m.graph.output]
    if outs != ["logits", prob_name]:
        fail("graph outputs %r, expected ['logits', %r]" % (outs, prob_name))
    ops = sorted({n.op_type for n in m.graph.node})
    if "Dropout" in ops:
        fail("the inference graph still has Dropout")

    x = images.astype(np.float32) / np.float32(255.0)        # (N, H, W, C) -> (N, C, H, W)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    sess, res = run_ort(model_path, x, ort_dir, tmp, "all")
    ours = read_predict(predictions, names, multi)
    theirs = res[prob_name]
    if theirs.shape != ours.shape:
        fail("ONNX Runtime gave %s probabilities, predict %s" % (theirs.shape, ours.shape))
    diff = np.abs(theirs - ours).max()
    if not diff <= TOL:
        i = int(np.abs(theirs - ours).max(axis=1).argmax())
        fail("image %d: ONNX Runtime %s vs predict %s (max |diff| %.3g > %g)" % (i, theirs[i], ours[i], diff, TOL))
    if not multi and (theirs.argmax(1) != ours.argmax(1)).any():
        fail("ONNX Runtime and predict pick different classes")
    logits = res["logits"]
    _, few = run_ort(model_path, x[:3], ort_dir, tmp, "three")
    d3 = np.abs(few[prob_name] - theirs[:3]).max()
    if not d3 <= 1e-6:
        fail("a batch of 3 gives other values than the batch of %d (max |diff| %.3g)" % (len(x), d3))
    print("check_export: %s: ONNX Runtime %s == dltrain predict on %d images x %d classes, max |diff| %.2e "
          "(batch of 3: %.2e); ops %s; logits range [%.2f, %.2f]"
          % (os.path.basename(model_path), sess.get("ortVersion", {}).get("node", "?") if isinstance(sess.get("ortVersion"), dict) else "",
             len(x), len(names), diff, d3, ",".join(ops), logits.min(), logits.max()))


if __name__ == "__main__":
    main()
