"""The sweep report, read from every job's own files (status.json, metrics.csv, overrides), so it
works on a running or interrupted sweep too. Used by `mnist-exp-report` and at a sweep's end."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import is_replicate
from mnist_exp.core.spec import REPORT_METRICS, REPORTED, lower_is_better, metric_scale
from mnist_exp.pipelines.report.figures import curves, heatmap
from mnist_exp.pipelines.report.summary import (
    experiments,
    fold,
    markdown,
    markdown_cells,
    table_header,
    varying,
    with_reported,
    write_summary,
)
from mnist_exp.records import provenance
from mnist_exp.records.history import read_history
from mnist_exp.records.lock import holder
from mnist_exp.records.recorded import read_overrides
from mnist_exp.records.status import OUTCOMES, job_folders, outcome, read_status
from mnist_exp.records.tables import cell, markdown_table, percent


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _seconds(value: Any) -> str:
    return "" if value is None else f"{value:.0f}"


# The one table of a sweep's columns: job key, title, how the printed tables show it.
# results.csv holds the raw values of every column, plus the overrides and the error.
COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("name", "job", _plain),
    ("status", "status", _plain),
    ("best_val_acc", "best val acc (%)", percent),
    ("best_epoch", "best epoch", _plain),
    ("test_acc", "test acc (%)", percent),
    ("epochs", "epochs", _plain),
    ("wall_s", "wall (s)", _seconds),
]
CSV_FIELDS = [key for key, _, _ in COLUMNS] + ["overrides", "error"]


def _columns(metric: str) -> list[tuple[str, str, Callable[[Any], str]]]:
    """The table's columns, plus the sort metric's own when it is not already one of them."""
    if metric in ("val/acc_best", "test/acc"):
        return COLUMNS
    return [*COLUMNS, (metric, metric, lambda v: "" if v is None else f"{v:.4f}")]


def read_job(folder: Path) -> dict[str, Any]:
    status = read_status(folder)
    history = read_history(folder / "metrics.csv") if (folder / "metrics.csv").is_file() else []
    metrics = status.get("metrics") or {}
    state = status.get("status")
    overrides = status.get("overrides")
    if overrides is None:
        try:
            overrides = read_overrides(folder / ".hydra" / "overrides.yaml")
        except UserError:
            overrides = []
    error = (status.get("error") or "").splitlines()[0][:160] if status.get("error") else ""
    if state == "running" and holder(folder) is None:  # a SIGKILL or a crash left it 'running'
        error = "its process is gone (killed?) while status.json says running"
    val = [r["val/acc"] for r in history if "val/acc" in r]
    best = max(range(len(val)), key=val.__getitem__) if val else None
    job: dict[str, Any] = {
        "name": folder.name,
        "folder": folder,
        "status": outcome(state),
        "best_val_acc": val[best] if best is not None else metrics.get("val/acc_best"),
        "best_epoch": int(history[best]["epoch"]) if best is not None else None,
        "test_acc": metrics.get("test/acc"),
        "epochs": len(history),
        "wall_s": status.get("wall_s"),
        "overrides": overrides,
        "error": error,
        "history": history,
    }
    last = history[-1] if history else {}
    for name in REPORT_METRICS:  # the chosen metric, whichever it is
        job[name] = metrics.get(name, last.get(name))
    job["val/acc_best"] = job["best_val_acc"]
    return job


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    return [read_job(folder) for folder in job_folders(sweep_dir)]


def _sort_key(metric: str):
    lower = lower_is_better(metric)

    def key(job: dict[str, Any]) -> tuple[int, float]:
        value = job.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0.0)
        return (0, value if lower else -value)

    return key


def _references(jobs: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    """The reported accuracies (%) of the seed experiments these jobs ran: lines on curves.png."""
    names = experiments(jobs)
    return [(f"reported {label}", value) for name, (label, value) in REPORTED.items() if name in names]


REPORT_FILES = ("report.md", "results.csv", "summary.csv", "heatmap.png", "curves.png")


def refuse_linked_outputs(out: Path) -> None:
    """A report file in `out` that is a link would be written through, wherever it points (a folder
    someone handed over may carry one): refused, never followed."""
    linked = [name for name in REPORT_FILES if (out / name).is_symlink()]
    if linked:
        target = os.readlink(out / linked[0])
        raise UserError(
            f"{out / linked[0]} is a link (to {target}); mnist-exp writes its report only into files "
            f"of the folder itself. Fix: remove the link ({', '.join(linked)}) or report into another folder."
        )


def write_report(
    jobs: list[dict[str, Any]], out: Path, metric: str = "val/acc_best"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """report.md, results.csv, summary.csv (seeds folded), heatmap.png and curves.png in `out`;
    returns the jobs, sorted, and the configurations when seeds were swept (else None)."""
    refuse_linked_outputs(out)
    jobs = sorted(jobs, key=_sort_key(metric))
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for job in jobs:
            writer.writerow({**job, "overrides": " ".join(job["overrides"])})
    swept = list(varying(jobs))
    configurations = fold(jobs, swept, metric)
    write_summary(configurations, out / "summary.csv")
    keys = [k for k in swept if not is_replicate(k)]
    seeds = len(keys) < len(swept)  # seeds or folds were swept: fold them
    lines = _report_lines(jobs, out, metric)
    if seeds:
        lines[3:3] = [markdown(configurations, metric), "## Jobs\n"]
    if heatmap(jobs, out / "heatmap.png", metric):
        lines.append("![heatmap](heatmap.png)\n")
    order = [row["config"] for row in configurations]
    if curves(jobs, out / "curves.png", keys if seeds else None, order, _references(jobs)):
        lines.append("![curves](curves.png)\n")
    lines += _environment_lines(jobs)
    (out / "report.md").write_text("\n".join(lines))
    return jobs, configurations if seeds else None


def _environment_lines(jobs: list[dict[str, Any]]) -> list[str]:
    """report.md's table of what differs in the runs' environments (provenance.json), if anything."""
    keys, rows = provenance.varying([j["folder"] for j in jobs])
    if not keys:
        return []
    cells = [[j["name"], *(r[k] for k in keys)] for j, r in zip(jobs, rows, strict=True)]
    table = markdown_table(["run", *keys], cells)
    return ["## What differs in the environment\n", table, ""]


def print_environment(jobs: Sequence[dict[str, Any]]) -> None:
    """One line naming what differs between the runs' environments; nothing when nothing does."""
    keys, rows = provenance.varying([j["folder"] for j in jobs])
    if keys:
        print("Environment differs: " + "; ".join(provenance.spread(keys, rows)))


