"""The seed's reported accuracies, full length on the real MNIST (slow), and run-to-run determinism."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mnist_exp.pipelines.train import train
from mnist_exp.records.history import read_history
from tests.conftest import compose_cfg, run_module


def reproduce(tmp_path: Path, *args: str) -> list[dict]:
    out = tmp_path / "repro"
    result = run_module("reproduce", "--out", str(out), *args, cwd=tmp_path, timeout=3000)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "curves.png").is_file() and (out / "results.md").is_file()
    with (out / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_seed_mlp_reaches_the_reported_93_5(tmp_path: Path, mnist_root: Path) -> None:
    rows = reproduce(tmp_path, "--experiments", "seed_mlp", "--seeds", "1", f"data.root={mnist_root}")
    assert len(rows) == 1 and int(rows[0]["epochs"]) == 30
    assert abs(float(rows[0]["final"]) - 93.5) <= 0.5, rows[0]


@pytest.mark.slow
def test_seed_lenet_reaches_the_reported_98_6(tmp_path: Path, mnist_root: Path) -> None:
    rows = reproduce(tmp_path, "--experiments", "seed_lenet", "--seeds", "1", f"data.root={mnist_root}")
    assert len(rows) == 1 and int(rows[0]["epochs"]) == 30
    assert abs(float(rows[0]["final"]) - 98.6) <= 0.4, rows[0]


def history(tmp_path: Path, mnist_root: Path, seed: int, name: str) -> list[dict]:
    folder = tmp_path / name
    cfg = compose_cfg(
        "config",
        [
            "experiment=seed_mlp",
            f"seed={seed}",
            "trainer.max_epochs=2",
            f"data.root={mnist_root}",
            f"paths.output_dir={folder}",
            "test=false",
        ],
    )
    train(cfg)
    return read_history(folder / "metrics.csv")


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path: Path, mnist_root: Path) -> None:
    first = history(tmp_path, mnist_root, 0, "a")
    again = history(tmp_path, mnist_root, 0, "b")
    other = history(tmp_path, mnist_root, 1, "c")
    assert len(first) == 2
    assert first == again  # every metric of every epoch, to the last digit
    assert first != other
