"""The mean loss per image, as a torchmetrics Metric (so Lightning moves, syncs and checkpoints
it like the accuracy). torchmetrics' MeanMetric ignores its weights with nan_strategy="disable"
(the only strategy that lets a NaN through without a per-update check) and sums in the metric's
float dtype; this one weights every batch by its size and sums in float64, where adding per-batch
sums is exact in any grouping: one update per mini-batch or one per K of them give the same mean."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class LossMean(Metric):
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
