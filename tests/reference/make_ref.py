#!/usr/bin/python3
"""Writes the PyTorch reference fixtures that tests/test_reference.c checks.

Run by hand (not by CI) with Debian's python3-torch and python3-h5py:
    /usr/bin/python3 tests/reference/make_ref.py        # writes tests/reference/fixtures/*.h5
    /usr/bin/python3 tests/reference/make_ref.py NAME.. # only those fixtures

Each case is a small dltrain model text (one layer, a small graph, or a
whole zoo model). This script parses the same text format itself, builds the
equivalent torch.nn modules, runs them as dltrain does (each layer reads the
previous layer's output, or the one `input=NAME` names; `add from=NAME` adds
that earlier layer's output), and computes in float64 from float32-rounded
inputs and
parameters: the training-mode forward y, the input gradient dx and every
parameter gradient for an upstream gradient dy, and batch-norm running
statistics after that one step. The zoo models' text is read from
src/model.c, so the fixtures follow the models the program really builds.
"""
import os
import re
import sys

import h5py
import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
SRC = os.path.join(HERE, "..", "..", "src", "zoo.c")
ONLY = set(sys.argv[1:])


def zoo_text(name):
    """The zoo model's text, as the C string literal in src/zoo.c holds it."""
    src = open(SRC).read()
    m = re.search(r'\{\s*"%s",\s*((?:"[^"]*"\s*)+)\}' % re.escape(name), src)
    return "".join(s.encode().decode("unicode_escape") for s in re.findall(r'"([^"]*)"', m.group(1)))


def parse(text):
    """[(kind, {key: value})] of the text; 'input' line returned separately."""
    layers, inp = [], None
    for line in text.splitlines():
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        kv = dict(w.split("=", 1) for w in line[1:])
        if line[0] == "input":
            inp = (int(kv["channels"]), int(kv["height"]), int(kv["width"]))
        else:
            layers.append((line[0], kv))
    return inp, layers


class Named(nn.Module):
    """One layer: its module, and the layers it reads (indices; -1: the input)."""
    def __init__(self, kind, name, mod, src, frm):
        super().__init__()
        self.kind, self.name, self.mod, self.src, self.frm = kind, name, mod, src, frm

    def forward(self, x):
        return self.mod(x)


class Graph(nn.Module):
    """The layers in text order; a layer's input is the output of layer src
    (-1: the model input), and `add` adds the output of layer frm."""
    def __init__(self, mods):
        super().__init__()
        self.layers = nn.ModuleList(mods)

    def forward(self, x):
        acts = []
        for m in self.layers:
            y = m(x if m.src < 0 else acts[m.src])
            if m.frm is not None:
                y = torch.cat((y, acts[m.frm]), 1) if m.kind == "concat" else y + acts[m.frm]
            acts.append(y)
        return acts[-1]


def build(text):
    """torch modules for the text, with dltrain's default names and shapes."""
    inp, layers = parse(text)
    shapes = []        # (c, h, w, flat) of each layer's output
    names = []
    mods = []
    for i, (kind, kv) in enumerate(layers):
        name = kv.get("name", "%s%d" % (kind, i + 1))   # dltrain: kind + position
        src = names.index(kv["input"]) if "input" in kv else i - 1
        c, h, w, flat = shapes[src] if src >= 0 else inp + (False,)
        frm = None
        if kind == "conv":
            k, r = int(kv["filters"]), int(kv.get("size", 3))
            s = int(kv.get("stride", 1))
            p = (r - 1) // 2 if kv.get("pad") == "same" else int(kv.get("pad", 0))
            mod = nn.Conv2d(c, k, r, s, p, groups=int(kv.get("groups", 1)))
            c, h, w = k, (h + 2 * p - r) // s + 1, (w + 2 * p - r) // s + 1
        elif kind == "dwconv":
            r, s = int(kv.get("size", 3)), int(kv.get("stride", 1))
            p = (r - 1) // 2 if kv.get("pad") == "same" else int(kv.get("pad", 0))
            mod = nn.Conv2d(c, c, r, s, p, groups=c)
            h, w = (h + 2 * p - r) // s + 1, (w + 2 * p - r) // s + 1
        elif kind == "add":
            frm = names.index(kv["from"])
            assert shapes[frm] == (c, h, w, flat), (name, shapes[frm], (c, h, w, flat))
            mod = nn.Identity()
        elif kind == "concat":
            frm = names.index(kv["from"])
            assert shapes[frm][1:3] == (h, w), (name, shapes[frm], (h, w))
            c += shapes[frm][0]
            mod = nn.Identity()
        elif kind == "clip":
            mod = nn.Hardtanh(float(kv.get("min", 0)), float(kv.get("max", 6)))
        elif kind == "relu6":
            mod = nn.ReLU6()
        elif kind == "dense":
            u = int(kv["units"])
            mod = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, u))
            c, h, w, flat = u, 1, 1, True
        elif kind == "relu":
            mod = nn.ReLU()
        elif kind == "leaky":
            mod = nn.LeakyReLU(float(kv.get("alpha", 0.01)))
        elif kind in ("maxpool", "avgpool"):
            r = int(kv.get("size", 2))
            s = int(kv.get("stride", r))
            p, ceil = int(kv.get("pad", 0)), kv.get("ceil", "0") == "1"
            if kind == "maxpool":
                mod = nn.MaxPool2d(r, s, p, ceil_mode=ceil)
            else:
                mod = nn.AvgPool2d(r, s, p, ceil_mode=ceil, count_include_pad=kv.get("count_pad", "1") == "1")
            h, w = [mod(torch.zeros(1, 1, h, w)).shape[k] for k in (2, 3)]
        elif kind == "gap":
            mod = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            h, w, flat = 1, 1, True
        elif kind == "bn":
            eps, mom = float(kv.get("eps", 1e-5)), float(kv.get("momentum", 0.1))
            mod = (nn.BatchNorm1d if flat else nn.BatchNorm2d)(c, eps=eps, momentum=mom)
            with torch.no_grad():   # not the default 1/0, so a swapped gamma/beta shows
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
        elif kind == "dropout":
            mod = nn.Identity()     # the C test switches dropout off (rate 0)
        elif kind == "flatten":
            mod = nn.Flatten()
            c, h, w, flat = c * h * w, 1, 1, True
        else:
            raise ValueError(kind)
        mods.append(Named(kind, name, mod, src, frm))
        shapes.append((c, h, w, flat))
        names.append(name)
    return inp, mods


