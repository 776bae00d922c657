"""A LightningDataModule of the user's: digits saved as PNG files in torchvision's ImageFolder
layout (`<root>/train/<class>/*.png`, `<root>/test/<class>/*.png`), read per sample by torchvision.

What mnist-exp asks of it (docs/your-own-data.md) besides the three dataloaders of (images, labels):
  classes          the class names in label order (checkpoints, confusion matrix, predict)
  pad, mean, std   how a 28x28 picture becomes an input, so mnist-exp-predict prepares pictures
                   as training did
mnist-exp passes it nothing: it is built from conf/data/pngs.yaml as it is written.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler, random_split
from torchvision import transforms
from torchvision.datasets import ImageFolder


class PngDigits(pl.LightningDataModule):
    def __init__(
        self,
        root: str,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        num_classes: int = 10,
        pad: int = 2,
        mean: float = 0.5,
        std: float = 1.0,
        num_workers: int = 0,
        split_seed: int = 0,
        shuffle_seed: int = 0,
    ) -> None:
        super().__init__()
        self.root = Path(root).expanduser()
        self.batch_size, self.val_fraction, self.num_workers = batch_size, val_fraction, num_workers
        self.pad, self.mean, self.std = pad, mean, std
        self.split_seed, self.shuffle_seed = split_seed, shuffle_seed
        self.classes = sorted(p.name for p in (self.root / "train").iterdir() if p.is_dir())
        if len(self.classes) != num_classes:
            raise ValueError(f"{self.root}/train has {len(self.classes)} class folders, not {num_classes}")
        self.transform = transforms.Compose(
            [
                transforms.Grayscale(),
                transforms.Pad(pad),
                transforms.ToTensor(),
                transforms.Normalize((mean,), (std,)),
            ]
        )

    def setup(self, stage: str | None = None) -> None:
        full = ImageFolder(str(self.root / "train"), transform=self.transform)
        n_val = int(len(full) * self.val_fraction)
        split = torch.Generator().manual_seed(self.split_seed)
        self.train_set, self.val_set = random_split(full, [len(full) - n_val, n_val], generator=split)
        self.test_set = ImageFolder(str(self.root / "test"), transform=self.transform)

    def _loader(self, dataset, sampler=None) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        # each epoch's order from (seed, epoch) alone (Lightning calls set_epoch), so a resumed run
        # sees the batches the uninterrupted run saw, and verify= can compare the two exactly
        order = DistributedSampler(
            self.train_set, num_replicas=1, rank=0, shuffle=True, seed=self.shuffle_seed
        )
        return self._loader(self.train_set, order)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)
