"""The packaged config folder, its resolvers, and the one way to compose a config from it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import job_name
from mnist_exp.setup.sources import config_folder, searchpath_overrides


def conf_dir() -> str:
    """The Hydra configs: mnist_exp/conf in an installed wheel (package data, found from any
    folder), else conf/ at the top of the source checkout (an editable install, the tests)."""
    package = Path(__file__).resolve().parent.parent
    for folder in (package / "conf", package.parent / "conf"):
        if (folder / "config.yaml").is_file():
            return str(folder)
    raise UserError(
        f"The configs that ship with mnist-exp are missing (no {package / 'conf'}). Fix: reinstall mnist-exp."
    )


CONF_DIR = conf_dir()


# Hydra 1.3 needs version_base="1.3" (without it: 1.1's behavior, a run changes into its folder);
# Hydra 1.4 deprecates the parameter and has 1.3's behavior by default
def major_minor(distribution: str) -> tuple[int, int]:
    """An installed distribution's (major, minor): 1.4.0rc3 gives (1, 4)."""
    major, minor = version(distribution).split(".")[:2]
    return int(major), int(minor)


VERSION_BASE: dict[str, str] = {"version_base": "1.3"} if major_minor("hydra-core") < (1, 4) else {}
PROCESS_ID = f"{os.getpid():05d}"


def register_resolvers() -> None:
    """`${run_id:}` makes folders unique: two runs started in the same second differ by process.

    Cached in the config (use_cache) so a sweep's jobs, even in other processes, share one value.
    `${job_name:...}` names a sweep job's folder by its swept overrides.
    """
    # OmegaConf 2.4 names it register_resolver (2.3's register_resolver is the old, other API)
    new_api = major_minor("omegaconf") >= (2, 4)
    register = OmegaConf.register_resolver if new_api else OmegaConf.register_new_resolver
    if not OmegaConf.has_resolver("run_id"):
        register("run_id", lambda: PROCESS_ID, use_cache=True)
    if not OmegaConf.has_resolver("job_name"):
        register("job_name", job_name)


register_resolvers()


def compose(
    config_name: str = "config",
    overrides: Sequence[str] = (),
    hydra: bool = False,
    config_dir: str | None = None,
) -> DictConfig:
    """Compose `config_name` from the packaged configs (and a user's `config_dir`, as Hydra's
    `--config-dir` adds it), as the command line would (Hydra's errors pass through; the entry
    points turn them into one message)."""
    primary = CONF_DIR
    if config_dir and not (Path(CONF_DIR) / f"{config_name}.yaml").is_file():
        # a primary config of the user's (--config-name): compose looks for it in its first folder only
        primary, config_dir = str(config_folder(config_dir)), CONF_DIR
    overrides = searchpath_overrides(list(overrides), config_dir)
    with initialize_config_dir(config_dir=primary, **VERSION_BASE):
        return hydra_compose(config_name, overrides=overrides, return_hydra_config=hydra)
