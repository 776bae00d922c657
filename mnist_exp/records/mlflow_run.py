"""MLflow as a view of a run: the same params, per-epoch metrics and pictures as the run folder,
in one SQLite store for every run (`<paths.log_dir>/mlflow.db`, MLflow's own default kind of store
since 3.7; its file store is refused since 3.13). The run folder stays the record: checkpoints
stay there, and MLflow gets copies only when asked (`logger.mlflow.log_model=true`).

A run is named like its TensorBoard run (the job's or the run folder's name) and tagged with its
folder and its status (the word status.json says). A sweep's jobs are nested under one parent run
(`pipelines/sweep/tracking.py` opens it); a resumed run continues its own MLflow run (the id is kept in
the run folder).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities import Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from pytorch_lightning.loggers import MLFlowLogger
from pytorch_lightning.utilities import rank_zero_only

from mnist_exp.core.overrides import PARENT_ENV
from mnist_exp.core.rank_zero import is_rank_zero
from mnist_exp.core.stores import absolute_uri, sqlite_path
from mnist_exp.records import provenance
from mnist_exp.records.hparams import PICTURES, flat_params

RUN_ID_FILE = ".mlflow_run_id"  # in the run folder: a resumed run logs into the same MLflow run
log = logging.getLogger("mnist_exp.train")


class MLflowRun(MLFlowLogger):
    """Lightning's MLFlowLogger with mnist-exp's naming, params, tags and pictures."""

    def __init__(
        self,
        run_dir: str,
        tracking_uri: str,
        experiment_name: str,
        log_model: bool = False,
        resume_from: str | None = None,
    ) -> None:
        """`resume_from`: the checkpoint the run continues from (its `ckpt_path`); only then does
        it continue its kept MLflow run. A run started from scratch in the same folder (a sweep's
        job retried) starts a new MLflow run, so no epoch is logged twice into one history."""
        self.run_dir = Path(run_dir)
        self._opened = False
        self.uri = uri = absolute_uri(tracking_uri)
        if (path := sqlite_path(uri)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        tags = {"mnist_exp.run_dir": str(self.run_dir.resolve()), "mnist_exp.status": "running"}
        if os.environ.get(PARENT_ENV):
            tags["mlflow.parentRunId"] = os.environ[PARENT_ENV]
        if not resume_from and is_rank_zero():  # rank 0 keeps the id (see `experiment`)
            (self.run_dir / RUN_ID_FILE).unlink(missing_ok=True)
        with _store_lock(uri):  # MLflow's client creates an SQLite store's tables when it opens it
            run_id = _kept_run(uri, self.run_dir / RUN_ID_FILE) if resume_from else None
            super().__init__(
                experiment_name=experiment_name,
                run_name=self.run_dir.name,
                tracking_uri=uri,
                tags=tags,
                log_model=log_model,
                artifact_location=mlflow_artifacts(uri),
                run_id=run_id or None,
            )

    @property
    def experiment(self) -> Any:
        """MLflow's client; the first call creates the experiment or run and keeps the run's id in
        the run folder. That first call, like the constructor (which creates an SQLite store's
        tables), holds a lock on the SQLite file, so two runs started at once into a store that does
        not exist yet create it, and the experiment, once (MLflow's own creation is not safe
        against that race)."""
        if self._opened:
            return super().experiment
        with _store_lock(self.uri):
            client = super().experiment
        self._opened = True
        if is_rank_zero():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / RUN_ID_FILE).write_text(self.run_id)
        return client

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        """Nothing: Lightning sends the module's own arguments here at each fit, which repeat the
        config's keys under other names (module.*); the params are record_config's."""

    def _log_params(self, params: dict[str, str]) -> None:
        """Params once per run (MLflow refuses to change one): a resumed run logs none again."""
        logged = self.experiment.get_run(self.run_id).data.params
        if logged:
            return
        items = [Param(k, v) for k, v in flat_params(params).items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per call
            self.experiment.log_batch(run_id=self.run_id, params=items[i : i + 100])

    @rank_zero_only
    def record_config(self, params: dict[str, str], config_yaml: str, overrides: list[str]) -> None:
        """The params once per key; config.yaml (resolved) and overrides.yaml as artifacts."""
        self._log_params(params)
        self.experiment.log_text(self.run_id, config_yaml, "config.yaml")
        self.experiment.log_text(self.run_id, OmegaConf.to_yaml(overrides), "overrides.yaml")

    def persist(self) -> None:
        """Nothing to do: MLflow's client writes each call to the store as it is made."""

    @rank_zero_only
    def record_status(self, status: str) -> None:
        """The word status.json says, as the run's `mnist_exp.status` tag."""
        self.experiment.set_tag(self.run_id, "mnist_exp.status", status)

    @rank_zero_only
    def record_provenance(self, entry: dict[str, Any]) -> None:
        """MLflow's own source tags (the commit of the user's git tree, else of mnist-exp's
        checkout), a few of mnist-exp's, and provenance.json, its patches and the package list."""
        git = entry.get("git") or {}
        code = entry.get("mnist_exp") or {}
        ours = bool(git.get("commit"))  # a git tree of the user's, else mnist-exp's checkout
        commit, branch = (git.get("commit"), git.get("branch")) if ours else (code.get("commit"), None)
        tags = {
            "mlflow.source.type": "LOCAL",
            "mlflow.source.name": " ".join(entry.get("command") or [])[:500],
            "mlflow.source.git.commit": commit,
            "mlflow.source.git.branch": branch,
            "mnist_exp.version": code.get("version"),
            "mnist_exp.git_dirty": str(bool(git.get("dirty"))).lower() if ours else None,
            "mnist_exp.device": (entry.get("device") or {}).get("name"),
            "mnist_exp.torch": (entry.get("torch") or {}).get("version"),
        }
        for key, value in tags.items():
            if value:
                self.experiment.set_tag(self.run_id, key, value)
        for path in sorted(self.run_dir.glob("provenance*")):
            self.experiment.log_artifact(self.run_id, str(path), "provenance")
        self.experiment.log_text(self.run_id, provenance.requirements(entry), "provenance/requirements.txt")

    @rank_zero_only
    def log_pictures(self) -> None:
        """accuracy.png, the test's pictures and each feature-map grid, copied into MLflow."""
        for name in PICTURES:
            if (self.run_dir / name).is_file():
                self.experiment.log_artifact(self.run_id, str(self.run_dir / name))
        for grid in sorted(self.run_dir.glob("feature_maps/epoch_*/grid.png")):
            self.experiment.log_artifact(self.run_id, str(grid), f"feature_maps/{grid.parent.name}")


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """An exclusive lock on an SQLite store's file (flock: SQLite's own locks are fcntl locks and
    do not see it); none for a server store, which serializes its own writes."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    with open(path, "ab") as fh:  # an empty file is a new SQLite database
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _kept_run(uri: str, kept: Path) -> str | None:
    """The run folder's MLflow run, when the store knows it; else None and one line saying why
    (the store changed: MLFLOW_TRACKING_URI or logger.mlflow.tracking_uri), and a new run is kept."""
    run_id = kept.read_text().strip() if kept.is_file() else ""
    if not run_id:
        return None
    try:
        MlflowClient(uri).get_run(run_id)
    except MlflowException:
        log.warning(
            "MLflow: the store %s does not know this run's MLflow run %s (was MLFLOW_TRACKING_URI or "
            "logger.mlflow.tracking_uri changed?); the resumed run is logged into a new MLflow run.",
            uri,
            run_id,
        )
        kept.unlink()
        return None
    return run_id


def mlflow_artifacts(uri: str) -> str | None:
    """Pictures are kept beside an SQLite store (`mlartifacts/` next to mlflow.db), not in the
    folder a command happens to run from (MLflow's default); a server store keeps its own."""
    path = sqlite_path(uri)
    if path is not None:
        return (path.parent / "mlartifacts").as_uri()
    return None
