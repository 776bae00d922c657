"""mnist-exp's Optuna search (`hparams_search=optuna`): a Hydra sweep over Optuna's ask/tell
interface, on a current Optuna. The study lives in `<sweep dir>/optuna.db`, so a re-run of the same
sweep folder continues it and `optuna-dashboard <sweep dir>/optuna.db` shows it; each trial is a
job of the configured launcher (basic or joblib) that reports its per-epoch val/acc and may be
pruned by the study's pruner (median by default)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from mnist_exp.core.errors import UserError
from mnist_exp.pipelines.sweep.optuna_trial import DB_FILE, storage
from mnist_exp.records.status import read_status

log = logging.getLogger("mnist_exp.optuna")
INTERRUPTED = "interrupted"  # user attribute of a trial whose process ended before it finished


def distribution(override: Override) -> BaseDistribution | None:
    """A search-space override (choice, range, interval, tag(log, interval)) as an Optuna
    distribution; None for a plain value."""
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution(list(value.list))
    if isinstance(value, RangeSweep):
        return CategoricalDistribution(list(override.sweep_iterator()))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int) and not log_scale:
            return IntDistribution(int(value.start), int(value.end))
        return FloatDistribution(value.start, value.end, log=log_scale)
    return None


class OptunaSearch:
    """Ask a batch of trials, launch them as jobs, tell their results; until n_trials have ended.
    (Hydra calls it through `hydra_plugins.mnist_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper`.)"""

    def __init__(
        self,
        direction: str,
        study_name: str,
        n_trials: int,
        n_jobs: int,
        sampler: Any,
        pruner: Any,
        params: dict[str, str] | None = None,
    ) -> None:
        self.direction, self.study_name = direction, study_name
        self.n_trials, self.n_jobs = int(n_trials), max(1, int(n_jobs))
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        self.params = dict(params or {})
        self.job_idx = 0

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _space(self, arguments: Sequence[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
        """The search space (config params, then command-line sweeps) and the fixed overrides."""
        parser = OverridesParser.create()
        space: dict[str, BaseDistribution] = {}
        fixed = []
        params = [f"{k}={v}" for k, v in self.params.items()]
        for override in parser.parse_overrides([*params, *arguments]):
            dist = distribution(override)
            if dist is None:
                fixed.append(override.input_line or "")
            else:
                space[override.get_key_element()] = dist
        return space, fixed

    def _study(self, sweep_dir: Path) -> optuna.Study:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        db = storage(sweep_dir)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=db,
            sampler=_built(self.sampler_cfg),
            pruner=_built(self.pruner_cfg),
            direction=self.direction,
            load_if_exists=True,
        )
        study_id = db.get_study_id_from_name(self.study_name)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            db.set_trial_user_attr(
                db.get_trial_id_from_study_id_trial_number(study_id, trial.number), INTERRUPTED, True
            )
            study.tell(trial.number, state=TrialState.FAIL)  # its process ended in an earlier run
        return study

    def sweep(self, arguments: list[str]) -> list[Any]:
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        space, fixed = self._space(arguments)
        if not space:
            raise UserError("hparams_search=optuna has no search space. Fix: set hydra.sweeper.params.")
        study = self._study(sweep_dir)
        results = []
        while (left := self.n_trials - _counted(study)) > 0:
            trials = [study.ask(space) for _ in range(min(self.n_jobs, left))]
            batch = [[f"optuna_trial={t.number}", *fixed, *_values(t.params)] for t in trials]
            returns = self.launcher.launch(batch, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            for trial, ret in zip(trials, returns, strict=True):
                results.append(_tell(study, trial, ret))
        _log_best(study, sweep_dir)
        return results


def _built(node: Any) -> Any:
    """Hydra builds the sweeper's nested configs (sampler, pruner) before handing them over."""
    return instantiate(node) if isinstance(node, (DictConfig, dict)) else node


def _values(params: dict[str, Any]) -> list[str]:
    return [
        f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}" for key, value in params.items()
    ]


def _counted(study: optuna.Study) -> int:
    """Trials that count toward n_trials: finished ones, not those cut short by an interruption."""
    return sum(
        1
        for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        )
        if not t.user_attrs.get(INTERRUPTED)
    )


def _tell(study: optuna.Study, trial: optuna.Trial, ret: Any) -> Any:
    """The job's outcome, from its return value and its status.json: complete, pruned or failed."""
    folder = Path(str(ret.hydra_cfg.hydra.runtime.output_dir)) if ret.hydra_cfg else None
    state = read_status(folder).get("status") if folder else None
    value = ret.return_value if ret.status.name == "COMPLETED" else None
    if state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    elif value is not None:
        study.tell(trial, float(value))
    else:
        study.tell(trial, state=TrialState.FAIL)
    return value


def _log_best(study: optuna.Study, sweep_dir: Path) -> None:
    """The best trial in the log and in optimization_results.yaml; how to open the dashboard."""
    if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        best = study.best_trial
        log.info("Best trial %d: value %.4f with %s", best.number, best.value, best.params)
        results = {"name": "optuna", "best_trial": best.number, "best_value": best.value}
        OmegaConf.save({**results, "best_params": best.params}, sweep_dir / "optimization_results.yaml")
    log.info(
        "Study: %s (optuna-dashboard sqlite:///%s)", sweep_dir / DB_FILE, (sweep_dir / DB_FILE).resolve()
    )
