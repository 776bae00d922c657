"""The private APIs mnist-exp still calls (docs/architecture.md, "Private APIs that stay") are
pinned: each installed package must lie in the range pyproject.toml allows, and what mnist-exp
calls must be there, with the arguments it passes. An upgrade past a range fails here, by name,
instead of in a user's run (tests/test_steps_per_call.py checks the step counts themselves)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from importlib.metadata import requires, version

import optuna
import torch
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from packaging.requirements import Requirement
from pytorch_lightning.core.optimizer import LightningOptimizer


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
    """pipelines/cluster submits Hydra's own job callable with the arguments its launch() builds."""
    in_range(pinned("hydra-submitit-launcher", "slurm"))
    params = list(inspect.signature(BaseSubmititLauncher.__call__).parameters)
    assert params == ["self", "sweep_overrides", "job_dir_key", "job_num", "job_id", "singleton_state"]


def test_the_requeue_signal_is_the_one_submitit_installs_its_handler_for() -> None:
    """stopping.requeue_signal names submitit's signal from its public JobEnvironment.USR_SIG; submitit
    installs its handler on JobEnvironment._usr_sig(): the two agree, with and without an override."""
    code = (
        "import submitit; from mnist_exp.pipelines.stopping import requeue_signal; "
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
