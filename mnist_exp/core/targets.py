"""Which class a config's `_target_` names, decided here once, by the whole dotted name: a user's
own `mymodels.MLP` is not mnist-exp's MLP (a suffix test took it for one and checked its input size
against mnist-exp's), and another plugin's `OptunaSweeper` is not mnist-exp's. Torch-free."""

from __future__ import annotations

LENET = "mnist_exp.core.models.LeNet5"
MLP = "mnist_exp.core.models.MLP"
OWN_MODELS = (LENET, MLP)
OWN_DATA = ("mnist_exp.core.data.MNISTDataModule", "mnist_exp.core.folder_data.FolderDataModule")
MLFLOW_RUN = "mnist_exp.records.mlflow_run.MLflowRun"
WANDB_RUN = "mnist_exp.records.wandb_run.WandbRun"
OPTUNA_SWEEPER = "hydra_plugins.mnist_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper"
# Lightning's, under each name its packages export it (the unified `lightning` package too)
LR_MONITOR = tuple(
    f"{package}.callbacks{module}.LearningRateMonitor"
    for package in ("pytorch_lightning", "lightning.pytorch")
    for module in ("", ".lr_monitor")
)


def names(target: object, *classes: str) -> bool:
    """Whether `target` (a `_target_` value, or None) is one of `classes`, spelled out in full."""
    return isinstance(target, str) and target in classes


def own_data(data: object) -> bool:
    """Whether a data config is one of mnist-exp's kinds (the MNIST family, a folder of images),
    whose files mnist-exp checks and whose options it knows; a user's DataModule is their own."""
    return names(getattr(data, "get", lambda *_: None)("_target_"), *OWN_DATA)
