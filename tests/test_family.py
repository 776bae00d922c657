"""The MNIST family (core/datasets) and k-fold cross-validation.

No internet here: Fashion-MNIST-format and EMNIST-format files (real MNIST digits written in each
dataset's layout: EMNIST's transposed, in a zip of .gz files, 47 classes) are served by a real HTTP
server on 127.0.0.1 and checked against the test's own checksums (`data.checksums`), since the
published ones are those of files the tests cannot fetch. Then the CLI trains, resumes, verifies,
sweeps, evaluates and predicts on them as a user would.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_exp.core import idx
from mnist_exp.core.data import fold_split
from mnist_exp.core.datasets import EMNIST_BALANCED, EMNIST_LETTERS, FASHION_MNIST, KMNIST, Dataset
from mnist_exp.core.errors import UserError
from mnist_exp.records.figures import confusion_figure, mistakes_figure
from mnist_exp.setup.checks import data_needs_download
from tests.conftest import QUIET, compose_cfg, refused_plainly, run_cli, run_module, write_idx
from tests.test_download import serve

N_TRAIN, N_TEST = 3000, 500
QUICK_FAMILY = [*QUIET, "trainer.max_epochs=1", "data.val_size=500"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def family_arrays(mnist_root: Path, data: Dataset) -> dict[str, np.ndarray]:
    """Real MNIST digits as the files of `data` hold them: transposed for EMNIST, labels spread
    over its classes (and numbered from 1 for EMNIST letters)."""
    out = {}
    for (images, labels), train, n in ((data.train, True, N_TRAIN), (data.test, False, N_TEST)):
        x, y = idx.load_split(mnist_root, train=train)
        x, y = x[:n], y[:n]
        if data.num_classes > 10:  # every class present: digit d becomes d, d+10, d+20 ... in turn
            y = (y + 10 * (np.arange(n) % (data.num_classes // 10))) % data.num_classes
        out[images] = x.transpose(0, 2, 1) if data.transposed else x
        out[labels] = y + data.label_offset
    return out


def publish(mnist_root: Path, data: Dataset, folder: Path) -> dict[str, str]:
    """The dataset's archives in `folder`, as its site publishes them; their MD5s (the test's sums)."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / "staging"
    staging.mkdir()
    for name, array in family_arrays(mnist_root, data).items():
        write_idx(staging / name, array, data.files[name][0])
    for archive, members in data.archives.items():
        if archive.endswith(".zip"):
            with zipfile.ZipFile(folder / archive, "w") as zf:
                for name, member in members.items():
                    zf.writestr(member, gzip.compress((staging / name).read_bytes(), 1))
        else:
            for name in members:
                (folder / archive).write_bytes(gzip.compress((staging / name).read_bytes(), 1))
    shutil.rmtree(staging)
    return {archive: md5(folder / archive) for archive in data.archives}


def sums_override(sums: dict[str, str]) -> str:
    return "data.checksums={" + ",".join(f"{k}:{v}" for k, v in sums.items()) + "}"


