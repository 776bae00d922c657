"""Which code a run may call: exactly the targets its composed config names. Hydra 1.4 asks every
`instantiate()` (and the logging it configures) for an execution whitelist and warns on each call
without one (an error from Hydra 1.5). In mnist-exp code is named only by the user (the command line,
their config folders, the package's configs), all of which the composed config holds, so those
targets are the whitelist; anything else (a checkpoint or run folder is data) is refused by Hydra as
well as by mnist-exp's own checks. Hydra 1.3 has no whitelist: nothing changes there."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

try:  # Hydra >= 1.4
    from hydra.utils import execution_whitelist
except ImportError:  # Hydra 1.3
    execution_whitelist = None

F = TypeVar("F", bound=Callable[..., Any])
# the keys that name code: instantiate's, and Python logging's (hydra.job_logging, hydra_logging)
NAMING = ("_target_", "class", "()")


def targets(node: Any) -> set[str]:
    """Every dotted name a config names as code (read without resolving it)."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in NAMING and isinstance(value, str):
                found.add(value)
            else:
                found |= targets(value)
    elif isinstance(node, list):
        for value in node:
            found |= targets(value)
    return found


def trusting(names: set[str]) -> AbstractContextManager[Any]:
    """Calls inside may instantiate these targets (and only these, on Hydra 1.4)."""
    if execution_whitelist is None or not names:
        return nullcontext()
    return execution_whitelist(sorted(names))


def _job_targets(cfg: DictConfig) -> Iterator[set[str]]:
    yield targets(cfg)
    if HydraConfig.initialized():
        yield targets(HydraConfig.get())


def trusted(task: F) -> F:
    """A Hydra task function that may instantiate what its job's config names (in every process
    of a sweep: a joblib worker or a SLURM job has no whitelist of the command's)."""

    @functools.wraps(task)
    def wrapper(cfg: DictConfig) -> Any:
        with trusting(set().union(*_job_targets(cfg))):
            return task(cfg)

    return wrapper  # type: ignore[return-value]
