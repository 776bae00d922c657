"""What a run or sweep folder recorded, read as data: `.hydra/overrides.yaml`, `.hydra/hydra.yaml`,
`multirun.yaml`.

A folder travels (a colleague's run to verify, a sweep copied from a cluster), so its files are
read with a plain YAML parser into plain values: no OmegaConf node, so no interpolation or
resolver ever runs on them (a string holding `${...}` stays a string). What `resume=`, `verify=`
and a sweep's re-run take from them is judged by setup/recorded_code before it is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mnist_exp.core.errors import UserError

MAX_BYTES = 4_000_000  # Hydra's records of a run are a few kB; a sweep of 10,000 jobs stays far below


def read_yaml(path: Path) -> Any:
    """The file's YAML as plain Python values; a UserError for a file that is huge or not YAML."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UserError(
                f"{path} is {size:,} bytes, far more than a run's records. Fix: pass a folder written "
                "by mnist-exp."
            )
        with path.open("rb") as fh:
            return yaml.safe_load(fh)
    except (yaml.YAMLError, OSError, ValueError, RecursionError) as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise UserError(
            f"{path} cannot be read ({type(err).__name__}: {first}). Fix: pass a folder written by mnist-exp."
        ) from None


def _strings(value: Any, path: Path, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise UserError(f"{path}: {what} is not a list of overrides. Fix: pass a folder mnist-exp wrote.")
    return list(value)


def read_overrides(path: Path) -> list[str]:
    """A run's `.hydra/overrides.yaml`: the overrides it was started with, as strings."""
    return _strings(read_yaml(path), path, "it")


def read_mapping(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (`hydra.yaml`, `multirun.yaml`, `config.yaml`)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError(f"{path} holds no mapping. Fix: pass a folder written by mnist-exp.")
    return data


def select(data: Any, dotted: str, default: Any = None) -> Any:
    """`data[a][b]...` for `a.b...`, or `default` where a level is missing or not a mapping."""
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return default
        data = data[part]
    return data


def sweep_overrides(path: Path) -> list[str]:
    """A sweep's `multirun.yaml`: the overrides its command line gave (hydra.overrides.task)."""
    return _strings(select(read_mapping(path), "hydra.overrides.task"), path, "hydra.overrides.task")
