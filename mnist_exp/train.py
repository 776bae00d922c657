"""Training: a thin `@hydra.main` over `train(cfg) -> metrics`, which tests call in-process."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

from mnist_exp.callbacks import AtomicCheckpointIO
from mnist_exp.cli import print_error, run_cli, user_errors_exit
from mnist_exp.config import CONF_DIR, validate
from mnist_exp.errors import Diverged, Interrupted, UserError
from mnist_exp.module import MNISTClassifier
from mnist_exp.reporting import log_hparams
from mnist_exp.sweep import check_sweep_dir, hydra_overrides, read_status, run_sweep_job, torch_threads

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
    started = time.time()
    threads = torch_threads(cfg)
    if threads:
        torch.set_num_threads(threads)
        log.info("torch threads: %d", threads)
    if cfg.trainer.get("deterministic"):
        # Deterministic mode also fills every new tensor with NaN, which costs time and
        # guards only against reading uninitialized memory; the results stay deterministic.
        torch.utils.deterministic.fill_uninitialized_memory = False
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
    _ddp_in_multirun(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    previous = read_status(output_dir) if cfg.get("ckpt_path") else {}
    info = {"overrides": hydra_overrides(), "started": started}

    def status(state: str, **more: Any) -> None:
        wall = float(previous.get("wall_s") or 0.0) + time.time() - started
        write_status(output_dir, state, wall_s=round(wall, 2), **info, **more)

    datamodule: pl.LightningDataModule = instantiate(cfg.data)
    datamodule.prepare_data()  # a missing or damaged file fails here, before any training setup
    model = build_module(cfg)
    loggers = build_loggers(cfg)
    callbacks = build_callbacks(cfg, has_logger=bool(loggers)) + list(extra_callbacks or [])
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    log_hparams(loggers, cfg, info["overrides"])

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        status("running")
        try:
            with _signals_stop(trainer):
                trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        except Diverged as err:
            status("diverged", epoch=trainer.current_epoch, error=str(err))
            raise
        except SIGTERMException:
            status("interrupted", epoch=trainer.current_epoch)
            raise Interrupted(_resume_hint(output_dir, trainer)) from None
        except BaseException as err:
            status("failed", epoch=trainer.current_epoch, error=f"{type(err).__name__}: {err}")
            raise
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
    status("ok", epoch=trainer.current_epoch, metrics=metrics)
    _summary(metrics)
    return metrics


def write_status(run_dir: Path, status: str, **info: Any) -> None:
    """`status.json` in the run folder: running, ok, interrupted, diverged or failed (rank 0 only)."""
    if rank_zero_only.rank != 0:
        return
    tmp = run_dir / ".status.json.tmp"
    tmp.write_text(json.dumps({"status": status, **info}, indent=1, default=str))
    os.replace(tmp, run_dir / "status.json")


def _resume_hint(run_dir: Path, trainer: pl.Trainer) -> str:
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return (
            f"Interrupted in the first epoch of {run_dir}: no epoch finished, nothing to resume. "
            "Fix: start the run again."
        )
    epoch = torch.load(last, map_location="cpu", weights_only=False)["epoch"]
    return (
        f"Interrupted during epoch {trainer.current_epoch} (0-based); the run is saved up to the end "
        f"of epoch {epoch} in {last}.\nResume it with: mnist-exp-train resume={run_dir}"
    )


@contextmanager
def _signals_stop(trainer: pl.Trainer) -> Iterator[None]:
    """Ctrl-C ends the run like SIGTERM: cleanly after the current step (a second Ctrl-C kills)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        print("\nStopping after this step (Ctrl-C again to kill) ...", file=sys.stderr)
        trainer._signal_connector.received_sigterm = True

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _test_checkpoint(trainer: pl.Trainer, which: str) -> str | None:
    """`best` (by val/acc) or `last`: with data.val_size=0 the best is chosen on the test set,
    so the seed experiments test the last epoch instead."""
    callback = trainer.checkpoint_callback
    if callback is None:
        return None
    path = callback.best_model_path if which == "best" else callback.last_model_path
    return path or None


