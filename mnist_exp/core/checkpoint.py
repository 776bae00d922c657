"""Loading a trained model from a checkpoint alone, including checkpoints of earlier versions.

A checkpoint is data, never code: every load goes through torch's weights-only unpickler, which
rebuilds tensors, numbers, strings and containers and refuses anything else. mnist-exp's own
checkpoints hold nothing else (legacy ones included), so no extra type is allowed; Lightning's
resume and test loads are asked for the same (`WEIGHTS_ONLY`, pipelines/train.py).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from mnist_exp.core.ckpt_file import checkpoint_file
from mnist_exp.core.errors import UserError
from mnist_exp.core.module import MNISTClassifier

# `_target_`s that checkpoints of mnist-exp 0.1 (flat package) recorded, and where they live now
LEGACY_TARGETS = {
    "mnist_exp.models.LeNet5": "mnist_exp.core.models.LeNet5",
    "mnist_exp.models.MLP": "mnist_exp.core.models.MLP",
}
WEIGHTS_ONLY = True  # how every checkpoint is loaded, here and by Lightning


def load_data(path: Path) -> dict[str, Any]:
    """The checkpoint's contents as data; a file that asks for code to rebuild it is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=WEIGHTS_ONLY)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" not in str(err):
            raise
        wanted = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        raise UserError(
            f"{path} holds Python objects that only code could rebuild"
            f"{f' ({wanted.group(1)})' if wanted else ''}, and loading it could run that code: mnist-exp "
            "loads checkpoints as data only (tensors, numbers, strings). Fix: pass a .ckpt written by "
            "mnist-exp-train; a file you trust can be re-saved with its weights alone."
        ) from None


def current_net_config(net_config: dict[str, Any]) -> dict[str, Any]:
    """A saved model config with its `_target_` moved to where the class lives today."""
    target = str(net_config.get("_target_", ""))
    return {**net_config, "_target_": LEGACY_TARGETS.get(target, target)}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, or a UserError saying why it cannot be used."""
    path = checkpoint_file(path)
    try:
        ckpt = load_data(path)
        ckpt["hyper_parameters"]["net_config"]
        return ckpt
    except UserError:
        raise
    except Exception as err:
        raise UserError(
            f"{path} is not a mnist-exp checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}). Fix: pass a .ckpt written by "
            "mnist-exp-train."
        ) from None


def load_checkpoint(path: str | Path) -> MNISTClassifier:
    """The trained model, in eval mode, rebuilt from the checkpoint alone."""
    ckpt = read_checkpoint(path)
    try:
        return MNISTClassifier.from_checkpoint_dict(ckpt, current_net_config)
    except Exception as err:
        raise UserError(
            f"{path} cannot be loaded into a model ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "Fix: pass a .ckpt written by mnist-exp-train."
        ) from None


def saved_net_config(path: str | Path) -> dict[str, Any]:
    """The model config a checkpoint was trained with, with today's `_target_`."""
    return current_net_config(read_checkpoint(path)["hyper_parameters"]["net_config"])


def checkpoint_epoch(path: str | Path) -> int:
    return int(load_data(Path(path))["epoch"])
