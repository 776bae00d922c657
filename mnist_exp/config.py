"""Config helpers: the run-folder resolver and the start-up checks of config values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist_exp.errors import UserError
from mnist_exp.models import ACTIVATIONS

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
PROCESS_ID = f"{os.getpid():05d}"


def register_resolvers() -> None:
    """`${run_id:}` makes folders unique: two runs started in the same second differ by process.

    Cached in the config (use_cache) so a sweep's jobs, even in other processes, share one value.
    """
    if not OmegaConf.has_resolver("run_id"):
        OmegaConf.register_new_resolver("run_id", lambda: PROCESS_ID, use_cache=True)
    if not OmegaConf.has_resolver("job_name"):  # a sweep job's folder: see mnist_exp.sweep.job_name
        from mnist_exp.sweep import job_name

        OmegaConf.register_new_resolver("job_name", job_name)


register_resolvers()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def validate(cfg: DictConfig) -> None:
    """Reject bad values before any file is read or any folder filled, with the fix in the message."""
    opt = cfg.get("optimizer") or {}
    if "lr" in opt:
        lr = opt.lr
        _check(
            _number(lr) and lr > 0,
            f"optimizer.lr must be a number > 0, got {lr!r}. Fix: e.g. optimizer.lr=0.01.",
        )
    data = cfg.get("data") or {}
    for key in ("batch_size", "eval_batch_size"):
        if key in data:
            value = data[key]
            _check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"data.{key} must be an integer >= 1, got {value!r}. Fix: e.g. data.{key}=128.",
            )
    if "val_size" in data:
        value = data.val_size
        _check(
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 60000,
            f"data.val_size must be an integer between 0 and 59999 (MNIST has 60,000 training "
            f"images), got {value!r}. Fix: e.g. data.val_size=5000, or 0 to validate on the "
            "test set as the seed does.",
        )
    for key in ("mean", "std"):
        if key in data:
            _check(_number(data[key]), f"data.{key} must be a number, got {data[key]!r}.")
    if "std" in data:
        _check(data.std > 0, f"data.std must be > 0, got {data.std!r}. Fix: e.g. data.std=1.0.")
    trainer = cfg.get("trainer") or {}
    if "max_epochs" in trainer:
        value = trainer.max_epochs
        _check(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"trainer.max_epochs must be an integer >= 1, got {value!r}. Fix: e.g. trainer.max_epochs=10.",
        )
    model = cfg.get("model") or {}
    if "hidden" in model:
        value = model.hidden
        _check(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"model.hidden must be an integer >= 1, got {value!r}. Fix: e.g. model.hidden=300.",
        )
    if "activation" in model:
        _check(
            model.activation in ACTIVATIONS,
            f"model.activation '{model.activation}' is unknown. Fix: one of {', '.join(ACTIVATIONS)}.",
        )
    seed = cfg.get("seed")
    _check(
        seed is None or (isinstance(seed, int) and not isinstance(seed, bool)),
        f"seed must be an integer, got {seed!r}. Fix: e.g. seed=0.",
    )
