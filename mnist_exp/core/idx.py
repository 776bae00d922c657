"""Reading and checking the IDX files of MNIST and its family (core/datasets), so a missing or
damaged file never trains a model quietly.

NumPy only (no torch): the start-up checks run this before the training stack is imported.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_exp.core.datasets import IMAGES, MNIST, Dataset
from mnist_exp.core.errors import UserError

FILES = MNIST.files  # MNIST's four files: name -> (magic number, official item count)
CHECK_CACHE = ".mnist_exp_verified.json"
Sums = Mapping[str, str]


def raw_dir(root: str | Path, data: Dataset = MNIST) -> Path:
    """torchvision's layout: <root>/MNIST/raw/ (FashionMNIST/, KMNIST/, EMNIST/ for the others)."""
    return Path(root).expanduser() / data.folder / "raw"


def missing_message(root: str | Path, missing: list[str], data: Dataset = MNIST) -> str:
    """The one message a user sees when the data is not where the config points."""
    raw = raw_dir(root, data)
    return (
        f"{data.title} not found: {raw} lacks {', '.join(missing)}.\n"
        f"Expected the four uncompressed IDX files {', '.join(data.files)} in {raw}.\n"
        f"Fix: point data.root at the folder holding {data.folder}/raw/ (data.root=/path/to/data, or set "
        "MNIST_EXP_DATA=/path/to/data), or run once with internet access and data.download=true "
        "so mnist-exp fetches them."
    )


def missing_files(root: str | Path, data: Dataset = MNIST) -> list[str]:
    raw = raw_dir(root, data)
    return [name for name in data.files if not (raw / name).is_file()]


