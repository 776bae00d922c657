"""Training: `train(cfg) -> metrics`, a pure function over a composed config that the entry point
and the tests call alike. Fit, then test the chosen checkpoint; status.json says how it ended."""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from lightning_fabric.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ProgressBar

from mnist_exp.core.checkpoint import WEIGHTS_ONLY, checkpoint_epoch
from mnist_exp.core.errors import Interrupted
from mnist_exp.core.rank_zero import is_rank_zero
from mnist_exp.core.targets import LR_MONITOR, names, own_data
from mnist_exp.pipelines.run.ranks import EndProcessGroup, end_process_group
from mnist_exp.pipelines.run.stages import Status, in_ranks, recorded
from mnist_exp.pipelines.run.stopping import CANCEL, SafeStop, StopAfterEpochs, stops_safely
from mnist_exp.records.callbacks import AtomicCheckpointIO, StepProgressBar
from mnist_exp.records.hparams import log_hparams, tracked_params
from mnist_exp.records.lock import run_lock
from mnist_exp.records.machine import record_provenance, warn_emulated_bf16
from mnist_exp.records.provenance import data_record
from mnist_exp.records.status import read_status, write_status
from mnist_exp.records.trackers import Tracker
from mnist_exp.setup.checks import missing_package
from mnist_exp.setup.execution import targets, trusting
from mnist_exp.setup.runtime import (
    group_choices,
    hydra_overrides,
    in_multirun,
    local_config,
    steps_per_call,
    torch_threads,
)
from mnist_exp.setup.validate import validate

log = logging.getLogger("mnist_exp.train")


def build_callbacks(cfg: DictConfig, has_logger: bool) -> list[pl.Callback]:
    callbacks = []
    for name, conf in (cfg.get("callbacks") or {}).items():
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            continue
        if not has_logger and names(conf._target_, *LR_MONITOR):
            log.info("No logger configured: callback '%s' (learning-rate monitor) left out.", name)
            continue
        callbacks.append(instantiate(conf))
    return callbacks


def build_loggers(cfg: DictConfig) -> list[Any]:
    """The chosen loggers; with `logger=many`, those whose package is installed."""
    loggers = []
    for name, conf in (cfg.get("logger") or {}).items():
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            continue
        if missing_package(conf):  # refused at start (setup/checks.check_loggers) unless logger=many
            log.info("logger=many: %s left out (pip install 'mnist-exp[%s]' adds it).", name, name)
            continue
        loggers.append(instantiate(conf))
    return loggers


def build_trainer(
    cfg: DictConfig, loggers: list[Any], extra: list[pl.Callback], k: int = 1, stop: SafeStop | None = None
) -> pl.Trainer:
    """The Trainer; with k mini-batches per Lightning step the loader applies limit_train_batches
    (in mini-batches) and per-step logging is every log_every_n_steps mini-batches, in whole calls.
    `stop` is the run's SafeStop, holding the signals since its set-up began."""
    callbacks = [
        *build_callbacks(cfg, has_logger=bool(loggers)),
        *extra,
        stop or SafeStop(),
        EndProcessGroup(),
    ]
    if cfg.get("stop_after_epochs"):
        callbacks.append(StopAfterEpochs(int(cfg.stop_after_epochs)))
    bar = show_progress_bar(cfg)
    if not bar:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    elif not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(StepProgressBar())  # Lightning's default bar, counting mini-batches
    per_call = {}
    if k > 1:
        every = int(cfg.trainer.get("log_every_n_steps") or 50)
        per_call = {"limit_train_batches": None, "log_every_n_steps": max(1, round(every / k))}
    plugins: list[Any] = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():  # ranks from SLURM; signals and requeue are mnist-exp's (stopping.py)
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        plugins=plugins,
        enable_progress_bar=bar,
        **per_call,
    )


def show_progress_bar(cfg: DictConfig) -> bool:
    """trainer.enable_progress_bar: true or false as set; unset (null), only on a terminal, so a
    job's log or `mnist-exp-train > log.txt` gets the per-epoch lines instead of bar redraws."""
    asked = cfg.trainer.get("enable_progress_bar")
    return sys.stdout.isatty() if asked is None else bool(asked)


