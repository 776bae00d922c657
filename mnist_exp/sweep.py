"""Sweeps that can be trusted: jobs named by what the sweep varies, one failed job never ends the
sweep, a re-run of the same sweep folder skips finished jobs and resumes unfinished ones, and the
launcher's exit code says whether every job succeeded."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_exp.errors import Interrupted, UserError

log = logging.getLogger("mnist_exp.sweep")

SWEPT_ENV = "MNIST_EXP_SWEPT"  # the keys this sweep varies, for naming its job folders
FINAL = ("ok", "diverged")  # a re-run skips these; failed, interrupted and running are run again
# overrides that say where things are, not what is trained: never part of a job's name
NOT_IN_NAME = ("data.root", "paths.", "hydra.", "trainer.limit_", "trainer.enable_", "callbacks.")


def split_override(override: str) -> tuple[str, str] | None:
    """`+data.batch_size=64` -> ("data.batch_size", "64"); None for a deletion without value."""
    if "=" not in override:
        return None
    key, value = override.split("=", 1)
    return key.lstrip("+~"), value


def job_name(overrides: Sequence[str], num: int | str = 0) -> str:
    """A job's folder (and TensorBoard run) name: its swept overrides with short keys,
    e.g. `batch_size=64,lr=0.01`. The job number is the name only when nothing varies."""
    swept = os.environ.get(SWEPT_ENV)  # unset outside a sweep started by mnist-exp-train
    keys = set(filter(None, swept.split(","))) if swept is not None else None
    items = []
    for override in overrides:
        pair = split_override(str(override))
        if pair is None:
            continue
        if keys is not None and pair[0] not in keys:
            continue
        if keys is None and pair[0].startswith(NOT_IN_NAME):
            continue
        items.append(pair)
    short = [key.rsplit(".", 1)[-1] for key, _ in items]
    if len(set(short)) < len(short):  # e.g. model.hidden and other.hidden: keep full keys
        short = [key for key, _ in items]
    name = ",".join(f"{s}={value}" for s, (_, value) in zip(short, items, strict=True))
    name = re.sub(r"[/\\\s:*?\"<>|']", "_", name)
    if not name:
        return str(num)
    if len(name) > 150:  # folder names have limits: keep it readable and unique
        name = f"{name[:120]}_{hashlib.sha1(name.encode()).hexdigest()[:10]}"
    return name


def swept_keys(config: DictConfig) -> list[str]:
    """Keys a multirun varies: sweep overrides on the command line and `hydra.sweeper.params`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    parsed = OverridesParser.create().parse_overrides([str(o) for o in task])
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    keys += [str(k) for k in params if str(k) not in keys]
    return keys


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def job_folders(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep: those Hydra wrote a config into (any depth of one)."""
    return sorted(p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml"))


class SweepCallback(Callback):
    """Hydra callback: names the jobs, and at the end of a sweep writes its report and sets the
    exit code (1 when any job failed, diverged or did not finish)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        keys = swept_keys(config)
        os.environ[SWEPT_ENV] = ",".join(keys)
        log.info("Sweep over %s -> %s", ", ".join(keys) or "(nothing varies)", config.hydra.sweep.dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from mnist_exp.report import collect, write_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = collect(sweep_dir)
        if not any((job["folder"] / "status.json").is_file() for job in jobs):
            return  # not a training sweep (e.g. mnist-exp-eval -m): nothing to report
        try:
            write_report(jobs, sweep_dir, metric=str(config.get("optimized_metric") or "val/acc_best"))
        except Exception as err:  # the report must never hide the sweep's own outcome
            log.warning("Could not write the sweep report: %s", err)
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job["status"]] = counts.get(job["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"Sweep {sweep_dir}: {len(jobs)} jobs: {summary}. Report: {sweep_dir / 'report.md'}")
        bad = [j for j in jobs if j["status"] != "ok"]
        if bad:
            for job in bad:
                print(f"  {job['status']:>10}  {job['name']}  {job.get('error') or ''}".rstrip())
            retry = [j for j in bad if j["status"] in ("failed", "incomplete")]
            hint = (
                f" Re-run the same command with hydra.sweep.dir={sweep_dir} to retry the "
                f"{len(retry)} failed or unfinished (ok and diverged jobs are skipped)."
                if retry
                else ""
            )
            print(f"{len(bad)} of {len(jobs)} jobs did not succeed (exit code 1).{hint}", file=sys.stderr)
            sys.exit(1)


def hydra_overrides() -> list[str] | None:
    """This run's or job's command-line overrides (None outside Hydra, e.g. tests calling train())."""
    from hydra.core.hydra_config import HydraConfig

    return [str(o) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else None


def run_sweep_job(cfg: DictConfig, train_fn: Callable[[DictConfig], dict[str, float]]) -> float | None:
    """One job of a multirun. Skips a job that finished in an earlier run of this sweep, resumes
    one that stopped, and turns a failure into a recorded status and a None result, so the sweep
    goes on (Optuna records None as a failed trial)."""
    from mnist_exp.train import write_status

    out = Path(cfg.paths.output_dir)
    name = out.name
    status = read_status(out)
    overrides = hydra_overrides()
    if status.get("status") in FINAL and status.get("overrides") == overrides:
        log.info("Job %s: %s in an earlier run of this sweep; skipped.", name, status["status"])
        return (status.get("metrics") or {}).get("optimized_metric")
    last = out / "checkpoints" / "last.ckpt"
    if status and last.is_file() and not cfg.get("ckpt_path"):
        if status.get("overrides") not in (None, overrides):
            message = (
                f"{out} holds a job with other overrides ({status.get('overrides')}). "
                "Fix: re-run the sweep with its own overrides, or choose a new hydra.sweep.dir."
            )
            log.error("Job %s: %s", name, message)
            return None
        with open_dict(cfg):
            cfg.ckpt_path = str(last)
        log.info("Job %s: resuming from %s.", name, last)
    try:
        return train_fn(cfg).get("optimized_metric")
    except Interrupted:
        raise Interrupted(
            f"Sweep interrupted in job {name}; its finished epochs are saved. Resume the sweep with "
            f"the same command plus hydra.sweep.dir={out.parent} (finished jobs are skipped)."
        ) from None
    except KeyboardInterrupt:
        raise
    except UserError as err:  # bad values, missing data, divergence: one line, no traceback
        log.error("Job %s failed: %s", name, err)
        error = str(err)
    except Exception as err:
        log.exception("Job %s failed", name)
        error = f"{type(err).__name__}: {err}"
    if read_status(out).get("status") not in ("failed", "diverged"):
        write_status(out, "failed", error=error, overrides=overrides)
    return None


def torch_threads(cfg: DictConfig) -> int | None:
    """Threads for this run: `torch_threads` if set; in a parallel sweep (joblib launcher), the
    cores shared out among the jobs running at once, so N jobs x threads never exceeds the cores."""
    if cfg.get("torch_threads"):
        return int(cfg.torch_threads)
    from hydra.core.hydra_config import HydraConfig

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


def check_sweep_dir(argv: list[str]) -> None:
    """Re-running a sweep into its own folder must keep its settings: refuse other fixed overrides
    before anything is written (the swept values may change: new values are new jobs)."""
    given = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.sweep.dir=")]
    if not given:
        return
    saved = Path(given[-1]) / "multirun.yaml"
    if not saved.is_file():
        return
    from hydra.core.override_parser.overrides_parser import OverridesParser

    def fixed(overrides: list[str]) -> list[str]:
        parsed = OverridesParser.create().parse_overrides(overrides)
        return sorted(o.input_line for o in parsed if not o.is_sweep_override() and o.input_line)

    try:
        before = [str(o) for o in OmegaConf.load(saved).hydra.overrides.task]
    except Exception:
        return
    now = [a for a in argv if not a.startswith(("-", "hydra.", "hydra/"))]
    if fixed(before) != fixed(now):
        raise UserError(
            f"{given[-1]} holds a sweep run with other settings: {' '.join(fixed(before)) or '(none)'} "
            f"(now: {' '.join(fixed(now)) or '(none)'}). Fix: re-run it with its own settings to finish "
            "it, or choose a new hydra.sweep.dir."
        )
