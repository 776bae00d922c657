"""The orderly end of a DDP rank's process group.

Lightning destroys a process group at exit only for NCCL; a gloo group (DDP on CPU) lives until the
interpreter is torn down. A rank that finishes first then tears gloo down while its peer is still
connected, and gloo can abort inside C++ ("terminate called without an active exception", the rank
ends with SIGABRT and torch's spawn kills the others): the job is recorded failed although it
trained and tested well. So every rank meets the others at a barrier once its work is done and
destroys the group itself; only then may its process end.
"""

from __future__ import annotations

import multiprocessing

import pytorch_lightning as pl
import torch.distributed as dist


def end_process_group() -> None:
    """All ranks reach this point, then each destroys its group; a no-op without DDP."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    dist.destroy_process_group()


class EndProcessGroup(pl.Callback):
    """Under a spawning strategy (`ddp_spawn`, used inside a multirun) each fit and each test runs
    in processes that end with the stage: the group ends at the stage's teardown. Ranks that
    outlive a stage (`ddp`, SLURM, torchrun) keep it for the next stage, and `train` ends it."""

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if multiprocessing.parent_process() is not None:  # a rank that Lightning spawned
            end_process_group()
