"""Sweeps: real multiruns (subprocesses, real MNIST, tiny limits), TensorBoard's own reader and its
real server, the sweep report, failed jobs, re-runs, parallel and Optuna sweeps."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import plugin_data_pb2

from mnist_exp.core.overrides import PARENT_ENV, SWEPT_ENV, job_name
from mnist_exp.pipelines.sweep import SweepCallback
from mnist_exp.records.history import read_history
from mnist_exp.setup.config import compose
from tests.conftest import compose_cfg, run_module
from tests.test_resume import start, wait_for

TINY = ["model=mlp", "debug=limit", "callbacks.progress_bar.refresh_rate=1000", "callbacks.feature_maps=null"]
GRID = ["data.batch_size=64,128", "optimizer.lr=0.01,0.1"]
NAMES = {"batch_size=64,lr=0.01", "batch_size=64,lr=0.1", "batch_size=128,lr=0.01", "batch_size=128,lr=0.1"}


def sweep(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_module("train", "-m", *args, cwd=cwd, timeout=timeout)


def statuses(sweep_dir: Path) -> dict[str, str]:
    return {p.parent.name: json.loads(p.read_text())["status"] for p in sweep_dir.glob("*/status.json")}


@pytest.fixture(scope="module")
def grid(
    tmp_path_factory: pytest.TempPathFactory, mnist_root: Path
) -> tuple[Path, subprocess.CompletedProcess]:
    """The 2x2 sweep over batch size and lr, run once for the tests below."""
    cwd = tmp_path_factory.mktemp("grid")
    sweep_dir = cwd / "sweep"
    done = sweep(cwd, *GRID, *TINY, f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return sweep_dir, done


def test_jobs_are_folders_named_by_what_the_sweep_varies(grid) -> None:
    sweep_dir, done = grid
    assert {p.name for p in sweep_dir.iterdir() if p.is_dir()} == NAMES
    assert set(statuses(sweep_dir).values()) == {"ok"}
    assert "4 jobs: 4 ok" in done.stdout
    assert "Test metric" not in done.stdout  # Lightning's table per job: the sweep's lines say it
    for name in NAMES:  # each folder holds what its name says
        overrides = json.loads((sweep_dir / name / "status.json").read_text())["overrides"]
        batch, lr = name.split(",")
        assert f"data.batch_size={batch.split('=')[1]}" in overrides
        assert f"optimizer.lr={lr.split('=')[1]}" in overrides


def test_tensorboard_reader_finds_named_runs_with_hparams(grid) -> None:
    sweep_dir, _ = grid
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(sweep_dir))
    mux.Reload()
    assert set(mux.Runs()) == NAMES
    hparams = mux.PluginRunToTagToContent("hparams")
    for run in NAMES:
        acc = mux.GetAccumulator(run)
        assert len(acc.Scalars("val/acc")) == 2  # one per epoch
        assert {"val/acc_best", "test/acc", "train/loss"} <= set(acc.Tags()["scalars"])
        start_info = plugin_data_pb2.HParamsPluginData.FromString(
            hparams[run]["_hparams_/session_start_info"]
        ).session_start_info
        values = {
            k: v.number_value if v.HasField("number_value") else v.string_value
            for k, v in start_info.hparams.items()
        }
        assert f"batch_size={values['batch_size']:.0f}" in run
        assert f"lr={values['lr']:g}" in run
        assert values["model"] == "MLP" and values["optimizer"] == "SGD"
        assert {"momentum", "seed", "epochs"} <= set(values)
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            hparams[run]["_hparams_/experiment"]
        ).experiment
        declared = {m.name.tag for m in experiment.metric_infos}
        assert {"val/acc_best", "test/acc", "train/loss"} <= declared


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_server_lists_the_runs(grid) -> None:
    sweep_dir, _ = grid
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(sweep_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
            "--reload_interval",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        runs: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and set(runs) != NAMES:
            assert server.poll() is None, "tensorboard exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5) as reply:
                    runs = json.loads(reply.read())
            except OSError:
                pass
            time.sleep(0.5)
        assert set(runs) == NAMES
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=10) as reply:
            tags = json.loads(reply.read())
        assert all("val/acc" in tags[run] for run in NAMES)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_report_table_and_pictures(grid) -> None:
    sweep_dir, _ = grid
    done = run_module("report", str(sweep_dir), cwd=sweep_dir)
    assert done.returncode == 0, done.stderr
    with (sweep_dir / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["name"] for r in rows} == NAMES and {r["status"] for r in rows} == {"ok"}
    best = [float(r["best_val_acc"]) for r in rows]
    assert best == sorted(best, reverse=True)
    for row in rows:  # every figure comes from the job's own files
        history = read_history(sweep_dir / row["name"] / "metrics.csv")
        assert float(row["best_val_acc"]) == pytest.approx(max(h["val/acc"] for h in history))
        assert int(row["epochs"]) == 2 and float(row["wall_s"]) > 0 and 0 < float(row["test_acc"]) <= 1
    report = (sweep_dir / "report.md").read_text()
    assert all(name in report for name in NAMES)
    for picture in ("heatmap.png", "curves.png"):
        with Image.open(sweep_dir / picture) as image:
            assert image.size[0] > 300
    by_test = run_module("report", str(sweep_dir), "--metric", "test/acc", cwd=sweep_dir)
    assert by_test.returncode == 0
    with (sweep_dir / "results.csv").open() as fh:
        tests = [float(r["test_acc"]) for r in csv.DictReader(fh)]
    assert tests == sorted(tests, reverse=True)


def test_rerunning_a_finished_sweep_trains_nothing(grid, mnist_root: Path) -> None:
    sweep_dir, _ = grid
    before = {p: p.stat().st_mtime_ns for p in sweep_dir.glob("*/checkpoints/*.ckpt")}
    again = sweep(sweep_dir.parent, *GRID, *TINY, f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert (
        again.stderr.count("in an earlier run of this sweep; skipped")
        + again.stdout.count("in an earlier run of this sweep; skipped")
        == 4
    )
    assert {p: p.stat().st_mtime_ns for p in sweep_dir.glob("*/checkpoints/*.ckpt")} == before
    other = sweep(
        sweep_dir.parent,
        *GRID,
        *TINY,
        "trainer.max_epochs=3",
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert other.returncode == 2
    assert "holds a sweep run with other settings" in other.stderr and "Traceback" not in other.stderr


def dry_run_rows(output: str) -> dict[str, str]:
    """A dry run's jobs as printed: folder name -> what a run of the sweep would do with it."""
    rows = re.findall(r"^ +\d+  (\S+) +(.+)$", output, flags=re.M)
    return {name: state.strip() for name, state in rows}


