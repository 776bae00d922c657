"""What every entry point shares: user errors become one message and exit code 2, not a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from mnist_exp.errors import UserError


def print_error(err: UserError) -> None:
    print(f"Error: {err}", file=sys.stderr)


def user_errors_exit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Inside a Hydra task function: print a UserError plainly and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print_error(err)
            sys.exit(err.exit_code)

    return wrapper
