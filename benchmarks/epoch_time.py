"""Seconds per training epoch: the seed's loop vs mnist-exp, both loaders, one process.

    python benchmarks/epoch_time.py [--models lenet mlp] [--epochs 2] [--rounds 2] [--root ../shared/data]

For each model, at the seed's settings (batch 128, SGD lr 0.01), each configuration runs one warm-up
epoch then `--epochs` measured training epochs (validation excluded); the block of configurations
runs `--rounds` times in turn, so slow drifts of a shared machine hit all of them alike; the table
gives the median over all measured epochs of:
  a  the seed's plain PyTorch loop, torchvision DataLoader with per-sample transforms
  b  a plain PyTorch loop over the in-memory tensor (the floor for this code), deterministic as the
     project's default trainer.deterministic=true makes d (--b-nondeterministic: as torch defaults)
  c  mnist-exp, data.loader=torchvision
  d  mnist-exp, data.loader=tensor (the default), once per `--k` value of data.steps_per_call
     (mini-batches per Lightning step; K=1 is one Lightning step per mini-batch, as before)
  e  as d with data.storage=uint8 (normalized per batch instead of once)
Then the peak resident memory of (d) alone, in a child process. Prints a Markdown table.
`--only b d` measures just those columns (a and c take most of the time).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import nn
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness import parser as harness_parser  # noqa: E402

from mnist_exp.core.data import MNISTDataModule  # noqa: E402
from mnist_exp.pipelines.run.train import train  # noqa: E402
from mnist_exp.setup.config import compose as compose_cfg  # noqa: E402


def seed_model(name: str, channels_last: bool) -> nn.Module:
    cfg = compose_cfg("config", [f"model={name}", "paths.output_dir=unused", "data.root=unused"])
    net = instantiate(cfg.model)
    return net.to(memory_format=torch.channels_last) if channels_last else net


def plain_loop(
    net: nn.Module, batches, epochs: int, device: torch.device, deterministic: bool = False
) -> list[float]:
    """The seed's loop: forward, cross-entropy, backward, SGD step; one warm-up epoch."""
    torch.use_deterministic_algorithms(deterministic)
    torch.utils.deterministic.fill_uninitialized_memory = False  # as mnist-exp sets it
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    net.to(device).train()
    times = []
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        for x, y in batches(epoch):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if epoch:
            times.append(time.perf_counter() - start)
    return times


