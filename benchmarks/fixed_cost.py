"""mnist-exp's own fixed cost of a short run: a 3-epoch MLP run's wall time, minus its epochs, minus
a bare `import torch, pytorch_lightning` (the floor no run avoids), timed in the same benchmark.

    python benchmarks/fixed_cost.py [--repeats 5] [--baseline e8d6801] [--profile]

Each repeat times, one right after the other: the bare import, this checkout's run and (with
--baseline) the same run at that commit (a git worktree on PYTHONPATH), each a whole process from
an empty folder, as a user starts it. The epochs' time is read from the run's own train.log (the
per-epoch lines of every version): three epochs take 3/2 of the time from the first epoch's line
to the third's. Prints the medians and each part. `--profile` also prints where one run's time
went by its train.log (process start to the first line, set-up, epochs, test and records, exit).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN = ["model=mlp", "trainer.max_epochs=3", "logger=tensorboard", "trainer.enable_progress_bar=false"]
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[[^]]+\]\[\w+\] - (.*)$")


def bare_import() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, pytorch_lightning"], check=True)
    return time.perf_counter() - start


def lines(log: Path) -> list[tuple[float, str]]:
    """(seconds since the epoch, message) of each train.log line."""
    found = []
    for line in log.read_text().splitlines():
        match = STAMP.match(line)
        if match:
            when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            found.append((when, match[2]))
    return found


def one_run(
    pythonpath: Path, data: str, cwd: Path, name: str
) -> tuple[float, float, list[tuple[float, str]]]:
    """(wall seconds, the three epochs' seconds, the log's lines) of one whole run."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = cwd / name
    command = [sys.executable, "-m", "mnist_exp.cli.train", *RUN, f"data.root={data}", f"hydra.run.dir={out}"]
    start = time.time()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.time() - start
    if done.returncode != 0:
        sys.exit(f"run failed:\n{done.stderr[-3000:]}")
    logged = [(t - start, m) for t, m in lines(out / "train.log")]
    epochs = [t for t, m in logged if re.match(r"epoch \d+: train/loss", m)]
    return wall, 1.5 * (epochs[2] - epochs[0]), logged


def profile(wall: float, logged: list[tuple[float, str]]) -> None:
    """Where one run's time went, by its log's lines."""
    epochs = [t for t, m in logged if m.startswith("epoch ")]
    first_epoch = epochs[0] - (epochs[2] - epochs[0]) / 2
    print(f"  process start -> first log line   {logged[0][0]:6.2f} s")
    print(f"  first log line -> epoch 0 begins  {first_epoch - logged[0][0]:6.2f} s (set-up)")
    print(f"  epochs 0-2                        {epochs[2] - first_epoch:6.2f} s")
    print(f"  last epoch -> last log line       {logged[-1][0] - epochs[2]:6.2f} s (test, figures, records)")
    print(f"  last log line -> process exit     {wall - logged[-1][0]:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", help="a commit to compare with, e.g. e8d6801")
    parser.add_argument("--data", default=os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    sides = {"now": REPO}
    results: dict[str, list[tuple[float, float, float]]] = {"now": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            sides["baseline"] = Path(tmp) / "baseline"
            worktree = ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach"]
            subprocess.run([*worktree, str(sides["baseline"]), args.baseline], check=True)
        try:
            for i in range(args.repeats):
                for side, path in sides.items():
                    floor = bare_import()
                    wall, epochs, logged = one_run(path, args.data, Path(tmp), f"{side}{i}")
                    results[side].append((wall, epochs, floor))
                    own = wall - epochs - floor
                    parts = f"wall {wall:.2f} s, epochs {epochs:.2f} s, bare import {floor:.2f} s"
                    print(f"{side} #{i}: {parts}, own fixed cost {own:.2f} s", flush=True)
                    if args.profile and i == 0:
                        profile(wall, logged)
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(sides["baseline"])]
                )
    print("\n| side | wall (s) | epochs (s) | bare import (s) | own fixed cost (s), median | each |")
    print("|---|---|---|---|---|---|")
    for side, rows in results.items():
        if rows:
            own = [w - e - f for w, e, f in rows]
            medians = [statistics.median(col) for col in zip(*rows, strict=True)]
            each = ", ".join(f"{x:.2f}" for x in own)
            print(f"| {side} | {medians[0]:.2f} | {medians[1]:.2f} | {medians[2]:.2f} | "
                  f"**{statistics.median(own):.2f}** | {each} |")  # fmt: skip


if __name__ == "__main__":
    main()
