"""mnist-exp's own fixed cost of a short run: a 3-epoch MLP run's wall time, minus its epochs, minus
a bare `import torch, pytorch_lightning` (the floor no run avoids), timed in the same benchmark.

    python benchmarks/fixed_cost.py [--rounds 5] [--baseline e8d6801] [--profile]

Each round times, one right after the other: the bare import, this checkout's run and (with
--baseline) the same run at that commit (benchmarks/harness.py's worktree), each a whole process from
an empty folder, as a user starts it. The epochs' time is read from the run's own train.log (the
per-epoch lines of every version): three epochs take 3/2 of the time from the first epoch's line
to the third's. Prints the medians and each part. `--profile` also prints where one run's time
went by its train.log (process start to the first line, set-up, epochs, test and records, exit).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, checkout, log_lines, parser, python, table

RUN = ["model=mlp", "trainer.max_epochs=3", "logger=tensorboard", "trainer.enable_progress_bar=false"]


def bare_import() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, pytorch_lightning"], check=True)
    return time.perf_counter() - start


def one_run(code: Path, data: str, cwd: Path, name: str) -> tuple[float, float, list[tuple[float, str]]]:
    """(wall seconds, the three epochs' seconds, the log's lines) of one whole run of `code`."""
    out = cwd / name
    start = time.time()
    python("mnist_exp.cli.train", [*RUN, f"data.root={data}", f"hydra.run.dir={out}"], cwd, code)
    wall = time.time() - start
    logged = [(t - start, m) for t, m in log_lines(out / "train.log")]
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
    parse = parser(__doc__, rounds=5)
    parse.add_argument("--profile", action="store_true")
    args = parse.parse_args()
    sides = {"now": REPO} | ({"baseline": checkout(args.baseline)} if args.baseline else {})
    results: dict[str, list[tuple[float, float, float]]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for side, code in sides.items():
                floor = bare_import()
                wall, epochs, logged = one_run(code, args.root, Path(tmp), f"{side}{i}")
                results[side].append((wall, epochs, floor))
                own = wall - epochs - floor
                parts = f"wall {wall:.2f} s, epochs {epochs:.2f} s, bare import {floor:.2f} s"
                print(f"{side} #{i}: {parts}, own fixed cost {own:.2f} s", flush=True)
                if args.profile and i == 0:
                    profile(wall, logged)
    rows = []
    for side, runs in results.items():
        own = [w - e - f for w, e, f in runs]
        medians = [statistics.median(col) for col in zip(*runs, strict=True)]
        each = ", ".join(f"{x:.2f}" for x in own)
        rows.append((side, *(f"{m:.2f}" for m in medians), f"**{statistics.median(own):.2f}**", each))
    header = ["side", "wall (s)", "epochs (s)", "bare import (s)", "own fixed cost (s), median", "each"]
    print("\n" + table(header, rows))


if __name__ == "__main__":
    main()
