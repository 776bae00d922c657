"""Weights & Biases as a view of a run, offline by default: no machine here reaches the service,
and a lab's cluster often does not either. The offline run is written inside the run folder
(`<run>/wandb/offline-run-*`), to be sent later with `wandb sync <run>/wandb/offline-run-*`.
`logger.wandb.offline=false` sends it as it trains. The params are the resolved config with dotted
keys (as in MLflow), the metrics Lightning's, the pictures the run folder's; a sweep's jobs share
one group (the sweep folder's name), each named like its TensorBoard run."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import wandb
from omegaconf import OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from mnist_exp.core.overrides import SWEPT_ENV
from mnist_exp.core.rank_zero import is_rank_zero
from mnist_exp.records import provenance
from mnist_exp.records.hparams import PICTURES, flat_params

# where W&B keeps its own logs, cache and settings; unless the user chose them, inside the run
# folder too (wandb-core's debug logs would otherwise go to ~/.cache/wandb)
PLACES = {"WANDB_CACHE_DIR": ".cache", "WANDB_DATA_DIR": ".data", "WANDB_CONFIG_DIR": ".config"}
USER_SET = {var for var in PLACES if var in os.environ}
log = logging.getLogger("mnist_exp.train")
RUN_ID_FILE = ".wandb_run_id"  # in the run folder: a resumed or requeued run continues this W&B run


class WandbRun(WandbLogger):
    """Lightning's WandbLogger with mnist-exp's naming, params, status and pictures."""

    def __init__(
        self,
        run_dir: str,
        project: str,
        offline: bool = True,
        log_model: bool = False,
        resume_from: str | None = None,
    ) -> None:
        """`resume_from`: the checkpoint the run continues from; only then does it continue the W&B
        run whose id the folder keeps (`.wandb_run_id`), so a requeue or resume is one W&B run and
        a run started from scratch is a new one."""
        self.run_dir = Path(run_dir)
        self._persisted = False
        kept = self.run_dir / RUN_ID_FILE
        run_id = kept.read_text().strip() if resume_from and kept.is_file() else ""
        if not run_id:
            run_id = secrets.token_hex(4)  # W&B's ids: lowercase letters and digits
            if is_rank_zero():
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text(run_id)
        in_sweep = os.environ.get(SWEPT_ENV) is not None  # set by the sweep for its jobs
        for var, place in PLACES.items():
            if var not in USER_SET:
                os.environ[var] = str(self.run_dir / "wandb" / place)
        # what a closed run is opened again with (record_status after persist), as W&B's own init
        self._reopen = {
            "id": run_id,
            "name": self.run_dir.name,
            "dir": str(self.run_dir),
            "project": project,
            "group": self.run_dir.parent.name if in_sweep else None,
            "mode": "offline" if offline else "online",
            "resume": "allow",
            "settings": wandb.Settings(silent=True),
        }
        super().__init__(
            name=self.run_dir.name,
            save_dir=str(self.run_dir),
            offline=offline,
            project=project,
            group=self._reopen["group"],
            log_model=log_model,
            settings={"silent": True},
            id=run_id,
        )

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        """Nothing: Lightning sends the module's own arguments here at each fit, which repeat the
        config's keys under other names (module.*); the params are record_config's."""

    @rank_zero_only
    def record_config(self, params: dict[str, str], config_yaml: str, overrides: list[str]) -> None:
        """The params once per key in the run's config; the resolved config and the overrides among
        its files as mnist_exp/config.yaml and mnist_exp/overrides.yaml (W&B's own config.yaml is
        its config), written into the run's files folder (a file saved from elsewhere is linked
        there, with a warning on the terminal)."""
        self.experiment.config.update(flat_params(params), allow_val_change=True)
        files = Path(self.experiment.dir)
        (files / "mnist_exp").mkdir(exist_ok=True)
        (files / "mnist_exp" / "config.yaml").write_text(config_yaml)
        (files / "mnist_exp" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
        for name in ("config.yaml", "overrides.yaml"):
            self.experiment.save(str(files / "mnist_exp" / name), base_path=str(files), policy="now")

    @rank_zero_only
    def record_status(self, status: str) -> None:
        """The word status.json says, in the run's summary as `mnist_exp.status`."""
        if self._persisted:  # finished for a requeue that submitit then refused: the same run again
            run = wandb.init(**self._reopen)
            run.summary["mnist_exp.status"] = status
            run.finish()
            wandb.teardown()
            return
        self.experiment.summary["mnist_exp.status"] = status

    @rank_zero_only
    def persist(self) -> None:
        """Finish the offline run, so that wandb-core writes all of it now: at a requeue SLURM stops
        the job's processes, wandb-core among them, and it lost the last epochs it had not written
        (seen in the SLURM requeue test: 10 epochs' history). And the next job of a sweep in this
        process would otherwise log into this run (W&B reuses a run still open). A resumed run
        continues the same id."""
        if self._persisted:
            return
        self.experiment.finish()
        # and W&B's service ended while it still runs: its exit hook would otherwise talk to a
        # wandb-core that SLURM has stopped, and print a traceback into the job's log
        wandb.teardown()
        self._persisted = True

    @rank_zero_only
    def record_provenance(self, entry: dict[str, Any]) -> None:
        """W&B records its own metadata (host, program, git, requirements.txt); mnist-exp's items
        go into the run's config under `provenance.`, and provenance.json and patches into its files."""
        shown = {f"provenance.{k}": v for k, v in provenance.items(entry, packages=False).items()}
        self.experiment.config.update(shown, allow_val_change=True)
        files = Path(self.experiment.dir)
        for path in sorted(self.run_dir.glob("provenance*")):  # W&B writes its own requirements.txt
            shutil.copyfile(path, files / path.name)  # copied there: a link would warn on the terminal
            self.experiment.save(str(files / path.name), base_path=str(files), policy="now")

    @rank_zero_only
    def log_pictures(self) -> None:
        for name in PICTURES:
            if (self.run_dir / name).is_file():
                self.log_image(name.removesuffix(".png"), [str(self.run_dir / name)])
        grids = sorted(self.run_dir.glob("feature_maps/epoch_*/grid.png"))
        if grids:
            self.log_image("feature_maps", [str(g) for g in grids], caption=[g.parent.name for g in grids])
