#!/usr/bin/python3
"""PyTorch references for the supernet step benchmarks of internal/abs/train/bench_test.go.

--space nb201 (the default), for BenchmarkSupernetStep: the same NB201 supernet (C=8 unless --c, one
cell per stage, 28x28x1 Fashion-MNIST, batch 64) and the same step: a child drawn uniformly from the
full space (disconnected ones rejected; --arch fixes it), forward through the child's live edges
only, cross-entropy, backward, SGD with Nesterov momentum 0.9, weight decay 5e-4 and cosine
learning rate.

--space darts, for BenchmarkDARTSStep: the DARTS search supernet of the darts-small preset (DARTS'
model_search.py Network as the ABS authors train it single-path: C=8 unless --c, 5 cells unless
--cells, the cells at cells/3 and 2*cells/3 reducing), every cell running the child's one 14-edge
cell, children drawn by the authors' repair rule (every edge draws one of the 8 ops, then each node
keeps exactly two non-none inputs; --arch fixes the child), only the child's ops computed, the same
loss and optimiser; parameters a step does not use get no gradient and so no update (the DARTS
family's IdleUpdates false). --count prints the net's parameter count and the number of parameters
one backward pass of the child (--arch, default the child of TestDARTSBenchCounts) gives a
gradient, and exits.

PyTorch on --threads threads (default 1). Prints images/s.
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


# DARTS: the op codes of space.DARTS (DARTS' PRIMITIVES order); edge (j<-i) of a cell is
# D_FIRST[j]+i, node j in 2..5 reading every earlier node.
D_OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
D_FIRST = [None, None, 0, 2, 5, 9]
D_EDGES = 14
D_COUNT_CHILD = [4, 3, 6, 0, 5, 0, 1, 0, 7, 2, 0, 0, 0, 3]  # dartsCountChild in bench_test.go


def d_edge(i, j):
    return D_FIRST[j] + i


def d_sample(rng):
    """A child by the authors' rule (space.DARTS.Sample over the full space)."""
    c = [rng.randrange(len(D_OPS)) for _ in range(D_EDGES)]
    for j in range(2, 6):
        edges = [d_edge(i, j) for i in range(j)]
        live = [e for e in edges if c[e]]
        if len(live) > 2:
            for e in rng.sample(live, len(live) - 2):
                c[e] = 0
        elif len(live) < 2:
            for e in rng.sample([e for e in edges if not c[e]], 2 - len(live)):
                c[e] = rng.randrange(1, len(D_OPS))
    return c


def d_valid(c):
    return (len(c) == D_EDGES and all(0 <= o < len(D_OPS) for o in c)
            and all(sum(1 for i in range(j) if c[d_edge(i, j)]) == 2 for j in range(2, 6)))


def d_reduce(l, cells):
    return l == cells // 3 or l == 2 * cells // 3


class ReLUConv1BN(nn.Module):
    """ReLU, 1x1 convolution, batch norm without affine parameters (DARTS' ReLUConvBN, k=1)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=False)

    def forward(self, x):
        return self.bn(self.conv(F.relu(x)))


class FactorizedReduce(nn.Module):
    """DARTS' FactorizedReduce with affine=False."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv_1 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=False)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], 1))


class SepConv(nn.Module):
    """DARTS' SepConv with affine=False: (ReLU, depthwise kxk, pointwise, BN) twice, the first with the stride."""

    def __init__(self, c, k, stride):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=False),
            nn.ReLU(), nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=False))

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    """DARTS' DilConv with affine=False: ReLU, depthwise kxk with dilation 2 and padding k-1, pointwise, BN."""

    def __init__(self, c, k, stride):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, k - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))

    def forward(self, x):
        return self.op(x)


def d_op(name, c, stride):
    """DARTS' OPS[name] with affine=False, pools followed by a batch norm as in model_search.MixedOp."""
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(c, affine=False))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False), nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    k = int(name[-1])
    return SepConv(c, k, stride) if name.startswith("sep") else DilConv(c, k, stride)


