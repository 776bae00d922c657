"""Checks of what a run will read or open (the dataset's files, a logger's package and store), done
before a run folder exists (torch-free)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mnist_exp.core import idx
from mnist_exp.core.datasets import FOLDER, PRESETS, preset
from mnist_exp.core.errors import UserError
from mnist_exp.core.spec import IMAGE_SUFFIXES
from mnist_exp.core.stores import sqlite_path
from mnist_exp.core.targets import MLFLOW_RUN, WANDB_RUN, names, own_data


def data_needs_download(data: DictConfig, count_classes: bool = True) -> bool:
    """True when the dataset's files are missing and `data.download` may fetch them (the data module
    then does); otherwise they must be there and intact, or a UserError names the fix."""
    if not own_data(data):  # a user's DataModule: its files are its own business
        return False
    if data.get("dataset") == FOLDER:
        check_folder(data, count_classes)
        return False
    kind = preset(str(data.get("dataset", "mnist")))
    root = Path(str(data.root)).expanduser()
    if root.exists() and not root.is_dir():
        raise UserError(
            f"data.root={data.root} is a file, not a folder. Fix: data.root=<the folder that holds "
            f"{kind.folder}/raw/> (or an empty folder to download {kind.title} into)."
        )
    missing = idx.missing_files(data.root, kind)
    images = _image_folder(root) if missing else []
    if images:
        raise UserError(
            f"data.root={data.root} holds a folder of images ({', '.join(images)}), not "
            f"{kind.title}'s files. Fix: data=folder data.root={data.root} to train on your images "
            f"(or point data.root at the folder holding {kind.folder}/raw/)."
        )
    if missing and data.get("download", True):
        return True
    sums = data.get("checksums")
    idx.check_files(data.root, data.get("verify", True), kind, dict(sums) if sums else None)
    return False


def _image_folder(root: Path) -> list[str]:
    """The subfolders of `root` that hold image files (looked at briefly: a folder of your own
    images given to a dataset preset by mistake, where a download would put MNIST beside them)."""
    if not root.is_dir():
        return []
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))[:50]:
        if any(f.suffix.lower() in IMAGE_SUFFIXES for _, f in zip(range(20), sub.iterdir(), strict=False)):
            found.append(f"{sub.name}/")
    return found[:3] + (["..."] if len(found) > 3 else [])


def check_folder(data: DictConfig, count: bool = True) -> list[str]:
    """A folder of the user's images: named, readable, decoded (and cached) before a run folder
    exists, with (`count`: to train) as many classes as the models are given; its class names."""
    from mnist_exp.core import folder  # Pillow: only for a folder of images (start-up stays fast)

    if OmegaConf.is_missing(data, "root"):
        raise UserError("data=folder needs the folder: data.root=<a folder with one subfolder per class>.")
    images = folder.load(data.root)
    expected = data.get("num_classes") if count else None
    if expected is not None and expected != len(images.classes):
        raise UserError(
            f"data.root={data.root} has {len(images.classes)} class folders ({_few(images.classes)}), but "
            f"data.num_classes={expected}. Fix: data.num_classes={len(images.classes)}."
        )
    return list(images.classes)


MNIST_OPTIONS = ("dataset", "root", "pad", "mean", "std", "val_size", "loader", "download", "mirrors")


def _own_data_fix(data: DictConfig, cause: BaseException) -> str:
    """What to do when a user's data module cannot be built from its config."""
    target = data.get("_target_")
    if isinstance(cause, ImportError) or "Error loading" in str(cause):
        module = str(target).rsplit(".", 1)[0]
        return f"make {module} importable (PYTHONPATH=<the folder holding {module}.py>, or install it)"
    kept = [k for k in MNIST_OPTIONS if k in data and f"'{k}'" in str(cause)]
    if kept:
        return (
            f"give it a config of its own (--config-dir myconf data=mydata, myconf/data/mydata.yaml "
            f"naming {target}) instead of data._target_= on data=mnist, whose options such as {kept[0]} "
            "it does not take"
        )
    return "mend its config (or its constructor)"


