"""Override strings as a user types them (`data.batch_size=64`) and the job names made of them.

Plain string work, no Hydra parser: the run records, the sweep report and the config set-up all
read overrides, so this sits at the bottom.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence

SWEPT_ENV = "MNIST_EXP_SWEPT"  # the keys this sweep varies, for naming its job folders
# overrides that say where things are, not what is trained: never part of a job's name
NOT_IN_NAME = ("data.root", "paths.", "hydra.", "trainer.limit_", "trainer.enable_", "callbacks.", "debug")


def split_override(override: str) -> tuple[str, str] | None:
    """`+data.batch_size=64` -> ("data.batch_size", "64"); None for a deletion without value."""
    if "=" not in override:
        return None
    key, value = override.split("=", 1)
    return key.lstrip("+~"), value


def override_pairs(overrides: Sequence[object]) -> dict[str, str]:
    """Overrides as {key: value}; a later override of the same key wins, as in Hydra."""
    return dict(filter(None, (split_override(str(o)) for o in overrides)))


def job_name(overrides: Sequence[str], num: int | str = 0) -> str:
    """A job's folder (and TensorBoard run) name: its swept overrides with short keys,
    e.g. `batch_size=64,lr=0.01`. The job number is the name only when nothing varies."""
    swept = os.environ.get(SWEPT_ENV)  # unset outside a sweep started by mnist-exp-train
    keys = set(filter(None, swept.split(","))) if swept is not None else None
    items = []
    for override in overrides:
        pair = split_override(str(override))
        if pair is None:
            continue
        if keys is not None and pair[0] not in keys:
            continue
        if keys is None and pair[0].startswith(NOT_IN_NAME):
            continue
        items.append(pair)
    short = [key.rsplit(".", 1)[-1] for key, _ in items]
    if len(set(short)) < len(short):  # e.g. model.hidden and other.hidden: keep full keys
        short = [key for key, _ in items]
    name = ",".join(f"{s}={value}" for s, (_, value) in zip(short, items, strict=True))
    name = re.sub(r"[/\\\s:*?\"<>|']", "_", name)
    if not name:
        return str(num)
    if len(name) > 150:  # folder names have limits: keep it readable and unique
        name = f"{name[:120]}_{hashlib.sha1(name.encode()).hexdigest()[:10]}"
    return name
