"""What an nsys report may tell about its environment, and what must never be kept.

Nsight Systems stores the profiled process's whole environment (tokens, API
keys, passwords) in ``TARGET_INFO_SYSTEM_ENV`` (row ``DeviceEnvironment``) and
in ``META_DATA_CAPTURE``. Only an allow-list of names survives, and even an
allowed name is dropped when its name or value looks like a credential.
"""

from __future__ import annotations

import re

from tracekit.errors import InputError

ALLOWED_NAMES = re.compile(
    r"^(NCCL_\w*|TORCH_NCCL_\w*|CUDA_VISIBLE_DEVICES|CUDA_DEVICE_MAX_CONNECTIONS|RANK|"
    r"LOCAL_RANK|GROUP_RANK|NODE_RANK|WORLD_SIZE|LOCAL_WORLD_SIZE|MASTER_ADDR|MASTER_PORT|"
    r"OMP_NUM_THREADS|OMPI_COMM_WORLD_RANK|OMPI_COMM_WORLD_SIZE|OMPI_COMM_WORLD_LOCAL_RANK|"
    r"SLURM_PROCID|SLURM_LOCALID|SLURM_NTASKS)$"
)
CREDENTIAL_NAME = re.compile(
    r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE
)
# A long run of base64/hex-ish characters holding both letters and digits.
CREDENTIAL_VALUE = re.compile(
    r"(?=[A-Za-z0-9+/=_]*\d)(?=[A-Za-z0-9+/=_]*[A-Za-z])[A-Za-z0-9+/=_]{20,}"
)
_SEPARATORS = re.compile(r"[;\n\x00]")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def safe_env(texts: list[str]) -> dict[str, str]:
    """Allow-listed, credential-free ``NAME=value`` pairs found in ``texts``."""
    kept: dict[str, str] = {}
    for text in texts:
        for item in _SEPARATORS.split(text):
            match = _ASSIGNMENT.match(item.strip())
            if not match:
                continue
            name, value = match.groups()
            if not ALLOWED_NAMES.match(name) or CREDENTIAL_NAME.search(name):
                continue
            if CREDENTIAL_VALUE.search(value) or CREDENTIAL_NAME.search(value):
                continue
            kept[name] = value
    return kept


RankMap = dict[tuple[str | None, int], int]


def parse_rank_map(specs: list[str] | None) -> RankMap:
    """Parse ``[REPORT:]PID=RANK[,PID=RANK...]`` specs into {(report name or None, pid): rank}.

    REPORT is a file name (``run1.sqlite``) or its stem; without it the pairs
    apply to every report of the import.
    """
    mapping: RankMap = {}
    for spec in specs or []:
        report, _, pairs = spec.rpartition(":")
        for pair in pairs.split(","):
            pid, eq, rank = pair.strip().partition("=")
            if not eq or not pid.strip().isdigit() or not rank.strip().isdigit():
                raise InputError(
                    f"--rank-map {spec!r}: expected [REPORT:]PID=RANK[,PID=RANK...]",
                    "Example: --rank-map 'job.sqlite:4711=0,4712=1'",
                )
            mapping[(report or None, int(pid))] = int(rank)
    return mapping


def mapped_rank(mapping: RankMap, report_name: str, pid: int) -> int | None:
    for key in (report_name, report_name.rsplit(".", 1)[0], None):
        if (key, pid) in mapping:
            return mapping[(key, pid)]
    return None
