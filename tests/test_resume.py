"""Never lose a run: interrupt (SIGTERM, Ctrl-C) and resume exactly, atomic checkpoints, divergence,
no overwriting. Real subprocess runs on the real MNIST."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mnist_exp.records.callbacks import AtomicCheckpointIO
from mnist_exp.records.history import read_history
from tests.conftest import QUIET, run_module, scalars

RUN = ["model=mlp", "trainer.max_epochs=4", "test=false", "callbacks.progress_bar.refresh_rate=1000"]


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.train", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def status(run: Path) -> str:
    return json.loads((run / "status.json").read_text())["status"]


@pytest.mark.slow
def test_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path: Path, mnist_root: Path) -> None:
    data = f"data.root={mnist_root}"
    straight = tmp_path / "straight"
    done = run_module("train", *RUN, data, f"hydra.run.dir={straight}", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    run = tmp_path / "interrupted"
    proc = start(tmp_path, *RUN, data, f"hydra.run.dir={run}")
    wait_for(run / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert f"Resume it with: mnist-exp-train resume={run}" in err
    assert "Traceback" not in out + err
    assert status(run) == "interrupted"
    assert len(read_history(run / "metrics.csv")) < 4
    torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)  # loadable

    resumed = run_module("train", f"resume={run}", cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert status(run) == "ok"
    assert read_history(run / "metrics.csv") == read_history(straight / "metrics.csv")  # every digit
    logged, reference = scalars(run), scalars(straight)
    for key in ("train/loss", "val/acc", "val/acc_best"):
        assert logged[key] == reference[key]  # the same TensorBoard run continued, no duplicates
    assert not list((tmp_path / "outputs").glob("*/runs/*"))  # nothing written elsewhere


def test_ctrl_c_stops_cleanly_with_the_resume_hint(tmp_path: Path, mnist_root: Path) -> None:
    run = tmp_path / "run"
    proc = start(tmp_path, *RUN, f"data.root={mnist_root}", f"hydra.run.dir={run}")
    wait_for(run / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "resume=" in err and "Traceback" not in err
    assert status(run) == "interrupted"


def test_divergence_stops_at_once(tmp_path: Path, mnist_root: Path) -> None:
    run = tmp_path / "run"
    result = run_module(
        "train",
        *RUN,
        "model.activation=identity",
        "optimizer.lr=1000",
        f"data.root={mnist_root}",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 2
    assert "Training diverged: the loss became" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    info = json.loads((run / "status.json").read_text())
    assert info["status"] == "diverged" and info["epoch"] == 0


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("killed mid-write")


def test_a_failed_checkpoint_write_leaves_the_previous_one(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "w": torch.ones(1000)}, path)
    with pytest.raises(RuntimeError, match="killed mid-write"):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(1000), "bad": Unpicklable()}, path)
    assert torch.load(path, weights_only=False)["epoch"] == 1


def test_no_run_writes_into_another_runs_folder(tmp_path: Path, mnist_root: Path) -> None:
    occupied = tmp_path / "old"
    (occupied / "checkpoints").mkdir(parents=True)
    (occupied / "metrics.csv").write_text("epoch\n0\n")
    result = run_module(
        "train", f"hydra.run.dir={occupied}", f"data.root={mnist_root}", cwd=tmp_path, timeout=300
    )
    assert result.returncode == 2 and "holds another run's results" in result.stderr
    assert (occupied / "metrics.csv").read_text() == "epoch\n0\n"
    assert not (occupied / ".hydra").exists()


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path, mnist_root: Path) -> None:
    quick = ["model=mlp", "debug=limit", "trainer.max_epochs=1", "test=false", f"data.root={mnist_root}"]
    procs = [start(tmp_path, *quick) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    runs = list((tmp_path / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 2
    assert all((r / "status.json").is_file() for r in runs)


@pytest.mark.slow
def test_a_run_ended_early_by_stop_after_epochs_resumes_to_its_planned_epochs(
    tmp_path: Path, mnist_root: Path
) -> None:
    """stop_after_epochs=1 of 2 planned epochs ends a run `ok` after one: resume continues it (the
    schedule planned for 2), here with stop_after_epochs=null, which a resume may change."""
    run = tmp_path / "run"
    args = [*QUIET, "logger=none", f"data.root={mnist_root}", "stop_after_epochs=1", f"hydra.run.dir={run}"]
    done = run_module("train", *args, cwd=tmp_path)
    assert done.returncode == 0 and status(run) == "ok", done.stderr[-2000:]
    assert len(read_history(run / "metrics.csv")) == 1
    done = run_module("train", f"resume={run}", "stop_after_epochs=null", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [int(r["epoch"]) for r in read_history(run / "metrics.csv")] == [0, 1]
    done = run_module("train", f"resume={run}", cwd=tmp_path)  # now it has run all it planned
    assert done.returncode == 2 and "already finished its 2 epochs" in done.stderr, done.stderr[-2000:]
