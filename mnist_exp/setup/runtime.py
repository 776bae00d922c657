"""What Hydra decided for this process: its overrides, run mode, the keys a sweep varies, and the
CPU threads a job may use."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_exp.core.targets import OPTUNA_SWEEPER, names, own_data
from mnist_exp.records.provenance import usable_cpus


def hydra_overrides() -> list[str] | None:
    """This run's or job's command-line overrides (None outside Hydra, e.g. tests calling train())."""
    return [str(o) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else None


def group_choices() -> dict[str, str | None]:
    """The option chosen in each config group (`model: lenet`); empty outside Hydra."""
    if not HydraConfig.initialized():
        return {}
    return {str(k): (None if v is None else str(v)) for k, v in HydraConfig.get().runtime.choices.items()}


def local_config() -> dict[str, str] | None:
    """The local config this run composed (conf/local/<choice>.yaml in the first config folder that
    has one, as Hydra looks): its path, SHA-256 and text for provenance.json (it is untracked, so the
    record keeps it); None when there is none or outside Hydra."""
    choice = group_choices().get("local")
    if not choice:
        return None
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema != "file":
            continue
        path = Path(str(source.path)) / "local" / f"{choice}.yaml"
        if path.is_file():
            data = path.read_bytes()
            text = data.decode(errors="replace")
            return {"file": str(path.resolve()), "sha256": hashlib.sha256(data).hexdigest(), "text": text}
    return None


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def swept_keys(config: DictConfig) -> list[str]:
    """Keys a multirun varies: sweep overrides on the command line and `hydra.sweeper.params`."""
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    parsed = OverridesParser.create().parse_overrides([str(o) for o in task])
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    keys += [str(k) for k in params if str(k) not in keys]
    if names(OmegaConf.select(config, "hydra.sweeper._target_"), OPTUNA_SWEEPER):
        keys.insert(0, "optuna_trial")  # trial numbers first: sampled values can repeat
    return keys


def in_cluster_job() -> bool:
    """Whether this process is a job a submitit launcher started (a SLURM task or a local process):
    there the launcher owns the time-limit signal and the job's end. Decided here once."""
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def requeue_signal() -> signal.Signals | None:
    """The signal submitit's SLURM jobs get before their time limit, as submitit itself names it
    (`JobEnvironment.USR_SIG`: USR2 unless SUBMITIT_PREEMPT_SIGNAL says otherwise); None outside a
    submitit job."""
    if not in_cluster_job():
        return None
    import submitit  # the `slurm` extra, there in every submitit job

    return getattr(signal, "SIG" + str(submitit.JobEnvironment.USR_SIG).upper(), None)


def torch_threads(cfg: DictConfig) -> int | None:
    """Threads for this run: `torch_threads` if set; in a SLURM task, the CPUs it was given; in a
    parallel sweep (joblib launcher), the cores shared out among the jobs running at once, so N jobs
    x threads never exceeds the cores."""
    if cfg.get("torch_threads"):
        return int(cfg.torch_threads)
    if os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit():  # a SLURM task: the CPUs it was given
        return int(os.environ["SLURM_CPUS_PER_TASK"])
    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().get("launcher") or {}
    if "joblib" not in str(launcher.get("_target_", "")):
        return None
    cores = usable_cpus()
    n_jobs = int(launcher.get("n_jobs") or -1)
    if n_jobs < 0:
        n_jobs = max(1, cores + 1 + n_jobs)
    return max(1, cores // n_jobs)


def steps_per_call(cfg: DictConfig) -> tuple[int, str | None]:
    """The mini-batches one Lightning step trains in this run (`data.steps_per_call`), and why it
    is 1 when more were asked: settings that Lightning counts per batch, or implements in its own
    automatic loop, keep their exact meaning only with one mini-batch per step."""
    asked = int(cfg.data.get("steps_per_call") or 1)
    if asked == 1:
        return 1, None
    t = cfg.trainer
    interval = t.get("val_check_interval")
    checkpoint = OmegaConf.select(cfg, "callbacks.model_checkpoint") or {}
    reasons = {
        "a data module of your own": not own_data(cfg.data),
        "data.loader=torchvision": own_data(cfg.data) and cfg.data.get("loader") != "tensor",
        "gradient clipping": bool(t.get("gradient_clip_val")),
        "gradient accumulation": int(t.get("accumulate_grad_batches") or 1) > 1,
        "fast_dev_run": bool(t.get("fast_dev_run")),
        "overfit_batches": bool(t.get("overfit_batches")),
        # an int counts batches (1: every batch); a float is a fraction of the epoch
        "val_check_interval within an epoch": interval is not None
        and (isinstance(interval, int) or float(interval) != 1.0),
        "checkpoints every_n_train_steps": bool(checkpoint.get("every_n_train_steps")),
    }
    why = [name for name, applies in reasons.items() if applies]
    return (1, ", ".join(why)) if why else (asked, None)
