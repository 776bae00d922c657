"""`mnist-exp-predict ckpt_path=... images='[my7.png,scan.jpg]'` (or a folder): digits of your own.

Prints a table, and writes predictions.csv and predict.log into the run folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from mnist_exp.cli.common import guarded, print_error, refuse_used_folder, run_hydra
from mnist_exp.core.ckpt_file import checkpoint_file
from mnist_exp.core.netconfig import trusted_modules
from mnist_exp.setup.config import CONF_DIR, VERSION_BASE
from mnist_exp.setup.execution import trusted

PROG = "mnist-exp-predict"
USAGE = """\
usage: mnist-exp-predict ckpt_path=<run>/checkpoints/last.ckpt images='[my7.png,scan.jpg]'
       mnist-exp-predict ckpt_path=... images=<folder of pictures>

Predict the digit in each of your own pictures (PNG, JPEG, ...; one digit per picture, any size,
dark-on-light or light-on-dark). Prints a table; writes predictions.csv into outputs/predict/<run>/.
A checkpoint is data: it may name mnist-exp's models, or classes of a module you vouch for
with trust=[mymodels] (your own model's package, on PYTHONPATH)."""


def check(cfg: DictConfig) -> None:
    refuse_used_folder(cfg)
    checkpoint_file(cfg.ckpt_path)  # a wrong path refused before torch is imported
    from mnist_exp.core.checkpoint import load_checkpoint  # torch: the config is good by now

    load_checkpoint(cfg.ckpt_path, trusted_modules(cfg.get("trust")))  # schema, class judged, weights fit


@hydra.main(**VERSION_BASE, config_path=CONF_DIR, config_name="predict")
@guarded
@trusted
def hydra_main(cfg: DictConfig) -> None:
    from mnist_exp.pipelines.run.predict import predict, show, write_csv

    results, failures = predict(cfg)
    show(results, failures)
    out = Path(cfg.paths.output_dir) / "predictions.csv"
    write_csv(results, failures, out)
    print(f"Wrote {out}")
    for path, reason in failures:
        print_error(f"{path}: {reason}. Fix: pass image files (PNG, JPEG, ...) of one digit each.")
    if failures:
        sys.exit(2)


@guarded
def main() -> None:
    run_hydra(PROG, "predict", hydra_main, check, USAGE)


if __name__ == "__main__":
    main()
