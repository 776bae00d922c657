"""User-facing errors: a message that names the problem and the fix, printed without a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable


class UserError(Exception):
    """Bad input from the user (config, files, options). Entry points print it and exit with code 2."""

    exit_code = 2


class Diverged(UserError):
    """The training loss became NaN or infinite: the run stops at once (exit code 2)."""


class Interrupted(UserError):
    """Ctrl-C or SIGTERM: the run stopped cleanly and can be resumed."""

    exit_code = 130


class Requeued(Interrupted):
    """A cluster's time-limit or preemption signal: the run stopped between two steps and saved its
    checkpoint; the launcher (submitit) requeues the job, which then continues from that checkpoint.

    `handover` is submitit's own handler for the signal, called once the run has stopped: it
    re-submits the job and exits the process (see pipelines/sweep/jobs.run_sweep_job). `record` is the
    run's status writer, so that a requeue submitit refuses is recorded where `requeued` was: in
    status.json and in every tracker alike."""

    def __init__(self, message: str, handover: Callable[[], None] | None = None) -> None:
        super().__init__(message)
        self.handover = handover
        self.record: Callable[..., None] | None = None


class Pruned(Exception):
    """An Optuna pruner stopped this trial after an epoch: a normal outcome of a search, not an error."""


def raised_in_rank(traceback_text: str) -> Exception | None:
    """The mnist-exp error a spawned DDP rank ended with, rebuilt from the traceback text that
    torch passes back to the main process (it cannot pass the exception itself), so a pruned or
    diverged job under `ddp_spawn` is recorded as such and not as a crash."""
    kinds = {cls.__name__: cls for cls in (UserError, Diverged, Interrupted, Requeued, Pruned)}
    found = list(re.finditer(rf"^{re.escape(__name__)}\.(\w+): ", traceback_text, re.MULTILINE))
    if not found or found[-1].group(1) not in kinds:
        return None
    return kinds[found[-1].group(1)](traceback_text[found[-1].end() :].rstrip())
