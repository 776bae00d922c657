"""What every entry point shares: bad input becomes one message and exit code 2, not a traceback,
and it is caught before Hydra makes a run folder."""

from __future__ import annotations

import difflib
import functools
import re
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist_exp.errors import UserError

# Hydra flags that print something or run a sweep: left to Hydra as they are
_HYDRA_FLAGS = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--resolve",
    "--package",
    "-p",
    "--shell-completion",
    "-sc",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
}


def print_error(err: UserError) -> None:
    print(f"Error: {err}", file=sys.stderr)


def user_errors_exit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Inside a Hydra task function: print a UserError plainly and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print_error(err)
            sys.exit(err.exit_code)

    return wrapper


def _keys(node: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            full = f"{prefix}{key}"
            out.append(full)
            try:
                out += _keys(node._get_node(key), f"{full}.")
            except Exception:
                continue
    return out


def explain_composition_error(err: Exception, config_name: str) -> str:
    """Hydra's composition errors, rewritten to name the fix (and the nearest known key)."""
    from hydra import compose, initialize_config_dir

    from mnist_exp.config import CONF_DIR

    text = str(err)
    for plugin, extra, example in (
        ("optuna", "optuna", "hparams_search=optuna"),
        ("submitit", "slurm", "hydra/launcher=submitit_slurm"),
        ("joblib", "", "hydra/launcher=joblib"),
    ):
        if re.search(rf"Could not find '[^']*{plugin}", text):
            install = f"pip install -e '.[{extra}]'" if extra else "pip install -e ."
            return f"{example} needs Hydra's {plugin} plugin, which is not installed. Fix: {install}"
    missing = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        options = re.findall(r"^\t(\S+)$", text.split("Config search path")[0], flags=re.M)
        if not options:  # an unknown group altogether
            return f"There is no config group '{group}'. Fix: see mnist-exp-train --help for the groups."
        return (
            f"{group}={option}: there is no '{option}' in group '{group}'. Fix: one of {', '.join(options)}."
        )
    override = re.search(r"Could not override '([^']+)'", text)
    if override:
        key = override.group(1)
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            known = _keys(compose(config_name))
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        return (
            f"Unknown config key '{key}'. {hint}Fix: use an existing key "
            f"(mnist-exp-train --cfg job lists them), or +{key}=... to add a new one on purpose."
        )
    first = " ".join(text.split("\n")[:2])
    return f"Cannot read the command-line overrides: {first}. Fix: write them as key=value."


def _expand(overrides: list[str]) -> list[list[str]]:
    """Each override as the plain overrides it stands for: a sweep `k=a,b` gives [k=a, k=b];
    a range sweep gives its values; a search space Optuna samples (interval) gives none."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    expanded = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            expanded.append([override.input_line or ""])
            continue
        key = override.get_key_element()
        try:
            expanded.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        except Exception:  # interval(...) and other sampled spaces: nothing to expand
            expanded.append([])
    return expanded


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    from mnist_exp.config import CONF_DIR

    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(config_name, overrides=overrides, return_hydra_config=True)
    except HydraException as err:
        raise UserError(explain_composition_error(err, config_name)) from None


def preflight(config_name: str, argv: list[str], check: Callable[[DictConfig], None] | None = None) -> None:
    """Compose the config as Hydra will, and run `check` on it, before Hydra makes a run folder.

    For a sweep (`-m`, or a preset that sets hydra.mode), every swept value is checked too, each
    in a config of its own, so a bad value fails at once instead of as one failed job among many.
    Hydra's informational flags pass through untouched.
    """
    if any(a.split("=")[0] in _HYDRA_FLAGS for a in argv):
        return
    from hydra.types import RunMode

    choices = _expand([a for a in argv if not a.startswith("-")])
    first = [c[0] for c in choices if c]
    cfg = _compose(config_name, first)
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    if params:  # a preset's sweep: its values are overrides too
        choices += _expand([f"{k}={v}" for k, v in params.items()])
        first = [c[0] for c in choices if c]
        cfg = _compose(config_name, first)
    multirun = "-m" in argv or "--multirun" in argv or cfg.hydra.get("mode") == RunMode.MULTIRUN
    variants = [first]
    if multirun:
        for i, values in enumerate(choices):
            for value in values[1:]:
                variant = list(first)
                variant[sum(1 for c in choices[:i] if c)] = value
                variants.append(variant)
    for n, overrides in enumerate(variants):
        cfg = cfg if n == 0 else _compose(config_name, overrides)
        OmegaConf.set_struct(cfg, False)
        cfg.pop("hydra", None)
        cfg.paths.output_dir = None  # no run folder yet: checks must not need one
        missing = [k for k in ("ckpt_path", "images") if k in cfg and OmegaConf.is_missing(cfg, k)]
        if missing:
            raise UserError(f"{missing[0]} is required. Fix: add {missing[0]}=... to the command.")
        if check is not None:
            if n == 0:
                check(cfg)
            else:
                from mnist_exp.config import validate

                validate(cfg)


def run_cli(
    config_name: str, hydra_main: Callable[[], Any], check: Callable[[DictConfig], None] | None
) -> None:
    """The console entry point: preflight, then Hydra."""
    try:
        preflight(config_name, sys.argv[1:], check)
    except UserError as err:
        print_error(err)
        sys.exit(err.exit_code)
    hydra_main()
