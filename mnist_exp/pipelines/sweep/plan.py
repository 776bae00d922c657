"""A sweep's dry run (`dry_run=true`): the jobs the sweep would launch, each with its overrides, its
run folder, the resources its launcher would ask for, and what a re-run of that folder would do
with it (skip a finished job, resume a stopped one), printed without training or submitting
anything and without making a folder. Torch-free: it composes configs and reads status files.

The jobs are those Hydra's basic sweeper makes: the product of the sweep's values
(`hydra.sweeper.params` first, then the command line), composed one by one as each job would be."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import SWEPT_ENV, job_name, same_overrides
from mnist_exp.core.targets import OPTUNA_SWEEPER, names
from mnist_exp.records.status import FINAL, last_checkpoint, read_status
from mnist_exp.setup.config import compose

# what a launcher asks for, per job: the submitit launchers' keys worth seeing (null ones left out)
RESOURCES = (
    "partition", "nodes", "tasks_per_node", "cpus_per_task", "gpus_per_node", "gres", "mem_gb",
    "timeout_min", "qos", "account", "constraint", "array_parallelism",
)  # fmt: skip


def job_overrides(params: dict[str, Any], overrides: Sequence[str], sampled: bool = False) -> list[list[str]]:
    """Each job's overrides, as Hydra's basic sweeper makes them (one list per key, in order).
    `sampled`: a space a sampler draws from (Optuna's interval(...)) is left out instead of refused."""
    parsed = OverridesParser.create().parse_overrides([*(f"{k}={v}" for k, v in params.items()), *overrides])
    lists: dict[str, list[str]] = {}
    for override in parsed:
        key = override.get_key_element()
        if not override.is_sweep_override():
            lists[key] = [f"{key}={override.get_value_element_as_str()}"]
        elif override.is_discrete_sweep():
            lists[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        elif not sampled:
            raise UserError(
                f"{override.input_line}: the basic sweeper takes lists and ranges only. Fix: a,b,c."
            )
    return [list(job) for job in itertools.product(*lists.values())]


def resources(launcher: DictConfig) -> str:
    """What the job's launcher asks for, in the launcher's own words."""
    target = str(launcher.get("_target_", ""))
    if "joblib" in target.lower():
        return f"joblib: n_jobs={launcher.get('n_jobs')} at a time on this machine"
    if "submitit" in target.lower() or "mnist_exp_launchers" in target:
        kind = "local processes" if "Local" in target else "SLURM"
        asked = {k: launcher.get(k) for k in RESOURCES if launcher.get(k) is not None}
        if kind == "SLURM" and "partition" not in asked:
            asked = {"partition": "(the cluster's default)", **asked}
        return f"{kind}: " + " ".join(f"{k}={v}" for k, v in asked.items())
    return "this process, one job after another"


def job_state(folder: Path, overrides: list[str]) -> str:
    """What running this sweep into its folder would do with the job, decided as the sweep's jobs
    decide it (pipelines/sweep/jobs._earlier_outcome): skip a finished one, resume a stopped one
    from its last checkpoint, refuse a folder that holds another job's checkpoint, else run."""
    status = read_status(folder)
    same = same_overrides(status.get("overrides"), overrides)
    if status.get("status") in FINAL and same:
        return f"skip ({status['status']})"
    if status and last_checkpoint(folder).is_file():
        if status.get("overrides") is not None and not same:
            return "refused: the folder holds a job with other overrides"
        return f"resume after epoch {status.get('epoch', '?')} ({status.get('status')})"
    return "run"


def dry_run(config_name: str, overrides: list[str], config_dir: str | None, prog: str, sweep: bool) -> None:
    """Print the sweep's plan (or the one run's folder); nothing is run, submitted or written."""
    first = compose(
        config_name, job_overrides({}, overrides, sampled=True)[0], hydra=True, config_dir=config_dir
    )
    params = dict(OmegaConf.select(first, "hydra.sweeper.params") or {})
    if not sweep:
        folder = Path(str(first.hydra.run.dir))
        print(f"Dry run of {prog}: one run, in {folder} (named when it starts); nothing is run.")
        return
    sweep_dir = Path(str(first.hydra.sweep.dir))
    if names(OmegaConf.select(first, "hydra.sweeper._target_"), OPTUNA_SWEEPER):
        _optuna_plan(first, params, sweep_dir)
        return
    own = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    hydra_own = [o for o in overrides if o not in own]  # Hydra keeps these out of a job's overrides
    jobs = job_overrides(params, own)
    parsed = OverridesParser.create().parse_overrides(own)
    swept = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    swept += [str(k) for k in params if str(k) not in swept]
    os.environ[SWEPT_ENV] = ",".join(swept)  # how job folders are named, as SweepCallback sets it
    rows = []
    for num, job in enumerate(jobs):
        cfg = compose(config_name, [*hydra_own, *job], hydra=True, config_dir=config_dir)
        folder = sweep_dir / job_name(job, num)
        rows.append((folder.name, job_state(folder, job), resources(cfg.hydra.launcher), job))
    _print_plan(prog, sweep_dir, rows)


def _print_plan(prog: str, sweep_dir: Path, rows: list[tuple[str, str, str, list[str]]]) -> None:
    new = "" if sweep_dir.exists() else " (new: its name takes the time the sweep starts)"
    print(f"Dry run of {prog}: {len(rows)} jobs; nothing is run or submitted.")
    print(f"Sweep folder: {sweep_dir}{new}")
    shared = {r[2] for r in rows}
    if len(shared) == 1:
        print(f"Each job: {rows[0][2]}")
    width = max(len(r[0]) for r in rows)
    for num, (name, state, asked, job) in enumerate(rows):
        extra = f"  {asked}" if len(shared) > 1 else ""
        print(f"  {num:>3}  {name:<{width}}  {state}{extra}")
        print(f"       {' '.join(job)}")
    counts = {}
    for _, state, _, _ in rows:
        word = state.split(" ")[0].rstrip(":")
        counts[word] = counts.get(word, 0) + 1
    print("Totals: " + ", ".join(f"{n} {w}" for w, n in counts.items()) + ".")


def _optuna_plan(cfg: DictConfig, params: dict[str, Any], sweep_dir: Path) -> None:
    sweeper = cfg.hydra.sweeper
    print(f"Dry run: Optuna samples {sweeper.get('n_trials')} trials; nothing is run or submitted.")
    print(f"Sweep folder: {sweep_dir}; study {sweep_dir / 'optuna.db'}")
    for key, space in params.items():
        print(f"  {key}: {space}")
    print(
        f"Each job: {resources(cfg.hydra.launcher)}. Which values a trial gets is decided as the study runs."
    )
