"""MLflow store URIs, read in one place: which name an SQLite file and where it lies. Plain string
work (no MLflow): the start-up checks, the MLflow logger and a sweep's parent run all read them."""

from __future__ import annotations

from pathlib import Path

SQLITE = "sqlite:///"


def sqlite_path(uri: str) -> Path | None:
    """The file an `sqlite:///...` URI names (relative to the current folder unless absolute);
    None for any other store."""
    return Path(uri[len(SQLITE) :]) if uri.startswith(SQLITE) else None


def absolute_uri(uri: str) -> str:
    """`sqlite:///outputs/mlflow.db` is relative to the folder a process runs in; a job (SLURM,
    joblib) may change folders, so the path is made absolute from the folder the run starts in."""
    path = sqlite_path(uri)
    return SQLITE + str(path.resolve()) if path is not None and not path.is_absolute() else uri
