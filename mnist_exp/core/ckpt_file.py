"""What a checkpoint file must be before torch opens it (torch-free, so that a wrong path or a
file that is no checkpoint at all is refused at once, without the seconds torch takes to import)."""

from __future__ import annotations

from pathlib import Path

from mnist_exp.core.errors import UserError

ZIP = b"PK\x03\x04"  # torch.save's format since torch 1.6
PICKLE = b"\x80"  # torch.save's older format (_use_new_zipfile_serialization=False) starts as a pickle


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint's path, once it names a file in one of torch.save's formats; else a UserError."""
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise UserError(
            f"Checkpoint {path} does not exist. Fix: pass ckpt_path=<run dir>/checkpoints/last.ckpt "
            "(or another .ckpt) of a finished run."
        )
    with path.open("rb") as f:
        head = f.read(len(ZIP))
    if not (head.startswith(ZIP) or head.startswith(PICKLE)):
        raise UserError(
            f"{path} is not a mnist-exp checkpoint (not a file torch.save wrote). "
            "Fix: pass a .ckpt written by mnist-exp-train."
        )
    return path
