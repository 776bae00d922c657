"""`mnist-exp-reproduce`: the seed's two experiments over several seeds, next to the reported numbers.

    mnist-exp-reproduce                                   # both experiments, seeds 0-4, 30 epochs
    mnist-exp-reproduce --experiments seed_mlp --seeds 1 --vary model.activation=relu,sigmoid
    mnist-exp-reproduce trainer.max_epochs=2              # any training override goes to every run

Writes into outputs/reproduce/<date>_<time>_<pid>/: one run folder per experiment and seed,
results.csv (one row per run), results.md (the summary table) and curves.png (per-epoch test
accuracy of every seed, with the reported final value as a line).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
from pathlib import Path

from mnist_exp.cli.common import guarded
from mnist_exp.core.errors import UserError
from mnist_exp.core.spec import REPORTED
from mnist_exp.setup.preflight import preflight


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mnist-exp-reproduce", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiments", nargs="+", default=list(REPORTED), choices=sorted(REPORTED))
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument(
        "--vary", help="KEY=v1,v2,...: one row per value (e.g. model.activation=relu,sigmoid)"
    )
    parser.add_argument("--out", help="output folder (default outputs/reproduce/<date>_<time>_<pid>)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    return parser.parse_args(argv)


def variants(vary: str | None) -> list[tuple[str, list[str]]]:
    """`--vary KEY=a,b` -> [("KEY=a", ["KEY=a"]), ("KEY=b", ["KEY=b"])]; none: one default variant."""
    if not vary:
        return [("", [])]
    key, _, values = vary.partition("=")
    if not key or not values:
        raise UserError(f"--vary {vary!r} is not KEY=v1,v2,... Fix: e.g. --vary model.activation=relu,tanh.")
    return [(f"{key}={v}", [f"{key}={v}"]) for v in values.split(",")]


@guarded
def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.seeds < 1:
        raise UserError("--seeds must be >= 1. Fix: e.g. --seeds 5.")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(args.out or f"outputs/reproduce/{stamp}_{os.getpid():05d}")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} already holds results. Fix: pass another --out, or none.")
    chosen = variants(args.vary)
    for experiment in args.experiments:  # every combination checked before anything trains
        for _, extra in chosen:
            overrides = [f"experiment={experiment}", *args.overrides, *extra]
            preflight("config", overrides, prog="mnist-exp-reproduce")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    from mnist_exp.pipelines.reproduce import reproduce  # the training stack, once all is checked

    reproduce(args.experiments, args.seeds, chosen, args.overrides, out)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
