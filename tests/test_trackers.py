"""MLflow, Weights & Biases and several loggers at once, on real tiny runs: MLflow's own client and
its real server (on 127.0.0.1) read the SQLite store back; TensorBoard's reader the event files;
W&B writes its offline run into the run folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from mnist_exp.records.history import read_history
from mnist_exp.records.status import read_status
from tests import wandb_records
from tests.conftest import run_module, scalars

TINY = ["model=mlp", "debug=limit", "callbacks.feature_maps=null"]


def store(cwd: Path) -> str:
    return f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}"


def runs_of(uri: str) -> list:
    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids)


@pytest.fixture(scope="module")
def mlflow_sweep(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """A 2-job sweep logging to MLflow (the default store, under outputs/) and W&B, run once."""
    cwd = tmp_path_factory.mktemp("mlflow")
    done = run_module(
        "train", "-m", "logger=[mlflow,wandb]", "optimizer.lr=0.01,0.1", *TINY, f"data.root={mnist_root}",
        f"hydra.sweep.dir={cwd / 'sweep'}", cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return cwd


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_with_one_nested_run_per_job(mlflow_sweep: Path) -> None:
    assert (mlflow_sweep / "outputs" / "mlflow.db").is_file()
    client, runs = MlflowClient(store(mlflow_sweep)), runs_of(store(mlflow_sweep))
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and sorted(r.info.run_name for r in nested) == ["lr=0.01", "lr=0.1"]
    assert {"summary.csv", "report.md"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert parent.data.tags["mnist_exp.status"] == "ok"
    for run in nested:
        folder = Path(run.data.tags["mnist_exp.run_dir"])
        assert folder == mlflow_sweep / "sweep" / run.info.run_name
        assert run.data.params["optimizer.lr"] == run.info.run_name.split("=")[1]
        assert run.data.tags["mnist_exp.status"] == read_status(folder)["status"] == "ok"
        logged = client.get_metric_history(run.info.run_id, "val/acc")
        values = [m.value for m in sorted(logged, key=lambda m: (m.step, m.timestamp))]
        assert values == [row["val/acc"] for row in read_history(folder / "metrics.csv")]
        artifacts = all_artifacts(client, run.info.run_id)
        assert {"accuracy.png", "confusion_matrix.png"} <= set(artifacts)
        assert not any(p.endswith(".ckpt") for p in artifacts)  # checkpoints only when asked
        assert (folder / "checkpoints" / "last.ckpt").is_file()  # the run folder keeps its own


@pytest.mark.slow
def test_trackers_show_the_experiment_once_and_can_recreate_it(mlflow_sweep: Path) -> None:
    """Two runs that differ only in lr differ in one MLflow param, named as the user types it; no
    copies under module.*, no callback or logger internals; the metric is `lr`; the resolved config,
    the overrides and provenance.json are artifacts. W&B's records hold the same params and files,
    and the status status.json says."""
    client = MlflowClient(store(mlflow_sweep))
    nested = sorted(
        (r for r in runs_of(store(mlflow_sweep)) if "mlflow.parentRunId" in r.data.tags),
        key=lambda r: r.info.run_name,
    )
    first, second = (r.data.params for r in nested)
    assert {k for k in first.keys() | second.keys() if first.get(k) != second.get(k)} == {"optimizer.lr"}
    internals = (
        "module.net",
        "module.optimizer",
        "module.scheduler",
        "callbacks",
        "logger",
        "hydra",
        "paths",
    )
    assert not [k for k in first if k.startswith(internals)], sorted(first)
    assert (first["model"], first["model.hidden"], first["data.batch_size"]) == ("mlp", "300", "128")
    for run in nested:
        folder = Path(run.data.tags["mnist_exp.run_dir"])
        assert "lr" in run.data.metrics and not [k for k in run.data.metrics if k.startswith("lr-")]
        artifacts = set(all_artifacts(client, run.info.run_id))
        assert {"config.yaml", "overrides.yaml", "provenance/provenance.json"} <= artifacts
        local = Path(client.download_artifacts(run.info.run_id, "config.yaml", str(folder.parent)))
        resolved = OmegaConf.load(local)
        local.unlink()
        assert str(resolved.optimizer.lr) == run.data.params["optimizer.lr"]
        assert "${" not in local.name and resolved.paths.output_dir == str(folder)  # resolved
        overrides = client.download_artifacts(run.info.run_id, "overrides.yaml", str(folder.parent))
        assert OmegaConf.load(overrides) == OmegaConf.load(folder / ".hydra" / "overrides.yaml")
        Path(overrides).unlink()
        config = wandb_records.merged(folder, "config")
        shown = {k: v for k, v in config.items() if not k.startswith(("_", "provenance."))}
        assert shown == run.data.params
        assert {
            "mnist_exp/config.yaml",
            "mnist_exp/overrides.yaml",
            "provenance.json",
        } <= wandb_records.files(folder)
        summary = wandb_records.merged(folder, "summary")
        assert summary["mnist_exp.status"] == read_status(folder)["status"] == "ok"


@pytest.mark.slow
def test_wandb_says_the_status_of_a_requeue_that_submitit_refused(tmp_path: Path) -> None:
    """A run closes its W&B run for a requeue (persist); submitit then refuses the requeue and the
    run is recorded interrupted: W&B's summary says interrupted too, in the same W&B run."""
    code = (
        "import sys; from mnist_exp.records.wandb_run import WandbRun\n"
        "run = WandbRun(run_dir=sys.argv[1], project='mnist-exp')\n"
        "run.record_status('running'); run.persist(); run.record_status('interrupted')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert wandb_records.merged(tmp_path / "run", "summary")["mnist_exp.status"] == "interrupted"
    # offline-run-<date>_<time>-<id>, and W&B adds -1 to a second folder of the same second
    ids = {p.name.split("-")[3] for p in (tmp_path / "run" / "wandb").glob("offline-run-*")}
    assert ids == {(tmp_path / "run" / ".wandb_run_id").read_text()}  # one W&B run


def all_artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for item in client.list_artifacts(run_id, path):
        out += all_artifacts(client, run_id, item.path) if item.is_dir else [item.path]
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_mlflow_server_on_the_store_answers_its_runs_search(mlflow_sweep: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", store(mlflow_sweep),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=mlflow_sweep, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "mlflow server did not answer within 120 s"
                time.sleep(0.5)
        ids = [r.info.experiment_id for r in runs_of(store(mlflow_sweep))]
        request = urllib.request.Request(
            f"{base}/api/2.0/mlflow/runs/search",
            data=json.dumps({"experiment_ids": sorted(set(ids))}).encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
        names = sorted(r["info"]["run_name"] for r in answer["runs"])
        assert names == sorted([*(f"lr={lr}" for lr in ("0.01", "0.1")), "sweep"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


@pytest.mark.slow
def test_tensorboard_and_mlflow_at_once(tmp_path: Path, mnist_root: Path) -> None:
    asked = ["logger=[tensorboard,mlflow]", "logger.mlflow.log_model=true"]
    done = run_module("train", *asked, *TINY, f"data.root={mnist_root}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    [folder] = (tmp_path / "outputs" / "train" / "runs").iterdir()
    history = [row["val/acc"] for row in read_history(folder / "metrics.csv")]
    assert scalars(folder)["val/acc"] == pytest.approx(history)
    [run] = runs_of(store(tmp_path))
    assert run.info.run_name == folder.name and run.data.tags["mnist_exp.status"] == "ok"
    assert run.data.metrics["val/acc"] == history[-1]
    client = MlflowClient(store(tmp_path))
    copied = [p for p in all_artifacts(client, run.info.run_id) if p.endswith(".ckpt")]
    assert copied and (folder / "checkpoints" / "last.ckpt").is_file()  # asked for: copied, and kept


@pytest.mark.slow
def test_four_parallel_jobs_lose_nothing_in_one_store(tmp_path: Path, mnist_root: Path) -> None:
    done = run_module(
        "train", "-m", "logger=mlflow", "optimizer.lr=0.01,0.1", "data.batch_size=64,128", *TINY,
        f"data.root={mnist_root}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    client, runs = MlflowClient(store(tmp_path)), runs_of(store(tmp_path))
    nested = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(nested) == 4 and len(runs) == 5
    for run in nested:
        folder = Path(run.data.tags["mnist_exp.run_dir"])
        history = read_history(folder / "metrics.csv")
        for key in ("val/acc", "train/loss"):
            logged = client.get_metric_history(run.info.run_id, key)
            values = [m.value for m in sorted(logged, key=lambda m: (m.step, m.timestamp))]
            assert values == [row[key] for row in history], (folder.name, key)
        assert len(run.data.params) == len(nested[0].data.params) > 50


@pytest.mark.slow
def test_wandb_trains_offline_into_the_run_folder(tmp_path: Path, mnist_root: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    done = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.train", "logger=wandb", *TINY, f"data.root={mnist_root}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**env, "HOME": str(home)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [folder] = (tmp_path / "outputs" / "train" / "runs").iterdir()
    [offline] = (folder / "wandb").glob("offline-run-*")
    [record] = offline.glob("run-*.wandb")
    data = record.read_bytes()
    assert b"optimizer.lr" in data and folder.name.encode() in data and b"val/acc" in data
    pictures = {p.name.split("_")[0] for p in (offline / "files" / "media" / "images").iterdir()}
    assert {"accuracy", "confusion"} <= pictures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "outputs"]  # nothing written elsewhere
    assert not [p for p in home.rglob("*") if "wandb" in p.name]  # W&B's own logs: in the run folder too
    assert (folder / "wandb" / ".cache").is_dir()


@pytest.mark.parametrize(
    "uri, words",
    [
        ("{tmp}/store", "file store"),
        ("sqlite:///{tmp}/a_file/mlflow.db", "cannot write"),
        ("nosuch://host/db", "not a store MLflow can open"),
        ("sqlite:////proc/mlflow/mlflow.db", "cannot write in /proc"),  # os.access says yes to root
        ("http://127.0.0.1:{port}", "no MLflow server answers there"),
    ],
)
def test_a_store_that_cannot_be_opened_is_refused_at_start(tmp_path: Path, uri: str, words: str) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    uri = uri.format(tmp=tmp_path, port=free_port())  # a port nothing listens on
    done = run_module("train", "logger=mlflow", f"logger.mlflow.tracking_uri='{uri}'", cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and not (tmp_path / "outputs").exists()


def test_a_store_of_a_newer_mlflow_is_refused_at_start(tmp_path: Path) -> None:
    """A store whose schema revision the installed MLflow does not know (written by a newer one,
    as CI's lowest-versions job met it): one message at start instead of MLflow's traceback later.
    The store here is made with the installed MLflow, then its revision is set to one it lacks."""
    path = tmp_path / "stores" / "mlflow db"  # a space in the path, as a user's may have
    path.parent.mkdir()
    MlflowClient(f"sqlite:///{path}").search_experiments()  # MLflow creates its tables
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    done = run_module(
        "train", "logger=mlflow", f"logger.mlflow.tracking_uri='sqlite:///{path}'", cwd=tmp_path
    )
    assert done.returncode == 2 and "was written by a newer MLflow" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and not (tmp_path / "outputs").exists()


def without(package: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The train command on a machine where `package` cannot be imported (as if not installed)."""
    code = (
        f"import sys; sys.modules[{package!r}] = None; sys.argv = ['mnist-exp-train', *sys.argv[1:]]; "
        "from mnist_exp.cli.train import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_a_logger_without_its_package_is_refused_with_the_install_line(tmp_path: Path) -> None:
    done = without("wandb", "logger=[tensorboard,wandb]", cwd=tmp_path)
    assert done.returncode == 2 and "pip install 'mnist-exp[wandb]'" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_logger_many_takes_the_installed_ones(tmp_path: Path, mnist_root: Path) -> None:
    done = without("wandb", "logger=many", *TINY, f"data.root={mnist_root}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    [folder] = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert "wandb left out" in (folder / "train.log").read_text()
    assert "val/acc" in scalars(folder) and (folder / "csv" / "metrics.csv").is_file()
    assert not (folder / "wandb").exists() and len(runs_of(store(tmp_path))) == 1


@pytest.mark.slow
def test_trackers_across_resume_a_changed_store_and_a_fresh_start(tmp_path: Path, mnist_root: Path) -> None:
    """A resume continues the run's MLflow run and W&B run (each epoch's val/acc logged once); a
    kept MLflow run id the store does not know starts a new run with one line; a run started from
    scratch in a folder that kept an id (a sweep's job retried) starts a fresh history."""
    run, uri = tmp_path / "run", store(tmp_path)
    limits = ["trainer.limit_train_batches=5", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2"]
    args = [
        "logger=[mlflow,wandb]",
        "model=mlp",
        *limits,
        "callbacks.feature_maps=null",
        f"data.root={mnist_root}",
    ]
    first = run_module("train", *args, "trainer.max_epochs=1", f"hydra.run.dir={run}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_module("train", f"resume={run}", "trainer.max_epochs=3", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    [continued] = runs_of(uri)
    logged = MlflowClient(uri).get_metric_history(continued.info.run_id, "val/acc")
    values = [m.value for m in sorted(logged, key=lambda m: m.step)]
    assert values == [row["val/acc"] for row in read_history(run / "metrics.csv")] and len(values) == 3
    wandb_id = (run / ".wandb_run_id").read_text()
    offline = sorted((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and all(p.name.endswith(f"-{wandb_id}") for p in offline)

    (run / ".mlflow_run_id").write_text("0" * 32)  # as if MLFLOW_TRACKING_URI had changed
    third = run_module("train", f"resume={run}", "trainer.max_epochs=4", cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "does not know this run's MLflow run 00000000" in (run / "train.log").read_text()
    assert "Traceback" not in third.stderr and len(runs_of(uri)) == 2

    retried = tmp_path / "retried"
    retried.mkdir()
    (retried / ".mlflow_run_id").write_text(continued.info.run_id)
    fresh = run_module("train", *args, "trainer.max_epochs=1", f"hydra.run.dir={retried}", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert (retried / ".mlflow_run_id").read_text() != continued.info.run_id and len(runs_of(uri)) == 3
    assert len(MlflowClient(uri).get_metric_history(continued.info.run_id, "val/acc")) == 3


@pytest.mark.slow
def test_two_runs_started_at_once_create_one_store_and_one_experiment(
    tmp_path: Path, mnist_root: Path
) -> None:
    command = [sys.executable, "-m", "mnist_exp.cli.train", "logger=mlflow", *TINY, f"data.root={mnist_root}"]
    procs = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    names = [e.name for e in MlflowClient(store(tmp_path)).search_experiments()]
    assert names.count("train") == 1 and len(runs_of(store(tmp_path))) == 2
