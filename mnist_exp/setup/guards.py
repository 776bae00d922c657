"""Guards on the command line before Hydra makes a folder: `resume=<run>` becomes that run's own
overrides and checkpoint; no run writes into another run's folder; a sweep folder is re-run only
with its own settings."""

from __future__ import annotations

from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import (
    NOT_THE_EXPERIMENT,
    hydra_quote,
    override_pairs,
    shell_override,
    unquote,
    without_keys,
)
from mnist_exp.records.lock import holder, in_use_error
from mnist_exp.records.recorded import read_mapping, read_overrides, select, sweep_overrides
from mnist_exp.records.status import last_checkpoint, read_status
from mnist_exp.setup.recorded_code import refuse_recorded_code
from mnist_exp.setup.sources import split_argv, with_recorded_sources

RESULT_FILES = ("checkpoints", "metrics.csv", "status.json")
# what a resumed run may change: what never changes the experiment, and how long it trains
# when the fit ends (stop_after_epochs ends it early; the schedule plans for trainer.max_epochs either
# way), and where and how fast it runs
RESUME_MAY_CHANGE = ("trainer.max_epochs", "stop_after_epochs", *NOT_THE_EXPERIMENT)


def used_folder_error(folder: Path, names: tuple[str, ...] = RESULT_FILES) -> UserError | None:
    """A refusal when `folder` holds another run's results (any of `names`) or a process uses it."""
    pid = holder(folder)
    if pid is not None:
        return in_use_error(folder, pid)
    if any((folder / name).exists() for name in names):
        return UserError(
            f"{folder} holds another run's results. Fix: resume it with "
            f"{shell_override('resume', str(folder))}, or choose an empty hydra.run.dir."
        )
    return None


def _run_folder(argv: list[str]) -> Path:
    value = unquote(next(a for a in reversed(argv) if a.startswith("resume=")).split("=", 1)[1])
    run_dir = Path(value).expanduser()
    if not (run_dir / ".hydra" / "overrides.yaml").is_file():
        raise UserError(
            f"{run_dir} is not a mnist-exp run folder (no .hydra/overrides.yaml). Fix: pass a run folder."
        )
    return run_dir


def _check_resumable(run_dir: Path, changes: dict[str, str]) -> None:
    """Refuse what would make the folder's record differ from what trains, and what cannot resume."""
    refused = [f"{k}={v}" for k, v in changes.items() if not k.startswith(RESUME_MAY_CHANGE)]
    if refused:
        raise UserError(
            f"resume continues {run_dir} with the settings it was started with; {' '.join(refused)} "
            "would change what trains, and its record would no longer say what ran. Fix: start a new "
            f"run with it (without resume=), or resume without it (only {', '.join(RESUME_MAY_CHANGE)} "
            "may change)."
        )
    config = read_mapping(run_dir / ".hydra" / "config.yaml")
    if not last_checkpoint(run_dir).is_file():
        if not select(config, "callbacks.model_checkpoint"):
            raise UserError(
                f"{run_dir} ran without the model_checkpoint callback, so it saved no checkpoint to "
                "resume from. Fix: start it again with callbacks=default."
            )
        raise UserError(f"{run_dir} has no checkpoints/last.ckpt: no epoch finished. Fix: start it again.")
    recorded = select(config, "trainer.max_epochs")
    if type(recorded) is not int:
        raise UserError(f"{run_dir}/.hydra/config.yaml has no trainer.max_epochs. Fix: pass a run folder.")
    epochs = changes.get("trainer.max_epochs", str(recorded))
    if not epochs.lstrip("-").isdigit():
        return  # not a number: the config's value rules refuse it with their own message
    status = read_status(run_dir)
    trained = status.get("epoch")
    stopped_early = isinstance(trained, int) and trained < recorded  # by stop_after_epochs
    if status.get("status") == "ok" and int(epochs) <= recorded and not stopped_early:
        raise UserError(
            f"{run_dir} already finished its {recorded} epochs. Fix: to train it longer, resume with "
            f"trainer.max_epochs={recorded + 10} (or any larger number)."
        )


def resume_argv(argv: list[str]) -> list[str]:
    """`resume=<run dir>`: the run's own overrides (a key given again replaces its recorded value,
    so overrides.yaml says once what ran), its config folders, its folder, and its last checkpoint."""
    if not any(a.startswith("resume=") for a in argv):
        return argv
    run_dir = _run_folder(argv)
    pid = holder(run_dir)
    if pid is not None:
        raise in_use_error(run_dir, pid)
    recorded = [
        o
        for o in read_overrides(run_dir / ".hydra" / "overrides.yaml")
        if not o.startswith(("resume=", "ckpt_path=", "hydra.run.dir="))
    ]
    line = split_argv([a for a in argv if not a.startswith("resume=")])
    refuse_recorded_code(recorded, line.overrides, str(run_dir))
    if (run_dir / ".hydra" / "hydra.yaml").is_file():
        line = with_recorded_sources(line, run_dir / ".hydra" / "hydra.yaml", "config", str(run_dir))
    given = line.overrides
    before = override_pairs(recorded)
    changes = {k: v for k, v in override_pairs(given).items() if before.get(k) != v}
    changes = {k: v for k, v in changes.items() if not k.startswith("hydra.searchpath")}
    _check_resumable(run_dir, changes)
    replaced = override_pairs(given)
    kept = without_keys(recorded, replaced)
    last = str(last_checkpoint(run_dir))
    where = [f"resume={hydra_quote(str(run_dir))}", f"ckpt_path={hydra_quote(last)}"]
    return [*line.flags, *kept, *given, *where, f"hydra.run.dir={hydra_quote(str(run_dir))}"]


def _fixed(overrides: list[str]) -> list[str]:
    parsed = OverridesParser.create().parse_overrides(overrides)
    return sorted(o.input_line for o in parsed if not o.is_sweep_override() and o.input_line)


def sweep_rerun_argv(argv: list[str]) -> list[str]:
    """Re-running a sweep into its own folder (`hydra.sweep.dir=<it>`) must keep its settings:
    other fixed overrides are refused before anything is written (the swept values may change:
    new values are new jobs). The sweep's config folders come back as it recorded them."""
    given = [unquote(a.split("=", 1)[1]) for a in argv if a.startswith("hydra.sweep.dir=")]
    saved = Path(given[-1]) / "multirun.yaml" if given else None
    if saved is None or not saved.is_file():
        return argv
    try:
        before = sweep_overrides(saved)
    except UserError:
        return argv  # not a sweep's record: Hydra's sweep writes its own
    line = with_recorded_sources(split_argv(argv), saved, "config", given[-1])
    now = [a for a in line.overrides if not a.startswith(("hydra.", "hydra/"))]
    if _fixed(before) != _fixed(now):
        raise UserError(
            f"{given[-1]} holds a sweep run with other settings: {' '.join(_fixed(before)) or '(none)'} "
            f"(now: {' '.join(_fixed(now)) or '(none)'}). Fix: re-run it with its own settings to finish "
            "it, or choose a new hydra.sweep.dir."
        )
    return line.argv()


def dry_run_argv(argv: list[str]) -> tuple[list[str], bool]:
    """`dry_run=true` (the command's own word, not a config key): list what would run, run nothing."""
    rest, planned = [], False
    for word in argv:
        key, _, value = word.partition("=")
        if key.lstrip("+") != "dry_run":
            rest.append(word)
        elif value.lower() in ("true", "false"):
            planned = value.lower() == "true"
        else:
            raise UserError(f"{word}: dry_run takes true or false. Fix: dry_run=true")
    return rest, planned