def _report_lines(jobs: list[dict[str, Any]], out: Path, metric: str) -> list[str]:
    """report.md's title, counts and the per-job table (and errors), in that order."""
    counts = {s: sum(j["status"] == s for j in jobs) for s in OUTCOMES}
    columns = _columns(metric)
    rows = [[show(job.get(key)) for key, _, show in columns] for job in jobs]
    data = provenance.datasets([j["folder"] for j in jobs])  # the MNIST family's, a folder, a user's
    lines = [
        f"# Sweep report: {cell(out.name)}\n",
        f"{len(jobs)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".",
        *([f"Data: {', '.join(map(cell, data))}."] if data else []),
        f"Sorted by {metric} ({'lower' if lower_is_better(metric) else 'higher'} is better). Best validation "
        "accuracy is the highest val/acc over the epochs (epochs counted from 0); the test accuracy is "
        "that of the checkpoint the run tested.\n",
        markdown_table([title for _, title, _ in columns], rows),
    ]
    errors = [j for j in jobs if j["error"]]
    if errors:
        lines.append("Errors:\n")
        lines += [f"- {cell(j['name'])} ({j['status']}): {cell(j['error'])}" for j in errors]
        lines.append("")
    return lines


def print_table(jobs: Sequence[dict[str, Any]], metric: str) -> None:
    colors = {"ok": "green", "pruned": "blue", "failed": "red", "diverged": "magenta", "incomplete": "yellow"}
    columns = _columns(metric)
    table = Table(title=f"sorted by {metric}")
    for key, title, _ in columns:
        table.add_column(title, justify="left" if key in ("name", "status") else "right")
    for job in jobs:
        cells = [escape(show(job.get(key))) for key, _, show in columns]  # a name is text, not markup
        cells[1] = f"[{colors[job['status']]}]{job['status']}[/]"
        table.add_row(*cells)
    Console(width=max(100, len(max((j["name"] for j in jobs), key=len)) + 80)).print(table)


def print_configurations(rows: Sequence[dict[str, Any]], metric: str) -> None:
    """The seeds-folded table on the terminal: mean ± std, n, and the reported value if any."""
    scale = metric_scale(metric)
    reported_columns = with_reported(rows)
    titles = table_header(metric, reported_columns)
    drop = {"95% CI", "measured − reported"} | ({"test acc (%)"} if metric == "test/acc" else set())
    table = Table(title=f"configurations, seeds and folds folded (by {metric}; the CI is in report.md)")
    for title in titles:
        if title not in drop:
            table.add_column(title, justify="left" if title == "configuration" else "right")
    for r in rows:
        cells = markdown_cells(r, scale, reported_columns)
        table.add_row(*[str(c) for t, c in zip(titles, cells, strict=True) if t not in drop])
    Console(width=max(120, max((len(r["config"]) for r in rows), default=0) + 100)).print(table)


def report(sweep_dir: Path, metric: str = "val/acc_best") -> list[dict[str, Any]]:
    """`mnist-exp-report`: read the sweep's jobs, write its report files, print the table."""
    jobs, configurations = write_report(collect(sweep_dir), sweep_dir, metric)
    print_table(jobs, metric)
    if configurations:
        print_configurations(configurations, metric)
    print_environment(jobs)
    print(
        f"Wrote {sweep_dir / 'report.md'}, results.csv, summary.csv, heatmap.png (if batch size and lr "
        "varied), curves.png"
    )
    return jobs
