"""Guards on the command line before Hydra makes a folder: `resume=<run>` becomes that run's own
overrides and checkpoint; no run writes into another run's folder; a sweep folder is re-run only
with its own settings."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from mnist_exp.core.errors import UserError

RESULT_FILES = ("checkpoints", "metrics.csv", "status.json")


def _refuse_used_folder(argv: list[str]) -> None:
    if os.environ.get("LOCAL_RANK", "0") != "0":  # a DDP rank Lightning started in the run's folder
        return
    for folder in (a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")):
        if any((Path(folder) / name).exists() for name in RESULT_FILES):
            raise UserError(
                f"{folder} holds another run's results. Fix: resume it with resume={folder}, "
                "or choose an empty hydra.run.dir."
            )


def resume_argv(argv: list[str]) -> list[str]:
    """`resume=<run dir>`: the run's own overrides, its folder, and its last checkpoint."""
    given = [a for a in argv if a.startswith("resume=")]
    if not given:
        _refuse_used_folder(argv)
        return argv
    run_dir = Path(given[-1].split("=", 1)[1]).expanduser()
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        raise UserError(
            f"{run_dir} is not a mnist-exp run folder (no .hydra/overrides.yaml). Fix: pass a run folder."
        )
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise UserError(f"{run_dir} has no checkpoints/last.ckpt: no epoch finished. Fix: start it again.")
    original = [
        o
        for o in OmegaConf.load(overrides_file)
        if not o.startswith(("resume=", "ckpt_path=", "hydra.run.dir="))
    ]
    extra = [a for a in argv if a not in given]
    return [*original, *extra, f"resume={run_dir}", f"ckpt_path={last}", f"hydra.run.dir={run_dir}"]


def _fixed(overrides: list[str]) -> list[str]:
    parsed = OverridesParser.create().parse_overrides(overrides)
    return sorted(o.input_line for o in parsed if not o.is_sweep_override() and o.input_line)


def check_sweep_dir(argv: list[str]) -> None:
    """Re-running a sweep into its own folder must keep its settings: refuse other fixed overrides
    before anything is written (the swept values may change: new values are new jobs)."""
    given = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.sweep.dir=")]
    saved = Path(given[-1]) / "multirun.yaml" if given else None
    if saved is None or not saved.is_file():
        return
    try:
        before = [str(o) for o in OmegaConf.load(saved).hydra.overrides.task]
    except Exception:
        return
    now = [a for a in argv if not a.startswith(("-", "hydra.", "hydra/"))]
    if _fixed(before) != _fixed(now):
        raise UserError(
            f"{given[-1]} holds a sweep run with other settings: {' '.join(_fixed(before)) or '(none)'} "
            f"(now: {' '.join(_fixed(now)) or '(none)'}). Fix: re-run it with its own settings to finish "
            "it, or choose a new hydra.sweep.dir."
        )
