"""The local config of the folder a command runs from: `conf/local/default.yaml` there (machine
settings such as data.root, the logger, a SLURM partition; untracked) is found without --config-dir.
Hydra runs every search-path plugin for every Hydra app, so this one adds the folder only to
mnist-exp's own commands (those whose search path holds mnist-exp's packaged configs)."""

# no `from __future__ import annotations`: Hydra imports this module before it is in sys.modules
import os
from pathlib import Path
from typing import Any

from hydra.plugins.search_path_plugin import SearchPathPlugin

# mnist-exp's configs: conf/ beside this package in a source checkout, mnist_exp/conf in a wheel
OURS = {str(Path(__file__).resolve().parents[2] / folder) for folder in ("conf", "mnist_exp/conf")}
LOCAL = Path("conf") / "local"  # under the folder the command runs from


class LocalConfigSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: Any) -> None:
        paths = [str(element.path) for element in search_path.get_path()]
        if not any(path.removeprefix("file://") in OURS for path in paths):
            return  # another Hydra app
        here = Path(os.getcwd()) / LOCAL.parent
        if (here / LOCAL.name).is_dir() and f"file://{here}" not in paths and str(here) not in paths:
            search_path.append(provider="mnist-exp-local", path=f"file://{here}")
