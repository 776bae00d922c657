"""`mnist-exp-train`: a thin `@hydra.main` over `mnist_exp.pipelines.run.train.train`.

The training stack (torch, Lightning) is imported inside the task function, once the command line
has been checked: `--help`, `--cfg`, shell completion and refusals never load it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist_exp.cli.common import guarded, run_hydra
from mnist_exp.core.ckpt_file import checkpoint_file
from mnist_exp.core.errors import UserError
from mnist_exp.core.rank_zero import other_rank_process
from mnist_exp.core.targets import own_data
from mnist_exp.pipelines.report.rerun_verdict import verify
from mnist_exp.setup.checks import check_accelerator, check_own_data, data_needs_download
from mnist_exp.setup.config import CONF_DIR, VERSION_BASE
from mnist_exp.setup.execution import trusted
from mnist_exp.setup.guards import dry_run_argv, resume_argv, sweep_rerun_argv, used_folder_error
from mnist_exp.setup.rerun_command import verify_argv
from mnist_exp.setup.runtime import in_multirun
from mnist_exp.setup.validate import model_config, validate

PROG = "mnist-exp-train"
USAGE = """\
usage: mnist-exp-train [group=option ...] [key=value ...] [-m]

Train a classifier on MNIST, then test it; every run gets its own folder under outputs/train/.
  mnist-exp-train                                   LeNet-5, 10 epochs (downloads MNIST once)
  mnist-exp-train experiment=seed_mlp               the seed's MLP experiment (30 epochs)
  mnist-exp-train model=mlp optimizer.lr=0.1 debug=limit
  mnist-exp-train -m data.batch_size=64,128 optimizer.lr=0.01,0.1     a sweep
  mnist-exp-train resume=outputs/train/runs/<run>   continue a stopped run
  mnist-exp-train verify=outputs/train/runs/<run>   run it again: does it reproduce? (verify.epochs=2)"""
MODEL_OPTION = {"LeNet5": "lenet", "MLP": "mlp"}


def check(cfg: DictConfig) -> None:
    """Everything that can be checked before a run folder exists: values, the folder Hydra will
    write into, the device, data files, checkpoint."""
    validate(cfg)
    if cfg.paths.output_dir and not cfg.get("resume") and not other_rank_process():
        error = used_folder_error(Path(cfg.paths.output_dir))  # a DDP rank re-enters its own folder
        if error:
            raise error
    if cfg.get("ckpt_path"):
        checkpoint_file(cfg.ckpt_path)  # a wrong path refused before torch is imported
    if data_needs_download(cfg.data):
        instantiate(cfg.data).prepare_data()  # imports torch: only when MNIST must be fetched
    if cfg.get("ckpt_path"):
        _check_checkpoint_model(cfg)
    check_job(cfg)


def check_job(cfg: DictConfig) -> None:
    """What each job of a sweep must pass besides the value rules: its device is there
    (`-m trainer.accelerator=cpu,gpu` on a machine without a GPU is refused before any job runs),
    and a model of the user's fits."""
    check_accelerator(cfg.trainer)
    if not own_data(cfg.data):
        check_own_data(cfg.data, OmegaConf.select(cfg, "module.num_classes", default=None))
    target = OmegaConf.select(cfg, "model._target_")
    if isinstance(target, str) and not target.startswith("mnist_exp."):
        _check_own_model(cfg)


def _check_checkpoint_model(cfg: DictConfig) -> None:
    """A checkpoint continues only the model it holds (compared as the checkpoint records it)."""
    from mnist_exp.core.checkpoint import saved_net_config  # torch: only with a checkpoint

    saved, wanted = saved_net_config(cfg.ckpt_path), model_config(cfg)
    if saved != wanted:
        name = str(saved.get("_target_", "?")).rsplit(".", 1)[-1]
        raise UserError(
            f"Checkpoint {cfg.ckpt_path} holds a {name} model {saved}, but the config asks for "
            f"{wanted}. Fix: choose the checkpoint's model (e.g. model={MODEL_OPTION.get(name, '...')})"
            " or another checkpoint."
        )


def _check_own_model(cfg: DictConfig) -> None:
    """A model of the user's: built once and tried on two images of the configured size, so a
    wrong data.pad or a class that cannot be imported is refused before a run folder exists
    (mnist-exp's own models are checked without torch, core/spec)."""
    from mnist_exp.core.netbuild import build_net, input_error  # torch: the model is the user's

    classes = int(OmegaConf.select(cfg, "module.num_classes", default=10))
    net = build_net(model_config(cfg))
    pad = OmegaConf.select(cfg, "data.pad", default=None)
    if not isinstance(pad, int):
        return  # a data module of the user's: the size of its images is its own
    error = input_error(net, pad, classes)
    if error:
        raise UserError(error)


@hydra.main(**VERSION_BASE, config_path=CONF_DIR, config_name="config")
@guarded
@trusted
def hydra_main(cfg: DictConfig) -> float | None:
    from mnist_exp.pipelines.run.train import train
    from mnist_exp.pipelines.sweep.jobs import run_sweep_job

    if in_multirun():
        return run_sweep_job(cfg, train)
    return train(cfg).get("optimized_metric")


@guarded
def main() -> None:
    """`mnist-exp-train`: bad input is refused before Hydra makes a run folder."""
    argv, planned = dry_run_argv(sys.argv[1:])
    argv, verification = verify_argv(argv)
    sys.argv = [sys.argv[0], *resume_argv(argv)]
    sys.argv = [sys.argv[0], *sweep_rerun_argv(sys.argv[1:])]
    if verification is None or planned:
        run_hydra(PROG, "config", hydra_main, check, USAGE, check_job, planned)
        return
    try:
        run_hydra(PROG, "config", hydra_main, check, USAGE, check_job)
        code = 0
    except SystemExit as stop:  # a failed job of a re-run sweep: the other jobs still compare
        if not verification.rerun.is_dir():
            raise
        code = stop.code
    sys.exit(0 if verify(verification) and not code else 1)


if __name__ == "__main__":
    # `python -m mnist_exp.cli.train`: run the module's importable copy, so a parallel launcher
    # (joblib) sends the task to its workers by name instead of pickling this __main__ module
    from mnist_exp.cli.train import main as importable_main

    importable_main()
