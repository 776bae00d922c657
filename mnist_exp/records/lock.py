"""A run folder's lock: held by the one process that trains into the folder, so a second process
(a second resume, a second run with the same hydra.run.dir) is refused instead of mixing its
records in. An OS file lock: it ends with its process, even at a SIGKILL."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mnist_exp.core.errors import UserError

LOCK_FILE = ".lock"


def _pid(fh) -> str:
    fh.seek(0)
    return fh.read().strip() or "?"


def holder(run_dir: Path) -> str | None:
    """The process id that holds the folder now, or None when no process uses it."""
    path = run_dir / LOCK_FILE
    if not path.is_file():
        return None
    with path.open("r") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _pid(fh)
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


def in_use_error(run_dir: Path, pid: str) -> UserError:
    return UserError(
        f"{run_dir} is in use by process {pid}. Fix: wait until that process ends (or stop it), "
        "or choose another folder."
    )


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the folder for the duration of the block, or raise the 'in use' UserError at once."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / LOCK_FILE).open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise in_use_error(run_dir, _pid(fh)) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
