"""Fetching a dataset's published archives from its mirrors (or the user's, `data.mirrors`), each
file checked before it is kept: an archive against its published checksum where there is one
(the MNIST family's MD5s), MNIST's files against the official SHA-256 of what mnist-exp trains on
(core/idx; a mirror that compresses the same data anew cannot match an archive's MD5).

A failed or damaged download leaves nothing behind: the files and folders it wrote are removed.
"""

from __future__ import annotations

import gzip
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from mnist_exp.core import idx
from mnist_exp.core.datasets import MNIST, Dataset
from mnist_exp.core.errors import UserError


def _fetch(archive: str, mirrors: Sequence[str], raw: Path, expected: str | None) -> None:
    """One archive from the first mirror that serves it intact, into `raw`."""
    from torchvision.datasets.utils import download_url  # torchvision: only to fetch

    tried = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{archive}"
        try:
            download_url(url, root=str(raw), filename=archive, md5=None)
            if expected and idx.file_digest(raw / archive, len(expected)) != expected:
                (raw / archive).unlink()
                raise OSError("its checksum differs from the published one")
            return
        except Exception as err:  # urllib's, the checksum's: the next mirror may serve it
            tried.append(f"{url}: {' '.join(str(err).split())[:120]}")
    raise OSError("; ".join(tried))


def _extract(archive: Path, member: str, target: Path) -> None:
    """Uncompress one file of an archive (a .gz, or a .gz inside a zip) to `target`."""
    try:
        if archive.suffix == ".zip":
            with (
                zipfile.ZipFile(archive) as zf,
                zf.open(member) as inner,
                gzip.GzipFile(fileobj=inner) as src,
            ):
                target.write_bytes(src.read())
        else:
            with gzip.open(archive, "rb") as src:
                target.write_bytes(src.read())
    except (zipfile.BadZipFile, KeyError, EOFError, gzip.BadGzipFile) as err:
        raise OSError(f"{archive.name}: {err}") from None


def download(
    root: Path,
    missing: list[str],
    mirrors: Sequence[str] | None,
    data: Dataset = MNIST,
    sums: idx.Sums | None = None,
) -> None:
    """Fetch what holds the `missing` files into <root>/<folder>/raw/, uncompress them and check
    every file; on any failure remove what this call wrote and raise a UserError naming the fix."""
    raw = idx.raw_dir(root, data)
    made = [d for d in (root, raw.parent, raw) if not d.exists()]
    before = set(raw.iterdir()) if raw.is_dir() else set()
    raw.mkdir(parents=True, exist_ok=True)
    known = {**data.sums, **(sums or {})}
    try:
        for name in missing:
            archive, member = data.archive_of(name) or (f"{name}.gz", name)
            if not (raw / archive).is_file():
                _fetch(archive, list(mirrors or data.mirrors), raw, known.get(archive))
            _extract(raw / archive, member, raw / name)
        idx.check_files(root, verify=True, data=data, sums=sums)
    except (OSError, UserError) as err:
        for path in set(raw.iterdir()) - before:
            path.unlink() if path.is_file() else shutil.rmtree(path, ignore_errors=True)
        for folder in reversed(made):
            shutil.rmtree(folder, ignore_errors=True)
        reason = " ".join(str(err).split())[:300]
        raise UserError(
            idx.missing_message(root, missing, data) + f"\n(data.download=true was tried and failed, nothing "
            f"was kept: {reason})"
        ) from None
