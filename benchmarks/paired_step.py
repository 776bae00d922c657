"""Framework cost per mini-batch with the machine's drift cancelled: inside one mnist-exp run (d of
`epoch_time.py`, the default settings), each mini-batch is trained twice, by mnist-exp's own step
and by a plain PyTorch step on a copy of the same network, one right after the other.

    python benchmarks/paired_step.py [--models lenet mlp] [--epochs 2] [--k 32]

`epoch_time.py` times the plain loop (b) and mnist-exp (d) in separate blocks of epochs. On a
shared 2-core machine the speed drifts by up to ±25% between blocks, more than the difference it
measures. Here the two steps see the same weights (the copy is taken at the start and both follow
the same updates), the same mini-batch and the same moment; their order alternates per mini-batch.
Per model it prints, over the measured epochs (after one warm-up epoch):
  - the median step time of each and their ratio;
  - per epoch: seconds in mnist-exp's steps, seconds of the epoch outside any step (Lightning's
    loop, gathering the mini-batches, metric updates), and the seconds a plain loop spends
    gathering the same mini-batches, so that
        d/b (paired) = (mnist-exp steps + outside) / (plain steps + plain gathering).
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import sys
import time
import types
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_exp.pipelines.train import train  # noqa: E402
from tests.conftest import compose_cfg  # noqa: E402


class Paired(pl.Callback):
    """Wraps the module's per-mini-batch `_train_on` with a plain step on a copy of its network."""

    def __init__(self) -> None:
        self.plain: list[float] = []
        self.ours: list[float] = []
        self.epochs: list[dict[str, float]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        net = copy.deepcopy(pl_module.net)
        opt = torch.optim.SGD(net.parameters(), lr=pl_module.optimizers().param_groups[0]["lr"])
        loss_fn = nn.CrossEntropyLoss()
        ours = pl_module._train_on

        def plain_step(x: torch.Tensor, y: torch.Tensor) -> float:
            start = time.perf_counter()
            loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return time.perf_counter() - start

        def paired(module: pl.LightningModule, batch, index: int):
            plain_first = index % 2 == 0
            plain = plain_step(*batch) if plain_first else 0.0
            start = time.perf_counter()
            result = ours(batch, index)
            mine = time.perf_counter() - start
            plain = plain if plain_first else plain_step(*batch)
            if module.current_epoch >= 1:
                self.plain.append(plain)
                self.ours.append(mine)
            return result

        pl_module._train_on = types.MethodType(paired, pl_module)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._steps = time.perf_counter(), (len(self.plain), len(self.ours))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx != trainer.num_training_batches - 1 or trainer.current_epoch < 1:
            return
        wall = time.perf_counter() - self._start
        plain, ours = sum(self.plain[self._steps[0] :]), sum(self.ours[self._steps[1] :])
        images, labels = trainer.datamodule._sets["train"]
        gather = gather_time(images, labels)
        self.epochs.append({"ours": ours, "plain": plain, "outside": wall - ours - plain, "gather": gather})


def gather_time(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 128) -> float:
    """What the plain loop spends per epoch outside its steps: shuffling and indexing batches."""
    start = time.perf_counter()
    perm = torch.randperm(len(labels))
    for i in range(0, len(labels), batch_size):
        b = perm[i : i + batch_size]
        images[b], labels[b]
    return time.perf_counter() - start


def measure(model: str, args: argparse.Namespace) -> dict[str, float]:
    out = Path(args.out) / model
    shutil.rmtree(out, ignore_errors=True)
    cfg = compose_cfg(
        "config",
        [
            f"model={model}",
            f"data.root={args.root}",
            f"trainer.max_epochs={args.epochs + 1}",
            f"paths.output_dir={out}",
            "test=false",
            "data.val_size=0",  # all 60,000 training images, as epoch_time.py
            f"channels_last={model == 'lenet'}",
            f"data.steps_per_call={args.k}",
            "callbacks.progress_bar.refresh_rate=1000",
        ],
    )
    paired = Paired()
    train(cfg, extra_callbacks=[paired])
    per_epoch = {key: statistics.median(e[key] for e in paired.epochs) for key in paired.epochs[0]}
    return {
        "plain_ms": statistics.median(paired.plain) * 1e3,
        "ours_ms": statistics.median(paired.ours) * 1e3,
        **per_epoch,
        "d_over_b": (per_epoch["ours"] + per_epoch["outside"]) / (per_epoch["plain"] + per_epoch["gather"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--epochs", type=int, default=2, help="measured epochs after the warm-up")
    parser.add_argument("--k", type=int, default=32, help="data.steps_per_call")
    parser.add_argument("--root", default=os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--out", default="/tmp/mnist-exp-paired")
    args = parser.parse_args()
    rows = [(model, measure(model, args)) for model in args.models]
    threads = torch.get_num_threads()
    print(f"\nCPU, {threads} threads, torch {torch.__version__}, K={args.k}, median of {args.epochs} epochs")
    print(
        "\n| model | plain step (ms) | mnist-exp step (ms) | ratio | steps s/epoch | outside steps s/epoch "
        "| plain gathering s/epoch | d/b (paired) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for model, r in rows:
        print(
            f"| {model} | {r['plain_ms']:.3f} | {r['ours_ms']:.3f} | {r['ours_ms'] / r['plain_ms']:.3f} "
            f"| {r['ours']:.2f} | {r['outside']:.3f} | {r['gather']:.3f} | {r['d_over_b']:.3f} |"
        )


if __name__ == "__main__":
    main()
