"""Start-up checks of config values: one table of rules, each with the message that names the fix."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist_exp.core import spec
from mnist_exp.core.datasets import FOLDER, MAX_FOLDER_CLASSES, PRESETS
from mnist_exp.core.errors import UserError
from mnist_exp.core.netconfig import checked_net_config


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(lo: int, hi: int | None = None) -> Callable[[Any], bool]:
    def ok(value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value >= lo
            and (hi is None or value <= hi)
        )

    return ok


URLS = ("http://", "https://", "file://")


def _urls(value: Any) -> bool:
    """null, or a non-empty list of URLs (data.mirrors)."""
    if value is None:
        return True
    return not isinstance(value, str) and len(value) > 0 and all(str(u).startswith(URLS) for u in value)


# key, test, what it must be, example fix
RULES: list[tuple[str, Callable[[Any], bool], str, str]] = [
    ("optimizer.lr", lambda v: _number(v) and v > 0, "a finite number > 0", "optimizer.lr=0.01"),
    ("data.batch_size", _integer(1), "an integer >= 1", "data.batch_size=128"),
    ("data.eval_batch_size", _integer(1), "an integer >= 1", "data.eval_batch_size=1000"),
    ("data.steps_per_call", _integer(1), "an integer >= 1", "data.steps_per_call=1"),
    ("data.mean", _number, "a finite number", "data.mean=0.5"),
    ("data.std", lambda v: _number(v) and v > 0, "a finite number > 0", "data.std=1.0"),
    ("data.pad", _integer(0), "an integer >= 0", "data.pad=2"),
    ("trainer.max_epochs", _integer(1), "an integer >= 1", "trainer.max_epochs=10"),
    (
        "stop_after_epochs",
        lambda v: v is None or _integer(1)(v),
        "null or an integer >= 1",
        "stop_after_epochs=2",
    ),
    (
        "module.max_loss",
        lambda v: v is None or (_number(v) and v > 0),
        "null or a number > 0",
        "module.max_loss=100",
    ),
    ("model.hidden", _integer(1), "an integer >= 1", "model.hidden=300"),
    (
        "data.folds",
        lambda v: v is None or _integer(2, 1000)(v),
        "null or an integer from 2 to 1000",
        "data.folds=5",
    ),
    ("data.fold", _integer(0), "an integer >= 0", "data.fold=0"),
    ("seed", lambda v: v is None or _integer(0, 2**32 - 1)(v), "an integer from 0 to 2**32-1", "seed=0"),
    (
        "data.mirrors",
        _urls,
        "null or a list of http(s):// or file:// URLs",
        "data.mirrors=[https://ossci-datasets.s3.amazonaws.com/mnist/]",
    ),
]
# key, allowed names
CHOICES: list[tuple[str, tuple[str, ...]]] = [
    ("data.dataset", (*PRESETS, FOLDER)),
    ("model.activation", spec.ACTIVATIONS),
    ("data.loader", spec.LOADERS),
    ("data.storage", spec.STORAGES),
    ("test_ckpt", ("best", "last")),
    ("trainer.precision", spec.PRECISIONS),
]
_ABSENT = object()


def validate(cfg: DictConfig) -> None:
    """Reject bad values before any file is read or any folder filled, with the fix in the message."""
    for key, ok, what, example in RULES:
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is not _ABSENT and not ok(value):
            raise UserError(f"{key} must be {what}, got {value!r}. Fix: e.g. {example}.")
    for key, names in CHOICES:
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is not _ABSENT and (str(value) if type(value) is int else value) not in names:
            raise UserError(f"{key} '{value}' is unknown. Fix: one of {', '.join(names)}.")
    check_data(cfg)
    _check_input_size(cfg)
    model_config(cfg)


def check_data(cfg: DictConfig) -> None:
    """The values that depend on which dataset it is: its number of classes (a label beyond the
    model's outputs would crash the loss mid-run), its training images, its files."""
    name = OmegaConf.select(cfg, "data.dataset", default=None)
    if name == FOLDER:
        _check_folder_sizes(cfg)
    if name not in PRESETS:
        return
    data = PRESETS[name]
    if OmegaConf.select(cfg, "data.num_classes", default=data.num_classes) != data.num_classes:
        raise UserError(
            f"data.num_classes={cfg.data.num_classes}, but {data.title} has {data.num_classes} classes. "
            f"Fix: data.num_classes={data.num_classes} (data={name} sets it)."
        )
    for key in ("model.num_classes", "module.num_classes"):
        value = OmegaConf.select(cfg, key, default=data.num_classes)
        if not _integer(data.num_classes)(value):
            raise UserError(
                f"{key} must be an integer >= {data.num_classes} ({data.title}'s classes), got {value!r}. "
                f"Fix: {key}={data.num_classes}, or leave it to the data (${{data.num_classes}})."
            )
    train = data.counts[0]
    val_size = OmegaConf.select(cfg, "data.val_size", default=0)
    if not _integer(0, train - 1)(val_size):
        raise UserError(
            f"data.val_size must be an integer between 0 and {train - 1} ({data.title} has {train:,} "
            f"training images), got {val_size!r}. Fix: e.g. data.val_size=5000, or 0 to validate on the "
            "test set as the seed does."
        )
    _check_folds(cfg)
    _check_checksums(cfg, data)
    if OmegaConf.select(cfg, "data.loader", default="tensor") == "torchvision" and name != "mnist":
        raise UserError(
            f"data.loader=torchvision is the seed's reference pipeline for MNIST; {data.title} loads "
            "through the in-memory tensors only. Fix: data.loader=tensor."
        )


def _check_folder_sizes(cfg: DictConfig) -> None:
    """A folder's sizes: a fraction below 1 or a count from 1 (its image count is known once read)."""
    for key in ("data.val_size", "data.test_size"):
        value = OmegaConf.select(cfg, key, default=0.1)
        if not (_number(value) and (0 < value < 1 or (value >= 1 and float(value).is_integer()))):
            raise UserError(
                f"{key} must be a fraction between 0 and 1 or a whole count, got {value!r}. "
                f"Fix: e.g. {key}=0.1."
            )
    if OmegaConf.select(cfg, "data.loader", default="tensor") != "tensor":
        raise UserError(
            "A folder of images loads through the in-memory tensors only. Fix: data.loader=tensor."
        )
    if not _integer(2, MAX_FOLDER_CLASSES)(OmegaConf.select(cfg, "data.num_classes", default=10)):
        raise UserError(
            f"data.num_classes must be an integer from 2 to {MAX_FOLDER_CLASSES}. Fix: data.num_classes=10."
        )


def _check_folds(cfg: DictConfig) -> None:
    folds, fold = OmegaConf.select(cfg, "data.folds"), OmegaConf.select(cfg, "data.fold", default=0)
    if folds is not None and not fold < folds:
        raise UserError(
            f"data.fold={fold} names no fold of data.folds={folds}. Fix: data.fold from 0 to {folds - 1} "
            f"(a sweep: -m data.fold='range({folds})')."
        )
    if folds is not None and OmegaConf.select(cfg, "data.val_size") == 0:
        raise UserError(
            "data.folds validates on a fold of the training images, and data.val_size=0 asks to validate "
            "on the test set. Fix: leave data.val_size as it is (with data.folds it is unused)."
        )


def _check_checksums(cfg: DictConfig, data: Any) -> None:
    sums = OmegaConf.select(cfg, "data.checksums")
    if sums is None:
        return
    known = (*data.files, *data.archives)
    good = isinstance(sums, DictConfig) and all(
        k in known and isinstance(v, str) and len(v) in (32, 64) and all(c in "0123456789abcdef" for c in v)
        for k, v in sums.items()
    )
    if not good:
        raise UserError(
            f"data.checksums must map {data.title}'s files ({', '.join(known)}) to SHA-256 (64) or MD5 (32) "
            f"lowercase hex digits, got {sums!r}. Fix: e.g. data.checksums={{{next(iter(known))}:<sha256>}}."
        )


def model_config(cfg: DictConfig) -> dict[str, Any] | None:
    """The composed model config as the plain dict a checkpoint records (None for a command
    without a model); refused when it names more than a model class with plain arguments, since
    no checkpoint of the run could then be loaded (core/netconfig)."""
    if "model" not in cfg:
        return None
    try:
        config = OmegaConf.to_container(cfg.model, resolve=True)
    except Exception as err:
        raise UserError(f"The model config cannot be resolved ({err}). Fix: mend the model's YAML.") from None
    return checked_net_config(config, "The model config")


def _check_input_size(cfg: DictConfig) -> None:
    """The padded images must fit the model (core/spec.input_error: the numbers the models use)."""
    target = OmegaConf.select(cfg, "model._target_", default=None)
    pad = OmegaConf.select(cfg, "data.pad", default=None)
    if isinstance(target, str) and isinstance(pad, int):
        error = spec.input_error(target, pad, OmegaConf.select(cfg, "model.in_features", default=None))
        if error:
            raise UserError(error)
