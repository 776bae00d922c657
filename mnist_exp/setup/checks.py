"""Checks of the input files a run will read, done before a run folder exists (torch-free)."""

from __future__ import annotations

from omegaconf import DictConfig

from mnist_exp.core import idx
from mnist_exp.core.errors import UserError


def data_needs_download(data: DictConfig) -> bool:
    """True when MNIST is missing and `data.download` may fetch it (the data module then does);
    otherwise the files must be there and intact, or a UserError names the fix."""
    if idx.missing_files(data.root) and data.get("download", True):
        return True
    idx.check_files(data.root, verify=data.get("verify", True))
    return False


def check_accelerator(trainer: DictConfig) -> None:
    """`trainer=gpu` (or `trainer.accelerator=gpu`/`cuda`) on a machine without a CUDA GPU is
    refused before anything runs. Only then is torch imported, to ask it."""
    accelerator = str(trainer.get("accelerator") or "auto").lower()
    if accelerator not in ("gpu", "cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise UserError(
            f"trainer.accelerator={accelerator}, but this machine has no CUDA GPU that torch can use. "
            "Fix: trainer=cpu (or trainer.accelerator=auto, which takes a GPU when there is one)."
        )
