"""The private APIs mnist-exp still calls (docs/architecture.md, "Private APIs that stay") are
pinned: each installed package must lie in the range pyproject.toml allows, and what mnist-exp
calls must be there, with the arguments it passes. An upgrade past a range fails here, by name,
instead of in a user's run (tests/test_steps_per_call.py checks the step counts themselves)."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
from importlib.metadata import requires, version

import optuna
import torch
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, LocalQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher, LocalLauncher
from packaging.requirements import Requirement
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.strategies.launchers.launcher import _Launcher
from torchmetrics import MaxMetric, Metric


def pinned(package: str, extra: str | None = None) -> Requirement:
    for line in requires("mnist-exp") or []:
        req = Requirement(line)
        ours = (
            req.marker is None
            if extra is None
            else req.marker is not None and req.marker.evaluate({"extra": extra})
        )
        if req.name == package and ours:
            return req
    raise AssertionError(f"mnist-exp does not depend on {package}")


def in_range(req: Requirement) -> None:
    assert any(spec.operator == "<" for spec in req.specifier), f"{req}: no upper bound"
    assert req.specifier.contains(version(req.name)), (req, version(req.name))


def test_lightning_is_pinned_to_the_verified_range() -> None:
    in_range(pinned("pytorch-lightning"))


def test_lightning_optimizer_still_has_its_step_accounting_hooks() -> None:
    optimizer = LightningOptimizer(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    assert callable(optimizer._on_before_step)
    assert callable(optimizer._on_after_step)


def test_optuna_storage_still_has_what_a_trial_job_calls() -> None:
    """pipelines/optuna_trial.TrialReporter reaches the sweeper's trial through the study's storage."""
    in_range(pinned("optuna", "optuna"))
    for name in ("get_study_id_from_name", "get_trial_id_from_study_id_trial_number"):
        assert callable(getattr(optuna.storages.BaseStorage, name))
    for name in ("set_trial_intermediate_value", "get_trial"):
        assert callable(getattr(optuna.storages.BaseStorage, name))


def test_submitit_launcher_job_still_takes_the_five_arguments_mnist_exp_passes() -> None:
    """pipelines/sweep/cluster submits Hydra's own job callable with the arguments its launch() builds."""
    in_range(pinned("hydra-submitit-launcher", "slurm"))
    params = list(inspect.signature(BaseSubmititLauncher.__call__).parameters)
    assert params == ["self", "sweep_overrides", "job_dir_key", "job_num", "job_id", "singleton_state"]


def test_the_requeue_signal_is_the_one_submitit_installs_its_handler_for() -> None:
    """setup/runtime.requeue_signal names submitit's signal from its public JobEnvironment.USR_SIG; submitit
    installs its handler on JobEnvironment._usr_sig(): the two agree, with and without an override."""
    code = (
        "import submitit; from mnist_exp.setup.runtime import requeue_signal; "
        "print(requeue_signal() == submitit.JobEnvironment._usr_sig(), requeue_signal().name)"
    )
    for preempt in (None, "USR1"):
        env = {**os.environ, "SUBMITIT_EXECUTOR": "slurm"}
        if preempt:
            env["SUBMITIT_PREEMPT_SIGNAL"] = preempt
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert done.stdout.split() == ["True", f"SIG{preempt or 'USR2'}"]


def test_torch_still_says_whether_onednn_may_compute_in_bf16() -> None:
    """records/machine.onednn_bf16 asks torch's private op `mkldnn._is_mkldnn_bf16_supported`; it
    must still exist and follow ONEDNN_MAX_CPU_ISA (False when capped to AVX2, which has no bf16)."""
    code = "import torch; print(torch.ops.mkldnn._is_mkldnn_bf16_supported())"
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["False"]
    assert isinstance(torch.ops.mkldnn._is_mkldnn_bf16_supported(), bool)


def test_torchmetrics_still_casts_states_through_apply_and_keeps_defaults() -> None:
    """core/metrics.FixedDtype overrides Metric._apply(fn, exclude_state) and reads and writes
    Metric._defaults, to keep its states' dtype when the network is cast (bf16-true)."""
    in_range(pinned("torchmetrics"))
    assert list(inspect.signature(Metric._apply).parameters) == ["self", "fn", "exclude_state"]
    metric = MaxMetric()
    assert isinstance(metric._defaults, dict) and set(metric._defaults) == {"max_value"}
    assert metric.to(torch.bfloat16)._defaults["max_value"].dtype == torch.bfloat16  # what FixedDtype undoes


def test_hydra_job_return_still_takes_its_return_value_by_field() -> None:
    """pipelines/sweep/cluster builds each job's JobReturn with `_return_value=` (read from status.json)."""
    in_range(pinned("hydra-core"))
    assert "_return_value" in {f.name for f in dataclasses.fields(JobReturn)}
    assert JobReturn(status=JobStatus.COMPLETED, _return_value=0.5).return_value == 0.5


def test_lightning_launchers_still_forward_a_signal_with_kill() -> None:
    """pipelines/run/stopping.SafeStop passes SIGTERM and the time-limit signal to the ranks a DDP
    launcher started, through `trainer.strategy.launcher.kill(signum)`."""
    assert list(inspect.signature(_Launcher.kill).parameters) == ["self", "signum"]


def test_submitit_plugin_still_has_its_params_and_queue_schema() -> None:
    """pipelines/sweep/cluster reads the plugin launcher's `.params` (the keys a job may set) and
    `BaseQueueConf`'s keys (what submitit takes without an executor prefix)."""
    launcher = LocalLauncher(
        **{k: v for k, v in dataclasses.asdict(LocalQueueConf()).items() if k != "_target_"}
    )
    assert isinstance(launcher.params, dict) and "timeout_min" in launcher.params
    assert {"submitit_folder", "timeout_min", "cpus_per_task", "nodes", "name"} <= {
        f.name for f in dataclasses.fields(BaseQueueConf)
    }
