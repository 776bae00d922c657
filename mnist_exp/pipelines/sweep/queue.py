"""SLURM's queue as a sweep waits on it: each job's state and, while it is pending, SLURM's reason;
the reasons that mean SLURM will never start the job, in words, with the fix."""

from __future__ import annotations

import subprocess
import time

from mnist_exp.core.errors import UserError

# states a job leaves the queue in for good (a requeued job comes back PENDING)
ENDED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY"}
ENDED |= {"BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"}
_FEWER = (
    "ask for what a node of the partition has (`sinfo -o '%P %c %D'` shows its CPUs and nodes): e.g. "
    "hydra.launcher.cpus_per_task=1, fewer hydra.launcher.tasks_per_node or trainer.devices"
)
# SLURM's pending reasons that do not pass by waiting: what they mean, and the fix
NEVER = {
    "PartitionConfig": (
        "the job asks for more CPUs, memory or tasks than the partition's nodes have",
        _FEWER,
    ),
    "PartitionNodeLimit": ("the job asks for more nodes than the partition allows", _FEWER),
    "PartitionTimeLimit": (
        "the job's time limit is above the partition's",
        "a shorter hydra.launcher.timeout_min (`sinfo -o '%P %l'` shows the limit)",
    ),
    "ReqNodeNotAvail": (
        "the nodes the job needs are down or drained",
        "ask the cluster's admins, or choose another hydra.launcher.partition",
    ),
    "BadConstraints": ("no node has the features the job asks for", "remove or change the constraint"),
    "InvalidAccount": (
        "the job's account is not valid",
        "a valid hydra.launcher.additional_parameters account",
    ),
    "InvalidQOS": ("the job's QOS is not valid", "a valid hydra.launcher.qos"),
}


def squeue_states() -> dict[str, tuple[str, str]]:
    """This user's jobs in SLURM's queue (array tasks one by one): id -> (state, reason); retried
    while the controller does not answer, or answers too slowly, for up to a few minutes."""
    command = ["squeue", "-h", "-r", "--states=all", "--me", "-o", "%i %T %r"]
    why = "no answer"
    for attempt in range(12):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            why = "no answer within 60 s"
        else:
            if done.returncode == 0:
                rows = [line.split(maxsplit=2) for line in done.stdout.splitlines()]
                return {r[0]: (r[1], r[2] if len(r) > 2 else "") for r in rows if len(r) >= 2}
            why = done.stderr.strip()
        time.sleep(5 if attempt else 1)
    raise UserError(f"squeue does not answer ({why}). Fix: check the cluster (`sinfo`).")


def never_starts(reason: str) -> tuple[str, str] | None:
    """(what it means, the fix) when a pending job's reason means SLURM will never start it."""
    name = reason.strip("()").split(",")[0].strip()
    return NEVER.get(name)


def cancel(job_ids: list[str]) -> None:
    subprocess.run(["scancel", *job_ids], capture_output=True, timeout=60, check=False)
