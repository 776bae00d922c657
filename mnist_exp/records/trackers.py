"""What mnist-exp's own trackers (MLflow, W&B) add to Lightning's logger interface, declared once:
the run's status word, its pictures, and what produced it. The training pipeline talks to them
through this, never by probing for a method."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Tracker(Protocol):
    def record_status(self, status: str) -> None:
        """The word status.json says, as the tracker shows a run's state."""

    def record_config(self, params: dict[str, str], config_yaml: str, overrides: list[str]) -> None:
        """The experiment once per key (records/hparams.tracked_params) as the tracker's params, and
        the resolved config and the overrides as files: the run can be re-created from the tracker."""

    def log_pictures(self) -> None:
        """The run folder's pictures, copied into the tracker once the run has ended."""

    def record_provenance(self, entry: dict[str, Any]) -> None:
        """What produced the run (provenance.json's first start), in the tracker's own fields,
        plus the run folder's provenance.json, its patches and the package list as files."""

    def persist(self) -> None:
        """Everything logged so far, written now and closed, once the run has ended: the process
        may be stopped next (at a requeue SLURM stops what is left of the job), or go on to the
        next job of a sweep, which must not log into this run. A later status reopens it."""
