"""`mnist-exp-report` over runs made by hand: what differs between them beside their metrics,
curves overlaid, seeds folded, all in the folder --out names and nowhere else."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import run_module

TINY = ["model=mlp", "debug=limit", "callbacks.feature_maps=null", "test=false"]
pytestmark = pytest.mark.slow  # three real runs


@pytest.fixture(scope="module")
def hand_runs(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """Three runs typed one after the other: lr 0.01 with seeds 1 and 2, lr 0.1 with seed 1."""
    cwd = tmp_path_factory.mktemp("by_hand")
    for lr, seed in (("0.01", 1), ("0.01", 2), ("0.1", 1)):
        done = run_module(
            "train", f"optimizer.lr={lr}", f"seed={seed}", *TINY, f"data.root={mnist_root}", cwd=cwd
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return cwd


def files_of(folder: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in folder.rglob("*")}


def test_two_runs_by_hand_compared_into_out(hand_runs: Path) -> None:
    runs = sorted((hand_runs / "outputs" / "train" / "runs").iterdir())
    before = files_of(hand_runs / "outputs")
    done = run_module("report", str(runs[0]), str(runs[2]), "--out", "cmp", cwd=hand_runs)
    assert done.returncode == 0, done.stderr[-3000:]
    report = (hand_runs / "cmp" / "report.md").read_text()
    assert "| run | optimizer.lr | status |" in report  # the keys that differ (seed is the same: 1)
    assert f"| {runs[0].name} | 0.01 |" in report and f"| {runs[2].name} | 0.1 |" in report
    assert (hand_runs / "cmp" / "curves.png").stat().st_size > 0
    assert files_of(hand_runs / "outputs") == before  # nothing written into the runs


def test_a_folder_of_runs_folds_the_seeds(hand_runs: Path) -> None:
    done = run_module("report", "outputs/train/runs", "--out", "all", cwd=hand_runs)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "what differs: seed, optimizer.lr" in done.stdout
    with (hand_runs / "all" / "summary.csv").open() as fh:
        sizes = {row["config"]: int(row["n"]) for row in csv.DictReader(fh)}
    assert sizes == {"lr=0.01": 2, "lr=0.1": 1}


@pytest.mark.parametrize("out", [None, "inside", "taken"])
def test_the_report_never_lands_in_a_run_or_among_other_files(hand_runs: Path, out: str | None) -> None:
    runs = sorted((hand_runs / "outputs" / "train" / "runs").iterdir())
    (hand_runs / "taken").mkdir(exist_ok=True)
    (hand_runs / "taken" / "notes.txt").write_text("mine")
    where = {None: [], "inside": ["--out", str(runs[0] / "cmp")], "taken": ["--out", "taken"]}[out]
    done = run_module("report", str(runs[0]), str(runs[1]), *where, cwd=hand_runs)
    assert done.returncode == 2 and "Fix:" in done.stderr and "Traceback" not in done.stderr
    assert not (runs[0] / "cmp").exists() and (hand_runs / "taken" / "notes.txt").read_text() == "mine"
