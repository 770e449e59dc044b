"""Recognise a process started as one rank by torchrun, srun or mpirun.

Pure functions of an environment mapping, so they are unit-tested without
a cluster. ``tracekit collect`` runs as that rank instead of spawning ranks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tracekit.errors import TracekitError

DEFAULT_MASTER_PORT = 29500

# (launcher, rank var, world size var, local rank var, local world size var)
_SCHEMES: tuple[tuple[str, str, str, str, str], ...] = (
    ("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"),
    ("slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"),
    (
        "mpi",
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE",
    ),
    ("mpi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
)


@dataclass(frozen=True)
class RankEnv:
    """Where this process sits in a job another launcher started."""

    launcher: str
    rank: int
    world_size: int
    local_rank: (
        int | None
    )  # None: the launcher did not say (the worker then refuses to guess a GPU)
    local_world_size: int | None
    master_addr: str
    master_port: int

    def worker_env(self) -> dict[str, str]:
        """The torch.distributed ``env://`` variables for the worker process."""
        env = {"RANK": str(self.rank), "WORLD_SIZE": str(self.world_size)}
        if self.local_rank is not None:
            env["LOCAL_RANK"] = str(self.local_rank)
        env |= {"MASTER_ADDR": self.master_addr, "MASTER_PORT": str(self.master_port)}
        if self.local_world_size is not None:
            env["LOCAL_WORLD_SIZE"] = str(self.local_world_size)
        return env


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def detect_rank_env(env: Mapping[str, str]) -> RankEnv | None:
    """The rank this process was started as, or None when it runs alone.

    A job of world size 1 counts as running alone (e.g. a Slurm batch script
    outside ``srun``), so ``tracekit collect`` then spawns its own ranks.
    """
    for launcher, rank_var, size_var, local_var, local_size_var in _SCHEMES:
        rank = _int(env.get(rank_var))
        size = _int(env.get(size_var))
        if rank is None or size is None:
            continue
        if size <= 1:
            return None
        if launcher == "slurm" and "SLURM_STEP_ID" not in env:
            raise TracekitError(
                f"this is a Slurm job of {size} tasks (SLURM_NTASKS={size}) but this process"
                " was not started by srun (no SLURM_STEP_ID): it would wait for"
                f" {size - 1} other ranks that never start.",
                hint="Start one tracekit collect per task with `srun tracekit collect ...`, or"
                " run it once with SLURM_NTASKS=1 to spawn the ranks on this node.",
            )
        addr = env.get("MASTER_ADDR")
        if not addr:
            raise TracekitError(
                f"started as rank {rank} of {size} by {launcher}, but MASTER_ADDR is not set.",
                hint="Export the address of rank 0's host, e.g. "
                '`export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)`'
                " and a free MASTER_PORT, before launching.",
            )
        return RankEnv(
            launcher=launcher,
            rank=rank,
            world_size=size,
            local_rank=_int(env.get(local_var)),
            local_world_size=_int(env.get(local_size_var)),
            master_addr=addr,
            master_port=_int(env.get("MASTER_PORT")) or DEFAULT_MASTER_PORT,
        )
    return None