def tensors(m):
    """(dltrain tensor name, torch parameter) of one layer, in dltrain's order."""
    mod = m.mod[1] if isinstance(m.mod, nn.Sequential) and m.kind == "dense" else m.mod
    if m.kind in ("conv", "dwconv", "dense", "bn"):
        return [("weight", mod.weight), ("bias", mod.bias)]
    return []


def case(name, text, n=4, labels=False, scale=1.0):
    if ONLY and name not in ONLY:
        return
    torch.manual_seed(len(name) * 7919 + sum(map(ord, name)))
    inp, mods = build(text)
    net = Graph(mods).double().train()
    with torch.no_grad():   # parameters as the float32 values the fixture stores
        for p in net.parameters():
            p.copy_(p.float().double())
    x = (torch.randn(n, *inp) * scale).float().double().requires_grad_(True)
    y = net(x).reshape(n, -1)
    dy = torch.randn_like(y).float().double()
    y.backward(dy)
    with h5py.File(os.path.join(OUT, name + ".h5"), "w") as f:
        f.attrs["model"] = text
        f["x"] = x.detach().float().numpy()
        f["y"] = y.detach().float().numpy()
        f["dy"] = dy.float().numpy()
        f["dx"] = x.grad.float().numpy()
        for m in mods:
            for t, p in tensors(m):
                f["params/%s/%s" % (m.name, t)] = p.detach().float().numpy()
                f["grads/%s/%s" % (m.name, t)] = p.grad.float().numpy()
            if m.kind == "bn":
                f["state/%s/running_mean" % m.name] = m.mod.running_mean.float().numpy()
                f["state/%s/running_var" % m.name] = m.mod.running_var.float().numpy()
        if labels:
            lab = torch.randint(0, y.shape[1], (n,))
            z = y.detach().float().double().requires_grad_(True)
            loss = nn.functional.cross_entropy(z, lab)
            loss.backward()
            f["labels"] = lab.numpy().astype(np.int32)
            f["loss"] = np.array([loss.item()], np.float32)
            f["dlogits"] = z.grad.float().numpy()
    print("wrote", name)


