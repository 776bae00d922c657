"""Where a config comes from: mnist-exp's packaged configs plus a user's own folders, picked with
Hydra's `--config-dir` (and `--config-name`) or `hydra.searchpath`.

Preflight composes with the same folders Hydra will use, so a user's `model=tiny` is checked like
`model=lenet`. A run records its folders in `.hydra/hydra.yaml` (Hydra's `config_sources`), and a
resume or the re-run of a sweep reads them back from there, so the same command composes the same
config again, from any folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import hydra_quote
from mnist_exp.records.recorded import read_mapping, select

CONFIG_DIR = ("--config-dir", "-cd")
CONFIG_NAME = ("--config-name", "-cn")
# Hydra's flags that take the next word as their value
_WITH_VALUE = (*CONFIG_DIR, *CONFIG_NAME, "--config-path", "-cp", "--cfg", "-c", "--package", "-p")
SEARCHPATH = "hydra.searchpath="
# keys whose value is one path: quoted for Hydra when typed plainly with letters its grammar reserves
PATH_KEYS = (
    "ckpt_path",
    "resume",
    "data.root",
    "paths.data_dir",
    "paths.log_dir",
    "hydra.run.dir",
    "hydra.sweep.dir",
)
_FROM_SEARCHPATH = "hydra.searchpath in command-line"  # Hydra's provider name in config_sources


@dataclass
class CommandLine:
    """A command line split as Hydra's argparse reads it: flags (with their values) and overrides."""

    flags: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    config_dir: str | None = None
    config_name: str | None = None

    def argv(self) -> list[str]:
        """Flags first: argparse takes no flag after the overrides have begun."""
        return [*self.flags, *self.overrides]


def _quoted_path(override: str) -> str:
    """A path value Hydra's grammar cannot read as typed (a sweep job's folder has `=` in its name:
    `ckpt_path=.../lr=0.5/checkpoints/last.ckpt`) is quoted for it; anything else is left as is."""
    key, _, value = override.partition("=")
    if key.lstrip("+") not in PATH_KEYS or not value or value[0] in "'\"":
        return override
    try:
        OverridesParser.create().parse_overrides([override])
        return override
    except Exception:
        return f"{key}={hydra_quote(value)}"


def split_argv(argv: list[str]) -> CommandLine:
    out = CommandLine()
    words = iter(argv)
    for word in words:
        if not word.startswith("-"):
            out.overrides.append(_quoted_path(word))
            continue
        flag, _, value = word.partition("=")
        if not value and flag in _WITH_VALUE:
            value = next(words, "")
            out.flags += [flag, value] if value else [flag]
        else:
            out.flags.append(word)
        if flag in CONFIG_DIR:
            out.config_dir = value
        elif flag in CONFIG_NAME:
            out.config_name = value
    return out


def config_folder(value: str, how: str = "--config-dir") -> Path:
    """A user's config folder as an absolute path; refused when it is not there."""
    folder = Path(value).expanduser().absolute()
    if not folder.is_dir():
        raise UserError(
            f"{how} {value}: there is no folder {folder}. Fix: pass the folder that holds your config "
            "groups (e.g. myconf/, with myconf/model/mynet.yaml)."
        )
    return folder


def searchpath_overrides(overrides: list[str], config_dir: str | None) -> list[str]:
    """The overrides with `--config-dir` added to `hydra.searchpath`, for composing as Hydra will
    (which puts that folder after mnist-exp's own, like a searchpath entry)."""
    if not config_dir:
        return overrides
    entry = hydra_quote(f"file://{config_folder(config_dir)}")
    given = [o for o in overrides if o.startswith(SEARCHPATH)]
    rest = [o for o in overrides if not o.startswith(SEARCHPATH)]
    paths = []
    if given:
        parsed = OverridesParser.create().parse_overrides([given[-1]])[0].value()
        paths = [hydra_quote(str(p)) for p in (parsed if isinstance(parsed, list) else [parsed])]
    return [*rest, f"{SEARCHPATH}[{','.join([entry, *paths])}]"]


def _recorded(
    hydra_cfg: Any, what: str, searchpath_typed: bool = False
) -> tuple[str | None, list[str], str | None]:
    """(--config-dir, searchpath entries as absolute URLs, config name) a run was composed with,
    read as data: only folders (file://) come back; a recorded package (pkg://) would be imported,
    so it is refused unless the user types a searchpath again (`searchpath_typed`)."""
    cwd = Path(str(select(hydra_cfg, "runtime.cwd") or "."))
    config_dir, searched = None, []
    sources = select(hydra_cfg, "runtime.config_sources") or []
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, dict):
            continue
        schema, path = str(source.get("schema")), str(source.get("path"))
        if schema == "file" and source.get("provider") == "command-line":
            config_dir = str(cwd / path)
        elif source.get("provider") == _FROM_SEARCHPATH and not searchpath_typed:
            if schema != "file":
                raise UserError(
                    f"{what} was composed with configs from {schema}://{path} (hydra.searchpath), which "
                    "mnist-exp would import to read them. Fix: if you trust it, type it again: "
                    f"'hydra.searchpath=[{schema}://{path}]'."
                )
            searched.append(f"file://{cwd / path}")
    name = select(hydra_cfg, "job.config_name")
    plain = isinstance(name, str) and re.fullmatch(r"[\w.-]+", name) and ".." not in name
    if name is not None and not plain:
        raise UserError(
            f"{what} records the config name {name!r}, which names no config. Fix: --config-name <name>."
        )
    return config_dir, searched, name


def with_recorded_sources(line: CommandLine, hydra_yaml: Path, default_name: str, what: str) -> CommandLine:
    """The command line plus the config folders and config name `what` (a run or sweep folder)
    was composed with, where the user did not give them again; a recorded folder that has since
    moved or vanished is refused with the fix."""
    hydra_cfg = read_mapping(hydra_yaml)
    hydra_cfg = hydra_cfg.get("hydra", hydra_cfg)
    typed = any(o.startswith(SEARCHPATH) for o in line.overrides)
    config_dir, searched, name = _recorded(hydra_cfg, what, searchpath_typed=typed)
    flags, overrides = list(line.flags), list(line.overrides)
    if config_dir and not line.config_dir:
        if not Path(config_dir).is_dir():
            raise UserError(
                f"{what} was composed with the config folder {config_dir} (--config-dir), which is no "
                f"longer there. Fix: put it back, or name its new place: --config-dir <folder>."
            )
        flags = ["--config-dir", config_dir, *flags]
    if searched and not any(o.startswith(SEARCHPATH) for o in overrides):
        for url in searched:
            if url.startswith("file://") and not Path(url[len("file://") :]).is_dir():
                raise UserError(
                    f"{what} was composed with the config folder {url[7:]} (hydra.searchpath), which is "
                    "no longer there. Fix: put it back, or name its new place: "
                    "'hydra.searchpath=[file://<folder>]'."
                )
        overrides = [f"{SEARCHPATH}[{','.join(map(hydra_quote, searched))}]", *overrides]
    if name and name != default_name and not line.config_name:
        flags = ["--config-name", str(name), *flags]
    return split_argv([*flags, *overrides])
