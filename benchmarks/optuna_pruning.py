"""What pruning saves: the same 20-trial Optuna search (same sampler seed) with the median pruner
and without, counting the epochs trained and the best val/acc found.

    python benchmarks/optuna_pruning.py [--trials 20] [--epochs 5] [--out benchmarks/out/optuna]

Each search is a real `mnist-exp-train hparams_search=optuna model=mlp` run (lr log-uniform 1e-4
to 0.3, batch size 32/64/128/256, momentum 0 to 0.95; TPE sampler seeded by `seed`). Prints a
Markdown table. Epoch counts and accuracies do not depend on the machine's speed.
"""

from __future__ import annotations

import time
from pathlib import Path

import optuna
from harness import parser as harness_parser
from harness import python
from optuna.trial import TrialState

from mnist_exp.records.history import read_history


def search(pruner: str, trials: int, epochs: int, out: Path, root: str) -> dict:
    sweep_dir = out / pruner
    args = [
        "hparams_search=optuna",
        "model=mlp",
        f"trainer.max_epochs={epochs}",
        "test=false",
        f"data.root={root}",
    ]
    args += ["callbacks.feature_maps=null", "callbacks.progress_bar.refresh_rate=1000"]
    args += [
        f"hydra/sweeper/pruner={pruner}",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    start = time.perf_counter()
    python("mnist_exp.cli.train", args, Path.cwd())
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="mnist_exp", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")
    trained = sum(len(read_history(p)) for p in sweep_dir.glob("*/metrics.csv"))
    pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
    return {"pruner": pruner, "epochs": trained, "pruned": pruned, "best": study.best_value, "wall": wall}


def main() -> None:
    parser = harness_parser(__doc__, rounds=None, baseline=False)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/optuna"))
    args = parser.parse_args()
    root = str(Path(args.root).resolve())
    rows = [search(p, args.trials, args.epochs, args.out, root) for p in ("none", "median")]
    total = args.trials * args.epochs
    print(f"| pruner | trials | epochs trained (of {total}) | pruned trials | best val/acc | wall (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        best = f"{100 * r['best']:.2f}%"
        print(f"| {r['pruner']} | {args.trials} | {r['epochs']} | {r['pruned']} | {best} | {r['wall']:.0f} |")


if __name__ == "__main__":
    main()
