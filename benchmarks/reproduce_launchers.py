"""Wall time of the whole reproduction (`mnist-exp-reproduce`: seed_lenet and seed_mlp x 5 seeds,
30 epochs each): Hydra's basic launcher (one run after the other, each with all cores) against the
joblib launcher (N runs at once, the cores shared out among them).

    python benchmarks/reproduce_launchers.py data.root=../shared/data

Each reproduction is a real `mnist-exp-reproduce` process in its own sweep folder under --out;
the wall time of each and the measured mean ± std per model (from its summary.csv) are printed and
written to results.md. One full reproduction takes about a quarter of an hour on 2 cores, so the
default is one of each (--repeats for more, interleaved); --epochs shortens the runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

from sweep_launchers import timed_sweep  # benchmarks/: the script's own folder is on sys.path


def run(out: Path, launcher: str, n_jobs: int, extra: list[str]) -> float:
    args = [sys.executable, "-m", "mnist_exp.cli.reproduce", f"hydra.sweep.dir={out}", *extra]
    return timed_sweep([*args, "callbacks.progress_bar.refresh_rate=1000"], launcher, n_jobs)


def summary(folder: Path) -> str:
    """'seed_lenet 98.50 ± 0.11 (n=5); ...' from the sweep's summary.csv."""
    with (folder / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return "; ".join(
        f"{r['config'].split('=')[-1]} {100 * float(r['test_acc_mean']):.2f} ± "
        f"{100 * float(r['test_acc_std'] or 0):.2f} (n={r['n']})"
        for r in sorted(rows, key=lambda r: r["config"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--epochs", type=int, help="shorter runs than the seed's 30 epochs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/reproduce_launchers"))
    parser.add_argument("overrides", nargs="*", help="overrides for every run, e.g. data.root=...")
    args = parser.parse_args()
    extra = [*args.overrides, *([f"trainer.max_epochs={args.epochs}"] if args.epochs else [])]
    times: dict[str, list[float]] = {"basic": [], "joblib": []}
    lines = []
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    for i in range(args.repeats):
        for launcher in times:
            folder = (args.out / f"{stamp}_{launcher}_{i}").resolve()
            seconds = run(folder, launcher, args.n_jobs, extra)
            times[launcher].append(seconds)
            lines.append(f"| {launcher} #{i} | {seconds / 60:.1f} | {summary(folder)} |")
            print(lines[-1], flush=True)
    basic, joblib = statistics.median(times["basic"]), statistics.median(times["joblib"])
    text = (
        f"mnist-exp-reproduce {' '.join(extra)}: 10 runs, {len(os.sched_getaffinity(0))} cores, "
        f"joblib n_jobs={args.n_jobs}\n\n| launcher | wall (min) | test acc (%) mean ± std |\n|---|---|---|\n"
        + "\n".join(lines)
        + f"\n\njoblib / basic (median of {args.repeats}) = {joblib / basic:.2f}\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
