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


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]
