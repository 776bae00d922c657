"""What Hydra decided for this process: its overrides, run mode, the keys a sweep varies, and the
CPU threads a job may use."""

from __future__ import annotations

import os

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf


def hydra_overrides() -> list[str] | None:
    """This run's or job's command-line overrides (None outside Hydra, e.g. tests calling train())."""
    return [str(o) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else None


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def swept_keys(config: DictConfig) -> list[str]:
    """Keys a multirun varies: sweep overrides on the command line and `hydra.sweeper.params`."""
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    parsed = OverridesParser.create().parse_overrides([str(o) for o in task])
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    keys += [str(k) for k in params if str(k) not in keys]
    if str(OmegaConf.select(config, "hydra.sweeper._target_")).endswith("OptunaSweeper"):
        keys.insert(0, "optuna_trial")  # trial numbers first: sampled values can repeat
    return keys


def torch_threads(cfg: DictConfig) -> int | None:
    """Threads for this run: `torch_threads` if set; in a parallel sweep (joblib launcher), the
    cores shared out among the jobs running at once, so N jobs x threads never exceeds the cores."""
    if cfg.get("torch_threads"):
        return int(cfg.torch_threads)
    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().get("launcher") or {}
    if "joblib" not in str(launcher.get("_target_", "")):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n_jobs = int(launcher.get("n_jobs") or -1)
    if n_jobs < 0:
        n_jobs = max(1, cores + 1 + n_jobs)
    return max(1, cores // n_jobs)
