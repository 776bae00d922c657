"""The one schema of a checkpoint: what mnist-exp reads from the file, with its type, checked before
anything is imported or built.

A checkpoint travels (researchers share them), so it is data: torch's weights-only loader gives
plain containers, numbers, strings and tensors, and this schema says which of them may be there.
Unknown keys are refused by name; the data part holds only the numbers preprocessing needs; the
model config names a class with plain arguments (core/netconfig). What comes out is a
`CheckpointRecord` of checked values, from which mnist-exp builds the model itself: nothing of the
file reaches Lightning's `cls(**hparams)`, `hydra.utils.instantiate` or OmegaConf's resolution.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

import torch

from mnist_exp.core.errors import UserError
from mnist_exp.core.netconfig import checked_net_config

# Lightning's own top-level keys (pytorch_lightning/trainer/connectors/checkpoint_connector.py),
# the precision plugins' states (keyed by class name) and mnist-exp's mid-epoch metric sums
TOP_KEYS = {
    "epoch",
    "global_step",
    "pytorch-lightning_version",
    "state_dict",
    "loops",
    "callbacks",
    "optimizer_states",
    "lr_schedulers",
    "hparams_name",
    "hparams_type",
    "hyper_parameters",
    "mnist_exp_train_metrics",
    "MixedPrecision",
    "HalfPrecision",
    "DoublePrecision",
    "native_amp_scaling_state",
}
# the types of the top-level keys Lightning reads back on resume (their insides are its own)
TOP_TYPES: dict[str, type] = {
    "epoch": int,
    "global_step": int,
    "pytorch-lightning_version": str,
    "hparams_name": str,
    "loops": dict,
    "callbacks": dict,
    "optimizer_states": list,
    "lr_schedulers": list,
}
TRAIN_METRICS = ("train_loss", "train_acc")  # the metrics whose mid-epoch sums a checkpoint keeps
MAX_PAD = 64  # data.pad beyond this is no preprocessing of a 28x28 digit
MAX_CLASSES = 100_000
MAX_NAME = 100  # characters of a class name
DIGITS = tuple("0123456789")
FIX = "Fix: pass a .ckpt written by mnist-exp-train."


@dataclass(frozen=True)
class DataTransform:
    """The input transform a model was trained with, and what its outputs name: all eval and
    predict take from a file (`dataset` is a name, never looked up as code)."""

    pad: int | None  # None: trained on a data module of the user's that did not say
    mean: float | None
    std: float | None
    dataset: str | None = None
    classes: tuple[str, ...] = DIGITS


@dataclass(frozen=True)
class CheckpointRecord:
    """What a checkpoint says, checked: the network's config and the module's plain settings."""

    net_config: dict[str, Any]
    num_classes: int
    data: DataTransform
    check_finite: bool
    channels_last: bool
    max_loss: float | None
    state_dict: dict[str, torch.Tensor]


def _int(value: Any, where: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{where} must be an integer from {low} to {high}, not {value!r}")
    return value


def _number(value: Any, where: str, positive: bool = False) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{where} must be a finite{' positive' if positive else ''} number, not {value!r}")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise ValueError(f"{where} must be true or false, not {value!r}")
    return value


def _unknown(given: dict, known: Any, where: str) -> None:
    extra = sorted(str(k) for k in given if k not in known)
    if extra:
        raise ValueError(f"{where} has keys mnist-exp does not know: {', '.join(map(repr, extra[:5]))}")


def _data(value: Any, num_classes: int) -> DataTransform:
    if value is None:  # checkpoints of a network built by hand: the seed's transform
        return DataTransform(2, 0.5, 1.0, classes=default_classes(num_classes))
    if not isinstance(value, dict):
        raise ValueError(f"hyper_parameters.data_config must be a mapping, not {type(value).__name__}")
    _unknown(value, ("pad", "mean", "std", "dataset", "classes"), "hyper_parameters.data_config")
    where = "hyper_parameters.data_config"
    dataset = value.get("dataset")
    if dataset is not None and not (isinstance(dataset, str) and re.fullmatch(r"[\w.-]{1,200}", dataset)):
        raise ValueError(f"{where}.dataset must be a plain name, not {dataset!r}")
    unsaid = all(value.get(k) is None for k in ("pad", "mean", "std"))
    return DataTransform(
        None if unsaid else _int(value.get("pad"), f"{where}.pad", 0, MAX_PAD),
        None if unsaid else _number(value.get("mean"), f"{where}.mean"),
        None if unsaid else _number(value.get("std"), f"{where}.std", positive=True),
        dataset,
        _classes(value.get("classes"), num_classes, f"{where}.classes"),
    )


def default_classes(num_classes: int) -> tuple[str, ...]:
    """Class names of a checkpoint that records none (written before they were recorded)."""
    return DIGITS if num_classes == len(DIGITS) else tuple(str(i) for i in range(num_classes))


def _classes(value: Any, num_classes: int, where: str) -> tuple[str, ...]:
    """A name per output, each a short line of printable text (they reach terminals and figures)."""
    if value is None:
        return default_classes(num_classes)
    if not (isinstance(value, (list, tuple)) and len(value) == num_classes):
        raise ValueError(f"{where} must list a name for each of the {num_classes} classes")
    for name in value:
        if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME and name.isprintable()):
            raise ValueError(f"{where} must hold names of 1 to {MAX_NAME} printable characters, not {name!r}")
    return tuple(value)


def _state_dict(value: Any) -> dict[str, torch.Tensor]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        raise ValueError("state_dict must map parameter names to tensors")
    return value


def _hparams(hp: Any, source: str) -> dict[str, Any]:
    if not isinstance(hp, dict):
        raise ValueError(f"hyper_parameters must be a mapping, not {type(hp).__name__}")
    known = ("net_config", "num_classes", "data_config", "check_finite", "channels_last", "max_loss")
    _unknown(hp, known, "hyper_parameters")
    if "net_config" not in hp:
        raise ValueError("hyper_parameters has no net_config (the model's config)")
    max_loss = hp.get("max_loss", 100.0)
    num_classes = _int(hp.get("num_classes", 10), "hyper_parameters.num_classes", 2, MAX_CLASSES)
    return {
        "net_config": checked_net_config(hp["net_config"], source),
        "num_classes": num_classes,
        "data": _data(hp.get("data_config"), num_classes),
        "check_finite": _flag(hp.get("check_finite", True), "hyper_parameters.check_finite"),
        "channels_last": _flag(hp.get("channels_last", True), "hyper_parameters.channels_last"),
        "max_loss": None if max_loss is None else _number(max_loss, "hyper_parameters.max_loss", True),
    }


def _train_metrics(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError("mnist_exp_train_metrics must be a mapping")
    _unknown(value, TRAIN_METRICS, "mnist_exp_train_metrics")
    for name, saved in value.items():
        if not (isinstance(saved, dict) and isinstance(saved.get("state"), dict)):
            raise ValueError(f"mnist_exp_train_metrics.{name} must hold a 'state' mapping")
        if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in saved["state"].items()):
            raise ValueError(f"mnist_exp_train_metrics.{name}.state must map names to tensors")


def _inside(path: Any, folder: str) -> bool:
    """Whether `path` is empty or a file directly inside `folder` (no `..`, no URL, no subfolder)."""
    if path in (None, ""):
        return True
    if not isinstance(path, str) or "://" in path or "://" in folder:
        return False
    name = os.path.basename(path)
    return name not in ("", ".", "..") and os.path.normpath(os.path.dirname(path)) == os.path.normpath(folder)


def _callbacks(value: Any) -> None:
    """Lightning's ModelCheckpoint deletes the files its state names (an older best, the previous
    last.ckpt) once a resumed run saves; it checks only that they lie below its folder, which a
    `..` passes. So every file a checkpoint callback's state names lies directly in its dirpath."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("callbacks must map each callback to a mapping of its state")
    for key, state in value.items():
        if "dirpath" not in state and "best_k_models" not in state:
            continue
        folder = state.get("dirpath")
        paths = [state.get(k) for k in ("best_model_path", "kth_best_model_path", "last_model_path")]
        best = state.get("best_k_models", {})
        paths += list(best) if isinstance(best, dict) else [best]
        bad = [p for p in paths if not (isinstance(folder, str) and _inside(p, folder))]
        if bad:
            raise ValueError(
                f"the state of {str(key).split('{')[0]} names {bad[0]!r}, which is not a file in its own "
                f"folder {folder!r} (Lightning would delete it when the run saves)"
            )


