"""How each stage of a run (set-up, fit, test) ended, in status.json: one place for the words.

A stage that raises is recorded with its name, then the error goes on: Interrupted with the resume
hint, Requeued to the launcher, the others as they were. Under `ddp_spawn` a rank's own error comes
back from its process as the mnist-exp error it was (pruned, diverged, interrupted)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch.multiprocessing.spawn import ProcessRaisedException

from mnist_exp.core.errors import Diverged, Interrupted, Pruned, Requeued, raised_in_rank
from mnist_exp.core.overrides import shell_override
from mnist_exp.records.status import last_checkpoint

Status = Callable[..., None]
T = TypeVar("T")


@contextmanager
def recorded(status: Status, trainer: pl.Trainer, stage: str, run_dir: Path) -> Iterator[None]:
    """Write how the stage ended if it raised: diverged, pruned, requeued, interrupted or failed."""
    try:
        yield
    except (Diverged, Pruned) as err:
        status(type(err).__name__.lower(), epoch=trainer.current_epoch, error=str(err))
        raise
    except Requeued as err:  # the launcher requeues the job: it continues from the saved checkpoint
        status("requeued", epoch=trainer.current_epoch, stage=stage, error=str(err))
        err.record = lambda state, **more: status(state, pictures=False, **{"stage": stage, **more})
        raise
    except (Interrupted, SIGTERMException) as err:
        why = str(err) or "Interrupted."
        status("interrupted", epoch=trainer.current_epoch, stage=stage, error=why)
        raise Interrupted(resume_hint(run_dir, why)) from None
    except BaseException as err:
        status("failed", epoch=trainer.current_epoch, stage=stage, error=f"{type(err).__name__}: {err}")
        raise


def in_ranks(call: Callable[[], T]) -> T:
    """trainer.fit or .test; under `ddp_spawn` a rank's own error comes back as such."""
    try:
        return call()
    except ProcessRaisedException as err:
        ours = raised_in_rank(str(err))
        if ours is None:
            raise
        raise ours from None


def resume_hint(run_dir: Path, why: str) -> str:
    if not last_checkpoint(run_dir).is_file():
        return f"{why} No checkpoint of {run_dir} was saved: nothing to resume. Fix: start the run again."
    return f"{why}\nResume it with: mnist-exp-train " + shell_override("resume", str(run_dir))
