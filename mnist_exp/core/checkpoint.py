"""Loading a trained model from a checkpoint alone, including checkpoints of earlier versions.

A checkpoint is data, never code: every load goes through torch's weights-only unpickler, which
rebuilds tensors, numbers, strings and containers and refuses anything else. mnist-exp's own
checkpoints hold nothing else (legacy ones included), so no extra type is allowed; Lightning's
resume and test loads are asked for the same (`WEIGHTS_ONLY`, pipelines/run/train.py). The
rest is data too, read through one schema (core/ckpt_schema); the class it names must be one of
mnist-exp's models or in a module the user vouched for (`trust=`, core/netconfig.trust_error).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from mnist_exp.core.ckpt_file import checkpoint_file
from mnist_exp.core.ckpt_schema import CheckpointRecord, checked_checkpoint
from mnist_exp.core.errors import UserError
from mnist_exp.core.module import MNISTClassifier
from mnist_exp.core.netbuild import build_net, input_error

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
        return load_data(path)
    except UserError:
        raise
    except Exception as err:
        raise UserError(
            f"{path} is not a mnist-exp checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}). Fix: pass a .ckpt written by "
            "mnist-exp-train."
        ) from None


def read_record(path: str | Path) -> CheckpointRecord:
    """The checkpoint's contents checked against its schema (core/ckpt_schema): nothing imported."""
    return checked_checkpoint(read_checkpoint(path), f"Checkpoint {path}")


def load_checkpoint(path: str | Path, trusted: tuple[str, ...] = ()) -> MNISTClassifier:
    """The trained model, in eval mode, rebuilt from the checkpoint alone: the file is checked
    against its schema, the class it names is judged before any import (mnist-exp's models and
    the modules in `trusted`, the user's `trust=`), then mnist-exp builds the model."""
    return load_with_record(path, trusted)[1]


def load_with_record(
    path: str | Path, trusted: tuple[str, ...] = ()
) -> tuple[CheckpointRecord, MNISTClassifier]:
    """load_checkpoint, with the checked record the model was built from (its weights' dtype)."""
    record = read_record(path)
    source = f"Checkpoint {path}"
    try:
        model = MNISTClassifier.from_record(record, build_net(record.net_config, source, trusted))
    except UserError:
        raise
    except Exception as err:  # the class refused the file's arguments, or the weights do not fit it
        raise UserError(
            f"{path} cannot be loaded into a model ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "Fix: pass a .ckpt written by mnist-exp-train."
        ) from None
    # 10 scores for 2 images (a model of a user's data module that gave no pad: its inputs are its own)
    error = (
        input_error(model.net, record.data.pad, record.num_classes) if record.data.pad is not None else None
    )
    if error:
        raise UserError(f"{source}: {error}")
    return record, model.eval()


def saved_net_config(path: str | Path) -> dict[str, Any]:
    """The model config a checkpoint was trained with (checked, with today's `_target_`)."""
    return read_record(path).net_config


def checkpoint_epoch(path: str | Path) -> int:
    return int(load_data(Path(path))["epoch"])
