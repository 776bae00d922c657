"""hparams_search=optuna on a current Optuna: the study in <sweep dir>/optuna.db with every
trial's per-epoch val/acc, pruning, continuing a stopped search, and parallel trials (joblib)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from mnist_exp.records.history import read_history
from tests.conftest import run_module
from tests.test_sweep import TINY

# a pruner no tiny run passes: every trial is pruned after its first epoch
HOPELESS = [
    "hydra/sweeper/pruner=threshold",
    "hydra.sweeper.pruner.lower=0.99",
    "hydra.sweeper.pruner.n_warmup_steps=0",
]
SMALL = ["hparams_search=optuna", *TINY, "test=false", "hydra.sweeper.sampler.n_startup_trials=2"]


def study(sweep_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="mnist_exp", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")


def jobs(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/status.json")}


def test_a_hopeless_trial_is_pruned_after_its_first_epoch(tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = run_module(
        "train",
        *SMALL,
        *HOPELESS,
        "hydra.sweeper.n_trials=2",
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]  # pruning is an outcome, not a failure
    trials = study(sweep_dir).trials
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    assert all(list(t.intermediate_values) == [0] for t in trials)  # reported, then stopped
    for name, info in jobs(sweep_dir).items():
        assert info["status"] == "pruned" and name.startswith("optuna_trial=")
        assert len(read_history(sweep_dir / name / "metrics.csv")) == 1  # one epoch of two
    assert "2 pruned" in done.stdout and "pruned" in (sweep_dir / "report.md").read_text()


@pytest.mark.slow
def test_a_trial_under_ddp_reports_once_and_every_rank_stops(tmp_path: Path, mnist_root: Path) -> None:
    """Two CPU ranks (spawned inside the search): rank 0 reports and asks the pruner, both stop."""
    sweep_dir = tmp_path / "sweep"
    done = run_module(
        "train",
        *SMALL,
        "trainer=ddp_cpu",
        *HOPELESS,
        "hydra.sweeper.n_trials=1",
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [trial] = study(sweep_dir).trials
    assert trial.state == TrialState.PRUNED and list(trial.intermediate_values) == [0]
    assert [info["status"] for info in jobs(sweep_dir).values()] == ["pruned"]
    assert "already reported" not in done.stdout + done.stderr


@pytest.mark.slow
def test_a_search_continues_in_its_folder_with_parallel_trials(tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    common = [*SMALL, "hydra/sweeper/pruner=none", f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}"]
    first = run_module("train", *common, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    before = {name: (sweep_dir / name / "metrics.csv").stat().st_mtime_ns for name in jobs(sweep_dir)}
    more = ["hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "hydra/launcher=joblib"]
    second = run_module("train", *common, *more, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    trials = study(sweep_dir).trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE and sorted(t.intermediate_values) == [0, 1] for t in trials)
    for t in trials:  # the intermediate values are the job's own per-epoch val/acc
        (name,) = [n for n in jobs(sweep_dir) if n.startswith(f"optuna_trial={t.number},")]
        history = [r["val/acc"] for r in read_history(sweep_dir / name / "metrics.csv")]
        assert [t.intermediate_values[e] for e in (0, 1)] == history
    assert {n: (sweep_dir / n / "metrics.csv").stat().st_mtime_ns for n in before} == before
    best = (sweep_dir / "optimization_results.yaml").read_text()
    assert "best_params" in best and "optimizer.lr" in best
