"""Evaluation: `mnist-exp-eval ckpt_path=...` tests a checkpoint on the official 10,000 test images."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from mnist_exp.cli import run_cli, user_errors_exit
from mnist_exp.config import CONF_DIR, validate
from mnist_exp.errors import UserError
from mnist_exp.module import MNISTClassifier

log = logging.getLogger(__name__)


def load_checkpoint(path: str | Path) -> MNISTClassifier:
    """The model from a checkpoint, or a UserError saying why it cannot be used."""
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise UserError(
            f"Checkpoint {path} does not exist. Fix: pass ckpt_path=<run dir>/checkpoints/last.ckpt "
            "(or another .ckpt) of a finished run."
        )
    try:
        return MNISTClassifier.from_checkpoint(str(path))
    except Exception as err:
        raise UserError(
            f"{path} is not a mnist-exp checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}). Fix: pass a .ckpt written by "
            "mnist-exp-train."
        ) from None


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint with the input transform it was trained with."""
    validate(cfg)
    model = load_checkpoint(cfg.ckpt_path)
    data_cfg = dict(cfg.data)
    data_cfg.update(model.hparams.get("data_config") or {})
    datamodule: pl.LightningDataModule = instantiate(data_cfg)
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    trainer.test(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    print(f"test/acc: {100 * metrics['test/acc']:.2f}%  ({cfg.ckpt_path})")
    return metrics


def check(cfg: DictConfig) -> None:
    validate(cfg)
    load_checkpoint(cfg.ckpt_path)
    instantiate(cfg.data).prepare_data()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
@user_errors_exit
def hydra_main(cfg: DictConfig) -> None:
    torch.utils.deterministic.fill_uninitialized_memory = False
    evaluate(cfg)


def main() -> None:
    """`mnist-exp-eval`: bad input is refused before Hydra makes a run folder."""
    run_cli("eval", hydra_main, check)


if __name__ == "__main__":
    main()
