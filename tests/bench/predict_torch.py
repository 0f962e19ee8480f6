#!/usr/bin/python3
"""predict_torch.py CKPT DIR [--threads N] [--batch B]: PyTorch's side of
tests/bench/bench_predict.sh. The same model as the dltrain checkpoint
(its model text built with tests/reference/make_ref.py's torch definitions,
its weights and batch-norm statistics loaded from the HDF5 checkpoint), run
in eval mode on every .jpg under DIR (sorted, recursive) with the usual
torchvision pipeline: PIL decode, convert, Resize((H, W)) (bilinear,
antialiased), ToTensor, Normalize when the checkpoint records a
normalisation, batches of B, softmax. One process, N threads, no DataLoader
workers (dltrain predict decodes on its one thread too).
Prints images/s of the whole loop (decode to probabilities) and writes the
top class per file to stdout's last lines with --print."""
import argparse
import os
import sys
import time

import h5py
import numpy as np
import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import make_ref  # noqa: E402


def attr_str(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def load(ckpt):
    with h5py.File(ckpt, "r") as f:
        text = attr_str(f, "model")
        c, h, w = (int(v) for v in f.attrs["input"])
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in f.attrs["class_names"]]
        norm = (np.array(f.attrs["normalize_mean"]), np.array(f.attrs["normalize_std"])) if "normalize_mean" in f.attrs else None
        text = text.replace("units=classes", "units=%d" % len(names))
        _, mods = make_ref.build("input channels=%d height=%d width=%d\n%s" % (c, h, w, text))
        net = make_ref.Graph(mods)
        with torch.no_grad():
            for m in mods:
                for tname, p in make_ref.tensors(m):
                    p.copy_(torch.from_numpy(f["params/%s/%s" % (m.name, tname)][()]))
                if m.kind == "bn":
                    m.mod.running_mean.copy_(torch.from_numpy(f["state/%s/running_mean" % m.name][()]))
                    m.mod.running_var.copy_(torch.from_numpy(f["state/%s/running_var" % m.name][()]))
    return net.eval(), (c, h, w), names, norm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--print", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net, (c, h, w), names, norm = load(a.ckpt)
    tf = [transforms.Resize((h, w)), transforms.ToTensor()]
    if norm is not None:
        tf.append(transforms.Normalize(norm[0].tolist(), norm[1].tolist()))
    tf = transforms.Compose(tf)
    files = []
    for root, dirs, fs in os.walk(a.dir):
        dirs.sort()
        files += [os.path.join(root, x) for x in sorted(fs) if x.lower().endswith((".jpg", ".jpeg"))]
    files.sort()
    mode = "RGB" if c == 3 else "L"
    t0, c0 = time.perf_counter(), time.process_time()
    top = []
    with torch.no_grad():
        for i in range(0, len(files), a.batch):
            x = torch.stack([tf(Image.open(p).convert(mode)) for p in files[i:i + a.batch]])
            p = torch.softmax(net(x), dim=1)
            top += p.argmax(1).tolist()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    if a.print:
        for f, t in zip(files, top):
            print("%s,%s" % (f, names[t]))
    print("torch: %d images in %.3f s: %.1f images/s, %.1f images per CPU-second (%d thread%s)"
          % (len(files), dt, len(files) / dt, len(files) / dc, a.threads, "" if a.threads == 1 else "s"), file=sys.stderr)


if __name__ == "__main__":
    main()
