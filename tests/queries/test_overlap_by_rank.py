"""overlap_by_rank: hand-built intervals, and the real traces against an independent oracle."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import cpu, kernel, write_kineto
from tracekit.ingest.loader import import_paths

NCCL = re.compile(r"^nccl(Dev)?Kernel")


def _overlap(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT rank, device, comm_ns, compute_ns, overlap_ns, exposed_comm_ns, overlap_pct "
            "FROM overlap_by_rank ORDER BY rank, device"
        ).fetchall()
    finally:
        con.close()


def test_hand_built_intervals(tmp_path: Path) -> None:
    events = [
        # compute on stream 7: [0,10) [5,20) (overlapping) [30,30) zero-length [40,50)
        kernel("gemm_a", 0, 10, correlation=1),
        kernel("gemm_b", 5, 15, correlation=2),
        kernel("empty", 30, 0, correlation=3),
        kernel("gemm_c", 40, 10, correlation=4),
        # comm on stream 20: [15,35) and [45,60); a memcpy is neither
        kernel("ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)", 15, 20, stream=20, correlation=5),
        kernel("ncclDevKernel_SendRecv(x)", 45, 15, stream=20, correlation=6),
        {
            "ph": "X",
            "cat": "gpu_memcpy",
            "name": "Memcpy HtoD",
            "pid": 0,
            "tid": 9,
            "ts": 0,
            "dur": 100,
            "args": {"device": 0, "stream": 9, "bytes": 4},
        },
        # device 1: comm only, on the same stream as compute later
        kernel("ncclDevKernel_AllGather_RING_LL(x)", 0, 10, device=1, correlation=7),
        kernel("gemm_d", 10, 5, device=1, correlation=8),
        cpu("aten::mm", 0, 1),
    ]
    write_kineto(tmp_path / "job" / "rank0.json", events)
    import_paths(tmp_path / "t.duckdb", [tmp_path / "job"])
    # comm = [15,35) + [45,60) = 35 us; compute = [0,20) + [40,50) = 30 us;
    # overlap = [15,20) + [45,50) = 10 us
    assert _overlap(tmp_path / "t.duckdb") == [
        (0, 0, 35_000, 30_000, 10_000, 25_000, pytest.approx(28.5714, abs=1e-4)),
        (0, 1, 10_000, 5_000, 0, 10_000, 0.0),
    ]


def _windows(con: duckdb.DuckDBPyConnection, query: str) -> int:
    """How many window operators the physical plan of ``query`` holds."""
    plan = con.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchall()[0][1]
    return plan.count('"WINDOW"')


def test_islands_are_computed_once_per_query(tmp_path: Path) -> None:
    """overlap_by_rank reads the lane islands three times (totals, comm points, compute
    before); inlined, each read planned and ran the whole _lane_intervals tree again."""
    write_kineto(tmp_path / "job" / "rank0.json", [kernel("gemm", 0, 10, correlation=1)])
    import_paths(tmp_path / "t.duckdb", [tmp_path / "job"])
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    try:
        islands = _windows(con, "SELECT * FROM _lane_islands")
        # the islands' windows once, plus the running sum of compute time before each island
        assert _windows(con, "SELECT * FROM overlap_by_rank") == islands + 1
    finally:
        con.close()


def _union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _intersection(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    i = j = total = 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _oracle(path: Path) -> dict[int, float]:
    """Whole-trace overlap % per device, computed straight from the JSON."""
    doc = json.loads(gzip.decompress(path.read_bytes()), parse_float=Decimal)
    per_device: dict[int, tuple[list, list]] = {}
    for ev in doc["traceEvents"]:
        if ev.get("ph") != "X" or ev.get("cat") != "kernel":
            continue
        start = int((Decimal(ev["ts"]) * 1000).to_integral_value())
        end = start + int((Decimal(ev["dur"]) * 1000).to_integral_value())
        comm, compute = per_device.setdefault(ev["args"]["device"], ([], []))
        (comm if NCCL.match(ev["name"]) else compute).append((start, end))
    result = {}
    for device, (comm, compute) in per_device.items():
        c = _union(comm)
        comm_ns = sum(e - s for s, e in c)
        if comm_ns:
            result[device] = 100 * _intersection(c, _union(compute)) / comm_ns
    return result


def test_real_traces_match_the_exact_definition(shared_traces: Path, tmp_path: Path) -> None:
    db = tmp_path / "real.duckdb"
    import_paths(db, [shared_traces / "kineto"])
    con = duckdb.connect(str(db), read_only=True)
    got = {
        (Path(path).name, device): pct
        for path, device, pct in con.execute(
            "SELECT t.path, o.device, o.overlap_pct FROM overlap_by_rank o JOIN traces t "
            "USING (trace_id)"
        ).fetchall()
    }
    files = sorted((shared_traces / "kineto").glob("*/*.gz"))
    assert len(got) == len(files) == 12
    for path in files:
        for device, pct in _oracle(path).items():
            assert got[(path.name, device)] == pytest.approx(pct, abs=0.05), path
