"""Which recorded overrides name code, and the rule for them: a folder's overrides are applied
again by `resume=` and `verify=`, so one that would build, call or run something (a `_target_`, a
resolver that is not mnist-exp's own, a shell line for the cluster) is refused unless the user
types it again on this command line. Values of existing keys (`optimizer.lr=0.1`, `model=mlp`)
are data and pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hydra.core.override_parser.overrides_parser import OverridesParser

from mnist_exp.core.errors import UserError

SPECIAL = re.compile(r"_\w*_")  # Hydra's instantiation keys: _target_, _args_, _partial_, _call_, ...
# setup/config.register_resolvers, and Hydra's own that only read its config or the clock
OWN_RESOLVERS = ("run_id", "job_name", "now", "hydra")
_INTERPOLATION = re.compile(r"\$\{\s*([\w.-]*)\s*(:)?")
# keys whose values run programs or set what a program loads: commands, environments, plugins
CODE_KEYS = (
    "hydra.callbacks",
    "hydra.job.env_set",
    "hydra.job.env_copy",
    "hydra.launcher.setup",
    "hydra.launcher.python",
    "hydra.launcher.srun_args",
    "hydra.launcher.additional_parameters",
    "hydra.job_logging",
    "hydra.hydra_logging",
)


def _special_key(value: object) -> str | None:
    """A Hydra instantiation key anywhere inside a parsed override value, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and SPECIAL.fullmatch(key):
                return key
            found = _special_key(item)
            if found:
                return found
    if isinstance(value, list):
        return next(filter(None, map(_special_key, value)), None)
    return None


def code_error(override: str) -> str | None:
    """Why a recorded override names code, or None when it only sets a value."""
    key, sep, value = override.partition("=")
    key = key.lstrip("+~")
    if any(SPECIAL.fullmatch(part) for part in re.split(r"[./]", key)):
        return f"{override} names code ({key})"
    if key.startswith(CODE_KEYS):
        return f"{override} sets what runs or is loaded ({key})"
    if key == "hydra.searchpath" and "pkg://" in value:
        return f"{override} loads configs from an installed package (pkg://)"
    for name, call in _INTERPOLATION.findall(value):
        if call and name not in OWN_RESOLVERS:
            return f"{override} calls the resolver {name}"
    if "_" in value and sep:
        try:
            parsed = OverridesParser.create().parse_overrides([override])[0].value()
        except Exception:
            return None  # not an override Hydra reads: Hydra refuses it with its own message
        found = _special_key(parsed)
        if found:
            return f"{override} adds a node that names code ({found})"
    return None


def refuse_recorded_code(recorded: Iterable[str], typed: Iterable[str], where: str) -> None:
    """A UserError when an override `where` recorded names code and the user neither typed it
    again nor removed its node (`~key`)."""
    again = set(typed)
    deleted = tuple(t[1:].split("=", 1)[0] for t in again if t.startswith("~"))  # `~callbacks.slow`
    for override in recorded:
        key = override.partition("=")[0].lstrip("+~")
        if any(key == d or key.startswith(f"{d}.") for d in deleted):
            continue  # the user removes that node on this command line: nothing of it is built
        error = override not in again and code_error(override)
        if error:
            raise UserError(
                f"{where} recorded the override {error}. A folder is data and mnist-exp does not run "
                f"code it names. Fix: if you trust it, type it again on this command line: "
                f"'{override}'; else leave the folder alone."
            )
