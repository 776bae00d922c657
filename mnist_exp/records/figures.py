"""The pictures a run and a sweep report draw (the seed's accuracy plot, feature maps, confusion
matrix, mistakes), with matplotlib's file-only backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def accuracy_figure(rows: Sequence[dict[str, float]]) -> Figure:
    """The seed's plot: title 'Accuracy', x 'Epoch(n)', y 'Acc(%)', grid, one line per split."""
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for key, label in (("train/acc", "train"), ("val/acc", "val")):
        values = [100 * r[key] for r in rows if key in r]
        if len(values) == len(epochs):
            ax.plot(epochs, values, marker="o", label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Accuracy")
    ax.set_xlabel("Epoch(n)")
    ax.set_ylabel("Acc(%)")
    ax.grid(True)
    ax.legend()
    fig.tight_layout()
    return fig


def log_figure(trainer: Any, tag: str, figure: Figure, step: int) -> None:
    """Send a figure to every TensorBoard logger of the run, then free it."""
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        if hasattr(experiment, "add_figure"):
            experiment.add_figure(tag, figure, global_step=step, close=False)
    plt.close(figure)


def save_sample_png(image, path) -> None:
    """One sample's channel-summed activation, 'Greys' as the seed draws it, 200x200 pixels.

    Written with imsave from an upscaled array: no figure per sample (16 figures cost seconds).
    """
    import numpy as np

    scale = max(1, 200 // max(image.shape))
    plt.imsave(path, np.kron(image, np.ones((scale, scale))), cmap="Greys")


def _mosaic(acts, pad: int = 2):
    """All maps in one array, each scaled to [0, 1] on its own (as one imshow per map would)."""
    import numpy as np

    maps = acts.numpy() if acts.dim() == 4 else acts.numpy()[:, None]
    n, c, h, w = maps.shape
    lo = maps.min(axis=(2, 3), keepdims=True)
    span = maps.max(axis=(2, 3), keepdims=True) - lo
    maps = (maps - lo) / np.where(span > 0, span, 1)
    grid = np.full((n * (h + pad) + pad, c * (w + pad) + pad), np.nan)
    for i in range(n):
        for j in range(c):
            top, left = pad + i * (h + pad), pad + j * (w + pad)
            grid[top : top + h, left : left + w] = maps[i, j]
    return grid, (h + pad, w + pad)


def feature_grid_figure(acts, labels: Sequence[int], layer: str) -> Figure:
    """Every channel of every sample: one row per sample (its label), one column per channel.

    Drawn as one image (not one axes per map), which keeps a 16 x 16 grid well under a second.
    """
    n, c = acts.shape[0], acts.shape[1] if acts.dim() == 4 else 1
    grid, (step_y, step_x) = _mosaic(acts)
    fig = plt.figure(figsize=(0.6 * c + 0.6, 0.6 * n + 0.6))
    ax = fig.add_axes((0.08, 0.02, 0.9, 0.9))
    cmap = plt.get_cmap("Greys").with_extremes(bad="white")
    ax.imshow(grid, cmap=cmap, interpolation="nearest")
    ax.set_xticks(
        [2 + j * step_x + (step_x - 2) / 2 for j in range(c)], [f"ch {j}" for j in range(c)], fontsize=6
    )
    ax.set_yticks(
        [2 + i * step_y + (step_y - 2) / 2 for i in range(n)],
        [f"label {labels[i]}" for i in range(n)],
        fontsize=6,
    )
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.suptitle(f"{layer} activations", fontsize=8, y=0.995)
    return fig


def confusion_figure(confusion) -> Figure:
    """10x10 confusion matrix as counts and row-normalized, side by side."""
    counts = confusion.numpy()
    normalized = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    for ax, data, title, fmt in (
        (axes[0], counts, "Confusion matrix (counts)", "{:d}"),
        (axes[1], normalized, "Confusion matrix (normalized by true label)", "{:.2f}"),
    ):
        ax.imshow(data, cmap="Blues")
        for (i, j), value in _cells(data):
            ax.text(
                j,
                i,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=6,
                color="white" if data[i, j] > data.max() / 2 else "black",
            )
        ax.set_title(title)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(len(data)))
        ax.set_yticks(range(len(data)))
    fig.tight_layout()
    return fig


def _cells(data):
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            yield (i, j), (int(data[i, j]) if data.dtype.kind in "iu" else float(data[i, j]))


def mistakes_figure(mistakes: Sequence[tuple]) -> Figure:
    """Up to 64 misclassified test images, 8 per row, titled 'true t / pred p'."""
    cols = 8
    rows = max(1, -(-len(mistakes) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.35), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(mistakes):
            image, true, pred = mistakes[k]
            ax.imshow(image, cmap="gray")
            ax.set_title(f"true {true} / pred {pred}", fontsize=6)
    fig.suptitle(f"{len(mistakes)} misclassified test images", fontsize=9)
    fig.tight_layout()
    return fig
