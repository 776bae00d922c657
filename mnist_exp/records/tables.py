"""Plain-text result tables (Markdown) and the mean ± std that reports print."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percent(value: float | None, std: float | None = None) -> str:
    """A fraction as a percentage with 2 decimals (and ± its std); blank when there is none."""
    if value is None:
        return ""
    return f"{100 * value:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
