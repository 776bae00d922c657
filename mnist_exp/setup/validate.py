"""Start-up checks of config values: one table of rules, each with the message that names the fix."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist_exp.core import spec
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
    (
        "data.val_size",
        _integer(0, spec.TRAIN_IMAGES - 1),
        f"an integer between 0 and {spec.TRAIN_IMAGES - 1} (MNIST has 60,000 training images)",
        "data.val_size=5000, or 0 to validate on the test set as the seed does",
    ),
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
    # fewer outputs than MNIST has classes: a label of 8 would crash the loss (IndexError) mid-run
    ("model.num_classes", _integer(10), "an integer >= 10 (MNIST's digits 0-9)", "model.num_classes=10"),
    ("module.num_classes", _integer(10), "an integer >= 10 (MNIST's digits 0-9)", "module.num_classes=10"),
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
    _check_input_size(cfg)
    model_config(cfg)


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