@pytest.fixture(scope="module")
def fashion(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> tuple[Path, dict[str, str]]:
    """A Fashion-MNIST-format mirror: its folder and the MD5s of its four .gz files."""
    folder = tmp_path_factory.mktemp("fashion_mirror")
    return folder, publish(mnist_root, FASHION_MNIST, folder)


def test_emnist_is_read_upright_with_its_letters_from_zero(tmp_path: Path, mnist_root: Path) -> None:
    """EMNIST's files hold each image transposed and number the letters from 1: trained upright,
    as classes 0..25 (a test that fails if either is left out)."""
    raw = idx.raw_dir(tmp_path, EMNIST_LETTERS)
    raw.mkdir(parents=True)
    arrays = family_arrays(mnist_root, EMNIST_LETTERS)
    for name, array in arrays.items():
        write_idx(raw / name, array, EMNIST_LETTERS.files[name][0])
    images, labels = idx.load_split(tmp_path, train=False, data=EMNIST_LETTERS)
    mnist_images, _ = idx.load_split(mnist_root, train=False)
    assert np.array_equal(images, mnist_images[:N_TEST])  # upright again
    stored = arrays[EMNIST_LETTERS.test[1]]
    assert stored.min() == 1 and np.array_equal(labels, stored - 1)
    assert not np.array_equal(images[0], images[0].T)  # a digit is not its own transpose


def test_figures_name_the_classes_as_the_font_can_draw_them() -> None:
    """The confusion matrix's axes and the mistakes' titles name the classes; KMNIST's hiragana,
    which matplotlib's bundled font lacks, keep their romanization there."""
    figure = confusion_figure(torch.zeros((10, 10), dtype=torch.long), FASHION_MNIST.classes)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == list(FASHION_MNIST.classes)
    figure = confusion_figure(torch.zeros((10, 10), dtype=torch.long), KMNIST.classes)
    assert [t.get_text() for t in figure.axes[1].get_xticklabels()][:3] == ["o", "ki", "su"]
    mistakes = mistakes_figure([(torch.zeros(28, 28), 0, 6)], FASHION_MNIST.classes)
    assert "true T-shirt/top\npred Shirt" in [t.get_text() for t in mistakes.axes[0].texts]


def test_files_without_their_archive_cannot_be_checked_and_say_how_to_go_on(
    tmp_path: Path, fashion: tuple[Path, dict[str, str]]
) -> None:
    """The published checksums are the archives': files copied in alone are refused with the
    option that uses them unchecked (the refusal names data.verify=false), which then works."""
    folder, sums = fashion
    raw = idx.raw_dir(tmp_path, FASHION_MNIST)
    raw.mkdir(parents=True)
    for archive in sums:
        (raw / archive.removesuffix(".gz")).write_bytes(gzip.decompress((folder / archive).read_bytes()))
    cfg = compose_cfg("config", ["data=fashion_mnist", f"data.root={tmp_path}", "data.download=false"])
    with pytest.raises(UserError, match=r"cannot be checked.*data\.verify=false uses them unchecked"):
        data_needs_download(cfg.data)
    cfg.data.verify = False
    assert data_needs_download(cfg.data) is False
    cfg.data.verify = True  # with the archives beside them, and the test's own sums: checked
    for archive in sums:
        shutil.copy(folder / archive, raw / archive)
    cfg.data.checksums = sums
    assert data_needs_download(cfg.data) is False
    labels = (raw / "t10k-labels-idx1-ubyte").read_bytes()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(labels[:-1] + bytes([(labels[-1] + 1) % 10]))
    with pytest.raises(UserError, match=r"differs from what the published t10k-labels-idx1-ubyte\.gz holds"):
        data_needs_download(cfg.data)


@pytest.mark.slow  # the quick tier's MNIST twin: tests/test_download.py
@pytest.mark.version_free
def test_a_damaged_archive_is_refused_and_nothing_is_kept(
    tmp_path: Path, fashion: tuple[Path, dict[str, str]]
) -> None:
    folder, sums = fashion
    wrong = {**sums, "t10k-labels-idx1-ubyte.gz": "0" * 32}
    root = tmp_path / "data"
    for url in serve(folder):
        args = ["data=fashion_mnist", f"data.root={root}", f"data.mirrors=[{url}]", sums_override(wrong)]
        done = run_module("train", *QUICK_FAMILY, *args, cwd=tmp_path)
    refused_plainly(done, "its checksum differs from the published one")
    assert "Fashion-MNIST not found" in done.stderr and not root.exists()
    assert not (tmp_path / "outputs").exists()


@pytest.mark.version_free
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data=emnist_balanced", "data.num_classes=10"], "but EMNIST balanced has 47 classes"),
        (["data=emnist_balanced", "model.num_classes=10"], "model.num_classes must be an integer >= 47"),
        (["data=kmnist", "data.loader=torchvision"], "Fix: data.loader=tensor"),
        (["data=emnist_letters", "data.val_size=124800"], "between 0 and 124799"),
        (["data.folds=5", "data.fold=5"], "data.fold=5 names no fold of data.folds=5"),
        (["data.folds=1"], "data.folds must be null or an integer from 2"),
        (["data.folds=5", "data.val_size=0"], "validate on the test set"),
        (["data.dataset=cifar10"], "data.dataset 'cifar10' is unknown"),
        (["data.checksums={x.gz:abc}"], "data.checksums must map MNIST's files"),
    ],
)
def test_wrong_data_values_are_refused_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    refused_plainly(run_module("train", *args, cwd=tmp_path), message)
    assert not (tmp_path / "outputs").exists()


def test_folds_are_stratified_disjoint_and_cover_the_training_images() -> None:
    labels = torch.arange(1000) % 7  # 7 classes of 142 or 143
    vals = [fold_split(labels, 5, k, seed=0)[1] for k in range(5)]
    together = torch.cat(vals)
    assert len(together) == 1000 and len(torch.unique(together)) == 1000  # each image in one fold
    for k, val in enumerate(vals):
        train = fold_split(labels, 5, k, seed=0)[0]
        assert not set(train.tolist()) & set(val.tolist()) and len(train) + len(val) == 1000
        counts = torch.bincount(labels[val], minlength=7)
        assert counts.max() - counts.min() <= 1  # stratified: each class in proportion
    assert torch.equal(fold_split(labels, 5, 2, seed=0)[1], vals[2])  # deterministic
    assert not torch.equal(fold_split(labels, 5, 2, seed=1)[1], vals[2])  # split_seed chooses


