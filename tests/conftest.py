"""Shared fixtures: the real MNIST folder, tiny IDX files written on the spot, composed configs."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_exp.core import idx
from mnist_exp.core.download import download
from mnist_exp.core.errors import UserError
from mnist_exp.setup.config import compose

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("MNIST_EXP_DATA", REPO.parent / "shared" / "data")).resolve()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist the cores are shared out among the workers, one torch thread each on two
    cores (runs started in-process or as subprocesses inherit OMP_NUM_THREADS), as a parallel sweep
    shares them out among its jobs: the quick tier took 178 s so, 234 s at two threads per worker."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // workers))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests (marked `longest`) go first: a worker that starts one near the end of the
    session runs it alone while the other workers wait (the seed sweep takes some 250 s of a
    1,000 s CI session on 2 workers)."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """An IDX file as MNIST's: big-endian magic, dimensions, then uint8 data."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_tiny_mnist(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """Random digits in torchvision's layout; each image's first pixel encodes its index."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(n) % 256
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 2051)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n), 2049)
    return root


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    return make_tiny_mnist(tmp_path / "tiny")


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real MNIST: $MNIST_EXP_DATA, else ../shared/data (CI), else data/ in the checkout, which
    the test session fills once from torchvision's mirrors (or $MNIST_EXP_MIRRORS, comma-separated),
    every file checked against its official SHA-256, as `mnist-exp-train` does on a first run."""
    if not idx.missing_files(DATA) or "MNIST_EXP_DATA" in os.environ:
        if idx.missing_files(DATA):
            pytest.fail(f"Real MNIST not found under {DATA} (MNIST_EXP_DATA): it lacks MNIST/raw/.")
        return DATA
    target = REPO / "data"
    with (REPO / ".mnist-download.lock").open("w") as lock:  # xdist workers: one downloads
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = idx.missing_files(target)
        if missing:
            mirrors = [m for m in os.environ.get("MNIST_EXP_MIRRORS", "").split(",") if m] or None
            try:
                download(target, missing, mirrors)
            except UserError as err:
                pytest.fail(f"Real MNIST is not here and could not be fetched: {err}")
    return target


def compose_cfg(name: str = "config", overrides: list[str] | None = None) -> DictConfig:
    return compose(name, overrides or [])


@pytest.fixture
def make_cfg(tmp_path: Path, mnist_root: Path) -> Callable[..., DictConfig]:
    """A composed training config writing into tmp_path, reading the real MNIST."""

    def make(*overrides: str, name: str = "config") -> DictConfig:
        base = [f"paths.output_dir={tmp_path / 'run'}", f"data.root={mnist_root}"]
        return compose_cfg(name, base + list(overrides))

    return make


def run_module(
    module: str, *args: str, cwd: Path, timeout: float = 600, unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """A user's command line (`python -m mnist_exp.cli.<module> ...`), as a real subprocess;
    `unset`: environment variables the user does not have."""
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-m", f"mnist_exp.cli.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )


def run_cli(command: str, *args: str, cwd: Path, pythonpath: Path | None) -> subprocess.CompletedProcess:
    """The installed console script, as a user types it (no folder of theirs on sys.path but
    PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    script = Path(sys.executable).parent / f"mnist-exp-{command}"
    return subprocess.run([str(script), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def refused_plainly(done: subprocess.CompletedProcess, message: str) -> None:
    """Exit code 2, the message, no traceback (test_errors.assert_refused also wants no outputs/)."""
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# Adam: with the seed's plain SGD at lr 0.01, LeNet sits near chance for its first epoch
QUICK = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=30",
    "trainer=cpu",
    "optimizer=adam",
]


def scalars(logdir: Path) -> dict[str, list[float]]:
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> dict[str, tuple]:
    """One short real run per model, trained once per session and shared by the test modules."""
    from mnist_exp.pipelines.run.train import train

    out = {}
    for model in ("mlp", "lenet"):
        folder = tmp_path_factory.mktemp(model)
        cfg = compose_cfg(
            "config", [f"model={model}", *QUICK, f"data.root={mnist_root}", f"paths.output_dir={folder}"]
        )
        out[model] = (cfg, train(cfg), folder)
    return out


# a short MLP run that shows nothing and dumps no feature maps
QUIET = [
    "model=mlp",
    "debug=limit",
    "callbacks.progress_bar.refresh_rate=1000",
    "callbacks.feature_maps=null",
]


def cli_run(cwd: Path, mnist_root: Path, *extra: str, base: list[str] = QUIET) -> Path:
    """A finished one-epoch `mnist-exp-train` run in cwd/run (QUIET unless `base` says otherwise)."""
    run = cwd / "run"
    args = [*base, "trainer.max_epochs=1", f"data.root={mnist_root}", f"hydra.run.dir={run}", *extra]
    done = run_module("train", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return run


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """One finished run folder, made once per test session (per xdist worker) for the tests that
    only read a run folder or are refused by it; a test that changes a run makes its own."""
    return cli_run(tmp_path_factory.mktemp("finished"), mnist_root)
