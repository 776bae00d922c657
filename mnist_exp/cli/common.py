"""The one way out of every command: a user error is one message and exit code 2, Ctrl-C is 130,
never a traceback; and the preflight that runs before Hydra makes a folder."""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig

from mnist_exp.core.errors import UserError
from mnist_exp.pipelines.sweep.plan import dry_run
from mnist_exp.setup.execution import trusting
from mnist_exp.setup.guards import RESULT_FILES, used_folder_error
from mnist_exp.setup.help import help_text
from mnist_exp.setup.preflight import preflight
from mnist_exp.setup.sources import split_argv

F = TypeVar("F", bound=Callable[..., Any])


def print_error(err: UserError | str) -> None:
    print(f"Error: {err}", file=sys.stderr)


def guarded(fn: F) -> F:
    """Run `fn`; turn a UserError into its message and exit code, Ctrl-C into exit code 130, a
    closed output pipe (`... --help | head -1`) into exit code 141 as for any Unix tool.

    Used around each console entry point and around each Hydra task function (Hydra would
    otherwise print its own error report for an exception raised inside a job)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return fn(*args, **kwargs)
            finally:  # also after argparse's exit: a closed pipe shows here, not at Python's exit
                sys.stdout.flush()
        except BrokenPipeError:
            # whoever read our output stopped reading; nothing more can be said there
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except UserError as err:
            print_error(err)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            print("\nInterrupted.", file=sys.stderr)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def refuse_used_folder(cfg: DictConfig) -> None:
    """eval and predict write a run folder of their own: never into one that holds a run."""
    error = cfg.paths.output_dir and used_folder_error(Path(cfg.paths.output_dir), (*RESULT_FILES, ".hydra"))
    if error:
        raise error


def run_hydra(
    prog: str,
    config_name: str,
    hydra_main: Callable[[], Any],
    check: Callable[[DictConfig], None] | None,
    usage: str,
    check_job: Callable[[DictConfig], None] | None = None,
    planned: bool = False,
) -> None:
    """A Hydra command: its own `--help`; else check the command line (all of it, before any
    folder exists), then run it, or with `planned` (dry_run=true) list what it would run."""
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        print(help_text(prog, config_name, usage))
        return
    sys.argv = [sys.argv[0], *split_argv(sys.argv[1:]).argv()]  # Hydra's argparse: flags first
    sweep, named = preflight(config_name, sys.argv[1:], check, prog=prog, check_job=check_job)
    if planned:
        line = split_argv(sys.argv[1:])
        dry_run(line.config_name or config_name, line.overrides, line.config_dir, prog, sweep)
        return
    if sweep and not {"-m", "--multirun"} & set(sys.argv[1:]):
        # a preset's hydra.mode: MULTIRUN (hparams_search=...): Hydra 1.4 takes the mode only from
        # the command line or the primary config, so the command line says it
        sys.argv.insert(1, "--multirun")
    with trusting(named):  # Hydra's own instantiate calls (callbacks, logging) in this process
        hydra_main()
    # The command is done: the interpreter's last garbage collection, over every object torch and
    # Lightning made, took 1-3 s between a run's last line and the process's exit. Frozen objects
    # are left out of it; they are still freed by their reference counts, and atexit handlers
    # (W&B's, MLflow's) still run. Only here, at a command's end: a job process goes on to the next.
    gc.freeze()
