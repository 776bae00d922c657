"""Wall time of the 12-job sweep (batch size x lr, MLP): Hydra's basic launcher (one job after the
other, each with all cores) against the joblib launcher (N jobs at once, cores shared out) and,
with `--launchers basic joblib slurm`, mnist-exp's SLURM launcher (N one-CPU jobs at once through
sbatch; needs a running SLURM, e.g. `bash .ci/slurm up`).

    python benchmarks/sweep_launchers.py --epochs 3 --rounds 2
    python benchmarks/sweep_launchers.py --epochs 3 --rounds 2 --launchers joblib slurm

Runs are interleaved (benchmarks/harness.py: the order reversed every other round) so a slow spell
of the machine hits both.
Each sweep is a real `mnist-exp-train -m ...` in its own folder under --out; the median wall time of
each launcher and the ratio joblib / basic are printed and written to results.md.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import interleaved, median_ratio, parser, table

GRID = ["data.batch_size=32,64,128,256", "optimizer.lr=0.001,0.01,0.1"]


def timed_sweep(command: list[str], launcher: str, n_jobs: int) -> float:
    """Wall seconds of one sweep process (`command`, any mnist-exp multirun command line) with
    the basic or the joblib launcher; exits with its stderr when it fails."""
    if launcher == "joblib":
        command = [*command, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"]
    if launcher == "slurm":  # as many one-CPU jobs at once as joblib runs one-thread jobs
        cpus = max(1, len(os.sched_getaffinity(0)) // n_jobs)
        command = [*command, "hydra/launcher=slurm", f"hydra.launcher.cpus_per_task={cpus}"]
        command += [f"hydra.launcher.array_parallelism={n_jobs}", "hydra.launcher.poll_s=1"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{launcher} sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def run(out: Path, launcher: str, n_jobs: int, epochs: int, extra: list[str]) -> float:
    args = [sys.executable, "-m", "mnist_exp.cli.train", "-m", *GRID, "model=mlp"]
    args += [f"trainer.max_epochs={epochs}", "callbacks.progress_bar.refresh_rate=1000"]
    return timed_sweep([*args, f"hydra.sweep.dir={out}", *extra], launcher, n_jobs)


def main() -> None:
    parse = parser(__doc__, rounds=2, baseline=False)
    parse.add_argument("--epochs", type=int, default=3)
    parse.add_argument("--n-jobs", type=int, default=len(os.sched_getaffinity(0)))
    parse.add_argument("--out", type=Path, default=Path("outputs/bench/sweep_launchers"))
    parse.add_argument(
        "--launchers", nargs="+", default=["basic", "joblib"], choices=["basic", "joblib", "slurm"]
    )
    parse.add_argument("overrides", nargs="*", help="extra overrides for every job")
    args = parse.parse_args()
    stamp, count = time.strftime("%Y-%m-%d_%H-%M-%S"), iter(range(10**6))
    extra = [f"data.root={Path(args.root).resolve()}", *args.overrides]

    def side(launcher: str) -> Callable[[], float]:
        def once() -> float:
            folder = args.out / f"{stamp}_{launcher}_{next(count)}"
            return run(folder, launcher, args.n_jobs, args.epochs, extra)

        return once

    times = interleaved(args.rounds, {name: side(name) for name in args.launchers})
    medians = {k: statistics.median(v) for k, v in times.items()}
    names = {"basic": "basic (sequential)", "joblib": f"joblib (n_jobs={args.n_jobs})"}
    names["slurm"] = f"slurm ({args.n_jobs} jobs at once)"
    rows = [(names[k], f"{medians[k]:.1f}", ", ".join(f"{t:.1f}" for t in v)) for k, v in times.items()]
    first = args.launchers[0]
    ratios = ", ".join(
        f"{k} / {first} = {median_ratio(times[k], times[first]):.2f}" for k in args.launchers[1:]
    )
    text = (
        f"12-job MLP sweep, {args.epochs} epochs each, {len(os.sched_getaffinity(0))} cores, "
        f"median of {args.rounds} (ratios: medians of the per-round ratios):\n\n"
        f"{table(['launcher', 'wall time (s)', 'runs (s)'], rows)}\n\n{ratios}\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
