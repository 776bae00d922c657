"""A machine's own settings in an untracked local config (conf/local/default.yaml of the folder a
command runs from, or of --config-dir): every command composes it, a run's provenance records it,
and one that does not compose is refused in one line."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, refused_plainly, run_module


def local_config(folder: Path, text: str) -> Path:
    path = folder / "local" / "default.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(f"# @package _global_\n{text}")
    return path


def command(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A user's command without $MNIST_EXP_DATA: only the local config says where MNIST is."""
    return run_module(name, *args, cwd=cwd, unset=("MNIST_EXP_DATA",))


@pytest.mark.slow
def test_a_local_config_gives_every_command_its_settings(tmp_path: Path, mnist_root: Path) -> None:
    path = local_config(
        tmp_path / "conf", f"defaults:\n  - override /logger: csv\ndata:\n  root: {mnist_root}\n"
    )
    train = command("train", "model=mlp", "debug=limit", "callbacks.feature_maps=null", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    [run] = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert (run / "csv").is_dir() and not list(run.glob("events.out.tfevents*"))  # its logger
    [start] = json.loads((run / "provenance.json").read_text())["starts"]
    recorded = start["local_config"]
    assert recorded["file"] == str(path.resolve()) and recorded["text"] == path.read_text()
    assert recorded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    evaluated = command("eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", cwd=tmp_path)
    assert evaluated.returncode == 0 and "test/acc" in evaluated.stdout, evaluated.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"  # a config folder of the user's (--config-dir) holds one too
    elsewhere.mkdir()
    local_config(tmp_path / "myconf", "data:\n  root: /somewhere/mnist\n")
    shown = command("train", "--config-dir", str(tmp_path / "myconf"), "--cfg", "job", cwd=elsewhere)
    assert shown.returncode == 0 and "root: /somewhere/mnist" in shown.stdout, shown.stderr


def test_a_local_config_that_does_not_compose_is_refused_in_one_line(tmp_path: Path) -> None:
    local_config(
        tmp_path / "conf", "hydra:\n  launcher:\n    partition: gpu\n"
    )  # basic launcher: no partition
    done = command("train", "debug=fdr", cwd=tmp_path)
    refused_plainly(
        done, "Your local config (conf/local/default.yaml) does not compose with this command line"
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "outputs").exists()


def test_the_local_config_is_untracked_and_listed_in_help(tmp_path: Path) -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "conf/local/default.yaml"], cwd=REPO, capture_output=True
    )
    assert ignored.returncode == 0  # a fresh clone's git ignores it
    shown = command("train", "--help", cwd=tmp_path)
    assert "local:" in shown.stdout and "conf/local/default.yaml" in shown.stdout
