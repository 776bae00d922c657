"""What bf16 buys on this CPU: a plain 32-bit SGD step against a plain bf16-autocast one, paired
mini-batch by mini-batch in one process (so the machine's drift cancels), for LeNet-5
(channels_last, as mnist-exp's default) and the MLP.

    python benchmarks/bf16_gain.py --root ../shared/data [--batches 400] [--threads 1]
    python benchmarks/bf16_gain.py --root ../shared/data --models lenet --sides fp32 fp32-nchw

`--sides A B` pairs any two of: fp32, bf16, and the same with -nchw (LeNet-5 without channels_last).

Both sides start from the same weights and train on the same rows of the real MNIST images, one
right after the other; which side goes first alternates per mini-batch. It prints the median ms
per mini-batch of each side and the median of the per-mini-batch ratio bf16 / 32-bit (below 1:
bf16 is faster).

To see a CPU without native bf16 on one that has it, cap the instruction sets that oneDNN (the
convolutions and matrix products) and ATen (everything else) may use, e.g. to AVX2, which has no
bf16 instructions:

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/bf16_gain.py --root ...

It imports neither mnist-exp nor Lightning: it measures the hardware and torch, not the framework.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
from harness import parser as harness_parser
from plain_mnist import load, network  # benchmarks/: the script's own folder is on sys.path
from torch import nn


def step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> float:
    """Seconds of one forward, cross-entropy, backward and SGD step (bf16: under autocast)."""
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = nn.functional.cross_entropy(net(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - start


SIDES = ("fp32", "bf16", "fp32-nchw", "bf16-nchw")  # precision, and -nchw: LeNet without channels_last


def build(model: str, side: str) -> nn.Module:
    """The side's network, from the same seed (so every side starts from the same weights)."""
    torch.manual_seed(0)
    net = network(model)  # LeNet in channels_last, as mnist-exp's default
    return net.to(memory_format=torch.contiguous_format) if side.endswith("-nchw") else net


def paired(
    model: str, x: torch.Tensor, y: torch.Tensor, sides: tuple[str, str], batches: int, warmup: int
) -> dict[str, float]:
    """Median ms per mini-batch of each side and the median per-mini-batch ratio second / first."""
    nets = {side: build(model, side) for side in sides}
    opts = {side: torch.optim.SGD(net.parameters(), lr=0.01) for side, net in nets.items()}
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {side: [] for side in sides}
    for i in range(warmup + batches):
        rows = order[(i * 128) % (len(y) - 128) :][:128]
        xb, yb = x.index_select(0, rows), y.index_select(0, rows)
        for side in sides if i % 2 == 0 else sides[::-1]:
            seconds = step(nets[side], opts[side], xb, yb, side.startswith("bf16"))
            if i >= warmup:
                times[side].append(seconds)
    first, second = (times[side] for side in sides)
    return {
        "a_ms": 1000 * statistics.median(first),
        "b_ms": 1000 * statistics.median(second),
        "ratio": statistics.median(b / a for a, b in zip(first, second, strict=True)),
    }


def main() -> None:
    parser = harness_parser(__doc__, rounds=None, baseline=False)
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--sides", nargs=2, default=["fp32", "bf16"], choices=SIDES)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load(Path(args.root), "train", 2)
    caps = {k: os.environ.get(k, "-") for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    print(
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.threads} thread(s), caps {caps}, {args.batches} pairs after {args.warmup} warm-up"
    )
    a, b = args.sides
    print(f"| model | {a} ms | {b} ms | {b} / {a} (paired median) |\n|---|---|---|---|")
    for model in args.models:
        r = paired(model, x, y, (a, b), args.batches, args.warmup)
        print(f"| {model} | {r['a_ms']:.3f} | {r['b_ms']:.3f} | **{r['ratio']:.3f}** |", flush=True)


if __name__ == "__main__":
    main()
