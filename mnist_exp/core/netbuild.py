"""A network from its plain config: the class is imported by name, checked to be a `torch.nn.Module`,
and called with the config's arguments; nothing else a config names is ever called.

Training builds its network here and a checkpoint is loaded here, so eval, predict and resume
rebuild exactly what trained. `input_error` tries a model on a tiny batch, so a `data.pad` that a
user's own model cannot take is refused before a run folder exists.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import torch
from torch import nn

from mnist_exp.core import spec
from mnist_exp.core.errors import UserError
from mnist_exp.core.netconfig import FIX, checked_net_config, trust_error

# classes that are torch.nn.Modules but never a network a file may name: they run training loops,
# hooks and downloads of their own (matched by name along the class's MRO: no import needed)
_NEVER = {
    ("pytorch_lightning", "LightningModule"),
    ("lightning", "LightningModule"),
    ("torchmetrics", "Metric"),
}

_SPELLING = "Fix: check the spelling of the model's _target_ (module path, then class name)."


def _import_error(target: str, module: str, err: Exception) -> UserError:
    if isinstance(err, ModuleNotFoundError) and err.name and module.startswith(err.name):
        top = err.name.split(".")[0]
        return UserError(
            f"Cannot import the model class {target}: Python finds no module '{err.name}'. Fix: put "
            f"the folder that holds {top}/ or {top}.py on PYTHONPATH (e.g. PYTHONPATH=/path/to/project "
            f"mnist-exp-...), or pip install the package that provides {top}."
        )
    first = str(err).splitlines()[0] if str(err) else ""
    return UserError(
        f"Importing {module} for the model class {target} failed ({type(err).__name__}: {first}). "
        f"Fix: run `python -c 'import {module}'` and mend what it reports."
    )


def _import(target: str, name: str) -> Any:
    """The module `name` (a prefix of `target`), or None when no module of that name exists."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name == name and "." in name:
            return None  # not a module: the caller reports the missing name
        raise _import_error(target, name, err) from None
    except (Exception, SystemExit) as err:  # a module that exits on import is no model's module
        raise _import_error(target, name, err) from None


def _file_class_error(target: str, cls: type) -> str | None:
    """Why a class a file named must not be built although it is an nn.Module, or None."""
    spelled = f"{cls.__module__}.{cls.__qualname__}"
    if spelled != target:
        return f"_target_ {target} is the class {spelled} under another name"
    for base in cls.__mro__:
        if (base.__module__.split(".")[0], base.__name__) in _NEVER:
            return f"_target_ {target} is a {base.__name__}, not a network"
    return None


def model_class(
    target: str, trusted: tuple[str, ...] | None = None, source: str = "The file"
) -> type[nn.Module]:
    """The class `target` names (e.g. `mymodels.Net`): its modules imported by name, then each
    attribute looked up; anything but a subclass of `torch.nn.Module` is refused, never called.

    `trusted`: the name comes from a file (a checkpoint), so it is judged before any import: only
    mnist-exp's models and classes in the modules the user vouched for (core/netconfig.trust_error);
    None: the name is the user's own (their config)."""
    if trusted is not None:
        error = trust_error(target, trusted)
        if error:
            raise UserError(f"{source}: {error}.")
    parts = target.split(".")
    obj: Any = _import(target, parts[0])
    for i, part in enumerate(parts[1:], start=2):
        found = getattr(obj, part, None)
        if found is None and inspect.ismodule(obj):
            found = _import(target, ".".join(parts[:i]))
        if found is None:
            where = f"{'module ' if inspect.ismodule(obj) else ''}{'.'.join(parts[: i - 1])}"
            raise UserError(f"_target_ {target}: {where} has no {part}. {_SPELLING}")
        obj = found
    if not (inspect.isclass(obj) and issubclass(obj, nn.Module)):
        what = "a module" if inspect.ismodule(obj) else f"a {type(obj).__name__}"
        raise UserError(f"_target_ {target} is {what}, not a torch.nn.Module class. {FIX}")
    error = _file_class_error(target, obj) if trusted is not None else None
    if error:
        raise UserError(f"{source}: {error}. Fix: mnist-exp builds only model classes from files.")
    return obj


def build_net(
    config: dict[str, Any], source: str = "the model config", trusted: tuple[str, ...] | None = None
) -> nn.Module:
    """The network a checked config describes (core/netconfig.checked_net_config); `trusted` as
    for model_class when the config comes from a file."""
    config = checked_net_config(config, source)
    cls = model_class(config["_target_"], trusted, source)
    args = {k: v for k, v in config.items() if k != "_target_"}
    try:
        inspect.signature(cls).bind(**args)
    except TypeError as err:
        names = ", ".join(inspect.signature(cls).parameters)
        raise UserError(
            f"{cls.__module__}.{cls.__qualname__} does not take the arguments of {source} ({err}); it "
            f"takes ({names}). Fix: give the model config only arguments of its class."
        ) from None
    return cls(**args)


def input_error(net: nn.Module, pad: int, num_classes: int) -> str | None:
    """Why `net` cannot classify MNIST images padded by `pad` (one forward pass of two images), or
    None; the message names the pads that do fit when any of 0-4 does."""
    name = type(net).__name__

    def problem(p: int) -> str | None:
        side = spec.image_side(p)
        try:
            with torch.no_grad():
                out = net.eval()(torch.zeros(2, 1, side, side))
        except Exception as err:
            return f"{name} fails on a batch of {side}x{side} images: {str(err).splitlines()[0]}"
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return f"{name} gives {shape} for 2 images of {side}x{side}, not (2, {num_classes}) class scores"
        return None

    error = problem(pad)
    fits = [p for p in range(5) if p != pad and problem(p) is None] if error else []
    net.train()  # as it was built
    if error is None:
        return None
    fix = " or ".join(f"data.pad={p} ({spec.image_side(p)}x{spec.image_side(p)})" for p in fits)
    return f"data.pad={pad}: {error}. Fix: {fix or 'a model whose first layers take MNIST images'}."
