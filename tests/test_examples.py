"""examples/pytorch_mnist, run as its README says: a user's own project (pytorch/examples' CNN and
recipe) that uses the installed mnist-exp and never edits it, with tiny limits, through every
command: a refused pad, train, a 2-job sweep and its re-run, resume from another folder, eval
(checked against the weights loaded by hand) and predict."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from torchvision import datasets, transforms

from tests.conftest import REPO, refused_plainly, run_cli

EXAMPLE = REPO / "examples" / "pytorch_mnist"
QUICK = ["experiment=pytorch_mnist", "debug=limit", "callbacks.feature_maps=null"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example, copied as a user would have it (a space in its path, outputs/ of its own)."""
    root = tmp_path / "pytorch mnist"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("outputs", "__pycache__"))
    return root


def accuracy_by_hand(project: Path, ckpt: Path, mnist_root: Path) -> float:
    """The checkpoint's test accuracy as pytorch/examples computes it: their transform, the class
    from the user's module, the weights put in by hand."""
    spec = importlib.util.spec_from_file_location("example_net", project / "mnist_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = torch.load(ckpt, weights_only=True)
    config = {k: v for k, v in saved["hyper_parameters"]["net_config"].items() if k != "_target_"}
    net = module.Net(**config).eval()
    net.load_state_dict({k[len("net.") :]: v for k, v in saved["state_dict"].items() if k.startswith("net.")})
    normalize = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    test = datasets.MNIST(str(mnist_root), train=False, transform=normalize, download=False)
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test, batch_size=1000):
            correct += int((net(x).argmax(1) == y).sum())
    return 100 * correct / len(test)


@pytest.mark.slow
def test_the_example_runs_through_every_command(project: Path, tmp_path: Path, mnist_root: Path) -> None:
    data = f"data.root={mnist_root}"
    done = run_cli("train", "--config-dir", "conf", "model=net", data, cwd=project, pythonpath=project)
    refused_plainly(done, "data.pad=2: Net fails on a batch of 32x32 images")
    assert "Fix: data.pad=0 (28x28)." in done.stderr and not (project / "outputs").exists()

    done = run_cli(
        "train", "-m", "--config-dir", "conf", *QUICK, "data.pad=0,2", data, cwd=project, pythonpath=project
    )
    refused_plainly(done, "data.pad=2: Net fails on a batch of 32x32 images")  # in a sweep: each job's pad
    assert not (project / "outputs").exists()

    done = run_cli("train", "--config-dir", "conf", *QUICK, data, cwd=project, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = (project / "outputs" / "pytorch_mnist" / "runs").iterdir()
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert saved["net_config"] == {
        "_target_": "mnist_net.Net",
        "hidden": 128,
        "dropout1": 0.25,
        "dropout2": 0.5,
        "num_classes": 10,
    }

    sweep = project / "outputs" / "sweep"
    swept = [*QUICK, "trainer.max_epochs=1", "optimizer.lr=0.5,1.0", data, f"hydra.sweep.dir={sweep}"]
    done = run_cli("train", "-m", "--config-dir", "conf", *swept, cwd=project, pythonpath=project)
    assert done.returncode == 0 and "2 jobs: 2 ok" in done.stdout, done.stderr[-2000:]
    # the re-run: its config folder recorded, the overrides typed in another order
    done = run_cli("train", "-m", *reversed(swept), cwd=project, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (done.stdout + done.stderr).count("in an earlier run of this sweep; skipped") == 2, done.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = sweep / "lr=0.5"
    done = run_cli("train", f"resume={job}", "trainer.max_epochs=2", cwd=elsewhere, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((job / "status.json").read_text())["status"] == "ok"
    assert len((job / "metrics.csv").read_text().splitlines()) == 3  # header and 2 epochs

    ckpt = job / "checkpoints" / "last.ckpt"
    trust = "trust=[mnist_net]"  # the one word that vouches for the example's model code
    done = run_cli("eval", f"ckpt_path={ckpt}", data, trust, cwd=elsewhere, pythonpath=project)  # no quotes
    assert done.returncode == 0, done.stderr[-2000:]
    shown = float(re.search(r"test/acc: ([\d.]+)%", done.stdout).group(1))
    assert shown == round(accuracy_by_hand(project, ckpt, mnist_root), 2)

    done = run_cli(
        "predict",
        f"ckpt_path={ckpt}",
        f"images={REPO / 'docs' / 'sample_0.png'}",
        trust,
        cwd=elsewhere,
        pythonpath=project,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (csv,) = (elsewhere / "outputs" / "predict" / "runs").glob("*/predictions.csv")
    assert len(csv.read_text().splitlines()) == 2  # the header and the one picture