def check_own_data(data: DictConfig, num_classes: int | None) -> None:
    """A data module of the user's is built once before a run folder exists (its constructor should
    only take its settings, as Lightning advises), so a config it cannot take, or a folder it cannot
    find, is refused in one line; its `classes`, if it names them, must fit the model's outputs."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    target = data.get("_target_")
    try:
        module = instantiate(data)
    except InstantiationException as err:
        cause = err.__cause__ or err
        reason = " ".join(f"{type(cause).__name__}: {cause}".split())  # one line, whatever it said
        raise UserError(
            f"data: building {target} failed ({reason}). Fix: {_own_data_fix(data, cause)}."
        ) from None
    classes = getattr(module, "classes", None)
    if classes is not None and num_classes is not None and len(classes) != num_classes:
        raise UserError(
            f"{target}.classes names {len(classes)} classes, but the model gets num_classes={num_classes}. "
            f"Fix: data.num_classes={len(classes)} in its config."
        )


def check_classes(trained: list[str], data: DictConfig) -> None:
    """The data's labels must mean what the model's outputs mean: the same class names, in order
    (an MNIST model on EMNIST digits, yes; on Fashion-MNIST, no); a folder's classes must each be
    one of the model's (a folder of 3s and 7s, yes)."""
    if not own_data(data):
        return  # a user's DataModule: compared with its `classes` once built (pipelines/run/evaluate)
    if data.get("dataset") == FOLDER:
        from mnist_exp.core import folder  # Pillow: only for a folder (decoded by data_needs_download)

        root = Path(str(data.root)).expanduser()
        unknown = [name for name in folder.class_names(root) if name not in trained]
        if unknown:
            raise UserError(
                f"data.root={data.root} has a class folder {unknown[0]!r} that the checkpoint's model does "
                f"not know (its classes: {_few(trained)}). Fix: evaluate on folders named by its classes."
            )
        return
    kind = preset(str(data.get("dataset", "mnist")))
    if list(kind.classes) != list(trained):
        raise UserError(
            f"The checkpoint's model tells apart {len(trained)} classes ({_few(trained)}); data={kind.name} "
            f"has {kind.title}'s {kind.num_classes} ({_few(kind.classes)}). Fix: evaluate on the data it was "
            f"trained on, e.g. data={_preset_of(trained)}."
        )


def _few(names: Sequence[str]) -> str:
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def _preset_of(classes: list[str]) -> str:
    return next((p.name for p in PRESETS.values() if list(p.classes) == list(classes)), "<its data>")


ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")  # Lightning's names, as users type them


def check_accelerator(trainer: DictConfig) -> None:
    """An accelerator that is unknown, or absent from this machine (`trainer=gpu` without a CUDA
    GPU, `trainer.accelerator=mps` off a Mac), is refused before anything runs. Only then is torch
    imported, to ask it."""
    accelerator = str(trainer.get("accelerator") or "auto")  # Lightning's names are lower case
    if accelerator not in ACCELERATORS:
        raise UserError(
            f"trainer.accelerator '{accelerator}' is unknown. Fix: one of {', '.join(ACCELERATORS)}."
        )
    if accelerator in ("auto", "cpu"):
        return
    import torch

    present = {
        "gpu": torch.cuda.is_available,
        "cuda": torch.cuda.is_available,
        "mps": torch.backends.mps.is_available,
        "tpu": lambda: importlib.util.find_spec("torch_xla") is not None,
    }[accelerator]()
    if not present:
        device = {"mps": "Apple GPU (MPS)", "tpu": "TPU (torch_xla)"}.get(accelerator, "CUDA GPU")
        raise UserError(
            f"trainer.accelerator={accelerator}, but this machine has no {device} that torch can use. "
            "Fix: trainer=cpu (or trainer.accelerator=auto, which takes a GPU when there is one)."
        )


# loggers whose package is an optional extra: the class -> (module, extra)
LOGGER_PACKAGES = {MLFLOW_RUN: ("mlflow", "mlflow"), WANDB_RUN: ("wandb", "wandb")}
OTHER_STORES = ("http", "https", "postgresql", "mysql", "mssql", "databricks", "databricks-uc")


def missing_package(logger: DictConfig) -> tuple[str, str] | None:
    """(module, extra) when this logger's package is not installed, else None."""
    target = str(logger.get("_target_", ""))
    for cls, (module, extra) in LOGGER_PACKAGES.items():
        if names(target, cls) and importlib.util.find_spec(module) is None:
            return module, extra
    return None


