"""The Hydra-facing shell of mnist-exp's Optuna sweeper. Hydra accepts sweepers only from the
`hydra_plugins` package and imports every module there whenever it starts, so this one stays
light: the search itself (and Optuna) is imported when a sweep begins, from
`mnist_exp.pipelines.sweep.optuna_sweeper`."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.search: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        from mnist_exp.pipelines.sweep.optuna_sweeper import OptunaSearch  # Optuna: only for a search

        self.search = OptunaSearch(**self.settings)
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.search.sweep(arguments)
