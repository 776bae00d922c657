"""What a model config may be: a class named by `_target_` and plain arguments (torch-free).

A checkpoint stores the config that built its network, and eval, predict and resume rebuild the
network from it. A checkpoint is something researchers share, so its config is untrusted data: it
may name only a model class, with numbers, strings, booleans, None, and lists or dicts of these.
Hydra's other keys (`_args_`, `_partial_`, a nested `_target_`) would let it call anything, so they
are refused here, before anything is imported; core/netbuild.py then checks that the class is a
`torch.nn.Module`. Training checks the same rule at start-up, so every run's checkpoints can be
loaded again.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from mnist_exp.core.errors import UserError
from mnist_exp.core.targets import OWN_MODELS

# `_target_`s that checkpoints of mnist-exp 0.1 (flat package) recorded, and where they live now
LEGACY_TARGETS = {
    "mnist_exp.models.LeNet5": "mnist_exp.core.models.LeNet5",
    "mnist_exp.models.MLP": "mnist_exp.core.models.MLP",
}
# Hydra's keys that only say how to instantiate: harmless at the top (the arguments are passed as
# plain Python values either way) and left out of the recorded config
IGNORED_KEYS = ("_convert_", "_recursive_")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", re.ASCII)
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)  # a module: dotted or not
_SPECIAL = re.compile(r"_.*_")  # Hydra's keys: _target_, _args_, _partial_, _call_, ...
PLAIN = (bool, int, float, str, type(None))
FIX = (
    "Fix: a model config names one torch.nn.Module class (_target_: mypackage.MyNet) with plain "
    "arguments (numbers, strings, booleans, null, lists and dicts of these); build anything else "
    "inside the class from such a value."
)


def _plain_error(value: Any, where: str) -> str | None:
    """Why `value` (at `where`) is not plain data, or None."""
    if isinstance(value, PLAIN):
        return None
    if isinstance(value, (list, tuple)):
        return next(filter(None, (_plain_error(v, f"{where}[{i}]") for i, v in enumerate(value))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has a key {key!r} that is not a string"
            if _SPECIAL.fullmatch(key):
                return f"{where}.{key} asks Hydra to build or call something ({key}: {item!r})"
            error = _plain_error(item, f"{where}.{key}")
            if error:
                return error
        return None
    return f"{where} is a {type(value).__name__}, not a plain value"


def target_error(target: Any) -> str | None:
    """Why `target` cannot name a model class, without importing anything; None when it may."""
    if not isinstance(target, str) or not _DOTTED.fullmatch(target):
        return f"_target_ {target!r} is not a dotted class name such as mypackage.MyNet"
    top = target.split(".", 1)[0]
    if top in sys.stdlib_module_names or top in ("builtins", "__main__"):
        return f"_target_ {target} is part of Python's standard library, not a model class"
    return None


# mnist-exp's own models: the only classes a checkpoint may name without the user vouching for them
TRUST_FIX = "trust=[{module}]"  # how a user vouches for the modules of a file's model class


def trusted_modules(value: Any) -> tuple[str, ...]:
    """The user's `trust=[mymodels,...]` as module names; a UserError for anything that is not a
    module name a model may live in (Python's own modules, `__main__`, a private part)."""
    names = [value] if isinstance(value, str) else list(value or [])
    for name in names:
        error = _name_error(name, "trust entry") if isinstance(name, str) else f"{name!r} is no module name"
        if error:
            raise UserError(
                f"trust={value}: {error}. Fix: name the package or module of your own model classes, "
                "e.g. trust=[mymodels] (the folder that holds it must be on PYTHONPATH)."
            )
    return tuple(names)


def _private_error(name: str, what: str) -> str | None:
    """A `_private`, dunder or `__main__` part of a dotted name: never code a file may name."""
    private = next((p for p in name.split(".") if p.startswith("_")), None)
    return f"{what} {name} has a private part ({private})" if private else None


def _name_error(name: str, what: str) -> str | None:
    """Why a module name (a `trust=` entry) can never be vouched for, before any import; else None."""
    if not _MODULE.fullmatch(name):
        return f"{what} {name!r} is not a dotted Python name such as mypackage.MyNet"
    if name.split(".")[0] in (*sys.stdlib_module_names, "builtins"):
        return f"{what} {name} is part of Python's standard library, not a model class"
    return _private_error(name, what)


def trust_error(target: str, trusted: tuple[str, ...]) -> str | None:
    """Why a file may not name the class `target`, judged before any import: only mnist-exp's own
    models and classes inside the modules the user vouches for (`trusted`) may be named."""
    error = target_error(target) or _private_error(target, "_target_")
    if error:
        return f"{error}. Fix: pass a checkpoint of mnist-exp's models or of your own model classes"
    if target in OWN_MODELS:
        return None
    if any(target.startswith(f"{module}.") for module in trusted):
        return None
    module = target.rsplit(".", 1)[0]
    return (
        f"it names the class {target}, which is not one of mnist-exp's models, and you have not vouched "
        f"for the module {module}. Fix: if you trust the file and that code, add "
        f"{TRUST_FIX.format(module=module)} to the command"
    )


def checked_net_config(config: Any, source: str) -> dict[str, Any]:
    """The model config as the plain dict that rebuilds the network (Hydra's instantiation keys
    dropped, a 0.1 `_target_` moved to today's); a UserError naming what `source` asked for when
    it asks for more than a model class with plain arguments."""
    if not isinstance(config, dict) or "_target_" not in config:
        raise UserError(f"{source} has no model config with a _target_ (got {config!r}). {FIX}")
    args = {k: v for k, v in config.items() if k != "_target_" and k not in IGNORED_KEYS}
    target = config["_target_"]
    target = LEGACY_TARGETS.get(target, target) if isinstance(target, str) else target
    error = target_error(target) or _plain_error(args, "model")
    if error:
        raise UserError(f"{source}: {error}. mnist-exp builds only model classes from it. {FIX}")
    return {"_target_": target, **args}
