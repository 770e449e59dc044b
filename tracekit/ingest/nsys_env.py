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
