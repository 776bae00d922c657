"""`provenance.json`: what code and environment produced a run, written at its start and once more
at every resume or requeue (each start appended, the first never lost), beside `provenance.patch`
(the uncommitted changes of the git tree the command ran in).

Torch-free and quick (about 20 ms, docs/performance.md): installed versions are read from the
distributions' folder names (`torch-2.14.1.dist-info`, what `pip freeze` lists) without running pip
or parsing every METADATA file; git runs two or three plumbing commands. What torch and the device
report comes from the caller (records/machine.py), which has torch imported already. Nothing secret
goes in: no environment variables wholesale, and a password in a URL on the command line is masked.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mnist_exp
from mnist_exp.core.datasets import FOLDER, preset
from mnist_exp.core.targets import own_data

FILE = "provenance.json"
PATCH = "provenance.patch"
NATIVE_BF16 = {"avx512_bf16", "amx_bf16", "bf16"}  # x86's two, aarch64's
PATCH_CAP = 1 << 20  # bytes of a diff kept; a bigger one is cut there and says so
SLURM_VARS = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "node": "SLURMD_NODENAME",
    "restart_count": "SLURM_RESTART_COUNT",
    "partition": "SLURM_JOB_PARTITION",
}


def packages() -> dict[str, str]:
    """{distribution: version} of everything importable, from the `.dist-info` folder names."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = [e.name for e in os.scandir(entry or ".") if e.name.endswith(".dist-info")]
        except OSError:
            continue
        for name in names:
            dist, _, version = name[: -len(".dist-info")].partition("-")
            found.setdefault(re.sub(r"[-_.]+", "-", dist).lower(), version)
    return dict(sorted(found.items()))


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(folder: Path, leave_out: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str]:
    """The git work tree holding `folder`: commit, branch, dirty, and the uncommitted diff of its
    tracked files. Dirty means what `git describe --dirty` means, tracked files changed; untracked
    files (a `__pycache__/`, new files) are named but not counted, and not in the diff, as in W&B's
    diff.patch. What lies in `leave_out` (the runs' log folder and the run's own) is left out."""
    root = (_git(folder, "rev-parse", "--show-toplevel") or "").strip()
    if not root:
        why = "git is not installed" if _git(Path("/"), "--version") is None else "not in a git work tree"
        return {"folder": str(folder), "note": why}, ""
    spec = ["--", ":/", *_exclude(Path(root), leave_out)]
    status = _git(folder, "status", "--porcelain=v2", "--branch", *spec) or ""
    head = dict(re.findall(r"^# branch\.(\w+) (.*)$", status, re.M))
    changed = [line.split()[-1] for line in status.splitlines() if line[:1] in "12u"]
    untracked = [line[2:] for line in status.splitlines() if line.startswith("? ")]
    info = {
        "root": root,
        "commit": head.get("oid"),
        "branch": head.get("head"),
        "dirty": bool(changed),  # as `git describe --dirty`: tracked files changed
        "changed": changed[:50],
        "untracked": untracked[:50],
    }
    return info, (_git(folder, "diff", "HEAD", *spec) or "") if changed else ""


def _exclude(root: Path, leave_out: tuple[Path, ...]) -> list[str]:
    inside = [p.resolve() for p in leave_out if p.resolve().is_relative_to(root.resolve())]
    return [f":(top,exclude){p.relative_to(root.resolve())}" for p in inside]


def code_source() -> dict[str, Any]:
    """Where mnist-exp itself was imported from: an installed wheel, or a checkout (editable or on
    PYTHONPATH) and that checkout's commit."""
    package = Path(mnist_exp.__file__).resolve().parent
    info: dict[str, Any] = {"version": mnist_exp.__version__, "path": str(package)}
    if "site-packages" in package.parts or "dist-packages" in package.parts:
        return {**info, "source": "wheel"}
    git, _ = git_state(package.parent)
    return {**info, "source": "checkout", **{k: git.get(k) for k in ("commit", "dirty", "note") if k in git}}


def _command() -> list[str]:
    """The command line, with a password in a URL (`https://user:secret@host`) masked."""
    return [re.sub(r"(://[^/:@\s]+):[^@/\s]+@", r"\1:***@", word) for word in sys.argv]