def test_a_dry_run_lists_the_jobs_and_what_a_rerun_would_do(grid, tmp_path: Path, mnist_root: Path) -> None:
    """dry_run=true: the jobs Hydra would launch (named as the real sweep named them), each with what
    a run of that folder would do with it; nothing is trained or written, bad values are refused."""
    sweep_dir, _ = grid
    fresh = sweep(tmp_path, *GRID, *TINY, f"data.root={mnist_root}", "dry_run=true")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "4 jobs; nothing is run or submitted" in fresh.stdout and list(tmp_path.iterdir()) == []
    assert dry_run_rows(fresh.stdout) == dict.fromkeys(NAMES, "run")
    before = sorted((p, p.stat().st_mtime_ns) for p in sweep_dir.rglob("*"))
    more = ["data.batch_size=64,128", "optimizer.lr=0.01,0.1,0.5"]
    again = sweep(
        tmp_path, *more, *TINY, f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}", "dry_run=true"
    )
    assert again.returncode == 0, again.stderr[-2000:]
    new = {"batch_size=64,lr=0.5": "run", "batch_size=128,lr=0.5": "run"}
    assert dry_run_rows(again.stdout) == {**dict.fromkeys(NAMES, "skip (ok)"), **new}
    assert sorted((p, p.stat().st_mtime_ns) for p in sweep_dir.rglob("*")) == before
    bad = sweep(tmp_path, "optimizer.lr=0.1,-1", *TINY, f"data.root={mnist_root}", "dry_run=true")
    assert bad.returncode == 2 and "optimizer.lr must be a finite number > 0, got -1" in bad.stderr
    assert list(tmp_path.iterdir()) == []


RECORDED = Path(__file__).parent / "data" / "sweep_recorded_before_the_split"


