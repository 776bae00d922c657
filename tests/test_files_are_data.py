"""Files are data: a checkpoint, run folder or sweep folder that someone hands over never runs code.

Every crafted file of issue 31's table goes through eval and predict in-process, under an audit
hook (sys.addaudithook) that records every import, every open for writing, every removal, rename,
folder creation and process start: a refusal is exit 2 with one message, the user's files are
untouched, and none of those happened. Hypothesis then generates checkpoints and folder files.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_exp.cli import eval as eval_cli
from mnist_exp.cli import predict as predict_cli
from mnist_exp.cli import train as train_cli
from mnist_exp.core.checkpoint import load_checkpoint, read_record
from mnist_exp.core.errors import UserError
from mnist_exp.core.models import MLP
from mnist_exp.core.module import MNISTClassifier
from mnist_exp.setup.guards import resume_argv
from mnist_exp.setup.recorded_code import code_error
from mnist_exp.setup.rerun_command import verify_argv

REPO = Path(__file__).resolve().parent.parent
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {
    "os.remove",
    "os.rename",
    "os.mkdir",
    "os.rmdir",
    "shutil.rmtree",
    "os.truncate",
    "os.symlink",
    "os.link",
    "os.chmod",
    "os.utime",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.fork",
    "os.spawn",
    "exec",
}
_events: list[tuple[str, tuple]] | None = None


def _hook(event: str, args: tuple) -> None:
    if _events is not None and (event in CHANGES or event in ("import", "open")):
        _events.append((event, args))


sys.addaudithook(_hook)  # for the whole test process: hooks cannot be removed; recording is switched


@contextmanager
def audited():
    """Record what the code inside does: [(event, args)]."""
    global _events
    _events = seen = []
    try:
        yield seen
    finally:
        _events = None


def side_effects(seen: list[tuple[str, tuple]], allowed: Path | None = None) -> list[str]:
    """Imports, writes and changes among the audited events (writes below `allowed` excepted)."""
    found = []
    for event, args in seen:
        if event == "open":
            path, mode, flags = ([*list(args), None, None])[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                (flags or 0) & WRITES
            )
            inside = allowed is not None and str(path).startswith(str(allowed))
            if writing and not inside and not str(path).startswith("/dev/"):
                found.append(f"open {path} {mode}")
        elif event == "import":
            found.append(f"import {args[0]}")
        elif not (allowed is not None and args and str(args[0]).startswith(str(allowed))):
            found.append(f"{event} {args[:2]}")
    return found


MAINS: dict[str, Callable[[], None]] = {
    "eval": eval_cli.main,
    "predict": predict_cli.main,
    "train": train_cli.main,
}


def call(command: str, *args: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """A user's command line, run in this process (`mnist-exp-<command> args`): its exit code."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [f"mnist-exp-{command}", *args])
    try:
        MAINS[command]()
    except SystemExit as stop:
        return 0 if stop.code is None else int(stop.code)
    return 0


def net_state() -> dict[str, torch.Tensor]:
    return MNISTClassifier(net=MLP(hidden=8), optimizer=None).state_dict()


