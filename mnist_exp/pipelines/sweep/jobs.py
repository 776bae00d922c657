"""Sweeps that can be trusted: jobs named by what the sweep varies, one failed job never ends the
sweep, a re-run of the same sweep folder skips finished jobs and resumes unfinished ones, and the
launcher's exit code says whether every job succeeded."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_exp.core.errors import Interrupted, Pruned, Requeued, UserError
from mnist_exp.core.overrides import SWEEP_ENV, SWEPT_ENV, same_overrides, shell_override
from mnist_exp.core.targets import MLFLOW_RUN, names
from mnist_exp.pipelines.report.sweep_report import collect, print_configurations, read_job, write_report
from mnist_exp.records.status import FINAL, last_checkpoint, read_status, write_status
from mnist_exp.setup.runtime import hydra_overrides, in_cluster_job, swept_keys

log = logging.getLogger("mnist_exp.sweep")

# a sweep's outcomes (exit code 0; a diverged lr is a finding), which a re-run skips; failed,
# interrupted and unfinished jobs are run again (exit code 1)
# jobs a launcher saw end without their run recording it, per sweep folder: name -> why. The launcher
# and Hydra's end-of-sweep callback share nothing else; the callback takes the sweep's entry away.
LOST: dict[Path, dict[str, str]] = {}


def finished_earlier(out: Path, overrides: list[str] | None) -> dict[str, Any] | None:
    """The status.json of a job that finished in an earlier run of this sweep with these overrides
    (a re-run skips it), else None."""
    status = read_status(out)
    done = status.get("status") in FINAL and same_overrides(status.get("overrides"), overrides)
    return status if done else None


def job_result(status: dict[str, Any]) -> float | None:
    """What a job returns to the sweeper: its optimized metric (None when it has none)."""
    return (status.get("metrics") or {}).get("optimized_metric")


def lost_job(folder: Path, why: str) -> None:
    """Told by a launcher (pipelines/sweep/cluster.py): this job ended without a record of its own."""
    LOST.setdefault(folder.parent.resolve(), {})[folder.name] = why


class SweepCallback(Callback):
    """Hydra callback: names the jobs, and at the end of a sweep writes its report and sets the
    exit code (0 when every job is ok, diverged or pruned; 1 when any failed or did not finish)."""

    def __init__(self) -> None:
        self.before: dict[str, str | None] = {}  # the sweep's environment variables as they were

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        keys = swept_keys(config)
        self.before = {name: os.environ.get(name) for name in SWEEP_ENV}  # put back when it ends
        os.environ[SWEPT_ENV] = ",".join(keys)
        log.info("Sweep over %s -> %s", ", ".join(keys) or "(nothing varies)", config.hydra.sweep.dir)
        tracked = _mlflow_logger(config)
        if tracked is not None:  # mlflow is an optional extra: imported only for a sweep that logs to it
            from mnist_exp.pipelines.sweep.tracking import open_parent

            open_parent(tracked, Path(str(config.hydra.sweep.dir)))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """The report, the summary lines and the exit code; the environment as it was before."""
        try:
            self._report(config)
        finally:
            for name, value in self.before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _report(self, config: DictConfig) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = collect(sweep_dir)
        lost = LOST.pop(sweep_dir.resolve(), {})
        named = {job["name"] for job in jobs}  # a job cancelled before it started has no folder
        jobs += [read_job(sweep_dir / name) for name in lost if name not in named]
        if not any((job["folder"] / "status.json").is_file() for job in jobs) and not lost:
            return  # not a training sweep (e.g. mnist-exp-eval -m): nothing to report
        for job in jobs:
            if job["name"] in lost:
                job["status"], job["error"] = "incomplete", lost[job["name"]]
        metric = str(config.get("optimized_metric") or "val/acc_best")
        try:
            configurations = write_report(jobs, sweep_dir, metric)[1]
            if configurations:
                print_configurations(configurations, metric)
        except Exception as err:  # the report must never hide the sweep's own outcome
            log.warning("Could not write the sweep report: %s", err)
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job["status"]] = counts.get(job["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"Sweep {sweep_dir}: {len(jobs)} jobs: {summary}. Report: {sweep_dir / 'report.md'}")
        for job in jobs:
            if job["status"] not in ("ok", "pruned"):  # diverged: a finding; the others: to retry
                print(f"  {job['status']:>10}  {job['name']}  {job.get('error') or ''}".rstrip())
        bad = [j for j in jobs if j["status"] not in FINAL]
        tracked = _mlflow_logger(config)
        if tracked is not None:
            from mnist_exp.pipelines.sweep.tracking import close_parent

            close_parent(tracked, sweep_dir, "incomplete" if bad else "ok")
        if bad:
            hint = (
                f" Re-run the same command with {shell_override('hydra.sweep.dir', str(sweep_dir))} "
                f"to retry them (ok, diverged and pruned jobs are skipped)."
            )
            print(
                f"{len(bad)} of {len(jobs)} jobs failed or did not finish (exit code 1).{hint}",
                file=sys.stderr,
            )
            sys.exit(1)


def _mlflow_logger(config: DictConfig) -> DictConfig | None:
    """The sweep's MLflow logger config, when its loggers include mnist-exp's MLflow one."""
    for conf in (OmegaConf.select(config, "logger") or {}).values():
        if isinstance(conf, DictConfig) and names(conf.get("_target_"), MLFLOW_RUN):
            return conf
    return None


def _earlier_outcome(cfg: DictConfig, out: Path, overrides: list[str] | None) -> tuple[bool, float | None]:
    """(True, its result) for a job that finished in an earlier run of this sweep, or one whose
    folder holds other overrides (refused); (False, None) to run it, resuming from its last
    checkpoint when an earlier run stopped it."""
    done = finished_earlier(out, overrides)
    if done is not None:
        log.info("Job %s: %s in an earlier run of this sweep; skipped.", out.name, done["status"])
        return True, job_result(done)
    status = read_status(out)
    last = last_checkpoint(out)
    if status and last.is_file() and not cfg.get("ckpt_path"):
        if status.get("overrides") is not None and not same_overrides(status["overrides"], overrides):
            log.error(
                "Job %s: %s holds a job with other overrides (%s). Fix: re-run the sweep with its own "
                "overrides, or choose a new hydra.sweep.dir.",
                out.name,
                out,
                status.get("overrides"),
            )
            return True, None
        with open_dict(cfg):
            cfg.ckpt_path = str(last)
        log.info("Job %s: resuming from %s.", out.name, last)
    return False, None


def _trial_callbacks(cfg: DictConfig, out: Path) -> list[Any]:
    """An Optuna trial's job reports to its study (optuna is an optional extra: imported here)."""
    if cfg.get("optuna_trial") is None:
        return []
    from hydra.core.hydra_config import HydraConfig

    from mnist_exp.pipelines.sweep.optuna_trial import TrialReporter

    return [TrialReporter(HydraConfig.get().sweeper, out.parent, int(cfg.optuna_trial))]


