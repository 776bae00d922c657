"""A whole `mnist-exp-train experiment=seed_lenet` process (30 epochs, a validation pass on the
10,000 test images after each, the test, every record written) against a plain PyTorch script
doing the same work: start-up, load MNIST, 30 epochs of the plain loop over in-memory tensors,
each followed by the same evaluation pass, then the test pass.

    python benchmarks/seed_run.py --root ../shared/data [--experiment seed_mlp] [--repeats 2]

Both run as fresh processes, interleaved; both in deterministic mode (the project's default),
without its NaN fill of new tensors (mnist-exp turns that off; results stay deterministic).
Prints the wall times, their medians, the ratio and both final test accuracies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN = r"""
import sys, time, torch
from torch import nn
sys.path.insert(0, {repo!r})
from mnist_exp.core import idx
from mnist_exp.core.data import normalize
from mnist_exp.core.models import LeNet5, MLP
torch.use_deterministic_algorithms(True)
torch.utils.deterministic.fill_uninitialized_memory = False  # as mnist-exp sets it
torch.manual_seed(0)
train_x, train_y = (torch.from_numpy(a) for a in idx.load_split({root!r}, train=True))
test_x, test_y = (torch.from_numpy(a) for a in idx.load_split({root!r}, train=False))
train_x, test_x = normalize(train_x, 2, 0.5, 1.0), normalize(test_x, 2, 0.5, 1.0)
lenet = {model!r} == "lenet"
net = LeNet5() if lenet else MLP(activation="relu")
if lenet:
    net = net.to(memory_format=torch.channels_last)
opt = torch.optim.SGD(net.parameters(), lr=0.01)
loss_fn = nn.CrossEntropyLoss()

def evaluate():
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_y), 1000):
            correct += (net(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
    net.train()
    return correct / len(test_y)

for epoch in range({epochs}):
    perm = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(epoch))
    for i in range(0, len(train_y), 128):
        b = perm[i:i + 128]
        loss = loss_fn(net(train_x[b]), train_y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = evaluate()
print(f"test acc {{100 * evaluate():.2f}}")
"""


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{cmd[:4]} failed:\n{done.stderr[-3000:]}")
    acc = next((line for line in done.stdout.splitlines() if "test" in line and "acc" in line), "?")
    return seconds, acc.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.environ.get("MNIST_EXP_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--experiment", default="seed_lenet", choices=["seed_lenet", "seed_mlp"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mnist-exp-seed-run"))
    parser.add_argument("overrides", nargs="*", help="for the mnist-exp run, e.g. trainer=gpu")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = "lenet" if args.experiment == "seed_lenet" else "mlp"
    root = str(Path(args.root).resolve())
    script = PLAIN.format(repo=str(REPO), root=root, model=model, epochs=args.epochs)
    times: dict[str, list[float]] = {"mnist-exp": [], "plain": []}
    for i in range(args.repeats):
        run_dir = args.out / f"{args.experiment}_{time.strftime('%H-%M-%S')}_{i}"
        cmd = [sys.executable, "-m", "mnist_exp.cli.train", f"experiment={args.experiment}"]
        cmd += [f"data.root={root}", f"trainer.max_epochs={args.epochs}", f"hydra.run.dir={run_dir}"]
        cmd += ["callbacks.progress_bar.refresh_rate=1000", *args.overrides]
        for name, command in (("mnist-exp", cmd), ("plain", [sys.executable, "-c", script])):
            seconds, acc = timed(command, args.out)
            times[name].append(seconds)
            print(f"{name:>9} #{i}: {seconds:7.1f} s  {acc}", flush=True)
    ours, plain = statistics.median(times["mnist-exp"]), statistics.median(times["plain"])
    print(
        f"\n{args.experiment}, {args.epochs} epochs, whole processes, median of {args.repeats}: "
        f"mnist-exp {ours:.1f} s, plain script {plain:.1f} s, ratio {ours / plain:.3f}"
    )


if __name__ == "__main__":
    main()