def checked_checkpoint(ckpt: Any, source: str) -> CheckpointRecord:
    """The checkpoint's contents as a CheckpointRecord; a UserError naming the first thing that is
    not what mnist-exp writes (`source` names the file in the message)."""
    try:
        if not isinstance(ckpt, dict):
            raise ValueError(f"it holds a {type(ckpt).__name__}, not a checkpoint's mapping")
        _unknown(ckpt, TOP_KEYS, "it")
        for key, kind in TOP_TYPES.items():
            if key in ckpt and type(ckpt[key]) is not kind:
                raise ValueError(f"{key} must be a {kind.__name__}, not {type(ckpt[key]).__name__}")
        for key in ("optimizer_states", "lr_schedulers"):
            if not all(isinstance(state, dict) for state in ckpt.get(key, [])):
                raise ValueError(f"{key} must be a list of mappings")
        if "mnist_exp_train_metrics" in ckpt:
            _train_metrics(ckpt["mnist_exp_train_metrics"])
        _callbacks(ckpt.get("callbacks", {}))
        hp = _hparams(ckpt.get("hyper_parameters"), source)
        return CheckpointRecord(**hp, state_dict=_state_dict(ckpt.get("state_dict")))
    except ValueError as err:
        raise UserError(f"{source} is not a checkpoint mnist-exp can use: {err}. {FIX}") from None
