"""`data=folder`: a folder of your own labelled images (core/folder) through the same in-memory
tensor path as MNIST (core/data): the same batches, normalization, k-fold and steps per call.

Its splits: the test images are `test/` when there is one, else `test_size` of the images held out
(seeded, like the validation images); the validation images are `val_size` of the rest, or a fold.
A size below 1 is a fraction, from 1 a count. To evaluate a trained model (`mnist-exp-eval ...
data=folder`), `for_evaluation` numbers the labels as the model's classes and, without `test/`,
tests every image of the folder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mnist_exp.core import folder
from mnist_exp.core.data import MNISTDataModule
from mnist_exp.core.errors import UserError


def count(size: float, n: int) -> int:
    """`size` images of `n`: a fraction below 1, a count from 1."""
    return round(size * n) if 0 < size < 1 else int(size)


class FolderDataModule(MNISTDataModule):
    """One subfolder per class under `root` (names in label order: by number when all are numbers)."""

    def __init__(
        self, root: str, test_size: float = 0.2, val_size: float = 0.1, dataset: str = "folder", **kw
    ) -> None:
        super().__init__(root=root, val_size=0, download=False, verify=False, **kw)
        self.data = None  # no preset: the folder says what it holds
        self.test_size, self.val_fraction = test_size, val_size
        self.images: folder.FolderImages | None = None
        self._labels_as: list[str] | None = None  # the evaluated model's classes

    def prepare_data(self) -> None:
        """Decode (or read from the cache) and check the folder; its class names are the classes."""
        if self.images is None:
            self.images = folder.load(self.root)
            self.classes = self.images.classes

    def for_evaluation(self, classes: Sequence[str]) -> None:
        """Test a model trained elsewhere: labels numbered as its `classes` (each class folder must
        be one of them), and every image tested unless there is a test/ subfolder."""
        self._labels_as = list(classes)

    def _held_out(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(train pool, test) indices of the folder's images when there is no test/ subfolder."""
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed)).numpy()
        k = count(self.test_size, n)
        if not 0 < k < n:
            raise UserError(
                f"data.test_size={self.test_size} holds out {k} of the folder's {n} images. Fix: a fraction "
                "such as data.test_size=0.2, or a test/ subfolder of test images."
            )
        return order[k:], order[:k]

    def split(self, train: bool) -> tuple[np.ndarray, np.ndarray]:
        self.prepare_data()
        images = self.images
        assert images is not None
        if self._labels_as is not None:  # evaluation: test/, else every image, numbered as the model's
            x, y = images.test if images.test is not None else images.train
            known = {name: i for i, name in enumerate(self._labels_as)}
            return x, np.array([known[self.classes[label]] for label in y], np.int64)
        if images.test is not None:
            return images.train if train else images.test
        pool, test = self._held_out(len(images.train[1]))
        x, y = images.train
        chosen = pool if train else test
        return x[chosen], y[chosen]

    def _split_indices(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.val_size = count(self.val_fraction, len(labels))
        if not self.folds and not 0 < self.val_size < len(labels):
            raise UserError(
                f"data.val_size={self.val_fraction} holds out {self.val_size} of {len(labels)} training "
                "images. Fix: a fraction such as data.val_size=0.1."
            )
        return super()._split_indices(labels)
