"""`mnist-exp-report`: one table of a sweep, or of any runs, from every run's own files.

    mnist-exp-report outputs/train/multiruns/2026-11-28_10-00-00_12345
    mnist-exp-report <sweep dir> --metric test/acc
    mnist-exp-report outputs/train/runs/<run a> outputs/train/runs/<run b> --out compare
    mnist-exp-report outputs/train/runs --out compare

For one sweep folder: prints the table and writes report.md, results.csv, summary.csv, heatmap.png
(batch size x lr, when both were swept) and curves.png (val accuracy per epoch of every job, the
best one highlighted) into the sweep folder. Works on a sweep that is still running or was
interrupted: what a job has not written yet is left blank, and the job is `incomplete`.

For runs made by hand, several sweeps, or a folder of runs: the same report, beginning with a
table of the config keys that differ between the runs beside their metrics, written into the
folder --out names (never into a run). Runs that differ only in `seed` are folded as in a sweep.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_exp.cli.common import guarded
from mnist_exp.core.errors import UserError
from mnist_exp.core.spec import REPORT_METRICS
from mnist_exp.records.recorded import read_mapping
from mnist_exp.records.status import job_folders


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mnist-exp-report", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folders",
        type=Path,
        nargs="+",
        metavar="RUN_OR_SWEEP",
        help="sweep folders, run folders, or outputs/train/runs",
    )
    parser.add_argument(
        "--out", type=Path, help="the report's folder (needed unless it is one sweep's report)"
    )
    parser.add_argument(
        "--metric",
        choices=REPORT_METRICS,
        help="sort by (default: the sweep's optimized_metric, e.g. test/acc for mnist-exp-reproduce)",
    )
    return parser.parse_args(argv)


def sweep_metric(sweep_dir: Path) -> str:
    """The metric the sweep itself optimized (multirun.yaml), else val/acc_best."""
    try:
        metric = read_mapping(sweep_dir / "multirun.yaml").get("optimized_metric")
    except UserError:  # no multirun.yaml, or not readable: the report still works
        metric = None
    return metric if metric in REPORT_METRICS else "val/acc_best"


def one_sweep(folders: list[Path]) -> bool:
    """One folder of a sweep's jobs (a multirun.yaml, and not itself a run): its own report."""
    return len(folders) == 1 and (folders[0] / "multirun.yaml").is_file()


@guarded
def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    for folder in args.folders:
        if not folder.is_dir():
            raise UserError(f"{folder} is not a folder. Fix: pass run or sweep folders (outputs/train/...).")
    if args.out is None and not one_sweep(args.folders):
        if len(args.folders) == 1 and not job_folders(args.folders[0]):
            raise UserError(
                f"{args.folders[0]} holds no sweep jobs (no */.hydra/overrides.yaml). Fix: pass a sweep "
                "folder, e.g. outputs/train/multiruns/<date>_<time>_<pid>, or runs with --out <folder>."
            )
        raise UserError(
            "A report over runs that are not one sweep needs a folder of its own. Fix: add --out <folder>, "
            "e.g. --out compare."
        )
    # matplotlib and the report: once the command line is known good
    from mnist_exp.pipelines.report.compare import compare
    from mnist_exp.pipelines.report.sweep_report import report

    metric = args.metric or sweep_metric(args.folders[0])
    if args.out is None:
        report(args.folders[0], metric)
    else:
        compare(args.folders, args.out, metric)


if __name__ == "__main__":
    main()
