"""Real training through train(cfg) on the real MNIST, with small limits; eval of its checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mnist_exp.pipelines.run.evaluate import evaluate
from mnist_exp.setup.config import CONF_DIR
from tests.conftest import QUICK, REPO, compose_cfg, run_module, scalars


@pytest.mark.parametrize("model", ["mlp", "lenet"])
def test_train_then_eval_gives_the_same_test_accuracy(runs, tmp_path: Path, model: str) -> None:
    cfg, metrics, run = runs[model]
    for key in ("train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", "test/acc"):
        assert key in metrics
    assert metrics["test/acc"] > 0.5  # 60 steps are enough to beat chance by far (MLP and LeNet)
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and len(ckpts) == 2
    logged = scalars(run)
    assert len(logged["val/acc"]) == 2 and len(logged["train/loss"]) == 2
    assert logged["val/acc"][-1] == pytest.approx(metrics["val/acc"])
    assert logged["test/acc"] == [pytest.approx(metrics["test/acc"])]
    best = max(logged["val/acc"])
    assert metrics["val/acc_best"] == pytest.approx(best)

    best_ckpt = next(p for p in (run / "checkpoints").glob("epoch_*.ckpt"))
    eval_cfg = compose_cfg(
        "eval",
        [
            f"ckpt_path={best_ckpt}",
            f"data.root={cfg.data.root}",
            f"paths.output_dir={tmp_path / 'eval'}",
            "trainer=cpu",
        ],
    )
    assert evaluate(eval_cfg)["test/acc"] == metrics["test/acc"]


@pytest.mark.slow
def test_cli_trains_and_eval_prints_the_same_accuracy(mnist_root: Path, tmp_path: Path) -> None:
    """The user's path: the console entry point, a run folder under outputs/, then mnist-exp-eval."""
    train_run = run_module("train", "model=mlp", *QUICK, f"data.root={mnist_root}", cwd=tmp_path)
    assert train_run.returncode == 0, train_run.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    assert (run / ".hydra" / "config.yaml").is_file()
    assert list(run.glob("events.out.tfevents.*"))
    line = next(x for x in train_run.stdout.splitlines() if x.startswith("test/acc:"))
    best = next((run / "checkpoints").glob("epoch_*.ckpt"))
    eval_run = run_module("eval", f"ckpt_path={best}", f"data.root={mnist_root}", cwd=tmp_path)
    assert eval_run.returncode == 0, eval_run.stderr[-3000:]
    assert line in eval_run.stdout  # "test/acc: NN.NN%" identical
    # quiet output: no Lightning tips or notes, no deprecation warnings, no model-summary table
    for output in (train_run.stdout + train_run.stderr, eval_run.stdout + eval_run.stderr):
        for noise in ("Tip:", "GPU available", "was configured", "deprecated", "FLOPs", "Warning"):
            assert noise not in output, noise
    # the logs hold the run: a line per epoch with its metrics, then the test results
    log = (run / "train.log").read_text()
    assert "epoch 0: train/loss" in log and "epoch 1: train/loss" in log and "val/acc" in log
    assert "test/acc" in log and "parameters" in log
    eval_log = next((tmp_path / "outputs" / "eval" / "runs").glob("*/eval.log")).read_text()
    assert "test/acc" in eval_log and str(best) in eval_log


def test_missing_data_root_is_one_clear_message(tmp_path: Path) -> None:
    # data.download=false: the refusal, not a machine without internet, is what is tested
    result = run_module("train", f"data.root={tmp_path / 'nowhere'}", "data.download=false", cwd=tmp_path)
    assert result.returncode == 2
    assert "MNIST not found" in result.stderr and "data.root" in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_configs_live_at_the_top_and_every_group_ships() -> None:
    """conf/ at the top of the checkout is the one copy (the editable install reads it); every
    folder of it is a package in pyproject.toml, so the wheel carries each group."""
    assert Path(CONF_DIR) == REPO / "conf" and not (REPO / "mnist_exp" / "conf").exists()
    listed = set(re.findall(r'"(mnist_exp\.conf[\w.]*)"', (REPO / "pyproject.toml").read_text()))
    folders = {
        "mnist_exp." + p.relative_to(REPO).as_posix().replace("/", ".")
        for p in (REPO / "conf").rglob("*")
        if p.is_dir()
    }
    assert folders | {"mnist_exp.conf"} <= listed
