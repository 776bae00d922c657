"""MNIST as a LightningDataModule: the seed's torchvision pipeline, or the same tensors held in memory.

`loader=tensor` (default) reads the IDX files once, pads and normalizes the whole set with tensor
operations, keeps it on the training device and yields batches by index slicing; `loader=torchvision`
is the seed's per-sample PIL pipeline, kept as the reference. Both give equal tensors.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from mnist_exp.core import idx
from mnist_exp.core.datasets import preset
from mnist_exp.core.download import download
from mnist_exp.core.errors import UserError


def normalize(images_u8: torch.Tensor, pad: int, mean: float, std: float) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28+2p, 28+2p) float32, computed as Pad, ToTensor, Normalize do."""
    x = images_u8.unsqueeze(1)
    if pad:
        x = F.pad(x, (pad, pad, pad, pad), value=0)
    return x.float().div_(255).sub_(mean).div_(std)  # in place: no full-size temporaries


Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class Steps:
    """Consecutive training mini-batches for one Lightning step (`data.steps_per_call`): the module
    runs one optimizer step on each, in order, so Lightning's per-step work is paid once for all of
    them. `start` is the first one's index in the epoch; `trained` is set by the module to how many
    it trained (fewer when max_steps ends the run inside the call). A dataclass, not a tuple: code
    that unpacks a batch as `x, y` fails loudly instead of taking two mini-batches for x and y."""

    batches: MiniBatches
    start: int
    trained: int = 0


class MiniBatches:
    """The mini-batches of one call, each gathered from the in-memory tensors when it is reached.
    Gathered all at once, the first ones would leave the CPU cache before their step (measured
    about 2% of a step). Not a `Sequence` on purpose: Lightning would rebuild a Sequence element
    by element to move it to the device, and these tensors are on the device already."""

    def __init__(self, gather: Callable[[int], Batch], start: int, stop: int) -> None:
        self.gather, self.start, self.stop = gather, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, j: int) -> Batch:
        if not 0 <= j < len(self):
            raise IndexError(j)
        return self.gather(self.start + j)

    def __iter__(self) -> Iterator[Batch]:
        return (self.gather(i) for i in range(self.start, self.stop))


def first_batch(batch: Batch | Steps) -> Batch:
    """The first mini-batch of a training batch, whichever form it has."""
    return batch.batches[0] if isinstance(batch, Steps) else batch


def limited(n: int, limit: int | float | None) -> int:
    """How many of `n` mini-batches `limit_train_batches` keeps, as Lightning counts it."""
    if limit is None:
        return n
    if isinstance(limit, float) and limit <= 1.0:
        return int(n * limit)
    return min(n, int(limit))


