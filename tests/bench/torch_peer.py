#!/usr/bin/python3
"""torch_peer.py - the benchmark's PyTorch peer: trains any dltrain model (a zoo
name or a model file) with PyTorch's CPU build and prints training images/s
per epoch and peak RSS, in the same conditions as `dltrain train`.

The model is built from the same model text dltrain reads, by the parser and
torch module builder of tests/reference/make_ref.py (which the PyTorch
fixtures of the tests already check against dltrain layer by layer), so both
sides train the same network. Zoo models' text is read from the C sources.

Data: Fashion-MNIST from Debian's dataset-fashion-mnist for --input 1,28,28
(the default), else random images of the given shape (speed only), in
memory as float32 NCHW in [0,1]. SGD momentum 0.9, cross-entropy, global
batch B, the last partial batch dropped (dltrain's drop_last).

    /usr/bin/python3 tests/bench/torch_peer.py MODEL [--input C,H,W] [--threads T]
        [--ranks R] [--epochs E] [--images N] [--batch B] [--lr LR]
Prints "epoch=E img_per_s=X ..." per epoch and "rank=R maxrss_MiB=M" at exit,
the lines tests/bench/bench_train.sh reads. Use /usr/bin/python3 (Debian's).
"""
import argparse, glob, gzip, os, re, resource, sys, time
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import make_ref  # noqa: E402  (parse, build, Graph)

FMNIST = "/usr/share/datasets/fashion-mnist"


def zoo_text(name):
    """The zoo model's text, from the C string literal that holds it in src/."""
    pat = re.compile(r'\{\s*"%s",\s*((?:"[^"]*"\s*)+)\}' % re.escape(name))
    for path in sorted(glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True)):
        m = pat.search(open(path).read())
        if m:
            return "".join(s.encode().decode("unicode_escape") for s in re.findall(r'"([^"]*)"', m.group(1)))
    raise SystemExit("torch_peer: '%s' is neither a model file nor a zoo model in src/" % name)


def make_model(model, shape, classes):
    """torch Graph of a zoo name or model file, for input shape (C,H,W)."""
    text = open(model).read() if os.path.exists(model) else zoo_text(model)
    text = text.replace("units=classes", "units=%d" % classes)
    if not re.search(r"^\s*input\s", text, re.M):
        text = "input channels=%d height=%d width=%d\n" % shape + text
    _, layers = make_ref.parse(text)
    _, mods = make_ref.build(text)
    for m, (kind, kv) in zip(mods, layers):
        if kind == "dropout":       # make_ref switches dropout off; train with it
            m.mod = nn.Dropout(float(kv.get("rate", 0.5)))
        elif kind == "bn":          # make_ref draws gamma/beta at random; train from PyTorch's 1/0
            m.mod.reset_parameters()
    return make_ref.Graph(mods)


def load_data(shape, images, classes):
    if shape == (1, 28, 28):
        with gzip.open(f"{FMNIST}/train-images-idx3-ubyte.gz") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:images]
        with gzip.open(f"{FMNIST}/train-labels-idx1-ubyte.gz") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:images]
        return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))
    g = torch.Generator().manual_seed(7)
    return (torch.randint(0, 256, (images,) + shape, generator=g).float() / 255.0,
            torch.randint(0, classes, (images,), generator=g))


def train(rank, args):
    ranks = args.ranks
    if ranks > 1:
        import torch.distributed as dist
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29518")
        dist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    shape = tuple(int(v) for v in args.input.split(","))
    x, y = load_data(shape, args.images, args.classes)
    net = make_model(args.model, shape, args.classes).train()
    model = nn.parallel.DistributedDataParallel(net) if ranks > 1 else net
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(42)
    B = args.batch
    steps_per_epoch = len(x) // B
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(x), generator=g)  # the same on every rank
        if ranks > 1:
            dist.barrier()
        t0 = time.perf_counter()
        for s in range(steps_per_epoch):
            idx = perm[s * B:(s + 1) * B]
            per = B // ranks
            idx = idx[rank * per:(rank + 1) * per]   # this rank's slice
            opt.zero_grad()
            loss = lossf(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        if ranks > 1:
            dist.barrier()
        dt = time.perf_counter() - t0
        if rank == 0:
            print(f"model={args.model} input={args.input} ranks={ranks} threads={args.threads} "
                  f"epoch={epoch} img_per_s={steps_per_epoch * B / dt:.1f} epoch_s={dt:.1f} "
                  f"loss={loss.item():.4f}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rank={rank} maxrss_MiB={rss:.0f}", flush=True)
    if ranks > 1:
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="zoo name (fmnist-bn, resnet8, ...) or model file")
    p.add_argument("--input", default="1,28,28", help="C,H,W (1,28,28: Fashion-MNIST; else random data)")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=64, help="global batch")
    p.add_argument("--images", type=int, default=12800)
    p.add_argument("--lr", type=float, default=0.05)
    args = p.parse_args()
    if args.ranks > 1:
        import torch.multiprocessing as mp
        mp.spawn(train, args=(args,), nprocs=args.ranks, join=True)
    else:
        train(0, args)


if __name__ == "__main__":
    main()
