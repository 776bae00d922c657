"""A whole default epoch, timed inside each process: mnist-exp against a plain loop.

    python benchmarks/whole_epoch.py --root ../shared/data [--rounds 3] [--epochs 5] [--baseline <commit>]

An epoch here is everything between two per-epoch lines: training on 55,000 images, validation on
5,000, and for mnist-exp whatever it does at an epoch's end (metrics.csv, TensorBoard events,
last.ckpt and the best checkpoint, LeNet's feature maps). Each side's figure is the median gap
between its consecutive per-epoch lines in one `--epochs`-epoch process, so start-up, data loading
and the end of the run are left out:
  mnist-exp  `mnist-exp-train model=<m> trainer.max_epochs=5`, defaults otherwise; the timestamps
             of train.log's `epoch N:` lines (logged as each epoch ends, after its validation)
  plain      benchmarks/plain_mnist.py with the same batch size, lr, held-out 5,000 and evaluation
             pass; its `epoch N end T` lines; it writes nothing
For each round and model both run, the first of the two alternating between rounds, so the
machine's drift between processes (up to 30% here) hits both sides alike; the ratio is taken
within a round, and the table gives each round's ratio and their median.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, checkout, epoch_gap, interleaved, median_ratio, parser, python, table

PLAIN = REPO / "benchmarks" / "plain_mnist.py"


def median_gap(stamps: list[float]) -> float:
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    if not gaps:
        sys.exit("fewer than two epoch lines: nothing to time")
    return statistics.median(gaps)


def mnist_exp_epoch(model: str, epochs: int, root: str, out: Path, code: Path = REPO) -> float:
    """The median gap between train.log's epoch lines of one default run (of `code`'s mnist-exp)."""
    run_dir = out / f"{model}_{time.strftime('%H-%M-%S')}_{time.perf_counter_ns()}"
    args = [f"model={model}", f"trainer.max_epochs={epochs}", f"data.root={root}", f"hydra.run.dir={run_dir}"]
    python("mnist_exp.cli.train", args, out, code)
    return epoch_gap(run_dir / "train.log")


def plain_epoch(model: str, epochs: int, root: str, out: Path) -> float:
    stdout = python(str(PLAIN), ["--root", root, "--model", model, "--epochs", str(epochs)], out).stdout
    return median_gap([float(line.split()[-1]) for line in stdout.splitlines() if line.startswith("epoch ")])


def main() -> None:
    parse = parser(__doc__)
    parse.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parse.add_argument("--epochs", type=int, default=5)
    args = parse.parse_args()
    root, out = str(Path(args.root).resolve()), Path(tempfile.mkdtemp(prefix="mnist-exp-whole-epoch-"))
    old = checkout(args.baseline) if args.baseline else None
    rows = []
    for model in args.models:
        sides = {
            "plain": lambda m=model: plain_epoch(m, args.epochs, root, out),
            "mnist-exp": lambda m=model: mnist_exp_epoch(m, args.epochs, root, out),
        }
        if old is not None:
            sides["baseline"] = lambda m=model: mnist_exp_epoch(m, args.epochs, root, out, old)
        took = interleaved(args.rounds, sides)
        for r, (plain, ours) in enumerate(zip(took["plain"], took["mnist-exp"], strict=True)):
            then = f"{took['baseline'][r]:.3f}" if old is not None else ""
            rows.append((model, r + 1, f"{plain:.3f}", f"{ours:.3f}", then, f"{ours / plain:.3f}"))
        versus = f"{median_ratio(took['mnist-exp'], took['baseline']):.3f}" if old is not None else ""
        rows.append(
            (model, "median", "", "", versus, f"**{median_ratio(took['mnist-exp'], took['plain']):.3f}**")
        )
    baseline = f"mnist-exp at {args.baseline} (s)" + ("; median: now/then" if old is not None else "")
    header = [
        "model",
        "round",
        "plain loop, s per epoch",
        "mnist-exp, s per epoch",
        baseline,
        "mnist-exp/plain",
    ]
    print(table(header, rows))


if __name__ == "__main__":
    main()
