"""A run's offline W&B records, read from its `.wandb` files with W&B's own record definitions (a
LevelDB-style log of protobuf records: 32 KiB blocks, a 7-byte header per piece), one offline run
folder per start, in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK = 32768


def records(run: Path) -> list[Any]:
    """Every record of the run's offline W&B runs, in the order written."""
    out = []
    for path in sorted(run.glob("wandb/offline-run-*/run-*.wandb"), key=lambda p: p.parent.name):
        data, pos, chunk = path.read_bytes(), 7, b""
        assert data[:4] == b":W&B"
        while pos + 7 <= len(data):
            if BLOCK - pos % BLOCK < 7:  # a block's tail too short for a record header: padding
                pos += BLOCK - pos % BLOCK
                continue
            length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
            chunk, pos = chunk + data[pos + 7 : pos + 7 + length], pos + 7 + length
            if kind in (1, 4):  # a whole record, or the last piece of one
                record = wandb_internal_pb2.Record()
                record.ParseFromString(chunk)
                out.append(record)
                chunk = b""
    return out


def _items(record: Any, field: str) -> dict[str, Any]:
    items = getattr(record, field).update if field in ("config", "summary") else record.history.item
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


def history(run: Path) -> list[dict[str, Any]]:
    """The history rows, in order."""
    return [_items(r, "history") for r in records(run) if r.WhichOneof("record_type") == "history"]


def merged(run: Path, field: str) -> dict[str, Any]:
    """The run's config or summary as W&B ends up with it: every update in order, the last one wins."""
    out: dict[str, Any] = {}
    for record in records(run):
        if record.WhichOneof("record_type") == field:
            out.update(_items(record, field))
    return out


def files(run: Path) -> set[str]:
    """The paths of the files the run saved (wandb.save)."""
    return {f.path for r in records(run) if r.WhichOneof("record_type") == "files" for f in r.files.files}