class TensorBatches:
    """Batches of an in-memory dataset by index slicing: no per-sample Python, no workers.

    With `shuffle`, each epoch's order is `torch.randperm` seeded by (seed, epoch), so an epoch's
    order does not depend on what ran before it: a resumed run sees the batches it would have seen.
    Under DDP each rank takes a disjoint, equal-length shard of that permutation for training, and
    every rank-th image, unpadded, for evaluation.

    With `steps_per_call` K > 1 it yields `Steps` of K consecutive mini-batches (the last may hold
    fewer), and applies `limit` (limit_train_batches, counted in mini-batches) itself. It is
    resumable: its state is where training stands in the epoch (from the optimizer step count, one
    step per mini-batch), so a run resumed from a mid-epoch checkpoint continues with the next
    mini-batch instead of starting the epoch over.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        epoch_fn: Callable[[], int] | None = None,
        rank: int = 0,
        world_size: int = 1,
        steps_per_call: int = 1,
        limit: int | float | None = None,
        step_fn: Callable[[], int | None] | None = None,
        epoch_steps_fn: Callable[[], int] | None = None,
    ) -> None:
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.transform = transform
        self.epoch_fn = epoch_fn or (lambda: 0)
        self.rank = rank
        self.world_size = world_size
        self.steps_per_call = steps_per_call
        self.limit = limit
        self.step_fn = step_fn or (lambda: None)
        # mini-batches an epoch trains; with K = 1 Lightning may cut them (its limit_train_batches)
        self.epoch_steps_fn = epoch_steps_fn or (lambda: self.num_minibatches)
        self._resume: dict[str, Any] | None = None

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch. Under DDP, training shards are padded to equal length
        (every rank must take as many optimizer steps); evaluation shards are not, so each image is
        counted exactly once whatever the number of processes."""
        n = len(self.labels)
        if self.shuffle:
            return math.ceil(n / self.world_size)
        return len(range(self.rank, n, self.world_size))

    @property
    def num_minibatches(self) -> int:
        """Mini-batches (optimizer steps) per epoch on this rank, after `limit`."""
        return limited(math.ceil(self.num_samples / self.batch_size), self.limit)

    def __len__(self) -> int:
        """Lightning steps per epoch: mini-batches, or calls of `steps_per_call` mini-batches."""
        return math.ceil(self.num_minibatches / self.steps_per_call)

    def indices(self, epoch: int) -> torch.Tensor | None:
        """This rank's sample order for `epoch` (None: all samples in order, no copy)."""
        n = len(self.labels)
        if not self.shuffle and self.world_size == 1:
            return None
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(n, generator=gen)
        else:  # evaluation: every rank-th image, no padding
            return torch.arange(self.rank, n, self.world_size, device=self.images.device)
        total = self.num_samples * self.world_size
        if total > n:  # wrap around, as DistributedSampler does, so every rank runs as many steps
            order = torch.cat([order, order[: total - n]])
        return order[self.rank : total : self.world_size].to(self.images.device)

    def _batch(self, order: torch.Tensor | None, i: int) -> Batch:
        start = i * self.batch_size
        if order is None:
            x = self.images[start : start + self.batch_size]
            y = self.labels[start : start + self.batch_size]
        else:
            batch = order[start : start + self.batch_size]
            # index_select, not images[batch]: the same rows, gathered 2.3x faster on the CPU
            x, y = self.images.index_select(0, batch), self.labels.index_select(0, batch)
        return (self.transform(x) if self.transform else x), y

    def __iter__(self) -> Iterator[Batch | Steps]:
        epoch = self.epoch_fn()
        order = self.indices(epoch)
        n, k = self.num_minibatches, self.steps_per_call
        begin = self._resume_at(epoch)
        if k == 1:
            for i in range(begin, n):
                yield self._batch(order, i)
            return
        for s in range(begin, n, k):
            yield Steps(MiniBatches(functools.partial(self._batch, order), s, min(s + k, n)), s)

    # -- resumable (Lightning saves this in checkpoints and restores it) ------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch_fn(), "step": self.step_fn(), "minibatches": int(self.epoch_steps_fn())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = state

    def _resume_at(self, epoch: int) -> int:
        """The first mini-batch to train in `epoch`: past those done before a mid-epoch checkpoint."""
        state, self._resume = self._resume, None
        if not state or state.get("step") is None or state["epoch"] != epoch:
            return 0
        per_epoch = int(self.epoch_steps_fn())
        if state["minibatches"] != per_epoch:
            return 0
        done = int(state["step"]) - epoch * per_epoch
        return done if 0 < done < per_epoch else 0


class _Normalize:
    """uint8 storage: pad is done once, the float conversion per batch (picklable, unlike a lambda)."""

    def __init__(self, mean: float, std: float) -> None:
        self.mean, self.std = mean, std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div(255).sub(self.mean).div(self.std)


def _minibatches_done(trainer: pl.Trainer) -> int | None:
    """Mini-batches trained so far, when each took one optimizer step (no gradient accumulation)."""
    return trainer.global_step if trainer.accumulate_grad_batches == 1 else None


