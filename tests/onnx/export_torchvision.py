#!/usr/bin/python3
"""Exports one torchvision network with random weights to ONNX, as a user
would export a pretrained one (used by tests/cli_export.sh and
launch/onnx_walkthrough.sh).

    /usr/bin/python3 tests/onnx/export_torchvision.py NAME OUT.onnx SIZE [eval|bn|calib] [WIDTH]

NAME: resnet18, mobilenet_v2 or squeezenet1_1 (WIDTH: mobilenet_v2's
width_mult, default 1.0); SIZE: the square input side (3 x SIZE x SIZE).
bn (the default) exports with training=TrainingMode.TRAINING, which keeps
BatchNormalization nodes with the running statistics (what fine-tuning
wants); eval folds batch norm into the convolutions. Seeded: the same
arguments write the same file. calib: as bn, but random weights leave the batch-norm running
statistics at 0 and 1, far from what the layers compute, so that an eval-mode
forward saturates (mobilenet_v2 then gives every image the same
probabilities); as a stand-in for a trained network's statistics they are
first set to the cumulative mean/variance over 8 batches of 16 random
inputs (training-mode forwards, momentum None). With ImageNet weights (torchvision 0.14):
torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1") instead of the
random ones below.
"""
import sys
import warnings

import torch
import torchvision

warnings.filterwarnings("ignore")


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("resnet18", "mobilenet_v2", "squeezenet1_1"):
        sys.exit("usage: export_torchvision.py resnet18|mobilenet_v2|squeezenet1_1 OUT.onnx SIZE [eval|bn|calib] [WIDTH]")
    name, out, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "bn"
    if mode not in ("eval", "bn", "calib"):
        sys.exit("export_torchvision.py: mode must be eval, bn or calib, not %r" % mode)
    torch.manual_seed(1)
    if name == "mobilenet_v2":
        net = torchvision.models.mobilenet_v2(width_mult=float(sys.argv[5]) if len(sys.argv) > 5 else 1.0)
    else:
        net = getattr(torchvision.models, name)()
    if mode == "calib":
        bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        g = torch.Generator().manual_seed(2)
        net.train()
        for m in bns:
            m.reset_running_stats()
            m.momentum = None   # cumulative average
        with torch.no_grad():
            for _ in range(8):
                net(torch.randn(16, 3, size, size, generator=g))
        for m in bns:
            m.momentum = 0.1
    net.eval()
    x = torch.randn(2, 3, size, size)   # 2: the training-mode trace needs more than 1 value per channel
    if mode in ("bn", "calib"):
        torch.onnx.export(net, x, out, opset_version=13, training=torch.onnx.TrainingMode.TRAINING,
                          do_constant_folding=False, input_names=["input"], output_names=["logits"])
    else:
        torch.onnx.export(net, x, out, opset_version=13, input_names=["input"], output_names=["logits"])
    print("%s: torchvision %s (random weights) at 3x%dx%d, %s" % (out, name, size, size,
          {"bn": "batch norm kept", "calib": "batch norm kept, statistics from random inputs"}[mode] if mode != "eval" else "batch norm folded"))


if __name__ == "__main__":
    main()
