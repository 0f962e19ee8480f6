#!/usr/bin/python3
"""Exports torchvision networks with random weights to ONNX and writes
PyTorch's reference outputs for tests/test_onnx_torch.c.

    /usr/bin/python3 tests/onnx/make_torch_onnx.py OUTDIR

For resnet18, mobilenet_v2(width_mult=0.5 and 1.0) and squeezenet1_1 at 3x64x64 (random weights,
batch-norm affine parameters and running statistics randomised too, so that
folding them matters) it writes OUTDIR/NAME_eval.onnx (eval-mode export:
batch norm folded into the convolutions), OUTDIR/NAME_bn.onnx (exported with
training=TrainingMode.TRAINING: BatchNormalization nodes with the running
statistics), and for each OUTDIR/NAME_VARIANT_ref.h5: the input x (2
images), PyTorch's eval-mode logits, an upstream gradient r, and in float64
the gradients of sum(logits * r) in eval mode w.r.t. x and every parameter
(grads/<module>/<weight|bias>). Exports run on deep copies. The training-mode
export runs the network in training mode once, which moves the running
statistics by one momentum step: its reference is that copy, after the
export, and the script checks that its statistics are the file's.
"""
import copy
import os
import sys
import warnings

import h5py
import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torchvision

warnings.filterwarnings("ignore")
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def randomise(m, g):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=g) + 0.5)
                mod.bias.copy_(torch.rand(c, generator=g) - 0.5)
                mod.running_mean.copy_((torch.rand(c, generator=g) - 0.5) * 0.2)
                mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)


def main():
    nets = {"resnet18": lambda: torchvision.models.resnet18(),
            "mobilenet_v2_05": lambda: torchvision.models.mobilenet_v2(width_mult=0.5),
            "mobilenet_v2_10": lambda: torchvision.models.mobilenet_v2(width_mult=1.0),
            "squeezenet1_1": lambda: torchvision.models.squeezenet1_1()}
    for name, make in nets.items():
        torch.manual_seed(1)
        g = torch.Generator().manual_seed(2)
        net = make()
        randomise(net, g)
        net.eval()
        x = torch.randn(2, 3, 64, 64, generator=g)
        nets_by_variant = {"eval": copy.deepcopy(net), "bn": copy.deepcopy(net)}
        torch.onnx.export(nets_by_variant["eval"], x, os.path.join(OUT, name + "_eval.onnx"), opset_version=13)
        torch.onnx.export(nets_by_variant["bn"], x, os.path.join(OUT, name + "_bn.onnx"), opset_version=13,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
        inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(os.path.join(OUT, name + "_bn.onnx")).graph.initializer}
        for k, v in nets_by_variant["bn"].state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                assert np.array_equal(inits[k], v.numpy()), k
        r = None
        for variant, vnet in nets_by_variant.items():
            ref = copy.deepcopy(vnet).double().eval()
            xd = x.double().requires_grad_(True)
            y = ref(xd)
            if r is None:
                r = torch.randn(y.shape, generator=g).double()
            (y * r).sum().backward()
            with h5py.File(os.path.join(OUT, "%s_%s_ref.h5" % (name, variant)), "w") as f:
                f["x"] = x.numpy()
                f["logits"] = y.detach().float().numpy()
                f["r"] = r.float().numpy()
                f["dx"] = xd.grad.float().numpy()
                for pname, p in ref.named_parameters():
                    mod, t = pname.rsplit(".", 1)
                    f["grads/%s/%s" % (mod, t)] = p.grad.float().numpy()
        print("wrote", name)


if __name__ == "__main__":
    main()
