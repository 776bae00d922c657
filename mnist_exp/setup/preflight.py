"""Preflight: compose the config exactly as Hydra will and check it, every swept value included,
before Hydra makes a run folder; Hydra's composition errors rewritten to name the fix."""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from collections.abc import Callable
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_exp.core.errors import UserError
from mnist_exp.core.targets import OPTUNA_SWEEPER, names
from mnist_exp.setup.checks import check_loggers
from mnist_exp.setup.config import compose
from mnist_exp.setup.execution import targets, trusting
from mnist_exp.setup.help import group_options, parts
from mnist_exp.setup.sources import split_argv
from mnist_exp.setup.validate import validate

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
    "--config-path",  # a primary config folder of the user's: Hydra's own checks only
    "-cp",
    "--experimental-rerun",
}


def _keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config, read without resolving interpolations (one may not resolve
    at this point, and a missing value is fine too)."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            full = f"{prefix}{key}"
            out += [full, *_keys(value, f"{full}.")]
    return out


def _group_hint(key: str, overrides: list[str]) -> str:
    """`trainer.strategy=ddp` or `logger.mlflow=...`: a key under a config group whose value (or
    last part) is one of the group's options means that option (`trainer=ddp`), not a nearby key."""
    group, _, rest = key.partition(".")
    options = group_options(group)
    values = [o.split("=", 1)[1] for o in overrides if o.lstrip("+~").split("=", 1)[0] == key and "=" in o]
    picked = [v for v in values if v in options] or [rest.split(".")[0]] * (rest.split(".")[0] in options)
    if not picked:
        return ""
    return (
        f"'{group}' is a config group, and {picked[0]} one of its options. "
        f"Fix: {group}={picked[0]} (picks {group}/{picked[0]}.yaml)."
    )


def explain_composition_error(
    err: Exception,
    config_name: str,
    prog: str,
    config_dir: str | None = None,
    overrides: list[str] | None = None,
) -> str:
    """Hydra's composition errors, rewritten to name the fix (the group option meant, else the
    nearest known key)."""
    text = str(err)
    for plugin, extra, example in (
        ("optuna", "optuna", "hparams_search=optuna"),  # the old plugin's config, if a user names it
        ("submitit", "slurm", "hydra/launcher=submitit_slurm"),
        ("joblib", "", "hydra/launcher=joblib"),
    ):
        if re.search(rf"Could not find '[^']*{plugin}", text):
            install = f"pip install 'mnist-exp[{extra}]'" if extra else "pip install mnist-exp"
            return f"{example} needs Hydra's {plugin} plugin, which is not installed. Fix: {install}"
    missing = re.search(r"Could not (find|load) '([^/']+)/([^']+)'", text)  # load: an option in a list
    if missing:
        how, group, option = missing.groups()
        listed = re.findall(r"^\t(\S+)$", text.split("Config search path")[0], flags=re.M)
        options = listed if how == "find" else group_options(group)
        own = "" if config_dir else ", or add --config-dir <your config folder> for one of your own"
        if not options:  # an unknown group altogether
            return f"There is no config group '{group}'. Fix: see {prog} --help for the groups{own}."
        return (
            f"{group}={option}: there is no '{option}' in group '{group}'. Fix: one of "
            f"{', '.join(options)}{own} ({group}/{option}.yaml in it)."
        )
    override = re.search(r"Could not override '([^']+)'", text)
    if override:
        key = override.group(1)
        group_hint = _group_hint(key, overrides or [])
        if group_hint:
            return f"Unknown config key '{key}'. {group_hint}"
        known = [k for k in _keys(compose(config_name, config_dir=config_dir)) if "._" not in f".{k}"]
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        if close and close[0] == key:  # e.g. callbacks.progress_bar.x with callbacks=none
            hint = f"'{key}' exists in the default config, not with the options chosen on this command line. "
        return (
            f"Unknown config key '{key}'. {hint}Fix: use an existing key "
            f"({prog} --cfg job lists them), or +{key}=... to add a new one on purpose."
        )
    first = " ".join(text.split("\n")[:2])
    if text.startswith("In 'local/"):
        return (
            f"Your local config (conf/local/{text.split('/', 1)[1].split(chr(39))[0]}.yaml) does not compose "
            f"with this command line: {first}. Fix: change that file (docs/configuration.md, 'Your "
            "machine's settings'), or run from a folder without it."
        )
    if "Primary config" in text or "Cannot find primary config" in text:
        return f"The configs that ship with mnist-exp are missing: {first}. Fix: reinstall mnist-exp."
    return (
        f"Cannot read the command-line overrides: {first}. Fix: write them as key=value (see {prog} --help)."
    )


def _expand(overrides: list[str]) -> list[list[str]]:
    """Each override as the plain overrides it stands for: a sweep `k=a,b` gives [k=a, k=b];
    a range sweep gives its values; a search space Optuna samples (interval) gives none."""
    expanded = []
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        first = " ".join(str(err).split())[:300]
        raise UserError(
            f"Cannot read the command-line overrides: {first}. Fix: write them as key=value; quote a "
            "value with spaces or other letters, e.g. 'hydra.run.dir=\"/data/my runs/ü\"'."
        ) from None
    for override in parsed:
        if not override.is_sweep_override():
            expanded.append([override.input_line or ""])
            continue
        key = override.get_key_element()
        try:
            expanded.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        except Exception:  # interval(...) and other sampled spaces: nothing to expand
            expanded.append([])
    return expanded