def checkpoint(hp: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A checkpoint as mnist-exp writes one (a tiny MLP), with `hp` merged into its hyperparameters."""
    hparams = {
        "num_classes": 10,
        "data_config": {"pad": 2, "mean": 0.5, "std": 1.0},
        "check_finite": True,
        "channels_last": True,
        "max_loss": 100.0,
        "net_config": {
            "_target_": "mnist_exp.core.models.MLP",
            "in_features": 1024,
            "hidden": 8,
            "num_classes": 10,
            "activation": "relu",
        },
    }
    hparams.update(hp or {})
    return {"epoch": 0, "global_step": 1, "state_dict": net_state(), "hyper_parameters": hparams, **top}


def victims(folder: Path) -> dict[Path, bytes | None]:
    keep = folder / "keep"
    keep.mkdir(exist_ok=True)
    (keep / "notes.txt").write_text("the user's own words\n")
    return {
        keep / "notes.txt": (keep / "notes.txt").read_bytes(),
        keep / "created": None,
        keep / "made": None,
    }


def untouched(files: dict[Path, bytes | None]) -> None:
    """The user's files as they were: nothing deleted, overwritten or created."""
    for path, before in files.items():
        assert (path.read_bytes() if path.exists() else None) == before, path


def node(target: str, **kw: Any) -> dict[str, Any]:
    return {"_target_": target, **kw}


def crafted_rows(keep: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Issue 31's table and variants: the checkpoint's contents, and what the refusal says."""
    notes, created, made = str(keep / "notes.txt"), str(keep / "created"), str(keep / "made")
    unlink = node("pathlib.Path.unlink", _args_=[node("pathlib.Path", _args_=[notes])])
    mlp = checkpoint()["hyper_parameters"]["net_config"]
    create = "${oc.create:{_target_: os.makedirs, name: " + made + "}}"
    unknown = "keys mnist-exp does not know"
    return {
        "scheduler node": (checkpoint({"scheduler": unlink}), f"{unknown}: 'scheduler'"),
        "optimizer node": (checkpoint({"optimizer": unlink}), f"{unknown}: 'optimizer'"),
        "pad node": (
            checkpoint(
                {"data_config": {"pad": node("pathlib.Path.touch", self=created), "mean": 0.5, "std": 1}}
            ),
            "data_config.pad must be an integer",
        ),
        "pad resolver": (
            checkpoint({"data_config": {"pad": create, "mean": 0.5, "std": 1.0}}),
            "data_config.pad",
        ),
        "data root": (
            checkpoint({"data_config": {"pad": 2, "mean": 0.5, "std": 1.0, "root": made}}),
            f"{unknown}: 'root'",
        ),
        "download": (
            checkpoint({"data_config": {"pad": 2, "mean": 0.5, "std": 1.0, "download": True}}),
            f"{unknown}: 'download'",
        ),
        "dataset node": (
            checkpoint({"data_config": {"pad": 2, "mean": 0.5, "std": 1.0, "dataset": unlink}}),
            "data_config.dataset must be a plain name",
        ),
        "class name escapes": (
            checkpoint({"data_config": {"pad": 2, "mean": 0.5, "std": 1.0, "classes": ["\x1b[2J"] * 10}}),
            "must hold names of 1 to 100 printable characters",
        ),
        "class count": (
            checkpoint({"data_config": {"pad": 2, "mean": 0.5, "std": 1.0, "classes": ["a", "b"]}}),
            "must list a name for each of the 10 classes",
        ),
        "lightning module": (
            checkpoint(
                {
                    "net_config": node(
                        "mnist_exp.core.module.MNISTClassifier",
                        net=mlp,
                        optimizer={"p": "${oc.create:{_target_: pathlib.Path.touch}}"},
                    )
                }
            ),
            "model.net._target_ asks Hydra to build or call something",
        ),
        "mlflow main": (checkpoint({"net_config": node("mlflow.__main__.Net")}), "private part (__main__)"),
        "f2py main": (checkpoint({"net_config": node("numpy.f2py.__main__.Net")}), "private part (__main__)"),
        "PIL main": (checkpoint({"net_config": node("PIL.__main__.Net")}), "private part (__main__)"),
        "private": (
            checkpoint({"net_config": node("mnist_exp.core.models._Hidden")}),
            "private part (_Hidden)",
        ),
        "lpips": (
            checkpoint({"net_config": node("torchmetrics.functional.image.lpips.Alexnet", pretrained=True)}),
            "have not vouched for the module torchmetrics.functional.image.lpips",
        ),
        "module on PYTHONPATH": (checkpoint({"net_config": node("evilmod.Net")}), "trust=[evilmod]"),
        "stdlib": (checkpoint({"net_config": node("pathlib.Path", _args_=[made])}), "standard library"),
        "resolver in an argument": (
            checkpoint({"net_config": {**mlp, "activation": create}}),
            "cannot be loaded into a model",  # a plain string reaches the MLP, which knows no such name
        ),
        "unknown top key": (checkpoint(evil=unlink), f"{unknown}: 'evil'"),
        "metric name": (
            checkpoint(mnist_exp_train_metrics={"net": {"state": {}}}),
            f"{unknown}: 'net'",
        ),
        "callback path": (
            checkpoint(
                callbacks={
                    "EpochCheckpoint{}": {
                        "dirpath": str(keep / "ck"),
                        "best_k_models": {str(keep / "ck" / ".." / "notes.txt"): 0.5},
                    }
                }
            ),
            "which is not a file in its own folder",
        ),
    }


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """A legitimate checkpoint through eval and predict once, in this process: the legitimate path
    works, and every module the commands need is imported, so a later import is the file's doing."""
    folder = tmp_path_factory.mktemp("warm")
    torch.save(checkpoint(), folder / "good.ckpt")
    mp = pytest.MonkeyPatch()
    try:
        code = call("eval", "ckpt_path=good.ckpt", f"data.root={mnist_root}", cwd=folder, monkeypatch=mp)
        assert code == 0
        image = REPO / "docs" / "sample_0.png"
        assert call("predict", "ckpt_path=good.ckpt", f"images=[{image}]", cwd=folder, monkeypatch=mp) == 0
        bad = folder / "bad.ckpt"  # and one refusal, for the modules a refusal needs (its message)
        torch.save(checkpoint({"evil": 1}), bad)
        assert call("eval", "ckpt_path=bad.ckpt", f"data.root={mnist_root}", cwd=folder, monkeypatch=mp) == 2
    finally:
        mp.undo()
    return folder


ROWS = list(crafted_rows(Path("/x")))


@pytest.mark.parametrize("command", ["eval", "predict"])
@pytest.mark.parametrize("row", ROWS)
def test_a_crafted_checkpoint_is_refused_and_touches_nothing(
    row: str,
    command: str,
    warm: Path,
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    files = victims(tmp_path)
    (tmp_path / "evilmod.py").write_text(f"open({str(tmp_path / 'keep' / 'created')!r}, 'w')\nNet = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # a module of the file's choosing, on the user's path
    content, message = crafted_rows(tmp_path / "keep")[row]
    torch.save(content, tmp_path / "shared.ckpt")
    extra = f"data.root={mnist_root}" if command == "eval" else f"images=[{REPO / 'docs' / 'sample_0.png'}]"
    capsys.readouterr()
    with audited() as seen:
        code = call(command, "ckpt_path=shared.ckpt", extra, cwd=tmp_path, monkeypatch=monkeypatch)
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert message in err and "Fix:" in err and err.startswith("Error:") and err.strip().count("\n") == 0, err
    assert "Traceback" not in out + err
    untouched(files)
    assert not (tmp_path / "outputs").exists()
    assert side_effects(seen) == []


def test_vouching_is_needed_and_enough_and_never_for_impostors(
    warm: Path,
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    """trust=[mymod] lets a checkpoint of mymod.Net through eval; an alias of another class, a
    LightningModule and Python's own modules stay refused even when named."""
    (tmp_path / "mymod.py").write_text(
        "from torch import nn\nfrom torch.nn import Linear as Alias\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(1024, 10)\n\n"
        "    def forward(self, x):\n        return self.fc(x.flatten(1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    own = checkpoint({"net_config": node("mymod.Net")})
    import mymod

    own["state_dict"] = MNISTClassifier(net=mymod.Net(), optimizer=None).state_dict()
    torch.save(own, tmp_path / "own.ckpt")
    root = f"data.root={mnist_root}"
    assert call("eval", "ckpt_path=own.ckpt", root, cwd=tmp_path, monkeypatch=monkeypatch) == 2
    assert "add trust=[mymod] to the command" in capsys.readouterr().err
    assert (
        call("eval", "ckpt_path=own.ckpt", root, "trust=[mymod]", cwd=tmp_path, monkeypatch=monkeypatch) == 0
    )
    assert "test/acc: " in capsys.readouterr().out
    cases = {
        "mymod.Alias": ("trust=[mymod]", "is the class torch.nn.modules.linear.Linear under another name"),
        "mnist_exp.core.module.MNISTClassifier": ("trust=[mnist_exp.core.module]", "is a LightningModule"),
        "pathlib.Path": ("trust=[pathlib]", "standard library"),
        "mymod.Net": ("trust=[__main__]", "private part (__main__)"),
    }
    for target, (trust, message) in cases.items():
        torch.save(checkpoint({"net_config": node(target)}), tmp_path / "x.ckpt")
        where = f"hydra.run.dir={tmp_path / target}"  # one process: its run_id is the same each call
        assert (
            call("eval", "ckpt_path=x.ckpt", root, trust, where, cwd=tmp_path, monkeypatch=monkeypatch) == 2
        )
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (target, err)
    assert (
        not (tmp_path / "outputs" / "eval" / "runs").exists()
        or len(list((tmp_path / "outputs" / "eval" / "runs").iterdir())) == 1
    )  # the one vouched eval's folder


def test_a_module_that_exits_on_import_is_one_message(
    warm: Path,
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    """A vouched module whose import calls sys.exit (a command line's __main__-like code) is
    reported as a failed import, never as another program's exit."""
    (tmp_path / "exits.py").write_text("import sys\nsys.exit('usage: some other program')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.save(checkpoint({"net_config": node("exits.Net")}), tmp_path / "x.ckpt")
    code = call(
        "eval",
        "ckpt_path=x.ckpt",
        f"data.root={mnist_root}",
        "trust=[exits]",
        cwd=tmp_path,
        monkeypatch=monkeypatch,
    )
    err = capsys.readouterr().err
    assert code == 2 and "Importing exits for the model class exits.Net failed (SystemExit" in err, err


def test_eval_takes_the_users_data_root_and_the_files_numbers(warm: Path, mnist_root: Path) -> None:
    """The record holds pad, mean, std and plain names (the data's and its classes'); eval builds
    the user's data module around the numbers."""
    record = read_record(warm / "good.ckpt")
    assert (record.data.pad, record.data.mean, record.data.std) == (2, 0.5, 1.0)
    model = load_checkpoint(warm / "good.ckpt")
    digits = tuple("0123456789")
    assert dict(model.hparams["data_config"]) == {
        "pad": 2,
        "mean": 0.5,
        "std": 1.0,
        "classes": digits,
        "dataset": None,
    }
    assert type(model.net) is MLP
    for legacy in (REPO / "tests" / "data").glob("legacy_*.ckpt"):  # earlier versions still load
        assert load_checkpoint(legacy).hparams["net_config"]["_target_"].startswith("mnist_exp.core.models.")


def test_predict_says_what_a_data_module_of_ones_own_must_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model trained on a user's data module that gave no pad, mean and std: predict cannot know
    how a picture becomes its input, and says in one line what to add."""
    unsaid = {
        "pad": None,
        "mean": None,
        "std": None,
        "dataset": "mydata.Scans",
        "classes": list("abcdefghij"),
    }
    torch.save(checkpoint({"data_config": unsaid}), tmp_path / "own.ckpt")
    image = f"images=[{REPO / 'docs' / 'sample_0.png'}]"
    code = call("predict", "ckpt_path=own.ckpt", image, cwd=tmp_path, monkeypatch=monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and "trained on mydata.Scans, which did not say how a picture becomes its input" in err
    assert "Fix: give that data module the attributes pad, mean and std" in err and "Traceback" not in err


# ---- run and sweep folders -------------------------------------------------------------------


def fake_run(folder: Path, overrides: list[str]) -> Path:
    """A run folder as Hydra records one, with the overrides someone edited in."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump({"trainer": {"max_epochs": 1}, "callbacks": {"model_checkpoint": {}}})
    )
    (folder / "checkpoints").mkdir()
    torch.save(checkpoint(), folder / "checkpoints" / "last.ckpt")
    return folder


CODE_OVERRIDES = [
    "+callbacks.evil._target_=pathlib.Path.touch",
    "+callbacks.evil={_target_: pathlib.Path.touch, _args_: [x]}",
    "model._target_=os.system",
    "optimizer._partial_=false",
    "data.root=${oc.env:HOME}",
    "model.hidden=${oc.create:{_target_: os.makedirs, name: x}}",
    "hydra.job.env_set.LD_PRELOAD=/tmp/evil.so",
    "hydra.launcher.setup=[touch /tmp/x]",
    "hydra.callbacks.x._target_=os.system",
    "hydra.searchpath=[pkg://evilpkg]",
]


@pytest.mark.parametrize("override", CODE_OVERRIDES)
def test_a_recorded_override_that_names_code_is_refused_by_verify_and_resume(
    override: str, tmp_path: Path
) -> None:
    run = fake_run(tmp_path / "run", ["model=mlp", override])
    for argv_of in (verify_argv, resume_argv):
        key = "verify" if argv_of is verify_argv else "resume"
        with pytest.raises(UserError, match="A folder is data") as err:
            argv_of([f"{key}={run}", "trainer.max_epochs=2"] if key == "resume" else [f"{key}={run}"])
        assert f"type it again on this command line: '{override}'" in str(err.value)
    typed = resume_argv([f"resume={run}", "trainer.max_epochs=2", override])  # typed again: the user's
    assert override in typed
    if override.startswith("+callbacks.evil"):  # the node removed on the command line: nothing built
        assert "~callbacks.evil" in resume_argv([f"resume={run}", "trainer.max_epochs=2", "~callbacks.evil"])


def test_plain_recorded_overrides_pass() -> None:
    for override in [
        "optimizer.lr=0.1",
        "model=mlp",
        "data.root=/my data/x",
        "+seed=3",
        "hydra/launcher=joblib",
        "hydra.run.dir=out/${now:%H}",
        "model.hidden=${model.in_features}",
        "tags=[a_b,c]",
    ]:
        assert code_error(override) is None, override


def test_verify_says_which_folders_and_code_it_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = fake_run(tmp_path / "run", ["model=mlp"])
    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    config["model"] = {"_target_": "mymodels.Tiny", "width": 4}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "status.json").write_text('{"status": "ok"}')
    verify_argv([f"verify={run}"])
    out = capsys.readouterr().out
    assert f"verify: re-running {run}" in out and "code outside mnist-exp: mymodels.Tiny" in out, out


def test_a_recorded_package_source_or_config_name_is_refused(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", ["model=mlp"])
    hydra = {
        "hydra": {
            "runtime": {
                "cwd": str(tmp_path),
                "config_sources": [
                    {"path": "evilpkg.conf", "schema": "pkg", "provider": "hydra.searchpath in command-line"}
                ],
            }
        }
    }
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hydra))
    with pytest.raises(UserError, match=r"pkg://evilpkg\.conf"):
        verify_argv([f"verify={run}"])
    hydra["hydra"]["runtime"]["config_sources"] = []
    hydra["hydra"]["job"] = {"config_name": "../../../tmp/evil"}
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hydra))
    with pytest.raises(UserError, match="which names no config"):
        verify_argv([f"verify={run}"])


# ---- property-based: generated files --------------------------------------------------------

DANGEROUS = [
    "pathlib.Path.unlink",
    "os.system",
    "mlflow.__main__.Net",
    "evilmod.Net",
    "builtins.exec",
    "mnist_exp.core.module.MNISTClassifier",
    "torch.nn.Linear",
    "mnist_exp.core.models.MLP",
]
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["${oc.env:HOME}", "${oc.create:{_target_: os.system}}", "../x"]),
    st.sampled_from(DANGEROUS),
)
keys = st.one_of(
    st.sampled_from(["_target_", "_args_", "_partial_", "pad", "mean", "std", "root", "hidden"]),
    st.text(max_size=8),
)
values = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)
hparam_keys = st.sampled_from(
    ["net_config", "num_classes", "data_config", "check_finite", "channels_last", "max_loss", "scheduler"]
)
net_configs = st.fixed_dictionaries(
    {"_target_": st.sampled_from(DANGEROUS)},
    optional={
        "hidden": values,
        "activation": values,
        "_args_": values,
        "num_classes": values,
        "in_features": values,
    },
)
hparams = st.dictionaries(hparam_keys, values, max_size=6).flatmap(
    lambda hp: st.just(hp) | net_configs.map(lambda net: {**hp, "net_config": net})
)
tops = st.dictionaries(
    st.sampled_from(["callbacks", "mnist_exp_train_metrics", "epoch", "loops", "evil"]), values, max_size=2
)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@FUZZ
@given(hp=hparams, top=tops, keep_state=st.booleans())
def test_fuzzed_checkpoints_load_or_are_refused_with_no_side_effect(
    warm: Path, hp: dict[str, Any], top: dict[str, Any], keep_state: bool
) -> None:
    ckpt = {**checkpoint(), **top, "hyper_parameters": {**checkpoint()["hyper_parameters"], **hp}}
    if not keep_state:
        ckpt["state_dict"] = {}
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.ckpt"
        path.write_bytes(buffer.getvalue())
        with audited() as seen:
            for load in (read_record, load_checkpoint):
                try:
                    load(path)
                except UserError as err:
                    assert "Fix:" in str(err) and "\n" not in str(err).strip(), str(err)
        assert side_effects(seen) == []


