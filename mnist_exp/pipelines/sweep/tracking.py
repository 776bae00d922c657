"""A sweep in MLflow: one parent run, opened before the jobs start (they nest under it through
`PARENT_ENV`, inherited by every launcher's jobs), given the sweep's summary.csv and report.md and
closed when the sweep ends. Opening it first also creates the SQLite store and the experiment
once, before parallel jobs could race to do it. A re-run of the sweep folder continues the same
parent run (its id is kept in the sweep folder)."""

from __future__ import annotations

import os
from pathlib import Path

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from mnist_exp.core.overrides import PARENT_ENV
from mnist_exp.core.stores import absolute_uri, sqlite_path
from mnist_exp.records.mlflow_run import mlflow_artifacts

PARENT_FILE = ".mlflow_parent_run_id"


def open_parent(logger: DictConfig, sweep_dir: Path) -> None:
    """Create (or find again) the sweep's parent run and tell the jobs its id."""
    uri = absolute_uri(str(logger.tracking_uri))
    if (path := sqlite_path(uri)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(uri)
    name = str(logger.experiment_name)
    experiment = client.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(name, artifact_location=mlflow_artifacts(uri))
    )
    kept = sweep_dir / PARENT_FILE
    run_id = kept.read_text().strip() if kept.is_file() else ""
    if not run_id:
        tags = {"mnist_exp.sweep_dir": str(sweep_dir.resolve()), "mnist_exp.status": "running"}
        run_id = client.create_run(experiment_id, tags=tags, run_name=sweep_dir.name).info.run_id
        sweep_dir.mkdir(parents=True, exist_ok=True)
        kept.write_text(run_id)
    os.environ[PARENT_ENV] = run_id


def close_parent(logger: DictConfig, sweep_dir: Path, outcome: str) -> None:
    """The sweep's summary and report, copied to its parent run; the run's status tag and end."""
    kept = sweep_dir / PARENT_FILE
    if not kept.is_file():
        return
    client, run_id = MlflowClient(absolute_uri(str(logger.tracking_uri))), kept.read_text().strip()
    for name in ("summary.csv", "report.md"):
        if (sweep_dir / name).is_file():
            client.log_artifact(run_id, str(sweep_dir / name))
    client.set_tag(run_id, "mnist_exp.status", outcome)
    client.set_terminated(run_id, "FINISHED")