def _compose(config_name: str, overrides: list[str], prog: str, config_dir: str | None) -> DictConfig:
    try:
        return compose(config_name, overrides, hydra=True, config_dir=config_dir)
    except HydraException as err:
        raise UserError(explain_composition_error(err, config_name, prog, config_dir, overrides)) from None


def _refuse_parts(cfg: DictConfig) -> None:
    """`callbacks=feature_maps` picks one piece of callbacks=default and silently drops the rest,
    checkpoints included (the run could not be resumed): refused, with the way to get what was meant."""
    for group, chosen in (OmegaConf.select(cfg, "hydra.runtime.choices") or {}).items():
        if not isinstance(chosen, str) or chosen == "default":  # the usual pick: no file to read
            continue
        pieces = parts(group)
        if chosen in pieces:
            raise UserError(
                f"{group}={chosen} is one part of {group}=default; alone it would leave out the others "
                f"({', '.join(p for p in pieces if p != chosen)}). Fix: keep {group}=default (it has "
                f"{chosen}), drop a part with {group}.<name>=null, or list what you want: "
                f"'{group}=[{chosen},model_checkpoint]'."
            )


def _refuse_missing_plugins(cfg: DictConfig) -> None:
    """The sweeper's and launcher's optional packages, and one part of a group taken for all."""
    sweeper = str(OmegaConf.select(cfg, "hydra.sweeper._target_"))
    if names(sweeper, OPTUNA_SWEEPER) and importlib.util.find_spec("optuna") is None:
        raise UserError(
            "hparams_search=optuna needs Optuna, which is not installed. Fix: pip install 'mnist-exp[optuna]'"
        )
    _refuse_parts(cfg)
    launcher = str(OmegaConf.select(cfg, "hydra.launcher._target_"))
    if "mnist_exp_launchers" in launcher and importlib.util.find_spec("submitit") is None:
        raise UserError(
            "hydra/launcher=slurm needs submitit, which is not installed. Fix: pip install 'mnist-exp[slurm]'"
        )


def _variants(choices: list[list[str]], first: list[str]) -> list[list[str]]:
    """The first value of every override, then each other value of one override at a time."""
    variants = [first]
    for i, values in enumerate(choices):
        for value in values[1:]:
            variant = list(first)
            variant[sum(1 for c in choices[:i] if c)] = value
            variants.append(variant)
    return variants


def preflight(
    config_name: str,
    argv: list[str],
    check: Callable[[DictConfig], None] | None = None,
    prog: str = "",
    check_job: Callable[[DictConfig], None] | None = None,
) -> tuple[bool, set[str]]:
    """Compose the config as Hydra will, and run `check` on it, before Hydra makes a run folder.
    Returns whether the command is a sweep (`-m`, or a preset that sets hydra.mode: MULTIRUN), and
    the code its configs name (setup/execution: what Hydra 1.4 may instantiate).

    For a sweep (`-m`, or a preset that sets hydra.mode), every swept value is checked too, each
    in a config of its own, so a bad value fails at once instead of as one failed job among many
    (`validate`, and `check_job` where the command has one: a model of the user's, tried on two
    images, in each job's config).
    Hydra's informational flags pass through untouched.
    """
    if any(a.split("=")[0] in _HYDRA_FLAGS for a in argv):
        return False, set()
    line = split_argv(argv)
    if "hydra/launcher=submitit_local" in line.overrides:
        print(
            "Note: hydra/launcher=submitit_local is now hydra/launcher=local_cluster (the same launcher; "
            "the old name keeps working).",
            file=sys.stderr,
        )
    config_name, where = line.config_name or config_name, line.config_dir
    choices = _expand(line.overrides)
    first = [c[0] for c in choices if c]
    cfg = _compose(config_name, first, prog, where)
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    if params:  # a preset's sweep: its values are overrides too
        choices += _expand([f"{k}={v}" for k, v in params.items()])
        first = [c[0] for c in choices if c]
        cfg = _compose(config_name, first, prog, where)
    _refuse_missing_plugins(cfg)
    multirun = "-m" in argv or "--multirun" in argv or cfg.hydra.get("mode") == RunMode.MULTIRUN
    variants = _variants(choices, first) if multirun else [first]
    stores_checked: set[str] = set()
    named: set[str] = set()
    for n, overrides in enumerate(variants):
        cfg = cfg if n == 0 else _compose(config_name, overrides, prog, where)
        OmegaConf.set_struct(cfg, False)
        named |= targets(cfg)
        # the folder Hydra will make, however its path was written (quoted, relative, ...);
        # none for a sweep's jobs: each job's folder is checked when the job starts
        run_dir = None if multirun else OmegaConf.select(cfg, "hydra.run.dir")
        cfg.pop("hydra", None)
        cfg.paths.output_dir = run_dir
        missing = [k for k in ("ckpt_path", "images") if k in cfg.keys() and OmegaConf.is_missing(cfg, k)]
        if missing:
            raise UserError(f"{missing[0]} is required. Fix: add {missing[0]}=... to the command.")
        with trusting(named):  # a data module of the user's is built once here (setup/checks)
            if check is not None and n == 0:
                check(cfg)
            else:
                validate(cfg)
                if check_job is not None:
                    check_job(cfg)
        loggers = OmegaConf.to_yaml(cfg.get("logger") or {})
        if loggers not in stores_checked:  # each store once, not once per swept value and job
            stores_checked.add(loggers)
            check_loggers(cfg)
    return multirun, named
