"""Override strings as a user types them (`data.batch_size=64`) and the job names made of them.

Plain string work, no Hydra parser: the run records, the sweep report and the config set-up all
read overrides, so this sits at the bottom.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Collection, Sequence

SWEPT_ENV = "MNIST_EXP_SWEPT"  # the keys this sweep varies, for naming its job folders
PARENT_ENV = "MNIST_EXP_MLFLOW_PARENT"  # the sweep's MLflow parent run, for its jobs' runs
# what a sweep passes to its jobs through the environment: set when it starts, put back when it ends
SWEEP_ENV = (SWEPT_ENV, PARENT_ENV)
# Keys that never change what an experiment trains: where it reads and writes, how fast and on what
# it runs, what it shows while running. The one list: a job's name and its HParams leave them out, and
# a resume (setup/guards, which adds trainer.max_epochs) or a verify= re-run may change them.
NOT_THE_EXPERIMENT = (
    "data.root",
    "paths.data_dir",
    "paths.log_dir",
    "torch_threads",
    "trainer.accelerator",
    "trainer.enable_progress_bar",
    "callbacks.progress_bar.",
    "hydra.",
    "hydra/launcher",
)
# a job's name also leaves out what shortens or watches a run (debug limits, callbacks): a sweep's
# jobs are named by their hyperparameters
NOT_IN_NAME = (*NOT_THE_EXPERIMENT, "trainer.limit_", "trainer.enable_", "callbacks.", "debug")


def is_replicate(key: str) -> bool:
    """A key whose values repeat one configuration (its seed, its cross-validation fold): a sweep's
    report folds them into a mean and a confidence interval per configuration."""
    return key.rsplit(".", 1)[-1] == "seed" or key == "data.fold"


def is_location(key: str) -> bool:
    """Where a run reads or writes (paths, folders, checkpoints), as opposed to what it does: left
    out of trackers' params and of what a comparison says differs (MLflow's tag run_dir has it)."""
    leaf = key.rsplit(".", 1)[-1]
    return key.startswith(("paths.", "hydra.")) or key in ("data.root", "ckpt_path", "resume") or leaf in (
        "dirpath", "save_dir", "run_dir", "tracking_uri", "default_root_dir",
    )  # fmt: skip


def split_override(override: str) -> tuple[str, str] | None:
    """`+data.batch_size=64` -> ("data.batch_size", "64"); None for a deletion without value."""
    if "=" not in override:
        return None
    key, value = override.split("=", 1)
    return key.lstrip("+~"), value


def override_pairs(overrides: Sequence[object]) -> dict[str, str]:
    """Overrides as {key: value}; a later override of the same key wins, as in Hydra."""
    return dict(filter(None, (split_override(str(o)) for o in overrides)))


def without_keys(overrides: Sequence[str], keys: Collection[str]) -> list[str]:
    """The overrides whose key is not among `keys` (a key given again replaces a recorded one)."""
    return [o for o in overrides if (split_override(o) or ("",))[0] not in keys]


def same_overrides(a: Sequence[object] | None, b: Sequence[object] | None) -> bool:
    """Whether two command lines asked for the same job: the same overrides in any order (a user
    re-running a sweep types them in the order that comes to mind)."""
    return a is not None and b is not None and sorted(map(str, a)) == sorted(map(str, b))


def job_name(overrides: Sequence[str], num: int | str = 0) -> str:
    """A job's folder (and TensorBoard run) name: its swept overrides with short keys,
    e.g. `batch_size=64,lr=0.01`. The job number is the name only when nothing varies."""
    swept = os.environ.get(SWEPT_ENV)  # unset outside a sweep started by mnist-exp-train
    keys = set(filter(None, swept.split(","))) if swept is not None else None
    items = []
    for override in overrides:
        pair = split_override(str(override))
        if pair is None:
            continue
        if keys is not None and pair[0] not in keys:
            continue
        if keys is None and pair[0].startswith(NOT_IN_NAME):
            continue
        items.append(pair)
    short = [key.rsplit(".", 1)[-1] for key, _ in items]
    if len(set(short)) < len(short):  # e.g. model.hidden and other.hidden: keep full keys
        short = [key for key, _ in items]
    name = ",".join(f"{s}={value}" for s, (_, value) in zip(short, items, strict=True))
    name = re.sub(r"[/\\\s:*?\"<>|']", "_", name)
    if not name:
        return str(num)
    if len(name) > 150:  # folder names have limits: keep it readable and unique
        name = f"{name[:120]}_{hashlib.sha1(name.encode()).hexdigest()[:10]}"
    return name


_PLAIN = re.compile(r"[\w./@%+:,~-]+", re.ASCII)


def hydra_quote(value: str) -> str:
    """A value as Hydra's override parser reads it back unchanged: plain paths as they are,
    anything else (a space, a non-ASCII letter, quotes) in quotes."""
    if _PLAIN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(value: str) -> str:
    """The inverse of `hydra_quote` for a value a user typed: outer quotes removed, escapes undone."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace(f"\\{value[0]}", value[0]).replace("\\\\", "\\")
    return value


def shell_override(key: str, value: str) -> str:
    """`key=value` as one shell word that Hydra also parses back to `value` (printed hints)."""
    return shlex.quote(f"{key}={hydra_quote(value)}")
