"""`metrics.csv`: one row per finished epoch. Torch-free, so reports read it without Lightning."""

from __future__ import annotations

import csv
import os
from pathlib import Path

HISTORY_KEYS = ("train/loss", "train/acc", "val/loss", "val/acc")


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Write then rename: a kill mid-write never leaves a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["epoch", *HISTORY_KEYS, "lr"]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (int(v) if k == "epoch" else v) for k, v in row.items()})
    os.replace(tmp, path)


MAX_ROWS = 1_000_000  # epochs; a file with more rows is not a run's history


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def read_history(path: Path) -> list[dict[str, float]]:
    """The epochs' rows as numbers. A folder is data: a linked file is not read, only the known
    columns are kept, a cell that is no number is left out, and the rows stop at MAX_ROWS."""
    if not path.is_file() or path.is_symlink():
        return []
    known = ("epoch", *HISTORY_KEYS, "lr")
    rows = []
    csv.field_size_limit(1_000_000)
    with path.open(newline="", errors="replace") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if i >= MAX_ROWS:
                break
            numbers = {k: _number(row.get(k)) for k in known if row.get(k) not in (None, "")}
            row_numbers = {k: v for k, v in numbers.items() if v is not None}
            if "epoch" in row_numbers:  # mnist-exp writes an epoch in every row
                rows.append(row_numbers)
    return rows