def through_every_command(tmp_path: Path, data: list[str], root: Path, kind: Dataset, run: Path) -> None:
    """After a first 1-epoch run in `run`: resume it to 2 epochs, verify it, evaluate it (and be
    refused on MNIST), predict pictures of its test images by class name, and a k-fold sweep
    crossed with two learning rates that the report folds."""
    resumed = run_cli("train", f"resume={run}", "trainer.max_epochs=2", cwd=tmp_path, pythonpath=None)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header and two epochs
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert ckpt["num_classes"] == kind.num_classes and ckpt["data_config"]["dataset"] == kind.name
    assert ckpt["data_config"]["classes"] == list(kind.classes)
    assert (run / "confusion_matrix.png").is_file() and (run / "mistakes.png").is_file()
    verified = run_cli("train", f"verify={run}", cwd=tmp_path, pythonpath=None)
    assert verified.returncode == 0 and "identical" in verified.stdout, verified.stdout[-2000:]

    test = [f"ckpt_path={run}/checkpoints/last.ckpt", f"data.root={root}"]
    done = run_cli("eval", *test, f"data={kind.name}", cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0 and "test/acc:" in done.stdout, done.stderr[-2000:]
    refused = run_cli("eval", *test, "data=mnist", cwd=tmp_path, pythonpath=None)
    refused_plainly(refused, f"Fix: evaluate on the data it was trained on, e.g. data={kind.name}.")

    images, _ = idx.load_split(root, train=False, data=kind)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for i in range(5):
        Image.fromarray(images[i]).save(pictures / f"item_{i}.png")
    done = run_cli("predict", test[0], f"images={pictures}", cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0, done.stderr[-2000:]
    (table,) = (tmp_path / "outputs" / "predict" / "runs").glob("*/predictions.csv")
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and all(r["class"] == kind.classes[int(r["label"])] for r in rows)

    sweep = tmp_path / "sweep"
    folds = ["-m", "data.folds=2", "data.fold=range(2)", "optimizer.lr=0.01,0.1", f"hydra.sweep.dir={sweep}"]
    done = run_cli("train", *QUICK_FAMILY, *data, "logger=none", *folds, cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0, done.stderr[-3000:]
    with (sweep / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["config"] for r in rows) == ["lr=0.01", "lr=0.1"] and {r["n"] for r in rows} == {"2"}
    report = (sweep / "report.md").read_text()
    assert "seeds and folds folded" in report and f"Data: {kind.name}." in report


@pytest.mark.slow
def test_fashion_downloads_and_goes_through_every_command(
    tmp_path: Path, fashion: tuple[Path, dict[str, str]]
) -> None:
    folder, sums = fashion
    root, run = tmp_path / "data", tmp_path / "run"
    data = ["data=fashion_mnist", f"data.root={root}"]
    for url in serve(folder):  # downloaded and checked by the archives' (the test's) sums
        args = [*QUICK_FAMILY, *data, f"data.mirrors=[{url}]", sums_override(sums), f"hydra.run.dir={run}"]
        first = run_cli("train", *args, cwd=tmp_path, pythonpath=None)
        assert first.returncode == 0, first.stderr[-3000:]
    assert {p.name for p in idx.raw_dir(root, FASHION_MNIST).iterdir()} >= set(FASHION_MNIST.files) | set(
        sums
    )
    through_every_command(tmp_path, [*data, sums_override(sums)], root, FASHION_MNIST, run)


@pytest.mark.slow
def test_emnist_balanced_downloads_its_zip_and_lenet_goes_through_every_command(
    tmp_path: Path, mnist_root: Path
) -> None:
    sums = publish(mnist_root, EMNIST_BALANCED, tmp_path / "mirror")
    root, run = tmp_path / "data", tmp_path / "run"
    data = ["model=lenet", "data=emnist_balanced", f"data.root={root}", sums_override(sums)]
    for url in serve(tmp_path / "mirror"):
        args = [*QUICK_FAMILY, *data, f"data.mirrors=[{url}]", f"hydra.run.dir={run}"]
        done = run_cli("train", *args, cwd=tmp_path, pythonpath=None)
        assert done.returncode == 0, done.stderr[-3000:]
    weights = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert weights["net.fc3.weight"].shape[0] == 47
    assert EMNIST_BALANCED.classes[10:13] == ("A", "B", "C")
    through_every_command(tmp_path, data, root, EMNIST_BALANCED, run)
