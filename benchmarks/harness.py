"""The one harness the benchmarks share: where MNIST is, the code of a baseline commit beside this
checkout, interleaved rounds, medians and ratios taken within a round, and the Markdown table.

Why not asv or pytest-benchmark: what the docs quote is a whole command (a `mnist-exp-train`
process, or an epoch inside one) against a plain PyTorch loop or an earlier commit, on a machine
whose speed drifts by up to 30% between processes. pytest-benchmark times callables inside one
process, calibrated for microseconds; asv builds an environment per commit (every dependency
installed again, minutes each here) and compares across runs made at different times. Both would
need wrapping the same subprocesses, and neither interleaves two sides within a round, which is
what makes a ratio on this machine honest. So the harness is these few functions.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[[^]]+\]\[\w+\] - (.*)$")


def parser(doc: str | None, rounds: int | None = 3, baseline: bool = True) -> argparse.ArgumentParser:
    """The options every benchmark takes: --root (the real MNIST), --rounds where it repeats, and
    --baseline where it runs whole processes (an in-process one times this checkout only)."""
    parse = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    default = os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared" / "data"))
    parse.add_argument("--root", default=default, help="a folder holding MNIST/raw/ ($MNIST_EXP_DATA)")
    if rounds is not None:
        parse.add_argument(
            "--rounds", type=int, default=rounds, help="interleaved rounds; the median is taken"
        )
    if baseline:
        parse.add_argument("--baseline", default=None, help="a commit to compare with (a git worktree of it)")
    return parse


def checkout(commit: str) -> Path:
    """The code of `commit` in a git worktree of its own (removed when the benchmark ends), to put on
    PYTHONPATH: its mnist_exp, run by the same interpreter and installed dependencies."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-exp-baseline-")) / "checkout"
    git = ["git", "-C", str(REPO), "worktree"]
    subprocess.run([*git, "add", "-q", "--detach", str(folder), commit], check=True)
    atexit.register(subprocess.run, [*git, "remove", "--force", str(folder)], check=False)
    return folder


def python(
    module_or_script: str, args: Sequence[str], cwd: Path, code: Path = REPO
) -> subprocess.CompletedProcess:
    """`python -m module ARGS` (or `python script.py ARGS`) as a user runs it, with the mnist_exp of
    `code` (this checkout, or a baseline's) first on PYTHONPATH; exits with its stderr when it fails."""
    target = [module_or_script] if module_or_script.endswith(".py") else ["-m", module_or_script]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run([sys.executable, *target, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{module_or_script} {' '.join(args[:3])} failed:\n{done.stderr[-3000:]}")
    return done


def interleaved(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each side once per round, the order reversed every other round, so the machine's drift
    between processes hits every side alike; each side's figures, one per round."""
    took: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            took[name].append(sides[name]())
            print(f"round {r + 1} {name}: {took[name][-1]:.3f}", file=sys.stderr, flush=True)
    return took


def median_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of the per-round ratios (ratios within a round, where both met the same machine)."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, as the docs quote it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def log_lines(log: Path) -> list[tuple[float, str]]:
    """(seconds since the epoch, message) of each line of a run's train.log."""
    found = []
    for line in log.read_text().splitlines():
        if match := STAMP.match(line):
            found.append((datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp(), match[2]))
    return found


def epoch_gap(log: Path) -> float:
    """The median time between a run's consecutive per-epoch lines (`epoch N: ...`, logged as each
    epoch ends, after its validation): an epoch, start-up, data loading and the run's end left out."""
    stamps = [t for t, message in log_lines(log) if re.match(r"epoch \d+:", message)]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    if not gaps:
        sys.exit(f"{log}: fewer than two epoch lines, nothing to time")
    return statistics.median(gaps)