@pytest.mark.slow
def test_a_sweep_recorded_before_the_split_runs_on(tmp_path: Path, mnist_root: Path) -> None:
    """A sweep folder written by mnist-exp before pipelines/ was split (its multirun.yaml names
    mnist_exp.pipelines.sweep.SweepCallback), one job of two finished (its checkpoints and pictures
    left out of the copy kept in tests/data; its data.root written as @MNIST_ROOT@): re-running its
    command skips the finished job, trains the other, and reports both."""
    sweep_dir = tmp_path / "sweep"
    shutil.copytree(RECORDED, sweep_dir)
    for path in sweep_dir.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace("@MNIST_ROOT@", str(mnist_root)))
    assert "_target_: mnist_exp.pipelines.sweep.SweepCallback" in (sweep_dir / "multirun.yaml").read_text()
    args = ["model=mlp", "debug=limit", "trainer.max_epochs=1", "callbacks.feature_maps=null"]
    done = sweep(
        tmp_path, *args, "optimizer.lr=0.01,0.1", f"data.root={mnist_root}", f"hydra.sweep.dir={sweep_dir}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Job lr=0.01: ok in an earlier run of this sweep; skipped" in done.stdout + done.stderr
    assert statuses(sweep_dir) == {"lr=0.01": "ok", "lr=0.1": "ok"}
    with (sweep_dir / "results.csv").open() as fh:
        assert {r["name"] for r in csv.DictReader(fh)} == {"lr=0.01", "lr=0.1"}


def test_report_refuses_a_folder_that_is_not_a_sweep(tmp_path: Path) -> None:
    done = run_module("report", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "holds no sweep jobs" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_diverging_job_is_reported_and_the_others_finish(tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = sweep(
        tmp_path,
        "optimizer.lr=1000,0.01,0.1",
        "model.activation=identity",
        *TINY,
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert done.returncode == 0, done.stderr[-3000:]  # a diverged lr is a result of the sweep
    assert statuses(sweep_dir) == {"lr=1000": "diverged", "lr=0.01": "ok", "lr=0.1": "ok"}
    assert "3 jobs: 1 diverged, 2 ok." in done.stdout
    assert re.search(r"diverged\s+lr=1000\s+Training diverged", done.stdout)  # named, with why
    assert "Traceback" not in done.stdout + done.stderr
    with (sweep_dir / "results.csv").open() as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert "diverged" in rows["lr=1000"]["error"] and rows["lr=1000"]["status"] == "diverged"
    assert list(rows)[-1] == "lr=1000"  # no metric: sorted last


@pytest.mark.slow
def test_interrupted_sweep_resumes_where_it_stopped(tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = [
        "-m",
        "optimizer.lr=0.05,0.1",
        "model=mlp",
        "trainer.max_epochs=3",
        "test=false",
        "callbacks.progress_bar.refresh_rate=1000",
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    proc = start(tmp_path, *args)
    wait_for(sweep_dir / "lr=0.05" / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-2000:]
    assert f"hydra.sweep.dir={sweep_dir}" in err and "Traceback" not in out + err
    plan = run_module("train", *args, "dry_run=true", cwd=tmp_path)  # what the re-run below will do
    assert re.search(r"lr=0\.05 +resume after epoch \d \(interrupted\)", plan.stdout), plan.stdout
    assert dry_run_rows(plan.stdout)["lr=0.1"] == "run"
    report = run_module("report", str(sweep_dir), cwd=tmp_path)  # works on an interrupted sweep
    assert report.returncode == 0
    with (sweep_dir / "results.csv").open() as fh:
        assert {r["name"]: r["status"] for r in csv.DictReader(fh)} == {"lr=0.05": "incomplete"}

    again = run_module("train", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Job lr=0.05: resuming from" in again.stdout + again.stderr
    assert statuses(sweep_dir) == {"lr=0.05": "ok", "lr=0.1": "ok"}
    assert [r["epoch"] for r in read_history(sweep_dir / "lr=0.05" / "metrics.csv")] == [0, 1, 2]


def test_two_sweeps_started_together_get_their_own_folders(tmp_path: Path, mnist_root: Path) -> None:
    args = ["-m", "optimizer.lr=0.01", *TINY, "trainer.max_epochs=1", "test=false", f"data.root={mnist_root}"]
    procs = [start(tmp_path, *args) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    folders = list((tmp_path / "outputs" / "train" / "multiruns").iterdir())
    assert len(folders) == 2
    assert all((f / "0" / "status.json").is_file() for f in folders)  # nothing varies: job number


def lr_pair_sweep(tmp_path: Path, mnist_root: Path, *extra: str) -> Path:
    """A two-job sweep over lr, which must finish with both jobs ok."""
    sweep_dir = tmp_path / "sweep"
    done = sweep(
        tmp_path,
        "optimizer.lr=0.01,0.1",
        *TINY,
        *extra,
        f"data.root={mnist_root}",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert statuses(sweep_dir) == {"lr=0.01": "ok", "lr=0.1": "ok"}
    return sweep_dir


RENDEZVOUS = """
import os
import time
from pathlib import Path

import pytorch_lightning as pl


class Rendezvous(pl.Callback):
    \"\"\"Each job says it is training, then waits for the others to say so: jobs that run one
    after the other never meet, and the first one fails after a minute.\"\"\"

    def __init__(self, folder: str, jobs: int):
        self.folder, self.jobs = Path(folder), jobs

    def on_train_start(self, trainer, pl_module):
        (self.folder / f"{os.getpid()}.training").touch()
        deadline = time.monotonic() + 60
        while len(list(self.folder.glob("*.training"))) < self.jobs:
            if time.monotonic() > deadline:
                raise RuntimeError("the other job never trained while this one did")
            time.sleep(0.05)
"""


def test_joblib_runs_jobs_in_parallel_without_oversubscribing(
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two joblib jobs meet while both train (a condition, not a timing: a user's own callback makes
    each wait for the other), each with half the cores as its torch threads."""
    (tmp_path / "rendezvous.py").write_text(RENDEZVOUS)
    (tmp_path / "meet").mkdir()
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    meet = [
        "+callbacks.rendezvous._target_=rendezvous.Rendezvous",
        f"+callbacks.rendezvous.folder={tmp_path / 'meet'}",
        "+callbacks.rendezvous.jobs=2",
    ]
    sweep_dir = lr_pair_sweep(
        tmp_path, mnist_root, "test=false", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *meet
    )
    assert len(list((tmp_path / "meet").glob("*.training"))) == 2  # two processes
    cores = len(os.sched_getaffinity(0))
    for job in ("lr=0.01", "lr=0.1"):
        assert f"torch threads: {max(1, cores // 2)}" in (sweep_dir / job / "train.log").read_text()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path: Path, mnist_root: Path) -> None:
    """Same global batch (2 x 128 against 1 x 256): same accuracy within a point, one folder."""
    common = [
        "model=mlp",
        "optimizer.lr=0.1",
        "trainer.max_epochs=1",
        "callbacks=none",
        f"data.root={mnist_root}",
    ]
    accs = {}
    for name, extra in (
        ("single", ["data.batch_size=256"]),
        ("ddp", ["trainer=ddp_cpu", "data.batch_size=128"]),
    ):
        (tmp_path / name).mkdir()
        done = run_module("train", *common, *extra, cwd=tmp_path / name)
        assert done.returncode == 0, done.stderr[-3000:]
        runs = list((tmp_path / name / "outputs" / "train" / "runs").iterdir())
        assert len(runs) == 1  # one folder per run, not one per rank
        assert json.loads((runs[0] / "status.json").read_text())["status"] == "ok"
        accs[name] = json.loads((runs[0] / "status.json").read_text())["metrics"]["test/acc"]
    assert abs(accs["single"] - accs["ddp"]) <= 0.01, accs


@pytest.mark.slow
def test_ddp_inside_a_multirun(tmp_path: Path, mnist_root: Path) -> None:
    sweep_dir = lr_pair_sweep(tmp_path, mnist_root, "trainer=ddp_cpu")
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["lr=0.01", "lr=0.1"]


def test_job_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SWEPT_ENV, "data.batch_size,optimizer.lr")
    assert (
        job_name(["data.batch_size=64", "optimizer.lr=0.01", "trainer.max_epochs=3"], 0)
        == "batch_size=64,lr=0.01"
    )
    monkeypatch.setenv(SWEPT_ENV, "model.hidden,other.hidden")
    assert job_name(["model.hidden=10", "+other.hidden=3"], 0) == "model.hidden=10,other.hidden=3"
    monkeypatch.setenv(SWEPT_ENV, "")
    assert job_name(["optimizer.lr=0.1"], 3) == "3"
    monkeypatch.delenv(SWEPT_ENV)
    assert job_name(["data.root=/a/b", "model=mlp"], 7) == "model=mlp"
    assert job_name(["data.root=/a/b"], 7) == "7"
    long = job_name([f"k{i}=value{i}" for i in range(40)], 0)
    assert len(long) <= 150 and long != job_name([f"k{i}=value{i}" for i in range(41)], 0)


def test_a_sweep_hands_its_state_to_its_jobs_and_takes_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment variables a sweep passes to its jobs (the swept keys, the MLflow parent run)
    are set when it starts and put back as they were when it ends: a second run in the same process
    inherits nothing, and a value the user had is theirs again."""
    monkeypatch.delenv(SWEPT_ENV, raising=False)
    monkeypatch.setenv(PARENT_ENV, "the user's own")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = compose(
        "config",
        ["logger=mlflow", f"logger.mlflow.tracking_uri={store}", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        hydra=True,
    )
    callback = SweepCallback()
    callback.on_multirun_start(config)
    assert os.environ[SWEPT_ENV] == "" and os.environ[PARENT_ENV] not in ("", "the user's own")
    callback.on_multirun_end(config)  # no job ran: nothing to report, the state is taken back
    assert SWEPT_ENV not in os.environ and os.environ[PARENT_ENV] == "the user's own"


def test_the_old_name_of_the_local_launcher_says_its_new_one(tmp_path: Path) -> None:
    """hydra/launcher=submitit_local (the name before local_cluster) still composes mnist-exp's
    launcher (test_sweep_presets_compose), and says the new name in one line; here with a value that
    is refused, so nothing runs."""
    done = sweep(tmp_path, "hydra/launcher=submitit_local", "optimizer.lr=-1,0.1")
    assert done.returncode == 2 and "optimizer.lr must be a finite number > 0" in done.stderr
    assert "hydra/launcher=submitit_local is now hydra/launcher=local_cluster" in done.stderr


def test_sweep_presets_compose() -> None:
    grid_cfg = compose("config", ["hparams_search=batch_lr"], hydra=True)
    optuna_cfg = compose("config", ["hparams_search=optuna"], hydra=True)
    slurm = compose("config", ["hydra/launcher=slurm", "trainer=ddp_cpu"], hydra=True)
    with (
        warnings.catch_warnings()
    ):  # no automatic schema matching (deprecated by Hydra): ours replaces theirs
        warnings.simplefilter("error")
        local = compose("config", ["hydra/launcher=local_cluster"], hydra=True)
        old = compose("config", ["hydra/launcher=submitit_local"], hydra=True)  # the earlier name
    assert str(grid_cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert dict(grid_cfg.hydra.sweeper.params) == {
        "data.batch_size": "32,64,128,256",
        "optimizer.lr": "0.001,0.01,0.1",
    }
    assert grid_cfg.optimized_metric == "val/acc_best"
    cv = compose("config", ["hparams_search=cv", "data=kmnist"], hydra=True)  # k-fold, any data kind
    assert dict(cv.hydra.sweeper.params) == {"data.fold": "range(5)"} and cv.data.folds == 5
    assert cv.data.dataset == "kmnist" and str(cv.hydra.mode) == "RunMode.MULTIRUN"
    assert optuna_cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert optuna_cfg.hydra.sweeper.direction == "maximize"
    assert optuna_cfg.hydra.sweeper.pruner._target_ == "optuna.pruners.MedianPruner"
    assert "tag(log" in optuna_cfg.hydra.sweeper.params["optimizer.lr"]
    assert slurm.hydra.launcher._target_ == "hydra_plugins.mnist_exp_launchers.launchers.SlurmLauncher"
    assert slurm.hydra.launcher.tasks_per_node == 2  # one SLURM task per DDP rank
    assert slurm.hydra.launcher.max_num_timeout > 0  # requeued at the time limit: runs resume exactly
    assert local.hydra.launcher._target_ == "hydra_plugins.mnist_exp_launchers.launchers.LocalLauncher"
    assert local.hydra.launcher.stderr_to_stdout is True and local.hydra.launcher.timeout_min == 60
    assert old.hydra.launcher == local.hydra.launcher
    for trainer in ("ddp", "ddp_cpu"):
        cfg = compose_cfg("config", [f"trainer={trainer}"])
        assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2
