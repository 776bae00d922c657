"""Every option of every config group composes and builds; bad values are refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from mnist_exp.core.errors import UserError
from mnist_exp.pipelines.run.train import build_callbacks, build_loggers
from mnist_exp.setup.config import CONF_DIR
from mnist_exp.setup.validate import validate
from tests.conftest import compose_cfg

GROUPS = ["model", "optimizer", "scheduler", "data", "trainer", "logger", "callbacks"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


def test_every_group_has_its_options() -> None:
    assert {"lenet", "mlp"} <= set(options("model"))
    assert {"sgd", "adam"} <= set(options("optimizer"))
    assert {"none", "step", "cosine"} <= set(options("scheduler"))
    assert {"default", "cpu", "gpu"} <= set(options("trainer"))
    assert {"tensorboard", "csv", "none"} <= set(options("logger"))
    assert {"default", "none"} <= set(options("callbacks"))


@pytest.mark.parametrize(("group", "option"), [(g, o) for g in GROUPS for o in options(g)])
def test_option_composes_and_builds(
    group: str, option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # logger=mlflow's default store, outputs/mlflow.db, goes there
    cfg = compose_cfg("config", [f"{group}={option}", f"paths.output_dir={tmp_path}", "data.root=unused"])
    validate(cfg)
    module = instantiate(cfg.module)
    assert isinstance(module, pl.LightningModule)
    module.trainer = None  # configure_optimizers needs no trainer here
    opt = module.configure_optimizers()
    assert opt is not None
    data = instantiate(cfg.data)
    assert isinstance(data, pl.LightningDataModule)
    loggers = build_loggers(cfg)
    callbacks = build_callbacks(cfg, has_logger=bool(loggers))
    if group == "trainer" and option == "gpu" and not torch.cuda.is_available():
        return  # composes; building a GPU trainer needs a GPU
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    assert isinstance(trainer, pl.Trainer)


def test_defaults_are_the_seed_settings() -> None:
    cfg = compose_cfg("config", ["paths.output_dir=x"])
    assert cfg.model._target_.endswith("LeNet5")
    assert cfg.optimizer.lr == 0.01 and cfg.optimizer.momentum == 0.0
    assert cfg.data.batch_size == 128 and cfg.data.pad == 2
    assert cfg.data.mean == 0.5 and cfg.data.std == 1.0
    assert cfg.seed == 0 and cfg.optimized_metric == "val/acc_best"
    assert cfg.optimizer._partial_ is True


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=-1", "optimizer.lr must be a finite number > 0"),
        ("optimizer.lr=abc", "optimizer.lr must be a finite number > 0"),
        ("optimizer.lr=inf", "optimizer.lr must be a finite number > 0"),
        ("seed=-1", "seed must be an integer from 0"),
        ("data.batch_size=0", "data.batch_size must be an integer >= 1"),
        ("trainer.max_epochs=0", "trainer.max_epochs must be an integer >= 1"),
        ("model=mlp model.hidden=0", "model.hidden must be an integer >= 1"),
        ("model=mlp model.activation=foo", "model.activation 'foo' is unknown"),
        ("data.val_size=70000", "data.val_size must be an integer between 0 and 59999"),
        ("seed=99999999999999999999", "seed must be an integer from 0 to 2\\*\\*32-1"),
        ("module.max_loss=-1", "module.max_loss must be null or a number > 0"),
        ("data.pad=0", "data.pad=0 gives 28x28 images, but LeNet-5 needs 32x32"),
        ("data.pad=3", None),  # 34x34: LeNet-5's pooling still ends at 5x5 maps, so it runs
        ("model=mlp data.pad=0", "784 inputs per image, but model.in_features is 1024"),
        ("model=mlp data.pad=0 model.in_features=784", None),
        ("test_ckpt=bset", "test_ckpt 'bset' is unknown. Fix: one of best, last"),
    ],
)
def test_bad_values_are_refused(override: str, message: str | None) -> None:
    """The one table of value rules (setup/validate.py), each case with its message; the command
    line's refusal around it (exit code 2, no folder) is tested in test_errors.py."""
    cfg = compose_cfg("config", [*override.split(), "paths.output_dir=x"])
    if message is None:
        validate(cfg)  # accepted
        return
    with pytest.raises(UserError, match=message):
        validate(cfg)


@pytest.mark.parametrize(
    ("preset", "key", "value"),
    [
        ("fdr", "trainer.fast_dev_run", True),
        ("limit", "trainer.limit_train_batches", 5),
        ("overfit", "trainer.overfit_batches", 4),
        ("profiler", "trainer.profiler._target_", "pytorch_lightning.profilers.SimpleProfiler"),
    ],
)
def test_debug_presets_compose(preset: str, key: str, value: object) -> None:
    from omegaconf import OmegaConf

    cfg = compose_cfg("config", [f"debug={preset}", "paths.output_dir=x"])
    assert OmegaConf.select(cfg, key) == value
    assert cfg.model._target_.endswith("LeNet5")  # a preset changes the trainer, nothing else
