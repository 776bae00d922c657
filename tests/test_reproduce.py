"""The seed's reported accuracies, full length on the real MNIST (slow), and run-to-run determinism."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from mnist_exp.core.spec import REPORTED
from mnist_exp.pipelines.run.train import train
from mnist_exp.records.history import read_history
from tests.conftest import compose_cfg, run_module


def reproduce(cwd: Path, *args: str) -> str:
    """`mnist-exp-reproduce ...` as a user runs it; its output."""
    result = run_module("reproduce", *args, cwd=cwd, timeout=3000)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def read_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_reproduction_is_a_sweep_in_parallel_reported_and_resumable(tmp_path: Path, mnist_root: Path) -> None:
    sweep = tmp_path / "my sweeps" / "repro"
    where = [f"data.root={mnist_root}", f"hydra.sweep.dir={sweep}", "debug=limit"]
    reproduce(tmp_path, *where, "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    jobs = sorted(p.name for p in sweep.iterdir() if (p / "status.json").is_file())
    assert jobs == [f"experiment={e},seed={s}" for e in ("seed_lenet", "seed_mlp") for s in (0, 1)]
    assert (sweep / "multirun.yaml").is_file() and (sweep / "curves.png").is_file()
    results = read_csv(sweep / "results.csv")
    summary = {row["config"]: row for row in read_csv(sweep / "summary.csv")}
    assert set(summary) == {"experiment=seed_lenet", "experiment=seed_mlp"}
    for name, (_, reported) in REPORTED.items():
        row = summary[f"experiment={name}"]
        assert row["n"] == "2" and row["metric"] == "test/acc"
        assert float(row["reported_test_acc"]) == pytest.approx(reported / 100)
        accs = [float(r["test_acc"]) for r in results if f"experiment={name}" in r["overrides"]]
        assert float(row["test_acc_mean"]) == pytest.approx(statistics.fmean(accs))
    report_md = (sweep / "report.md").read_text()
    assert "reported (%)" in report_md and "LeNet-5 98.6%, MLP 93.5%" in report_md

    before = {job: (sweep / job / "status.json").read_bytes() for job in jobs}
    output = reproduce(tmp_path, *where, "seed=0,1,2")  # re-run into its folder, one seed more
    assert output.count("in an earlier run of this sweep; skipped") == 4
    assert {job: (sweep / job / "status.json").read_bytes() for job in jobs} == before
    assert {row["n"] for row in read_csv(sweep / "summary.csv")} == {"3"}

    printed = run_module("report", str(sweep), cwd=tmp_path)  # sorted by the sweep's own metric
    assert printed.returncode == 0 and "test/acc mean ± std" in printed.stdout, printed.stderr


def test_the_old_options_are_refused_with_the_new_form(tmp_path: Path) -> None:
    for args, fix in (
        (["--seeds", "3"], "seed=range(N)"),
        (["--out", "x"], "hydra.sweep.dir="),
        (["hparams_search=optuna"], "mnist-exp-train"),
        (["resume=x"], "hydra.sweep.dir="),
    ):
        result = run_module("reproduce", *args, cwd=tmp_path)
        assert result.returncode == 2 and fix in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "outputs").exists()


@pytest.mark.slow
@pytest.mark.longest
def test_the_seed_accuracies_full_length_as_one_sweep(tmp_path: Path, mnist_root: Path) -> None:
    """`mnist-exp-reproduce seed=0`: both seed experiments, 30 epochs each, as one sweep, as a user
    runs it; each reaches its reported accuracy (LeNet-5 98.6% within 0.4 points, MLP 93.5% within
    0.5), and the summary sets the reported figure beside it."""
    sweep = tmp_path / "repro"
    reproduce(tmp_path, "seed=0", f"data.root={mnist_root}", f"hydra.sweep.dir={sweep}")
    jobs = read_csv(sweep / "results.csv")
    assert len(jobs) == 2 and all(job["status"] == "ok" and int(job["epochs"]) == 30 for job in jobs)
    summary = {row["config"]: row for row in read_csv(sweep / "summary.csv")}
    for name, reported, within in (("seed_lenet", 0.986, 0.004), ("seed_mlp", 0.935, 0.005)):
        row = summary[f"experiment={name}"]
        assert float(row["reported_test_acc"]) == reported
        assert abs(float(row["test_acc_mean"]) - reported) <= within, row


def history(tmp_path: Path, mnist_root: Path, seed: int, name: str) -> list[dict]:
    folder = tmp_path / name
    cfg = compose_cfg(
        "config",
        [
            "experiment=seed_mlp",
            f"seed={seed}",
            "trainer.max_epochs=2",
            "trainer.limit_train_batches=100",  # 12,800 images an epoch: enough to tell seeds apart
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