override_text = st.one_of(
    st.sampled_from([*CODE_OVERRIDES, "optimizer.lr=0.1", "model=mlp", "trainer.max_epochs=3"]),
    st.text(max_size=30),
)
folder_files = st.fixed_dictionaries(
    {
        "overrides": st.one_of(st.lists(override_text, max_size=4), values),
        "status": st.one_of(
            st.text(max_size=40), st.sampled_from(['{"status": "ok"}', '{"status": [1]}', "[]", "1e999"])
        ),
        "metrics": st.one_of(st.text(max_size=60), st.just("epoch,val/acc\n0,nan\n1,abc\n")),
    }
)


@FUZZ
@given(files=folder_files)
def test_fuzzed_run_folders_are_read_or_refused_with_no_side_effect(files: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = fake_run(Path(tmp) / "run", [])
        (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(files["overrides"]))
        (run / "status.json").write_text(files["status"])
        (run / "metrics.csv").write_text(files["metrics"])
        for key, argv_of in (("verify", verify_argv), ("resume", resume_argv)):
            with audited() as seen:
                try:
                    argv = argv_of(
                        [f"{key}={run}", "trainer.max_epochs=5"] if key == "resume" else [f"{key}={run}"]
                    )
                except UserError as err:
                    assert "Fix:" in str(err), str(err)
                else:
                    recorded = files["overrides"] if isinstance(files["overrides"], list) else []
                    assert not any(code_error(o) for o in recorded if o in argv), argv
            assert side_effects(seen) == []


# ---- a sweep folder handed over: the report ---------------------------------------------------


def crafted_sweep(root: Path, outside: Path) -> Path:
    """A sweep folder whose files were edited: Markdown and HTML in names, overrides and errors,
    NaN and text where numbers belong, a huge status.json, junk provenance, a job that is a link."""
    sweep = root / "sweep"
    jobs = {
        "lr=0.1": (
            '{"status": "ok", "metrics": {"test/acc": NaN, "val/acc_best": "high"}}',
            "epoch,val/acc\n0,0.5\n",
        ),
        "[x](evil.html) <b>": (
            '{"status": "failed", "error": "<script>alert(1)</script>|"}',
            "epoch,val/acc\nx,y\n",
        ),
        "huge": ('{"status": "ok", "pad": "' + "x" * 1_100_000 + '"}', "epoch,val/acc\n0,nan\n"),
        "list": ("[1, 2]", "not,a\ncsv"),
    }
    for name, (status, metrics) in jobs.items():
        job = sweep / name
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump(["optimizer.lr=${oc.env:HOME}", f"tag={name}"])
        )
        (job / "status.json").write_text(status)
        (job / "metrics.csv").write_text(metrics)
        (job / "provenance.json").write_text('{"starts": ["a", {"git": "x", "packages": [1]}]}')
    (outside / ".hydra").mkdir(parents=True)
    (outside / ".hydra" / "overrides.yaml").write_text("[a=1]")
    (outside / "status.json").write_text('{"status": "ok"}')
    (sweep / "linked").symlink_to(outside)  # a job folder that points elsewhere: not a job
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": ["lr=0.1"]}}}))
    return sweep


