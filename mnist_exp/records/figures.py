"""The pictures a run and a sweep report draw (the seed's accuracy plot, feature maps, confusion
matrix, mistakes), with matplotlib's file-only backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
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


def publish(trainer: Any, figure: Figure, path: Path, tag: str, step: int, dpi: int = 100) -> None:
    """Draw the figure once, at `dpi`: the same pixels go to `path` (a PNG) and to every TensorBoard
    logger of the run as an image (its add_figure would draw the figure a second time); then free
    it. Drawing is most of what a run's pictures cost."""
    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    plt.imsave(path, pixels)
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        if hasattr(experiment, "add_image"):
            experiment.add_image(tag, pixels[..., :3], global_step=step, dataformats="HWC")
    plt.close(figure)


def save_sample_png(image, path) -> None:
    """One sample's channel-summed activation, 'Greys' as the seed draws it, 200x200 pixels.

    Written with imsave from an upscaled array: no figure per sample (16 figures cost seconds).
    """
    scale = max(1, 200 // max(image.shape))
    plt.imsave(path, np.kron(image, np.ones((scale, scale))), cmap="Greys")


def _mosaic(acts, pad: int = 2):
    """All maps in one array, each scaled to [0, 1] on its own (as one imshow per map would)."""
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


def drawable(name: str) -> str:
    """A class name as matplotlib's bundled font can draw it: KMNIST's "お (o)" keeps its
    romanization (DejaVu Sans has no kana; text outputs keep the hiragana)."""
    if name.isascii():
        return name
    inner = name[name.find("(") + 1 : name.rfind(")")] if "(" in name else ""
    return inner if inner.isascii() and inner else name.encode("ascii", "replace").decode()


def confusion_figure(confusion, classes: Sequence[str] | None = None) -> Figure:
    """The confusion matrix as counts and row-normalized, side by side, its axes named by class
    (the counts written in the cells up to 20 classes; beyond, the colours say it)."""
    counts = confusion.numpy()
    n = len(counts)
    names = [drawable(c) for c in classes] if classes else [str(i) for i in range(n)]
    normalized = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    size = max(5.5, 0.25 * n + 2)
    fig, axes = plt.subplots(1, 2, figsize=(2.2 * size, size))
    for ax, data, title, fmt in (
        (axes[0], counts, "Confusion matrix (counts)", "{:d}"),
        (axes[1], normalized, "Confusion matrix (normalized by true label)", "{:.2f}"),
    ):
        ax.imshow(data, cmap="Blues")
        for (i, j), value in _cells(data) if n <= 20 else ():
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
        ax.set_xticks(range(n), names, rotation=90 if max(map(len, names)) > 2 else 0, fontsize=7)
        ax.set_yticks(range(n), names, fontsize=7)
    fig.tight_layout()
    return fig


def _cells(data):
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            yield (i, j), (int(data[i, j]) if data.dtype.kind in "iu" else float(data[i, j]))


def mistakes_figure(mistakes: Sequence[tuple], classes: Sequence[str] | None = None) -> Figure:
    """Up to 64 misclassified test images, 8 per row, each titled 'true t / pred p'. Drawn as one
    image with a line of text above each digit (not one axes per image: 64 axes and their layout
    took over a second)."""
    cols, (height, width) = 8, (mistakes[0][0].shape if mistakes else (28, 28))
    rows = max(1, -(-len(mistakes) // cols))
    cell_w, cell_h, top = width + 6, height + 12, 10  # room for the title line above each digit
    grid = np.full((rows * cell_h, cols * cell_w), np.nan)
    fig = plt.figure(figsize=(cols * 1.2, rows * 1.35 + 0.3))
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 - 0.3 / (rows * 1.35 + 0.3)))

    def name(label: int) -> str:
        return drawable(classes[label])[:11] if classes else str(label)

    for k, (image, true, pred) in enumerate(mistakes):
        y, x = (k // cols) * cell_h + top, (k % cols) * cell_w + 3
        grid[y : y + height, x : x + width] = np.asarray(image, dtype=float)
        text = f"true {name(true)} / pred {name(pred)}"
        if len(text) > 20:  # clothing's names: one per line
            text = f"true {name(true)}\npred {name(pred)}"
        ax.text(x + width / 2, y - 2, text, ha="center", va="bottom", fontsize=6 if len(text) <= 20 else 5)
    ax.imshow(grid, cmap=plt.get_cmap("gray").with_extremes(bad="white"), interpolation="nearest")
    ax.axis("off")
    fig.suptitle(f"{len(mistakes)} misclassified test images", fontsize=9)
    return fig