def build_datamodule(cfg: DictConfig) -> tuple[pl.LightningDataModule, int]:
    """The data module, built with the mini-batches a Lightning step trains in this run: the one
    decision (setup.runtime.steps_per_call) passed once, to its constructor. With K > 1 its loader
    applies trainer.limit_train_batches itself, in mini-batches."""
    if not own_data(cfg.data):  # a user's DataModule, built from their config as it is
        return instantiate(cfg.data), 1
    k, why = steps_per_call(cfg)
    if why:
        log.info("data.steps_per_call=%s: 1 mini-batch per step with %s.", cfg.data.steps_per_call, why)
    limit = cfg.trainer.get("limit_train_batches") if k > 1 else None
    return instantiate(cfg.data, steps_per_call=k, limit_train_batches=limit), k


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit, then test the best checkpoint; return every logged metric as a float.

    `extra_callbacks` lets benchmarks and tests observe a real run without changing its config.
    """
    validate(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not is_rank_zero():
        return _train(cfg, output_dir, extra_callbacks)  # DDP ranks > 0: rank 0 holds the folder
    with run_lock(output_dir):
        return _train(cfg, output_dir, extra_callbacks)


def _train(cfg: DictConfig, output_dir: Path, extra_callbacks: list[pl.Callback] | None) -> dict[str, float]:
    """Every stage holds the signals (set-up, fit, test, records): a signal ends the run at the
    next safe point, recorded with its stage. What the config names may be built (train() called
    in-process has no command line's whitelist: setup/execution)."""
    stop = SafeStop()
    with stops_safely(stop), trusting(targets(cfg)):
        return _stages(cfg, output_dir, extra_callbacks, stop)


def _stages(
    cfg: DictConfig, output_dir: Path, extra: list[pl.Callback] | None, stop: SafeStop
) -> dict[str, float]:
    started = time.time()
    _prepare_process(cfg)
    datamodule, k = build_datamodule(cfg)
    datamodule.prepare_data()  # a missing or damaged file fails here, before any training setup
    model: pl.LightningModule = instantiate(cfg.module)
    params = sum(p.numel() for p in model.parameters())
    log.info("%s, %s parameters; run folder %s", type(model.net).__name__, f"{params:,}", output_dir)
    loggers = build_loggers(cfg)
    status = _status_writer(cfg, output_dir, started, loggers)
    trainer = build_trainer(cfg, loggers, list(extra or []), k, stop)
    if is_rank_zero():
        warn_emulated_bf16(trainer)
        _log_params(cfg, loggers)
        data = data_record(cfg.data)
        record_provenance(output_dir, trainer, data, Path(cfg.paths.log_dir), loggers, local_config())
    metrics: dict[str, float] = {}
    with recorded(status, trainer, "setup", output_dir):
        stop.between(trainer, "in the set-up, before any training")
    if cfg.get("train", True):
        _fit(trainer, model, datamodule, cfg.get("ckpt_path"), status, output_dir)
        metrics.update(_floats(trainer.callback_metrics))
    if cfg.get("test", True):
        with recorded(status, trainer, "test", output_dir):
            stop.between(trainer, f"before the test (the fit is complete: {trainer.current_epoch} epochs)")
            status("running", epoch=trainer.current_epoch, stage="test")
            metrics.update(in_ranks(lambda: _test(trainer, model, datamodule, cfg.get("test_ckpt", "best"))))
    if trainer.fast_dev_run:  # one batch of each stage: a smoke test, its numbers are no result
        status("ok", epoch=trainer.current_epoch, fast_dev_run=True)
        print("fast_dev_run: every stage ran on one batch; no results are reported.")
        return {}
    name = cfg.get("optimized_metric")
    if name and name in metrics:
        metrics["optimized_metric"] = metrics[name]
    status("ok", epoch=trainer.current_epoch, metrics=metrics)
    _summary(metrics)
    end_process_group()  # ranks that outlived their stages (ddp, SLURM) end together too
    if stop.asked == CANCEL:  # it came while the last records were written: they were finished
        raise Interrupted(f"Stopped by {stop.signame()} as the run ended: it is complete (ok).")
    return metrics


def _log_params(cfg: DictConfig, loggers: list[Any]) -> None:
    """Trackers (MLflow, W&B) get the experiment once per key, the resolved config and the overrides;
    Lightning's own loggers the resolved config (the CSV logger's hparams.yaml), TensorBoard its
    HParams tab."""
    overrides = hydra_overrides()
    trackers = [lg for lg in loggers if isinstance(lg, Tracker)]
    if trackers:  # composed once for all of them
        params = tracked_params(cfg, group_choices())
        config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    for lg in trackers:
        lg.record_config(params, config_yaml, list(overrides or []))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for lg in loggers:
        if lg not in trackers:
            lg.log_hyperparams(resolved)
    log_hparams(loggers, cfg, overrides)


def quiet_lightning() -> None:
    """Lightning's start-up chatter (accelerator lines, tips, `limit_*` notes) is information
    about Lightning, not about the run: keep its warnings, drop its info lines. torch's pytree
    deprecation, which Lightning triggers on every fit and test, is not the user's to fix."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")
    # a quick run (debug=limit, a few batches) logs less often than every 50 steps: not a problem
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval")
    # a mid-epoch checkpoint holds the weights after the step it counts: what a resume continues from
    warnings.filterwarnings("ignore", message=r".*manual optimization and every_n_train_steps")
    # a resumed run continues in its own folder on purpose (start-up refuses anyone else's)
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    # a machine with SLURM installed: a run outside SLURM is meant to be (hydra/launcher=slurm uses srun)
    warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system")


def _prepare_process(cfg: DictConfig) -> None:
    """Threads, determinism and seeds: process-wide settings a run needs before anything is built."""
    quiet_lightning()
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


def _status_writer(cfg: DictConfig, output_dir: Path, started: float, loggers: list[Any]) -> Status:
    """status.json of this run (rank 0 only); wall time adds up over resumes, and so do the times a
    cluster requeued it. A tracker that mirrors the run (MLflow) gets the same word, and its
    pictures once the run has ended."""
    previous = read_status(output_dir) if cfg.get("ckpt_path") else {}
    info = {"overrides": hydra_overrides(), "started": started}
    requeues = int(previous.get("requeues") or 0) + (previous.get("status") == "requeued")
    if requeues:
        info["requeues"] = requeues

    def status(state: str, pictures: bool = True, **more: Any) -> None:
        if not is_rank_zero():
            return
        wall = float(previous.get("wall_s") or 0.0) + time.time() - started
        write_status(output_dir, state, wall_s=round(wall, 2), **info, **more)
        for logger in loggers:
            if isinstance(logger, Tracker):
                logger.record_status(state)
                if state != "running" and pictures:
                    logger.log_pictures()
                if state != "running":  # ended: written now, and closed (the next job of a
                    logger.persist()  # sweep in this process opens its own; SLURM stops a requeued one)

    return status


def _fit(
    trainer: pl.Trainer, model: Any, datamodule: Any, ckpt_path: str | None, status: Status, run_dir: Path
) -> None:
    """trainer.fit, with how it ended written to status.json."""
    status("running", stage="fit")
    with recorded(status, trainer, "fit", run_dir):
        in_ranks(
            lambda: trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=WEIGHTS_ONLY)
        )


def _test(trainer: pl.Trainer, model: Any, datamodule: Any, which: str) -> dict[str, float]:
    """Test `best` (by val/acc) or `last`; with data.val_size=0 the best would be chosen on the
    test set, so the seed experiments test the last epoch instead."""
    callback = trainer.checkpoint_callback
    ckpt = (callback.best_model_path if which == "best" else callback.last_model_path) if callback else None
    if not ckpt:
        log.warning("No checkpoint to test: testing the weights in memory.")
    # Lightning's table of test metrics, once per job, would bury a sweep's own lines; the
    # metrics are logged and summed up either way
    table, path = not in_multirun(), ckpt or None
    trainer.test(model, datamodule=datamodule, ckpt_path=path, weights_only=WEIGHTS_ONLY, verbose=table)
    metrics = _floats(trainer.callback_metrics)
    if ckpt:
        metrics["test/ckpt_epoch"] = float(checkpoint_epoch(ckpt))
    return metrics


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def _summary(metrics: dict[str, float]) -> None:
    if not is_rank_zero():
        return
    shown = {k: v for k, v in metrics.items() if "/" in k}
    for key in sorted(shown):
        log.info("%-14s %.4f", key, shown[key])
    if "test/acc" in metrics:
        print(f"test/acc: {100 * metrics['test/acc']:.2f}%")


def _ddp_in_multirun(cfg: DictConfig) -> None:
    """Lightning's `ddp` starts the other ranks by re-running the command line, which inside a
    multirun would start the whole sweep again: there the ranks are spawned instead (`ddp_spawn`).
    Under SLURM or torchrun the ranks already exist and nothing changes."""
    external = any(k in os.environ for k in ("SLURM_NTASKS", "TORCHELASTIC_RUN_ID", "LOCAL_RANK"))
    if cfg.trainer.get("strategy") == "ddp" and in_multirun() and not external:
        with open_dict(cfg):
            cfg.trainer.strategy = "ddp_spawn"
        log.info("DDP inside a multirun: ranks are spawned (strategy ddp_spawn).")
