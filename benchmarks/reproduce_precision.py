"""The whole reproduction (`mnist-exp-reproduce hydra/launcher=joblib`: seed_lenet and seed_mlp x 5
seeds, 30 epochs each) in 32-bit and in bf16-mixed, interleaved: wall time of each, and per model
the final test accuracy, mean ± std and 95% CI over the seeds, and Welch's t-test of bf16 against
32-bit (the report's tie test: tied where p > 0.05).

    python benchmarks/reproduce_precision.py --root ../shared/data [--rounds 2]

Each reproduction is a real `mnist-exp-reproduce` process in its own sweep folder under --out.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import time
from pathlib import Path

from harness import parser as harness_parser
from sweep_launchers import timed_sweep  # benchmarks/: the script's own folder is on sys.path

from mnist_exp.records.stats import describe, welch_p

PRECISIONS = ("32-true", "bf16-mixed")


def accuracies(folder: Path) -> dict[str, list[float]]:
    """{experiment: [final test accuracy (%) of each seed]} from the sweep's results.csv."""
    found: dict[str, list[float]] = {}
    with (folder / "results.csv").open() as fh:
        for row in csv.DictReader(fh):
            name = next(o.split("=")[1] for o in row["overrides"].split() if o.startswith("experiment="))
            found.setdefault(name, []).append(100 * float(row["test_acc"]))
    return found


def cell(values: list[float]) -> str:
    d = describe(values)
    return f"{d['mean']:.2f} ± {d['std']:.2f} (CI {d['ci95_low']:.2f} to {d['ci95_high']:.2f}, n={d['n']})"


def main() -> None:
    parser = harness_parser(__doc__, rounds=1, baseline=False)
    parser.add_argument("--n-jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/reproduce_precision"))
    parser.add_argument("overrides", nargs="*", help="overrides for every run")
    args = parser.parse_args()
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    results: dict[str, dict[str, list[float]]] = {}
    for i in range(args.rounds):
        for precision in PRECISIONS if i % 2 == 0 else PRECISIONS[::-1]:  # as benchmarks/harness.interleaved
            folder = (args.out / f"{stamp}_{precision}_{i}").resolve()
            command = [sys.executable, "-m", "mnist_exp.cli.reproduce", f"hydra.sweep.dir={folder}"]
            command += [
                f"data.root={Path(args.root).resolve()}",
                *args.overrides,
                f"trainer.precision={precision}",
                "callbacks.progress_bar.refresh_rate=1000",
            ]
            times[precision].append(timed_sweep(command, "joblib", args.n_jobs))
            results[precision] = accuracies(folder)  # the runs are deterministic: every repeat agrees
            print(f"{precision} #{i}: {times[precision][-1] / 60:.1f} min", flush=True)
    lines = [
        f"mnist-exp-reproduce hydra/launcher=joblib {' '.join(args.overrides)}: "
        f"{len(os.sched_getaffinity(0))} cores, n_jobs={args.n_jobs}, {args.rounds} interleaved round(s)\n",
        "| precision | wall (min), each | "
        + " | ".join(f"{e} test acc (%)" for e in sorted(results["32-true"]))
        + " |",
        "|---|---|" + "---|" * len(results["32-true"]),
    ]
    for precision in PRECISIONS:
        walls = ", ".join(f"{t / 60:.1f}" for t in times[precision])
        lines.append(
            f"| {precision} | {walls} | "
            + " | ".join(cell(results[precision][e]) for e in sorted(results[precision]))
            + " |"
        )
    for name in sorted(results["32-true"]):
        p = welch_p(results["32-true"][name], results["bf16-mixed"][name])
        verdict = "tied" if p is not None and p > 0.05 else "not tied"
        lines.append(f"\n{name}: bf16 vs 32-bit, Welch's t-test p = {p:.3g} ({verdict})")
    ratio = statistics.median(times["bf16-mixed"]) / statistics.median(times["32-true"])
    lines.append(f"\nbf16 / 32-bit wall time (median of {args.rounds}): {ratio:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}_results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
