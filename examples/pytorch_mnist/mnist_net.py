"""The CNN of pytorch/examples' mnist/main.py, as a user's own model for mnist-exp.

Two 3x3 convolutions (32 and 64 maps) on the 28x28 image, a 2x2 max-pool, dropout, a 128-unit
hidden layer, dropout, 10 outputs: 1,199,882 parameters. It returns class scores (logits):
mnist-exp's cross-entropy is the same loss as pytorch/examples' log_softmax followed by nll_loss.
Written for this example; nothing here imports mnist-exp.
"""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """Every constructor argument is a plain value, so the config that built it (conf/model/net.yaml)
    is what a checkpoint records, and eval, predict and resume rebuild it from the checkpoint."""

    def __init__(
        self, hidden: int = 128, dropout1: float = 0.25, dropout2: float = 0.5, num_classes: int = 10
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)  # 28 -> 26
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)  # 26 -> 24, pooled to 12
        self.features = nn.Sequential(
            self.conv1, nn.ReLU(), self.conv2, nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(dropout1)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 12 * 12, hidden),
            nn.ReLU(),
            nn.Dropout(dropout2),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
