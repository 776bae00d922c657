"""A checkpoint is data, never code: one that would run code when unpickled is refused by every
command that takes one (exit code 2, one message), and its payload never runs; its model config
may name only a torch.nn.Module class with plain arguments, so a config that would call anything
else (delete, overwrite or create a file) is refused before any call, and the files are untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import run_module

pytestmark = pytest.mark.version_free  # mnist-exp's own refusals: .ci/floors leaves them out


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


def crafted_config(folder: Path, net_config: dict) -> Path:
    """A checkpoint that passes the weights-only loader (plain data) but names code in its model config."""
    ckpt = folder / "shared.ckpt"
    torch.save({"epoch": 0, "state_dict": {}, "hyper_parameters": {"net_config": net_config}}, ckpt)
    return ckpt


def victims(folder: Path) -> dict[Path, bytes | None]:
    """A user's files that a crafted config aims at, with their contents (None: must stay absent)."""
    (folder / "keep").mkdir()
    for name in ("notes.txt", "thesis.tex", "other.txt"):
        (folder / "keep" / name).write_text(f"{name}: the user's own words\n")
    return {
        **{p: p.read_bytes() for p in (folder / "keep").iterdir()},
        folder / "keep" / "created-by-checkpoint": None,
    }


CRAFTED = {  # what a shared checkpoint asked for: each once did it through hydra.utils.instantiate
    "unlink": ({"_target_": "pathlib.Path.unlink", "self": "{keep}/notes.txt"}, "standard library"),
    "copyfile": (
        {"_target_": "shutil.copyfile", "src": "{keep}/other.txt", "dst": "{keep}/thesis.tex"},
        "standard library",
    ),
    "touch": ({"_target_": "pathlib.Path.touch", "self": "{keep}/created-by-checkpoint"}, "standard library"),
    "function": (
        {"_target_": "torch.save", "obj": 0, "f": "{keep}/notes.txt"},
        "you have not vouched for the module torch",
    ),
    "nested": (
        {
            "_target_": "mnist_exp.core.models.MLP",
            "activation": {"_target_": "pathlib.Path.unlink", "self": "{keep}/notes.txt"},
        },
        "model.activation._target_ asks Hydra to build or call something",
    ),
    "args": ({"_target_": "mnist_exp.core.models.MLP", "_args_": ["{keep}/notes.txt"]}, "model._args_"),
}


def _fill(value: object, keep: Path) -> object:
    if isinstance(value, dict):
        return {k: _fill(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, keep) for v in value]
    return value.format(keep=keep) if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("command", "name"),
    [
        *(("eval", name) for name in CRAFTED),
        ("predict", "unlink"),
        ("predict", "nested"),
        ("train", "function"),
    ],
)
def test_a_checkpoint_naming_code_is_refused_and_nothing_is_called(
    command: str, name: str, tmp_path: Path, mnist_root: Path
) -> None:
    files = victims(tmp_path)
    config, message = CRAFTED[name]
    if command == "train":  # training builds its model from its own config: the checkpoint is compared
        message = "but the config asks for"
    ckpt = crafted_config(tmp_path, _fill(config, tmp_path / "keep"))
    args = {"eval": [f"data.root={mnist_root}"], "predict": ["images=[x.png]"], "train": ["model=mlp"]}
    done = run_module(command, f"ckpt_path={ckpt}", *args[command], cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Fix:" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for path, content in files.items():  # untouched: nothing was deleted, overwritten or created
        assert (path.read_bytes() if path.exists() else None) == content, path
    assert not (tmp_path / "outputs").exists()


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
