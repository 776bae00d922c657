"""A folder of your own images (`data=folder`): real PNG files written from MNIST's own images,
decoded as predict decodes, cached, trained on, swept by fold, resumed, verified, evaluated and
predicted; and every kind of bad folder refused in one line before a run folder exists."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_exp.core import folder, idx
from mnist_exp.core.errors import UserError
from mnist_exp.core.images import load_image
from tests.conftest import QUIET, refused_plainly, run_cli


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, start: int = 0) -> Path:
    """One PNG per image in <root>/<label>/, as a user keeps scans of digits."""
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / str(label) / f"{start + i:05d}.png")
    return root


@pytest.fixture(scope="module")
def mnist_test_folder(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """All 10,000 MNIST test images as PNG files in class folders."""
    images, labels = idx.load_split(mnist_root, train=False)
    return write_folder(tmp_path_factory.mktemp("mnist_test_folder"), images, labels)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """2,000 training digits in class folders and 500 test digits in test/: a user's own data."""
    root = tmp_path_factory.mktemp("digits") / "my digits"  # a space in the path, as users have
    images, labels = idx.load_split(mnist_root, train=True)
    write_folder(root, images[:2000], labels[:2000])
    test_images, test_labels = idx.load_split(mnist_root, train=False)
    write_folder(root / "test", test_images[:500], test_labels[:500])
    return root


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_EXP_CACHE", str(tmp_path / "cache"))


def test_a_28x28_grayscale_image_passes_the_decode_unchanged(tmp_path: Path, mnist_root: Path) -> None:
    images, _ = idx.load_split(mnist_root, train=False)
    for i in range(50):
        Image.fromarray(images[i]).save(tmp_path / f"{i}.png")
        assert np.array_equal(load_image(tmp_path / f"{i}.png"), images[i])
    Image.fromarray(images[0]).resize((56, 56)).save(tmp_path / "big.png")  # not one already: prepared
    assert load_image(tmp_path / "big.png").shape == (28, 28)


def test_a_folder_is_decoded_once_and_read_from_the_cache_after(tmp_path: Path, mnist_root: Path) -> None:
    images, labels = idx.load_split(mnist_root, train=False)
    root = write_folder(tmp_path / "d", images[:300], labels[:300])
    first = folder.load(root)
    assert first.classes == tuple("0123456789") and first.test is None
    order = [int(p.stem) for c in first.classes for p in sorted((root / c).glob("*.png"))]
    assert np.array_equal(first.train[0], images[order]) and np.array_equal(first.train[1], labels[order])
    cached = list((tmp_path / "cache" / "folders").glob("*.npz"))
    assert [p.stem for p in cached] == [first.digest]
    cached[0].write_bytes(b"not an npz")  # a damaged cache is decoded again, not trusted
    assert np.array_equal(folder.load(root).train[0], first.train[0])
    Image.fromarray(images[0]).save(root / str(labels[0]) / "extra.png")  # a new file: a new digest
    assert folder.load(root).digest != first.digest


def test_classes_are_ordered_by_number_when_they_are_numbers(tmp_path: Path, mnist_root: Path) -> None:
    images, _ = idx.load_split(mnist_root, train=False)
    write_folder(tmp_path / "d", images[:12], np.arange(12))
    assert folder.load(tmp_path / "d").classes == tuple(str(i) for i in range(12))


def bad_folder(tmp_path: Path, kind: str, image: np.ndarray) -> Path:
    root = tmp_path / "bad"
    for name in ("0", "1"):
        (root / name).mkdir(parents=True)
        Image.fromarray(image).save(root / name / "a.png")
    if kind == "empty class":
        (root / "2").mkdir()
    elif kind == "unreadable":
        (root / "1" / "notes.png").write_text("not a picture")
    elif kind == "10,000 classes":
        for i in range(10_000):
            (root / f"c{i}").mkdir()
    elif kind == "loose images":
        root = tmp_path / "loose"
        root.mkdir()
        Image.fromarray(image).save(root / "a.png")
    return root


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty class", "bad/2 holds no images"),
        ("unreadable", "notes.png: not a readable image"),
        ("10,000 classes", "has 10,002 subfolders, more than the 1000 classes"),
        ("loose images", "has no class subfolders; its images lie loose in it"),
        ("classes", "has 2 class folders (0, 1), but data.num_classes=10. Fix: data.num_classes=2"),
    ],
)
def test_a_bad_folder_is_refused_in_one_line(
    tmp_path: Path, mnist_root: Path, kind: str, message: str
) -> None:
    image = idx.load_split(mnist_root, train=False)[0][0]
    root = bad_folder(tmp_path, kind, image)
    done = run_cli(
        "train", "data=folder", f"data.root={root}", "data.num_classes=10", cwd=tmp_path, pythonpath=None
    )
    refused_plainly(done, message)
    assert not (tmp_path / "outputs").exists()
    if kind != "classes":  # the folder itself is bad, whatever the config
        with pytest.raises(UserError):
            folder.load(root)


