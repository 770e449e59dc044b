"""Collective matching on hand-built 3-rank traces, and on the real dlrm_8rank job."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.fixtures.kineto import AR, Trace, import_traces
from tracekit.ingest.loader import import_paths

US = 1000
SHARED = Path(__file__).resolve().parents[3] / "shared" / "traces" / "kineto"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    # rank 2 misses the second all-reduce
    starts = {0: [(1000, 100), (2000, 50)], 1: [(1010, 90), (2020, 30)], 2: [(1050, 50)]}
    traces = []
    for rank, calls in starts.items():
        t = Trace(rank=rank, world_size=3)
        t.annotation("tk:step=0 phase=decode", 0, 900)
        for i, (ts, dur) in enumerate(calls):
            t.annotation(f"tk:layer={i}", 10 + 100 * i, 50)
            t.kernel(AR, ts, dur, stream=13, launch_ts=20 + 100 * i)
        traces.append(t)
    root = tmp_path_factory.mktemp("coll")
    db = import_traces(root / "c.duckdb", root / "c", traces)
    connection = duckdb.connect(str(db))
    yield connection
    connection.close()


def test_instances_skew_transfer_and_missing_rank(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT pg, op, instance, ranks_seen, group_size, complete, ranks, skew_ns, last_rank, "
        "transfer_ns, total_wait_ns, layer FROM collective_instances ORDER BY instance"
    ).fetchall()
    assert rows == [
        ("world", "all_reduce", 0, 3, 3, True, [0, 1, 2], 50 * US, 2, 50 * US, 90 * US, 0),
        ("world", "all_reduce", 1, 2, 3, False, [0, 1], 20 * US, 1, 30 * US, 20 * US, 1),
    ]


def test_participants_wait(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT rank, arrival_ns, dur_ns, wait_ns FROM collective_participants "
        "WHERE instance = 0 ORDER BY rank"
    ).fetchall()
    assert rows == [
        (0, 0, 100 * US, 50 * US),
        (1, 10 * US, 90 * US, 40 * US),
        (2, 50 * US, 50 * US, 0),
    ]


def test_rank_skew(con: duckdb.DuckDBPyConnection) -> None:
    # instance 0: starts 1000, 1010, 1050 (durations 100, 90, 50: transfer 50), rank 2 last;
    # instance 1: starts 2000, 2020 (durations 50, 30: transfer 30), rank 1 last
    rows = con.execute(
        "SELECT rank, instances, times_last, arrival_ns, wait_ns, bubble_ns, transfer_ns "
        "FROM rank_skew ORDER BY rank"
    ).fetchall()
    assert rows == [
        (0, 2, 0, 0, 70 * US, None, 80 * US),
        (1, 2, 1, 30 * US, 40 * US, None, 80 * US),
        (2, 1, 1, 50 * US, 0, None, 50 * US),
    ]


def test_rank_skew_ties_and_lone_ranks(tmp_path: Path) -> None:
    # instance 0: ranks 1 and 2 start last together, the lower rank (1) counts as last;
    # instance 1: rank 0 alone (ranks 1 and 2 miss it), so no rank arrived last
    starts = {0: [(1000, 100), (3000, 40)], 1: [(1050, 50)], 2: [(1050, 60)]}
    traces = []
    for rank, calls in starts.items():
        t = Trace(rank=rank, world_size=3)
        for i, (ts, dur) in enumerate(calls):
            t.kernel(AR, ts, dur, stream=13, launch_ts=20 + 100 * i)
        traces.append(t)
    db = import_traces(tmp_path / "t.duckdb", tmp_path / "t", traces)
    with duckdb.connect(str(db), read_only=True) as tie:
        rows = tie.execute(
            "SELECT rank, instances, times_last FROM rank_skew ORDER BY rank"
        ).fetchall()
    assert rows == [(0, 2, 0), (1, 1, 1), (2, 1, 0)]


def test_comm_summary_counts(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT rank, op, size_bucket, calls, total_ns, group_size FROM comm_summary ORDER BY rank"
    ).fetchall()
    assert rows == [
        (0, "all_reduce", "unknown", 2, 150 * US, 3),
        (1, "all_reduce", "unknown", 2, 120 * US, 3),
        (2, "all_reduce", "unknown", 1, 50 * US, 3),
    ]


@pytest.mark.skipif(not (SHARED / "dlrm_8rank").is_dir(), reason="../shared/traces absent")
def test_dlrm_8rank_every_collective_matches(tmp_path: Path) -> None:
    db = tmp_path / "dlrm.duckdb"
    import_paths(db, [SHARED / "dlrm_8rank"], run="dlrm")
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT op, count(*), min(ranks_seen), max(ranks_seen), bool_and(complete) "
        "FROM collective_instances GROUP BY op ORDER BY op"
    ).fetchall()
    # the SendRecv kernels run inside nccl:all_to_all: NCCL's all-to-all (issue 14 item 2)
    assert rows == [("all_reduce", 3, 8, 8, True), ("all_to_all", 5, 8, 8, True)]
    in_a2a = con.execute(
        "SELECT k.op, count(*) FROM comm_ops k JOIN event_annotations a USING (trace_id, event_id) "
        "WHERE a.name = 'nccl:all_to_all' AND k.name LIKE 'ncclKernel_SendRecv%' GROUP BY k.op"
    ).fetchall()
    assert in_a2a == [("all_to_all", 40)]
    assert con.execute("SELECT op, count(*) FROM comm_ops GROUP BY op ORDER BY op").fetchall() == [
        ("all_reduce", 24),
        ("all_to_all", 40),
    ]
    # per-layer (here: all unattributed) figures add up to overlap_by_rank
    diff = con.execute(
        "SELECT count(*) FROM overlap_by_rank r JOIN (SELECT trace_id, device, "
        "sum(comm_ns) c, sum(overlap_ns) o FROM overlap_by_layer GROUP BY ALL) s "
        "USING (trace_id, device) WHERE r.comm_ns <> s.c OR r.overlap_ns <> s.o"
    ).fetchall()
    assert diff == [(0,)]
    con.close()


def _pg_trace(rank: int) -> Trace:
    t = Trace(rank=rank, world_size=4)
    tp_group = [rank - rank % 2, rank - rank % 2 + 1]
    t.meta["distributedInfo"]["pg_config"] = [
        {"pg_name": "0", "pg_desc": "default_pg", "pg_size": 4, "ranks": [0, 1, 2, 3]},
        {"pg_name": "1", "pg_desc": "undefined", "pg_size": 2, "ranks": tp_group},
        {"pg_name": "2", "pg_desc": "undefined", "pg_size": 2, "ranks": [rank % 2, rank % 2 + 2]},
    ]
    t.kernel(AR, 100, 10, stream=13)
    return t


def test_roles_from_pg_config(tmp_path: Path) -> None:
    db = import_traces(tmp_path / "p.duckdb", tmp_path / "p", [_pg_trace(r) for r in range(4)])
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT rank, tp_rank, pp_rank, role_source FROM _rank_roles ORDER BY rank"
    ).fetchall()
    assert rows == [(r, r % 2, r // 2, "pg_config") for r in range(4)]
    con.close()


def test_roles_from_user_rank_layout(tmp_path: Path) -> None:
    db = import_traces(tmp_path / "u.duckdb", tmp_path / "u", [_pg_trace(r) for r in range(4)])
    con = duckdb.connect(str(db))
    # a user mapping wins over pg_config: here a 4-stage pipeline, TP 1
    con.execute("INSERT INTO rank_layout SELECT 't', r, 0, r, NULL, NULL FROM range(4) x(r)")
    rows = con.execute("SELECT rank, stage FROM overlap_by_stage ORDER BY rank").fetchall()
    assert rows == [(r, r) for r in range(4)]
    con.close()


def test_gather_busbw_is_the_models(tmp_path: Path) -> None:
    """A 4-rank gather of 4 KiB per rank: SQL (comm_summary, collective_instances) and the
    model's alpha-beta fit use one bus factor, (n-1) per byte of a rank's contribution."""
    from tracekit.model.layout import bus_factor

    traces = []
    for rank in range(4):
        t = Trace(rank=rank, world_size=4)
        t.events.append(
            {
                "ph": "X",
                "cat": "kernel",
                "name": "ncclDevKernel_Generic(ncclDevComm*, unsigned long, ncclWork*)",
                "pid": 0,
                "tid": 7,
                "ts": 1000 + rank,
                "dur": 10 - rank,
                "args": {
                    "device": 0,
                    "stream": 7,
                    "Collective name": "gather",
                    "In msg nelems": 1024,
                    "dtype": "Float",
                    "Group size": 4,
                    "Process Group Name": "0",
                },
            }
        )
        traces.append(t)
    db = import_traces(tmp_path / "g.duckdb", tmp_path / "g", traces)
    with duckdb.connect(str(db), read_only=True) as con:
        instance = con.execute(
            "SELECT msg_bytes, transfer_ns, busbw_gbps FROM collective_instances"
        ).fetchall()
        summary = con.execute(
            "SELECT total_bytes, total_ns, busbw_gbps FROM comm_summary WHERE rank = 0"
        ).fetchall()
        macro = con.execute("SELECT busbw_factor('gather', 4)").fetchone()[0]
    assert bus_factor("gather", 4) == macro == 3.0
    assert instance == [(4096, 7 * US, round(4096 / (7 * US) * 3.0, 4))]
    assert summary == [(4096, 10 * US, round(4096 / (10 * US) * 3.0, 4))]
