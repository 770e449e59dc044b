"""Build the Nsight Systems command lines ``tracekit collect`` runs.

One ``nsys profile`` per rank, writing ``DIR/rank<r>.nsys-rep``; after the
rank exits, ``nsys export`` to SQLite with blobs (NCCL payloads carry the
message sizes). Pure functions over argument lists: the tests check them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tracekit.errors import TracekitError

# No osrt: OS-runtime tracing adds heavy NCCL proxy-thread traffic and nothing tracekit reads.
PROFILE_FLAGS: tuple[str, ...] = (
    "-t",
    "cuda,nvtx",
    "--cuda-graph-trace=node",
    "--trace-fork-before-exec=true",
)
CAPTURE_FLAGS: tuple[str, ...] = ("--capture-range=cudaProfilerApi", "--capture-range-end=stop")
QUIET_FLAGS: tuple[str, ...] = ("-s", "none", "--cpuctxsw=none")

TORCHRUN_FLAGS_WITHOUT_VALUE = frozenset(
    {
        "--standalone",
        "--no-python",
        "--no_python",
        "-m",
        "--module",
        "--run-path",
        "--run_path",
        "--virtual-local-rank",
        "--virtual_local_rank",
    }
)


NSYS_DIRS = (
    "/opt/nvidia/nsight-systems*/*/bin",
    "/opt/nvidia/nsight-systems*/bin",
    "/usr/local/cuda*/bin",
)


def locate_nsys() -> str | None:
    """``nsys`` on PATH, else in the usual install folders (newest last-sorted first)."""
    found = shutil.which("nsys")
    if found:
        return found
    for pattern in NSYS_DIRS:
        for folder in sorted(glob.glob(pattern), reverse=True):
            candidate = Path(folder) / "nsys"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def find_nsys() -> str:
    """The ``nsys`` executable (see locate_nsys), or a TracekitError saying how to get one."""
    found = locate_nsys()
    if found is None:
        raise TracekitError(
            "nsys (Nsight Systems) is not on PATH, so this run cannot be profiled with it.",
            hint="Install Nsight Systems or load its module (e.g. `module load nsight-systems`), "
            "or use `--profiler torch`. `--dry-run` prints the commands without nsys.",
        )
    return found


def profile_argv(output: str, *, capture_api: bool, nsys: str = "nsys") -> list[str]:
    """``nsys profile ...`` up to (not including) the profiled command.

    ``output`` is the report path without ``.nsys-rep``; it may contain
    ``%q{VAR}``, which nsys expands from the profiled process's environment.
    """
    argv = [nsys, "profile", *PROFILE_FLAGS]
    if capture_api:
        argv += CAPTURE_FLAGS
    return [*argv, *QUIET_FLAGS, "-o", output, "--force-overwrite=true"]


BLOBS_FLAG = "--include-blobs"
"""Not in every nsys version: ``export_blobs`` probes for it."""


def export_blobs(nsys: str) -> bool:
    """Whether this ``nsys export`` takes ``--include-blobs`` (asked once, from its help)."""
    try:
        done = subprocess.run(
            [nsys, "export", "--help"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and BLOBS_FLAG in done.stdout + done.stderr


def export_argv(
    report: Path, nsys: str = "nsys", output: Path | None = None, *, blobs: bool = True
) -> list[str]:
    """``nsys export`` of one report to ``output`` (default ``<report stem>.sqlite``),
    blobs in when ``blobs`` (NCCL message sizes come from them)."""
    return [
        nsys,
        "export",
        "--type",
        "sqlite",
        *([f"{BLOBS_FLAG}=true"] if blobs else []),
        "--force-overwrite=true",
        "--output",
        str(output or report.with_suffix(".sqlite")),
        str(report),
    ]


def is_torchrun(cmd: Sequence[str]) -> bool:
    if not cmd:
        return False
    if os.path.basename(cmd[0]) == "torchrun":
        return True
    return len(cmd) >= 3 and cmd[1] == "-m" and cmd[2] == "torch.distributed.run"


def wrap_torchrun(cmd: Sequence[str], profile: Sequence[str], python: str) -> list[str]:
    """Put ``nsys profile`` inside a torchrun command, so each rank gets its own
    report: ``torchrun OPTS --no-python nsys profile ... python SCRIPT ARGS``."""
    head = 1 if os.path.basename(cmd[0]) == "torchrun" else 3
    i = head
    no_python = module = False
    while i < len(cmd) and cmd[i].startswith("-"):
        flag = cmd[i]
        if flag in ("--no-python", "--no_python"):
            no_python = True
        elif flag in ("-m", "--module"):
            module = True
        i += 1 if flag in TORCHRUN_FLAGS_WITHOUT_VALUE or "=" in flag else 2
    if i >= len(cmd):
        raise TracekitError(
            f"cannot find the training script in the torchrun command: {' '.join(cmd)}",
            hint="Expected `torchrun [OPTIONS] SCRIPT [ARGS...]`.",
        )
    options = [c for c in cmd[head:i] if c not in ("--no-python", "--no_python", "-m", "--module")]
    program = [cmd[i]] if no_python else [python, *(["-m"] if module else []), cmd[i]]
    return [*cmd[:head], *options, "--no-python", *profile, *program, *cmd[i + 1 :]]
