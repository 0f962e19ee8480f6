#!/usr/bin/python3
"""transfer_scratch_torch.py - PyTorch's figure for README "Transfer learning":
fmnist-bn (built from its model text by the bench's peer, tests/bench/torch_peer.py, with a 4-class head) trained from scratch on
the 200 target images (datasets/fm-target-train.h5) with the flags of
launch/transfer_fmnist.sh's default run: SGD lr 0.05, momentum 0.9, batch 16,
10 epochs; test accuracy on datasets/fm-target-test.h5 after every epoch.
Prints "seed best last" for seeds 1-10 and the means.

    /usr/bin/python3 tests/bench/transfer_scratch_torch.py [DATASETS_DIR] [sgd|adam] [LR]
"""
import os, sys
import h5py, numpy as np, torch, torch.nn as nn
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import make_model  # noqa: E402


def load(path):
    with h5py.File(path, "r") as f:  # images (N, H, W, C) uint8, labels (N,)
        x = torch.from_numpy(f["images"][:].astype(np.float32).transpose(0, 3, 1, 2) / 255.0)
        return x, torch.from_numpy(f["labels"][:].astype(np.int64))


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "datasets"
    opt_name = sys.argv[2] if len(sys.argv) > 2 else "sgd"
    lr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    torch.set_num_threads(1)
    x, y = load(os.path.join(data, "fm-target-train.h5"))
    tx, ty = load(os.path.join(data, "fm-target-test.h5"))
    best, last = [], []
    for seed in range(1, 11):
        torch.manual_seed(seed)
        net = make_model("fmnist-bn", (1, 28, 28), 4)
        opt = (torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9) if opt_name == "sgd"
               else torch.optim.Adam(net.parameters(), lr=lr))
        accs = []
        for _ in range(10):
            net.train()
            perm = torch.randperm(len(x))
            for i in range(0, len(x), 16):
                idx = perm[i:i + 16]
                loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                accs.append(float((net(tx).argmax(1) == ty).float().mean()))
        best.append(max(accs))
        last.append(accs[-1])
        print(f"{seed:<6} {best[-1]:.4f} {last[-1]:.4f}", flush=True)
    print(f"mean   {np.mean(best):.4f} {np.mean(last):.4f}")


if __name__ == "__main__":
    main()
