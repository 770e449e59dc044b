"""What an nsys report may tell about its environment, and what must never be kept.

Nsight Systems stores the profiled process's whole environment (tokens, API
keys, passwords) in ``TARGET_INFO_SYSTEM_ENV`` (row ``DeviceEnvironment``) and
in ``META_DATA_CAPTURE``. A variable is kept only when its name is on the
allow-list, its name does not suggest a secret, its value has the shape that
name's values have (a count for ``RANK``, a host for ``MASTER_ADDR``, NCCL's
plain option syntax for ``NCCL_*``) and nothing in it looks like a credential
(:mod:`tracekit.secrets`).
"""

from __future__ import annotations

import re

from tracekit.errors import InputError
from tracekit.secrets import looks_secret, secret_name

_COUNT = re.compile(r"[0-9]{1,9}")
# (names, the shape of their values): a name not listed here is never kept.
ALLOWED: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(
            r"RANK|LOCAL_RANK|GROUP_RANK|NODE_RANK|WORLD_SIZE|LOCAL_WORLD_SIZE|MASTER_PORT|"
            r"OMP_NUM_THREADS|CUDA_DEVICE_MAX_CONNECTIONS|OMPI_COMM_WORLD_RANK|"
            r"OMPI_COMM_WORLD_SIZE|OMPI_COMM_WORLD_LOCAL_RANK|SLURM_PROCID|SLURM_LOCALID|"
            r"SLURM_NTASKS"
        ),
        _COUNT,
    ),
    (re.compile(r"CUDA_VISIBLE_DEVICES"), re.compile(r"[A-Za-z0-9,-]{0,512}")),
    (re.compile(r"MASTER_ADDR"), re.compile(r"[A-Za-z0-9.:\[\]-]{1,253}")),
    (re.compile(r"(?:TORCH_)?NCCL_\w*"), re.compile(r"[A-Za-z0-9_.,:/=^%+-]{0,512}")),
)
_SEPARATORS = re.compile(r"[;\n\x00]")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def env_pairs(texts: list[str]) -> dict[str, str]:
    """Every ``NAME=value`` pair found in ``texts`` (``;``- or line-separated), the last wins."""
    pairs: dict[str, str] = {}
    for text in texts:
        for item in _SEPARATORS.split(text):
            match = _ASSIGNMENT.match(item.strip())
            if match:
                pairs[match.group(1)] = match.group(2)
    return pairs


def _kept(name: str, value: str) -> bool:
    if secret_name(name) or looks_secret(value):
        return False
    return any(names.fullmatch(name) and shape.fullmatch(value) for names, shape in ALLOWED)


def safe_env(texts: list[str]) -> dict[str, str]:
    """Allow-listed, credential-free ``NAME=value`` pairs found in ``texts``."""
    return {name: value for name, value in env_pairs(texts).items() if _kept(name, value)}


def env_rank(pairs: dict[str, str], where: str) -> tuple[int | None, int | None]:
    """(RANK, WORLD_SIZE) from the environment's ``pairs``; None where absent.

    A value that is not a plain number, or a rank outside the world size, is
    an :class:`InputError` naming ``where`` (the report and its table).
    """
    got: dict[str, int | None] = {}
    for name in ("RANK", "WORLD_SIZE"):
        value = pairs.get(name)
        if value is not None and not _COUNT.fullmatch(value):
            raise InputError(
                f"{where}: the environment variable {name}={value[:40]!r} is not a number "
                "from 0 to 999999999",
                "Give the rank on the command line instead: --rank N, or --rank-map "
                "'REPORT:PID=RANK' for a report of several processes.",
            )
        got[name] = int(value) if value is not None else None
    rank, world = got["RANK"], got["WORLD_SIZE"]
    if rank is not None and world is not None and rank >= world:
        raise InputError(
            f"{where}: the environment says RANK={rank} but WORLD_SIZE={world}",
            "Give the rank on the command line instead: --rank N.",
        )
    return rank, world


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
            if not eq or not _COUNT.fullmatch(pid.strip()) or not _COUNT.fullmatch(rank.strip()):
                raise InputError(
                    f"--rank-map {spec!r}: expected [REPORT:]PID=RANK[,PID=RANK...] "
                    "(PID and RANK numbers from 0 to 999999999)",
                    "Example: --rank-map 'job.sqlite:4711=0,4712=1'",
                )
            mapping[(report or None, int(pid))] = int(rank)
    return mapping


def mapped_rank(mapping: RankMap, report_name: str, pid: int) -> int | None:
    for key in (report_name, report_name.rsplit(".", 1)[0], None):
        if (key, pid) in mapping:
            return mapping[(key, pid)]
    return None
