"""Whether a re-run reproduced its original (`mnist-exp-train verify=...`): every metric of every
epoch in metrics.csv, and the test result, compared as recorded, to the last digit; where they
differ, the first epoch and metric that does, and what differs in the two runs' environments
(provenance.json). Torch-free: it reads the two folders' files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mnist_exp.records import provenance
from mnist_exp.records.history import read_history
from mnist_exp.records.status import job_folders, read_status
from mnist_exp.setup.rerun_command import Verification

RESULT = "verification.json"  # in the re-run's folder: what was compared, and the verdict


def _tests(run_dir: Path) -> dict[str, Any]:
    metrics = read_status(run_dir).get("metrics") or {}
    return {k: v for k, v in metrics.items() if k.startswith("test/")}


def first_difference(original: Path, rerun: Path, epochs: int | None) -> tuple[str | None, int]:
    """The first difference in words (None when there is none), and how many values compared."""
    before, after = read_history(original / "metrics.csv"), read_history(rerun / "metrics.csv")
    if epochs is not None:
        before = before[:epochs]
    if not before:
        return f"{original} has no metrics.csv to compare with", 0
    count = 0
    for old, new in zip(before, after, strict=False):
        for key, value in old.items():
            if new.get(key) != value:
                return (
                    f"epoch {int(old['epoch'])}, {key}: {value} vs {new.get(key)}{_by(value, new.get(key))}",
                    count,
                )
            count += 1
    if len(after) < len(before):
        return f"the re-run recorded {len(after)} epochs, the original {len(before)}", count
    if epochs is None:
        old_test, new_test = _tests(original), _tests(rerun)
        for key, value in old_test.items():
            if new_test.get(key) != value:
                return f"{key}: {value} vs {new_test.get(key)}{_by(value, new_test.get(key))}", count
            count += 1
    return None, count


def _by(a: Any, b: Any) -> str:
    try:
        return f" ({float(b) - float(a):+.3g})"
    except (TypeError, ValueError):
        return ""


def _environment(original: Path, rerun: Path) -> list[str]:
    first, second = provenance.read_starts(original), provenance.read_starts(rerun)
    if not first:
        return ["the original recorded no provenance.json (made before mnist-exp recorded it)"]
    return provenance.differences(first[0], second[0]) if second else []


def verify_run(original: Path, rerun: Path, epochs: int | None) -> dict[str, Any]:
    """The verdict on one run: identical or not, the first difference, the environment's."""
    status = read_status(rerun).get("status")
    difference, count = first_difference(original, rerun, epochs)
    if status != "ok" and difference is None:
        difference = f"the re-run ended {status or 'without a status'}"
    return {
        "original": str(original),
        "rerun": str(rerun),
        "epochs": epochs,
        "identical": difference is None,
        "values_compared": count,
        "first_difference": difference,
        "environment_differences": _environment(original, rerun),
    }


def verify(job: Verification) -> bool:
    """Compare, print the verdict (per job of a sweep), write verification.json; True if identical."""
    if job.sweep:
        pairs = {f.name: f for f in job_folders(job.original)}
        done = {f.name: f for f in job_folders(job.rerun)}
        results = [verify_run(f, done.get(name, job.rerun / name), job.epochs) for name, f in pairs.items()]
    else:
        results = [verify_run(job.original, job.rerun, job.epochs)]
    for result in results:
        print(_verdict(result, job.sweep))
    identical = all(r["identical"] for r in results)
    if job.rerun.is_dir():
        (job.rerun / RESULT).write_text(json.dumps({"identical": identical, "runs": results}, indent=1))
    if job.sweep:
        print(f"{sum(r['identical'] for r in results)} of {len(results)} jobs identical.")
    return identical


def _verdict(result: dict[str, Any], sweep: bool) -> str:
    name = f"{Path(result['original']).name}: " if sweep else ""
    n = result["epochs"]
    what = (f"the first {n} epochs" if n > 1 else "the first epoch") if n else "every epoch and the test"
    env = result["environment_differences"]
    if result["identical"]:
        count = result["values_compared"]
        line = f"{name}identical: {what}, {count} values, to the last digit ({result['rerun']})."
        return line + (f" Environment differs: {'; '.join(env)}." if env else "")
    because = f"Environment differs: {'; '.join(env)}." if env else "The recorded environments are the same."
    return f"{name}differs at {result['first_difference']} ({result['rerun']}). {because}"
