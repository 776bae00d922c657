"""A user's own model, the Hydra way: a class in the user's module, a YAML in the user's config
folder. What a model config may name, how it is rebuilt, and how a run finds its config folder
again (resume from another folder, a moved folder refused)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from mnist_exp.core.errors import UserError
from mnist_exp.core.netbuild import build_net, input_error, model_class
from mnist_exp.core.netconfig import checked_net_config
from mnist_exp.setup.config import compose
from mnist_exp.setup.sources import split_argv
from mnist_exp.setup.validate import validate
from tests.conftest import compose_cfg, refused_plainly, run_cli

TINY = """
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self, width: int = 64, num_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(1024, width), nn.ReLU(), nn.Linear(width, num_classes)
        )

    def forward(self, x):
        return self.body(x)


def make_tiny(width: int = 64):
    return Tiny(width)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's project: mymodels.py (importable) and myconf/model/tiny.yaml (width 48)."""
    root = tmp_path / "my project"
    (root / "myconf" / "model").mkdir(parents=True)
    (root / "mymodels.py").write_text(TINY)
    (root / "myconf" / "model" / "tiny.yaml").write_text("_target_: mymodels.Tiny\nwidth: 48\n")
    monkeypatch.syspath_prepend(str(root))
    sys.modules.pop("mymodels", None)
    return root


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"_target_": "pathlib.Path.unlink", "self": "x"}, "standard library"),
        ({"_target_": "os.system", "command": "true"}, "standard library"),
        ({"_target_": "Tiny"}, "is not a dotted class name"),
        ({"_target_": "mymodels.Tiny", "act": {"_target_": "torch.nn.ReLU"}}, "model.act._target_"),
        ({"_target_": "mymodels.Tiny", "_partial_": True}, "model._partial_"),
        ({"_target_": "mymodels.Tiny", "layers": [1, {"_call_": "x"}]}, "model.layers[1]._call_"),
        ({"width": 3}, "has no model config with a _target_"),
    ],
)
def test_a_model_config_names_only_a_class_with_plain_arguments(config: dict, message: str) -> None:
    with pytest.raises(UserError, match="Fix:") as err:
        checked_net_config(config, "Checkpoint x.ckpt")
    assert message in str(err.value)


def test_plain_configs_pass_and_legacy_targets_move() -> None:
    assert checked_net_config({"_target_": "mnist_exp.models.LeNet5", "_convert_": "all"}, "x") == {
        "_target_": "mnist_exp.core.models.LeNet5"
    }
    config = {"_target_": "my.pkg.Net", "sizes": [1, 2], "opts": {"a": None, "b": "c"}, "p": 0.5}
    assert checked_net_config(config, "x") == config


def test_the_class_is_imported_by_name_and_must_be_a_module(project: Path) -> None:
    net = build_net({"_target_": "mymodels.Tiny", "width": 48})
    assert type(net).__name__ == "Tiny" and net.body[1].out_features == 48
    for target, message in (
        ("mymodels.make_tiny", "is a function, not a torch.nn.Module class"),
        ("mymodels.torch", "is a module, not a torch.nn.Module class"),
        ("mymodels.Tinyy", "module mymodels has no Tinyy"),
        ("yourmodels.Tiny", "Python finds no module 'yourmodels'. Fix: put the folder that holds"),
    ):
        with pytest.raises(UserError, match=message):
            model_class(target)
    with pytest.raises(UserError, match=r"does not take the arguments .*\(width, num_classes\)"):
        build_net({"_target_": "mymodels.Tiny", "depth": 3})


def test_input_size_is_tried_on_two_images_and_the_pads_that_fit_are_named(project: Path) -> None:
    tiny = build_net({"_target_": "mymodels.Tiny"})
    assert input_error(tiny, 2, 10) is None  # 32x32 = 1024 inputs
    error = input_error(tiny, 0, 10)
    assert error.startswith("data.pad=0: Tiny fails on a batch of 28x28 images")
    assert error.endswith("Fix: data.pad=2 (32x32).")
    assert "not (2, 7) class scores" in input_error(tiny, 2, 7)
    assert tiny.training  # left as it was found


def test_training_refuses_a_model_config_no_checkpoint_could_rebuild() -> None:
    cfg = compose_cfg("config", ["+model.act={_target_: torch.nn.ReLU}"])
    with pytest.raises(UserError, match=r"model\.act\._target_ asks Hydra to build or call something"):
        validate(cfg)


