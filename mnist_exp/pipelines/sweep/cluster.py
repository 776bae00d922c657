"""Sweeps on SLURM (or local processes) through submitit: `hydra/launcher=slurm` and
`hydra/launcher=local_cluster`.

Over Hydra's submitit launcher, three things change. Jobs that finished in an earlier run of the
same sweep folder are not submitted again. Each job's SLURM id and log are printed once. And the
sweep waits on `squeue` (not `sacct`, which a cluster without accounting lacks) until every job
has left the queue, requeued ones included, then reads each job's outcome from its own
status.json, so a cancelled or lost job is a recorded outcome, not a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_exp.core.errors import UserError
from mnist_exp.pipelines.sweep.jobs import finished_earlier, job_result, lost_job
from mnist_exp.pipelines.sweep.queue import ENDED, cancel, never_starts, squeue_states
from mnist_exp.records.status import ENDINGS, read_status

log = logging.getLogger("mnist_exp.sweep")

# squeue's states of a job that will not run again (a requeued job is PENDING or REQUEUED)
EXECUTORS = {"slurm": SlurmLauncher, "local": LocalLauncher}
OURS = ("poll_s",)  # settings of this launcher, not of submitit


class ClusterSweep:
    """Submits a batch of jobs, waits for all of them and reads their outcomes."""

    def __init__(self, executor: str, params: dict[str, Any]) -> None:
        self.executor = executor
        self.poll_s = float(params.get("poll_s") or 5)
        # the callable submitit pickles and runs in each job: Hydra's own, unchanged
        self.job = EXECUTORS[executor](**{k: v for k, v in params.items() if k not in OURS})
        self.context: HydraContext | None = None
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.context, self.config = hydra_context, config
        self.job.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
        configs = [self._job_config(list(o), initial_job_idx + i) for i, o in enumerate(job_overrides)]
        todo = [i for i, cfg in enumerate(configs) if not self._finished(cfg)]
        if todo:
            try:
                jobs = self._submit([configs[i] for i in todo], [job_overrides[i] for i in todo])
                self._wait(jobs)
            except UserError as err:  # Hydra would report it as a job's error: one message, exit 2
                print(f"Error: {err}", file=sys.stderr)
                sys.exit(err.exit_code)
            for cfg, job in zip([configs[i] for i in todo], jobs, strict=True):
                self._check_ran(cfg, job)
        return [self._result(cfg, o) for cfg, o in zip(configs, job_overrides, strict=True)]

    def _job_config(self, overrides: list[str], idx: int) -> DictConfig:
        """The job's config as the job will compose it (the sweep's timestamps kept), for its folder."""
        assert self.context is not None and self.config is not None
        cfg = self.context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg):
            cfg.hydra.job.num = idx
        return cfg

    @staticmethod
    def folder(cfg: DictConfig) -> Path:
        return Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)

    def _finished(self, cfg: DictConfig) -> bool:
        folder = self.folder(cfg)
        done = finished_earlier(folder, [str(o) for o in cfg.hydra.overrides.task])
        if done is not None:
            log.info(
                "Job %s: %s in an earlier run of this sweep; not submitted.", folder.name, done["status"]
            )
        return done is not None

    def _submit(self, configs: list[DictConfig], overrides: Sequence[Sequence[str]]) -> list[Any]:
        """Each job with the resources its own config asks for: `tasks_per_node` follows the job's
        trainer.devices, so `-m trainer.devices=1,2` is two arrays, one per set of resources."""
        groups: dict[str, list[int]] = {}
        for i, cfg in enumerate(configs):
            groups.setdefault(json.dumps(self._own_params(cfg), sort_keys=True), []).append(i)
        if len(groups) > 1:
            log.info("The jobs ask for %d different sets of resources: one job array each.", len(groups))
        jobs: list[Any] = [None] * len(configs)
        for key, members in groups.items():
            array = self._submit_array(
                json.loads(key), [configs[i] for i in members], [overrides[i] for i in members]
            )
            for i, job in zip(members, array, strict=True):
                jobs[i] = job
        return jobs

    def _own_params(self, cfg: DictConfig) -> dict[str, Any]:
        """The launcher settings as this job's config resolves them (its trainer.devices, ...)."""
        own = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
        assert isinstance(own, dict)
        return {k: v for k, v in own.items() if k in self.job.params}

    def _submit_array(
        self, params: dict[str, Any], configs: list[DictConfig], overrides: Sequence[Sequence[str]]
    ) -> list[Any]:
        """One job array, as Hydra's submitit launcher builds it; sbatch's refusal in one message."""
        import submitit  # the optional extra: only once a sweep is submitted

        assert self.config is not None
        params = dict(params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self.executor}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self.executor, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"{self.executor}_{k}": v for k, v in params.items()}
        )
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        args = [
            (
                list(o),
                "hydra.sweep.dir",
                int(c.hydra.job.num),
                f"job_id_for_{c.hydra.job.num}",
                Singleton.get_state(),
            )
            for c, o in zip(configs, overrides, strict=True)
        ]
        try:
            jobs = executor.map_array(self.job, *zip(*args, strict=True))
        except (submitit.core.utils.FailedJobError, OSError) as err:
            first = " ".join(str(err).split())[:400]
            raise UserError(
                f"The jobs could not be submitted: {first}. Fix: check the hydra.launcher settings "
                "(partition, cpus_per_task, mem_gb, timeout_min) against `sinfo`."
            ) from None
        for cfg, job in zip(configs, jobs, strict=True):
            where = "SLURM job" if self.executor == "slurm" else "process"
            log.info("Job %s: %s %s, log %s", self.folder(cfg).name, where, job.job_id, job.paths.stdout)
        return jobs

    def _wait(self, jobs: list[Any]) -> None:
        """Until every job has left the queue for good; a requeued job is waited for."""
        if self.executor != "slurm":
            while not all(job.done() for job in jobs):
                time.sleep(min(self.poll_s, 1.0))
            return
        ids, shown, last = {str(job.job_id) for job in jobs}, {}, time.monotonic()
        while True:
            queue = squeue_states()
            states = {i: queue.get(i, ("COMPLETED", "")) for i in ids}
            if all(state in ENDED for state, _ in states.values()):
                return
            pending = {i: reason for i, (state, reason) in states.items() if state == "PENDING"}
            for job_id, reason in pending.items():
                if never_starts(reason):
                    self._never(job_id, reason, [i for i, (st, _) in states.items() if st not in ENDED])
            if pending and (pending != shown or time.monotonic() - last > 60):  # now and then
                log.info(
                    "Pending in SLURM: %s", ", ".join(f"job {i} ({r})" for i, r in sorted(pending.items()))
                )
                shown, last = pending, time.monotonic()
            time.sleep(self.poll_s)

    @staticmethod
    def _never(job_id: str, reason: str, queued: list[str]) -> None:
        """A job SLURM will never start: cancel the sweep's jobs still queued, say why (exit 2)."""
        meaning, fix = never_starts(reason) or ("", "")
        cancel(queued)
        raise UserError(
            f"SLURM will never start job {job_id}: Reason={reason.strip('()')}: {meaning}. The sweep's "
            f"{len(queued)} queued job(s) were cancelled. Fix: {fix}."
        )

    def _check_ran(self, cfg: DictConfig, job: Any) -> None:
        """A job that left the queue without its run recording how it ended (killed, lost node)."""
        folder = self.folder(cfg)
        state = read_status(folder).get("status")
        if state in ENDINGS:
            return
        what = f"{'SLURM job' if self.executor == 'slurm' else 'process'} {job.job_id}"
        lost_job(folder, f"{what} ended while its run was {state or 'not started'}; see {job.paths.stdout}")

    def _result(self, cfg: DictConfig, overrides: Sequence[str]) -> JobReturn:
        """The job's result, read from its status.json (what a sweeper such as Optuna asks for)."""
        folder = self.folder(cfg)
        return JobReturn(
            overrides=list(overrides),
            cfg=cfg,
            hydra_cfg=cfg,
            working_dir=str(folder),
            task_name=str(cfg.hydra.job.name),
            status=JobStatus.COMPLETED,
            _return_value=job_result(read_status(folder)),
        )
