"""Your own images: data=folder, and a LightningDataModule of your own through mnist-exp, against
torchvision's ImageFolder + DataLoader on the same PNG files.

    python benchmarks/own_data.py --root ../shared/data [--rounds 3] [--images 20000] [--epochs 3]

Writes --images MNIST training digits and 2,000 test digits as PNG files (<base>/train/<digit>/,
<base>/test/<digit>/; data=folder reads the same files through links: <view>/<digit>, <view>/test).
Part 1, in this one process (the sides share the machine's state), for each round:
  first load    data=folder: core/folder.load with an empty cache (list the files, decode each as
                predict does, write the cache); ImageFolder(...) (lists the files; it decodes per
                sample, every epoch)
  second start  data=folder: core/folder.load again (from the cache); for scale, reading MNIST's
                four IDX files (what a data=mnist run reads)
  epoch         one epoch of the seed's MLP (SGD lr 0.01, batch 128, shuffled) over the images:
                data=folder's training loader (the in-memory tensors); examples/own_datamodule's
                PngDigits as mnist-exp builds it (ImageFolder per sample inside); ImageFolder +
                DataLoader (Grayscale, Pad 2, ToTensor, Normalize) with num_workers 0 and 2. The same
                model and step for all, so what differs is the data path.
Part 2, whole `mnist-exp-train model=mlp` processes, data=folder against the user's PngDigits
(`--config-dir examples/own_datamodule/conf data=pngs`): each run's median gap between its
per-epoch lines in train.log (training and validation), and its whole wall time.
The sides alternate within a round (the order reversed every other round); ratios are per round,
then the median.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from harness import REPO, epoch_gap, interleaved, median_ratio, parser, python, table
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import ImageFolder

from mnist_exp.core import folder, idx
from mnist_exp.core.folder_data import FolderDataModule
from mnist_exp.core.models import MLP

EXAMPLE = REPO / "examples" / "own_datamodule"


def write_pngs(base: Path, mnist: str, count: int) -> Path:
    """<base>/train and <base>/test as PngDigits reads them; a view of the same files for data=folder."""
    for split, train, n in (("train", True, count), ("test", False, 2000)):
        images, labels = idx.load_split(mnist, train=train)
        for i in range(n):
            (base / split / str(labels[i])).mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(base / split / str(labels[i]) / f"{i:05d}.png")
    view = base.parent / "view"
    view.mkdir()
    for digit in (base / "train").iterdir():
        (view / digit.name).symlink_to(digit, target_is_directory=True)
    (view / "test").symlink_to(base / "test", target_is_directory=True)
    return view


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


def in_process(args, base: Path, view: Path, cache: Path) -> dict[str, list[float]]:
    tf = transforms.Compose(
        [
            transforms.Grayscale(),
            transforms.Pad(2),
            transforms.ToTensor(),
            transforms.Normalize((0.5,), (1.0,)),
        ]
    )
    spec = importlib.util.spec_from_file_location("pngdigits", EXAMPLE / "pngdigits.py")
    pngdigits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pngdigits)

    def cold() -> float:
        shutil.rmtree(cache, ignore_errors=True)
        return timed(lambda: folder.load(view))

    def folder_epoch() -> float:
        dm = FolderDataModule(root=str(view), val_size=1, steps_per_call=1)
        dm.setup("fit")
        return epoch(dm.train_dataloader())

    def own_epoch() -> float:
        dm = pngdigits.PngDigits(root=str(base), batch_size=128, val_fraction=0.0001)
        dm.setup("fit")
        return epoch(dm.train_dataloader())

    def image_folder(workers: int) -> Callable[[], float]:
        gen = torch.Generator().manual_seed(0)
        loader = DataLoader(
            ImageFolder(str(base / "train"), transform=tf),
            128,
            shuffle=True,
            num_workers=workers,
            generator=gen,
        )
        return lambda: epoch(loader)

    return interleaved(
        args.rounds,
        {
            "data=folder, first load (decode, write the cache)": cold,
            "data=folder, second start (list, read the cache)": lambda: timed(lambda: folder.load(view)),
            "`ImageFolder(...)` (lists; decodes later, per sample)": lambda: timed(
                lambda: ImageFolder(str(base / "train"), transform=tf)
            ),
            "for scale: MNIST's four IDX files, 70,000 images": lambda: timed(
                lambda: [idx.load_split(args.root, t) for t in (True, False)]
            ),
            "epoch: data=folder (in-memory tensors)": folder_epoch,
            "epoch: your DataModule (PngDigits, ImageFolder inside)": own_epoch,
            "epoch: ImageFolder + DataLoader, num_workers=0": image_folder(0),
            "epoch: ImageFolder + DataLoader, num_workers=2": image_folder(2),
        },
    )


def whole_run(args, data: list[str], work: Path) -> tuple[float, float]:
    """(median epoch gap, wall seconds) of one `mnist-exp-train model=mlp` process."""
    run = work / f"run_{time.perf_counter_ns()}"
    quiet = [
        "model=mlp",
        "logger=none",
        "trainer.enable_progress_bar=false",
        f"trainer.max_epochs={args.epochs}",
    ]
    start = time.perf_counter()
    python("mnist_exp.cli.train", [*quiet, *data, f"hydra.run.dir={run}"], work)
    wall = time.perf_counter() - start
    gap = epoch_gap(run / "train.log")
    shutil.rmtree(run)
    return gap, wall


def whole_runs(args, base: Path, view: Path, work: Path) -> None:
    """Part 2: whole processes, data=folder against the user's PngDigits on the same files."""
    val = "0.0833"  # the same 1/12 of the training images held out for validation on both sides
    sides = {
        "data=folder": ["data=folder", f"data.root={view}", f"data.val_size={val}"],
        "your DataModule (PngDigits)": [
            "--config-dir", str(EXAMPLE / "conf"), "data=pngs",
            f"data.root={base}", f"data.val_fraction={val}",
        ],
    }  # fmt: skip
    os.environ["PYTHONPATH"] = str(EXAMPLE)
    walls: dict[str, list[float]] = {name: [] for name in sides}

    def side(name: str) -> Callable[[], float]:
        def run() -> float:
            gap, wall = whole_run(args, sides[name], work)
            walls[name].append(wall)
            return gap

        return run

    gaps = interleaved(args.rounds, {name: side(name) for name in sides})
    rows = [
        (name, f"{statistics.median(gaps[name]):.3f}", f"{statistics.median(walls[name]):.2f}")
        for name in sides
    ]
    print(table([f"`mnist-exp-train model=mlp`, {args.epochs} epochs", "s per epoch", "wall s"], rows))
    ratio = median_ratio(gaps["data=folder"], gaps["your DataModule (PngDigits)"])
    print(f"data=folder / your DataModule, per epoch (median of the per-round ratios): {ratio:.3f}x")


def main() -> None:
    args = parser(__doc__, rounds=3, baseline=False)
    args.add_argument("--images", type=int, default=20_000)
    args.add_argument("--epochs", type=int, default=3)
    args = args.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mnist-exp-own-data-"))
    cache = work / "cache"
    os.environ["MNIST_EXP_CACHE"] = str(cache)
    base = work / "pngs"
    view = write_pngs(base, args.root, args.images)
    took = in_process(args, base, view, cache)
    med = {name: statistics.median(values) for name, values in took.items()}
    base_epoch = took["epoch: ImageFolder + DataLoader, num_workers=0"]
    rows = [(name, f"{med[name]:.3f}", "") for name in list(took)[:4]]
    rows += [
        (name, f"{med[name]:.3f}", f"{median_ratio(took[name], base_epoch):.3f}x") for name in list(took)[4:]
    ]
    print(f"{args.images:,} PNG images, {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    print(table(["in one process", "median s", "ratio to ImageFolder, workers 0 (per round)"], rows))

    whole_runs(args, base, view, work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
