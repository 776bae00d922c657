"""The package as a user installs and starts it: layers and imports, start-up without torch, each
command's own help, configs inside the wheel, and checkpoints of the earlier flat layout."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from mnist_exp.core.checkpoint import load_checkpoint
from mnist_exp.core.models import MLP, LeNet5
from tests.conftest import REPO, run_module

PACKAGE = REPO / "mnist_exp"
# bottom to top: imports go downward only; pipelines/ is three layers of its own kinds of work
LAYERS = ("core", "records", "setup", "pipelines.report", "pipelines.run", "pipelines.sweep", "cli")
LEGACY_CKPT = REPO / "tests" / "data" / "legacy_v0.1.0_lenet.ckpt"  # written by mnist-exp 0.1.0


def imports(path: Path) -> set[str]:
    """Every mnist_exp module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnist_exp"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mnist_exp")}
    return found


def layer(module: str) -> int | None:
    """The layer a module lives in (None for the package's root and pipelines/__init__)."""
    parts = module.split(".")
    for depth in (3, 2):
        name = ".".join(parts[1:depth])
        if len(parts) >= depth and name in LAYERS:
            return LAYERS.index(name)
    return None


def test_every_module_lives_in_a_layer_and_imports_only_downward() -> None:
    loose = [p.name for folder in (PACKAGE, PACKAGE / "pipelines") for p in folder.glob("*.py")]
    assert sorted(loose) == ["__init__.py"] * 2, f"modules outside the layer folders: {loose}"
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        own = layer(module)
        for target in imports(path):
            if layer(target) is not None and own is not None and layer(target) > own:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_import_circle() -> None:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        graph[module] = imports(path)
    modules = set(graph)
    graph = {m: {t for t in targets if t in modules and t != m} for m, targets in graph.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start] - seen:
            seen.add(nxt)
            if nxt == goal or reaches(nxt, goal, seen):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []


def test_reading_runs_back_imports_no_torch() -> None:
    """pipelines/report/ is the torch-free kind of work: every module of it, imported together in
    a fresh process, leaves torch and Lightning unimported (mnist-exp-report stays quick)."""
    folder = PACKAGE / "pipelines" / "report"
    names = sorted(f"mnist_exp.pipelines.report.{p.stem}" for p in folder.glob("*.py"))
    probe = (
        f"import importlib, sys; [importlib.import_module(n) for n in {names!r}]; "
        "print(sorted(m for m in ('torch', 'pytorch_lightning', 'lightning') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and len(names) >= 6, result.stderr
    assert result.stdout.strip() == "[]"


PROBE = """
import sys
sys.argv = [{prog!r}, *{args!r}]
from {module} import main
try:
    main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
heavy = sorted(m for m in ("torch", "pytorch_lightning", "lightning", "torchvision") if m in sys.modules)
print("EXIT", code, "HEAVY", ",".join(heavy) or "-", file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("module", "args", "code"),
    [
        ("mnist_exp.cli.train", ["optimizer.lr=-1"], 2),
        ("mnist_exp.cli.train", ["model=resnet"], 2),
        ("mnist_exp.cli.train", ["--help"], 0),
        ("mnist_exp.cli.train", ["--cfg", "job"], 0),
        ("mnist_exp.cli.train", ["-sc", "install=bash"], 0),
        ("mnist_exp.cli.eval", ["--help"], 0),
        ("mnist_exp.cli.eval", [], 2),
        ("mnist_exp.cli.train", ["ckpt_path=nope.ckpt"], 2),
        ("mnist_exp.cli.eval", ["ckpt_path=nope.ckpt"], 2),
        ("mnist_exp.cli.predict", ["ckpt_path=nope.ckpt", "images=x.png"], 2),
        ("mnist_exp.cli.predict", ["--help"], 0),
        ("mnist_exp.cli.report", ["--help"], 0),
        ("mnist_exp.cli.reproduce", ["--seeds", "0"], 2),
    ],
)
def test_startup_and_refusals_do_not_import_torch(
    module: str, args: list[str], code: int, tmp_path: Path
) -> None:
    prog = "mnist-exp-" + module.rsplit(".", 1)[-1]
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(prog=prog, args=args, module=module)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"EXIT {code} HEAVY -", result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_eval_and_predict_help_show_their_own_options(command: str, tmp_path: Path) -> None:
    result = run_module(command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: mnist-exp-{command} ckpt_path=")
    assert "ckpt_path: ???" in result.stdout
    for training_only in ("optimizer:", "hparams_search:", "experiment:", "model:"):
        assert training_only not in result.stdout


@pytest.mark.parametrize("unbuffered", ["", "1"])
@pytest.mark.parametrize("command", ["train", "eval", "report"])
def test_help_into_a_closed_pipe_is_quiet(command: str, unbuffered: str, tmp_path: Path) -> None:
    """`mnist-exp-eval --help | head -1`: the reader goes away before the help is written; the
    command ends as a Unix tool does (141, as if by SIGPIPE, or 0), never with a traceback, whether
    the failed write is the print itself (unbuffered) or Python's flush at exit (buffered)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    child = subprocess.Popen(
        [sys.executable, "-m", f"mnist_exp.cli.{command}", "--help"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "PYTHONUNBUFFERED": unbuffered} if unbuffered else env,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the child has started: its first write finds no reader
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) in (0, 141), stderr
    assert stderr == ""


