"""Whether this process is the run's first rank: the one that holds the run folder and writes its
records (status.json, figures, tracker ids). Decided here once for every layer above. Lightning's
rank is read from RANK, LOCAL_RANK or SLURM_PROCID when it is imported and set to the global rank
when a DDP strategy sets up, so it is right before the trainer exists and after; LOCAL_RANK alone
tells a rank that Lightning's launcher started by re-running the command line, which the set-up
asks before torch is imported."""

from __future__ import annotations

import os


def other_rank_process() -> bool:
    """A rank > 0 started by Lightning's DDP launcher re-running the command line (torch-free)."""
    return os.environ.get("LOCAL_RANK", "0") != "0"


def is_rank_zero() -> bool:
    """True in a one-process run and in rank 0 of a DDP run."""
    from pytorch_lightning.utilities import rank_zero_only  # Lightning: asked once a run trains

    return rank_zero_only.rank == 0 and not other_rank_process()
