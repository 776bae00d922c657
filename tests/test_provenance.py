"""Provenance: what produced a run (provenance.json, provenance.patch), in the trackers and the
report, and `verify=`, which runs a recorded config again and says whether it reproduced.

The user's project is a real git repository with their own model; the runs are the installed
console script's, as a user types them; MLflow is read back with its own client, TensorBoard with
its own reader."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from mnist_exp.records import provenance
from tests.conftest import refused_plainly, run_cli, run_module
from tests.test_own_model import TINY

LIMITS = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=6",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "data.steps_per_call=1",
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's project under git: their model and config folder, committed."""
    root = tmp_path / "my project"
    (root / "myconf" / "model").mkdir(parents=True)
    (root / "mymodels.py").write_text(TINY)
    (root / "myconf" / "model" / "tiny.yaml").write_text("_target_: mymodels.Tiny\nwidth: 48\n")
    git(root.parent, "init", "-q", str(root))
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "add", ".")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "my model")
    return root


def train(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("train", "--config-dir", "myconf", *args, cwd=repo, pythonpath=repo)


def first_start(run: Path) -> dict:
    return json.loads((run / "provenance.json").read_text())["starts"][0]


@pytest.mark.slow
def test_own_model_in_git_records_provenance_and_verify_names_a_change(repo: Path, mnist_root: Path) -> None:
    store = f"sqlite:///{repo.parent / 'ml' / 'mlflow.db'}"
    run = repo / "runs" / "a"
    done = train(
        repo, "model=tiny", f"data.root={mnist_root}", *LIMITS, "logger=many",
        f"logger.mlflow.tracking_uri={store}", "hydra.run.dir=runs/a",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    start = first_start(run)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert start["git"]["commit"] == head and start["git"]["dirty"] is False  # its own folder is left out
    assert not (run / "provenance.patch").exists()
    assert start["packages"]["torch"] == importlib.metadata.version("torch")
    assert start["device"]["threads"] >= 1 and start["device"]["name"]
    assert start["data"]["sha256_verified"] and len(start["data"]["sha256"]) == 4
    assert "model=tiny" in start["command"]
    # the trackers got it: MLflow's source tags and files, TensorBoard's text, W&B's files
    client = MlflowClient(store)
    run_id = (run / ".mlflow_run_id").read_text()
    assert client.get_run(run_id).data.tags["mlflow.source.git.commit"] == head
    files = {a.path for a in client.list_artifacts(run_id, "provenance")}
    assert {"provenance/provenance.json", "provenance/requirements.txt"} <= files
    events = EventAccumulator(str(run), size_guidance={"tensors": 0})
    events.Reload()
    text = tensor_util.make_ndarray(events.Tensors("provenance/text_summary")[0].tensor_proto).item().decode()
    assert f"commit: {head[:10]}" in text
    assert list(run.glob("wandb/offline-run-*/files/provenance.json"))

    # the same config again: identical, exit 0
    same = train(repo, "verify=runs/a")
    assert same.returncode == 0, same.stderr[-3000:]
    assert "identical: every epoch and the test" in same.stdout

    # the model changed in the work tree (not committed): verify says where and why, exit 1
    source = repo / "mymodels.py"
    source.write_text(source.read_text().replace("return self.body(x)", "return self.body(x * 1.5)"))
    changed = train(repo, "verify=runs/a")
    assert changed.returncode == 1, changed.stderr[-3000:]
    assert "differs at epoch 0, train/loss" in changed.stdout
    assert f"commit {head[:10]} vs {head[:10]} (dirty)" in changed.stdout
    assert "x * 1.5" in (repo / "runs" / "a.verify2" / "provenance.patch").read_text()
    verdict = json.loads((repo / "runs" / "a.verify2" / "verification.json").read_text())
    assert verdict["identical"] is False

    # the report over the two runs names the difference in the environment
    report = run_cli("report", "runs/a", "runs/a.verify2", "--out", "cmp", cwd=repo, pythonpath=None)
    line = next(x for x in report.stdout.splitlines() if x.startswith("Environment differs:"))
    assert sorted(line.removeprefix("Environment differs: commit ").split(" vs ")) == [
        head[:10],
        f"{head[:10]} (dirty)",
    ]
    assert "## What differs in the environment" in (repo / "cmp" / "report.md").read_text()


@pytest.mark.slow
def test_resume_onto_another_environment_says_so_and_keeps_the_first(
    tmp_path: Path, mnist_root: Path
) -> None:
    run = tmp_path / "run"
    common = ["model=mlp", f"data.root={mnist_root}", *LIMITS, "logger=none"]
    first = run_cli(
        "train", *common, "trainer.max_epochs=1", f"hydra.run.dir={run}", cwd=tmp_path, pythonpath=None
    )
    assert first.returncode == 0, first.stderr[-3000:]
    threads = first_start(run)["device"]["threads"]
    again = run_cli(
        "train",
        f"resume={run}",
        "trainer.max_epochs=2",
        f"torch_threads={threads + 1}",
        cwd=tmp_path,
        pythonpath=None,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    starts = json.loads((run / "provenance.json").read_text())["starts"]
    assert [s["start"] for s in starts] == [1, 2] and starts[0]["device"]["threads"] == threads
    assert (
        f"differs from the run's first: threads {threads} vs {threads + 1}" in (run / "train.log").read_text()
    )
    assert starts[0]["git"]["note"] == "not in a git work tree"


@pytest.mark.slow
def test_verify_a_sweep_job_by_job_for_its_first_epoch(tmp_path: Path, mnist_root: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "model=mlp", "seed=0,1", f"data.root={mnist_root}", *LIMITS, "logger=none"]
    done = run_cli("train", *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path, pythonpath=None)
    assert done.returncode == 0, done.stderr[-3000:]
    check = run_cli("train", f"verify={sweep}", "verify.epochs=1", cwd=tmp_path, pythonpath=None)
    assert check.returncode == 0, check.stderr[-3000:]
    assert "seed=0: identical: the first epoch" in check.stdout
    assert "2 of 2 jobs identical." in check.stdout
    rerun = tmp_path / "sweep.verify1"
    assert sorted(p.name for p in rerun.glob("seed=*")) == ["seed=0", "seed=1"]
    assert all(len((rerun / n / "metrics.csv").read_text().splitlines()) == 2 for n in ("seed=0", "seed=1"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify={tmp}/nothing"], "not a mnist-exp run or sweep folder"),
        (["verify={run}", "data.batch_size=64"], "data.batch_size=64 would run another experiment"),
        (["verify={run}", "verify.epochs=0"], "verify.epochs must be an integer >= 1"),
    ],
)
def test_verify_refuses_plainly(tmp_path: Path, args: list[str], message: str) -> None:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- model=mlp\n")
    words = [a.format(tmp=tmp_path, run=run) for a in args]
    refused_plainly(run_cli("train", *words, cwd=tmp_path, pythonpath=None), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_differences_name_what_changed_and_skip_what_did_not() -> None:
    a = {"packages": {"torch": "2.14.1", "numpy": "2.1"}, "git": {"commit": "3f2a" * 10, "dirty": True}}
    b = {"packages": {"torch": "2.5.1", "numpy": "2.1"}, "git": {"commit": "9c1b" * 10}}
    assert provenance.differences(a, b) == [
        "commit 3f2a3f2a3f (dirty) vs 9c1b9c1b9c",
        "torch 2.14.1 vs 2.5.1",
    ]
    assert provenance.differences(a, a) == []


def test_a_patch_is_capped_and_a_password_in_the_command_masked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(
        "sys.argv", ["mnist-exp-train", "logger.mlflow.tracking_uri=https://me:s3cret@host/x"]
    )
    entry, _ = provenance.collect({}, {})
    assert entry["command"][1] == "logger.mlflow.tracking_uri=https://me:***@host/x"
    monkeypatch.setattr(provenance, "PATCH_CAP", 100)
    provenance.record(tmp_path, entry, "x" * 250)
    assert (
        (tmp_path / "provenance.patch")
        .read_bytes()
        .startswith(b"x" * 100 + b"\n# cut here: the diff has 250")
    )
    assert json.loads((tmp_path / "provenance.json").read_text())["starts"][0]["git"]["patch_bytes"] == 250


@pytest.mark.parametrize(
    ("precision", "device", "flags", "warned"),
    [
        ("bf16-mixed", "cpu", {"avx2", "fma"}, True),  # an AVX2-only CPU: emulated
        ("bf16-mixed", "cpu", {"avx512f", "avx512_bf16"}, False),  # AVX512-BF16 (Zen 4, Cooper Lake)
        ("bf16-mixed", "cpu", {"amx_bf16", "amx_tile"}, False),  # AMX (Sapphire Rapids)
        ("32-true", "cpu", {"avx2"}, False),
        ("bf16-mixed", "cuda", {"avx2"}, False),
        ("bf16-mixed", "cpu", set(), False),  # flags unknown: no guess
        ("bf16-mixed", "cpu", {"amx_bf16", "oneDNN capped"}, True),  # AMX, but oneDNN may not use it
    ],
)
def test_bf16_is_called_slow_only_where_the_cpu_emulates_it(precision, device, flags, warned) -> None:
    onednn = "oneDNN capped" not in flags
    note = provenance.bf16_note(precision, device, flags, "AVX2", onednn)
    assert (note is not None) == warned
    if note:
        assert "torch's CPU capability: AVX2" in note and "trainer.precision=32-true" in note


def test_a_bf16_run_where_onednn_may_not_use_bf16_says_so_in_one_line(
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run with oneDNN capped below bf16 (as on an AVX2-only CPU, where bf16 measured 4.6-6.5x
    slower than 32-bit): the run goes on, and its log says so once, naming the fix."""
    quick = ["model=mlp", "debug=limit", "trainer.max_epochs=1", "test=false", "logger=none"]
    args = [*quick, "trainer.precision=bf16-mixed", f"data.root={mnist_root}"]
    args.append(f"hydra.run.dir={tmp_path / 'r'}")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    done = run_module("train", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout + done.stderr
    assert said.count("bf16 is emulated here") == 1 and "ONEDNN_MAX_CPU_ISA=AVX2" in said, said[-3000:]
    assert "Fix: trainer.precision=32-true" in said
