#!/usr/bin/python3
"""Writes the PyTorch optimizer, lr-schedule and clipping fixtures that
tests/test_optim.c checks.

Run by hand (not by CI) with Debian's python3-torch (1.13) and python3-h5py:
    /usr/bin/python3 tests/reference/make_optim_ref.py   # writes tests/reference/fixtures/optim_*.h5

optim_steps.h5: one group per optimizer (sgd, sgd_nesterov, adam, adamw),
each torch.optim.SGD(momentum 0.9) / SGD(momentum 0.9, nesterov) / Adam /
AdamW with lr 0.01, weight_decay 1e-2, betas (0.9, 0.999), eps 1e-8, over
two tensors: a 3x4 "weight" and a 4-element "bias". dltrain decays only
weights, so the bias is a second param group with weight_decay 0 (plain
PyTorch would decay it too). Attributes hold the hyperparameters; datasets:
weight0 (3,4) and bias0 (4) the start values, grad_weight (5,3,4) and
grad_bias (5,4) the gradient given at each of the 5 steps, weight (5,3,4)
and bias (5,4) the parameters after each step.

optim_schedules.h5: one group per scheduler, each an `lr` dataset (float64)
of the lr PyTorch uses at steps 0..n-1 (scheduler.step() once per
optimizer step) and the settings as attributes: step = StepLR(step_size 10,
gamma 0.5), cosine = CosineAnnealingLR(T_max 50, eta_min 1e-3),
onecycle = OneCycleLR(max_lr 0.01, total_steps 50, defaults),
onecycle_custom = OneCycleLR(max_lr 0.1, total_steps 40, pct_start 0.25,
div_factor 10, final_div_factor 100). OneCycleLR has cycle_momentum=False:
dltrain does not cycle momentum.

optim_clip.h5: groups clip (max_norm 1, clips) and noclip (max_norm 100):
grads (16) as a 3x4 and a 4-element gradient laid end to end, max_norm,
PyTorch's returned norm and the gradients after
torch.nn.utils.clip_grad_norm_.

Precision: start values and gradients are float32 (stored as such); PyTorch
then computes in float64 and the results are stored as float32. The C code
computes in float32, so the test allows a relative error of 1e-5
(max |ours - torch| / max(1, max |torch|); lrs relative to each lr).
The files use HDF5's newest format without object times: a few KB each, and
a rerun reproduces them byte for byte.
"""
import os

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
STEPS = 5
LR, WD = 0.01, 1e-2


def new_file(name):
    """An HDF5 file in the newest (smallest) format that stores no object
    times, so rerunning the script reproduces the fixtures byte for byte."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    path = os.path.join(OUT, name).encode()
    return h5py.File(h5py.h5f.create(path, h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl))


def new_group(f, name):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(f.id, name.encode(), gcpl=gcpl))


def put(g, name, data):
    g.create_dataset(name, data=data, track_times=False)


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def optim_case(g, name, make, seed):
    rng = np.random.default_rng(seed)
    w0, b0 = f32(rng, 3, 4), f32(rng, 4)
    gw, gb = f32(rng, STEPS, 3, 4), f32(rng, STEPS, 4)
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    opt, attrs = make([{"params": [w]}, {"params": [b], "weight_decay": 0.0}])
    ws, bs = [], []
    for k in range(STEPS):
        w.grad = torch.tensor(gw[k], dtype=torch.float64)
        b.grad = torch.tensor(gb[k], dtype=torch.float64)
        opt.step()
        ws.append(w.detach().numpy().astype(np.float32))
        bs.append(b.detach().numpy().astype(np.float32))
    grp = new_group(g, name)
    defaults = {"momentum": 0.0, "nesterov": 0, "weight_decay": WD, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    defaults.update(attrs)
    grp.attrs["lr"] = LR
    for key, val in defaults.items():
        grp.attrs[key] = val
    for key, val in (("weight0", w0), ("bias0", b0), ("grad_weight", gw), ("grad_bias", gb),
                     ("weight", np.stack(ws)), ("bias", np.stack(bs))):
        put(grp, key, val)


def write_optim():
    cases = [
        ("sgd", lambda p: (torch.optim.SGD(p, lr=LR, momentum=0.9, weight_decay=WD), {"momentum": 0.9}), 1),
        ("sgd_nesterov", lambda p: (torch.optim.SGD(p, lr=LR, momentum=0.9, nesterov=True, weight_decay=WD),
                                    {"momentum": 0.9, "nesterov": 1}), 2),
        ("adam", lambda p: (torch.optim.Adam(p, lr=LR, weight_decay=WD), {}), 3),
        ("adamw", lambda p: (torch.optim.AdamW(p, lr=LR, weight_decay=WD), {}), 4),
    ]
    with new_file("optim_steps.h5") as f:
        for name, make, seed in cases:
            optim_case(f, name, make, seed)


def lr_sequence(make, n):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.01)
    sched = make(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs, np.float64)


def write_schedules():
    S = torch.optim.lr_scheduler
    base = {"lr": 0.01, "total_steps": 50, "step_size": 0, "gamma": 0.1, "pct_start": 0.3, "div_factor": 25.0,
            "final_div_factor": 1e4, "min_lr": 0.0}
    cases = [
        ("step", {"step_size": 10, "gamma": 0.5}, lambda o, a: S.StepLR(o, step_size=a["step_size"], gamma=a["gamma"])),
        ("cosine", {"min_lr": 1e-3}, lambda o, a: S.CosineAnnealingLR(o, T_max=a["total_steps"], eta_min=a["min_lr"])),
        ("onecycle", {}, lambda o, a: S.OneCycleLR(o, max_lr=a["lr"], total_steps=a["total_steps"],
                                                   cycle_momentum=False)),
        ("onecycle_custom", {"lr": 0.1, "total_steps": 40, "pct_start": 0.25, "div_factor": 10.0,
                             "final_div_factor": 100.0},
         lambda o, a: S.OneCycleLR(o, max_lr=a["lr"], total_steps=a["total_steps"], pct_start=a["pct_start"],
                                   div_factor=a["div_factor"], final_div_factor=a["final_div_factor"],
                                   cycle_momentum=False)),
    ]
    with new_file("optim_schedules.h5") as f:
        for name, over, make in cases:
            a = dict(base, **over)
            grp = new_group(f, name)
            for key, val in a.items():
                grp.attrs[key] = val
            put(grp, "lr", lr_sequence(lambda o: make(o, a), a["total_steps"]))


def write_clip():
    rng = np.random.default_rng(5)
    gw, gb = f32(rng, 3, 4), f32(rng, 4)
    with new_file("optim_clip.h5") as f:
        for name, max_norm in (("clip", 1.0), ("noclip", 100.0)):
            w = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
            b = torch.zeros(4, dtype=torch.float64, requires_grad=True)
            w.grad = torch.tensor(gw, dtype=torch.float64)
            b.grad = torch.tensor(gb, dtype=torch.float64)
            norm = torch.nn.utils.clip_grad_norm_([w, b], max_norm)
            grp = new_group(f, name)
            grp.attrs["max_norm"] = max_norm
            put(grp, "grads", np.concatenate([gw.ravel(), gb]))
            put(grp, "norm", np.array([norm.item()], np.float32))
            put(grp, "clipped", np.concatenate([w.grad.numpy().ravel(), b.grad.numpy()]).astype(np.float32))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_optim()
    write_schedules()
    write_clip()
