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
from mnist_exp.core.errors import UserError
from mnist_exp.core.module import MNISTClassifier
from mnist_exp.core.netconfig import trusted_modules
from mnist_exp.core.targets import own_data
from mnist_exp.pipelines.run.train import quiet_lightning
from mnist_exp.setup.execution import targets, trusting
from mnist_exp.setup.validate import validate

log = logging.getLogger("mnist_exp.eval")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint; the data module is the user's, with the checkpoint's pad/mean/std (and
    its class names, for a folder of images). Only what the config names is built (setup/execution)."""
    with trusting(targets(cfg)):
        return _evaluate(cfg)


def _evaluate(cfg: DictConfig) -> dict[str, float]:
    validate(cfg)
    quiet_lightning()
    torch.utils.deterministic.fill_uninitialized_memory = False
    record, model = load_with_record(cfg.ckpt_path, trusted_modules(cfg.get("trust")))
    datamodule = _datamodule(cfg.data, model)
    _say_precision(record, str(cfg.trainer.get("precision", "32-true")))
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    trainer.test(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    log.info("checkpoint %s", cfg.ckpt_path)
    for key in sorted(metrics):
        log.info("%-10s %.4f", key, metrics[key])
    print(f"test/acc: {100 * metrics['test/acc']:.2f}%  ({cfg.ckpt_path})")
    return metrics


def _datamodule(data: DictConfig, model: MNISTClassifier) -> pl.LightningDataModule:
    """mnist-exp's kinds get the checkpoint's checked pad, mean and std (the user's config says
    where the data is); a folder is labelled as the model's classes. A user's DataModule is built
    from their config as it is, and its `classes`, if it names them, must be the model's."""
    if not own_data(data):
        datamodule = instantiate(data)
        named = getattr(datamodule, "classes", None)
        if named is not None and [str(c) for c in named] != model.class_names:
            raise UserError(
                f"{data._target_} names the classes {list(named)[:12]}, but the checkpoint's model was "
                f"trained on {model.class_names[:12]}. Fix: evaluate on data with the model's classes."
            )
        return datamodule
    transform = {k: model.hparams["data_config"][k] for k in ("pad", "mean", "std")}
    if transform["pad"] is None:
        raise UserError(
            f"The checkpoint's model trained on {model.hparams['data_config'].get('dataset')}, a data module "
            "that does not say how MNIST's images become its inputs. Fix: evaluate it on that data module "
            "(--config-dir <your conf> data=<yours>)."
        )
    datamodule = instantiate(data, **transform)
    if hasattr(datamodule, "for_evaluation"):  # a folder of images: labelled as the model's classes
        datamodule.for_evaluation(model.class_names)
    return datamodule


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
