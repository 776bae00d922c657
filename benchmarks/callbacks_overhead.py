"""What the default callbacks add to an epoch: LeNet, fit wall time per epoch, with and without.

    python benchmarks/callbacks_overhead.py [--epochs 2] [--repeats 3]

'with' is callbacks=default (checkpoints, progress bar, lr monitor, metrics.csv + accuracy.png,
conv2 dump in the last epoch); 'without' is callbacks=none (Lightning's own progress bar only).
Validation runs in both. Runs alternate, and the table gives medians over the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import pytorch_lightning as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_exp.pipelines.run.train import train  # noqa: E402
from tests.conftest import compose_cfg  # noqa: E402


class FitTimer(pl.Callback):
    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.start


def once(callbacks: str, epochs: int, root: str, out: Path) -> float:
    cfg = compose_cfg(
        "config",
        [
            f"callbacks={callbacks}",
            f"trainer.max_epochs={epochs}",
            f"data.root={root}",
            f"paths.output_dir={out}",
            "test=false",
        ],
    )
    timer = FitTimer()
    train(cfg, extra_callbacks=[timer])
    return timer.seconds / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", default=os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--out", default="/tmp/mnist-exp-bench-callbacks")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"default": [], "none": []}
    for r in range(args.repeats):
        for name in times:
            times[name].append(once(name, args.epochs, args.root, Path(args.out) / f"{name}_{r}"))
    with_, without = statistics.median(times["default"]), statistics.median(times["none"])
    print(f"s/epoch (fit wall time incl. validation), LeNet, {args.epochs} epochs, median of {args.repeats}")
    print("| callbacks | s/epoch | runs |")
    print("|---|---|---|")
    print(f"| default | {with_:.2f} | {', '.join(f'{t:.2f}' for t in times['default'])} |")
    print(f"| none | {without:.2f} | {', '.join(f'{t:.2f}' for t in times['none'])} |")
    print(f"added by the callbacks: {with_ - without:+.2f} s/epoch ({100 * (with_ / without - 1):+.1f}%)")


if __name__ == "__main__":
    main()