@pytest.mark.slow  # a checkpoint is loaded (torch) before the folder is judged
def test_eval_refuses_a_class_folder_the_checkpoint_does_not_know(
    tmp_path: Path, mnist_root: Path, finished_run: Path
) -> None:
    image = idx.load_split(mnist_root, train=False)[0][0]
    root = tmp_path / "letters"
    (root / "a").mkdir(parents=True)
    Image.fromarray(image).save(root / "a" / "x.png")
    ckpt = f"ckpt_path={finished_run / 'checkpoints' / 'last.ckpt'}"
    done = run_cli("eval", ckpt, "data=folder", f"data.root={root}", cwd=tmp_path, pythonpath=None)
    refused_plainly(done, "has a class folder 'a' that the checkpoint's model does not know")
    assert not (tmp_path / "outputs").exists()


def test_data_folder_without_a_root_says_so(tmp_path: Path) -> None:
    refused_plainly(
        run_cli("train", "data=folder", cwd=tmp_path, pythonpath=None), "data=folder needs the folder"
    )


def accuracy(stdout: str) -> str:
    return re.search(r"test/acc: ([\d.]+)%", stdout).group(1)


@pytest.mark.slow
def test_an_mnist_model_on_a_folder_of_mnist_test_images_scores_as_on_mnist(
    tmp_path: Path, mnist_root: Path, finished_run: Path, mnist_test_folder: Path
) -> None:
    """The 10,000 test images written as PNG files and read back through data=folder give the
    checkpoint exactly its MNIST test accuracy (a decode that changed one pixel could differ)."""
    ckpt = f"ckpt_path={finished_run / 'checkpoints' / 'last.ckpt'}"
    on_mnist = run_cli("eval", ckpt, f"data.root={mnist_root}", cwd=tmp_path, pythonpath=None)
    on_folder = run_cli(
        "eval", ckpt, "data=folder", f"data.root={mnist_test_folder}", cwd=tmp_path, pythonpath=None
    )
    assert on_mnist.returncode == 0 and on_folder.returncode == 0, on_folder.stderr[-2000:]
    assert accuracy(on_folder.stdout) == accuracy(on_mnist.stdout)
    assert "test/loss" in on_folder.stdout + on_folder.stderr


@pytest.mark.slow
def test_a_folder_trains_sweeps_folds_resumes_verifies_and_predicts(tmp_path: Path, digits: Path) -> None:
    """A 2-fold sweep on the folder (train and sweep), verified job by job, one fold job resumed
    for a second epoch (resume), then its checkpoint evaluated on test/ and predicting test/7/."""
    data = ["data=folder", f"data.root={digits}"]
    sweep = tmp_path / "sweep"
    folds = ["-m", "data.folds=2", "data.fold=0,1", "logger=none", f"hydra.sweep.dir={sweep}"]
    done = run_cli("train", *QUIET, *data, "trainer.max_epochs=1", *folds, cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0, done.stderr[-3000:]
    with (sweep / "summary.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["n"] == "2" and "Data: folder." in (sweep / "report.md").read_text()
    check = run_cli("train", f"verify={sweep}", cwd=tmp_path, pythonpath=None)  # per fold job
    assert check.returncode == 0 and "2 of 2 jobs identical." in check.stdout, check.stdout[-2000:]
    run = sweep / "fold=1"
    done = run_cli("train", f"resume={run}", "trainer.max_epochs=2", cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # the header and two epochs

    ckpt = f"ckpt_path={run}/checkpoints/last.ckpt"
    done = run_cli("eval", ckpt, *data, cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0 and "test/acc:" in done.stdout, done.stderr[-2000:]  # on test/
    pictures = digits / "test" / "7"
    done = run_cli("predict", ckpt, f"images={pictures}", cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0, done.stderr[-2000:]
    (table,) = (tmp_path / "outputs" / "predict" / "runs").glob("*/predictions.csv")
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(list(pictures.iterdir())) and all(r["class"] == r["label"] for r in rows)


def test_a_folder_of_images_given_to_mnist_is_refused_and_left_as_it_was(
    tmp_path: Path, mnist_root: Path
) -> None:
    """The default data=mnist with data.root at a folder of class subfolders: not a download of MNIST
    into it, but one line naming data=folder."""
    image = idx.load_split(mnist_root, train=False)[0][0]
    root = bad_folder(tmp_path, "none", image)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    done = run_cli("train", f"data.root={root}", cwd=tmp_path, pythonpath=None)
    refused_plainly(
        done, f"holds a folder of images (0/, 1/), not MNIST's files. Fix: data=folder data.root={root}"
    )
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
