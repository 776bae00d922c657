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


MAX_STATUS_BYTES = 1_000_000  # a run's status.json is under 2 kB


def read_status(run_dir: Path) -> dict[str, Any]:
    """The run's status.json, or {} when there is none (yet) or it cannot be read. A folder is
    data: a file that is a link, huge, or not a mapping counts as unreadable; the keys the reports
    read keep only values of their type (a number for each metric, text for the error)."""
    path = run_dir / "status.json"
    try:
        if path.is_symlink() or path.stat().st_size > MAX_STATUS_BYTES:
            return {}
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return {}
    return _typed(data) if isinstance(data, dict) else {}


def _typed(data: dict[str, Any]) -> dict[str, Any]:
    """status.json's values as the readers expect them; a value of another type is left out."""
    kinds: dict[str, tuple[type, ...]] = {
        "status": (str,),
        "error": (str,),
        "stage": (str,),
        "epoch": (int,),
        "wall_s": (int, float),
        "metrics": (dict,),
        "overrides": (list,),
    }
    out = {
        k: v for k, v in data.items() if k not in kinds or (isinstance(v, kinds[k]) and type(v) is not bool)
    }
    if "metrics" in out:
        out["metrics"] = {str(k): float(v) for k, v in out["metrics"].items() if type(v) in (int, float)}
    if "overrides" in out and not all(isinstance(o, str) for o in out["overrides"]):
        del out["overrides"]
    return out


def last_checkpoint(run_dir: Path) -> Path:
    """Where a run keeps the checkpoint it continues from (conf/callbacks/model_checkpoint.yaml)."""
    return run_dir / "checkpoints" / "last.ckpt"


def job_folders(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep: those Hydra wrote a config into."""
    found = (p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml"))
    return sorted(p for p in found if not p.is_symlink())  # a link may point anywhere: not a job
