"""Checks of the input files a run will read, done before a run folder exists (torch-free)."""

from __future__ import annotations

from omegaconf import DictConfig

from mnist_exp.core import idx


def data_needs_download(data: DictConfig) -> bool:
    """True when MNIST is missing and `data.download` may fetch it (the data module then does);
    otherwise the files must be there and intact, or a UserError names the fix."""
    if idx.missing_files(data.root) and data.get("download", True):
        return True
    idx.check_files(data.root, verify=data.get("verify", True))
    return False