def _summary(metrics: dict[str, float]) -> None:
    if rank_zero_only.rank != 0:
        return
    shown = {k: v for k, v in metrics.items() if "/" in k}
    for key in sorted(shown):
        log.info("%-14s %.4f", key, shown[key])
    if "test/acc" in metrics:
        print(f"test/acc: {100 * metrics['test/acc']:.2f}%")


def check(cfg: DictConfig) -> None:
    """Everything that can be checked before a run folder exists: values, data files, checkpoint."""
    validate(cfg)
    instantiate(cfg.data).prepare_data()
    if cfg.get("ckpt_path"):
        from mnist_exp.eval import load_checkpoint

        saved = load_checkpoint(cfg.ckpt_path).hparams.get("net_config") or {}
        wanted = OmegaConf.to_container(cfg.model, resolve=True)
        if saved != wanted:
            name = str(saved.get("_target_", "?")).rsplit(".", 1)[-1]
            raise UserError(
                f"Checkpoint {cfg.ckpt_path} holds a {name} model {saved}, but the config asks for "
                f"{wanted}. Fix: choose the checkpoint's model (e.g. model={_group_option(name)}) or "
                "another checkpoint."
            )


def _group_option(class_name: str) -> str:
    return {"LeNet5": "lenet", "MLP": "mlp"}.get(class_name, "...")


def _multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _ddp_in_multirun(cfg: DictConfig) -> None:
    """Lightning's `ddp` starts the other ranks by re-running the command line, which inside a
    multirun would start the whole sweep again: there the ranks are spawned instead (`ddp_spawn`).
    Under SLURM or torchrun the ranks already exist and nothing changes."""
    external = any(k in os.environ for k in ("SLURM_NTASKS", "TORCHELASTIC_RUN_ID", "LOCAL_RANK"))
    if cfg.trainer.get("strategy") == "ddp" and _multirun() and not external:
        with open_dict(cfg):
            cfg.trainer.strategy = "ddp_spawn"
        log.info("DDP inside a multirun: ranks are spawned (strategy ddp_spawn).")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
@user_errors_exit
def hydra_main(cfg: DictConfig) -> float | None:
    if _multirun():
        return run_sweep_job(cfg, train)
    metrics = train(cfg)
    return metrics.get("optimized_metric")


RESULT_FILES = ("checkpoints", "metrics.csv", "status.json")


def resume_argv(argv: list[str]) -> list[str]:
    """`resume=<run dir>`: the run's own overrides, its folder, and its last checkpoint."""
    given = [a for a in argv if a.startswith("resume=")]
    explicit_dir = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")]
    if not given:
        if os.environ.get("LOCAL_RANK", "0") != "0":  # a DDP rank Lightning started in the run's folder
            return argv
        for folder in explicit_dir:  # never write into another run's folder
            if any((Path(folder) / name).exists() for name in RESULT_FILES):
                raise UserError(
                    f"{folder} holds another run's results. Fix: resume it with resume={folder}, "
                    "or choose an empty hydra.run.dir."
                )
        return argv
    run_dir = Path(given[-1].split("=", 1)[1]).expanduser()
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        raise UserError(
            f"{run_dir} is not a mnist-exp run folder (no .hydra/overrides.yaml). Fix: pass a run folder."
        )
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise UserError(f"{run_dir} has no checkpoints/last.ckpt: no epoch finished. Fix: start it again.")
    original = [
        o
        for o in OmegaConf.load(overrides_file)
        if not o.startswith(("resume=", "ckpt_path=", "hydra.run.dir="))
    ]
    extra = [a for a in argv if a not in given]
    return [*original, *extra, f"resume={run_dir}", f"ckpt_path={last}", f"hydra.run.dir={run_dir}"]


def main() -> None:
    """`mnist-exp-train`: bad input is refused before Hydra makes a run folder."""
    try:
        sys.argv = [sys.argv[0], *resume_argv(sys.argv[1:])]
        check_sweep_dir(sys.argv[1:])
    except UserError as err:
        print_error(err)
        sys.exit(err.exit_code)
    run_cli("config", hydra_main, check)


if __name__ == "__main__":
    # `python -m mnist_exp.train`: run the module's importable copy, so a parallel launcher (joblib)
    # sends the task to its workers by name instead of trying to pickle this __main__ module
    from mnist_exp.train import main as importable_main

    importable_main()
