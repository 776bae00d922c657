"""Names of the choices the core accepts, without importing torch, so set-up can check a config
before the training stack is loaded (start-up stays fast)."""

from __future__ import annotations

from mnist_exp.core.targets import LENET, MLP, names

ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")  # model.activation of the MLP
LOADERS = ("tensor", "torchvision")  # data.loader
# trainer.precision: Lightning's values, less transformer-engine (a GPU-only package); ints as text
PRECISIONS = (
    "32-true",
    "32",
    "bf16-mixed",
    "bf16",
    "16-mixed",
    "16",
    "64-true",
    "64",
    "bf16-true",
    "16-true",
)
STORAGES = ("uint8", "float32")  # data.storage
IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
}  # what predict reads
# experiment preset -> (model, test accuracy reported by the seed document, %)
REPORTED = {"seed_lenet": ("LeNet-5", 98.6), "seed_mlp": ("MLP", 93.5)}
# what a sweep report can sort by
REPORT_METRICS = ("val/acc_best", "test/acc", "val/acc", "train/loss", "val/loss")


def lower_is_better(metric: str) -> bool:
    """Losses are minimized, accuracies maximized: how every sort, table and picture orders a metric."""
    return "loss" in metric


def metric_scale(metric: str) -> int:
    """What a metric is multiplied by for display: accuracies in %, losses as they are."""
    return 1 if lower_is_better(metric) else 100


# Image geometry, torch-free so that start-up can check data.pad against the models before a run
# folder exists; LeNet5 (core/models.py) is built from the same numbers.
MNIST_SIDE = 28  # MNIST's images are 28x28; data.pad adds pixels on every side
LENET_SIDE = 32  # LeNet-5's input, as in the seed document (MNIST padded by 2)
LENET_KERNEL = 5  # both convolutions
LENET_POOL = 2  # both max-pools
SEED_PAD = (LENET_SIDE - MNIST_SIDE) // 2  # 2: the seed's data.pad


def image_side(pad: int) -> int:
    return MNIST_SIDE + 2 * pad


def lenet_maps(side: int) -> int:
    """Side of LeNet-5's feature maps after its two convolution + pooling stages (fc1 reads 16 of
    them); 0 when the image is too small to get through."""
    for _ in range(2):
        side = max(0, (side - LENET_KERNEL + 1) // LENET_POOL)
    return side


LENET_MAPS = lenet_maps(LENET_SIDE)  # 5: 32 -> conv 28 -> pool 14 -> conv 10 -> pool 5


def input_error(target: str, pad: int, in_features: int | None) -> str | None:
    """Why the model of `target` cannot take images padded by `pad`, or None when it can."""
    side = image_side(pad)
    if names(target, LENET) and lenet_maps(side) != LENET_MAPS:
        return (
            f"data.pad={pad} gives {side}x{side} images, but LeNet-5 needs {LENET_SIDE}x{LENET_SIDE} "
            f"(its fc1 reads 16 maps of {LENET_MAPS}x{LENET_MAPS}). Fix: data.pad={SEED_PAD}."
        )
    if names(target, MLP) and in_features is not None and side * side != in_features:
        return (
            f"data.pad={pad} gives {side}x{side} = {side * side} inputs per image, but "
            f"model.in_features is {in_features}. Fix: data.pad={SEED_PAD} "
            f"({LENET_SIDE}x{LENET_SIDE} = {LENET_SIDE**2}), or model.in_features={side * side}."
        )
    return None
