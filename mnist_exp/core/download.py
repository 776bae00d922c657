"""Fetching MNIST's four files from torchvision's mirrors (or the user's, `data.mirrors`), each
checked against the official SHA-256 of its uncompressed file (core/idx) before it is kept.

torchvision's own MNIST download checks the MD5 of the compressed file, which a mirror that
compresses the same data anew cannot match; mnist-exp checks what it trains on instead. A failed
or damaged download leaves nothing behind: the files and folders it wrote are removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from mnist_exp.core import idx
from mnist_exp.core.errors import UserError


def _fetch(name: str, mirrors: Sequence[str], raw: Path) -> None:
    """One file from the first mirror that serves it, uncompressed into `raw`."""
    from torchvision.datasets.utils import download_and_extract_archive  # torchvision: only to fetch

    tried = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{name}.gz"
        try:
            download_and_extract_archive(url, download_root=str(raw), filename=f"{name}.gz", md5=None)
            return
        except Exception as err:  # urllib's, gzip's: the next mirror may serve it
            tried.append(f"{url}: {' '.join(str(err).split())[:120]}")
    raise OSError("; ".join(tried))


def download(root: Path, missing: list[str], mirrors: Sequence[str] | None) -> None:
    """Fetch the `missing` files into <root>/MNIST/raw/ and check every file's SHA-256; on any
    failure remove what this call wrote and raise a UserError naming the fix."""
    from torchvision.datasets import MNIST

    raw = idx.raw_dir(root)
    made = [d for d in (root, root / "MNIST", raw) if not d.exists()]
    before = set(raw.iterdir()) if raw.is_dir() else set()
    raw.mkdir(parents=True, exist_ok=True)
    try:
        for name in missing:
            _fetch(name, list(mirrors or MNIST.mirrors), raw)
        idx.check_files(root, verify=True)
    except (OSError, UserError) as err:
        for path in set(raw.iterdir()) - before:
            path.unlink() if path.is_file() else shutil.rmtree(path, ignore_errors=True)
        for folder in reversed(made):
            shutil.rmtree(folder, ignore_errors=True)
        reason = " ".join(str(err).split())[:300]
        raise UserError(
            idx.missing_message(root, missing) + f"\n(data.download=true was tried and failed, nothing was "
            f"kept: {reason})"
        ) from None
