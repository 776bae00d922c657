"""Bad input: one clear message, exit code 2, no traceback, and no run folder (real subprocesses)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mnist_exp.core import idx
from tests.conftest import run_module


def assert_refused(result: subprocess.CompletedProcess, message: str, cwd: Path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert message in result.stderr, result.stderr
    assert "Traceback" not in output
    assert not (cwd / "outputs").exists()  # nothing was started, so no run folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=resnet"], "there is no 'resnet' in group 'model'. Fix: one of lenet, mlp"),
        (["logger=[tensorboard,tb]"], "there is no 'tb' in group 'logger'. Fix: one of csv, many, mlflow"),
        (["optimizer.lrr=0.1"], "Unknown config key 'optimizer.lrr'. Did you mean 'optimizer.lr'?"),
        # a key under a group whose value (or last part) is an option: the group's option is meant
        (["trainer.strategy=ddp"], "a config group, and ddp one of its options. Fix: trainer=ddp (picks"),
        (["logger.mlflow.tracking_uri=x"], "'logger' is a config group, and mlflow one of its options"),
        (["optimizer.lr=-1"], "optimizer.lr must be a finite number > 0, got -1"),
        (["trainer=gpu"], "no CUDA GPU"),
        (["trainer.accelerator=gpu"], "no CUDA GPU"),
        (["-m", "trainer.accelerator=cpu,gpu"], "no CUDA GPU"),  # every swept value, before any job
        (["trainer.accelerator=mps"], "no Apple GPU (MPS)"),
        (["trainer.accelerator=AUTO"], "trainer.accelerator 'AUTO' is unknown. Fix: one of auto, cpu"),
        (["task_name=über"], "quote a value with spaces or other letters"),  # a path key is quoted for you
        (["optimizer.lr=-1", "-m"], "optimizer.lr must be a finite number > 0, got -1"),  # in a sweep too
        (["data.pad=0"], "data.pad=0 gives 28x28 images, but LeNet-5 needs 32x32"),
        (["test_ckpt=bset"], "test_ckpt 'bset' is unknown. Fix: one of best, last"),
        (["trainer.precision=bf61-mixed"], "trainer.precision 'bf61-mixed' is unknown. Fix: one of 32-true"),
        (["callbacks=feature_maps"], "callbacks=feature_maps is one part of callbacks=default"),
        (["logger=wandb", "logger.wandb.log_model=true"], "which an offline run (logger.wandb.offline=true"),
    ],
)
def test_bad_config_values(args: list[str], message: str, tmp_path: Path, mnist_root: Path) -> None:
    assert_refused(run_module("train", *args, f"data.root={mnist_root}", cwd=tmp_path), message, tmp_path)


@pytest.fixture
def copy_of_mnist(tmp_path: Path, mnist_root: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(idx.raw_dir(mnist_root), idx.raw_dir(root), ignore=shutil.ignore_patterns(".*"))
    for path in idx.raw_dir(root).iterdir():
        path.chmod(0o644)
    for folder in (root, root / "MNIST", idx.raw_dir(root)):  # the shared original is read-only
        folder.chmod(0o755)
    return root


def _flip_pixel(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "MNIST not found"),
        ("truncated", "truncated or damaged"),
        ("magic", "has magic number 2049, expected 2051"),
        ("count", "header announces 59999 items"),
        ("flipped", "its SHA-256 differs from the official file's"),
    ],
)
def test_damaged_data(damage: str, message: str, copy_of_mnist: Path, tmp_path: Path) -> None:
    path = idx.raw_dir(copy_of_mnist) / "train-images-idx3-ubyte"
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[: len(data) - 1000])
    elif damage == "magic":
        path.write_bytes((2049).to_bytes(4, "big") + data[4:])
    elif damage == "count":
        path.write_bytes(data[:4] + (59999).to_bytes(4, "big") + data[8:])
    else:
        path.write_bytes(_flip_pixel(data))
    result = run_module("train", f"data.root={copy_of_mnist}", "data.download=false", cwd=tmp_path)
    assert_refused(result, message, tmp_path)


def test_missing_root_names_the_four_files(tmp_path: Path) -> None:
    result = run_module("train", f"data.root={tmp_path / 'nowhere'}", "data.download=false", cwd=tmp_path)
    assert_refused(result, "MNIST not found", tmp_path)
    for name in idx.FILES:
        assert name in result.stderr


def test_checksum_is_remembered_beside_the_files(copy_of_mnist: Path) -> None:
    idx.verify_checksums(copy_of_mnist)
    cache = idx.raw_dir(copy_of_mnist) / idx.CHECK_CACHE
    assert cache.is_file()
    path = idx.raw_dir(copy_of_mnist) / "t10k-labels-idx1-ubyte"
    path.write_bytes(_flip_pixel(path.read_bytes()))  # new mtime: hashed again, and caught
    with pytest.raises(Exception, match="SHA-256"):
        idx.verify_checksums(copy_of_mnist)


@pytest.mark.parametrize("module", ["train", "eval", "predict"])
def test_bad_checkpoints(module: str, tmp_path: Path, mnist_root: Path) -> None:
    extra = ["images=x.png"] if module == "predict" else [f"data.root={mnist_root}"]
    result = run_module(module, f"ckpt_path={tmp_path / 'nope.ckpt'}", *extra, cwd=tmp_path)
    assert_refused(result, "does not exist", tmp_path)
    bogus = tmp_path / "bogus.ckpt"
    bogus.write_text("hello")
    result = run_module(module, f"ckpt_path={bogus}", *extra, cwd=tmp_path)
    assert_refused(result, "is not a mnist-exp checkpoint", tmp_path)


def test_checkpoint_of_another_model(tmp_path: Path, mnist_root: Path) -> None:
    import torch

    from mnist_exp.core.models import LeNet5
    from mnist_exp.core.module import MNISTClassifier

    module = MNISTClassifier(net=LeNet5(), optimizer=None)
    ckpt = tmp_path / "lenet.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, ckpt)
    result = run_module("train", "model=mlp", f"ckpt_path={ckpt}", f"data.root={mnist_root}", cwd=tmp_path)
    assert_refused(result, "holds a LeNet5 model", tmp_path)
    assert "model=lenet" in result.stderr


@pytest.mark.parametrize(
    ("module", "message"), [("eval", "ckpt_path is required"), ("predict", "is required")]
)
def test_eval_and_predict_without_arguments(module: str, message: str, tmp_path: Path) -> None:
    assert_refused(run_module(module, cwd=tmp_path), message, tmp_path)
