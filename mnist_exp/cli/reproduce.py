"""`mnist-exp-reproduce`: the seed's two experiments over seeds 0-4, as one sweep.

A preset over `mnist-exp-train` (`hparams_search=reproduce`): the same jobs, folders, launchers,
resume and report as any sweep. `mnist-exp-report <its folder>` puts the reported numbers beside
the measured mean ± std (summary.csv, report.md).
"""

from __future__ import annotations

import sys

from mnist_exp.cli.common import guarded, run_hydra
from mnist_exp.cli.train import check, check_job, hydra_main
from mnist_exp.core.errors import UserError
from mnist_exp.setup.guards import dry_run_argv, sweep_rerun_argv

PROG = "mnist-exp-reproduce"
PRESET = "hparams_search=reproduce"
USAGE = """\
usage: mnist-exp-reproduce [key=value ...]

The seed document's experiments (seed_lenet, seed_mlp) x seeds 0-4 as one sweep, in
outputs/reproduce/<date>_<time>_<pid>/; its report.md and summary.csv set the measured mean ± std
beside the reported accuracies (MLP 93.5%, LeNet-5 98.6%).
  mnist-exp-reproduce                                   10 runs of 30 epochs, one after another
  mnist-exp-reproduce hydra/launcher=joblib             two runs at a time
  mnist-exp-reproduce experiment=seed_mlp 'seed=range(10)'
  mnist-exp-reproduce experiment=seed_mlp seed=0 model.activation=relu,tanh    one more key swept
  mnist-exp-reproduce hydra.sweep.dir=<its folder>      resume: finished runs are skipped"""
# the options of the old one-process command, and what says the same now
OLD_OPTIONS = {
    "--seeds": "'seed=range(N)'",
    "--experiments": "experiment=seed_mlp (or seed_lenet; both is the default)",
    "--vary": "KEY=v1,v2 (a swept override, e.g. model.activation=relu,tanh)",
    "--out": "hydra.sweep.dir=<folder>",
}


def preset_argv(argv: list[str]) -> list[str]:
    """The user's command line as `mnist-exp-train hparams_search=reproduce ...`; refuses what
    would turn it into something else."""
    for arg in argv:
        option = arg.split("=", 1)[0]
        if option in OLD_OPTIONS:
            raise UserError(
                f"{option} belongs to the old mnist-exp-reproduce; reproduction is a sweep now. "
                f"Fix: {OLD_OPTIONS[option]}."
            )
        if option.lstrip("+~") == "hparams_search":
            raise UserError(
                f"mnist-exp-reproduce is {PRESET}; it cannot also be {arg}. Fix: run that search "
                "with mnist-exp-train."
            )
        if option == "resume":
            raise UserError(
                "resume= continues one run; a reproduction is a sweep. Fix: re-run the command with "
                "hydra.sweep.dir=<its folder> (finished runs are skipped, stopped ones resume)."
            )
    return [PRESET, *argv]


@guarded
def main() -> None:
    """`mnist-exp-reproduce`: checked like any training command line, then run as a multirun."""
    argv, planned = dry_run_argv(sys.argv[1:])
    sys.argv = [sys.argv[0], *preset_argv(argv)]
    sys.argv = [sys.argv[0], *sweep_rerun_argv(sys.argv[1:])]
    run_hydra(PROG, "config", hydra_main, check, USAGE, check_job, planned)


if __name__ == "__main__":
    # like mnist_exp.cli.train: the importable copy, so joblib workers find the task by name
    from mnist_exp.cli.reproduce import main as importable_main

    importable_main()
