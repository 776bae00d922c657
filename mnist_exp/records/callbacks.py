"""Callbacks that make a run show what it did: per-epoch history (metrics.csv, accuracy.png)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.trainer.states import TrainerFn

from mnist_exp.core.data import Steps, first_batch
from mnist_exp.core.errors import UserError
from mnist_exp.core.rank_zero import is_rank_zero
from mnist_exp.records.figures import (
    accuracy_figure,
    confusion_figure,
    feature_grid_figure,
    mistakes_figure,
    publish,
    save_sample_png,
)
from mnist_exp.records.history import HISTORY_KEYS, read_history, write_history

log = logging.getLogger(__name__)


class EpochHistory(pl.Callback):
    """After every epoch, append its metrics to `metrics.csv`; draw `accuracy.png` when the fit
    ends or stops (drawing it every epoch cost 0.15 s, a seventh of an MLP epoch).

    The file is complete after each epoch, so a stopped run still leaves its history. The module
    calls `on_epoch_metrics` once the epoch's train and val metrics are both logged (Lightning runs
    validation before the training epoch ends, and callbacks' epoch-end hooks before the module's).
    """

    def __init__(
        self, dirpath: str, filename: str = "metrics.csv", plot: str | None = "accuracy.png"
    ) -> None:
        self.dirpath = Path(dirpath)
        self.filename = filename
        self.plot = plot
        self.rows: list[dict[str, float]] = []

    @property
    def path(self) -> Path:
        return self.dirpath / self.filename

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a resumed run continues its own history: keep rows of epochs before the resume point
        # (on_train_start: the checkpoint's epoch is restored by then, unlike in on_fit_start)
        self.rows = [r for r in read_history(self.path) if r["epoch"] < trainer.current_epoch]

    def on_epoch_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not is_rank_zero():
            return
        metrics = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch)}
        row.update({k: float(metrics[k]) for k in HISTORY_KEYS if k in metrics})
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else 0.0
        self.rows.append(row)
        write_history(self.path, self.rows)
        shown = "  ".join(
            f"{k} {100 * row[k]:.2f}%" if k.endswith("acc") else f"{k} {row[k]:.4f}"
            for k in HISTORY_KEYS
            if k in row
        )
        log.info("epoch %d: %s  lr %g", trainer.current_epoch, shown, row["lr"])

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.draw(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self.draw(trainer)  # a stopped, diverged or failed run shows its epochs too

    def draw(self, trainer: pl.Trainer) -> None:
        """accuracy.png and its TensorBoard image, from every epoch so far."""
        if not self.plot or not self.rows or not is_rank_zero():
            return
        figure = accuracy_figure(self.rows)
        publish(trainer, figure, self.dirpath / self.plot, "accuracy", int(self.rows[-1]["epoch"]))


class LearningRate(pl.Callback):
    """The learning rate as the metric `lr`, for every logger. Lightning's LearningRateMonitor names
    it after the optimizer's class (`lr-SGD`, `lr-Adam`), so runs with different optimizers showed
    it under different names. Read at the start of each epoch (or step), as the scheduler set it."""

    def __init__(self, logging_interval: str = "epoch") -> None:
        if logging_interval not in ("epoch", "step"):
            raise UserError(
                f"callbacks.lr_monitor.logging_interval={logging_interval!r} is unknown. Fix: epoch or step."
            )
        self.per_step = logging_interval == "step"

    def _lr(self, trainer: pl.Trainer) -> float | None:
        return float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.per_step and (lr := self._lr(trainer)) is not None:
            pl_module.log("lr", lr, on_step=False, on_epoch=True, sync_dist=True)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_: object) -> None:
        if self.per_step and (lr := self._lr(trainer)) is not None:
            pl_module.log("lr", lr, on_step=True, on_epoch=False, rank_zero_only=True)


class FeatureMapDump(pl.Callback):
    """Dump a layer's activations (default: LeNet's ReLU(conv2), the seed's C3 maps) as tensor and PNGs.

    `source="train"` takes the first training batch of the epoch, as the seed does; `source="test"`
    a fixed set of test images, so that epochs compare. (The option is `source` since `from` is a
    Python keyword.) `every_n_epochs=None` dumps the last epoch only. A model without the layer
    (the MLP) gets one warning and no dump.
    """

    def __init__(
        self,
        dirpath: str,
        layer: str = "conv2",
        every_n_epochs: int | None = None,
        num_samples: int | None = 16,
        source: str = "train",
    ) -> None:
        if source not in ("train", "test"):
            raise UserError(f"callbacks.feature_maps.source '{source}' is unknown. Fix: train or test.")
        self.dirpath = Path(dirpath)
        self.layer = layer
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.source = source
        self._batch: tuple | None = None
        self._disabled = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._module(pl_module) is None and not self._uses_feature_map(pl_module):
            log.warning(
                "feature maps: %s has no layer '%s'; no activations are dumped.",
                type(pl_module.net).__name__,
                self.layer,
            )
            self._disabled = True

    def _uses_feature_map(self, pl_module: pl.LightningModule) -> bool:
        return self.layer == "conv2" and hasattr(pl_module.net, "feature_map")

    def _module(self, pl_module: pl.LightningModule):
        return dict(pl_module.net.named_modules()).get(self.layer)

    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch
        if self.every_n_epochs:
            return (epoch + 1) % self.every_n_epochs == 0 or epoch + 1 == trainer.max_epochs
        return epoch + 1 == trainer.max_epochs

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if batch_idx == 0 and self.source == "train" and not self._disabled and self._due(trainer):
            x, y = first_batch(batch)
            n = self.num_samples or len(y)
            self._batch = (x[:n].detach().clone(), y[:n].detach().clone())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._disabled or not self._due(trainer) or not is_rank_zero():
            return
        if self.source == "test":
            x, y = next(iter(trainer.datamodule.test_dataloader()))
            n = self.num_samples or len(y)
            batch = (x[:n].to(pl_module.device), y[:n])
        elif self._batch is not None:
            batch = self._batch
        else:
            return
        self.dump(trainer, pl_module, *batch)
        self._batch = None

    def activations(self, pl_module: pl.LightningModule, x):
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                if self._uses_feature_map(pl_module):
                    return pl_module.net.feature_map(x)
                captured = []
                handle = self._module(pl_module).register_forward_hook(
                    lambda _m, _i, out: captured.append(out.detach())
                )
                try:
                    pl_module.net(x)
                finally:
                    handle.remove()
                return captured[0]
        finally:
            pl_module.train(was_training)

    def dump(self, trainer: pl.Trainer, pl_module: pl.LightningModule, x, y) -> None:
        cast = trainer.precision_plugin.convert_input(x)  # the network's dtype (64-true, bf16-true)
        acts = self.activations(pl_module, cast).float().cpu().contiguous()
        folder = self.dirpath / f"epoch_{trainer.current_epoch:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "activations": acts,
                "inputs": x.float().cpu().contiguous(),
                "labels": y.cpu(),
                "layer": self.layer,
                "epoch": trainer.current_epoch,
            },
            folder / "activations.pt",
        )
        summed = acts.sum(dim=1) if acts.dim() == 4 else acts
        for i, image in enumerate(summed):
            save_sample_png(image.numpy(), folder / f"sample_{i}.png")
        figure = feature_grid_figure(acts, y.cpu().tolist(), self.layer)
        publish(
            trainer, figure, folder / "grid.png", f"feature_maps/{self.layer}", trainer.current_epoch, dpi=80
        )


class TestReport(pl.Callback):
    """After testing: `confusion_matrix.png` (counts and normalized) and `mistakes.png` (up to 64
    misclassified test images with true/predicted label), both also in TensorBoard."""

    def __init__(self, dirpath: str, max_mistakes: int = 64) -> None:
        self.dirpath = Path(dirpath)
        self.max_mistakes = max_mistakes

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The classes are the model's: its outputs, named as its data named them."""
        names = getattr(pl_module, "class_names", None)
        self.classes = list(names) if names else [str(i) for i in range(pl_module.hparams.num_classes)]
        self.num_classes = len(self.classes)
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        self.mistakes: list[tuple] = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        x, y = batch
        preds = outputs["preds"].cpu()
        y = y.cpu()
        self.confusion += torch.bincount(y * self.num_classes + preds, minlength=self.num_classes**2).view(
            self.num_classes, self.num_classes
        )
        wrong = (preds != y).nonzero().flatten()
        room = self.max_mistakes - len(self.mistakes)
        for i in wrong[:room].tolist():
            self.mistakes.append((x[i, 0].float().cpu(), int(y[i]), int(preds[i])))

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:  # DDP: every rank saw its own shard; count them all
            self.confusion = trainer.strategy.reduce(self.confusion, reduce_op="sum").long().cpu()
        if not is_rank_zero():
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        step = trainer.global_step
        figure = confusion_figure(self.confusion, self.classes)
        publish(trainer, figure, self.dirpath / "confusion_matrix.png", "test/confusion_matrix", step)
        figure = mistakes_figure(self.mistakes, self.classes)
        publish(trainer, figure, self.dirpath / "mistakes.png", "test/mistakes", step)


