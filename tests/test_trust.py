"""Run records that can be trusted under any input: resume records what trained, guarded folders,
shell-safe paths, Lightning's clipping and accumulation, divergence by size, DDP counting each
image once, and the smaller cases. Real subprocesses on the real MNIST."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from mnist_exp.core.data import TensorBatches
from mnist_exp.pipelines.report.sweep_report import collect
from mnist_exp.pipelines.run.train import train
from mnist_exp.records.history import read_history
from tests.conftest import QUIET, cli_run, compose_cfg, run_module
from tests.test_resume import start, status, wait_for


@pytest.mark.version_free
def test_resume_refuses_a_setting_that_would_change_what_trains(tmp_path: Path, finished_run: Path) -> None:
    run = finished_run
    before = (run / ".hydra" / "config.yaml").read_text()
    result = run_module("train", f"resume={run}", "optimizer.lr=0.5", "trainer.max_epochs=2", cwd=tmp_path)
    assert result.returncode == 2 and "optimizer.lr=0.5" in result.stderr and "Traceback" not in result.stderr
    assert (run / ".hydra" / "config.yaml").read_text() == before  # the record is untouched


@pytest.mark.slow
def test_resume_extends_max_epochs_and_records_it_once(tmp_path: Path, mnist_root: Path) -> None:
    run = cli_run(tmp_path, mnist_root)
    again = run_module("train", f"resume={run}", cwd=tmp_path)
    assert (
        again.returncode == 2 and "already finished" in again.stderr and "trainer.max_epochs" in again.stderr
    )
    longer = run_module("train", f"resume={run}", "trainer.max_epochs=2", cwd=tmp_path)
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert [r["epoch"] for r in read_history(run / "metrics.csv")] == [0, 1]
    overrides = [str(o) for o in OmegaConf.load(run / ".hydra" / "overrides.yaml")]
    assert [o for o in overrides if o.startswith("trainer.max_epochs")] == ["trainer.max_epochs=2"]
    assert OmegaConf.load(run / ".hydra" / "config.yaml").trainer.max_epochs == 2
    assert json.loads((run / "status.json").read_text())["status"] == "ok"


@pytest.mark.version_free
def test_a_quoted_run_folder_is_guarded_too(tmp_path: Path, mnist_root: Path, finished_run: Path) -> None:
    run = finished_run
    before = (run / "status.json").read_text()
    result = run_module("train", *QUIET, f'hydra.run.dir="{run}"', f"data.root={mnist_root}", cwd=tmp_path)
    assert result.returncode == 2 and "holds another run's results" in result.stderr
    assert (run / "status.json").read_text() == before and not list(run.glob("checkpoints/last-v*.ckpt"))


@pytest.mark.version_free
def test_a_folder_in_use_is_refused_with_its_process(tmp_path: Path, mnist_root: Path) -> None:
    run = cli_run(tmp_path, mnist_root)
    with (run / ".lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        result = run_module("train", f"resume={run}", "trainer.max_epochs=2", cwd=tmp_path)
    assert result.returncode == 2 and f"in use by process {os.getpid()}" in result.stderr
    assert [r["epoch"] for r in read_history(run / "metrics.csv")] == [0]


@pytest.mark.slow
def test_a_run_in_a_folder_with_a_space_and_umlaut_resumes_by_its_printed_command(
    tmp_path: Path, mnist_root: Path
) -> None:
    run = tmp_path / "my runs" / "über"
    proc = start(
        tmp_path, *QUIET, "trainer.max_epochs=40", f"data.root={mnist_root}", f"hydra.run.dir='{run}'"
    )
    wait_for(run / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    command = re.search(r"Resume it with: (.+)", err).group(1)
    resumed = subprocess.run(
        ["bash", "-c", command.replace("mnist-exp-train", "python -m mnist_exp.cli.train", 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert status(run) == "ok" and len(read_history(run / "metrics.csv")) == 40


@pytest.mark.parametrize(("clip", "accumulate"), [(0.05, 1), (None, 2), (0.05, 2)])
def test_clipping_and_accumulation_equal_a_plain_loop(
    clip: float | None, accumulate: int, tmp_path: Path, mnist_root: Path
) -> None:
    overrides = ["model=mlp", "optimizer.lr=0.1", "trainer.max_epochs=1", "trainer.limit_train_batches=6"]
    overrides += ["trainer.limit_val_batches=1", "test=false", "callbacks=none", "logger=none"]
    overrides += [f"trainer.accumulate_grad_batches={accumulate}", f"data.root={mnist_root}"]
    if clip is not None:
        overrides.append(f"trainer.gradient_clip_val={clip}")
    cfg = compose_cfg("config", [*overrides, f"paths.output_dir={tmp_path / 'run'}"])
    seen = {}

    class Keep(pl_callback()):
        def on_train_end(self, trainer, pl_module) -> None:
            seen.update({k: v.clone() for k, v in pl_module.net.state_dict().items()})

    train(cfg, extra_callbacks=[Keep()])
    torch.manual_seed(cfg.seed)
    import pytorch_lightning as pl

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    net = instantiate(cfg.model)
    data = instantiate(cfg.data)
    data.setup()
    images, labels = data._sets["train"]
    batches = TensorBatches(images, labels, batch_size=128, shuffle=True, seed=cfg.seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for i, (x, y) in enumerate(batches):
        if i == 6:
            break
        (torch.nn.functional.cross_entropy(net(x), y) / accumulate).backward()
        if (i + 1) % accumulate == 0:
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            optimizer.step()
            optimizer.zero_grad()
    for key, value in net.state_dict().items():
        torch.testing.assert_close(seen[key], value, rtol=1e-5, atol=1e-6)


def pl_callback():
    import pytorch_lightning as pl

    return pl.Callback


def test_an_exploding_loss_is_divergence_even_when_finite(tmp_path: Path, mnist_root: Path) -> None:
    run = tmp_path / "run"
    result = run_module(
        "train", *QUIET, "optimizer.lr=1000", f"data.root={mnist_root}", f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert (
        result.returncode == 2 and "Training diverged" in result.stderr and "module.max_loss" in result.stderr
    )
    assert json.loads((run / "status.json").read_text())["status"] == "diverged"


@pytest.mark.slow
def test_ddp_with_three_processes_counts_each_test_image_once(tmp_path: Path, mnist_root: Path) -> None:
    run = tmp_path / "run"
    args = ["model=mlp", "trainer=ddp_cpu", "trainer.devices=3", "trainer.max_epochs=1", "data.val_size=0"]
    args += ["trainer.limit_train_batches=4", "test_ckpt=last", "callbacks.feature_maps=null"]
    result = run_module("train", *args, f"data.root={mnist_root}", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = json.loads((run / "status.json").read_text())["metrics"]
    single = run_module(
        "eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"data.root={mnist_root}", cwd=tmp_path
    )
    assert single.returncode == 0, single.stderr[-2000:]
    assert f"test/acc: {100 * ddp['test/acc']:.2f}%" in single.stdout
    assert ddp["val/acc"] == pytest.approx(ddp["test/acc"], abs=1e-7)  # val_size=0: the same 10,000 images


@pytest.mark.version_free
def test_a_killed_run_is_seen_as_gone(tmp_path: Path, mnist_root: Path) -> None:
    sweep = tmp_path / "sweep"
    run = sweep / "job"
    proc = start(tmp_path, *QUIET, "trainer.max_epochs=40", f"data.root={mnist_root}", f"hydra.run.dir={run}")
    wait_for(run / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert status(run) == "running"  # nothing could write at a SIGKILL
    (job,) = collect(sweep)
    assert job["status"] == "incomplete" and "gone" in job["error"]


@pytest.mark.version_free
def test_a_run_without_checkpoints_says_why_it_cannot_resume(tmp_path: Path, mnist_root: Path) -> None:
    run = cli_run(tmp_path, mnist_root, "callbacks=none", base=["model=mlp", "debug=limit"])
    result = run_module("train", f"resume={run}", "trainer.max_epochs=2", cwd=tmp_path)
    assert result.returncode == 2 and "model_checkpoint" in result.stderr


def test_fast_dev_run_reports_no_results(tmp_path: Path, mnist_root: Path) -> None:
    run = tmp_path / "run"
    result = run_module(
        "train", "model=mlp", "debug=fdr", f"data.root={mnist_root}", f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/acc:" not in result.stdout and "fast_dev_run" in result.stdout
    info = json.loads((run / "status.json").read_text())
    assert info["status"] == "ok" and info["fast_dev_run"] is True and "metrics" not in info


@pytest.mark.version_free
def test_an_empty_data_root_is_left_as_it_was(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_module("train", f"data.root={empty}", "data.download=false", cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and "MNIST not found" in result.stderr
    assert list(empty.iterdir()) == []


def test_transparent_and_animated_pictures(runs, tmp_path: Path) -> None:
    from mnist_exp.core.images import load_image

    stroke = np.zeros((60, 60, 4), np.uint8)
    stroke[10:50, 27:33, 3] = 255  # a black "1" drawn on a transparent background: alpha only
    Image.fromarray(stroke, "RGBA").save(tmp_path / "one.png")
    digit = load_image(tmp_path / "one.png")
    assert digit.max() > 200 and digit[:, :5].max() == 0  # a light stroke on black, centred
    frames = [Image.new("L", (28, 28), c) for c in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(Exception, match="2 frames"):
        load_image(tmp_path / "anim.gif")


@pytest.mark.version_free
@pytest.mark.parametrize("command", ["eval", "predict"])
def test_eval_and_predict_never_write_into_a_run_folder(
    command: str, tmp_path: Path, mnist_root: Path, finished_run: Path
) -> None:
    run = finished_run
    before = (run / ".hydra" / "config.yaml").read_text()
    ckpt = run / "checkpoints" / "last.ckpt"
    extra = [f"images={tmp_path}"] if command == "predict" else [f"data.root={mnist_root}"]
    result = run_module(command, f"ckpt_path={ckpt}", *extra, f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 2 and "holds another run's results" in result.stderr
    assert (run / ".hydra" / "config.yaml").read_text() == before
