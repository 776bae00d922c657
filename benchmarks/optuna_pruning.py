"""What pruning saves: the same 20-trial Optuna search (same sampler seed) with the median pruner
and without, counting the epochs trained and the best val/acc found.

    python benchmarks/optuna_pruning.py [--trials 20] [--epochs 5] [--out benchmarks/out/optuna]

Each search is a real `mnist-exp-train hparams_search=optuna model=mlp` run (lr log-uniform 1e-4
to 0.3, batch size 32/64/128/256, momentum 0 to 0.95; TPE sampler seeded by `seed`). Prints a
Markdown table. Epoch counts and accuracies do not depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from mnist_exp.records.history import read_history


def search(pruner: str, trials: int, epochs: int, out: Path) -> dict:
    sweep_dir = out / pruner
    args = ["hparams_search=optuna", "model=mlp", f"trainer.max_epochs={epochs}", "test=false"]
    args += ["callbacks.feature_maps=null", "callbacks.progress_bar.refresh_rate=1000"]
    args += [
        f"hydra/sweeper/pruner={pruner}",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mnist_exp.cli.train", *args], check=True, capture_output=True)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="mnist_exp", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")
    trained = sum(len(read_history(p)) for p in sweep_dir.glob("*/metrics.csv"))
    pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
    return {"pruner": pruner, "epochs": trained, "pruned": pruned, "best": study.best_value, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/optuna"))
    args = parser.parse_args()
    rows = [search(p, args.trials, args.epochs, args.out) for p in ("none", "median")]
    total = args.trials * args.epochs
    print(f"| pruner | trials | epochs trained (of {total}) | pruned trials | best val/acc | wall (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        best = f"{100 * r['best']:.2f}%"
        print(f"| {r['pruner']} | {args.trials} | {r['epochs']} | {r['pruned']} | {best} | {r['wall']:.0f} |")


if __name__ == "__main__":
    main()
