"""Framework cost per mini-batch with the machine's drift cancelled: inside one mnist-exp run (d of
`epoch_time.py`, the default settings), each training mini-batch is gathered and trained twice: by
mnist-exp (its loader's gather, its step) and by a plain PyTorch loop (`images[rows]`, a plain
step on a copy of the network), one right after the other.

    python benchmarks/paired_step.py [--models lenet mlp] [--epochs 2] [--k 32] [--precision bf16-mixed]

`epoch_time.py` times the plain loop (b) and mnist-exp (d) in separate blocks of epochs. On a
shared 2-core machine the speed drifts by up to 40% within one run, more than the difference it
measures. Here both sides see the same weights (the copy is taken at the start and both follow the
same updates), the same rows of the same tensors and the same moment; which side goes first
alternates per mini-batch, so the one that finds the rows in the cache alternates too. Per model it
prints, over the measured epochs (after one warm-up epoch):
  - the median time per mini-batch (gather + step) of each side and their ratio;
  - per epoch: seconds in mnist-exp's gathers and steps, seconds of the epoch outside them and
    outside the plain side's work (Lightning's loop, metric updates, the progress bar), and the
    plain side's seconds, so that   d/b (paired) = (mnist-exp's + outside) / plain.
`--k` must be above 1: with K = 1 Lightning gathers the next mini-batch before the current step.
`--precision bf16-mixed` runs mnist-exp with `trainer.precision=bf16-mixed` and the plain side under
`torch.autocast("cpu", dtype=torch.bfloat16)`, as a user's plain bf16 loop would (weights in fp32).
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import time
import types
from pathlib import Path

import pytorch_lightning as pl
import torch
from harness import parser as harness_parser
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_exp.core.data import TensorBatches  # noqa: E402
from mnist_exp.pipelines.run.train import train  # noqa: E402
from mnist_exp.setup.config import compose as compose_cfg  # noqa: E402


class Paired(pl.Callback):
    """Wraps the loader's gather (`TensorBatches._batch`, training only) and the module's step
    (`_train_on`) with the plain side's gather and step of the same mini-batch."""

    def __init__(self, bf16: bool = False) -> None:
        self.bf16 = bf16
        self.plain: list[float] = []
        self.ours: list[float] = []
        self.epochs: list[dict[str, float]] = []
        # mini-batch index -> (our gather's seconds, the plain side's seconds if it went first, the
        # loader and order it was gathered from)
        self.gathered: dict[int, tuple[float, float | None, TensorBatches, torch.Tensor | None]] = {}
        self.original = TensorBatches._batch

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        net = copy.deepcopy(pl_module.net)
        opt = torch.optim.SGD(net.parameters(), lr=pl_module.optimizers().param_groups[0]["lr"])
        loss_fn = nn.CrossEntropyLoss()
        gather, train_on = self.original, pl_module._train_on

        def plain(loader: TensorBatches, order: torch.Tensor, i: int) -> float:
            """The plain loop's gather (plain indexing, as epoch_time.py's b) and step."""
            start = time.perf_counter()
            rows = order[i * loader.batch_size : (i + 1) * loader.batch_size]
            x, y = loader.images[rows], loader.labels[rows]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return time.perf_counter() - start

        def paired_gather(loader: TensorBatches, order: torch.Tensor | None, i: int):
            if not loader.shuffle:  # validation and test: not measured
                return gather(loader, order, i)
            first = plain(loader, order, i) if i % 2 == 0 else None
            start = time.perf_counter()
            batch = gather(loader, order, i)
            self.gathered[i] = (time.perf_counter() - start, first, loader, order)
            return batch

        def paired_step(module: pl.LightningModule, batch, index: int):
            start = time.perf_counter()
            result = train_on(batch, index)
            mine = time.perf_counter() - start
            ours_gather, first, loader, order = self.gathered.pop(index)
            plain_time = first if first is not None else plain(loader, order, index)
            if module.current_epoch >= 1:
                self.plain.append(plain_time)
                self.ours.append(ours_gather + mine)
            return result

        TensorBatches._batch = paired_gather  # type: ignore[method-assign]
        pl_module._train_on = types.MethodType(paired_step, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        TensorBatches._batch = self.original  # type: ignore[method-assign]

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._seen = time.perf_counter(), len(self.ours)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx != trainer.num_training_batches - 1 or trainer.current_epoch < 1:
            return
        wall = time.perf_counter() - self._start
        plain, ours = sum(self.plain[self._seen :]), sum(self.ours[self._seen :])
        self.epochs.append({"ours": ours, "plain": plain, "outside": wall - ours - plain})


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
            f"trainer.precision={args.precision}",
        ],
    )
    paired = Paired(bf16=args.precision == "bf16-mixed")
    train(cfg, extra_callbacks=[paired])
    per_epoch = {key: statistics.median(e[key] for e in paired.epochs) for key in paired.epochs[0]}
    return {
        "plain_ms": statistics.median(paired.plain) * 1e3,
        "ours_ms": statistics.median(paired.ours) * 1e3,
        **per_epoch,
        "d_over_b": (per_epoch["ours"] + per_epoch["outside"]) / per_epoch["plain"],
    }


def main() -> None:
    parser = harness_parser(__doc__, rounds=None, baseline=False)
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--epochs", type=int, default=2, help="measured epochs after the warm-up")
    parser.add_argument("--k", type=int, default=32, help="data.steps_per_call, above 1")
    parser.add_argument("--out", default="/tmp/mnist-exp-paired")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    args = parser.parse_args()
    if args.k < 2:
        parser.error("--k must be above 1 (with K = 1 Lightning gathers a mini-batch ahead)")
    rows = [(model, measure(model, args)) for model in args.models]
    threads = torch.get_num_threads()
    print(
        f"\nCPU, {threads} threads, torch {torch.__version__}, K={args.k}, {args.precision}, "
        f"median of {args.epochs} epochs"
    )
    print(
        "\n| model | plain, ms per mini-batch | mnist-exp, ms per mini-batch | ratio "
        "| plain s/epoch | mnist-exp s/epoch | outside both s/epoch | d/b (paired) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for model, r in rows:
        print(
            f"| {model} | {r['plain_ms']:.3f} | {r['ours_ms']:.3f} | {r['ours_ms'] / r['plain_ms']:.3f} "
            f"| {r['plain']:.2f} | {r['ours']:.2f} | {r['outside']:.3f} | {r['d_over_b']:.3f} |"
        )


if __name__ == "__main__":
    main()
