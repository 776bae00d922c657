"""A folder of your own labelled images (`data=folder data.root=mydigits`): one subfolder per class
(`mydigits/0/*.png ... mydigits/9/*.png`), and optionally `test/` with the same class subfolders.

Each image is decoded once as predict decodes it (core/images: an image that is 28x28 grayscale
already passes unchanged), and the result is cached as arrays beside a digest of the file list
(names, sizes, modification times), so the second run starts as fast as MNIST does. The cache lives
in mnist-exp's cache folder, never in the user's folder; it is read as plain arrays (no pickle).
Torch-free (NumPy and Pillow): a folder is read and checked before a run folder exists.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.core.datasets import MAX_FOLDER_CLASSES as MAX_CLASSES
from mnist_exp.core.errors import UserError
from mnist_exp.core.images import load_image
from mnist_exp.core.spec import IMAGE_SUFFIXES

TEST = "test"  # the subfolder of test images, if any
CACHE_VERSION = "1"  # bump when the decode changes: every cached folder is decoded again
Split = tuple[np.ndarray, np.ndarray]  # images (N, 28, 28) uint8, labels (N,) int64


@dataclass(frozen=True)
class FolderImages:
    classes: tuple[str, ...]
    train: Split  # the class subfolders
    test: Split | None  # test/, when there is one
    digest: str  # of the file list (the cache's name)


def cache_dir() -> Path:
    """$MNIST_EXP_CACHE, else $XDG_CACHE_HOME/mnist-exp, else ~/.cache/mnist-exp."""
    base = os.environ.get("MNIST_EXP_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "mnist-exp"
    )
    return Path(base).expanduser() / "folders"


def _natural(names: list[str]) -> list[str]:
    """Class order: by number when every name is one (2 before 10), else alphabetical."""
    return sorted(names, key=int) if all(n.isdigit() for n in names) else sorted(names)


def _images(folder: Path) -> list[os.DirEntry]:
    """The image files of `folder`, by name (os.scandir: a file's kind without a stat call, and its
    one stat kept for the digest; a second start of 20,000 files took 0.68 s with pathlib)."""
    with os.scandir(folder) as entries:
        found = [e for e in entries if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file()]
    return sorted(found, key=lambda e: e.name)


def class_names(root: Path) -> list[str]:
    """The class subfolders of `root`, in label order; refused when there are none or too many."""
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise UserError(f"data.root={root} {what}. Fix: data.root=<a folder with one subfolder per class>.")
    names = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != TEST]
    if not names:
        loose = "; its images lie loose in it" if _images(root) else ""
        raise UserError(
            f"data.root={root} has no class subfolders{loose}. Fix: one subfolder per class, named by "
            "the class (mydigits/0/*.png ... mydigits/9/*.png)."
        )
    if len(names) > MAX_CLASSES:
        raise UserError(
            f"data.root={root} has {len(names):,} subfolders, more than the {MAX_CLASSES} classes a "
            "folder of labelled images may have. Fix: point data.root at the folder whose subfolders are "
            "the classes."
        )
    bad = [n for n in names if not (n.isprintable() and len(n) <= 100)]
    if bad:
        raise UserError(
            f"Class folder {bad[0]!r} in {root}: a class name must be printable text of up to 100 characters."
        )
    return _natural(names)


Files = list[tuple[os.DirEntry, int]]  # each image file and its label


def listing(root: Path, classes: list[str]) -> Files:
    """Every image under the class subfolders of `root`, with its label; an empty class is refused."""
    files = []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            continue  # test/ may lack a class
        found = _images(folder)
        if not found:
            raise UserError(
                f"Class folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}). Fix: add "
                "its images, or remove the empty folder."
            )
        files += [(entry, label) for entry in found]
    return files


def _digest(root: Path, files: Files) -> str:
    """Of the folder, and each file's path, label, size and modification time."""
    h = hashlib.sha256(f"{CACHE_VERSION}\n{root.resolve()}\n".encode())
    for entry, label in files:
        stat = entry.stat()
        h.update(f"{entry.path}\t{label}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _decode(files: Files) -> Split:
    images = np.zeros((len(files), 28, 28), np.uint8)
    for i, (entry, _) in enumerate(files):
        try:
            images[i] = load_image(Path(entry.path))
        except UserError as err:
            raise UserError(f"Image {entry.path}: {err}. Fix: replace or remove it.") from None
    return images, np.array([label for _, label in files], np.int64)


def _cached(path: Path, count: int) -> Split | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            images, labels = saved["images"], saved["labels"]
    except (OSError, ValueError, KeyError):
        return None
    ok = images.shape == (count, 28, 28) and images.dtype == np.uint8 and labels.shape == (count,)
    return (images, labels.astype(np.int64)) if ok else None


def _store(path: Path, split: Split) -> None:
    """Written whole or not at all (a temporary file renamed), so parallel jobs never read half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as fh:
            np.savez(fh, images=split[0], labels=split[1])
        os.replace(fh.name, path)
    except OSError:
        pass  # no cache: decoded again next time


def _split(root: Path, files: Files) -> tuple[Split, str]:
    digest = _digest(root, files)
    path = cache_dir() / f"{digest}.npz"
    split = _cached(path, len(files))
    if split is None:
        split = _decode(files)
        _store(path, split)
    return split, digest


def load(root: str | Path) -> FolderImages:
    """The folder's images and labels (decoded, or from the cache), checked."""
    root = Path(str(root)).expanduser()
    classes = class_names(root)
    train, digest = _split(root, listing(root, classes))
    test = None
    if (root / TEST).is_dir():
        unknown = [p.name for p in (root / TEST).iterdir() if p.is_dir() and p.name not in classes]
        if unknown:
            raise UserError(
                f"{root / TEST} has a class folder {unknown[0]!r} that {root} has not. Fix: the same class "
                "names in both."
            )
        test, _ = _split(root, listing(root / TEST, classes))
    return FolderImages(tuple(classes), train, test, digest)
