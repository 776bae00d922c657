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
import csv
import datetime
import logging
import os
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from mnist_exp.callbacks import read_history
from mnist_exp.cli import print_error
from mnist_exp.config import CONF_DIR
from mnist_exp.errors import UserError
from mnist_exp.reporting import markdown_table, mean_std

REPORTED = {"seed_lenet": ("LeNet-5", 98.6), "seed_mlp": ("MLP", 93.5)}
log = logging.getLogger("mnist_exp.reproduce")


def run_one(experiment: str, seed: int, overrides: list[str], out: Path) -> dict:
    """Train one seed of one experiment in-process; its own run folder under `out`."""
    from mnist_exp.train import train

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            "config",
            [f"experiment={experiment}", f"seed={seed}", f"paths.output_dir={out}", *overrides],
        )
    start = time.perf_counter()
    metrics = train(cfg)
    history = read_history(out / "metrics.csv")
    return {
        "final": 100 * metrics["test/acc"],
        "best": 100 * max(r["val/acc"] for r in history),
        "epochs": len(history),
        "seconds": time.perf_counter() - start,
        "curve": [100 * r["val/acc"] for r in history],
    }


def curves_figure(groups: dict[str, list[dict]], path: Path) -> None:
    from mnist_exp.reporting import plt

    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4), squeeze=False)
    for ax, (label, runs) in zip(axes[0], groups.items(), strict=True):
        for run in runs:
            ax.plot(range(1, len(run["curve"]) + 1), run["curve"], alpha=0.8, label=f"seed {run['seed']}")
        reported = runs[0]["reported"]
        if reported is not None:
            ax.axhline(reported, color="black", linestyle="--", label=f"reported {reported}%")
        finals = [r["final"] for r in runs]
        lo = min(min(r["curve"][-min(len(r["curve"]), 10) :]) for r in runs)
        ax.set_ylim(max(0, min(lo, *finals, reported or 100) - 1), 100)
        ax.set_title(label)
        ax.set_xlabel("Epoch(n)")
        ax.set_ylabel("Test acc(%)")
        ax.grid(True)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    if args.seeds < 1:
        print_error(UserError("--seeds must be >= 1."))
        return 2
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(args.out or f"outputs/reproduce/{stamp}_{os.getpid():05d}")
    if out.exists() and any(out.iterdir()):
        print_error(UserError(f"{out} already holds results. Fix: pass another --out, or none."))
        return 2
    variants: list[tuple[str, list[str]]] = [("", [])]
    if args.vary:
        key, _, values = args.vary.partition("=")
        variants = [(f"{key}={v}", [f"{key}={v}"]) for v in values.split(",")]

    started = time.perf_counter()
    runs = []
    try:
        for experiment in args.experiments:
            for label, extra in variants:
                for seed in range(args.seeds):
                    folder = out / experiment / (label.replace("=", "_") or "default") / f"seed_{seed}"
                    log.info("%s %s seed %d -> %s", experiment, label, seed, folder)
                    result = run_one(experiment, seed, [*args.overrides, *extra], folder)
                    result.update(experiment=experiment, variant=label, seed=seed)
                    result["reported"] = REPORTED[experiment][1]
                    runs.append(result)
                    log.info("  final test acc %.2f%% (%.0f s)", result["final"], result["seconds"])
    except UserError as err:
        print_error(err)
        return 2
    total = time.perf_counter() - started
    write_results(runs, out, total)
    print((out / "results.md").read_text())
    return 0


def write_results(runs: list[dict], out: Path, total: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.csv").open("w", newline="") as fh:
        fields = ["experiment", "variant", "seed", "final", "best", "epochs", "seconds"]
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(runs)
    groups: dict[str, list[dict]] = {}
    for run in runs:
        name = REPORTED[run["experiment"]][0] + (f" ({run['variant']})" if run["variant"] else "")
        groups.setdefault(name, []).append(run)
    rows = []
    for name, group in groups.items():
        finals = [r["final"] for r in group]
        mean, std = mean_std(finals)
        rows.append(
            [
                name,
                f"{group[0]['reported']:.1f}",
                f"{mean:.2f} ± {std:.2f}",
                f"{min(finals):.2f}",
                f"{max(finals):.2f}",
                len(group),
                group[0]["epochs"],
            ]
        )
    table = markdown_table(
        ["model", "reported test acc (%)", "measured mean ± std", "min", "max", "seeds", "epochs"], rows
    )
    text = (
        f"{table}\nFinal test accuracy after the last epoch, official 10,000 test images. "
        f"Wall time of all {len(runs)} runs: {total / 60:.1f} min.\n"
    )
    (out / "results.md").write_text(text)
    curves_figure(groups, out / "curves.png")


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