class EpochTimer(pl.Callback):
    """Training-epoch wall time, validation excluded (it runs after the last batch)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx == trainer.num_training_batches - 1:
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._start)


def mnist_exp(model: str, loader: str, epochs: int, root: str, out: Path, extra: list[str]) -> list[float]:
    cfg = compose_cfg(
        "config",
        [
            f"model={model}",
            f"data.loader={loader}",
            f"data.root={root}",
            f"trainer.max_epochs={epochs + 1}",
            f"paths.output_dir={out / model / loader}",
            "test=false",
            "data.val_size=0",  # the seed trains on all 60,000 images, as a and b do
            *extra,
        ],
    )
    timer = EpochTimer()
    train(cfg, extra_callbacks=[timer])
    return timer.times[1:]


def measure(args: argparse.Namespace, model: str, out: Path) -> dict[str, list[float]]:
    device = torch.device(args.device)
    channels_last = model == "lenet" and not args.nchw
    dm = MNISTDataModule(root=args.root, val_size=0, loader="torchvision", verify=False)
    dm.prepare_data()
    dm.setup()
    seed_loader = DataLoader(dm._sets["train"][0], batch_size=128, shuffle=True)
    tensors = MNISTDataModule(root=args.root, val_size=0, verify=False)
    tensors.setup()
    images, labels = (t.to(device) for t in tensors._sets["train"])

    def in_memory(epoch: int):
        perm = torch.randperm(len(labels), device=device)
        for i in range(0, len(labels), 128):
            b = perm[i : i + 128]
            yield images[b], labels[b]

    columns = [c for c in "abcde" if c in args.only]
    results: dict[str, list[float]] = {c: [] for c in columns if c != "d"}
    results.update({f"d{k}": [] for k in args.k} if "d" in columns else {})
    torch.manual_seed(0)
    extra = [f"channels_last={channels_last}", *args.override]
    for _ in range(args.rounds):
        if "a" in columns:
            results["a"] += plain_loop(seed_model(model, False), lambda e: seed_loader, args.epochs, device)
        if "b" in columns:
            deterministic = not args.b_nondeterministic
            net = seed_model(model, channels_last)
            results["b"] += plain_loop(net, in_memory, args.epochs, device, deterministic)
        if "c" in columns:
            results["c"] += mnist_exp(model, "torchvision", args.epochs, args.root, out, extra)
        for k in args.k if "d" in columns else []:
            results[f"d{k}"] += mnist_exp(
                model, "tensor", args.epochs, args.root, out, [*extra, f"data.steps_per_call={k}"]
            )
        if "e" in columns:
            uint8 = [*extra, "data.storage=uint8", f"data.steps_per_call={args.k[-1]}"]
            results["e"] += mnist_exp(model, "tensor", args.epochs, args.root, out, uint8)
    return results


def peak_memory_of_d(args: argparse.Namespace, model: str, out: Path) -> float:
    """Peak RSS (GB) of a process that runs only (d)."""
    cmd = [sys.executable, __file__, "--only-d", model, "--root", args.root, "--epochs", "1"]
    cmd += ["--device", args.device, "--out", str(out / "memory"), "--k", str(args.k[-1])]
    cmd += [f"--override={o}" for o in args.override]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_gb"]


def main() -> None:
    parser = harness_parser(__doc__, rounds=2, baseline=False)
    parser.formatter_class = argparse.RawTextHelpFormatter
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--epochs", type=int, default=2, help="measured epochs after the warm-up")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--nchw", action="store_true", help="LeNet in NCHW for b and d too")
    parser.add_argument("--override", action="append", default=[], help="extra Hydra override for c, d")
    parser.add_argument("--out", default="/tmp/mnist-exp-bench")
    parser.add_argument("--only-d", help=argparse.SUPPRESS)
    parser.add_argument("--memory-only", action="store_true", help="only the peak RSS of d")
    parser.add_argument("--b-nondeterministic", action="store_true", help="b without deterministic mode")
    parser.add_argument("--only", nargs="+", default=list("abcde"), choices=list("abcde"))
    parser.add_argument(
        "--k", nargs="+", type=int, default=[1, 32], help="data.steps_per_call values for d (default 1 32)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    if args.device == "cuda":
        args.override = ["trainer=gpu", *args.override]

    if args.only_d:
        model = args.only_d
        extra = [f"channels_last={model == 'lenet' and not args.nchw}", *args.override]
        mnist_exp(model, "tensor", args.epochs, args.root, out, [*extra, f"data.steps_per_call={args.k[-1]}"])
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent
        status = Path("/proc/self/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        print(json.dumps({"peak_rss_gb": round(peak_kb / 1024**2, 3)}))
        return

    if args.memory_only:
        for model in args.models:
            print(f"peak RSS of d, {model}: {peak_memory_of_d(args, model, out):.2f} GB")
        return
    rows = []
    for model in args.models:
        times = measure(args, model, out)
        med = {k: statistics.median(v) for k, v in times.items()}
        mem = peak_memory_of_d(args, model, out) if "d" in args.only else float("nan")
        rows.append((model, med, mem))
        print(json.dumps({"model": model, "epochs": {k: [round(t, 3) for t in v] for k, v in times.items()}}))

    device = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'CPU'}"
    print()
    print(
        f"{datetime.date.today()}, {device}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"pytorch-lightning {pl.__version__}; median s/epoch over {args.rounds} x {args.epochs} "
        "epochs, each after a warm-up"
    )
    print()
    print(table(rows))


def table(rows: list[tuple[str, dict[str, float], float]]) -> str:
    """The Markdown table: a column per measured configuration, then d/a and d/b per K."""
    names = {"a": "a: seed loop", "b": "b: plain, in-memory", "c": "c: mnist-exp torchvision"}
    names["e"] = "e: d, uint8 storage"
    keys = [k for k in rows[0][1]]
    ds = [k for k in keys if k.startswith("d")]
    header = [names.get(k, f"d: mnist-exp, K={k[1:]}") for k in keys]
    header += [f"{d}/{base} (K={d[1:]})" for d in ds for base in "ab" if base in keys]
    lines = ["| model | " + " | ".join(header) + " | peak RSS of d |", "|---" * (len(header) + 2) + "|"]
    for model, m, mem in rows:
        cells = [f"{m[k]:.2f}" for k in keys]
        cells += [f"{m[d] / m[base]:.2f}" for d in ds for base in "ab" if base in keys]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {mem:.2f} GB |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