def digest(stream: BinaryIO, length: int = 64) -> str:
    """SHA-256 (64 hex digits) or MD5 (32: what is published for the MNIST family's archives)."""
    h = hashlib.sha256() if length == 64 else hashlib.md5(usedforsecurity=False)
    for block in iter(lambda: stream.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


def file_digest(path: Path, length: int = 64) -> str:
    with path.open("rb") as fh:
        return digest(fh, length)


def member_digest(archive: Path, member: str) -> str:
    """SHA-256 of what an archive holds as `member` (a .gz file, or a .gz inside a zip), uncompressed."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf, zf.open(member) as inner, gzip.GzipFile(fileobj=inner) as fh:
            return digest(fh)
    with gzip.open(archive, "rb") as fh:
        return digest(fh)


def _load_cache(raw: Path) -> dict:
    try:
        return json.loads((raw / CHECK_CACHE).read_text())
    except (OSError, ValueError):
        return {}


def _key(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def verify_checksums(root: str | Path, data: Dataset = MNIST, sums: Sums | None = None) -> None:
    """Check each file against its published checksum, or against the published archive it came
    from (`sums`: the user's own, in place of the published ones for the names it gives).

    Hashing costs a fraction of a second per file, but every run of a sweep would pay it, so a
    good result is remembered beside the files, keyed by size and mtime. A read-only data folder
    (a shared copy, write bits off) is never written to and gets re-hashed (about 0.2 s for MNIST).
    """
    raw = raw_dir(root, data)
    known = {**data.sums, **(sums or {})}
    cache = _load_cache(raw)
    before = dict(cache)
    for name in data.files:
        if cache.get(name) != _key(raw / name):
            _verify(raw, name, data, known, cache)
            cache[name] = _key(raw / name)
    if cache != before and raw.stat().st_mode & 0o222:  # a read-only (shared) copy is left untouched
        try:
            (raw / CHECK_CACHE).write_text(json.dumps(cache))
        except OSError:
            pass


OWN_FILES = "If these are files of your own, data.verify=false uses them unchecked."


def _verify(raw: Path, name: str, data: Dataset, known: Sums, cache: dict) -> None:
    """One file: its own published sum, else the sum of the archive it comes from and equality
    with that archive's member; a UserError that names the fix otherwise."""
    path = raw / name
    fix = f"Fix: replace it with the official file (delete it and run with data.download=true). {OWN_FILES}"
    if name in known:
        if file_digest(path, len(known[name])) != known[name]:
            raise UserError(
                f"{data.title} file {path} is corrupt: its SHA-256 differs from the official file's.\n{fix}"
            )
        return
    archive, member = data.archive_of(name) or (None, None)
    if archive is None or archive not in known or not (raw / archive).is_file():
        raise UserError(
            f"{data.title} file {path} cannot be checked: the published checksums are those of the "
            f"archive {archive}, which is not in {raw}. Fix: keep the archive beside the files (mnist-exp's "
            "and torchvision's downloads do), or delete the files and run with data.download=true. "
            + OWN_FILES
        )
    if cache.get(archive) != _key(raw / archive):
        if file_digest(raw / archive, len(known[archive])) != known[archive]:
            raise UserError(
                f"{data.title} archive {raw / archive} is corrupt: its checksum differs from the "
                f"published one.\n{fix}"
            )
        cache[archive] = _key(raw / archive)
    if member_digest(raw / archive, member) != file_digest(path):
        raise UserError(f"{data.title} file {path} differs from what the published {archive} holds.\n{fix}")


def check_header(path: Path, data: Dataset = MNIST) -> tuple[int, int]:
    """Check magic number, dimensions and size from the header alone; return (count, header size).

    The item count is read from the header (tests write tiny files); that it agrees with the
    official count is the checksum's job.
    """
    magic = data.files[path.name][0]
    shape = (data.side, data.side) if magic == IMAGES else ()
    title = f"{data.title} file {path}"
    fix = "Fix: replace it with the official file (or delete it and run with data.download=true)."
    header = 8 + 4 * len(shape)
    try:
        with path.open("rb") as fh:
            head = fh.read(header)
        size = path.stat().st_size
    except OSError as err:
        raise UserError(f"Cannot read {title}: {err.strerror}. {fix}") from None
    if len(head) < header:
        raise UserError(f"{title} is truncated ({size} bytes). {fix}")
    got_magic = int.from_bytes(head[0:4], "big")
    if got_magic != magic:
        kind = "image" if magic == IMAGES else "label"
        raise UserError(
            f"{title} has magic number {got_magic}, expected {magic}: not an IDX {kind} file. {fix}"
        )
    count = int.from_bytes(head[4:8], "big")
    dims = tuple(int.from_bytes(head[8 + 4 * i : 12 + 4 * i], "big") for i in range(len(shape)))
    if dims != shape:
        raise UserError(f"{title} holds items of shape {dims}, expected {shape}. {fix}")
    expected = header + count * int(np.prod(shape, dtype=np.int64))
    if size != expected:
        raise UserError(
            f"{title} is {size} bytes but its header announces {count} items "
            f"({expected} bytes): truncated or damaged. {fix}"
        )
    return count, header


def read_idx(path: Path, data: Dataset = MNIST) -> np.ndarray:
    """One IDX file as a writable uint8 array, after checking its header against its size."""
    count, header = check_header(path, data)
    shape = (data.side, data.side) if data.files[path.name][0] == IMAGES else ()
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=header).reshape((count, *shape)).copy()


def load_split(root: str | Path, train: bool, data: Dataset = MNIST) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8, upright, and labels (N,) int64 from 0 of one official split, checked."""
    raw = raw_dir(root, data)
    image_file, label_file = data.train if train else data.test
    images = read_idx(raw / image_file, data)
    labels = read_idx(raw / label_file, data).astype(np.int64) - data.label_offset
    split = "training" if train else "test"
    if len(images) != len(labels):
        raise UserError(
            f"{data.title} {split} files in {raw} disagree: {len(images)} images but {len(labels)} "
            "labels. Fix: replace both with the official files."
        )
    if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < data.num_classes:
        raise UserError(
            f"{data.title} {split} labels in {raw} go beyond its {data.num_classes} classes: the file "
            "is damaged."
        )
    if data.transposed:  # EMNIST: stored column by column
        images = np.ascontiguousarray(images.transpose(0, 2, 1))
    return images, labels


def check_files(
    root: str | Path, verify: bool = True, data: Dataset = MNIST, sums: Sums | None = None
) -> None:
    """The four files are there, their headers agree with their sizes, and (with `verify`) their
    checksums are the published ones; otherwise a UserError that names the fix."""
    missing = missing_files(root, data)
    if missing:
        raise UserError(missing_message(root, missing, data))
    for name in data.files:  # headers first: "truncated" says more than "checksum differs"
        check_header(raw_dir(root, data) / name, data)
    if verify:
        verify_checksums(root, data, sums)
