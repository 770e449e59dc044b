"""Rank 0 writes the manifest only once every rank's trace is complete.

Started by torchrun, srun or mpirun, each rank is its own ``tracekit collect``
process: it writes its trace (and, with nsys, exports its report) and then a
marker ``rank<r>.done`` into the shared ``--out``. The process of rank 0 waits
for the markers of the other ranks before it writes ``manifest.json``, and names
the ranks whose marker did not come. A marker carries the job's identity (the
launcher's rendezvous and job ids), so one left by an earlier job is not taken
for this one's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

DONE_SUFFIX = ".done"
_JOB_VARS = (
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "OMPI_MCA_ess_base_jobid",
    "PMI_ID",
)
WAIT_RANKS_S = 600.0
"""Default time rank 0 waits for the other ranks' traces."""


def job_key(env: Mapping[str, str]) -> str:
    """What every rank of one launch sees alike: rendezvous address and job ids."""
    return " ".join(f"{name}={env[name]}" for name in _JOB_VARS if name in env)


def done_path(out: Path, rank: int) -> Path:
    return out / f"rank{rank}{DONE_SUFFIX}"


def mark_done(out: Path, rank: int, env: Mapping[str, str]) -> None:
    """Say that this rank's files in ``out`` are complete."""
    done_path(out, rank).write_text(json.dumps({"rank": rank, "job": job_key(env)}))


def _is_done(out: Path, rank: int, job: str) -> bool:
    try:
        return json.loads(done_path(out, rank).read_text()).get("job") == job
    except (OSError, ValueError, AttributeError):
        return False


def wait_for_ranks(
    out: Path, ranks: Sequence[int], env: Mapping[str, str], timeout_s: float, poll_s: float = 0.2
) -> tuple[int, ...]:
    """Wait until every rank in ``ranks`` has marked this job done; the ranks that
    did not within ``timeout_s``. A rank with no log in ``out`` writes its files on
    another host's disk (``out`` is not shared with it): it is not waited for."""
    job = job_key(env)
    waiting = [r for r in ranks if (out / f"rank{r}.log").exists()]
    deadline = time.monotonic() + timeout_s
    while True:
        waiting = [r for r in waiting if not _is_done(out, r, job)]
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    for rank in ranks:
        if rank not in waiting and _is_done(out, rank, job):
            done_path(out, rank).unlink(missing_ok=True)
    return tuple(r for r in ranks if r in waiting or not (out / f"rank{r}.log").exists())


def missing_message(out: Path, missing: Sequence[int], timeout_s: float) -> str:
    """The manifest's ``error`` for ranks whose traces are not complete in ``out``."""
    names = ", ".join(str(r) for r in missing)
    return (
        f"rank {names}: no complete trace in {out} after waiting {timeout_s:g} s (the rank"
        " failed or is still exporting, or --out is not a folder shared with its host);"
        " copy its rank<r>.* files here before importing"
    )
