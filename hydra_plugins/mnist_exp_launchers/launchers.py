"""The Hydra-facing shell of mnist-exp's submitit launchers. Hydra accepts launchers only from the
`hydra_plugins` package and imports every module there whenever it starts, so this one stays light:
submitit and the launch itself are imported when a sweep begins, from `mnist_exp.pipelines.sweep.cluster`
(which needs the `slurm` extra; without it the command line is refused first, in setup/preflight)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig, OmegaConf


class SlurmLauncher(Launcher):
    executor = "slurm"

    def __init__(self, **params: Any) -> None:
        self.params = {
            k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in params.items()
        }
        self.sweep: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        from mnist_exp.pipelines.sweep.cluster import ClusterSweep  # submitit: only for a sweep

        self.sweep = ClusterSweep(self.executor, self.params)
        self.sweep.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        return self.sweep.launch(job_overrides, initial_job_idx)


class LocalLauncher(SlurmLauncher):
    """The same code path with local processes instead of a cluster."""

    executor = "local"
