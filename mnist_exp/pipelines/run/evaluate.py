"""Evaluation: test a checkpoint on the official 10,000 test images, with the input transform it
was trained with (`mnist-exp-eval ckpt_path=...`)."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from mnist_exp.core.checkpoint import load_with_record
from mnist_exp.core.ckpt_schema import CheckpointRecord
from mnist_exp.core.netconfig import trusted_modules
from mnist_exp.pipelines.run.train import quiet_lightning
from mnist_exp.setup.validate import validate

log = logging.getLogger("mnist_exp.eval")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint; the data module is the user's, with the checkpoint's pad/mean/std (and
    its class names, for a folder of images)."""
    validate(cfg)
    quiet_lightning()
    torch.utils.deterministic.fill_uninitialized_memory = False
    record, model = load_with_record(cfg.ckpt_path, trusted_modules(cfg.get("trust")))
    # the user's data config (root, loader, ...); from the file only its checked pad, mean and std
    transform = {k: model.hparams["data_config"][k] for k in ("pad", "mean", "std")}
    datamodule: pl.LightningDataModule = instantiate(cfg.data, **transform)
    if hasattr(datamodule, "for_evaluation"):  # a folder of images: labelled as the model's classes
        datamodule.for_evaluation(model.class_names)
    _say_precision(record, str(cfg.trainer.get("precision", "32-true")))
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    trainer.test(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    log.info("checkpoint %s", cfg.ckpt_path)
    for key in sorted(metrics):
        log.info("%-10s %.4f", key, metrics[key])
    print(f"test/acc: {100 * metrics['test/acc']:.2f}%  ({cfg.ckpt_path})")
    return metrics


TRUE_PRECISION = {torch.bfloat16: "bf16-true", torch.float16: "16-true", torch.float64: "64-true"}


def _say_precision(record: CheckpointRecord, precision: str) -> None:
    """A checkpoint does not record the precision it trained in, but its weights' dtype shows a
    `*-true` run: when eval's own precision differs, one line says so and how to match it."""
    dtypes = {t.dtype for t in record.state_dict.values() if t.is_floating_point()}
    trained = TRUE_PRECISION.get(next(iter(dtypes))) if len(dtypes) == 1 else None
    if trained and trained != precision:
        print(
            f"Note: the weights are {next(iter(dtypes))} (a trainer.precision={trained} run); evaluating "
            f"in {precision}, so the accuracy may differ slightly from the run's. To match it: "
            f"trainer.precision={trained}."
        )
