"""A plain PyTorch MNIST script: the other side of `seed_run.py` and `whole_epoch.py`.

Its own few lines: it imports neither mnist-exp nor Lightning. It reads the four IDX files, pads
and normalizes the images once in memory (as mnist-exp's default tensor loader does), and trains
with the seed's loop: a shuffled order per epoch, each mini-batch gathered with `index_select` (as
mnist-exp gathers it), forward, cross-entropy, backward, SGD step; after each epoch one evaluation
pass over the validation images (or the test images with --val-size 0, as the seed experiments
validate), in inference mode, 1,000 at a time. Deterministic mode as mnist-exp's default trainer.
It writes nothing: no checkpoint, no log file, no picture, no event file.

    python benchmarks/plain_mnist.py --root ../shared/data --model lenet --epochs 30 --val-size 0

Prints `epoch N end T` after each epoch (T: seconds since the script started), then the test
accuracy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

STARTED = time.perf_counter()


def load(root: Path, prefix: str, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    raw = root / "MNIST" / "raw"
    images = np.fromfile(raw / f"{prefix}-images-idx3-ubyte", dtype=np.uint8, offset=16)
    images = images.reshape(-1, 1, 28, 28)
    labels = np.fromfile(raw / f"{prefix}-labels-idx1-ubyte", dtype=np.uint8, offset=8)
    x = torch.from_numpy(images).float().div_(255)
    x = nn.functional.pad(x, (pad, pad, pad, pad)).sub_(0.5).div_(1.0)  # mean 0.5, std 1.0
    return x.contiguous(), torch.from_numpy(labels).long()


def network(model: str) -> nn.Module:
    if model == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(1024, 300), nn.ReLU(), nn.Linear(300, 10))
    lenet = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    return lenet.to(memory_format=torch.channels_last)  # as mnist-exp's default channels_last


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(y), 1000):
            correct += (net(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item()
    net.train()
    return correct / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--model", choices=["lenet", "mlp"], default="lenet")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--val-size", type=int, default=5000, help="0: evaluate on the test images")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # as mnist-exp sets it
    torch.manual_seed(0)
    train_x, train_y = load(args.root, "train", 2)
    test_x, test_y = load(args.root, "t10k", 2)
    order = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(0))
    held, kept = order[: args.val_size], order[args.val_size :]
    val_x, val_y = (train_x[held], train_y[held]) if args.val_size else (test_x, test_y)
    train_x, train_y = train_x[kept].contiguous(), train_y[kept]
    net = network(args.model)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(train_y), args.batch_size):
            rows = perm[i : i + args.batch_size]
            loss = loss_fn(net(train_x.index_select(0, rows)), train_y.index_select(0, rows))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        accuracy(net, val_x, val_y)
        print(f"epoch {epoch} end {time.perf_counter() - STARTED:.4f}", flush=True)
    print(f"test acc {100 * accuracy(net, test_x, test_y):.2f}")


if __name__ == "__main__":
    main()
