"""Stopping a run at a safe point: Ctrl-C, SIGTERM (scancel, a preemption) and a cluster's
time-limit signal all end training between two steps, never inside a figure or a checkpoint write.

mnist-exp is the one owner of these signals while it trains. Its handler only notes the signal;
`SafeStop` acts on it after the current step: it saves `last.ckpt` there (a mid-epoch checkpoint
resumes exactly; in an epoch's last step it waits for the epoch's end and its checkpoint, and stops
before the next epoch), then raises `Interrupted` or, for submitit's time-limit signal, `Requeued`, whose
`handover` lets submitit re-submit the job once the run has recorded how it stopped. Lightning's
own handlers (its SIGTERM notifier, its SLURM auto-requeue) are replaced for the length of the fit.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from mnist_exp.core.errors import Interrupted, Requeued
from mnist_exp.records.callbacks import last_file
from mnist_exp.setup.runtime import requeue_signal

log = logging.getLogger("mnist_exp.train")
NONE, CANCEL, REQUEUE = 0, 1, 2  # what was asked, in increasing precedence across DDP ranks


class SafeStop(pl.Callback):
    """Acts on a noted signal after the current training step (every DDP rank at the same step)."""

    def __init__(self) -> None:
        self.asked = NONE
        self.signum: int = signal.SIGTERM
        self.handlers: dict[int, Any] = {}  # the signal handlers before ours (submitit's among them)
        self.trainer: pl.Trainer | None = None

    def note(self, signum: int, frame: Any) -> None:
        """The signal handler: remember what was asked; a second Ctrl-C kills at once."""
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            print("\nStopping after this step (Ctrl-C again to kill) ...", file=sys.stderr)
        kind = REQUEUE if signum == requeue_signal() else CANCEL
        if kind >= self.asked:
            self.asked, self.signum = kind, signum
        launcher = self.trainer.strategy.launcher if self.trainer is not None else None
        if launcher is not None and signum != signal.SIGINT:
            launcher.kill(signum)  # ranks it started hear it too (a terminal's Ctrl-C reaches them itself)

    def signame(self) -> str:
        return signal.Signals(self.signum).name

    def watched(self) -> list[int]:
        return [s for s in (signal.SIGINT, signal.SIGTERM, requeue_signal()) if s is not None]

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in self.watched():
                signal.signal(signum, self.note)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.trainer = trainer

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning registered its own handlers when the fit began; ours replace them until its
        # teardown puts back what was there before the fit
        self.install()

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.trainer = trainer
        self.install()  # as at the fit's start: Lightning registered its own handlers for the stage

    def on_test_batch_end(
        self, trainer: pl.Trainer, module: Any, outputs: Any, batch: Any, *idx: int
    ) -> None:
        """In the test: the fit is complete and saved; a resume only tests."""
        asked = self._agreed(trainer)
        if asked != NONE:
            self.stop(asked, f"in the test (the fit is complete: {trainer.current_epoch} epochs)")

    def between(self, trainer: pl.Trainer, where: str) -> None:
        """A safe point between stages (set-up, fit, test): act on a signal noted before it."""
        together = (
            trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()
        )
        asked = self._agreed(trainer) if together else self.asked
        if asked != NONE:
            self.stop(asked, where)

    def on_train_batch_end(self, trainer: pl.Trainer, module: Any, outputs: Any, batch: Any, i: int) -> None:
        asked = self._agreed(trainer)
        if asked != NONE and not trainer.is_last_batch:
            self._stop(trainer, asked, self.save(trainer))
        # at an epoch's last step: after its validation and epoch-end checkpoint (next hook) instead

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Between epochs: the previous epoch's own checkpoint is where the run continues."""
        asked = self._agreed(trainer)
        if asked != NONE:
            self._stop(trainer, asked, self.last_path(trainer))

    def _agreed(self, trainer: pl.Trainer) -> int:
        """What was asked, the same on every DDP rank (any rank's signal counts for all)."""
        if trainer.world_size == 1:
            return self.asked
        mine = torch.tensor(float(self.asked), device=trainer.strategy.root_device)
        return int(trainer.strategy.reduce(mine, reduce_op="max").item())

    def _stop(self, trainer: pl.Trainer, asked: int, saved: Path | None) -> None:
        where = f"epoch {trainer.current_epoch}, step {trainer.global_step}"
        kept = f"saved {saved}" if saved is not None and saved.is_file() else "no checkpoint saved"
        self.stop(asked, f"at {where}; {kept}")

    def stop(self, asked: int, where: str) -> None:
        """Raise what was asked: Requeued for the time-limit signal, else Interrupted."""
        if asked == REQUEUE:
            signum = requeue_signal()
            handler = self.handlers.get(signum) if signum is not None else None
            raise Requeued(
                f"Stopped for the time limit {where}.",
                handover=(lambda: handler(signum, None)) if callable(handler) else None,
            )
        raise Interrupted(f"Stopped by {self.signame()} {where}.")

    @staticmethod
    def last_path(trainer: pl.Trainer) -> Path | None:
        callback = trainer.checkpoint_callback
        return last_file(callback) if callback is not None else None

    def save(self, trainer: pl.Trainer) -> Path | None:
        path = self.last_path(trainer)
        if path is None:
            log.warning("No checkpoint callback: the stopped run saves no checkpoint to resume from.")
            return None
        trainer.save_checkpoint(path)  # every rank takes part; rank 0 writes
        return path


@contextmanager
def stops_safely(stop: SafeStop) -> Iterator[None]:
    """Hold the signals for the fit: outside the training steps (set-up, a spawning parent) they
    are only noted too, so nothing is interrupted mid-write; the handlers before are put back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stop.handlers = {s: signal.getsignal(s) for s in stop.watched()}
    stop.install()
    try:
        yield
    finally:
        for signum, handler in stop.handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


class StopAfterEpochs(pl.Callback):
    """`stop_after_epochs=N`: the fit ends after N epochs, while everything planned over
    trainer.max_epochs (a cosine schedule) stays as it was: the first N epochs of the full run,
    exactly (`verify.epochs=N` re-runs a run's beginning this way)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True