def data_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """Which dataset was read and where, and the checksums its files were checked against at load
    (`data`: the data config): MNIST's files' own SHA-256, the published archives' MD5 for the rest
    of the family, or the user's `data.checksums` in their place."""
    if not own_data(data):  # a user's DataModule: its class, as the config names it
        return {
            "dataset": str(data.get("_target_")),
            "folder": None,
            "sha256_verified": False,
            "sha256": None,
        }
    if data.get("dataset") == FOLDER:  # the user's images: where they are (a digest is in the log)
        folder = str(Path(str(data["root"])).expanduser().resolve())
        return {
            "dataset": FOLDER,
            "folder": folder,
            "sha256_verified": False,
            "sha256": None,
            "checksums": None,
        }
    kind = preset(str(data.get("dataset", "mnist")))
    verified = bool(data.get("verify"))
    folder = Path(str(data["root"])).expanduser().resolve() / kind.folder / "raw"
    sums = {**kind.sums, **(data.get("checksums") or {})} if verified else None
    return {
        "dataset": kind.name,
        "folder": str(folder),
        "sha256_verified": verified,
        "sha256": sums if sums and all(len(v) == 64 for v in sums.values()) else None,
        "checksums": sums,
    }


@functools.cache
def _cpuinfo(*keys: str) -> str | None:
    """The first value of any of `keys` in /proc/cpuinfo (None where it has none, or no such file);
    read once per process."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(keys):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The CPU model as the kernel names it (platform.processor() says only 'x86_64' on Linux)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel lists them (empty where there is no /proc/cpuinfo)."""
    return set((_cpuinfo("flags", "Features") or "").split())  # x86, aarch64


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, e.g. a SLURM or taskset allocation)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def native_bf16(flags: set[str], onednn_bf16: bool) -> bool:
    """bf16 in hardware (a flag of NATIVE_BF16) that oneDNN may also use: the one rule that the
    machine record's `native_bf16` and the emulation warning share."""
    return bool(flags & NATIVE_BF16) and onednn_bf16


def bf16_note(
    precision: str, device_type: str, flags: set[str], capability: str, onednn_bf16: bool = True
) -> str | None:
    """One line for a bf16 run on a CPU that computes bf16 by emulation, where it is several times
    slower than 32-bit (measured: docs/performance.md): no AVX512-BF16, AMX or Arm's BF16 among its
    flags, or oneDNN barred from bf16 (`onednn_bf16` False, e.g. under ONEDNN_MAX_CPU_ISA=AVX2).
    None where bf16 is native, on a GPU, or where the flags cannot be read."""
    if "bf16" not in precision or device_type != "cpu" or not flags:
        return None
    if native_bf16(flags, onednn_bf16):
        return None
    why = (
        "no avx512_bf16, amx_bf16 or bf16 among its flags"
        if not flags & NATIVE_BF16
        else f"oneDNN may not use them here, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '?')}"
    )
    return (
        f"trainer.precision={precision} on a CPU without native bf16 (torch's CPU capability: {capability}; "
        f"{why}): bf16 is emulated here, slower than 32-bit. Fix: trainer.precision=32-true."
    )


def collect(
    machine: dict[str, Any], data: dict[str, Any], leave_out: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], str]:
    """One start's record, and the uncommitted diff of the git tree the command runs in."""
    cwd = Path.cwd()
    git, patch = git_state(cwd, leave_out)
    entry = {
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mnist_exp": code_source(),
        "git": git,
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "command": _command(),
        "cwd": str(cwd),
        "slurm": {k: os.environ[v] for k, v in SLURM_VARS.items() if v in os.environ} or None,
        **machine,
        "data": data,
        "packages": packages(),
    }
    return entry, patch


MAX_BYTES = 20_000_000  # a start records a few hundred packages: some 30 kB each


def _typed_start(entry: dict[str, Any]) -> dict[str, Any]:
    """A start as the readers expect it: a part of the wrong type (a folder is data) is left out."""
    mappings = ("mnist_exp", "git", "torch", "device", "python", "data", "slurm", "local_config")
    out = {k: v for k, v in entry.items() if k not in mappings or isinstance(v, dict)}
    packages = out.get("packages")
    if not (isinstance(packages, dict) and all(isinstance(v, str) for v in packages.values())):
        out.pop("packages", None)
    command = out.get("command")
    if not (isinstance(command, list) and all(isinstance(w, str) for w in command)):
        out.pop("command", None)
    return out


def read_starts(run_dir: Path) -> list[dict[str, Any]]:
    """Every start's record, the first first; [] for a run made before provenance was recorded
    (or whose provenance.json is a link, huge, or not mnist-exp's)."""
    path = run_dir / FILE
    try:
        if path.is_symlink() or path.stat().st_size > MAX_BYTES:
            return []
        starts = json.loads(path.read_text()).get("starts") or []
    except (OSError, ValueError, AttributeError, RecursionError):
        return []
    return [_typed_start(e) for e in starts if isinstance(e, dict)] if isinstance(starts, list) else []


