"""Sweeps on a real SLURM cluster: jobs through sbatch, DDP across SLURM tasks, a time limit that
requeues and resumes, scancel, and the local submitit launcher. The cluster is one that already
answers, used as it is, or, where asked (CI=true, MNIST_EXP_START_SLURM=1), this machine's own
single-node SLURM (`bash .ci/slurm up`, as root); otherwise the SLURM tests skip with the reason,
and in CI, where the cluster must come up, they fail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mnist_exp.records.history import read_history
from tests import wandb_records
from tests.conftest import REPO, run_module, scalars
from tests.test_resume import start

# slow; and one after the other on one xdist worker (`--dist loadgroup`): they share the node's CPUs
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]
MLP = ["model=mlp", "torch_threads=1", "callbacks.feature_maps=null"]
# a user's own model (the MLP's math, in a class of theirs) from their config folder
OWN = ["--config-dir", "myconf", "model=wide", "torch_threads=1", "callbacks.feature_maps=null"]
WIDE = """
from torch import nn


class Wide(nn.Module):
    def __init__(self, hidden: int = 300):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(1024, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.body(x)
"""
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.poll_s=1"]


START_ENV = "MNIST_EXP_START_SLURM"  # 1: the tests may start a local single-node SLURM (as CI does)


@pytest.fixture(scope="module")
def slurm() -> None:
    """A running SLURM. One that answers (`sinfo`) is used as a user would: jobs are submitted to
    it, nothing of it is configured or stopped. Otherwise the tests start this machine's own
    single-node cluster (`.ci/slurm up`, as root) only where asked: CI=true or MNIST_EXP_START_SLURM=1;
    elsewhere they skip with the reason."""
    try:
        answers = subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        answers = False
    if answers:
        return
    if not (os.environ.get("CI") or os.environ.get(START_ENV) == "1"):
        pytest.skip(f"no SLURM answers here; {START_ENV}=1 lets the tests start a local one (as root)")
    up = subprocess.run(
        ["bash", str(REPO / ".ci" / "slurm"), "up"], capture_output=True, text=True, timeout=900
    )
    if up.returncode == 0:
        return
    reason = f"no SLURM cluster here: {(up.stderr or up.stdout).strip()[-300:]}"
    if os.environ.get("CI"):
        pytest.fail(reason)  # CI runs as root: it must bring SLURM up and run these tests
    pytest.skip(reason)


@pytest.fixture
def own_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """mymodels.py and myconf/model/wide.yaml in tmp_path; PYTHONPATH names the folder, and SLURM
    passes it on to the jobs (sbatch exports the submitting environment)."""
    (tmp_path / "myconf" / "model").mkdir(parents=True)
    (tmp_path / "mymodels.py").write_text(WIDE)
    (tmp_path / "myconf" / "model" / "wide.yaml").write_text("_target_: mymodels.Wide\nhidden: 300\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return OWN


def status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def job_ids(output: str) -> dict[str, str]:
    """The SLURM id of each job, from the sweep's own lines ('Job lr=0.1: SLURM job 7_1, log ...')."""
    return dict(re.findall(r"Job (\S+): SLURM job (\S+), log", output))


def sweep(tmp_path: Path, mnist_root: Path, *args: str) -> Path:
    """A finished sweep (exit code 0) of `mnist-exp-train -m *args`, into tmp_path/sweep."""
    sweep_dir = tmp_path / "sweep"
    done = run_module(
        "train", "-m", *args, f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return sweep_dir


def job_statuses(sweep_dir: Path) -> dict[str, str]:
    return {p.name: status(p)["status"] for p in sweep_dir.iterdir() if (p / "status.json").is_file()}


def epochs(folder: Path) -> list[int]:
    return [int(r["epoch"]) for r in read_history(folder / "metrics.csv")]


def test_a_dry_run_of_the_readmes_sweep_on_slurm_submits_nothing(
    slurm: None, tmp_path: Path, mnist_root: Path
) -> None:
    """The README's 12-job sweep with hydra/launcher=slurm and dry_run=true: the 12 jobs, their
    folders and what each asks SLURM for are listed; nothing is queued, nothing is written."""
    grid = ["data.batch_size=32,64,128,256", "optimizer.lr=0.001,0.01,0.1"]
    done = run_module("train", "-m", *grid, *SLURM, f"data.root={mnist_root}", "dry_run=true", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "12 jobs; nothing is run or submitted" in done.stdout
    assert "SLURM: partition=(the cluster's default) nodes=1 tasks_per_node=1 cpus_per_task=1" in done.stdout
    assert len(re.findall(r"^ +\d+  batch_size=\d+,lr=[\d.]+ +run$", done.stdout, flags=re.M)) == 12
    # nothing was submitted from here (other tests' jobs may be queued meanwhile): no job of this folder
    # in the queue, and no folder (submitit writes each job's sbatch script into the sweep folder first)
    queue = subprocess.run(["squeue", "-h", "--me", "-o", "%Z"], capture_output=True, text=True, check=True)
    assert not [d for d in queue.stdout.split() if Path(d).resolve().is_relative_to(tmp_path.resolve())]
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_runs_as_slurm_jobs_seen_in_squeue(slurm: None, tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["-m", "optimizer.lr=0.05,0.1", *MLP, "trainer.max_epochs=3", *SLURM]
    proc = start(tmp_path, *args, f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}")
    seen: set[str] = set()
    while proc.poll() is None:  # the queue, as a user watching it sees it
        queue = subprocess.run(["squeue", "-h", "-r", "-o", "%i %j %T"], capture_output=True, text=True)
        seen |= {line.split()[0] for line in queue.stdout.splitlines() if line.endswith("RUNNING")}
        time.sleep(0.5)
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    ids = job_ids(out + err)
    assert set(ids) == {"lr=0.05", "lr=0.1"} and set(ids.values()) <= seen  # both ran, visibly
    assert all((out + err).count(f"SLURM job {i},") == 1 for i in ids.values())  # each printed once
    assert "sacct" not in out + err and "Traceback" not in out + err
    for name in ids:
        assert status(sweep_dir / name)["status"] == "ok"
        assert epochs(sweep_dir / name) == [0, 1, 2]
    log = next((sweep_dir / ".submitit").glob("*/*_log.out")).read_text()
    assert "\r" not in log and "epoch 2:" in log  # a line per epoch, no progress-bar redraws


def test_ddp_across_two_slurm_tasks_is_one_run(slurm: None, tmp_path: Path, mnist_root: Path) -> None:
    # trainer=ddp_cpu: devices 2, and hydra.launcher.tasks_per_node follows it
    sweep_dir = sweep(
        tmp_path, mnist_root, *MLP, "trainer=ddp_cpu", "trainer.max_epochs=1", "optimizer.lr=0.1", *SLURM
    )
    (job,) = [p for p in sweep_dir.iterdir() if (p / "status.json").is_file()]  # one run folder
    info = status(job)
    assert info["status"] == "ok"
    correct = info["metrics"]["test/acc"] * 10_000  # every test image counted once, over both ranks
    assert abs(correct - round(correct)) < 1e-3
    logs = [p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out")]
    assert len(logs) == 2 and any("global_rank=1(2)" in log for log in logs)  # two SLURM tasks


def test_each_job_gets_the_tasks_its_own_devices_ask_for(
    slurm: None, tmp_path: Path, mnist_root: Path
) -> None:
    """`-m trainer.devices=1,2`: tasks_per_node follows each job's own trainer.devices, so the jobs
    go as two arrays (one per set of resources): one task, then two tasks (two DDP ranks)."""
    sweep_dir = sweep(
        tmp_path, mnist_root, *MLP, "trainer=ddp_cpu", "trainer.devices=1,2", "debug=limit", *SLURM
    )
    assert job_statuses(sweep_dir) == {"devices=1": "ok", "devices=2": "ok"}
    logs = [p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out")]
    ranks = sorted(re.search(r"global_rank=(\d\(\d\))", log).group(1) for log in logs)  # submitit's line
    assert ranks == ["0(1)", "0(2)", "1(2)"]  # a job of one task, and one of two


def _release_requeued_jobs(proc: subprocess.Popen) -> threading.Thread:
    """SLURM holds a requeued job for 2 minutes before it may start again (Reason BeginTime); while
    the sweep runs, this lets each such job start sooner, as an admin would, and saves CI the wait.
    Not in the second of the requeue: slurmd kills a job whose new credential dates from the second
    its previous run's was revoked in ("Job credential revoked", exit 1), which failed this test 1
    time in 5 when it released the job at once."""

    def release() -> None:
        held_since: dict[str, float] = {}
        while proc.poll() is None:
            queue = subprocess.run(["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True)
            held = [
                f[0] for f in map(str.split, queue.stdout.splitlines()) if f[1:] == ["PENDING", "BeginTime"]
            ]
            now = time.monotonic()
            held_since = {i: held_since.get(i, now) for i in held}  # held now, and since when
            for slurm_id in [i for i, since in held_since.items() if now - since > 3]:
                subprocess.run(
                    ["scontrol", "update", f"jobid={slurm_id}", "StartTime=now"], capture_output=True
                )
            time.sleep(0.5)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def _time_limit_signal_after(job: Path, epochs_done: int, proc: subprocess.Popen) -> None:
    """Once the job has recorded `epochs_done` epochs, send it the signal SLURM sends before a time
    limit (USR2, `--signal=USR2@<signal_delay_s>` in its sbatch script), as SLURM would, and wait
    until the job has recorded that it stopped to be requeued: each requeue is a state reached, not
    a race with SLURM's 30-second limit checks."""
    while not ((job / "metrics.csv").is_file() and len(epochs(job)) >= epochs_done):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    (log,) = [
        p for p in (job.parent / ".submitit").glob("*/*_log.out") if f"run folder {job}" in p.read_text()
    ]
    subprocess.run(["scancel", "--signal=USR2", log.parent.name], check=True)
    while status(job)["status"] != "requeued":
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)


def test_a_run_twice_at_its_time_limit_is_requeued_and_ends_as_if_never_stopped(
    slurm: None, own_model: list[str], tmp_path: Path, mnist_root: Path
) -> None:
    """Requeued twice, with all three trackers: each holds each epoch's val/acc once, with the values
    of metrics.csv, which equal those of a run without a time limit."""
    run = [*own_model, "trainer.max_epochs=10", "test_ckpt=last", f"data.root={mnist_root}"]
    reference = start(tmp_path, *run, f"hydra.run.dir={tmp_path / 'reference'}")  # no time limit
    sweep_dir = tmp_path / "sweep"
    limit = ["hydra.launcher.timeout_min=30", "hydra.launcher.signal_delay_s=90"]
    trackers = "logger=[tensorboard,mlflow,wandb]"
    proc = start(tmp_path, "-m", *run, trackers, *SLURM, *limit, f"hydra.sweep.dir={sweep_dir}")
    _release_requeued_jobs(proc)
    _time_limit_signal_after(sweep_dir / "0", 2, proc)
    _time_limit_signal_after(sweep_dir / "0", 5, proc)  # epochs of the second start
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert reference.wait(timeout=600) == 0
    (script,) = (sweep_dir / ".submitit").glob("*/*_submission.sh")
    assert "#SBATCH --signal=USR2@90" in script.read_text() and "#SBATCH --time=30" in script.read_text()
    info = status(sweep_dir / "0")
    assert info["status"] == "ok" and info["requeues"] == 2
    assert epochs(sweep_dir / "0") == list(range(10))  # each epoch once
    val_acc = [row["val/acc"] for row in read_history(sweep_dir / "0" / "metrics.csv")]
    assert scalars(sweep_dir / "0")["val/acc"] == val_acc  # TensorBoard, over its event files
    uri = f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}"
    every = MlflowClient(uri).search_runs([e.experiment_id for e in MlflowClient(uri).search_experiments()])
    [mlflow_run] = [r for r in every if "mlflow.parentRunId" in r.data.tags]  # the job's, in the sweep's
    logged = MlflowClient(uri).get_metric_history(mlflow_run.info.run_id, "val/acc")
    assert [m.value for m in sorted(logged, key=lambda m: m.step)] == val_acc
    assert mlflow_run.data.tags["mnist_exp.status"] == "ok"
    assert [row["val/acc"] for row in wandb_records.history(sweep_dir / "0") if "val/acc" in row] == val_acc
    assert len(list((sweep_dir / "0").glob("wandb/offline-run-*"))) == 3  # one W&B run id, three starts
    starts = json.loads((sweep_dir / "0" / "provenance.json").read_text())["starts"]  # one per start
    assert len(starts) == 3 and all(s["slurm"]["job_id"] and s["slurm"]["node"] for s in starts)
    log = "".join(p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out"))
    assert "Stopped for the time limit" in log and "Traceback" not in log + out + err
    assert info["metrics"]["test/acc"] == status(tmp_path / "reference")["metrics"]["test/acc"]
    assert read_history(sweep_dir / "0" / "metrics.csv") == read_history(
        tmp_path / "reference" / "metrics.csv"
    )


def test_scancel_ends_that_job_and_the_rerun_finishes_it(
    slurm: None, own_model: list[str], tmp_path: Path, mnist_root: Path
) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["-m", "optimizer.lr=0.05,0.1", "trainer.max_epochs=12", *SLURM, f"data.root={mnist_root}"]
    args.append(f"hydra.sweep.dir={sweep_dir}")
    proc = start(tmp_path, *own_model, *args)
    victim = sweep_dir / "lr=0.05"
    while len(read_history(victim / "metrics.csv") if (victim / "metrics.csv").is_file() else []) < 2:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    (log,) = [
        p for p in (sweep_dir / ".submitit").glob("*/*_log.out") if f"run folder {victim}" in p.read_text()
    ]
    subprocess.run(["scancel", log.parent.name], check=True)  # a user cancels that job
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    assert "Traceback" not in out + err
    assert re.search(r"incomplete\s+lr=0\.05\s+Stopped by SIGTERM", out + err)  # named, with why
    assert status(victim)["status"] == "interrupted" and status(sweep_dir / "lr=0.1")["status"] == "ok"
    stopped_at = len(epochs(victim))
    assert stopped_at < 12

    elsewhere = tmp_path / "elsewhere"  # the re-run: from another folder, without --config-dir
    elsewhere.mkdir()
    again = run_module("train", *args, *own_model[2:], cwd=elsewhere)
    assert again.returncode == 0, again.stderr[-3000:]
    said = again.stdout + again.stderr
    assert "Job lr=0.1: ok in an earlier run of this sweep; not submitted." in said
    assert "Job lr=0.05: resuming from" in "".join(
        p.read_text() for p in (sweep_dir / ".submitit").glob("*/*log.out")
    )
    assert status(victim)["status"] == "ok" and epochs(victim) == list(range(12))


def test_a_local_submitit_sweep(tmp_path: Path, mnist_root: Path) -> None:
    launcher = "hydra/launcher=local_cluster"
    sweep_dir = sweep(
        tmp_path, mnist_root, "optimizer.lr=0.05,0.1", *MLP, "debug=limit", "trainer.max_epochs=1", launcher
    )
    assert job_statuses(sweep_dir) == {"lr=0.05": "ok", "lr=0.1": "ok"}


def test_a_job_slurm_will_never_start_ends_the_sweep_with_the_reason(
    slurm: None, tmp_path: Path, mnist_root: Path
) -> None:
    """Two tasks of all a node's CPUs each: SLURM keeps the job pending (Reason=PartitionConfig)
    for ever. The sweep cancels it and ends with exit 2, the reason in words and the fix."""
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()[0])
    ask = ["hydra/launcher=slurm", "hydra.launcher.tasks_per_node=2", f"hydra.launcher.cpus_per_task={cpus}"]
    ask += ["hydra.launcher.poll_s=1", "trainer=ddp_cpu", "trainer.devices=2"]
    proc = start(
        tmp_path, "-m", *MLP, *ask, f"data.root={mnist_root}", f"hydra.sweep.dir={tmp_path / 'sweep'}"
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-3000:]
    assert (
        "SLURM will never start job" in err and "PartitionConfig" in err and "Fix: ask for what a node" in err
    )
    assert "Traceback" not in out + err
    ids = re.findall(r"SLURM job (\d+)", out + err)
    queue = subprocess.run(["squeue", "-h", "--me", "-o", "%i %T"], capture_output=True, text=True).stdout
    assert ids and not [line for line in queue.splitlines() if line.split()[0].split("_")[0] in ids]


def test_a_job_cancelled_before_it_starts_is_counted_and_named(
    slurm: None, tmp_path: Path, mnist_root: Path
) -> None:
    """One task at a time: the second array task waits; a user scancels it before it starts. The
    sweep still counts it (incomplete, with why) and ends with exit 1."""
    args = [
        "-m",
        *MLP,
        "optimizer.lr=0.05,0.1",
        "trainer.max_epochs=3",
        *SLURM,
        "hydra.launcher.array_parallelism=1",
    ]
    proc = start(tmp_path, *args, f"data.root={mnist_root}", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    pending = ""
    while not pending:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
        queue = subprocess.run(
            ["squeue", "-h", "-r", "--me", "-t", "PENDING", "-o", "%i"], capture_output=True, text=True
        )
        pending = queue.stdout.split()[0] if queue.stdout.split() else ""
    subprocess.run(["scancel", pending], check=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err[-3000:]
    assert "2 jobs: 1 incomplete, 1 ok" in out + err and "Traceback" not in out + err
    why = r"SLURM job [\d_]+ ended while its run was not started"
    assert re.search(r"incomplete\s+lr=0\.\d+\s+" + why, out + err)