def test_flags_come_first_and_job_folders_need_no_quotes() -> None:
    line = split_argv(["model=tiny", "--config-dir", "my conf", "ckpt_path=/r/lr=0.5/last.ckpt", "-m"])
    assert line.argv() == ["--config-dir", "my conf", "-m", "model=tiny", 'ckpt_path="/r/lr=0.5/last.ckpt"']
    assert line.config_dir == "my conf"


def test_a_primary_config_of_the_users_composes_over_the_packaged_one(project: Path) -> None:
    (project / "myconf" / "mine.yaml").write_text(
        "defaults:\n  - config\n  - override model: tiny\n  - _self_\ntrainer:\n  max_epochs: 3\n"
    )
    cfg = compose("mine", ["optimizer.lr=0.5"], config_dir=str(project / "myconf"))
    assert (cfg.model.width, cfg.trainer.max_epochs, cfg.optimizer.lr, cfg.data.pad) == (48, 3, 0.5, 2)


@pytest.mark.slow
def test_searchpath_run_resumes_from_anywhere_and_its_checkpoint_rebuilds_width_48(
    project: Path, tmp_path: Path, mnist_root: Path
) -> None:
    quick = ["model=tiny", "debug=limit", "trainer.max_epochs=1", f"data.root={mnist_root}"]
    run = project / "outputs" / "run"
    done = run_cli(
        "train",
        "hydra.searchpath=[file://myconf]",
        *quick,
        f"hydra.run.dir={run}",
        cwd=project,
        pythonpath=project,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["net_config"] == {"_target_": "mymodels.Tiny", "width": 48}

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("train", f"resume={run}", "trainer.max_epochs=2", cwd=elsewhere, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run / "status.json").read_text())["status"] == "ok"
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header and 2 epochs
    assert OmegaConf.load(run / ".hydra" / "config.yaml").model.width == 48
    # the folder named again, as a flag after the overrides: the same run goes on
    done = run_cli("train", f"resume={run}", "trainer.max_epochs=3", "--config-dir", str(project / "myconf"),
                cwd=elsewhere, pythonpath=project)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert len((run / "metrics.csv").read_text().splitlines()) == 4

    ckpt_arg = f"ckpt_path={run}/checkpoints/last.ckpt"
    done = run_cli("eval", ckpt_arg, f"data.root={mnist_root}", cwd=elsewhere, pythonpath=project)
    refused_plainly(done, "you have not vouched for the module mymodels. Fix: if you trust the file and "
                    "that code, add trust=[mymodels]")  # fmt: skip
    done = run_cli(
        "eval", ckpt_arg, f"data.root={mnist_root}", "trust=[mymodels]", cwd=elsewhere, pythonpath=project
    )
    assert done.returncode == 0 and "test/acc: " in done.stdout, done.stderr[-2000:]
    done = run_cli(
        "eval", ckpt_arg, f"data.root={mnist_root}", "trust=[mymodels]", cwd=elsewhere, pythonpath=None
    )
    refused_plainly(
        done,
        "Python finds no module 'mymodels'. Fix: put the folder that holds mymodels/ or mymodels.py on "
        "PYTHONPATH",
    )

    (project / "myconf").rename(project / "moved")
    done = run_cli("train", f"resume={run}", "trainer.max_epochs=4", cwd=elsewhere, pythonpath=project)
    refused_plainly(
        done, f"was composed with the config folder {project / 'myconf'} (--config-dir), which is no"
    )
    assert not (elsewhere / "outputs" / "train").exists()  # eval's own folder is all it holds


@pytest.mark.slow
def test_trackers_show_an_own_model_like_a_built_in_one(project: Path, mnist_root: Path) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    loggers = "logger=[tensorboard,mlflow,wandb]"
    args = ["--config-dir", "myconf", "model=tiny", loggers, "debug=limit", "trainer.max_epochs=1"]
    done = run_cli("train", *args, f"data.root={mnist_root}", cwd=project, pythonpath=project)
    assert done.returncode == 0, done.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{project / 'outputs' / 'mlflow.db'}")
    [run] = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.params["model._target_"] == "mymodels.Tiny" and run.data.params["model.width"] == "48"
    [folder] = (project / "outputs" / "train" / "runs").iterdir()
    [record] = (folder / "wandb").glob("offline-run-*/run-*.wandb")
    assert b"mymodels.Tiny" in record.read_bytes()  # W&B's config, in its offline run
    acc = EventAccumulator(str(folder))
    acc.Reload()
    info = plugin_data_pb2.HParamsPluginData.FromString(
        acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    ).session_start_info
    assert info.hparams["model"].string_value == "Tiny" and info.hparams["model.width"].number_value == 48
