"""The one private API mnist-exp still calls (docs/architecture.md, "Private APIs that stay") is
pinned: the installed Lightning must lie in the range pyproject.toml allows, and the hooks must be
there. An upgrade past the range fails here, by name, instead of miscounting steps in a user's run
(tests/test_steps_per_call.py checks the counts themselves)."""

from __future__ import annotations

from importlib.metadata import requires, version

import torch
from packaging.requirements import Requirement
from pytorch_lightning.core.optimizer import LightningOptimizer


def pinned(package: str) -> Requirement:
    for line in requires("mnist-exp") or []:
        req = Requirement(line)
        if req.name == package and req.marker is None:
            return req
    raise AssertionError(f"mnist-exp does not depend on {package}")


def test_lightning_is_pinned_to_the_verified_range() -> None:
    req = pinned("pytorch-lightning")
    assert any(spec.operator == "<" for spec in req.specifier), f"{req}: no upper bound"
    assert req.specifier.contains(version("pytorch-lightning")), (req, version("pytorch-lightning"))


def test_lightning_optimizer_still_has_its_step_accounting_hooks() -> None:
    optimizer = LightningOptimizer(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
    assert callable(optimizer._on_before_step)
    assert callable(optimizer._on_after_step)
