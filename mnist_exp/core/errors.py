"""User-facing errors: a message that names the problem and the fix, printed without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (config, files, options). Entry points print it and exit with code 2."""

    exit_code = 2


class Diverged(UserError):
    """The training loss became NaN or infinite: the run stops at once (exit code 2)."""


class Interrupted(UserError):
    """Ctrl-C or SIGTERM: the run stopped cleanly and can be resumed."""

    exit_code = 130


class Pruned(Exception):
    """An Optuna pruner stopped this trial after an epoch: a normal outcome of a search, not an error."""
