"""`status.json`, a run folder's own account of itself, and which folders of a sweep are runs.

Torch-free: the sweep report reads it without loading the training stack.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# what status.json says, the one list: a run writes no other word, and the docs' table is this list
STATUSES = ("running", "ok", "interrupted", "requeued", "diverged", "pruned", "failed")
# a job that ended for good: a re-run of its sweep skips it (diverged is a finding, not a failure)
FINAL = ("ok", "diverged", "pruned")
# a run that recorded how it ended, for good or to be retried (a launcher that sees a job leave
# without one of these knows its run was lost)
ENDINGS = (*FINAL, "failed", "interrupted")
# a sweep report's outcome of a job: its status, or `incomplete` for one that has not ended (running,
# interrupted, requeued, not started)
OUTCOMES = ("ok", "pruned", "failed", "diverged", "incomplete")


def outcome(status: str | None) -> str:
    return status if status in OUTCOMES else "incomplete"


def write_status(run_dir: Path, status: str, **info: Any) -> None:
    """Write then rename, so a kill mid-write never leaves a half file. Callers under DDP call it
    on rank 0 only."""
    if status not in STATUSES:
        raise ValueError(f"status.json cannot say {status!r}: one of {', '.join(STATUSES)}")
    tmp = run_dir / ".status.json.tmp"
    tmp.write_text(json.dumps({"status": status, **info}, indent=1, default=str))
    os.replace(tmp, run_dir / "status.json")


def read_status(run_dir: Path) -> dict[str, Any]:
    """The run's status.json, or {} when there is none (yet) or it cannot be read."""
    try:
        return json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def last_checkpoint(run_dir: Path) -> Path:
    """Where a run keeps the checkpoint it continues from (conf/callbacks/model_checkpoint.yaml)."""
    return run_dir / "checkpoints" / "last.ckpt"


def job_folders(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep: those Hydra wrote a config into."""
    return sorted(p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml"))
