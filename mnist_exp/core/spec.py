"""Names of the choices the core accepts, without importing torch, so set-up can check a config
before the training stack is loaded (start-up stays fast)."""

from __future__ import annotations

ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")  # model.activation of the MLP
LOADERS = ("tensor", "torchvision")  # data.loader
STORAGES = ("uint8", "float32")  # data.storage
TRAIN_IMAGES = 60_000  # MNIST's official training split
# experiment preset -> (model, test accuracy reported by the seed document, %)
REPORTED = {"seed_lenet": ("LeNet-5", 98.6), "seed_mlp": ("MLP", 93.5)}
# what a sweep report can sort by
REPORT_METRICS = ("val/acc_best", "test/acc", "val/acc", "train/loss", "val/loss")
