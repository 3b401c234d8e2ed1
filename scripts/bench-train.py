#!/usr/bin/python3
"""PyTorch reference for BenchmarkSupernetStep (internal/abs/train/bench_test.go).

The same NB201 supernet (C=8 unless --c, one cell per stage, 28x28x1 Fashion-MNIST, batch 64) and the same
step: a child drawn uniformly from the full space (disconnected ones rejected; --arch fixes it), forward through the
child's live edges only, cross-entropy, backward, SGD with Nesterov momentum 0.9, weight decay 5e-4
and cosine learning rate. One CPU thread. Prints images/s.
"""
import argparse
import gzip
import math
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EDGES = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]  # (from, to)
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def live_edges(arch):
    fwd = [True, False, False, False]
    for e, (i, j) in enumerate(EDGES):
        if arch[e] and fwd[i]:
            fwd[j] = True
    if not fwd[3]:
        return None
    bwd = [False, False, False, True]
    for e in reversed(range(6)):
        i, j = EDGES[e]
        if arch[e] and bwd[j]:
            bwd[i] = True
    return [arch[e] != 0 and fwd[EDGES[e][0]] and bwd[EDGES[e][1]] for e in range(6)]


class ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, pad, affine):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=affine)

    def forward(self, x):
        return self.bn(self.conv(F.relu(x)))


class Cell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ops = nn.ModuleList()
        for _ in range(6):
            self.ops.append(nn.ModuleDict({
                "nor_conv_1x1": ReLUConvBN(c, c, 1, 1, 0, False),
                "nor_conv_3x3": ReLUConvBN(c, c, 3, 1, 1, False),
            }))

    def forward(self, x, arch, live):
        nodes = [x, None, None, None]
        for e, (i, j) in enumerate(EDGES):
            if not live[e]:
                continue
            op = OPS[arch[e]]
            h = nodes[i]
            if op == "skip_connect":
                y = h
            elif op == "avg_pool_3x3":
                y = F.avg_pool2d(h, 3, 1, 1, count_include_pad=False)
            else:
                y = self.ops[e][op](h)
            nodes[j] = y if nodes[j] is None else nodes[j] + y
        return nodes[3]


class Reduce(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = ReLUConvBN(cin, cout, 3, 2, 1, True)
        self.b = ReLUConvBN(cout, cout, 3, 1, 1, True)
        self.short = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.b(self.a(x)) + self.short(F.avg_pool2d(x, 2, 2))


class Net(nn.Module):
    def __init__(self, c, n, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers = []
        for stage in range(3):
            ch = c << stage
            if stage:
                layers.append(Reduce(ch // 2, ch))
            layers += [Cell(ch) for _ in range(n)]
        self.layers = nn.ModuleList(layers)
        self.lastbn = nn.BatchNorm2d(4 * c)
        self.classifier = nn.Linear(4 * c, classes)

    def forward(self, x, arch, live):
        h = self.stem(x)
        for layer in self.layers:
            h = layer(h, arch, live) if isinstance(layer, Cell) else layer(h)
        h = F.relu(self.lastbn(h))
        return self.classifier(h.mean((2, 3)))


def load_images(path, n):
    with gzip.open(path) as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255


def load_labels(path, n):
    with gzip.open(path) as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=8)[:n].astype(np.int64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--c", type=int, default=8, help="channels of the first stage")
    p.add_argument("--arch", help="train this child at every step (6 op codes, e.g. 3,2,4,1,3,2) instead of sampling")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (0: PyTorch's own default)")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    rng = random.Random(1)
    n = 6400
    x = torch.from_numpy(load_images(f"{args.data}/train-images-idx3-ubyte.gz", n))
    y = torch.from_numpy(load_labels(f"{args.data}/train-labels-idx1-ubyte.gz", n))
    fixed = [int(v) for v in args.arch.split(",")] if args.arch else None
    if fixed is not None and (len(fixed) != 6 or live_edges(fixed) is None):
        p.error(f"--arch {args.arch}: want 6 op codes of a connected child")
    net = Net(args.c, 1, 10)
    total = args.warmup + args.steps
    opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total, eta_min=0.001)
    perm = torch.randperm(n)
    start = None
    for step in range(total):
        if step == args.warmup:
            start = time.perf_counter()
        while fixed is None:
            arch = [rng.randrange(5) for _ in range(6)]
            live = live_edges(arch)
            if live is not None:
                break
        if fixed is not None:
            arch, live = fixed, live_edges(fixed)
        idx = perm[(step * 64) % n:(step * 64) % n + 64]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x[idx], arch, live), y[idx])
        loss.backward()
        opt.step()
        sched.step()
    elapsed = time.perf_counter() - start
    print(f"pytorch {torch.__version__} threads=1 img/s {args.steps * 64 / elapsed:.1f}")


if __name__ == "__main__":
    main()
