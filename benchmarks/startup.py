"""Start-up time of the commands: whole processes, median of N, against a baseline commit.

    python benchmarks/startup.py [--repeats 5] [--baseline bd7a58f]

Each case runs as a user runs it (`python -m <entry module> ARGS`, from an empty folder, so no run
folder is left behind), interleaved with the baseline commit's version of the same command (a git
worktree on PYTHONPATH), so a slow moment of a shared machine hits both alike. Prints a Markdown
table: median and all runs in seconds, and new/baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# label, module now, module at the baseline (the flat layout), arguments
CASES = [
    ("train optimizer.lr=-1 (refused)", "mnist_exp.cli.train", "mnist_exp.train", ["optimizer.lr=-1"]),
    ("train --help", "mnist_exp.cli.train", "mnist_exp.train", ["--help"]),
    ("train --cfg job", "mnist_exp.cli.train", "mnist_exp.train", ["--cfg", "job"]),
    ("eval --help", "mnist_exp.cli.eval", "mnist_exp.eval", ["--help"]),
]


def once(module: str, args: list[str], pythonpath: Path, cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default=None, help="a commit of the flat layout, e.g. bd7a58f")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp) / "empty"
        cwd.mkdir()
        old = Path(tmp) / "baseline"
        if args.baseline:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(old), args.baseline],
                check=True,
            )
        try:
            rows = []
            for label, module, old_module, argv in CASES:
                new_t, old_t = [], []
                for _ in range(args.repeats):
                    new_t.append(once(module, argv, REPO, cwd))
                    if args.baseline:
                        old_t.append(once(old_module, argv, old, cwd))
                rows.append((label, new_t, old_t))
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False
                )
    print(
        f"| command | now: median (s) | runs | baseline {args.baseline or '-'}: median (s) | now/baseline |"
    )
    print("|---|---|---|---|---|")
    for label, new_t, old_t in rows:
        new_m = statistics.median(new_t)
        old_m = statistics.median(old_t) if old_t else float("nan")
        runs = ", ".join(f"{t:.2f}" for t in new_t)
        print(f"| `{label}` | {new_m:.2f} | {runs} | {old_m:.2f} | {new_m / old_m:.2f} |")


if __name__ == "__main__":
    main()
