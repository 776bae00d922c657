"""`data.download=true` for real: MNIST's four .gz files served by a real HTTP server on 127.0.0.1
(`python -m http.server`, made from the real MNIST), named with `data.mirrors`. A first run fetches,
checks and trains; a mirror that serves a damaged file, or none that answers, is refused with one
message, and nothing of the download is left."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnist_exp.core import idx
from tests.conftest import run_module
from tests.test_errors import assert_refused

pytestmark = pytest.mark.version_free  # mnist-exp's own refusals: .ci/floors leaves them out

QUICK = ["model=mlp", "debug=limit", "callbacks.feature_maps=null", "logger=none"]


def serve(folder: Path) -> Iterator[str]:
    """A real HTTP server on a free port of 127.0.0.1, serving `folder`; its URL."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (http://...) ..."
        yield f"http://127.0.0.1:{line.split(' port ')[1].split()[0]}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def gz_files(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    folder = tmp_path_factory.mktemp("mirror")
    for name in idx.FILES:
        (folder / f"{name}.gz").write_bytes(gzip.compress((idx.raw_dir(mnist_root) / name).read_bytes(), 1))
    return folder


@pytest.mark.slow
def test_a_first_run_downloads_checks_and_trains(tmp_path: Path, gz_files: Path) -> None:
    root = tmp_path / "data"
    for url in serve(gz_files):
        done = run_module("train", *QUICK, f"data.root={root}", f"data.mirrors=[{url}]", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    assert not idx.missing_files(root)
    idx.check_files(root, verify=True)  # the official SHA-256 of every file
    assert "test/acc" in done.stdout


def test_a_mirror_serving_a_damaged_file_is_refused_and_nothing_is_kept(
    tmp_path: Path, gz_files: Path
) -> None:
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for path in gz_files.iterdir():
        data = gzip.decompress(path.read_bytes())
        if path.name.startswith("t10k-labels"):
            data = data[:-1] + bytes([(data[-1] + 1) % 10])  # one test label changed: same size, valid IDX
        (damaged / path.name).write_bytes(gzip.compress(data, 1))
    root = tmp_path / "data"
    for url in serve(damaged):
        done = run_module("train", *QUICK, f"data.root={root}", f"data.mirrors=[{url}]", cwd=tmp_path)
    assert_refused(done, "its SHA-256 differs from the official file's", tmp_path)
    assert "data.download=true was tried and failed, nothing was kept" in done.stderr
    assert not root.exists()


def test_no_mirror_answering_is_refused_plainly(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = tmp_path / "data"
    done = run_module(
        "train", *QUICK, f"data.root={root}", f"data.mirrors=[http://127.0.0.1:{port}/]", cwd=tmp_path
    )
    assert_refused(done, "data.download=true was tried and failed", tmp_path)
    assert "Connection refused" in done.stderr and not root.exists()
