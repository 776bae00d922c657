"""mnist-exp's submitit launchers (`hydra/launcher=slurm`, `hydra/launcher=local_cluster`),
registered where Hydra looks for plugins (the hydra_plugins package).

`local_cluster` is stored in Hydra's ConfigStore (its keys typed by the submitit plugin's schema).
Its earlier name, `submitit_local`, is the submitit plugin's own name for its local launcher; it is
still stored there, in place of the plugin's, so command lines and recorded sweeps that name it keep
running (preflight says the new name in one line). A YAML file of that name would instead be merged
into the plugin's schema, which Hydra deprecates (automatic schema matching)."""

# no `from __future__ import annotations`: Hydra runs this module before it is in sys.modules,
# where a dataclass could not resolve string annotations
import inspect
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin

try:  # the `slurm` extra
    from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf
except ImportError:  # without it the command line is refused in setup/preflight
    LocalQueueConf = None

if LocalQueueConf is not None:

    @dataclass
    class LocalConf(LocalQueueConf):
        """Local processes through submitit: the slurm launcher's code path, without a cluster."""

        _target_: str = "hydra_plugins.mnist_exp_launchers.launchers.LocalLauncher"
        stderr_to_stdout: bool = True


# Hydra 1.4 warns when a name is stored again without saying replace=True (1.3 has no such argument)
REPLACE = {"replace": True} if "replace" in inspect.signature(ConfigStore.store).parameters else {}
OLD_LOCAL_NAME = "submitit_local"  # local_cluster's name until 0.2, and the submitit plugin's


class SubmititLocalConfig(SearchPathPlugin):
    """Stores mnist-exp's `local_cluster` (and under its old name `submitit_local`) once Hydra has
    run every plugin module (it builds the search path after), so the old name replaces the
    plugin's whatever order Hydra found them in. The search path itself is left as it is."""

    def manipulate_search_path(self, search_path: Any) -> None:
        if LocalQueueConf is not None:
            store = ConfigStore.instance()
            for name in ("local_cluster", OLD_LOCAL_NAME):
                store.store(
                    group="hydra/launcher", name=name, node=LocalConf, provider="mnist_exp", **REPLACE
                )