def fold_split(labels: torch.Tensor, folds: int, fold: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """k-fold cross-validation: (train, val) indices with fold `fold` of `folds` as validation.
    Stratified: each class's images, in an order seeded by `seed`, are dealt to the folds in turn,
    so every fold holds each class in proportion; the same split for every run's seed."""
    gen = torch.Generator().manual_seed(seed)
    which = torch.empty(len(labels), dtype=torch.long)
    offset = 0
    for c in torch.unique(labels).tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        which[members] = (torch.arange(len(members)) + offset) % folds
        offset += len(members)  # the next class starts where this one stopped: folds differ by <= 1
    val = (which == fold).nonzero().flatten()
    return (which != fold).nonzero().flatten(), val


class MNISTDataModule(pl.LightningDataModule):
    """A dataset of the MNIST family (`dataset`, core/datasets): its official train/test split,
    with `val_size` images held out of training (0: validate on the test set), or with `folds`
    the validation fold `fold` of a stratified k-fold split of the training images."""

    def __init__(
        self,
        root: str = "data",
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        val_size: int = 5000,
        split_seed: int = 0,
        pad: int = 2,
        mean: float = 0.5,
        std: float = 1.0,
        loader: str = "tensor",
        storage: str = "float32",
        shuffle_seed: int = 0,
        num_workers: int = 0,
        pin_memory: bool = False,
        download: bool = True,
        verify: bool = True,
        mirrors: list[str] | None = None,
        steps_per_call: int = 1,
        limit_train_batches: int | float | None = None,
        dataset: str = "mnist",
        num_classes: int = 10,
        checksums: dict[str, str] | None = None,
        folds: int | None = None,
        fold: int = 0,
    ) -> None:
        super().__init__()
        # values are checked with the config (mnist_exp.setup.validate), before a run starts
        self.root = Path(root).expanduser()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.val_size = val_size
        self.split_seed = split_seed
        self.pad, self.mean, self.std = pad, mean, std
        self.loader = loader
        self.storage = storage
        self.shuffle_seed = shuffle_seed
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.download = download
        self.verify = verify
        self.mirrors = list(mirrors) if mirrors else None
        self.data = preset(dataset)
        self.num_classes = num_classes  # the preset's (checked with the config)
        self.classes = self.data.classes  # what mnist-exp asks of a data module: names, in label order
        self.checksums = dict(checksums) if checksums else None
        self.folds, self.fold = folds, fold
        # the run's K as decided by setup.runtime.steps_per_call (the config's value is what was
        # asked); with K > 1 the loader applies limit_train_batches itself, in mini-batches
        self.steps_per_call = steps_per_call
        self.limit_train_batches = limit_train_batches
        self._sets: dict[str, tuple] = {}
        self._prepared = False

    # -- files ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Make sure the four IDX files are there (fetching them if allowed) and intact."""
        if self._prepared:
            return
        missing = idx.missing_files(self.root, self.data)
        if missing and self.download:
            download(self.root, missing, self.mirrors, self.data, self.checksums)
        idx.check_files(self.root, verify=self.verify, data=self.data, sums=self.checksums)
        self._prepared = True

    def _split_indices(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeded hold-out (or fold): the same validation images whatever the run's seed or loader."""
        n = len(labels)
        if self.folds:
            return fold_split(labels, self.folds, self.fold, self.split_seed)
        if not 0 <= self.val_size < n:
            raise UserError(
                f"data.val_size={self.val_size} must be between 0 and {n - 1} (the training set "
                f"has {n} images). Fix: e.g. data.val_size=5000, or 0 to validate on the test set."
            )
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        return order[self.val_size :], order[: self.val_size]

    # -- setup ---------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        """The sets a stage needs: testing alone (`mnist-exp-eval`) reads the test files only."""
        if "train" in self._sets or (stage == "test" and "test" in self._sets):
            return
        if self.loader == "tensor":
            self._setup_tensor(test_only=stage == "test")
        else:
            self._setup_torchvision()

    def split(self, train: bool) -> tuple[np.ndarray, np.ndarray]:
        """The training (or test) images, (N, 28, 28) uint8 upright, and their labels from 0: the
        one thing a data kind that shares this tensor path provides (core/folder_data)."""
        return idx.load_split(self.root, train=train, data=self.data)

    def _device(self) -> torch.device:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _setup_tensor(self, test_only: bool = False) -> None:
        device = self._device()

        def prepared(images: torch.Tensor) -> torch.Tensor:
            if self.storage == "uint8":
                x = images.unsqueeze(1)
                p = self.pad
                return (F.pad(x, (p, p, p, p), value=0) if p else x).contiguous().to(device)
            return normalize(images, self.pad, self.mean, self.std).to(device)

        test_x, test_y = map(torch.from_numpy, self.split(train=False))
        if test_only:
            self._sets["test"] = (prepared(test_x), test_y.to(device))
            return
        train_x, train_y = map(torch.from_numpy, self.split(train=True))
        train_idx, val_idx = self._split_indices(train_y)
        # split while still uint8, so the full float training set never exists twice
        self._sets["train"] = (prepared(train_x[train_idx]), train_y[train_idx].to(device))
        self._sets["test"] = (prepared(test_x), test_y.to(device))
        if len(val_idx):
            self._sets["val"] = (prepared(train_x[val_idx]), train_y[val_idx].to(device))
        else:
            self._sets["val"] = self._sets["test"]

    def _setup_torchvision(self) -> None:
        from torchvision import transforms
        from torchvision.datasets import MNIST

        for train in (True, False):  # the same structural checks as the tensor path
            idx.load_split(self.root, train=train)
        tf = transforms.Compose(
            [
                transforms.Pad(self.pad),
                transforms.ToTensor(),
                transforms.Normalize((self.mean,), (self.std,)),
            ]
        )
        full = MNIST(str(self.root), train=True, transform=tf, download=False)
        test = MNIST(str(self.root), train=False, transform=tf, download=False)
        train_idx, val_idx = self._split_indices(torch.as_tensor(full.targets))
        self._sets["train"] = (Subset(full, train_idx.tolist()),)
        self._sets["test"] = (test,)
        self._sets["val"] = (Subset(full, val_idx.tolist()),) if len(val_idx) else (test,)

    # -- loaders -------------------------------------------------------------------------------
    def _loader(self, split: str) -> TensorBatches | DataLoader:
        self.setup("test" if split == "test" else "fit")
        train = split == "train"
        batch = self.batch_size if train else self.eval_batch_size
        if self.loader == "torchvision":
            dataset: Dataset = self._sets[split][0]
            generator = torch.Generator().manual_seed(self.shuffle_seed) if train else None
            return DataLoader(
                dataset,
                batch_size=batch,
                shuffle=train,
                generator=generator,
                num_workers=self.num_workers,
                pin_memory=self.pin_memory,
                persistent_workers=self.num_workers > 0,
            )
        images, labels = self._sets[split]
        trainer = self.trainer
        k = self.steps_per_call if train else 1
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        return TensorBatches(
            images,
            labels,
            batch_size=batch,
            shuffle=train,
            seed=self.shuffle_seed,
            transform=_Normalize(self.mean, self.std) if self.storage == "uint8" else None,
            epoch_fn=(lambda: trainer.current_epoch) if trainer else None,
            rank=rank,
            world_size=world,
            steps_per_call=k,
            limit=self.limit_train_batches if train else None,
            step_fn=(lambda: _minibatches_done(trainer)) if trainer and train else None,
            epoch_steps_fn=(lambda: trainer.num_training_batches) if trainer and k == 1 else None,
        )

    def train_dataloader(self) -> TensorBatches | DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> TensorBatches | DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> TensorBatches | DataLoader:
        return self._loader("test")
