"""What recording a run's provenance costs at start-up: the whole step a run takes (collect, write
provenance.json and the patch) and its parts, timed in one process that has torch and Lightning
imported as a run has (a subprocess forked from a large process is what git costs in a run).

    python benchmarks/provenance_cost.py [--rounds 15]

Run it from a git work tree (this checkout) so the git commands do their real work.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
from harness import parser as harness_parser

from mnist_exp.records import provenance
from mnist_exp.records.machine import machine, record_provenance


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = harness_parser(__doc__, rounds=15, baseline=False)
    args = parser.parse_args()
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    data = provenance.data_record("data", True)
    with tempfile.TemporaryDirectory() as tmp:
        folders = iter(Path(tmp, str(i)) for i in range(10 * args.rounds))

        def whole() -> None:
            folder = next(folders)
            folder.mkdir()
            record_provenance(folder, trainer, data, Path("outputs"), [])

        parts = {
            "whole step (collect + write)": whole,
            "git (work tree and mnist-exp's checkout)": lambda: (
                provenance.git_state(Path.cwd()),
                provenance.code_source(),
            ),
            "installed versions (dist-info names)": provenance.packages,
            "torch build and device": lambda: machine(trainer),
        }
        whole()  # first call: imports and caches warm
        for name, fn in parts.items():
            print(f"{name:44s} {median_ms(fn, args.rounds):7.1f} ms (median of {args.rounds})")


if __name__ == "__main__":
    main()
