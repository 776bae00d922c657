"""A whole default epoch, timed inside each process: mnist-exp against a plain loop.

    python benchmarks/whole_epoch.py --root ../shared/data [--rounds 3] [--epochs 5]

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

import argparse
import datetime
import itertools
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAIN = REPO / "benchmarks" / "plain_mnist.py"
LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[mnist_exp[.\w]*\]\[INFO\] - epoch \d+:")


def median_gap(stamps: list[float]) -> float:
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    if not gaps:
        sys.exit("fewer than two epoch lines: nothing to time")
    return statistics.median(gaps)


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def mnist_exp_epoch(model: str, epochs: int, root: str, out: Path) -> float:
    run_dir = out / f"{model}_{time.strftime('%H-%M-%S')}_{time.perf_counter_ns()}"
    run(
        [
            sys.executable, "-m", "mnist_exp.cli.train", f"model={model}", f"trainer.max_epochs={epochs}",
            f"data.root={root}", f"hydra.run.dir={run_dir}",
        ],
        out,
    )  # fmt: skip
    stamps = []
    for line in (run_dir / "train.log").read_text().splitlines():
        if found := LOG_LINE.match(line):
            when = datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
            stamps.append(when.timestamp())
    return median_gap(stamps)


def plain_epoch(model: str, epochs: int, root: str, out: Path) -> float:
    stdout = run([sys.executable, str(PLAIN), "--root", root, "--model", model, "--epochs", str(epochs)], out)
    return median_gap([float(line.split()[-1]) for line in stdout.splitlines() if line.startswith("epoch ")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mnist-exp-whole-epoch"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = str(Path(args.root).resolve())
    rows = {m: [] for m in args.models}
    for r in range(args.rounds):
        for model in args.models:
            sides = [("mnist-exp", mnist_exp_epoch), ("plain", plain_epoch)]
            took = {name: 0.0 for name, _ in sides}
            for name, measure in sides if r % 2 == 0 else sides[::-1]:
                took[name] = measure(model, args.epochs, root, args.out)
            rows[model].append((took["plain"], took["mnist-exp"]))
            print(
                f"round {r} {model}: plain {took['plain']:.3f} s, mnist-exp {took['mnist-exp']:.3f} s",
                flush=True,
            )
    print("\n| model | round | plain loop, s per epoch | mnist-exp, s per epoch | ratio |")
    print("|---|---|---|---|---|")
    for model, pairs in rows.items():
        for r, (plain, ours) in enumerate(pairs):
            print(f"| {model} | {r + 1} | {plain:.3f} | {ours:.3f} | {ours / plain:.3f} |")
        ratio = statistics.median(ours / plain for plain, ours in pairs)
        print(f"| {model} | median | | | **{ratio:.3f}** |")


if __name__ == "__main__":
    main()
