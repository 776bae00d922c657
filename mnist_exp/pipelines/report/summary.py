"""Seeds folded: a sweep's jobs grouped by every swept key except `seed` and `data.fold`, one row
per configuration with n, mean ± std, a 95% confidence interval, the rank, and whether it is
statistically tied with the best (Welch's t-test, p > 0.05). Written to summary.csv."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_exp.core.overrides import is_replicate, override_pairs
from mnist_exp.core.spec import REPORTED, lower_is_better, metric_scale
from mnist_exp.records.stats import describe, welch_p
from mnist_exp.records.tables import markdown_table, percent

ALPHA = 0.05
FIELDS = [
    "rank",
    "config",
    "n",
    "metric",
    "mean",
    "std",
    "ci95_low",
    "ci95_high",
    "test_acc_mean",
    "test_acc_std",
    "p_vs_best",
    "tied_with_best",
    "reported_test_acc",
    "reaching_reported",
    "reported_z",
]
# a reported figure printed with one decimal (98.6%) stands for any value that rounds to it: a run
# reaches it from 98.55% on
REPORTED_ROUNDING = 0.0005


def varying(jobs: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Override keys whose value differs between jobs, with each job's value."""
    pairs = [override_pairs(job["overrides"]) for job in jobs]
    keys = dict.fromkeys(key for job_pairs in pairs for key in job_pairs)
    values = {key: [job_pairs.get(key, "") for job_pairs in pairs] for key in keys}
    return {k: v for k, v in values.items() if len(set(v)) > 1}


def configuration(job: dict[str, Any], keys: Sequence[str]) -> str:
    """A job's configuration: its values of the swept keys other than the seed and the fold."""
    pairs = override_pairs(job["overrides"])
    return ",".join(f"{k.rsplit('.', 1)[-1]}={pairs.get(k, '')}" for k in keys) or "all"


def experiments(jobs: Sequence[dict[str, Any]]) -> set[str | None]:
    """The `experiment=` values the jobs ran (None for a job without one)."""
    return {override_pairs(job["overrides"]).get("experiment") for job in jobs}


def reported(members: Sequence[dict[str, Any]]) -> float | None:
    """The seed document's test accuracy (a fraction) when every job ran the same seed experiment
    (experiment=seed_mlp or seed_lenet), else None."""
    names = experiments(members)
    name = names.pop() if len(names) == 1 else None
    return REPORTED[name][1] / 100 if name in REPORTED else None


def reach(tests: Sequence[float], target: float | None) -> dict[str, Any]:
    """How often the seeds reach the reported accuracy (from the lowest value that rounds to it)
    and where it falls in their spread: its distance from their mean in standard deviations."""
    if target is None or not tests:
        return {"reaching_reported": None, "reported_z": None, "tests": list(tests)}
    spread = describe(list(tests))
    z = (target - spread["mean"]) / spread["std"] if spread["std"] else None
    reached = sum(value >= target - REPORTED_ROUNDING for value in tests)
    return {"reaching_reported": reached, "reported_z": z, "tests": list(tests)}


def reach_words(row: dict[str, Any]) -> str:
    """`0 of 20 (+2.4 std; best 98.53)`: the report's words for `reach`."""
    if row.get("reaching_reported") is None:
        return ""
    tests = row["tests"]
    where = f"{row['reported_z']:+.1f} std" if row["reported_z"] is not None else "no spread"
    return f"{row['reaching_reported']} of {len(tests)} ({where}; best {100 * max(tests):.2f})"


