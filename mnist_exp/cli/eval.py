"""`mnist-exp-eval ckpt_path=...`: test a checkpoint on the official 10,000 test images."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from mnist_exp.cli.common import guarded, refuse_used_folder, run_hydra
from mnist_exp.core.ckpt_file import checkpoint_file
from mnist_exp.core.netconfig import trusted_modules
from mnist_exp.core.targets import own_data
from mnist_exp.setup.checks import check_accelerator, check_classes, check_own_data, data_needs_download
from mnist_exp.setup.config import CONF_DIR, VERSION_BASE
from mnist_exp.setup.execution import trusted
from mnist_exp.setup.validate import validate

PROG = "mnist-exp-eval"
USAGE = """\
usage: mnist-exp-eval ckpt_path=<run>/checkpoints/last.ckpt [key=value ...]

Test a checkpoint on the official test images of MNIST (or of the data it trained on:
data=fashion_mnist, kmnist, emnist_balanced, ...). The model and its input transform (pad, mean,
std) come from the checkpoint; data.root says where the data is.
A checkpoint is data: it may name mnist-exp's models, or classes of a module you vouch for
with trust=[mymodels] (your own model's package, on PYTHONPATH)."""


def check(cfg: DictConfig) -> None:
    validate(cfg)
    refuse_used_folder(cfg)
    check_accelerator(cfg.trainer)
    data_needs_download(cfg.data, count_classes=False)  # eval: the checkpoint's classes count
    if not own_data(cfg.data):
        check_own_data(cfg.data, None)
    checkpoint_file(cfg.ckpt_path)  # a wrong path refused before torch is imported
    from mnist_exp.core.checkpoint import load_checkpoint  # torch: the config is good by now

    model = load_checkpoint(
        cfg.ckpt_path, trusted_modules(cfg.get("trust"))
    )  # schema, class judged, weights fit
    check_classes(model.class_names, cfg.data)


@hydra.main(**VERSION_BASE, config_path=CONF_DIR, config_name="eval")
@guarded
@trusted
def hydra_main(cfg: DictConfig) -> None:
    from mnist_exp.pipelines.run.evaluate import evaluate

    evaluate(cfg)


@guarded
def main() -> None:
    run_hydra(PROG, "eval", hydra_main, check, USAGE)


if __name__ == "__main__":
    main()