def _requeue(err: Requeued, out: Path, overrides: list[str] | None) -> None:
    """Hand the stopped job to submitit, which re-submits it and exits this process; where it will
    not (the time limit was reached hydra.launcher.max_num_timeout times), record why."""
    log.info("Job %s: %s Requeued; it continues from that checkpoint.", out.name, err)
    if err.handover is None:
        return
    try:
        err.handover()
    except Exception as refused:  # submitit's UncompletedJobError
        fix = "Fix: a longer hydra.launcher.timeout_min or a larger hydra.launcher.max_num_timeout."
        why = f"{err} Not requeued: {refused} {fix}"
        if err.record is not None:  # the run's own writer: status.json and its trackers say it alike
            err.record("interrupted", epoch=read_status(out).get("epoch"), error=why)
        else:
            info = {k: v for k, v in read_status(out).items() if k != "status"}
            write_status(out, "interrupted", **{**info, "error": why})


def run_sweep_job(cfg: DictConfig, train_fn: Callable[..., dict[str, float]]) -> float | None:
    """One job of a multirun. Skips a job that finished in an earlier run of this sweep, resumes
    one that stopped, and turns a failure into a recorded status and a None result, so the sweep
    goes on (Optuna records None as a failed trial, a pruned job as pruned)."""
    out = Path(cfg.paths.output_dir)
    overrides = hydra_overrides()
    finished, result = _earlier_outcome(cfg, out, overrides)
    if finished:
        return result
    try:
        return train_fn(cfg, _trial_callbacks(cfg, out)).get("optimized_metric")
    except Pruned as err:
        log.info("Job %s: %s", out.name, err)
        return None
    except Requeued as err:
        _requeue(err, out, overrides)
        return None
    except Interrupted as err:
        if in_cluster_job():  # a cluster job: this job ends, the sweep waits on
            log.error("Job %s: %s", out.name, err)
            return None
        raise Interrupted(
            f"Sweep interrupted in job {out.name}; its finished epochs are saved. Resume the sweep with "
            f"the same command plus {shell_override('hydra.sweep.dir', str(out.parent))} (finished jobs "
            "are skipped)."
        ) from None
    except KeyboardInterrupt:
        raise
    except UserError as err:  # bad values, missing data, divergence: one line, no traceback
        log.error("Job %s failed: %s", out.name, err)
        error = str(err)
    except Exception as err:
        log.exception("Job %s failed", out.name)
        error = f"{type(err).__name__}: {err}"
    if read_status(out).get("status") not in ("failed", "diverged"):
        write_status(out, "failed", error=error, overrides=overrides)
    return None
