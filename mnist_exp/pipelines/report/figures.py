"""The sweep report's pictures: batch size x lr heatmap and validation curves; with seeds, the
mean over a configuration's seeds (± std, n per cell; a band around each mean line)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import MaxNLocator

from mnist_exp.core.spec import lower_is_better, metric_scale
from mnist_exp.pipelines.report.summary import configuration, varying
from mnist_exp.records.figures import plt


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def heatmap(jobs: Sequence[dict[str, Any]], path: Path, metric: str) -> bool:
    """Batch size x lr -> metric (mean over jobs that share a cell), when both were swept."""
    varying_values = varying(jobs)
    batch = next((k for k in varying_values if k.endswith("batch_size")), None)
    lr = next((k for k in varying_values if k.rsplit(".", 1)[-1] == "lr"), None)
    if (
        batch is None
        or lr is None
        or len(set(varying_values[lr])) > 12
        or len(set(varying_values[batch])) > 12
    ):
        return False  # not a grid (e.g. Optuna samples lr on a continuous scale)
    batches = sorted(set(varying_values[batch]), key=_number)
    lrs = sorted(set(varying_values[lr]), key=_number)
    cells: dict[tuple[str, str], list[float]] = {}
    for job, b, r in zip(jobs, varying_values[batch], varying_values[lr], strict=True):
        value = job.get(metric)
        if value is not None and not math.isnan(value):
            cells.setdefault((b, r), []).append(value)
    scale = metric_scale(metric)
    grid = [
        [scale * statistics.fmean(cells[b, r]) if (b, r) in cells else math.nan for r in lrs] for b in batches
    ]
    fig, ax = plt.subplots(figsize=(1.6 * len(lrs) + 2.5, 0.8 * len(batches) + 1.8))
    image = ax.imshow(grid, cmap="viridis_r" if lower_is_better(metric) else "viridis", aspect="auto")
    ax.set_xticks(range(len(lrs)), lrs)
    ax.set_yticks(range(len(batches)), batches)
    ax.set_xlabel(lr)
    ax.set_ylabel(batch)
    finite = [v for row in grid for v in row if not math.isnan(v)]
    middle = (max(finite) + min(finite)) / 2 if finite else 0
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            values = cells.get((batches[i], lrs[j]), [])
            text = "failed" if math.isnan(value) else f"{value:.2f}"
            if len(values) > 1:  # seeds: the mean, its spread and how many
                text += f"\n± {scale * statistics.stdev(values):.2f} (n={len(values)})"
            color = "white" if not math.isnan(value) and value < middle else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
    ax.set_title(f"{metric}{' (%)' if metric_scale(metric) == 100 else ''}")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _series(job: dict[str, Any]) -> tuple[list[int], list[float]]:
    rows = [r for r in job["history"] if "val/acc" in r]
    return [int(r["epoch"]) for r in rows], [100 * r["val/acc"] for r in rows]


def _lines(
    jobs: Sequence[dict[str, Any]], keys: Sequence[str] | None, order: Sequence[str] = ()
) -> list[tuple[str, list, list, list]]:
    """(label, epochs, mean, std) per line: one per job, or with `keys` one per configuration
    (the mean over its seeds at the epochs all of them reached)."""
    if keys is None:
        return [(job["name"], *_series(job), []) for job in jobs]
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        groups.setdefault(configuration(job, keys), []).append(job)
    lines = []
    rank = {name: i for i, name in enumerate(order)}
    for name, members in sorted(groups.items(), key=lambda item: rank.get(item[0], len(rank))):
        series = [_series(j)[1] for j in members]
        length = min(len(s) for s in series)
        columns = [[s[e] for s in series] for e in range(length)]
        spread = [statistics.stdev(c) if len(c) > 1 else 0.0 for c in columns]
        lines.append(
            (
                f"{name} (n={len(members)})",
                list(range(length)),
                [statistics.fmean(c) for c in columns],
                spread,
            )
        )
    return lines


def curves(
    jobs: Sequence[dict[str, Any]],
    path: Path,
    keys: Sequence[str] | None = None,
    order: Sequence[str] = (),
    references: Sequence[tuple[str, float]] = (),
) -> bool:
    """Val accuracy per epoch of every job, or with `keys` (the swept keys but the seed) a mean
    line with a ±std band per configuration, in `order` (best first); the first line is bold.
    `references` (label, %) are dashed lines: the reported accuracies of a reproduction."""
    with_history = [j for j in jobs if any("val/acc" in r for r in j["history"])]
    if not with_history:
        return False
    fig, ax = plt.subplots(figsize=(10, 5))
    lines = _lines(with_history, keys, order)
    for n, (label, epochs, mean, std) in enumerate(lines):
        best = n == 0 and (keys is not None or with_history[0] is jobs[0])
        style = {"color": "crimson", "linewidth": 3, "marker": "o", "zorder": 3} if best else {"linewidth": 1}
        line = ax.plot(
            epochs, mean, label=f"best: {label}" if best else label, alpha=1 if best else 0.7, **style
        )
        if std:
            low = [m - s for m, s in zip(mean, std, strict=True)]
            high = [m + s for m, s in zip(mean, std, strict=True)]
            ax.fill_between(epochs, low, high, color=line[0].get_color(), alpha=0.15)
    for label, value in references:
        ax.axhline(value, color="black", linestyle="--", linewidth=1, label=f"{label} {value}%")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (from 0)")
    ax.set_ylabel("val acc (%)" + (", mean ± std over seeds" if keys is not None else ""))
    ax.set_title("Validation accuracy per epoch")
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=2 if len(lines) > 20 else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