def fold(jobs: Sequence[dict[str, Any]], varying: Sequence[str], metric: str) -> list[dict[str, Any]]:
    """One row per configuration over its finished (ok) jobs, ranked by the mean of `metric`."""
    keys = [k for k in varying if not is_replicate(k)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        groups.setdefault(configuration(job, keys), []).append(job)
    rows = []
    for name, members in groups.items():
        done = [j for j in members if j["status"] == "ok" and j.get(metric) is not None]
        values = [float(j[metric]) for j in done]
        accs = [float(j["test_acc"]) for j in done if j.get("test_acc") is not None]
        tests = describe(accs)
        row = {"config": name, "metric": metric, "values": values, **describe(values)}
        row.update(
            test_acc_mean=tests["mean"], test_acc_std=tests["std"], reported_test_acc=reported(members)
        )
        row.update(reach(accs, row["reported_test_acc"]))
        rows.append(row)
    lower = lower_is_better(metric)
    rows.sort(key=lambda r: (r["mean"] is None, (r["mean"] or 0.0) * (1 if lower else -1)))
    best = rows[0]["values"] if rows else []
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["mean"] is not None else None
        row["p_vs_best"] = None if rank == 1 else welch_p(best, row["values"])
        row["tied_with_best"] = rank == 1 or (row["p_vs_best"] is not None and row["p_vs_best"] > ALPHA)
    return rows


def write_summary(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _verdict(row: dict[str, Any]) -> str:
    if row["rank"] == 1:
        return "best"
    if row["p_vs_best"] is None:
        return "n < 2: untested"
    return f"{'tied' if row['tied_with_best'] else 'worse'} (p = {row['p_vs_best']:.3g})"


def with_reported(rows: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("reported_test_acc") is not None for r in rows)


def table_header(metric: str, reported_columns: bool) -> list[str]:
    """The configurations table's column titles, in the order of `markdown_cells`."""
    header = ["rank", "configuration", "n", f"{metric} mean ± std", "95% CI", "test acc (%)"]
    header += ["reported (%)", "measured − reported", "seeds reaching it"] if reported_columns else []
    return [*header, "vs best"]


def markdown_cells(r: dict[str, Any], scale: int, with_reported: bool) -> list[Any]:
    ci = "" if r["ci95_low"] is None else f"{scale * r['ci95_low']:.2f} to {scale * r['ci95_high']:.2f}"
    mean = "" if r["mean"] is None else f"{scale * r['mean']:.2f}"
    spread = "" if r["std"] is None else f" ± {scale * r['std']:.2f}"
    cells = [
        r["rank"] or "",
        r["config"],
        r["n"],
        mean + spread,
        ci,
        percent(r["test_acc_mean"], r["test_acc_std"]),
    ]
    if with_reported:
        known = r["reported_test_acc"] is not None
        cells.append(f"{100 * r['reported_test_acc']:.1f}" if known else "")
        gap = known and r["test_acc_mean"] is not None
        cells.append(f"{100 * (r['test_acc_mean'] - r['reported_test_acc']):+.2f}" if gap else "")
        cells.append(reach_words(r))
    return [*cells, _verdict(r)]


def _reported_note() -> str:
    numbers = ", ".join(f"{name} {value}%" for name, value in REPORTED.values())
    return (
        f"Reported: the seed document's test accuracy after 30 epochs ({numbers}); the measured test "
        "accuracy is that of the run's last epoch (the seed experiments test the last checkpoint). A "
        "seed reaches a reported figure from the lowest value that rounds to it (98.6%: from 98.55%); "
        "std: how many standard deviations of the seeds the reported figure lies from their mean.\n"
    )


def markdown(rows: Sequence[dict[str, Any]], metric: str) -> str:
    """The configurations table of report.md, with a sentence naming the best and its ties, and
    the reported accuracy beside the measured one for the seed experiments."""
    scale = metric_scale(metric)
    reported_columns = with_reported(rows)
    table = [markdown_cells(r, scale, reported_columns) for r in rows]
    tied = [r["config"] for r in rows[1:] if r["tied_with_best"]]
    best = rows[0]["config"] if rows else "none"
    verdict = (
        f"Statistically tied with it (Welch's t-test, p > {ALPHA}): {', '.join(tied)}."
        if tied
        else f"No other configuration is tied with it (Welch's t-test, p > {ALPHA})."
    )
    return (
        f"## Configurations (seeds and folds folded)\n\nBest: **{best}**. {verdict}\n\n"
        f"{markdown_table(table_header(metric, reported_columns), table)}\n"
        "n counts the jobs that finished (seeds, cross-validation folds); the 95% confidence interval "
        "of the mean uses Student's t with n-1 degrees of freedom.\n"
        + (_reported_note() if reported_columns else "")
    )
