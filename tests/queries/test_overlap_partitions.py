"""Hand-built single-rank GPU trace with known intervals (µs in the trace, ns in the store).

CPU thread: tk:step=0 phase=prefill [0,100) > tk:stage=0 [0,100) >
    tk:layer=0 [0,50) > attention [0,25): k1 (launch 1), c1 (launch 10)
                      > mlp [25,50): k2 (launch 30), zero-length k0 (launch 31)
    tk:layer=1 [50,100) > attention [50,75): k3 (launch 55), c2 (launch 60)
                        > my_layer_7 [80,90): k4 (launch 85)
GPU: k1 [100,140) k2 [150,215) k0 [200,200) k3 [210,260) — k2 runs past k3's start (a
kernel spanning two layers' boundary) — c1 [120,180) on the comm stream, c2 [260,300) on the
compute stream (communication on the same stream as compute), k4 [500,510), an orphan kernel
[400,410) with no launch, a memcpy [300,320).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.fixtures.kineto import AR, Trace, import_traces

US = 1000


def _trace() -> Trace:
    t = Trace(rank=0, world_size=1)
    t.annotation("tk:step=0 phase=prefill", 0, 100).annotation("tk:stage=0", 0, 100)
    t.annotation("tk:layer=0", 0, 50).annotation("tk:block=attention", 0, 25)
    t.annotation("tk:block=mlp", 25, 25)
    t.annotation("tk:layer=1", 50, 50).annotation("tk:block=attention", 50, 25)
    t.annotation("my_layer_7", 80, 10)
    t.kernel("k1_gemm", 100, 40, launch_ts=1)
    t.kernel(AR, 120, 60, stream=13, launch_ts=10)
    t.kernel("k2_gemm", 150, 65, launch_ts=30)
    t.kernel("k0_empty", 200, 0, launch_ts=31)
    t.kernel("k3_gemm", 210, 50, launch_ts=55)
    t.kernel(AR, 260, 40, stream=7, launch_ts=60)
    t.kernel("k4_gemm", 500, 10, launch_ts=85)
    t.kernel("orphan", 400, 10)
    t.kernel("Memcpy DtoD", 300, 20, cat="gpu_memcpy")
    return t


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("hand")
    db = import_traces(root / "t.duckdb", root / "t", [_trace()])
    connection = duckdb.connect(str(db))
    yield connection
    connection.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_event_labels_innermost_wins(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(
        con,
        "SELECT e.name, l.step, l.phase, l.stage, l.layer, l.block, l.stage_source "
        "FROM event_labels l JOIN events e USING (trace_id, event_id) "
        "WHERE e.kind = 'kernel' ORDER BY e.ts_ns, e.name",
    )
    assert rows == [
        ("k1_gemm", 0, "prefill", 0, 0, "attention", "annotation"),
        (AR, 0, "prefill", 0, 0, "attention", "annotation"),
        ("k2_gemm", 0, "prefill", 0, 0, "mlp", "annotation"),
        ("k0_empty", 0, "prefill", 0, 0, "mlp", "annotation"),
        ("k3_gemm", 0, "prefill", 0, 1, "attention", "annotation"),
        (AR, 0, "prefill", 0, 1, "attention", "annotation"),
        ("k4_gemm", 0, "prefill", 0, 1, None, "annotation"),
    ]


def test_overlap_by_rank_known_intervals(con: duckdb.DuckDBPyConnection) -> None:
    # K = [100,140) ∪ [150,260) ∪ [400,410) ∪ [500,510) = 170; C = [120,180) ∪ [260,300) = 100
    # C ∩ K = [120,140) ∪ [150,180) = 50
    rows = _rows(
        con, "SELECT comm_ns, compute_ns, overlap_ns, exposed_comm_ns FROM overlap_by_rank"
    )
    assert rows == [(100 * US, 170 * US, 50 * US, 50 * US)]


def test_overlap_by_layer_expected_rows(con: duckdb.DuckDBPyConnection) -> None:
    # k2 [150,215) hands [210,215) to k3 (most recently started); k0 owns nothing
    rows = _rows(
        con,
        "SELECT layer, comm_ns, compute_ns, overlap_ns, exposed_comm_ns, overlap_pct "
        "FROM overlap_by_layer ORDER BY layer NULLS LAST",
    )
    assert rows == [
        (0, 60 * US, 100 * US, 50 * US, 10 * US, 83.3333),
        (1, 40 * US, 60 * US, 0, 40 * US, 0.0),
        (None, 0, 10 * US, 0, 0, None),
    ]


@pytest.mark.parametrize("view", ["overlap_by_layer", "overlap_by_stage", "overlap_by_phase"])
def test_partitions_add_up_to_rank(con: duckdb.DuckDBPyConnection, view: str) -> None:
    summed = _rows(
        con,
        f"SELECT sum(comm_ns), sum(compute_ns), sum(overlap_ns), sum(exposed_comm_ns) FROM {view}",
    )
    rank = _rows(
        con, "SELECT comm_ns, compute_ns, overlap_ns, exposed_comm_ns FROM overlap_by_rank"
    )
    assert summed == rank


def test_stage_and_phase_rows(con: duckdb.DuckDBPyConnection) -> None:
    assert _rows(con, "SELECT stage, comm_ns, compute_ns FROM overlap_by_stage") == [
        (0, 100 * US, 160 * US),
        (None, 0, 10 * US),
    ]
    assert _rows(con, "SELECT phase, overlap_ns FROM overlap_by_phase ORDER BY phase") == [
        ("prefill", 50 * US),
        (None, 0),
    ]


def test_temporal_breakdown_precedence(con: duckdb.DuckDBPyConnection) -> None:
    # span [0,510); K∪C = [100,300) ∪ [400,410) ∪ [500,510) = 220; memcpy [300,320) adds 20
    rows = _rows(
        con, "SELECT span_ns, compute_ns, comm_ns, memory_ns, idle_ns FROM temporal_breakdown"
    )
    assert rows == [(510 * US, 170 * US, 50 * US, 20 * US, 270 * US)]


def test_user_label_rule(tmp_path: Path) -> None:
    db = import_traces(tmp_path / "u.duckdb", tmp_path / "u", [_trace()])
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO label_rules (rule_id, priority, key, pattern, note, source) VALUES "
        r"('mine', 5, 'layer', '^my_layer_(\d+)$', 'test', 'user.csv')"
    )
    rows = _rows(
        con,
        "SELECT l.layer FROM event_labels l JOIN events e USING (trace_id, event_id) "
        "WHERE e.name = 'k4_gemm'",
    )
    assert rows == [(7,)]
    assert _rows(con, "SELECT sum(compute_ns) FROM overlap_by_layer WHERE layer = 7") == [
        (10 * US,)
    ]
    con.close()
