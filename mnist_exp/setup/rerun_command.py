"""`mnist-exp-train verify=<run or sweep folder>`: the command line that runs a recorded config
again, into a new folder beside the original (`<name>.verify1`, `.verify2`, ...). Only what says
where or how fast a run happens may change (threads, data folder, launcher, progress display);
anything else would re-run another experiment. `verify.epochs=N` re-runs the first N epochs
(`stop_after_epochs=N`, so a schedule over the full run stays the same) without the test; so does
the verification of a run that stopped before its end, with the epochs it recorded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_exp.core.errors import UserError
from mnist_exp.core.overrides import NOT_THE_EXPERIMENT, hydra_quote, override_pairs, unquote, without_keys
from mnist_exp.records.history import read_history
from mnist_exp.records.recorded import read_mapping, read_overrides, sweep_overrides
from mnist_exp.records.status import read_status
from mnist_exp.setup.recorded_code import refuse_recorded_code
from mnist_exp.setup.sources import (
    SEARCHPATH,
    CommandLine,
    split_argv,
    with_recorded_sources,
)

# the packages mnist-exp itself builds objects from: not listed as the user's code
STACK = (
    "mnist_exp.",
    "torch.",
    "pytorch_lightning.",
    "lightning.",
    "torchmetrics.",
    "hydra.",
    "hydra_plugins.",
)
DROPPED = (
    "resume=",
    "ckpt_path=",
    "hydra.run.dir=",
    "hydra.sweep.dir=",
    "stop_after_epochs=",
    "++stop_after",
)


@dataclass(frozen=True)
class Verification:
    """What to compare once the re-run has ended."""

    original: Path
    rerun: Path
    epochs: int | None  # the first N epochs only (no test); None: all of them and the test
    sweep: bool


def _epochs(argv: list[str]) -> int | None:
    given = [a.split("=", 1)[1] for a in argv if a.startswith("verify.epochs=")]
    if not given:
        return None
    if not given[-1].isdigit() or int(given[-1]) < 1:
        raise UserError(
            f"verify.epochs must be an integer >= 1, got {given[-1]!r}. Fix: e.g. verify.epochs=2."
        )
    return int(given[-1])


def _beside(folder: Path) -> Path:
    """`<run>.verify1` beside the run; for one job of a sweep, beside the sweep (a folder inside it
    would be taken for one more of its jobs)."""
    parent, name = folder.parent, folder.name
    if (parent / "multirun.yaml").is_file():
        parent, name = parent.parent, f"{parent.name}.{folder.name}"
    n = 1
    while (parent / f"{name}.verify{n}").exists():
        n += 1
    return parent / f"{name}.verify{n}"


def _recorded(folder: Path) -> tuple[list[str], Path, bool]:
    """The folder's own overrides, the file its config sources are read from, whether a sweep."""
    if (folder / "multirun.yaml").is_file():
        return sweep_overrides(folder / "multirun.yaml"), folder / "multirun.yaml", True
    if (folder / ".hydra" / "overrides.yaml").is_file():
        hydra_yaml = folder / ".hydra" / "hydra.yaml"
        return read_overrides(folder / ".hydra" / "overrides.yaml"), hydra_yaml, False
    raise UserError(
        f"verify={folder}: not a mnist-exp run or sweep folder (no .hydra/overrides.yaml, no "
        "multirun.yaml). Fix: pass a run folder (outputs/train/runs/<run>) or a sweep folder."
    )


def _targets(node: object) -> list[str]:
    """Every `_target_` string in a recorded config (read as data)."""
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [t for value in node.values() for t in _targets(value)]
    if isinstance(node, list):
        return [t for value in node for t in _targets(value)]
    return []


def _announce(folder: Path, line: CommandLine, sweep: bool) -> None:
    """Before anything trains: the config folders the re-run composes from, and the code outside
    mnist-exp and its stack that the recorded config names (what the user is trusting)."""
    config = folder / ("multirun.yaml" if sweep else ".hydra/config.yaml")
    targets = _targets(read_mapping(config)) if config.is_file() else []
    code = sorted({t for t in targets if not t.startswith(STACK)})
    folders = [line.config_dir] if line.config_dir else []
    folders += [o.split("=", 1)[1] for o in line.overrides if o.startswith(SEARCHPATH)]
    own = "mnist-exp's own only"
    print(
        f"verify: re-running {folder}; config folders: {', '.join(folders) or own}; "
        f"code outside mnist-exp: {', '.join(code) or 'none'}"
    )


def verify_argv(argv: list[str]) -> tuple[list[str], Verification | None]:
    """The command line of the re-run, and what to compare after it (None without `verify=`)."""
    given = [a for a in argv if a.startswith("verify=")]
    if not given:
        return argv, None
    folder = Path(unquote(given[-1].split("=", 1)[1])).expanduser().absolute()
    epochs = _epochs(argv)
    recorded, sources, sweep = _recorded(folder)
    if epochs is None and not sweep and read_status(folder).get("status") != "ok":
        epochs = len(read_history(folder / "metrics.csv")) or None  # a stopped run: its epochs so far
    recorded = [o for o in recorded if not o.startswith(DROPPED)]
    line = split_argv([a for a in argv if not a.startswith(("verify=", "verify.epochs="))])
    changed = {
        k: v for k, v in override_pairs(line.overrides).items() if not k.startswith(NOT_THE_EXPERIMENT)
    }
    if changed or any(f in ("-m", "--multirun") for f in line.flags):
        what = " ".join(f"{k}={v}" for k, v in changed.items()) or "-m"
        raise UserError(
            f"verify re-runs {folder} as it was recorded; {what} would run another experiment. Fix: leave it "
            f"out (only {', '.join(NOT_THE_EXPERIMENT)} may change), or start a new run with it."
        )
    refuse_recorded_code(recorded, line.overrides, f"verify={folder}")
    if sources.is_file():
        line = with_recorded_sources(line, sources, "config", str(folder))
    recorded = without_keys(recorded, override_pairs(line.overrides))
    _announce(folder, line, sweep)
    rerun = _beside(folder)
    short = [f"++stop_after_epochs={epochs}", "++test=false"] if epochs else []
    where = f"hydra.{'sweep' if sweep else 'run'}.dir={hydra_quote(str(rerun))}"
    flags = [*line.flags, "-m"] if sweep else line.flags
    return [*flags, *recorded, *line.overrides, *short, where], Verification(folder, rerun, epochs, sweep)