def loss_cases():
    torch.manual_seed(7)
    n, k = 6, 5
    # large logits (up to +-200) check the log-sum-exp / stable forms
    z = (torch.randn(n, k) * torch.tensor([1, 10, 100, 1, 50, 200]).reshape(n, 1)).float().double()
    zs = z.clone().requires_grad_(True)
    lab = torch.randint(0, k, (n,))
    loss = nn.functional.cross_entropy(zs, lab)
    loss.backward()
    with h5py.File(os.path.join(OUT, "loss_softmax.h5"), "w") as f:
        f["logits"] = z.float().numpy()
        f["labels"] = lab.numpy().astype(np.int32)
        f["loss"] = np.array([loss.item()], np.float32)
        f["dlogits"] = zs.grad.float().numpy()
    zb = z.clone().requires_grad_(True)
    t = (torch.rand(n, k) < 0.4).double()
    loss = nn.functional.binary_cross_entropy_with_logits(zb, t)
    loss.backward()
    with h5py.File(os.path.join(OUT, "loss_sigmoid.h5"), "w") as f:
        f["logits"] = z.float().numpy()
        f["targets"] = t.float().numpy()
        f["loss"] = np.array([loss.item()], np.float32)
        f["dlogits"] = zb.grad.float().numpy()
    print("wrote loss_softmax, loss_sigmoid")


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    inp = "input channels=3 height=9 width=9\n"
    case("conv3x3_s1_p1", inp + "conv name=c filters=4 size=3 stride=1 pad=1\n")
    case("conv5x5_same", inp + "conv name=c filters=5 size=5 pad=same\n")
    case("conv3x3_s2_p0", inp + "conv name=c filters=4 size=3 stride=2 pad=0\n")
    case("conv3x3_s2_p1", "input channels=3 height=10 width=10\nconv name=c filters=4 size=3 stride=2 pad=1\n")
    case("conv1x1", inp + "conv name=c filters=6 size=1\n")
    case("dense", inp + "dense name=d units=7\n")
    case("relu", inp + "relu\n")
    case("leaky", inp + "leaky alpha=0.2\n")
    case("maxpool2", "input channels=3 height=8 width=8\nmaxpool size=2\n")
    case("maxpool3_s2", inp + "maxpool size=3 stride=2\n")
    case("avgpool2", "input channels=3 height=8 width=8\navgpool size=2\n")
    case("avgpool3_s2", inp + "avgpool size=3 stride=2\n")
    case("gap", inp + "gap\n")
    case("flatten", inp + "flatten\n")
    # batch norm: shifted, scaled inputs so mean and variance matter
    case("bn_conv", inp + "bn name=b\n", n=5, scale=3.0)
    case("bn_dense", inp + "dense name=d units=6\nbn name=b eps=0.001 momentum=0.2\n", n=8)
    # depthwise conv (PyTorch Conv2d with groups=C)
    case("dwconv3x3_s1_same", "input channels=4 height=9 width=9\ndwconv name=d size=3 pad=same\n")
    case("dwconv3x3_s2_p1", "input channels=4 height=10 width=10\ndwconv name=d size=3 stride=2 pad=1\n")
    # skip connections: a ResNet basic block with a projection shortcut
    # (input=), then an identity one; unnamed layers use the default names
    case("residual_block", "input channels=3 height=8 width=8\n"
         "conv name=stem filters=4 size=3 pad=same\nbn name=sn\nrelu name=sr\n"
         "conv name=c1 filters=8 size=3 stride=2 pad=1\nbn name=n1\nrelu\n"
         "conv name=c2 filters=8 size=3 pad=same\nbn name=n2\n"
         "conv name=sc filters=8 size=1 stride=2 input=sr\nbn name=scn\n"
         "add from=n2\nrelu name=out\n"
         "conv name=c3 filters=8 size=3 pad=same\nadd name=sum2 from=out\n"
         "gap\ndense name=fc units=5\n", n=4)
    # the layers ONNX import needs
    case("conv_groups", "input channels=6 height=9 width=9\nconv name=c filters=4 size=3 stride=2 pad=1 groups=2\n")
    case("conv_groups_s1", "input channels=8 height=7 width=7\nconv name=c filters=12 size=3 pad=same groups=4\n")
    case("clip", inp + "clip min=-0.5 max=0.8\n")
    case("relu6", inp + "relu6\n", scale=5.0)
    case("maxpool3_s2_p1_ceil", "input channels=3 height=10 width=9\nmaxpool size=3 stride=2 pad=1 ceil=1\n")
    case("avgpool3_s2_p1_ceil", "input channels=3 height=10 width=9\navgpool size=3 stride=2 pad=1 ceil=1\n")
    case("avgpool2_p1_nocount", "input channels=3 height=7 width=8\navgpool size=2 stride=2 pad=1 count_pad=0 ceil=1\n")
    case("fire", "input channels=4 height=7 width=7\n"
         "conv name=sq filters=3 size=1\nrelu name=sqr\nconv name=e1 filters=4 size=1\nrelu name=e1r\n"
         "conv name=e3 filters=4 size=3 pad=1 input=sqr\nrelu name=e3r\nconcat name=cat input=e1r from=e3r\n"
         "maxpool size=3 stride=2 ceil=1\n")
    # the zoo models at a small input (zoo models take their input size from
    # the data), so the fixtures stay small
    for zoo, shape in (("fmnist-bn", (1, 12)), ("fmnist-tfdoc", (1, 8)), ("resnet8", (3, 16)), ("mobilenet-s", (3, 16))):
        text = "input channels=%d height=%d width=%d\n" % (shape[0], shape[1], shape[1]) + \
            zoo_text(zoo).replace("units=classes", "units=10")
        case("model_" + zoo.replace("-", "_"), text, n=4, labels=True)
    if not ONLY:
        loss_cases()


if __name__ == "__main__":
    main()
