"""Evaluation: test a checkpoint on the official 10,000 test images, with the input transform it
was trained with (`mnist-exp-eval ckpt_path=...`)."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist_exp.core.checkpoint import load_checkpoint
from mnist_exp.pipelines.train import quiet_lightning
from mnist_exp.setup.validate import validate

log = logging.getLogger("mnist_exp.eval")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint; the data module takes the checkpoint's pad/mean/std over the config's."""
    validate(cfg)
    quiet_lightning()
    torch.utils.deterministic.fill_uninitialized_memory = False
    model = load_checkpoint(cfg.ckpt_path)
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    data_cfg.update(model.hparams.get("data_config") or {})
    datamodule: pl.LightningDataModule = instantiate(data_cfg)
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    trainer.test(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    log.info("checkpoint %s", cfg.ckpt_path)
    for key in sorted(metrics):
        log.info("%-10s %.4f", key, metrics[key])
    print(f"test/acc: {100 * metrics['test/acc']:.2f}%  ({cfg.ckpt_path})")
    return metrics
