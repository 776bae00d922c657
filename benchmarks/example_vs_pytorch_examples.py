"""examples/pytorch_mnist (mnist-exp with a user's own model) against pytorch/examples' own
mnist/main.py: the same recipe on the same machine and data, run in full, alternately.

pytorch/examples is not part of this project: fetch it yourself and pass its mnist/main.py. It is
run unchanged. It reads `../data` from the folder it runs in, so it runs in a scratch folder
beside a link to the data. Prints each run's test accuracy after the last epoch and wall time, and
the wall-time ratio of each pair.

    python benchmarks/example_vs_pytorch_examples.py --main ~/examples/mnist/main.py \
        --root ../shared/data --rounds 1 [--epochs 14]
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import parser as harness_parser

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "pytorch_mnist"


def ours(data: Path, epochs: int, scratch: Path) -> tuple[float, float]:
    """mnist-exp-train --config-dir conf experiment=pytorch_mnist: (test accuracy %, wall s)."""
    script = Path(sys.executable).parent / "mnist-exp-train"
    run = scratch / "ours"
    args = [
        str(script), "--config-dir", str(EXAMPLE / "conf"), "experiment=pytorch_mnist",
        f"trainer.max_epochs={epochs}", f"data.root={data}", f"hydra.run.dir={run}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE)}
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - start
    return float(re.findall(r"test/acc: ([\d.]+)%", done.stdout)[-1]), wall


def theirs(main: Path, data: Path, epochs: int, scratch: Path) -> tuple[float, float]:
    """pytorch/examples' main.py, unchanged, CPU: (test accuracy % after the last epoch, wall s)."""
    work = scratch / "theirs" / "work"
    work.mkdir(parents=True)
    (work.parent / "data").symlink_to(data.resolve())  # their '../data'
    start = time.perf_counter()
    args = [sys.executable, str(main), "--epochs", str(epochs), "--no-accel"]
    done = subprocess.run(args, cwd=work, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    correct, total = re.findall(r"Accuracy: (\d+)/(\d+)", done.stdout)[-1]
    return 100 * int(correct) / int(total), wall


def main() -> None:
    parser = harness_parser(__doc__, rounds=1, baseline=False)
    parser.add_argument("--main", type=Path, required=True, help="pytorch/examples' mnist/main.py")
    parser.add_argument("--epochs", type=int, default=14)
    a = parser.parse_args()
    ratios = []
    for r in range(a.rounds):
        with tempfile.TemporaryDirectory() as scratch:
            results = {}
            for side in ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours"):
                folder = Path(scratch) / side
                folder.mkdir()
                if side == "ours":
                    results[side] = ours(Path(a.root), a.epochs, folder)
                else:
                    results[side] = theirs(a.main, Path(a.root), a.epochs, folder)
                acc, wall = results[side]
                print(f"round {r}: {side:6} test acc {acc:.2f}%  wall {wall:.1f} s", flush=True)
        ratios.append(results["ours"][1] / results["theirs"][1])
        print(f"round {r}: mnist-exp / pytorch-examples wall time {ratios[-1]:.3f}", flush=True)
    print(f"median ratio over {len(ratios)} round(s): {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
