"""Reproduction: the seed's two experiments over several seeds, next to the reported numbers.

Writes one run folder per experiment and seed, results.csv (one row per run), results.md (the
summary table) and curves.png (per-epoch test accuracy of every seed, with the reported value).
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

from mnist_exp.core.spec import REPORTED
from mnist_exp.pipelines.train import train
from mnist_exp.records.figures import plt
from mnist_exp.records.history import read_history
from mnist_exp.records.tables import markdown_table, mean_std
from mnist_exp.setup.config import compose

log = logging.getLogger("mnist_exp.reproduce")


def run_one(experiment: str, seed: int, overrides: list[str], out: Path) -> dict:
    """Train one seed of one experiment in-process; its own run folder under `out`."""
    run = [f"experiment={experiment}", f"seed={seed}", f"paths.output_dir={out}"]
    cfg = compose("config", [*run, *overrides])
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


def reproduce(
    experiments: list[str], seeds: int, variants: list[tuple[str, list[str]]], overrides: list[str], out: Path
) -> list[dict]:
    """Train every experiment x variant x seed one after another, each in its own run folder."""
    started = time.perf_counter()
    runs = []
    for experiment in experiments:
        for label, extra in variants:
            for seed in range(seeds):
                folder = out / experiment / (label.replace("=", "_") or "default") / f"seed_{seed}"
                log.info("%s %s seed %d -> %s", experiment, label, seed, folder)
                result = run_one(experiment, seed, [*overrides, *extra], folder)
                result.update(experiment=experiment, variant=label, seed=seed)
                result["reported"] = REPORTED[experiment][1]
                runs.append(result)
                log.info("  final test acc %.2f%% (%.0f s)", result["final"], result["seconds"])
    write_results(runs, out, time.perf_counter() - started)
    return runs


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
