"""The LightningModule: cross-entropy training of any classifier, one torchmetrics Accuracy per stage."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from pytorch_lightning.plugins.precision import MixedPrecision, Precision
from pytorch_lightning.profilers import PassThroughProfiler
from pytorch_lightning.strategies import SingleDeviceStrategy
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from mnist_exp.core.ckpt_schema import TRAIN_METRICS, CheckpointRecord, default_classes
from mnist_exp.core.data import Batch, Steps
from mnist_exp.core.errors import Diverged, UserError
from mnist_exp.core.metrics import BestValue, LossMean
from mnist_exp.core.models import model_config
from mnist_exp.core.netbuild import build_net
from mnist_exp.core.netconfig import checked_net_config

Trained = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a mini-batch's loss, logits (detached), labels
STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def direct_steps_allowed(trainer: pl.Trainer, module: pl.LightningModule) -> bool:
    """Whether a manual step may call backward and the optimizer directly. Lightning's per-step
    dispatch (the hooks above, the precision plugin, the profiler) measured 10-20% of an MLP epoch
    on the CPU; it adds nothing when no callback or module listens to those hooks, on one device
    (DDP's gradient sync is prepared in Lightning's backward), unprofiled, in 32-bit precision or
    in bf16-mixed: Lightning's training step then runs under autocast (the direct step too), and
    its bf16 backward and step are plain ones (no gradient scaler; fp16-mixed has one)."""

    def listens(obj: object, base: type) -> bool:
        return any(getattr(type(obj), hook) is not getattr(base, hook) for hook in STEP_HOOKS)

    listened = listens(module, pl.LightningModule) or any(listens(c, pl.Callback) for c in trainer.callbacks)
    return (
        not listened
        and type(trainer.strategy) is SingleDeviceStrategy
        and _plain_precision(trainer.precision_plugin)
        and isinstance(trainer.profiler, PassThroughProfiler)
    )


def _plain_precision(plugin: Precision) -> bool:
    """32-bit, or mixed precision without a gradient scaler (bf16-mixed)."""
    return type(plugin) is Precision or (type(plugin) is MixedPrecision and plugin.scaler is None)


class MNISTClassifier(pl.LightningModule):
    """Wraps an `nn.Module`. From the `module` config group, the network, optimizer and scheduler
    arrive as their configs (`_recursive_: false`) and are built here: the network by
    core/netbuild (the one way a network is built, from a config or a checkpoint), the optimizer
    and scheduler as Hydra partials.

    Metrics are accumulated on the device and read once per epoch, so no training step waits on
    a host sync. The optimization is written out (Lightning's manual optimization): measured about
    20% faster per MLP epoch on the CPU than Lightning's closure-based automatic loop, with the same
    math. The hyperparameters hold the network's whole config (`net_config`, as composed), so a
    checkpoint alone rebuilds it.
    """

    def __init__(
        self,
        net: nn.Module | Mapping[str, Any],
        optimizer: Callable[..., torch.optim.Optimizer] | Mapping[str, Any] | None,
        scheduler: Callable[..., Any] | Mapping[str, Any] | None = None,
        num_classes: int = 10,
        data_config: dict | None = None,
        check_finite: bool = True,
        channels_last: bool = True,
        max_loss: float | None = 100.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        if isinstance(net, Mapping):  # from the config (conf/module): recorded as it was written
            self.hparams["net_config"] = checked_net_config(dict(net), "model")
            net = build_net(self.hparams["net_config"])
        else:  # a network built by hand (tests, benchmarks): its class and `init_args`, if it has them
            self.hparams["net_config"] = model_config(net)
        # channels_last: measured about 20% faster for LeNet's convolutions on this CPU (oneDNN)
        self.net = net.to(memory_format=torch.channels_last) if channels_last else net
        self.optimizer_factory = instantiate(optimizer) if isinstance(optimizer, Mapping) else optimizer
        self.scheduler_factory = instantiate(scheduler) if isinstance(scheduler, Mapping) else scheduler
        self.criterion = nn.CrossEntropyLoss()
        kw = {"num_classes": num_classes, "validate_args": False}
        self.train_acc = MulticlassAccuracy(average="micro", **kw)
        self.val_acc = MulticlassAccuracy(average="micro", **kw)
        self.test_acc = MulticlassAccuracy(average="micro", **kw)
        self.train_loss = LossMean()  # per image, summed in float64: see core/metrics.py
        self.val_loss = LossMean()
        self.test_loss = LossMean()
        self.val_acc_best = BestValue()  # float32 under bf16-true too
        self.val_acc_best.persistent(True)  # in checkpoints: a resumed run keeps its best so far
        # set per fit in on_train_start: the optimizer (Lightning's wrapper, torch's own) when a
        # step may call it directly (direct_steps_allowed), and the divergence check's settings
        self._direct: tuple[Any, torch.optim.Optimizer] | None = None
        self._check_every = 1
        self._convert: Any = None  # the precision's input cast (64-true, bf16-true), else None

    @classmethod
    def from_record(cls, record: CheckpointRecord, net: nn.Module) -> MNISTClassifier:
        """The trained model from a checked checkpoint (core/ckpt_schema) and the network mnist-exp
        built from its config: only checked values reach the constructor, and the weights are
        loaded strictly (every parameter the network has, nothing else)."""
        model = cls(
            net=net,
            optimizer=None,
            num_classes=record.num_classes,
            data_config=asdict(record.data),
            check_finite=record.check_finite,
            channels_last=record.channels_last,
            max_loss=record.max_loss,
        )
        model.hparams["net_config"] = record.net_config
        model.load_state_dict(record.state_dict)
        return model.eval()

    def setup(self, stage: str) -> None:
        """A fit records what the data module says of its data (docs/your-own-data.md): its class
        names (`classes`, in label order) and how a 28x28 image becomes an input (`pad`, `mean`,
        `std`), so every checkpoint names its outputs and predict prepares pictures as training did;
        a data module of the user's is named by its class. Evaluation keeps what the checkpoint has."""
        datamodule = getattr(self.trainer, "datamodule", None)
        record = self.hparams.get("data_config")
        if stage != "fit" or datamodule is None or not isinstance(record, dict):
            return
        classes = getattr(datamodule, "classes", None)
        if classes is not None:
            if len(classes) != self.hparams.num_classes:
                raise UserError(
                    f"{type(datamodule).__name__}.classes names {len(classes)} classes, but the model has "
                    f"{self.hparams.num_classes} outputs. Fix: data.num_classes={len(classes)}."
                )
            record["classes"] = [str(c) for c in classes]
        for key in ("pad", "mean", "std"):
            if getattr(datamodule, key, None) is not None:
                record[key] = getattr(datamodule, key)
        if record.get("dataset") is None:
            record["dataset"] = f"{type(datamodule).__module__}.{type(datamodule).__qualname__}"

    @property
    def class_names(self) -> list[str]:
        """The name of each output (digits for a model that records none)."""
        names = (self.hparams.get("data_config") or {}).get("classes")
        return [str(c) for c in names] if names else default_classes(self.hparams.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(
        self, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self.net(x)
        return self.criterion(logits, y), logits, y

    @property
    def automatic_optimization(self) -> bool:
        """Manual optimization (the faster loop) unless the trainer asks for gradient clipping or
        accumulation: Lightning implements `gradient_clip_val`, `gradient_clip_algorithm` and
        `accumulate_grad_batches` in its automatic loop, so they then work exactly as documented."""
        try:
            trainer = self.trainer
        except RuntimeError:  # not attached to a Trainer (yet): a model loaded for evaluation
            return False
        return bool(trainer.gradient_clip_val) or trainer.accumulate_grad_batches > 1

    @automatic_optimization.setter
    def automatic_optimization(self, value: bool) -> None:
        raise AttributeError("chosen from the trainer's gradient_clip_val and accumulate_grad_batches")

    def _check_loss(self, loss: torch.Tensor, index: int) -> None:
        """Stop at once when the loss is not finite or above `max_loss` (a NaN poisons every later
        step; a loss of 1e12 is a diverged run that would still end 'ok'). On a GPU checked every
        50 mini-batches, to avoid a host sync per step. `index`: the mini-batch's index in the epoch."""
        if not self._check_every or index % self._check_every:
            return
        value = loss.item()  # one read, compared in Python: cheaper than tensor comparisons
        limit = self.hparams.get("max_loss")
        if math.isfinite(value) and (limit is None or value <= limit):
            return
        lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        raise Diverged(
            f"Training diverged: the loss became {value:.4g} at epoch {self.current_epoch}, batch "
            f"{index} (the limit is module.max_loss={limit}; a finite loss above it counts too). "
            f"Fix: a smaller optimizer.lr (now {lr})."
        )

    def on_train_start(self) -> None:
        """What every mini-batch would otherwise look up again (a few µs each, 1-2% of an MLP step)."""
        direct = not self.automatic_optimization and direct_steps_allowed(self.trainer, self)
        wrapper = self.optimizers() if direct else None
        self._direct = (wrapper, wrapper.optimizer) if wrapper is not None else None
        self._check_every = (1 if self.device.type == "cpu" else 50) if self.hparams.check_finite else 0
        plugin = self.trainer.precision_plugin  # Lightning casts the batches it sees, not Steps' ones
        overrides = type(plugin).convert_input is not Precision.convert_input
        self._convert = plugin.convert_input if overrides else None

    def _train_on(self, batch: Batch, index: int) -> Trained:
        """One mini-batch: loss, divergence check, and (manual optimization) one optimizer step."""
        loss, logits, y = self._step(batch)
        self._check_loss(loss, index)
        if self._direct is not None:  # what Lightning's backward and step do here, without dispatch
            wrapper, optimizer = self._direct
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            wrapper._on_before_step()  # Lightning's own step accounting (global_step)
            optimizer.step()
            wrapper._on_after_step()
        elif not self.automatic_optimization:
            optimizer = self.optimizers()
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        return loss, logits.detach(), y

    def _update_train_metrics(self, trained: list[Trained]) -> None:
        """Once per Lightning step, over all its mini-batches (a torchmetrics update costs about
        a fifth of an MLP step). The loss sum runs in float64, where adding per-batch sums is exact
        in any grouping, so K mini-batches per step report the same mean as one; counts are exact."""
        losses = torch.stack([loss.detach() for loss, _, _ in trained])
        self.train_loss.update(losses, torch.tensor([len(y) for *_, y in trained]))
        logits = torch.cat([logits for _, logits, _ in trained])
        self.train_acc.update(logits, torch.cat([y for *_, y in trained]))

    def training_step(self, batch: Batch | Steps, batch_idx: int) -> torch.Tensor | None:
        if not isinstance(batch, Steps):
            trained = self._train_on(batch, batch_idx)
            self._update_train_metrics([trained])
            return trained[0]  # the loss: Lightning's automatic loop steps on it
        if self.automatic_optimization:
            raise RuntimeError("Steps batches need manual optimization (setup.runtime.steps_per_call)")
        max_steps, done = self.trainer.max_steps, []
        for i, minibatch in enumerate(batch.batches):
            if 0 <= max_steps <= self.trainer.global_step:  # max_steps counts optimizer steps
                break
            if self._convert is not None:
                minibatch = self._convert(minibatch)
            done.append(self._train_on(minibatch, batch.start + i))
            batch.trained = i + 1
        self._update_train_metrics(done)
        return None

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", self.train_loss.compute(), sync_dist=True)
        self.log("train/acc", self.train_acc.compute(), sync_dist=True)
        self.train_loss.reset()
        self.train_acc.reset()
        for callback in self.trainer.callbacks:  # per-epoch history, now that train and val are logged
            if hasattr(callback, "on_epoch_metrics"):
                callback.on_epoch_metrics(self.trainer, self)
        scheduler = self.lr_schedulers()
        if scheduler is not None and not self.automatic_optimization:  # Lightning steps it otherwise
            scheduler.step()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint written mid-epoch also keeps the epoch's running train loss and accuracy,
        so a run resumed from it reports the same epoch means as one that was never stopped."""
        if self.trainer.is_last_batch:
            return  # epoch end: the next epoch starts its means afresh
        checkpoint["mnist_exp_train_metrics"] = {
            name: {"state": dict(metric.metric_state), "updates": metric.update_count}
            for name, metric in (("train_loss", self.train_loss), ("train_acc", self.train_acc))
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The saved sums are merged into fresh metrics (torchmetrics' public merge_state: every
        state of these metrics is a sum), so the epoch's means continue where they stopped."""
        for name, saved in checkpoint.get("mnist_exp_train_metrics", {}).items():
            if name not in TRAIN_METRICS:  # a name from the file never picks another attribute
                continue
            metric = getattr(self, name)
            metric.reset()
            metric.merge_state({key: value.to(metric.device) for key, value in saved["state"].items()})

    def on_validation_epoch_start(self) -> None:
        self.val_loss.reset()
        self.val_acc.reset()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        loss, logits, y = self._step(batch)
        self.val_loss.update(loss, torch.tensor([len(y)]))
        self.val_acc.update(logits, y)

    def on_validation_epoch_end(self) -> None:
        acc = self.val_acc.compute()
        self.log("val/loss", self.val_loss.compute(), sync_dist=True)
        self.log("val/acc", acc, sync_dist=True, prog_bar=True)
        if not self.trainer.sanity_checking:
            self.val_acc_best.update(acc)
            self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True)

    def on_test_epoch_start(self) -> None:
        self.test_loss.reset()
        self.test_acc.reset()

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        loss, logits, y = self._step(batch)
        self.test_loss.update(loss, torch.tensor([len(y)]))
        self.test_acc.update(logits, y)
        return {"preds": logits.argmax(dim=1)}  # for the confusion matrix and mistakes callback

    def on_test_epoch_end(self) -> None:
        self.log("test/loss", self.test_loss.compute(), sync_dist=True)
        self.log("test/acc", self.test_acc.compute(), sync_dist=True)

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise RuntimeError("This model was loaded for evaluation: it has no optimizer.")
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
