"""The run's record in TensorBoard's HParams tab: its hyperparameters and the metrics to show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams

from mnist_exp.core.overrides import NOT_IN_NAME, is_location, split_override

HPARAM_METRICS = ("val/acc_best", "val/acc", "test/acc", "train/loss", "val/loss")
# a run folder's pictures that trackers (MLflow, W&B) get copies of, besides the feature-map grids
PICTURES = ("accuracy.png", "confusion_matrix.png", "mistakes.png")
PARAM_LIMIT = 6000  # characters of a param value MLflow keeps


def run_hparams(cfg: Any, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """What TensorBoard's HParams tab shows for a run: the usual knobs, the model's arguments (a
    user's own model's as well as LeNet-5's), plus every overridden key."""

    def cls(node: Any) -> str:
        return str(node.get("_target_", "none")).rsplit(".", 1)[-1] if node else "none"

    opt, data, model = cfg.get("optimizer") or {}, cfg.get("data") or {}, cfg.get("model") or {}
    hp: dict[str, Any] = {
        "model": cls(model),
        "optimizer": cls(opt),
        "lr": opt.get("lr"),
        "momentum": opt.get("momentum", 0.0),
        "weight_decay": opt.get("weight_decay", 0.0),
        "batch_size": data.get("batch_size"),
        "seed": cfg.get("seed"),
        "epochs": (cfg.get("trainer") or {}).get("max_epochs"),
        "scheduler": cls(cfg.get("scheduler")),
    }
    for key, value in model.items():  # every argument of the model, a user's own model's too
        if key != "_target_":
            hp[key if key in ("activation", "hidden") else f"model.{key}"] = value
    covered = {f"model.{key}" for key in model} | {
        "optimizer.lr",
        "optimizer.momentum",
        "optimizer.weight_decay",
        "data.batch_size",
        "seed",
        "trainer.max_epochs",
        "model",
        "optimizer",
        "scheduler",
    }
    for key, _ in filter(None, map(split_override, map(str, overrides or ()))):
        if key in covered or key.startswith(NOT_IN_NAME):
            continue
        value = OmegaConf.select(cfg, key.replace("/", "."), default=None)
        if isinstance(value, (bool, int, float, str)):
            hp[key] = value
    return {
        k: ("none" if v is None else v)
        for k, v in hp.items()
        if isinstance(v, (bool, int, float, str)) or v is None
    }


def log_hparams(loggers: Sequence[Any], cfg: Any, overrides: Sequence[str] | None = None) -> None:
    """Declare the run's hyperparameters and metrics to TensorBoard's HParams tab (call on rank 0).

    Written at the start so a running or failed run is listed too; the tab takes each metric's
    value from the run's own scalar of that name, so it shows the final values as they are logged.
    """
    hp = run_hparams(cfg, overrides)
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            writer = logger.experiment.file_writer  # the run's event file, opened with the writer
            for summary in hparams(hp, dict.fromkeys(HPARAM_METRICS, 0.0)):
                writer.add_summary(summary)
            writer.flush()


# what trackers' params leave out: how records are written (callbacks, loggers) and Hydra's own keys
NOT_A_PARAM = ("callbacks", "logger", "hydra")
HYDRA_KEYS = ("_convert_", "_recursive_", "_partial_")
# the groups whose choice the user types (`model=lenet`), shown as params beside their keys
CHOSEN = ("experiment", "data", "model", "optimizer", "scheduler", "trainer", "hparams_search", "debug")


def tracked_params(cfg: Any, choices: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The experiment as trackers show it (MLflow params, W&B config): each key once, under the name
    the user types (`optimizer.lr`, not also `module.optimizer.lr`), with the group options chosen
    (`model: lenet`). A value that is a whole interpolation (`net: ${model}`, `shuffle_seed: ${seed}`)
    repeats a key shown elsewhere, so it is left out; so are records' internals (callbacks, loggers),
    Hydra's keys and locations (is_location)."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    out = _own_values(raw, resolved, "")
    out.update({g: str(c) for g, c in (choices or {}).items() if g in CHOSEN and c is not None})
    return out


def _own_values(raw: Any, resolved: Any, prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw.items():
        full = f"{prefix}{key}"
        if (not prefix and key in NOT_A_PARAM) or key in HYDRA_KEYS or is_location(full):
            continue
        if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            continue  # a copy of another key (or of the environment): shown where it is set
        if isinstance(value, Mapping) and value:
            out.update(_own_values(value, resolved[key], f"{full}."))
        elif not isinstance(value, Mapping):
            out[full] = str(resolved[key])[:PARAM_LIMIT]
    return out


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The resolved config as dotted keys (`optimizer.lr`), every value as trackers store it;
    locations left out (see is_location)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(flat_params(value, f"{prefix}{key}."))
        elif not is_location(f"{prefix}{key}"):
            out[f"{prefix}{key}"] = str(value)[:PARAM_LIMIT]
    return out
