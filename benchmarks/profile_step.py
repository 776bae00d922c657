"""Where an mnist-exp training epoch spends its time beyond the plain loop: cProfile of (d) of
`epoch_time.py` (the in-memory loader, manual optimization), training only.

    python benchmarks/profile_step.py --model mlp --k 1      # one Lightning step per mini-batch
    python benchmarks/profile_step.py --model mlp --k 8      # 8 mini-batches per Lightning step

Runs one warm-up epoch, then profiles `--epochs` training epochs and prints the top entries by
own time (tottime) and by cumulative time, with the total per mini-batch. cProfile's own cost
inflates Python-heavy entries; compare the runs with each other, not with wall-clock figures.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
from pathlib import Path

import pytorch_lightning as pl
from harness import parser as harness_parser

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_exp.pipelines.run.train import train  # noqa: E402
from mnist_exp.setup.config import compose as compose_cfg  # noqa: E402


class Profile(pl.Callback):
    """cProfile from the second training epoch's start to the last epoch's last batch."""

    def __init__(self) -> None:
        self.profiler = cProfile.Profile()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            self.profiler.enable()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == trainer.max_epochs - 1:
            self.profiler.disable()


def main() -> None:
    parser = harness_parser(__doc__, rounds=None, baseline=False)
    parser.add_argument("--model", default="mlp", choices=["mlp", "lenet"])
    parser.add_argument("--k", type=int, default=1, help="data.steps_per_call")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", default="/tmp/mnist-exp-profile")
    args = parser.parse_args()
    cfg = compose_cfg(
        "config",
        [
            f"model={args.model}",
            f"data.root={args.root}",
            f"trainer.max_epochs={args.epochs + 1}",
            f"paths.output_dir={args.out}/{args.model}_k{args.k}",
            f"data.steps_per_call={args.k}",
            "data.val_size=0",
            "trainer.limit_val_batches=0",
            "test=false",
        ],
    )
    profile = Profile()
    train(cfg, extra_callbacks=[profile])
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile.profiler, stream=text).sort_stats(order).print_stats(args.top)
        print(f"--- {args.model}, K={args.k}, top {args.top} by {order} ---")
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:6000])


if __name__ == "__main__":
    main()
