"""The training side of an Optuna search: a job that is a trial reports its per-epoch `val/acc`
to the study in `<sweep dir>/optuna.db`, and stops when the study's pruner says so."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from mnist_exp.core.errors import Pruned
from mnist_exp.core.rank_zero import is_rank_zero

DB_FILE = "optuna.db"


def storage(sweep_dir: Path) -> optuna.storages.RDBStorage:
    """The study's SQLite file; parallel jobs wait for each other's writes instead of failing."""
    url = f"sqlite:///{(sweep_dir / DB_FILE).resolve()}"
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})


class TrialReporter(pl.Callback):
    """After each epoch: report val/acc as the trial's intermediate value, then prune if the
    study's pruner says so. Called through the module's `on_epoch_metrics` (like the history), so
    the pruned epoch is recorded in metrics.csv and TensorBoard before the run stops.

    The trial was asked for by the sweeper, in another process: it is reached through the study's
    storage and pruner (public API), not by constructing a `Trial`, which Optuna reserves to itself."""

    def __init__(self, sweeper: DictConfig, sweep_dir: Path, number: int, monitor: str = "val/acc") -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage = storage(sweep_dir)
        self.study = optuna.load_study(
            study_name=sweeper.study_name, storage=self.storage, pruner=instantiate(sweeper.pruner)
        )
        study_id = self.storage.get_study_id_from_name(sweeper.study_name)
        self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        self.monitor = monitor

    def on_epoch_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Rank 0 reports (once per epoch, not once per rank) and asks the pruner; every rank
        stops on its answer together, so none waits forever for the others under DDP."""
        if self.monitor not in trainer.callback_metrics:
            return
        epoch, prune = trainer.current_epoch, False
        if is_rank_zero():
            value = float(trainer.callback_metrics[self.monitor])
            self.storage.set_trial_intermediate_value(self.trial_id, epoch, value)
            prune = self.study.pruner.prune(self.study, self.storage.get_trial(self.trial_id))
        if trainer.strategy.broadcast(prune, src=0):
            raise Pruned(f"pruned after epoch {epoch} ({self.monitor} below the pruner's threshold)")
