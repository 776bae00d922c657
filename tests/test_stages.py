"""A signal at any stage of a run (set-up, test) ends it at a safe point, with an honest status that
names the stage, and a resume does only what is missing: a finished fit is not trained again, the
test runs. Real processes, real signals; a callback module of the user's (in the test's folder) marks
the moment and holds the stage until the signal is sent."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from mnist_exp.records.history import read_history
from tests.conftest import run_module
from tests.test_resume import start, wait_for

STAGES = '''
import pathlib
import time

import pytorch_lightning as pl


def until_signalled(mark: pathlib.Path) -> None:
    """Mark the moment, then hold the stage until the test has sent its signal (it writes `sent`
    beside the mark): the signal lands in this stage by construction, not by a long enough sleep."""
    mark.touch()
    sent, deadline = mark.with_name("sent"), time.monotonic() + 120
    while not sent.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


class SlowSetUp(pl.Callback):
    """Built in the run's set-up: held there until the signal is sent."""

    def __init__(self, mark: str) -> None:
        until_signalled(pathlib.Path(mark))


class SlowTest(pl.Callback):
    """Holds the test's first batch until the signal is sent."""

    def __init__(self, mark: str) -> None:
        self.mark = pathlib.Path(mark)

    def on_test_batch_end(self, *args, **kwargs) -> None:
        if not self.mark.exists():
            until_signalled(self.mark)
'''
RUN = [
    "model=mlp",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=10",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=8",
    "test_ckpt=last",
    "callbacks.progress_bar.refresh_rate=1000",
]


def info(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


def stopped(tmp_path: Path, mnist_root: Path, callback: str, sig: signal.Signals) -> tuple[Path, str, dict]:
    """Start a run with the callback `stages.<callback>`, send `sig` once it marks its moment; the
    run folder, stderr and status.json, after checking how the process ended."""
    (tmp_path / "stages.py").write_text(STAGES)
    run, mark = tmp_path / "run", tmp_path / "mark"
    slow = [f"+callbacks.slow._target_=stages.{callback}", f"+callbacks.slow.mark={mark}"]
    proc = start(tmp_path, *RUN, *slow, f"data.root={mnist_root}", f"hydra.run.dir={run}")
    wait_for(mark, proc)
    proc.send_signal(sig)
    (tmp_path / "sent").touch()  # the stage may go on: the signal is on its way
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in out + err
    return run, err, info(run)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_in_the_test_is_recorded_and_a_resume_only_tests(
    tmp_path: Path, mnist_root: Path, sig: signal.Signals
) -> None:
    run, err, record = stopped(tmp_path, mnist_root, "SlowTest", sig)
    assert f"Stopped by {sig.name} in the test (the fit is complete: 2 epochs)" in err
    assert f"Resume it with: mnist-exp-train resume={run}" in err
    assert (record["status"], record["stage"]) == ("interrupted", "test")
    trained = (run / "metrics.csv").read_text()
    assert [r["epoch"] for r in read_history(run / "metrics.csv")] == [0, 1]

    resumed = run_module("train", f"resume={run}", "~callbacks.slow", cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    record = info(run)
    assert record["status"] == "ok" and "stage" not in record
    assert (run / "metrics.csv").read_text() == trained  # no epoch trained again
    assert record["metrics"]["test/ckpt_epoch"] == 1.0 and "test/acc" in record["metrics"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_in_the_set_up_is_recorded_before_any_training(
    tmp_path: Path, mnist_root: Path, sig: signal.Signals
) -> None:
    run, err, record = stopped(tmp_path, mnist_root, "SlowSetUp", sig)
    assert f"Stopped by {sig.name} in the set-up, before any training" in err
    assert "nothing to resume. Fix: start the run again." in err
    assert (record["status"], record["stage"]) == ("interrupted", "setup")
    assert not (run / "checkpoints" / "last.ckpt").exists()
