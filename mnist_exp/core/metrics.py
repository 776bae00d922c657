"""The mean loss per image, as a torchmetrics Metric (so Lightning moves, syncs and checkpoints
it like the accuracy). torchmetrics' MeanMetric ignores its weights with nan_strategy="disable"
(the only strategy that lets a NaN through without a per-update check) and sums in the metric's
float dtype; this one weights every batch by its size and sums in float64, where adding per-batch
sums is exact in any grouping: one update per mini-batch or one per K of them give the same mean."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchmetrics import MaxMetric, Metric


class FixedDtype(Metric):
    """States that keep their dtype when the network is cast: torchmetrics casts them with the
    module, so under `trainer.precision=bf16-true` (or 16-true) a float64 loss sum became a bf16
    one (a mean 1% off, and in float16 an epoch's sum overflows) and the best accuracy was rounded
    to bf16. The device still follows the module."""

    def _apply(self, fn: Callable, exclude_state: Sequence[str] = "") -> nn.Module:
        dtypes = {k: v.dtype for k, v in self._defaults.items() if isinstance(v, torch.Tensor)}
        this = super()._apply(fn, exclude_state)
        for key, dtype in dtypes.items():
            this._defaults[key] = this._defaults[key].to(dtype)
            setattr(this, key, getattr(this, key).to(dtype))
        return this


class BestValue(FixedDtype, MaxMetric):
    """The maximum so far (val/acc_best), in float32 whatever the network's dtype."""


class LossMean(FixedDtype):
    """Mean of per-batch losses weighted by batch size; NaN propagates (divergence shows)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, losses: torch.Tensor, sizes: torch.Tensor) -> None:
        """`losses`: one mean loss per batch; `sizes`: their numbers of images."""
        sizes = sizes.to(device=self.total.device, dtype=torch.float64)
        self.total += (losses.detach().to(torch.float64).reshape(-1) * sizes).sum()
        self.count += sizes.sum()

    def compute(self) -> torch.Tensor:
        return self.total / self.count
