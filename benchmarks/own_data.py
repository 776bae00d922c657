"""A folder of your own images: mnist-exp's folder loader (data=folder) against torchvision's
ImageFolder + DataLoader on the same PNG files.

    python benchmarks/own_data.py --root ../shared/data [--rounds 3] [--images 20000]

Writes --images MNIST training digits as PNG files (one folder per class), then, in this one
process (so the sides share the machine's state), for each round:
  first load    mnist-exp: core/folder.load with an empty cache (list the files, decode each as
                predict does, write the cache); torchvision: ImageFolder(...) (lists the files; it
                decodes per sample, every epoch)
  second start  mnist-exp: core/folder.load again (from the cache); torchvision: ImageFolder again;
                and, for scale, reading MNIST's four IDX files (what a data=mnist run reads)
  epoch         one epoch of the seed's MLP (SGD lr 0.01, batch 128, shuffled) over the images:
                data=folder's training loader (FolderDataModule: the in-memory tensors), against
                ImageFolder + DataLoader (Grayscale, Pad 2, ToTensor, Normalize) with num_workers
                0 and 2; the same model and step for all, so what differs is the data path
The sides alternate within a round (the order reversed every other round); the table gives each
side's median and its ratio to ImageFolder's (per round, then the median). A data module of your
own that reads PNG files per sample (examples/own_datamodule) is the ImageFolder side: mnist-exp
adds nothing to its loading.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from harness import interleaved, median_ratio, parser, table
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import ImageFolder

from mnist_exp.core import folder, idx
from mnist_exp.core.folder_data import FolderDataModule
from mnist_exp.core.models import MLP


def write_pngs(root: Path, mnist: str, count: int) -> Path:
    images, labels = idx.load_split(mnist, train=True)
    for i in range(count):
        (root / str(labels[i])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(root / str(labels[i]) / f"{i:05d}.png")
    return root


def epoch(batches: Iterable) -> float:
    """Seconds for one epoch of the seed's MLP over `batches` (a fresh model each time)."""
    torch.manual_seed(0)
    model = MLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    return time.perf_counter() - start


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    args = parser(__doc__, rounds=3, baseline=False)
    args.add_argument("--images", type=int, default=20_000)
    args = args.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mnist-exp-own-data-"))
    os.environ["MNIST_EXP_CACHE"] = str(work / "cache")
    root = write_pngs(work / "digits", args.root, args.images)
    tf = transforms.Compose(
        [
            transforms.Grayscale(),
            transforms.Pad(2),
            transforms.ToTensor(),
            transforms.Normalize((0.5,), (1.0,)),
        ]
    )

    def cold() -> float:
        shutil.rmtree(work / "cache", ignore_errors=True)
        return timed(lambda: folder.load(root))

    def folder_epoch() -> float:
        dm = FolderDataModule(root=str(root), val_size=1, test_size=1, steps_per_call=1)
        dm.setup("fit")
        return epoch(dm.train_dataloader())

    def image_folder_epoch(workers: int) -> Callable[[], float]:
        gen = torch.Generator().manual_seed(0)
        loader = DataLoader(
            ImageFolder(str(root), transform=tf), 128, shuffle=True, num_workers=workers, generator=gen
        )
        return lambda: epoch(loader)

    took = interleaved(
        args.rounds,
        {
            "mnist-exp first load": cold,
            "mnist-exp second start": lambda: timed(lambda: folder.load(root)),
            "ImageFolder load": lambda: timed(lambda: ImageFolder(str(root), transform=tf)),
            "MNIST's IDX files, all 70,000": lambda: timed(
                lambda: [idx.load_split(args.root, t) for t in (1, 0)]
            ),
            "mnist-exp epoch": folder_epoch,
            "ImageFolder epoch, workers 0": image_folder_epoch(0),
            "ImageFolder epoch, workers 2": image_folder_epoch(2),
        },
    )
    med = {name: statistics.median(values) for name, values in took.items()}
    base = took["ImageFolder epoch, workers 0"]
    rows = [(name, f"{med[name]:.3f}", "") for name in list(took)[:4]]
    rows += [(name, f"{med[name]:.3f}", f"{median_ratio(took[name], base):.3f}x") for name in list(took)[4:]]
    cold = [f + 10 * e for f, e in zip(took["mnist-exp first load"], took["mnist-exp epoch"], strict=True)]
    plain = [f + 10 * e for f, e in zip(took["ImageFolder load"], base, strict=True)]
    rows.append(("10 epochs from a cold start, mnist-exp", f"{statistics.median(cold):.3f}", ""))
    rows.append(
        ("10 epochs from a cold start, ImageFolder (workers 0)", f"{statistics.median(plain):.3f}", "")
    )
    rows[-2] = (*rows[-2][:2], f"{median_ratio(cold, plain):.3f}x")
    print(f"{args.images:,} PNG images, {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    print(table(["side", "median s", "ratio to ImageFolder + DataLoader, workers 0 (per round)"], rows))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