def test_refusal_names_the_command_that_was_run(tmp_path: Path) -> None:
    result = run_module("eval", "ckpt_path=x.ckpt", "data.rooot=x", cwd=tmp_path)
    assert result.returncode == 2
    assert "mnist-exp-eval --cfg job" in result.stderr and "Did you mean 'data.root'" in result.stderr


def test_checkpoint_of_the_flat_layout_still_loads(tmp_path: Path, mnist_root: Path) -> None:
    """mnist-exp 0.1.0 recorded `_target_: mnist_exp.models.LeNet5`; eval and predict still use it."""
    saved = torch.load(LEGACY_CKPT, map_location="cpu", weights_only=False)
    assert saved["hyper_parameters"]["net_config"]["_target_"] == "mnist_exp.models.LeNet5"
    model = load_checkpoint(LEGACY_CKPT)
    assert isinstance(model.net, LeNet5)
    reference = LeNet5()
    reference.load_state_dict({k[4:]: v for k, v in saved["state_dict"].items() if k.startswith("net.")})
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()(x))
    result = run_module(
        "eval",
        f"ckpt_path={LEGACY_CKPT}",
        f"data.root={mnist_root}",
        "trainer.limit_test_batches=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/acc:" in result.stdout


def test_checkpoint_of_the_release_before_full_model_configs_still_loads(tmp_path: Path) -> None:
    """mnist-exp before 2026-12 recorded the network's arguments from its `init_args` attribute
    (written by 2299c81: an MLP with hidden 32 and tanh); it rebuilds with those arguments."""
    path = REPO / "tests" / "data" / "legacy_v0.1.0-2299c81_mlp_hidden32_tanh.ckpt"
    model = load_checkpoint(path)
    assert isinstance(model.net, MLP) and isinstance(model.net.act, torch.nn.Tanh)
    assert model.net.fc1.out_features == 32
    saved = torch.load(path, map_location="cpu", weights_only=True)
    reference = MLP(hidden=32, activation="tanh")
    reference.load_state_dict({k[4:]: v for k, v in saved["state_dict"].items() if k.startswith("net.")})
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()(x))


def built_wheel(folder: Path) -> Path:
    """The wheel .ci/run built of this checkout and installs (MNIST_EXP_WHEEL), or one built here."""
    if os.environ.get("MNIST_EXP_WHEEL"):
        return Path(os.environ["MNIST_EXP_WHEEL"])
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w"]
    subprocess.run([*build, str(folder), str(REPO)], check=True, capture_output=True, timeout=300)
    return next(folder.glob("mnist_exp-*.whl"))


def test_the_wheel_carries_the_configs_and_every_module(tmp_path: Path) -> None:
    """A non-editable install (pip install ., a wheel, pipx) finds its configs inside the package,
    and every module of the checkout (pyproject.toml lists the packages one by one)."""
    names = set(zipfile.ZipFile(built_wheel(tmp_path)).namelist())
    shipped = {f"mnist_exp/{p.relative_to(REPO).as_posix()}" for p in (REPO / "conf").rglob("*.yaml")}
    assert shipped and shipped <= names
    assert "mnist_exp/conf/config.yaml" in names and "mnist_exp/conf/debug/limit.yaml" in names
    assert "hydra_plugins/mnist_exp_optuna_sweeper/optuna_sweeper.py" in names  # where Hydra finds sweepers
    modules = {p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py")}
    assert modules - names == set()


def test_hydra_finds_the_plugins_of_this_install(tmp_path: Path) -> None:
    """Hydra takes sweepers and launchers only from the hydra_plugins namespace: ours must be
    there for this install (an editable one too), beside the plugins of other packages."""
    probe = (
        "from hydra.core.plugins import Plugins; from hydra.plugins.launcher import Launcher; "
        "from hydra.plugins.sweeper import Sweeper; p = Plugins.instance(); "
        "print(*[c.__module__ for c in p.discover(Launcher) + p.discover(Sweeper)])"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    modules = set(found.stdout.split())
    assert "hydra_plugins.mnist_exp_launchers.launchers" in modules, found.stderr[-2000:]
    assert "hydra_plugins.mnist_exp_optuna_sweeper.optuna_sweeper" in modules
    assert "hydra_plugins.hydra_joblib_launcher.joblib_launcher" in modules  # another package's, still seen
