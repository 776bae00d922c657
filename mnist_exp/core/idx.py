"""Reading and checking MNIST's IDX files, so a missing or damaged file never trains a model quietly.

NumPy only (no torch): the start-up checks run this before the training stack is imported.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mnist_exp.core.errors import UserError

# name -> (magic number, item count, shape of one item, official SHA-256 of the uncompressed file)
FILES: dict[str, tuple[int, int, tuple[int, ...], str]] = {
    "train-images-idx3-ubyte": (
        2051,
        60000,
        (28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": (
        2049,
        60000,
        (),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": (
        2051,
        10000,
        (28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        2049,
        10000,
        (),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
CHECK_CACHE = ".mnist_exp_verified.json"


def raw_dir(root: str | Path) -> Path:
    """torchvision's layout: <root>/MNIST/raw/."""
    return Path(root).expanduser() / "MNIST" / "raw"


def missing_message(root: str | Path, missing: list[str]) -> str:
    """The one message a user sees when the data is not where the config points."""
    raw = raw_dir(root)
    return (
        f"MNIST not found: {raw} lacks {', '.join(missing)}.\n"
        f"Expected the four uncompressed IDX files {', '.join(FILES)} in {raw}.\n"
        "Fix: point data.root at the folder holding MNIST/raw/ (data.root=/path/to/data, or set "
        "MNIST_EXP_DATA=/path/to/data), or run once with internet access and data.download=true "
        "so torchvision fetches them."
    )


def missing_files(root: str | Path) -> list[str]:
    raw = raw_dir(root)
    return [name for name in FILES if not (raw / name).is_file()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_cache(raw: Path) -> dict:
    try:
        return json.loads((raw / CHECK_CACHE).read_text())
    except (OSError, ValueError):
        return {}


def verify_checksums(root: str | Path) -> None:
    """Compare each file's SHA-256 with the official one.

    Hashing 55 MB costs a fraction of a second, but every run of a sweep would pay it, so a
    good result is remembered beside the files, keyed by size and mtime. A read-only data folder
    (a shared copy, write bits off) is never written to and gets re-hashed (about 0.2 s).
    """
    raw = raw_dir(root)
    cache = _load_cache(raw)
    changed = False
    for name, (_, _, _, official) in FILES.items():
        path = raw / name
        stat = path.stat()
        key = f"{stat.st_size}:{stat.st_mtime_ns}"
        if cache.get(name) == key:
            continue
        if _sha256(path) != official:
            raise UserError(
                f"MNIST file {path} is corrupt: its SHA-256 differs from the official file's.\n"
                "Fix: replace it with the official file (delete it and run with "
                "data.download=true, or copy a good one)."
            )
        cache[name] = key
        changed = True
    if changed and raw.stat().st_mode & 0o222:  # a read-only (shared) copy is left untouched
        try:
            (raw / CHECK_CACHE).write_text(json.dumps(cache))
        except OSError:
            pass


def check_header(path: Path) -> tuple[int, int]:
    """Check magic number, dimensions and size from the header alone; return (count, header size).

    The item count is read from the header (tests write tiny files); that it agrees with the
    official count is the checksum's job.
    """
    magic, _, shape, _ = FILES[path.name]
    fix = "Fix: replace it with the official file (or delete it and run with data.download=true)."
    header = 8 + 4 * len(shape)
    try:
        with path.open("rb") as fh:
            head = fh.read(header)
        size = path.stat().st_size
    except OSError as err:
        raise UserError(f"Cannot read MNIST file {path}: {err.strerror}. {fix}") from None
    if len(head) < header:
        raise UserError(f"MNIST file {path} is truncated ({size} bytes). {fix}")
    got_magic = int.from_bytes(head[0:4], "big")
    if got_magic != magic:
        kind = "image" if magic == 2051 else "label"
        raise UserError(
            f"MNIST file {path} has magic number {got_magic}, expected {magic}: "
            f"not an MNIST {kind} file. {fix}"
        )
    count = int.from_bytes(head[4:8], "big")
    dims = tuple(int.from_bytes(head[8 + 4 * i : 12 + 4 * i], "big") for i in range(len(shape)))
    if dims != shape:
        raise UserError(f"MNIST file {path} holds items of shape {dims}, expected {shape}. {fix}")
    expected = header + count * int(np.prod(shape, dtype=np.int64))
    if size != expected:
        raise UserError(
            f"MNIST file {path} is {size} bytes but its header announces {count} items "
            f"({expected} bytes): truncated or damaged. {fix}"
        )
    return count, header


def read_idx(path: Path) -> np.ndarray:
    """One IDX file as a writable uint8 array, after checking its header against its size."""
    count, header = check_header(path)
    shape = FILES[path.name][2]
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=header).reshape((count, *shape)).copy()


def load_split(root: str | Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one official split, checked."""
    raw = raw_dir(root)
    prefix = "train" if train else "t10k"
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    if len(images) != len(labels):
        raise UserError(
            f"MNIST {prefix} files in {raw} disagree: {len(images)} images but {len(labels)} "
            "labels. Fix: replace both with the official files."
        )
    if labels.size and int(labels.max()) > 9:
        raise UserError(f"MNIST {prefix} labels in {raw} go beyond 9: the file is damaged.")
    return images, labels.astype(np.int64)


def check_files(root: str | Path, verify: bool = True) -> None:
    """The four files are there, their headers agree with their sizes, and (with `verify`) their
    SHA-256 sums are the official ones; otherwise a UserError that names the fix."""
    missing = missing_files(root)
    if missing:
        raise UserError(missing_message(root, missing))
    for name in FILES:  # headers first: "truncated" says more than "checksum differs"
        check_header(raw_dir(root) / name)
    if verify:
        verify_checksums(root)
