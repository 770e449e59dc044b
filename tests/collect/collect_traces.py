"""Read the communication a collect run recorded, straight from the Kineto files.

A stop-gap for the tests until the importer lands: per rank and per
``tk:step`` range, the ``gloo:*`` annotations (they carry ``Input Dims`` and
``Input type``) and the expected counterpart computed from the model config.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections import Counter
from pathlib import Path

ELEMENT_BYTES = {"float": 4, "double": 8, "long int": 8, "c10::BFloat16": 2, "c10::Half": 2}
GLOO_KINDS = {
    "gloo:all_reduce": "all_reduce",
    "gloo:gather": "gather",
    "gloo:all_gather": "all_gather",
    "gloo:send": "send",
    "gloo:recv": "recv",
    "gloo:broadcast": "broadcast",
}

CommCount = Counter  # (kind, bytes) -> number of calls


def load_events(trace: Path) -> list[dict]:
    with gzip.open(trace, "rt") as fh:
        return json.load(fh)["traceEvents"]


def message_bytes(event: dict) -> int:
    args = event["args"]
    dims = args["Input Dims"][0]
    return math.prod(dims) * ELEMENT_BYTES[args["Input type"][0]]


def step_ranges(events: list[dict]) -> dict[int, tuple[float, float]]:
    steps = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") == "user_annotation" and name.startswith("tk:step="):
            step = int(name.split()[0].split("=")[1])
            steps[step] = (e["ts"], e["ts"] + e["dur"])
    return steps


def comm_per_step(trace: Path) -> dict[int, CommCount]:
    events = load_events(trace)
    steps = step_ranges(events)
    out: dict[int, CommCount] = {step: Counter() for step in steps}
    for e in events:
        kind = GLOO_KINDS.get(e.get("name", ""))
        if kind is None or e.get("cat") != "user_annotation":
            continue
        for step, (start, end) in steps.items():
            if start <= e["ts"] and e["ts"] + e["dur"] <= end:
                out[step][(kind, message_bytes(e))] += 1
    return out


def stage_layers(layers: int, pp: int, pp_rank: int) -> int:
    """Mirror of the documented split: remainder to the stages before the last."""
    counts = [layers // pp] * pp
    for i in range(2, layers % pp + 2):
        counts[-i] += 1
    return counts[pp_rank]


def expected_comm(manifest: dict, rank: int, step: int) -> CommCount:
    """What the model config implies for one rank in one step (float32 activations)."""
    model, par, work = manifest["model"], manifest["parallel"], manifest["workload"]
    t, p = par["tp"], par["pp"]
    tp_rank, pp_rank = rank % t, rank // t
    b = ELEMENT_BYTES["float"]
    batch = work["batch"]
    tokens = batch * (work["prompt_len"] if step == 0 else 1)
    h, v = model["hidden"], model["vocab"]
    token_ids = batch * ELEMENT_BYTES["long int"]
    expected: CommCount = Counter()
    if t > 1:
        all_reduces = 2 * stage_layers(model["layers"], p, pp_rank) + (pp_rank == 0)
        expected[("all_reduce", tokens * h * b)] += all_reduces
        if pp_rank == p - 1:
            expected[("gather", batch * (v // t) * b)] += 1
        if pp_rank > 0:
            expected[("all_gather", tokens * h // t * b)] += 2
        if pp_rank == 0:
            expected[("broadcast", token_ids)] += 1
    if pp_rank < p - 1:
        expected[("send", tokens * h // t * b)] += 2
    if pp_rank > 0:
        expected[("recv", tokens * h // t * b)] += 2
    if p > 1 and tp_rank == 0 and pp_rank == p - 1:
        expected[("send", token_ids)] += 1
    if p > 1 and tp_rank == 0 and pp_rank == 0:
        expected[("recv", token_ids)] += 1
    return expected


def annotations(trace: Path) -> Counter:
    return Counter(
        e["name"]
        for e in load_events(trace)
        if e.get("cat") == "user_annotation" and e.get("name", "").startswith("tk:")
    )


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


def rank_process(out: Path, rank: int) -> int | None:
    """PID of the worker of ``rank`` writing into ``out`` (its environment says RANK)."""
    for pid in live_processes_mentioning(str(out)):
        try:
            environ = Path("/proc", str(pid), "environ").read_bytes().split(b"\0")
            cmdline = Path("/proc", str(pid), "cmdline").read_bytes()
        except OSError:
            continue
        if b"worker.py" in cmdline and f"RANK={rank}".encode() in environ:
            return pid
    return None
