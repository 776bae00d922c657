"""Plain-text result tables (Markdown): percentages and cells escaped as data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def percent(value: float | None, std: float | None = None) -> str:
    """A fraction as a percentage with 2 decimals (and ± its std); blank when there is none."""
    if value is None:
        return ""
    return f"{100 * value:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")


# what would make a cell more than text: HTML, a link or image, code, a new column or row
_MARKUP = str.maketrans({c: f"\\{c}" for c in "\\`[]<>|"} | {"\n": " ", "\r": " "})


def cell(value: Any) -> str:
    """A value as plain text inside a Markdown table: a folder name, an override or an error from
    a folder is data, so its Markdown and HTML characters are escaped, not rendered."""
    return str(value).translate(_MARKUP)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