class DCell(nn.Module):
    """A DARTS search cell holding every op of every edge; forward runs only the child's ops."""

    def __init__(self, cpp, cp, c, reduce, reduce_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(cpp, c) if reduce_prev else ReLUConv1BN(cpp, c)
        self.pre1 = ReLUConv1BN(cp, c)
        self.edges = nn.ModuleList()
        for j in range(2, 6):
            for i in range(j):
                stride = 2 if reduce and i < 2 else 1
                self.edges.append(nn.ModuleDict({name: d_op(name, c, stride) for name in D_OPS[1:]}))

    def forward(self, s0, s1, child):
        nodes = [self.pre0(s0), self.pre1(s1)]
        for j in range(2, 6):
            h = None
            for i in range(j):
                e = d_edge(i, j)
                if child[e]:
                    y = self.edges[e][D_OPS[child[e]]](nodes[i])
                    h = y if h is None else h + y
            nodes.append(h)
        return torch.cat(nodes[2:], 1)


class DNet(nn.Module):
    """DARTS' model_search.Network: stem conv3x3 to 3C with affine BN, the cells, global average
    pooling and a linear classifier; stem_multiplier 3, 4 steps, multiplier 4."""

    def __init__(self, c, cells, inc, classes):
        super().__init__()
        cs = 3 * c
        self.stem = nn.Sequential(nn.Conv2d(inc, cs, 3, padding=1, bias=False), nn.BatchNorm2d(cs))
        cpp, cp, w = cs, cs, c
        self.cells = nn.ModuleList()
        reduce_prev = False
        for l in range(cells):
            reduce = d_reduce(l, cells)
            if reduce:
                w *= 2
            self.cells.append(DCell(cpp, cp, w, reduce, reduce_prev))
            cpp, cp, reduce_prev = cp, 4 * w, reduce
        self.classifier = nn.Linear(cp, classes)
        # The ABS authors' DARTS initialisation (nn.DARTS): kaiming-uniform convolutions,
        # linear weights N(0, 0.01^2), linear bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x, child):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, child)
        return self.classifier(s1.mean((2, 3)))


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
    p.add_argument("--space", choices=["nb201", "darts"], default="nb201")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--c", type=int, default=8, help="channels of the first stage (nb201) or cells (darts)")
    p.add_argument("--cells", type=int, default=5, help="darts: total number of cells")
    p.add_argument("--arch", help="train this child at every step instead of sampling (nb201: 6 op codes, e.g. 3,2,4,1,3,2; darts: 14)")
    p.add_argument("--count", action="store_true", help="darts: print the parameter counts (total, and those --arch uses) and exit")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (0: PyTorch's own default)")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    rng = random.Random(1)
    darts = args.space == "darts"
    if args.count and not darts:
        p.error("--count: only with --space darts")
    if darts and (args.c < 2 or args.c % 2 or args.cells < 3):
        p.error(f"--c {args.c} --cells {args.cells}: want an even width >= 2 and at least 3 cells for darts")
    fixed = [int(v) for v in args.arch.split(",")] if args.arch else None
    if darts:
        if fixed is None and args.count:
            fixed = D_COUNT_CHILD
        if fixed is not None and not d_valid(fixed):
            p.error(f"--arch {args.arch}: want 14 op codes in 0..7 with exactly two non-zero inputs per node")
    elif fixed is not None and (len(fixed) != 6 or live_edges(fixed) is None):
        p.error(f"--arch {args.arch}: want 6 op codes of a connected child")
    n = 6400
    x = torch.from_numpy(load_images(f"{args.data}/train-images-idx3-ubyte.gz", n))
    y = torch.from_numpy(load_labels(f"{args.data}/train-labels-idx1-ubyte.gz", n))
    net = DNet(args.c, args.cells, 1, 10) if darts else Net(args.c, 1, 10)
    if args.count:
        # The parameters one backward pass of the child reaches: those a step updates when idle
        # parameters get no gradient (zero_grad(set_to_none=True)).
        F.cross_entropy(net(x[:64], fixed), y[:64]).backward()
        total = sum(q.numel() for q in net.parameters())
        live = sum(q.numel() for q in net.parameters() if q.grad is not None)
        print(f"darts net: params {total}, live {live} (child {','.join(map(str, fixed))})")
        return
    total = args.warmup + args.steps
    opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total, eta_min=0.001)
    perm = torch.randperm(n)
    start = None
    for step in range(total):
        if step == args.warmup:
            start = time.perf_counter()
        if darts:
            arch = fixed if fixed is not None else d_sample(rng)
            live = None
        else:
            while fixed is None:
                arch = [rng.randrange(5) for _ in range(6)]
                live = live_edges(arch)
                if live is not None:
                    break
            if fixed is not None:
                arch, live = fixed, live_edges(fixed)
        idx = perm[(step * 64) % n:(step * 64) % n + 64]
        opt.zero_grad(set_to_none=True)
        out = net(x[idx], arch) if darts else net(x[idx], arch, live)
        loss = F.cross_entropy(out, y[idx])
        loss.backward()
        opt.step()
        sched.step()
    elapsed = time.perf_counter() - start
    print(f"pytorch {torch.__version__} {args.space} threads={torch.get_num_threads()} img/s {args.steps * 64 / elapsed:.1f}")

if __name__ == "__main__":
    main()
