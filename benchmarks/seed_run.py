"""A whole `mnist-exp-train experiment=seed_lenet` process against a plain PyTorch script doing the
same training, in interleaved pairs of fresh processes.

    python benchmarks/seed_run.py [--experiment seed_mlp] [--rounds 5] [--baseline <commit>]

mnist-exp: start-up, 30 epochs, after each a validation pass on the 10,000 test images
(val_size=0, as the seed experiments), the test of the last checkpoint; it writes everything a run
writes: last.ckpt and the best epoch's checkpoint every epoch, metrics.csv and the TensorBoard
events every epoch, accuracy.png at the end, the test's confusion matrix and mistakes, LeNet's
feature maps, status.json, train.log.
plain (benchmarks/plain_mnist.py, its own few lines, neither mnist-exp nor Lightning imported):
start-up, loading MNIST, 30 epochs of the seed's loop gathering rows with `index_select` as
mnist-exp does, each followed by the same evaluation pass, then the test pass; it writes nothing.
Both are deterministic (the project's default). Each round runs both (and mnist-exp at --baseline,
a git worktree of that commit), the order alternating (benchmarks/harness.py); prints each round's
times and ratio, then the median ratio and its spread.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from harness import REPO, checkout, interleaved, median_ratio, parser, python, table

PLAIN = REPO / "benchmarks" / "plain_mnist.py"


def whole(module_or_script: str, args: list[str], cwd: Path, code: Path = REPO) -> float:
    """Seconds of one whole process, start-up to exit."""
    start = time.perf_counter()
    python(module_or_script, args, cwd, code)
    return time.perf_counter() - start


def main() -> None:
    parse = parser(__doc__, rounds=5)
    parse.add_argument("--experiment", default="seed_lenet", choices=["seed_lenet", "seed_mlp"])
    parse.add_argument("--epochs", type=int, default=30)
    parse.add_argument("--out", type=Path, default=Path("/tmp/mnist-exp-seed-run"))
    parse.add_argument("overrides", nargs="*", help="for the mnist-exp run, e.g. trainer=gpu")
    args = parse.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = "lenet" if args.experiment == "seed_lenet" else "mlp"
    root = str(Path(args.root).resolve())
    plain = ["--root", root, "--model", model, "--epochs", str(args.epochs), "--val-size", "0"]

    def ours(code: Path = REPO) -> float:
        run_dir = args.out / f"{args.experiment}_{time.strftime('%H-%M-%S')}_{time.perf_counter_ns()}"
        line = [f"experiment={args.experiment}", f"data.root={root}", f"trainer.max_epochs={args.epochs}"]
        return whole(
            "mnist_exp.cli.train", [*line, f"hydra.run.dir={run_dir}", *args.overrides], args.out, code
        )

    sides = {"mnist-exp": ours, "plain": lambda: whole(str(PLAIN), plain, args.out)}
    if args.baseline:
        old = checkout(args.baseline)
        sides["baseline"] = lambda: ours(old)
    took = interleaved(args.rounds, sides)
    rows = [
        (r + 1, *(f"{took[name][r]:.1f}" for name in sides), f"{took['mnist-exp'][r] / took['plain'][r]:.3f}")
        for r in range(args.rounds)
    ]
    ratios = [a / b for a, b in zip(took["mnist-exp"], took["plain"], strict=True)]
    rows.append(
        (
            "median",
            *(f"{statistics.median(took[name]):.1f}" for name in sides),
            f"**{median_ratio(took['mnist-exp'], took['plain']):.3f}**",
        )
    )
    print(table(["round", *(f"{name} (s)" for name in sides), "mnist-exp/plain"], rows))
    print(f"\n{args.experiment}, {args.epochs} epochs: ratio min {min(ratios):.3f}, max {max(ratios):.3f}")


if __name__ == "__main__":
    main()
