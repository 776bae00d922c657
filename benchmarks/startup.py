"""Start-up time of the commands: whole processes, median of N, against a baseline commit.

    python benchmarks/startup.py [--rounds 5] [--baseline bd7a58f]

Each case runs as a user runs it (`python -m <entry module> ARGS`, from an empty folder, so no run
folder is left behind), interleaved with the baseline commit's version of the same command (a git
worktree on PYTHONPATH, benchmarks/harness.py), so a slow moment of a shared machine hits both
alike. Prints a Markdown table: median and all runs in seconds, and now/baseline.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, checkout, interleaved, median_ratio, parser, table

# label, entry module, arguments; a baseline of the flat layout (before 0.1) has mnist_exp.<command>
CASES = [
    ("train optimizer.lr=-1 (refused)", "mnist_exp.cli.train", ["optimizer.lr=-1"]),
    ("train --help", "mnist_exp.cli.train", ["--help"]),
    ("train --cfg job", "mnist_exp.cli.train", ["--cfg", "job"]),
    ("eval --help", "mnist_exp.cli.eval", ["--help"]),
]


def once(module: str, args: list[str], code: Path, cwd: Path) -> float:
    """Seconds of one whole process (its exit code is the command's own: a refusal is 2)."""
    if not (code / "mnist_exp" / "cli").is_dir():
        module = module.replace(".cli.", ".")
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    args = parser(__doc__, rounds=5).parse_args()
    old = checkout(args.baseline) if args.baseline else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, module, argv in CASES:
            sides = {"now": lambda m=module, a=argv: once(m, a, REPO, Path(tmp))}
            if old is not None:
                sides["baseline"] = lambda m=module, a=argv: once(m, a, old, Path(tmp))
            took = interleaved(args.rounds, sides)
            now = statistics.median(took["now"])
            then = statistics.median(took["baseline"]) if old is not None else float("nan")
            ratio = median_ratio(took["now"], took["baseline"]) if old is not None else float("nan")
            runs = ", ".join(f"{t:.2f}" for t in took["now"])
            rows.append((f"`{label}`", f"{now:.2f}", runs, f"{then:.2f}", f"{ratio:.2f}"))
    header = [
        "command",
        "now: median (s)",
        "runs",
        f"baseline {args.baseline or '-'}: median (s)",
        "now/baseline",
    ]
    print(table(header, rows))


if __name__ == "__main__":
    main()