def check_loggers(cfg: DictConfig) -> None:
    """Each chosen logger's package is installed (`logger=many` takes the installed ones only),
    and an MLflow store can be opened, before anything trains."""
    loggers = cfg.get("logger") or {}
    for name, conf in loggers.items():
        if not isinstance(conf, DictConfig) or "_target_" not in conf:
            continue
        missing = missing_package(conf)
        if missing and not loggers.get("installed_only"):
            raise UserError(
                f"logger {name} needs the {missing[0]} package, which is not installed. "
                f"Fix: pip install 'mnist-exp[{missing[1]}]', or leave it out (logger=tensorboard)."
            )
        if not missing and "tracking_uri" in conf:
            check_tracking_uri(str(conf.tracking_uri), f"logger.{name}.tracking_uri")
        if names(conf._target_, WANDB_RUN) and conf.get("log_model") and conf.get("offline", True):
            raise UserError(
                f"logger.{name}.log_model={conf.log_model} uploads checkpoints to W&B, which an offline "
                f"run (logger.{name}.offline=true, the default) cannot do. Fix: logger.{name}.offline=false "
                f"(after `wandb login`), or logger.{name}.log_model=false (checkpoints stay in the run)."
            )


def check_tracking_uri(uri: str, key: str) -> None:
    """An MLflow store mnist-exp can open: an SQLite file in a folder it can write, a server that
    answers, or a database MLflow knows; MLflow's file store (a plain folder) is refused since 3.13."""
    fix = f"Fix: {key}='sqlite:///outputs/mlflow.db' (or unset MLFLOW_TRACKING_URI)."
    scheme = uri.split(":", 1)[0].lower() if "://" in uri else ""
    if sqlite_path(uri) is not None:
        _check_sqlite(sqlite_path(uri), f"{key}={uri}", fix)
    elif scheme in ("", "file"):
        raise UserError(
            f"{key}={uri} is an MLflow file store, which MLflow refuses since 3.13 (deprecated). {fix}"
        )
    elif scheme not in OTHER_STORES:
        raise UserError(f"{key}={uri}: '{scheme}' is not a store MLflow can open. {fix}")
    elif scheme in ("http", "https"):
        _check_server(uri, f"{key}={uri}", fix)


def _check_sqlite(path: Path, where: str, fix: str) -> None:
    """The file is an SQLite database (or absent or empty), and its folder can be made and written:
    tried for real, since os.access says yes to root everywhere (/proc included)."""
    if path.is_dir():
        raise UserError(f"{where} names a folder, not an SQLite file. {fix}")
    if path.exists():
        with path.open("rb") as f:
            if f.read(16) not in (b"", b"SQLite format 3\x00"):
                raise UserError(f"{where}: {path} is not an SQLite database. {fix}")
    folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mnist-exp-probe-", dir=folder))  # leaves nothing behind
    except OSError:
        raise UserError(f"{where}: cannot write in {folder}. {fix}") from None
    _check_schema(path, where)


def _check_schema(path: Path, where: str) -> None:
    """A store made by a newer MLflow than the one installed: its schema revision is not among the
    installed MLflow's migrations, and MLflow would refuse it with a traceback once the run exists."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return  # not (yet) an MLflow store: MLflow creates its tables
    spec = importlib.util.find_spec("mlflow")
    versions = (
        Path(spec.origin).parent / "store" / "db_migrations" / "versions" if spec and spec.origin else None
    )
    if not row or versions is None or not versions.is_dir():
        return
    known = {p.name.split("_", 1)[0] for p in versions.glob("*.py")}
    if row[0] not in known:
        raise UserError(
            f"{where}: {path} was written by a newer MLflow than the {metadata.version('mlflow')} "
            "installed here (its database schema is one this MLflow does not know). Fix: pip install -U "
            "mlflow, or point logger.mlflow.tracking_uri at another store."
        )


def _check_server(uri: str, where: str, fix: str) -> None:
    """A tracking server answers at all (any HTTP answer, a refusal of access included); without
    this check a run would wait on MLflow's retries for minutes and then fail."""
    import http.client  # only for a server store: 25 ms of every start-up otherwise
    import urllib.error
    import urllib.request

    probe = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        urllib.request.urlopen(probe, timeout=10).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError, http.client.HTTPException) as err:  # URLError is an OSError
        reason = getattr(err, "reason", err)
        raise UserError(
            f"{where}: no MLflow server answers there ({reason}). Fix: start it "
            f"(mlflow server --backend-store-uri sqlite:///outputs/mlflow.db), or {fix.removeprefix('Fix: ')}"
        ) from None
