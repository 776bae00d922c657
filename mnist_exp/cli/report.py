"""`mnist-exp-report <sweep dir>`: one table of a sweep, from every job's own files.

    mnist-exp-report outputs/train/multiruns/2026-11-28_10-00-00_12345
    mnist-exp-report <sweep dir> --metric test/acc

Prints the table and writes report.md, results.csv, heatmap.png (batch size x lr, when both were
swept) and curves.png (val accuracy per epoch of every job, the best one highlighted) into the
sweep folder. Works on a sweep that is still running or was interrupted: what a job has not
written yet is left blank, and the job is `incomplete`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omegaconf import OmegaConf

from mnist_exp.cli.common import guarded
from mnist_exp.core.errors import UserError
from mnist_exp.core.spec import REPORT_METRICS
from mnist_exp.records.status import job_folders


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mnist-exp-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder, e.g. outputs/train/multiruns/<date>")
    parser.add_argument(
        "--metric",
        choices=REPORT_METRICS,
        help="sort by (default: the sweep's optimized_metric, e.g. test/acc for mnist-exp-reproduce)",
    )
    return parser.parse_args(argv)


def sweep_metric(sweep_dir: Path) -> str:
    """The metric the sweep itself optimized (multirun.yaml), else val/acc_best."""
    try:
        metric = OmegaConf.load(sweep_dir / "multirun.yaml").get("optimized_metric")
    except Exception:  # no multirun.yaml, or not readable: the report still works
        metric = None
    return metric if metric in REPORT_METRICS else "val/acc_best"


@guarded
def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if not args.sweep_dir.is_dir():
        raise UserError(
            f"{args.sweep_dir} is not a folder. Fix: pass a sweep folder (outputs/train/multiruns/...)."
        )
    if not job_folders(args.sweep_dir):
        raise UserError(
            f"{args.sweep_dir} holds no sweep jobs (no */.hydra/overrides.yaml). Fix: pass a sweep "
            "folder, e.g. outputs/train/multiruns/<date>_<time>_<pid>."
        )
    from mnist_exp.pipelines.report import report  # matplotlib: once the folder is known good

    report(args.sweep_dir, args.metric or sweep_metric(args.sweep_dir))


if __name__ == "__main__":
    main()
