"""What Lightning's automatic loop costs: seconds per training epoch of mnist-exp with its manual
loop (the default) against a run that sets `trainer.gradient_clip_val` (which switches to
Lightning's automatic loop, as clipping and accumulation need), interleaved, median of all epochs.

    python benchmarks/optimization_loop.py [--models mlp lenet] [--epochs 2] [--repeats 2]

The clip value is huge (1e9), so clipping never changes a gradient: the difference is the automatic
loop plus computing the gradient norm. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from epoch_time import mnist_exp  # the same in-process timing as benchmarks/epoch_time.py

SETTINGS = {"manual (default)": [], "automatic (gradient_clip_val=1e9)": ["trainer.gradient_clip_val=1e9"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "lenet"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--root", default="../shared/data")
    args = parser.parse_args()
    print("| model | loop | s per epoch (median) | epochs measured | ratio to manual |")
    print("|---|---|---|---|---|")
    for model in args.models:
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeats):
                for name, extra in SETTINGS.items():
                    out = Path(tmp) / f"{repeat}_{len(extra)}"
                    times[name] += mnist_exp(
                        model, "tensor", args.epochs, args.root, out, [*extra, "callbacks=none"]
                    )
        base = statistics.median(times["manual (default)"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {model} | {name} | {median:.2f} | {len(values)} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
