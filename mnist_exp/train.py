"""Training: a thin `@hydra.main` over `train(cfg) -> metrics`, which tests call in-process."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist_exp.cli import user_errors_exit
from mnist_exp.config import CONF_DIR, validate
from mnist_exp.module import MNISTClassifier

log = logging.getLogger(__name__)


def build_callbacks(cfg: DictConfig, has_logger: bool) -> list[pl.Callback]:
    callbacks = []
    for name, conf in (cfg.get("callbacks") or {}).items():
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            continue
        if not has_logger and conf._target_.endswith("LearningRateMonitor"):
            log.info("No logger configured: callback '%s' (learning-rate monitor) left out.", name)
            continue
        callbacks.append(instantiate(conf))
    return callbacks


def build_loggers(cfg: DictConfig) -> list[Any]:
    return [
        instantiate(conf)
        for conf in (cfg.get("logger") or {}).values()
        if isinstance(conf, DictConfig) and "_target_" in conf
    ]


def build_module(cfg: DictConfig) -> MNISTClassifier:
    """The LightningModule, with the configs needed to rebuild it from a checkpoint alone."""
    net = instantiate(cfg.model)
    return MNISTClassifier(
        net=net,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        net_config=OmegaConf.to_container(cfg.model, resolve=True),
        data_config={k: cfg.data[k] for k in ("pad", "mean", "std")},
        channels_last=cfg.get("channels_last", True),
    )


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit, then test the best checkpoint; return every logged metric as a float.

    `extra_callbacks` lets benchmarks and tests observe a real run without changing its config.
    """
    validate(cfg)
    if cfg.trainer.get("deterministic"):
        # Deterministic mode also fills every new tensor with NaN, which costs time and
        # guards only against reading uninitialized memory; the results stay deterministic.
        torch.utils.deterministic.fill_uninitialized_memory = False
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    datamodule: pl.LightningDataModule = instantiate(cfg.data)
    datamodule.prepare_data()  # a missing or damaged file fails here, before any training setup
    model = build_module(cfg)
    loggers = build_loggers(cfg)
    callbacks = build_callbacks(cfg, has_logger=bool(loggers)) + list(extra_callbacks or [])
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(_floats(trainer.callback_metrics))
    if cfg.get("test", True):
        ckpt = _test_checkpoint(trainer, cfg.get("test_ckpt", "best"))
        if ckpt is None:
            log.warning("No checkpoint to test: testing the weights in memory.")
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt, weights_only=False)
        metrics.update(_floats(trainer.callback_metrics))
        if ckpt:
            metrics["test/ckpt_epoch"] = float(
                torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"]
            )
    name = cfg.get("optimized_metric")
    if name and name in metrics:
        metrics["optimized_metric"] = metrics[name]
    _summary(metrics)
    return metrics


def _test_checkpoint(trainer: pl.Trainer, which: str) -> str | None:
    """`best` (by val/acc) or `last`: with data.val_size=0 the best is chosen on the test set,
    so the seed experiments test the last epoch instead."""
    callback = trainer.checkpoint_callback
    if callback is None:
        return None
    path = callback.best_model_path if which == "best" else callback.last_model_path
    return path or None


def _summary(metrics: dict[str, float]) -> None:
    shown = {k: v for k, v in metrics.items() if "/" in k}
    for key in sorted(shown):
        log.info("%-14s %.4f", key, shown[key])
    if "test/acc" in metrics:
        print(f"test/acc: {100 * metrics['test/acc']:.2f}%")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
@user_errors_exit
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    return metrics.get("optimized_metric")


if __name__ == "__main__":
    main()
