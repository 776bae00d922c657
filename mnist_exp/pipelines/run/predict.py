"""Prediction on digits of your own (`mnist-exp-predict ckpt_path=... images='[my7.png,scan.jpg]'`).

Each image is prepared the way MNIST's digits were (core/images: grayscale, inverted if
dark-on-light, cropped to the digit, fitted into 20x20, centred by mass in 28x28); then the run's
own pad and normalize.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig
from rich.console import Console
from rich.table import Table

from mnist_exp.core.checkpoint import load_checkpoint
from mnist_exp.core.data import normalize
from mnist_exp.core.errors import UserError
from mnist_exp.core.images import expand, load_image
from mnist_exp.core.netconfig import trusted_modules

log = logging.getLogger("mnist_exp.predict")


def predict(cfg: DictConfig) -> tuple[list[dict], list[tuple[Path, str]]]:
    """Predictions for every readable image, and (file, reason) for those that failed."""
    images = cfg.images
    if isinstance(images, str):
        images = [images]
    if not isinstance(images, (list, ListConfig)) or not images:
        raise UserError("images must name files or folders. Fix: images='[my7.png,scan.jpg]' or images=dir/")
    model = load_checkpoint(cfg.ckpt_path, trusted_modules(cfg.get("trust")))
    data = model.hparams["data_config"]  # checked numbers (core/ckpt_schema)
    if data.get("pad") is None:
        raise UserError(
            f"The checkpoint's model trained on {data.get('dataset') or 'a data module'}, which did not say "
            "how a picture becomes its input. Fix: give that data module the attributes pad, mean and std "
            "(MNIST's: 2, 0.5, 1.0) and train again (docs/your-own-data.md)."
        )
    names = model.class_names
    results, failures = [], []
    for path in expand(list(images)):
        try:
            digit = torch.from_numpy(load_image(path)).unsqueeze(0)
        except UserError as err:
            failures.append((path, str(err)))
            continue
        x = normalize(digit, data["pad"], data["mean"], data["std"])
        with torch.no_grad():
            probs = torch.softmax(model(x), dim=1)[0]
        top = torch.topk(probs, 3)
        results.append(
            {
                "file": str(path),
                "label": int(top.indices[0]),
                "class": names[int(top.indices[0])],
                "probability": float(top.values[0]),
                "top3": [(int(i), float(p)) for i, p in zip(top.indices, top.values, strict=True)],
                "names": [names[int(i)] for i in top.indices],
            }
        )
    return results, failures


def show(results: list[dict], failures: list[tuple[Path, str]]) -> None:
    """The table on the terminal, and one log line per image (predict.log)."""
    table = Table("file", "predicted", "probability", "top-3")
    for r in results:
        top3 = ", ".join(f"{n} ({p:.2f})" for n, (_, p) in zip(r["names"], r["top3"], strict=True))
        table.add_row(r["file"], r["class"], f"{r['probability']:.3f}", top3)
        log.info("%s: %s (p=%.3f; top-3 %s)", r["file"], r["class"], r["probability"], top3)
    longest = max((len(r["file"]) for r in results), default=0)
    Console(width=max(100, longest + 70)).print(table)  # full file names, never folded
    for path, reason in failures:
        log.warning("%s: %s", path, reason)


def write_csv(results: list[dict], failures: list[tuple[Path, str]], path: Path) -> None:
    """predictions.csv: one row per image (the predicted label, its class name; top3 as label:p);
    an unreadable image has its reason and no prediction."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label", "class", "probability", "top3", "error"])
        for r in results:
            top3 = " ".join(f"{d}:{p:.4f}" for d, p in r["top3"])
            writer.writerow([r["file"], r["label"], r["class"], f"{r['probability']:.6f}", top3, ""])
        for file, reason in failures:
            writer.writerow([str(file), "", "", "", "", reason])
