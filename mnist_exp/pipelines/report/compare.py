"""A report over any runs: runs made by hand, several sweeps, or a folder of runs
(`outputs/train/runs`), compared the way a sweep's jobs are. What differs between them is read
from each run's recorded config (`.hydra/config.yaml`, as written before interpolation), not from
how its command line happened to be typed; locations (paths, data.root, folders) are left out.
The report goes to a folder the user names, never into one of the runs."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import is_location, override_pairs
from mnist_exp.pipelines.report.sweep_report import (
    REPORT_FILES,
    print_configurations,
    print_environment,
    print_table,
    read_job,
    write_report,
)
from mnist_exp.records.recorded import read_mapping, select
from mnist_exp.records.status import job_folders
from mnist_exp.records.tables import markdown_table, percent


def run_folders(source: Path) -> list[Path]:
    """A run folder itself, or the run folders a folder holds (a sweep, outputs/train/runs)."""
    if (source / ".hydra" / "config.yaml").is_file():
        return [source]
    found = job_folders(source)
    if not found:
        raise UserError(
            f"{source} is neither a run folder nor a folder of runs (no .hydra/config.yaml in it or in "
            "its sub-folders). Fix: pass run or sweep folders, e.g. outputs/train/runs/<date>_<time>_<pid>."
        )
    return found


def check_out(out: Path, folders: list[Path]) -> None:
    """The report's folder: new, empty, or an earlier report's; never inside a run."""
    inside = next((f for f in (out.resolve(), *out.resolve().parents) if (f / ".hydra").is_dir()), None)
    if inside is not None:
        raise UserError(
            f"--out {out} is inside the run {inside}. Fix: name a folder of its own, e.g. --out compare."
        )
    if out.is_file():
        raise UserError(f"--out {out} is a file. Fix: name a folder, e.g. --out compare.")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in REPORT_FILES) if out.is_dir() else []
    if foreign:
        raise UserError(
            f"--out {out} already holds other files ({', '.join(foreign[:3])}); the report would mix with "
            "them. Fix: name a new or empty folder."
        )


def _flat(config: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(config, dict):
        out: dict[str, str] = {}
        for key, value in config.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: str(config)}


def _choices(folder: Path) -> dict[str, str]:
    """The config groups the run picked (`model: lenet`), as Hydra recorded them."""
    try:
        choices = select(read_mapping(folder / ".hydra" / "hydra.yaml"), "hydra.runtime.choices")
    except UserError:  # an old or hand-made folder: its keys still compare
        return {}
    if not isinstance(choices, dict):
        return {}
    return {str(k): str(v) for k, v in choices.items() if not str(k).startswith("hydra/")}


def differing(folders: list[Path]) -> tuple[list[str], list[dict[str, str]]]:
    """What differs between the runs, in the user's words: the config groups picked differently
    (`model`: mlp / lenet), then the values that differ among keys every run has (a group picked
    differently already says why its keys differ); each run's values of them."""
    runs = []
    for folder in folders:
        conf = read_mapping(folder / ".hydra" / "config.yaml")
        values = {k: v for k, v in _flat(conf).items() if not is_location(k)}
        choices = _choices(folder)
        for node, value in conf.items():  # a list of picks (logger=[tensorboard,mlflow]): its parts
            if isinstance(value, dict) and node not in choices and str(node) in ("logger", "callbacks"):
                choices[str(node)] = ",".join(k for k, v in value.items() if isinstance(v, dict))
        runs.append((choices, values))
    groups = sorted({g for choices, _ in runs for g in choices})
    groups = [g for g in groups if len({choices.get(g, "") for choices, _ in runs}) > 1]
    shared = set.intersection(*(set(values) for _, values in runs))
    leaves = sorted(
        (k for k in shared if not k.startswith(tuple(f"{g.replace('/', '.')}." for g in groups))),
        key=lambda k: (k.count("."), k),
    )
    leaves = [k for k in leaves if len({values[k] for _, values in runs}) > 1]
    return groups + leaves, [{**values, **choices} for choices, values in runs]


def compare(sources: list[Path], out: Path, metric: str) -> list[dict[str, Any]]:
    """Write the report over the runs in `sources` into `out`; print its tables."""
    folders = list(dict.fromkeys(f.resolve() for s in sources for f in run_folders(s)))
    check_out(out, folders)
    keys, configs = differing(folders)
    names = Counter(f.name for f in folders)
    jobs = []
    for folder, config in zip(folders, configs, strict=True):
        job = read_job(folder)
        if names[folder.name] > 1:  # two sweeps' `lr=0.1`: told apart by their sweep
            job["name"] = f"{folder.parent.name}/{folder.name}"
        experiment = override_pairs(job["overrides"]).get("experiment")
        job["overrides"] = [f"{k}={config.get(k, '')}" for k in keys]
        job["overrides"] += [f"experiment={experiment}"] if experiment else []
        job["values"] = {k: config.get(k, "") for k in keys}
        jobs.append(job)
    out.mkdir(parents=True, exist_ok=True)
    jobs, configurations = write_report(jobs, out, metric)
    _prepend_differences(out / "report.md", jobs, keys)
    print_table(jobs, metric)
    if configurations:
        print_configurations(configurations, metric)
    print_environment(jobs)
    shown = ", ".join(keys) or "nothing: the runs share one config"
    print(f"{len(jobs)} runs; what differs: {shown}. Wrote {out / 'report.md'} and curves.png.")
    return jobs


def _prepend_differences(report: Path, jobs: list[dict[str, Any]], keys: list[str]) -> None:
    """report.md starts with what differs between the runs, beside their metrics and folders."""
    header = ["run", *keys, "status", "best val acc (%)", "test acc (%)", "folder"]
    rows = [
        [j["name"], *(j["values"][k] for k in keys), j["status"], percent(j["best_val_acc"]),
         percent(j["test_acc"]), str(j["folder"])]
        for j in jobs
    ]  # fmt: skip
    lines = report.read_text().splitlines()
    text = [f"# Report over {len(jobs)} runs\n", "## What differs\n", markdown_table(header, rows), ""]
    report.write_text(re.sub(r"\n{3,}", "\n\n", "\n".join(text + lines[1:])).strip() + "\n")