def record(run_dir: Path, entry: dict[str, Any], patch: str) -> list[dict[str, Any]]:
    """Append this start to provenance.json (written then renamed), its diff beside it; return
    every start so far."""
    starts = read_starts(run_dir)
    entry = {"start": len(starts) + 1, **entry}
    if patch:
        name = PATCH if not starts else f"provenance.{len(starts) + 1}.patch"
        data = patch.encode()
        if len(data) > PATCH_CAP:
            data = data[:PATCH_CAP] + f"\n# cut here: the diff has {len(data)} bytes\n".encode()
        (run_dir / name).write_bytes(data)
        entry["git"] = {**entry["git"], "patch": name, "patch_bytes": len(patch.encode())}
    starts.append(entry)
    tmp = run_dir / f".{FILE}.tmp"
    tmp.write_text(json.dumps({"format": 1, "starts": starts}, indent=1, default=str))
    os.replace(tmp, run_dir / FILE)
    return starts


def items(entry: dict[str, Any], packages: bool = True) -> dict[str, str]:
    """What a start ran with, as comparable words: the code, the interpreter, torch's build, the
    device, and each installed package's version."""
    code, git = entry.get("mnist_exp") or {}, entry.get("git") or {}
    torch, device = entry.get("torch") or {}, entry.get("device") or {}
    out = {
        "mnist-exp code": " ".join(filter(None, [code.get("version"), code.get("source"), _commit(code)])),
        "commit": _commit(git) or str(git.get("note", "")),
        "python": str((entry.get("python") or {}).get("version", "")),
        "torch build": f"CUDA {torch.get('cuda') or 'none'}, cuDNN {torch.get('cudnn') or 'none'}",
        "device": f"{device.get('name', '')} ({device.get('type', '?')})" if device else "",
        "threads": str(device.get("threads", "")),
    }
    out = {k: v for k, v in out.items() if v}
    return {**out, **(entry.get("packages") or {})} if packages else out


def _commit(git: dict[str, Any]) -> str:
    commit = str(git.get("commit") or "")[:10]
    return f"{commit} (dirty)" if commit and git.get("dirty") else commit


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """`torch 2.14.1 vs 2.5.1`, `commit 3f2a… (dirty) vs 9c1b…`: each item that differs."""
    first, second = items(a), items(b)
    keys = list(dict.fromkeys([*first, *second]))
    return [
        f"{k} {first.get(k, 'absent')} vs {second.get(k, 'absent')}"
        for k in keys
        if first.get(k) != second.get(k)
    ]


def lines(entry: dict[str, Any]) -> list[str]:
    """The record in one line per item (TensorBoard's text tab), the package list by count."""
    shown = items(entry, packages=False)
    shown["host"] = str(entry.get("host", ""))
    shown["command"] = " ".join(entry.get("command") or [])
    if entry.get("slurm"):
        shown["slurm"] = ", ".join(f"{k} {v}" for k, v in entry["slurm"].items())
    data = entry.get("data") or {}
    shown["data"] = " ".join(str(data[k]) for k in ("dataset", "folder") if data.get(k))
    shown["packages"] = f"{len(entry.get('packages') or {})} (in provenance.json)"
    local = entry.get("local_config")
    if isinstance(local, dict) and local.get("file"):
        shown["local config"] = f"{local['file']} (sha256 {str(local.get('sha256', ''))[:12]})"
    return [f"{k}: {v}" for k, v in shown.items()]


def requirements(entry: dict[str, Any]) -> str:
    """The package list as `pip freeze` writes it."""
    return "".join(f"{name}=={version}\n" for name, version in (entry.get("packages") or {}).items())


def datasets(folders: list[Path]) -> list[str]:
    """The data the runs trained on, as their first starts recorded it (a preset's name, `folder`,
    or a user's data module's class), each once, in order of appearance."""
    names = [
        str((starts[0].get("data") or {}).get("dataset") or "")
        for starts in map(read_starts, folders)
        if starts
    ]
    return list(dict.fromkeys(n for n in names if n))


def varying(folders: list[Path]) -> tuple[list[str], list[dict[str, str]]]:
    """The items of the runs' first starts that are not the same in every run that recorded them,
    and each run's values of them (`(not recorded)` for a run made before provenance existed)."""
    values = []
    for folder in folders:
        starts = read_starts(folder)
        values.append(items(starts[0]) if starts else {})
    recorded = [v for v in values if v]
    keys = list(dict.fromkeys(k for v in recorded for k in v))
    keys = [k for k in keys if len({v.get(k, "absent") for v in recorded}) > 1]
    return keys, [{k: v.get(k, "absent") if v else "(not recorded)" for k in keys} for v in values]


def spread(keys: list[str], rows: list[dict[str, str]]) -> list[str]:
    """`torch 2.14.1 vs 2.5.1`: each varying item with its distinct values, in the runs' order."""
    return [f"{k} {' vs '.join(dict.fromkeys(r[k] for r in rows))}" for k in keys]
