"""Real collect runs shared by the tests: TP2, PP2 and TP2×PP2 on CPU with gloo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracekit.collect import Workload, collect, resolve_shape

LAYOUTS = {"tp2": (2, 1), "pp2": (1, 2), "tp2pp2": (2, 2)}


def live_processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (to find orphans of a run)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes().replace(b"\0", b" ")
            state = Path("/proc", entry, "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if text.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    base = tmp_path_factory.mktemp("collect")
    shape = resolve_shape("tiny", None, {})
    out = {}
    for name, (tp, pp) in LAYOUTS.items():
        workload = Workload(tp=tp, pp=pp, shape=shape, batch=2, prompt_len=8, gen_len=4)
        collect(workload, base / name, command_line=["test", name], timeout_s=120)
        out[name] = base / name
    return out
