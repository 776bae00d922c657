"""Which class a config's `_target_` names, decided here once, by the whole dotted name: a user's
own `mymodels.MLP` is not mnist-exp's MLP (a suffix test took it for one and checked its input size
against mnist-exp's), and another plugin's `OptunaSweeper` is not mnist-exp's. Torch-free."""

from __future__ import annotations

LENET = "mnist_exp.core.models.LeNet5"
MLP = "mnist_exp.core.models.MLP"
OWN_MODELS = (LENET, MLP)
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
