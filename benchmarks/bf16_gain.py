"""What bf16 buys on this CPU: a plain 32-bit SGD step against a plain bf16-autocast one, paired
mini-batch by mini-batch in one process (so the machine's drift cancels), for LeNet-5
(channels_last, as mnist-exp's default) and the MLP.

    python benchmarks/bf16_gain.py --root ../shared/data [--batches 400] [--threads 1]

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

import argparse
import copy
import os
import statistics
import time
from pathlib import Path

import torch
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


def paired(model: str, x: torch.Tensor, y: torch.Tensor, batches: int, warmup: int) -> dict[str, float]:
    """Median ms per mini-batch of each side and the median per-mini-batch ratio bf16 / 32-bit."""
    torch.manual_seed(0)
    nets = {False: network(model)}
    nets[True] = copy.deepcopy(nets[False])
    opts = {bf16: torch.optim.SGD(net.parameters(), lr=0.01) for bf16, net in nets.items()}
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(warmup + batches):
        rows = order[(i * 128) % (len(y) - 128) :][:128]
        xb, yb = x.index_select(0, rows), y.index_select(0, rows)
        sides = (False, True) if i % 2 == 0 else (True, False)
        for bf16 in sides:
            seconds = step(nets[bf16], opts[bf16], xb, yb, bf16)
            if i >= warmup:
                times[bf16].append(seconds)
    ratios = [b / f for f, b in zip(times[False], times[True], strict=True)]
    return {
        "fp32_ms": 1000 * statistics.median(times[False]),
        "bf16_ms": 1000 * statistics.median(times[True]),
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load(args.root, "train", 2)
    caps = {k: os.environ.get(k, "-") for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    print(
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.threads} thread(s), caps {caps}, {args.batches} pairs after {args.warmup} warm-up"
    )
    print("| model | 32-bit ms | bf16 ms | bf16 / 32-bit (paired median) |\n|---|---|---|---|")
    for model in args.models:
        r = paired(model, x, y, args.batches, args.warmup)
        print(f"| {model} | {r['fp32_ms']:.3f} | {r['bf16_ms']:.3f} | **{r['ratio']:.3f}** |", flush=True)


if __name__ == "__main__":
    main()
