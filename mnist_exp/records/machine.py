"""What torch and the device report, for the run's provenance, and the provenance shared with the
run's trackers: torch is imported here (the training stack has it already); the record itself is
written by the torch-free records/provenance.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from mnist_exp.records import provenance
from mnist_exp.records.trackers import Tracker

log = logging.getLogger("mnist_exp.train")


def machine(trainer: pl.Trainer) -> dict[str, Any]:
    """torch's build and the device the run trains on, with its threads."""
    root = trainer.strategy.root_device
    on_cpu = root.type == "cpu"
    gpu = torch.cuda.get_device_name(root) if root.type == "cuda" else str(root)
    name = provenance.cpu_name() if on_cpu else gpu
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "torch": {"version": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn},
        "device": {
            "type": str(root),
            "name": name,
            "devices": trainer.num_devices,
            "threads": torch.get_num_threads(),
            "cpus": provenance.usable_cpus(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": provenance.native_bf16(provenance.cpu_flags(), onednn_bf16()) if on_cpu else None,
        },
    }


def record_provenance(
    run_dir: Path,
    trainer: pl.Trainer,
    data: dict[str, Any],
    log_dir: Path,
    loggers: list[Any],
    local: dict[str, str] | None = None,
) -> None:
    """Append this start to provenance.json; on a resume or requeue, one line saying what differs
    from the first start; the trackers get the first start. `local`: the local config composed."""
    entry, patch = provenance.collect(machine(trainer), data, leave_out=(log_dir, run_dir))
    entry["local_config"] = local
    starts = provenance.record(run_dir, entry, patch)
    if len(starts) > 1:
        changed = provenance.differences(starts[0], starts[-1])
        if changed:
            log.info("This start's environment differs from the run's first: %s", "; ".join(changed))
    for logger in loggers:
        if isinstance(logger, Tracker):
            logger.record_provenance(starts[0])
        elif isinstance(logger, TensorBoardLogger):
            text = "  \n".join(provenance.lines(starts[-1]))
            logger.experiment.add_text("provenance", text, global_step=len(starts) - 1)


def onednn_bf16() -> bool:
    """Whether oneDNN, which runs the convolutions and matrix products, may compute in bf16 here:
    False on CPUs without AVX-512 and where ONEDNN_MAX_CPU_ISA caps it below them, even on a CPU
    whose flags list bf16 (torch then falls back to slow non-oneDNN kernels, measured 4.6-6.5x
    slower than 32-bit). A private torch op (docs/architecture.md); True where it is missing."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else True


def warn_emulated_bf16(trainer: pl.Trainer) -> None:
    """bf16 chosen where the CPU only emulates it: one line, with what torch reports."""
    note = provenance.bf16_note(
        str(trainer.precision),
        trainer.strategy.root_device.type,
        provenance.cpu_flags(),
        torch.backends.cpu.get_cpu_capability(),
        onednn_bf16(),
    )
    if note:
        log.warning(note)