def test_a_crafted_sweep_folder_is_reported_harmlessly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mnist_exp.cli import report as report_cli  # matplotlib: only these tests

    report_cli.main([str(crafted_sweep(tmp_path / "warm", tmp_path / "warm" / "outside"))])  # imports done
    outside = tmp_path / "outside"
    sweep = crafted_sweep(tmp_path, outside)
    with audited() as seen:
        report_cli.main([str(sweep)])  # exit 0: returns
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    text = (sweep / "report.md").read_text()
    assert "\\<script\\>" in text and "\\[x\\](evil.html) \\<b\\>" in text  # shown, escaped
    assert not re.search(r"(?<!\\)(<script|<b>|\[x)", text), text  # never as markup
    assert "linked" not in text and not (outside / "report.md").exists()
    import matplotlib

    cache = Path(matplotlib.get_cachedir())
    found = [e for e in side_effects(seen, allowed=sweep) if not e.startswith(("import", f"open {cache}"))]
    assert found == []


def test_a_report_file_that_is_a_link_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mnist_exp.cli import report as report_cli

    sweep = crafted_sweep(tmp_path, tmp_path / "outside")
    victim = tmp_path / "thesis.tex"
    victim.write_text("the user's own words\n")
    (sweep / "report.md").symlink_to(victim)
    with pytest.raises(SystemExit) as stop:
        report_cli.main([str(sweep)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "is a link (to" in err and "Fix: remove the link" in err, err
    assert victim.read_text() == "the user's own words\n"


def test_a_picture_too_large_to_be_a_digit_is_refused_before_decoding(tmp_path: Path) -> None:
    """A decompression bomb: a small file that would decode to 36 megapixels."""
    from PIL import Image

    from mnist_exp.core.images import MAX_PIXELS, load_image

    Image.new("L", (6000, 6000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 200_000 and 6000 * 6000 > MAX_PIXELS
    with pytest.raises(UserError, match="a picture of 6000x6000 pixels, more than the 25,000,000"):
        load_image(tmp_path / "bomb.png")


def test_eval_of_a_bf16_true_checkpoint_says_how_to_match_its_precision(
    warm: Path,
    tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    ckpt = checkpoint()
    ckpt["state_dict"] = {
        k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in net_state().items()
    }
    torch.save(ckpt, tmp_path / "bf16.ckpt")
    root = f"data.root={mnist_root}"
    assert (
        call("eval", "ckpt_path=bf16.ckpt", root, "hydra.run.dir=a", cwd=tmp_path, monkeypatch=monkeypatch)
        == 0
    )
    assert "a trainer.precision=bf16-true run); evaluating in 32-true" in capsys.readouterr().out
    matched = ["trainer.precision=bf16-true", "hydra.run.dir=b"]
    assert call("eval", "ckpt_path=bf16.ckpt", root, *matched, cwd=tmp_path, monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "Note:" not in out and "test/acc: " in out


@pytest.mark.parametrize("row", ["callback path", "scheduler node", "unknown top key", "lightning module"])
def test_resume_or_ckpt_path_of_a_crafted_checkpoint_is_refused(
    row: str, warm: Path, tmp_path: Path, mnist_root: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """resume= (and ckpt_path=) hand the file to Lightning, whose ModelCheckpoint deletes the files
    its restored state names: the checkpoint is checked against the schema first."""
    files = victims(tmp_path)
    run = fake_run(tmp_path / "run", ["model=mlp"])
    content, message = crafted_rows(tmp_path / "keep")[row]
    if row == "callback path":  # the state of the run's own checkpoint callback, with a `..`
        folder = str(run / "checkpoints")
        content["callbacks"] = {
            "EpochCheckpoint{}": {"dirpath": folder, "last_model_path": f"{folder}/../../keep/notes.txt"}
        }
    torch.save(content, run / "checkpoints" / "last.ckpt")
    before = sorted(p.name for p in run.rglob("*"))
    for how in (f"resume={run}", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"):  # continue, or start from
        with audited() as seen:
            code = call("train", how, "model=mlp", "trainer.max_epochs=2", f"data.root={mnist_root}",
                        cwd=tmp_path, monkeypatch=monkeypatch)  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (how, err)
        assert not (tmp_path / "outputs").exists()
    untouched(files)
    assert sorted(p.name for p in run.rglob("*")) == before  # the folder's record is untouched
    assert [e for e in side_effects(seen) if not e.startswith("import")] == []