def last_file(callback: ModelCheckpoint) -> Path | None:
    """Where a ModelCheckpoint writes `last.ckpt` (None without a folder)."""
    if not callback.dirpath:
        return None
    return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"


class EpochCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, with `last.ckpt` holding the end of every epoch, as its docs
    promise and as Lightning did before 2.6. Since 2.6 it rewrites last.ckpt only at a step where
    it also saved a top-k checkpoint: once val/acc stops improving, last.ckpt stays at the best
    epoch, so `test_ckpt=last` tested the best epoch (chosen on the test set itself in the seed
    experiments) and a resume repeated epochs. Where Lightning left last.ckpt as it was at an
    epoch's end (the file unchanged: same inode and time), it is written here, with public calls,
    at the point Lightning itself saves an epoch (its train-epoch end, after the validation)."""

    _epoch_written: int | None = None  # the step whose epoch end last.ckpt holds

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        before = self._stamp()
        super().on_train_epoch_end(trainer, pl_module)
        self._keep_last(trainer, before)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning writes last.ckpt once more at the end of a fit that saved no top-k checkpoint
        (a resumed run whose val/acc did not improve), stamped one epoch later than the same
        weights at the epoch's end: not when last.ckpt already holds the final step."""
        if self._epoch_written != trainer.global_step:
            super().on_train_end(trainer, pl_module)

    def _stamp(self) -> tuple[int, int] | None:
        path = last_file(self)
        try:
            info = path.stat() if path else None
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns) if info else None

    def _keep_last(self, trainer: pl.Trainer, before: tuple[int, int] | None) -> None:
        path = last_file(self)
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
        if not self.save_last or path is None or not fitting or trainer.fast_dev_run:
            return
        unchanged = self._stamp() == before and self._epoch_written != trainer.global_step
        # rank 0 wrote the file and has seen its own writes; another rank may stat it in the middle of
        # one and decide otherwise, skipping a collective (the ranks then wait on different ones, and
        # a DDP job failed with gloo's "Connection closed by peer"): every rank follows rank 0
        if trainer.strategy.broadcast(unchanged, src=0):
            trainer.save_checkpoint(path)  # every rank takes part; rank 0 writes
            self.last_model_path = str(path)
        self._epoch_written = trainer.global_step


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write a checkpoint to a temporary file, flush it to the disk, then rename it over the old one.

    A kill in the middle of a write leaves the previous `last.ckpt` intact and loadable; the fsync
    before the rename (and of the folder after it) keeps a power loss or a node crash from leaving
    a renamed but empty file, which journaling file systems allow without it.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        super().save_checkpoint(checkpoint, tmp, storage_options)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's contents to the disk (a folder: the names it holds)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StepProgressBar(TQDMProgressBar):
    """Lightning's progress bar, counting mini-batches (optimizer steps) when one Lightning step
    trains several (`data.steps_per_call`): the bar reads 469/469 per epoch whatever K is."""

    @property
    def total_train_batches(self) -> int | float:
        loader = self.trainer.train_dataloader
        steps = getattr(loader, "num_minibatches", None)
        return steps if getattr(loader, "steps_per_call", 1) > 1 else super().total_train_batches

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not isinstance(batch, Steps):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        bar = self.train_progress_bar
        done = batch.start + batch.trained
        if bar is None or not self.is_enabled:
            return
        if done // self.refresh_rate > batch.start // self.refresh_rate or done == bar.total:
            bar.n = done  # tqdm's own counter, then one redraw
            bar.refresh()
            bar.set_postfix(self.get_metrics(trainer, pl_module))
