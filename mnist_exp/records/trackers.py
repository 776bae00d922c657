"""What mnist-exp's own trackers (MLflow, W&B) add to Lightning's logger interface, declared once:
the run's status word, its pictures, and what produced it. The training pipeline talks to them
through this, never by probing for a method."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Tracker(Protocol):
    def record_status(self, status: str) -> None:
        """The word status.json says, as the tracker shows a run's state."""

    def log_pictures(self) -> None:
        """The run folder's pictures, copied into the tracker once the run has ended."""

    def record_provenance(self, entry: dict[str, Any]) -> None:
        """What produced the run (provenance.json's first start), in the tracker's own fields,
        plus the run folder's provenance.json, its patches and the package list as files."""

    def persist(self) -> None:
        """Everything logged so far, written now: the process may be stopped next (at a requeue
        SLURM stops what is left of the job)."""
