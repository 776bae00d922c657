"""What Lightning's automatic loop costs: seconds per training epoch of mnist-exp with its manual
loop (the default) against a run that sets `trainer.gradient_clip_val` (which switches to
Lightning's automatic loop, as clipping and accumulation need), interleaved, median of all epochs.

    python benchmarks/optimization_loop.py [--models mlp lenet] [--epochs 2] [--rounds 2]

The clip value is huge (1e9), so clipping never changes a gradient: the difference is the automatic
loop plus computing the gradient norm. Prints a Markdown table.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from epoch_time import mnist_exp  # the same in-process timing as benchmarks/epoch_time.py
from harness import parser, table

SETTINGS = {"manual (default)": [], "automatic (gradient_clip_val=1e9)": ["trainer.gradient_clip_val=1e9"]}


def main() -> None:
    parse = parser(__doc__, rounds=2)
    parse.add_argument("--models", nargs="+", default=["mlp", "lenet"])
    parse.add_argument("--epochs", type=int, default=2)
    args = parse.parse_args()
    rows = []
    for model in args.models:
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):  # the order alternates, as benchmarks/harness.interleaved
                for name in list(SETTINGS) if r % 2 == 0 else list(SETTINGS)[::-1]:
                    extra = SETTINGS[name]
                    out = Path(tmp) / f"{r}_{len(extra)}"
                    times[name] += mnist_exp(
                        model, "tensor", args.epochs, args.root, out, [*extra, "callbacks=none"]
                    )
        base = statistics.median(times["manual (default)"])
        for name, values in times.items():
            median = statistics.median(values)
            rows.append((model, name, f"{median:.2f}", len(values), f"{median / base:.2f}"))
    print(table(["model", "loop", "s per epoch (median)", "epochs measured", "ratio to manual"], rows))


if __name__ == "__main__":
    main()
