"""The worked examples, run as their READMEs say, with tiny limits, through every command: users'
own projects that use the installed mnist-exp and never edit it. examples/pytorch_mnist
(pytorch/examples' CNN and recipe): a refused pad, train, a 2-job sweep and its re-run, resume from
another folder, eval (checked against the weights loaded by hand) and predict.
examples/own_datamodule (a LightningDataModule of PNG files): refusals, sweep, resume, verify, eval,
predict."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
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


OWN_DATA = REPO / "examples" / "own_datamodule"


@pytest.fixture
def own_data_project(tmp_path: Path, mnist_root: Path) -> Path:
    """examples/own_datamodule copied as a user has it, its PNG folder written by its own script."""
    root = tmp_path / "own data"
    shutil.copytree(OWN_DATA, root, ignore=shutil.ignore_patterns("outputs", "pngs", "__pycache__"))
    made = subprocess.run(
        [sys.executable, "make_pngs.py", "--mnist", str(mnist_root), "--count", "1500"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    return root


@pytest.mark.slow
def test_the_own_datamodule_example_runs_through_every_command(own_data_project: Path) -> None:
    """A user's LightningDataModule (per-sample torchvision loading of PNG files), from their config
    folder: refused plainly when misconfigured, then train, sweep, resume, verify, eval, predict."""
    project, quick = (
        own_data_project,
        ["--config-dir", "conf", "data=pngs", "debug=limit", "callbacks.feature_maps=null"],
    )
    done = run_cli("train", "data._target_=pngdigits.PngDigits", cwd=project, pythonpath=project)
    refused_plainly(
        done, "instead of data._target_= on data=mnist, whose options such as dataset it does not"
    )
    refused_plainly(run_cli("train", *quick, "data.num_classes=5", cwd=project, pythonpath=project), "not 5")
    refused_plainly(run_cli("train", *quick, cwd=project, pythonpath=None), "Fix: make pngdigits importable")
    assert not (project / "outputs").exists()

    sweep = project / "outputs" / "lr"
    swept = [*quick, "trainer.max_epochs=1", "optimizer.lr=0.01,0.1", f"hydra.sweep.dir={sweep}"]
    done = run_cli("train", "-m", *swept, cwd=project, pythonpath=project)
    assert done.returncode == 0 and "2 jobs: 2 ok" in done.stdout, done.stderr[-2000:]
    job = sweep / "lr=0.1"
    done = run_cli("train", f"resume={job}", "trainer.max_epochs=2", cwd=project, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = torch.load(job / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"][
        "data_config"
    ]
    assert saved == {
        "dataset": "pngdigits.PngDigits",
        "pad": 2,
        "mean": 0.5,
        "std": 1.0,
        "classes": list("0123456789"),
    }
    done = run_cli("train", f"verify={job}", cwd=project, pythonpath=project)
    assert done.returncode == 0 and "identical: every epoch and the test" in done.stdout, done.stdout[-2000:]

    ckpt = f"ckpt_path={job / 'checkpoints' / 'last.ckpt'}"
    done = run_cli("eval", "--config-dir", "conf", "data=pngs", ckpt, cwd=project, pythonpath=project)
    assert done.returncode == 0 and "test/acc:" in done.stdout, done.stderr[-2000:]
    done = run_cli("predict", ckpt, "images=pngs/test/7", cwd=project, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    (table,) = (project / "outputs" / "predict" / "runs").glob("*/predictions.csv")
    assert len(table.read_text().splitlines()) == 1 + len(list((project / "pngs" / "test" / "7").iterdir()))
