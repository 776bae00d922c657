"""Seeds folded: a real `optimizer.lr=0.01,0.05 seed=0,1,2` sweep gives one row per lr with n = 3,
mean ± std, a 95% confidence interval and whether it is tied with the best."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import pytest

from mnist_exp.pipelines.report.summary import fold, markdown, reach_words, varying
from mnist_exp.records.stats import describe, welch_p
from tests.test_sweep import TINY, sweep


def test_confidence_interval_is_students_t() -> None:
    row = describe([1.0, 2.0, 3.0])  # mean 2, std 1, t(0.975, 2) = 4.3027
    assert row["n"] == 3 and row["mean"] == 2.0 and row["std"] == 1.0
    assert row["ci95_high"] - 2.0 == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    assert describe([0.5])["ci95_low"] is None  # one seed: no interval


def test_welch_against_its_formula() -> None:
    a, b = [0.90, 0.91, 0.92, 0.93], [0.95, 0.97, 0.99]
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    from scipy import stats

    assert welch_p(a, b) == pytest.approx(2 * stats.t.sf(abs(t), dof))
    assert welch_p([0.9], b) is None and welch_p([1.0, 1.0], [1.0, 1.0]) == 1.0


@pytest.mark.slow
def test_seeds_fold_into_one_row_per_configuration(tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = sweep(
        tmp_path,
        "optimizer.lr=0.01,0.05",
        "seed=0,1,2",
        *TINY,
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with (sweep_dir / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["config"] for r in rows] in (["lr=0.05", "lr=0.01"], ["lr=0.01", "lr=0.05"])
    assert all(r["n"] == "3" and r["metric"] == "val/acc_best" for r in rows) and "seed" not in rows[0]
    assert float(rows[0]["mean"]) >= float(rows[1]["mean"]) and rows[0]["rank"] == "1"
    with (sweep_dir / "results.csv").open() as fh:
        jobs = [j for j in csv.DictReader(fh) if f"optimizer.lr={rows[0]['config'][3:]}" in j["overrides"]]
    assert float(rows[0]["mean"]) == pytest.approx(statistics.fmean(float(j["best_val_acc"]) for j in jobs))
    assert float(rows[0]["ci95_low"]) < float(rows[0]["mean"]) < float(rows[0]["ci95_high"])
    report = (sweep_dir / "report.md").read_text()
    assert f"Best: **{rows[0]['config']}**" in report
    assert ("Statistically tied with it" in report) == (rows[1]["tied_with_best"] == "True")
    assert report.index("## Configurations") < report.index("## Jobs")


def test_seeds_and_folds_fold_together() -> None:
    """With both swept, a configuration's n counts seeds x folds; every other swept key stays."""
    jobs = [
        {"overrides": [f"optimizer.lr={lr}", f"seed={s}", f"data.fold={k}", "data.folds=3"], "status": "ok",
         "val/acc_best": 0.9 + 0.01 * k + 0.001 * s + (0.05 if lr == 0.1 else 0), "test_acc": 0.9}
        for lr in (0.01, 0.1) for s in (0, 1) for k in range(3)
    ]  # fmt: skip
    rows = fold(jobs, list(varying(jobs)), "val/acc_best")
    assert [(r["config"], r["n"]) for r in rows] == [("lr=0.1", 6), ("lr=0.01", 6)]


def test_how_many_seeds_reach_the_reported_figure() -> None:
    """A reported 98.6% is reached from 98.55% on (what rounds to it); the report counts the seeds that
    reach it and says where it lies in their spread, in standard deviations from their mean."""
    accs = [0.9830, 0.9840, 0.9850, 0.98549, 0.9855, 0.9870]
    jobs = [
        {"overrides": ["experiment=seed_lenet", f"seed={s}"], "status": "ok", "test/acc": a, "test_acc": a}
        for s, a in enumerate(accs)
    ]
    [row] = fold(jobs, list(varying(jobs)), "test/acc")
    assert row["reaching_reported"] == 2  # 98.55 and 98.70; 98.549 prints as 98.5
    mean, std = statistics.fmean(accs), statistics.stdev(accs)
    assert row["reported_z"] == pytest.approx((0.986 - mean) / std)
    assert reach_words(row) == f"2 of 6 ({(0.986 - mean) / std:+.1f} std; best 98.70)"
    assert "seeds reaching it" in markdown([row], "test/acc")
    other = {"overrides": ["model=mlp", "seed=0"], "status": "ok", "test/acc": 0.9, "test_acc": 0.9}
    [plain] = fold([other], [], "test/acc")  # not a seed experiment: nothing reported, nothing reached
    assert plain["reaching_reported"] is None and reach_words(plain) == ""
