#!/usr/bin/python3
"""Grad-CAM with PyTorch hooks, checked against the maps dltrain embeds in
report.html (tests/cli_report.sh runs it).

    gradcam_ref.py CHECKPOINT.h5 DATASET.h5 REPORT.html [TOL]

Builds the checkpoint's model in torch with make_ref.py's builder (the same
text format, layer names and layouts), loads its weights and running
statistics, and for every image of the report's "cam" block computes, in
float64 and eval mode, Grad-CAM (Selvaraju et al.) at the layer the report
names: a forward hook keeps that layer's output A and a tensor hook its
gradient dA of the class logit; alpha_k = mean of dA_k over positions,
map = relu(sum_k alpha_k A_k). Every map must equal dltrain's within TOL
(default 1e-4) times the largest map value (at least 0.01), and the maps
must not be all zero. It also prints how far a near miss (the gradient
taken before the ReLU) lands, to show the check can tell them apart.
Exit status 1 with the worst difference otherwise.
"""
import json
import os
import re
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ref  # noqa: E402


def attr_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        v = v.flat[0]
        return v.decode() if isinstance(v, bytes) else str(v)
    return str(v)


def main():
    ckpt, data, report = sys.argv[1:4]
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    html = open(report, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    if not m:
        sys.exit("FAIL: %s has no report-data block" % report)
    cam = json.loads(m.group(1))["cam"]
    with h5py.File(ckpt, "r") as f:
        text = attr_str(f.attrs["model"])
        c, h, w = (int(v) for v in f.attrs["input"])
        text = text.replace("units=classes", "units=%d" % len(f.attrs["class_names"]))
        inp, layers = make_ref.parse(text)
        if inp is None:
            text = "input channels=%d height=%d width=%d\n" % (c, h, w) + text
        _, mods = make_ref.build(text)
        net = make_ref.Graph(mods).double().eval()
        for mod in mods:
            tensors = {}
            for grp in ("params", "state"):
                if grp in f and mod.name in f[grp]:
                    for k, v in f[grp][mod.name].items():
                        tensors[k] = torch.from_numpy(np.asarray(v, dtype=np.float64))
            if not tensors:
                continue
            target = mod.mod[1] if isinstance(mod.mod, torch.nn.Sequential) and mod.kind == "dense" else mod.mod
            for k, v in tensors.items():
                getattr(target, k).data.copy_(v.reshape(getattr(target, k).shape))
        norm = "normalize_mean" in f.attrs
        mean = np.asarray(f.attrs["normalize_mean"], dtype=np.float64) if norm else None
        std = np.asarray(f.attrs["normalize_std"], dtype=np.float64) if norm else None
    with h5py.File(data, "r") as f:
        imgs = f["images"]
        idx = [it["index"] for it in cam["items"]]
        x = np.stack([np.asarray(imgs[i], dtype=np.float32) / np.float32(255.0) for i in idx]).astype(np.float64)
    x = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()   # NHWC -> NCHW
    if norm:
        x = (x - torch.from_numpy(mean[:c]).view(1, c, 1, 1)) / torch.from_numpy(std[:c]).view(1, c, 1, 1)
    layer = [mod for mod in mods if mod.name == cam["layer"]]
    if not layer:
        sys.exit("FAIL: the report's CAM layer %r is not in the model" % cam["layer"])
    kept = {}

    def hook(_mod, _inp, out):
        kept["A"] = out
        out.register_hook(lambda g: kept.__setitem__("dA", g))

    layer[0].register_forward_hook(hook)
    worst, biggest, gated = 0.0, 0.0, 0.0
    for n, it in enumerate(cam["items"]):
        net.zero_grad()
        logits = net(x[n:n + 1].clone().requires_grad_(True))
        logits[0, it["class"]].backward()
        A, dA = kept["A"][0].detach(), kept["dA"][0]
        alpha = dA.mean(dim=(1, 2))
        ref = torch.relu((alpha[:, None, None] * A).sum(0)).numpy()
        ours = np.asarray(it["map"], dtype=np.float64).reshape(cam["h"], cam["w"])
        if ours.shape != ref.shape:
            sys.exit("FAIL: map %d is %s, torch's %s" % (n, ours.shape, ref.shape))
        worst = max(worst, float(np.abs(ours - ref).max()))
        # a near miss the check must tell apart: the gradient taken before the ReLU (gated by A > 0)
        alt = torch.relu(((dA * (A > 0)).mean(dim=(1, 2))[:, None, None] * A).sum(0)).numpy()
        gated = max(gated, float(np.abs(alt - ref).max()))
        biggest = max(biggest, float(np.abs(ref).max()))
    print("gradcam_ref: %d maps of layer %s (%dx%d), max |dltrain - torch| = %.3g, max map value %.3g "
          "(the pre-ReLU-gradient variant would differ by %.3g)"
          % (len(cam["items"]), cam["layer"], cam["h"], cam["w"], worst, biggest, gated))
    if not biggest > 0:
        sys.exit("FAIL: every map is zero: the comparison would prove nothing")
    if not worst <= tol * max(biggest, 1e-2):
        sys.exit("FAIL: Grad-CAM differs from PyTorch's by %.3g > %g x the largest map value" % (worst, tol))


if __name__ == "__main__":
    main()
