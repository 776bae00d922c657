"""A whole `mnist-exp-train experiment=seed_lenet` process against a plain PyTorch script doing the
same training, in interleaved pairs of fresh processes.

    python benchmarks/seed_run.py --root ../shared/data [--experiment seed_mlp] [--repeats 5]

mnist-exp: start-up, 30 epochs, after each a validation pass on the 10,000 test images
(val_size=0, as the seed experiments), the test of the last checkpoint; it writes everything a run
writes: last.ckpt and the best epoch's checkpoint every epoch, metrics.csv and the TensorBoard
events every epoch, accuracy.png at the end, the test's confusion matrix and mistakes, LeNet's
feature maps, status.json, train.log.
plain (benchmarks/plain_mnist.py, its own few lines, neither mnist-exp nor Lightning imported):
start-up, loading MNIST, 30 epochs of the seed's loop gathering rows with `index_select` as
mnist-exp does, each followed by the same evaluation pass, then the test pass; it writes nothing.
Both are deterministic (the project's default). Each pair runs both, the first of the pair
alternating; prints each pair's times and ratio, then the median ratio and its spread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAIN = REPO / "benchmarks" / "plain_mnist.py"


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{cmd[:4]} failed:\n{done.stderr[-3000:]}")
    acc = next((line for line in done.stdout.splitlines() if "test" in line and "acc" in line), "?")
    return seconds, acc.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--experiment", default="seed_lenet", choices=["seed_lenet", "seed_mlp"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved pairs (default 5)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mnist-exp-seed-run"))
    parser.add_argument("overrides", nargs="*", help="for the mnist-exp run, e.g. trainer=gpu")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = "lenet" if args.experiment == "seed_lenet" else "mlp"
    root = str(Path(args.root).resolve())
    plain = [sys.executable, str(PLAIN), "--root", root, "--model", model, "--epochs", str(args.epochs)]
    plain += ["--val-size", "0"]
    ratios, times = [], {"mnist-exp": [], "plain": []}
    for i in range(args.repeats):
        run_dir = args.out / f"{args.experiment}_{time.strftime('%H-%M-%S')}_{i}"
        ours = [sys.executable, "-m", "mnist_exp.cli.train", f"experiment={args.experiment}"]
        ours += [f"data.root={root}", f"trainer.max_epochs={args.epochs}", f"hydra.run.dir={run_dir}"]
        ours += [*args.overrides]
        pair = [("mnist-exp", ours), ("plain", plain)]
        pair = pair if i % 2 == 0 else pair[::-1]  # which goes first alternates
        took = {}
        for name, command in pair:
            took[name], acc = timed(command, args.out)
            times[name].append(took[name])
            print(f"pair {i}: {name:>9} {took[name]:7.1f} s  {acc}", flush=True)
        ratios.append(took["mnist-exp"] / took["plain"])
        print(f"pair {i}: ratio {ratios[-1]:.3f}", flush=True)
    print(
        f"\n{args.experiment}, {args.epochs} epochs, whole processes, {args.repeats} interleaved pairs: "
        f"mnist-exp median {statistics.median(times['mnist-exp']):.1f} s, "
        f"plain median {statistics.median(times['plain']):.1f} s; ratio median "
        f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
