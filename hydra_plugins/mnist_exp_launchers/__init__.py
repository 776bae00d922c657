"""mnist-exp's submitit launchers (`hydra/launcher=slurm`, `hydra/launcher=submitit_local`),
registered where Hydra looks for plugins (the hydra_plugins package).

`hydra/launcher=submitit_local` is the submitit plugin's name for its local launcher, and users
know it: mnist-exp stores its own config under that name in Hydra's ConfigStore, in place of the
plugin's (the same keys, mnist-exp's launcher). A YAML file of that name would instead be merged
into the plugin's schema, which Hydra deprecates (automatic schema matching)."""

# no `from __future__ import annotations`: Hydra runs this module before it is in sys.modules,
# where a dataclass could not resolve string annotations
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


class SubmititLocalConfig(SearchPathPlugin):
    """Stores mnist-exp's `submitit_local` once Hydra has run every plugin module (it builds the
    search path after), so it replaces the plugin's whatever order Hydra found them in. The
    search path itself is left as it is."""

    def manipulate_search_path(self, search_path: Any) -> None:
        if LocalQueueConf is not None:
            store = ConfigStore.instance()
            store.store(group="hydra/launcher", name="submitit_local", node=LocalConf, provider="mnist_exp")
