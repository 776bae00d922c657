"""Loading a trained model from a checkpoint alone, including checkpoints of earlier versions.

A checkpoint is data, never code: every load goes through torch's weights-only unpickler, which
rebuilds tensors, numbers, strings and containers and refuses anything else. mnist-exp's own
checkpoints hold nothing else (legacy ones included), so no extra type is allowed; Lightning's
resume and test loads are asked for the same (`WEIGHTS_ONLY`, pipelines/train.py). The network
config inside is data too: it may name only a model class with plain arguments (core/netconfig).
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
from mnist_exp.core.netbuild import model_class
from mnist_exp.core.netconfig import checked_net_config

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
    """The trained model, in eval mode, rebuilt from the checkpoint alone. Its network config is
    checked first (core/netconfig, core/netbuild): only a torch.nn.Module class is ever called."""
    ckpt = read_checkpoint(path)
    source = f"Checkpoint {path}"
    try:
        return MNISTClassifier.from_checkpoint_dict(ckpt, source)
    except UserError:
        raise
    except Exception as err:
        raise UserError(
            f"{path} cannot be loaded into a model ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "Fix: pass a .ckpt written by mnist-exp-train."
        ) from None


def saved_net_config(path: str | Path) -> dict[str, Any]:
    """The model config a checkpoint was trained with (checked, with today's `_target_`)."""
    return checked_net_config(read_checkpoint(path)["hyper_parameters"]["net_config"], f"Checkpoint {path}")


def checked_model_class(path: str | Path) -> type:
    """The class a checkpoint's network config names, imported and checked, nothing called: what
    eval and predict refuse before a run folder exists."""
    return model_class(saved_net_config(path)["_target_"])


def checkpoint_epoch(path: str | Path) -> int:
    return int(load_data(Path(path))["epoch"])
