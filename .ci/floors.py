"""The lowest versions pyproject.toml allows, as pip constraints (`name==floor`), and a check that
a venv holds exactly them. Used by .ci/floors: every floor is one a test run has used.

    python .ci/floors.py constraints   # print the constraints
    python .ci/floors.py check         # in the floors venv: each installed version is its floor
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

# Not installable at their floors on the CI machine: its package index holds torch 2.14.1 and
# torchvision 0.29.1 (a 2.13 CPU torch lies on disk, but no torchvision that loads against it), so
# these two are tested at 2.14.1 / 0.29.1 only; pyproject.toml's comment says so.
UNTESTABLE = {"torch", "torchvision"}
# Pins of packages mnist-exp does not depend on directly, where a floor needs an older one than pip
# would pick today: tensorboard < 2.21 imports pkg_resources, which setuptools 81 removed (its
# `tensorboard --logdir` server would not start).
TRANSITIVE = ["setuptools<81"]


def floors() -> dict[str, str]:
    """Each dependency and extra of mnist-exp, with the version its `>=` names."""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    lines = [*project["dependencies"], *(line for deps in extras for line in deps)]
    found = {}
    for line in lines:
        req = Requirement(line)
        if req.name == project["name"] or req.name in UNTESTABLE:
            continue
        lows = [spec.version for spec in req.specifier if spec.operator == ">="]
        if len(lows) != 1:
            raise SystemExit(f"{line}: no single >= floor (every dependency needs one)")
        found[req.name] = lows[0]
    return found


def main(what: str) -> None:
    if what == "constraints":
        print("\n".join([*(f"{name}=={low}" for name, low in floors().items()), *TRANSITIVE]))
        return
    low_of = floors().items()
    wrong = [
        f"{name} {version(name)} (floor {low})"
        for name, low in low_of
        if Version(version(name)) != Version(low)
    ]
    if wrong:
        raise SystemExit("not at their floors: " + ", ".join(wrong))
    print("at their floors: " + ", ".join(f"{name} {low}" for name, low in floors().items()))


if __name__ == "__main__":
    main(sys.argv[1])
