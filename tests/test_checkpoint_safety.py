"""A checkpoint is data, never code: one that would run code when unpickled is refused by every
command that takes one (exit code 2, one message), and its payload never runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import run_module


class Payload:
    """Unpickling this object opens (creates) a file: what a crafted checkpoint could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def crafted(folder: Path) -> tuple[Path, Path]:
    """A checkpoint that looks like mnist-exp's but carries the payload in its hyperparameters."""
    marker = folder / "payload-ran"
    ckpt = folder / "crafted.ckpt"
    torch.save({"epoch": 0, "state_dict": {}, "hyper_parameters": {"net_config": Payload(marker)}}, ckpt)
    return ckpt, marker


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("eval", ["data.root={root}"]),
        ("predict", ["images=[x.png]"]),
        ("train", ["model=lenet", "data.root={root}"]),  # ckpt_path=: continue training from it
    ],
)
def test_a_crafted_checkpoint_is_refused_and_never_runs(
    command: str, args: list[str], tmp_path: Path, mnist_root: Path
) -> None:
    ckpt, marker = crafted(tmp_path)
    args = [a.format(root=mnist_root) for a in args]
    done = run_module(command, f"ckpt_path={ckpt}", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "holds Python objects that only code could rebuild" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not marker.exists()  # the payload never ran
    assert not (tmp_path / "outputs").exists()  # refused before any folder


@pytest.mark.slow
def test_resuming_a_run_whose_checkpoint_was_replaced_is_refused(tmp_path: Path, mnist_root: Path) -> None:
    run = tmp_path / "run"
    quick = ["model=mlp", "debug=limit", "trainer.max_epochs=1", "test=false", f"data.root={mnist_root}"]
    done = run_module("train", *quick, f"hydra.run.dir={run}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt, marker = crafted(tmp_path)
    shutil.copy(ckpt, run / "checkpoints" / "last.ckpt")
    done = run_module("train", f"resume={run}", "trainer.max_epochs=3", cwd=tmp_path)
    assert done.returncode == 2 and "holds Python objects" in done.stderr, done.stderr[-2000:]
    assert not marker.exists()
