"""The nsys importer on the real exports in ../shared/traces/nsys (skipped where absent)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import duckdb
import pytest

from tracekit.ingest.loader import import_paths

NSYS = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "nsys"
MFU = NSYS / "mfu_2gpu_before.sqlite"
H100 = NSYS / "h100_2gpu_1s.sqlite"
pytestmark = pytest.mark.skipif(
    not (MFU.is_file() and H100.is_file()),
    reason=f"the real nsys exports are not at {NSYS} (shared trace corpus absent)",
)
# Both reports hold two torchrun processes, one GPU each, without RANK in any environment.
RANK_MAP = ["mfu_2gpu_before.sqlite:144=0,145=1", "h100_2gpu_1s.sqlite:111=0,112=1"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nsys") / "real.duckdb"
    import_paths(path, [MFU], run="mfu", rank_map=RANK_MAP)
    import_paths(path, [H100], run="h100", rank_map=RANK_MAP)
    return path


@pytest.fixture
def con(db: Path):
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()


def test_counts(con) -> None:
    assert _one(
        con,
        "SELECT t.run_id, count(*) FROM events e JOIN traces t USING (trace_id) "
        "WHERE kind = 'kernel' GROUP BY 1 ORDER BY 1",
    ) == [("h100", 3442), ("mfu", 4010)]
    assert _one(
        con,
        "SELECT run_id, rank, process_id, list_sort(json_extract(source_meta, "
        "'$.devices')::INTEGER[]) FROM traces ORDER BY 1, 2",
    ) == [("h100", 0, 111, [0]), ("h100", 1, 112, [1]), ("mfu", 0, 144, [0]), ("mfu", 1, 145, [1])]


def test_nccl_sendrecv_classified(con) -> None:
    assert _one(con, "SELECT run_id, library, op, count(*) FROM comm_ops GROUP BY ALL") == [
        ("mfu", "nccl", "send_recv", 66)
    ]
    assert _one(
        con,
        "SELECT count(*) FROM comm_ops WHERE name LIKE 'ncclDevKernel_SendRecv%' "
        "AND msg_bytes IS NULL",
    ) == [(66,)]  # exported without blobs


def test_overlap_by_rank_matches_reference(con) -> None:
    rows = _one(
        con,
        "SELECT rank, device, comm_ns, compute_ns, overlap_ns FROM overlap_by_rank "
        "WHERE run_id = 'mfu' ORDER BY rank",
    )
    gpu0 = rows[0]
    assert gpu0[:2] == (0, 0)
    assert round(gpu0[2] / 1e6, 2) == 17.17  # nsys-ai: NCCL-only 17.2 ms
    assert round(gpu0[3] / 1e6, 2) == 253.69  # nsys-ai: compute-only 253.7 ms
    assert gpu0[4] == 0  # NCCL and compute share one stream
    assert rows[1][:2] == (1, 1) and rows[1][4] == 0
    assert _one(
        con, "SELECT count(*) FROM overlap_by_rank WHERE run_id = 'h100' AND comm_ns > 0"
    ) == [(0,)]


def test_nccl_ranges_enclose_sendrecv_launches(con) -> None:
    got = _one(
        con,
        """
        SELECT a.name, a.domain, a.inner_rank, count(*)
        FROM event_annotations a JOIN events k USING (trace_id, event_id)
        JOIN traces t USING (trace_id)
        WHERE t.run_id = 'mfu' AND k.name LIKE 'ncclDevKernel_SendRecv%' AND a.domain IS NOT NULL
        GROUP BY ALL""",
    )
    # the NCCL domain's create row was trimmed from the fixture: its id names it
    assert got == [("ncclGroupEnd", "domain1", 1, 64)]
    outer = _one(
        con,
        """
        SELECT count(DISTINCT a.event_id) FROM event_annotations a
        JOIN events k USING (trace_id, event_id) JOIN traces t USING (trace_id)
        WHERE t.run_id = 'mfu' AND k.name LIKE 'ncclDevKernel_SendRecv%'
          AND a.name LIKE 'nccl:all_to_all%'""",
    )
    assert outer == [(64,)]


def test_projection_equals_brute_force(con) -> None:
    """event_annotations = every range enclosing the launch on the same thread (nvtx_gpu_proj)."""
    view = _one(
        con, "SELECT trace_id, event_id, annotation_event_id FROM event_annotations ORDER BY ALL"
    )
    brute = _one(
        con,
        """
        SELECT l.trace_id, l.event_id, a.event_id FROM event_launches l
        JOIN events a ON a.trace_id = l.trace_id AND a.pid = l.pid AND a.tid = l.tid
         AND a.kind = 'user_annotation' AND a.dur_ns > 0
         AND a.ts_ns <= l.launch_ts_ns AND l.launch_ts_ns < a.ts_ns + a.dur_ns
        ORDER BY ALL""",
    )
    assert len(view) > 10_000
    assert view == brute


def test_threads_and_meta(con) -> None:
    assert _one(con, "SELECT count(*) > 50 FROM threads")[0][0]
    meta = _one(
        con,
        "SELECT DISTINCT source_meta->>'$.export_schema_version', "
        "source_meta->>'$.nsys_version', host FROM traces",
    )
    assert meta == [("3.25.0", "2026.2.1.210", "modal")]


def _planted_values() -> list[str]:
    values = []
    for path in (MFU, H100):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        env = con.execute(
            "SELECT value FROM TARGET_INFO_SYSTEM_ENV WHERE name = 'DeviceEnvironment'"
        ).fetchall()[0][0]
        con.close()
        for item in env.split(";"):
            name, _, value = item.partition("=")
            if re.search("TOKEN|KEY|SECRET|PASSWORD", name):
                values.append(value)
    return values


def test_planted_secrets_absent(db: Path, tmp_path: Path) -> None:
    secrets = _planted_values()
    assert len(secrets) >= 4
    raw = db.read_bytes()
    con = duckdb.connect(str(db), read_only=True)
    con.execute(f"EXPORT DATABASE '{tmp_path / 'dump'}' (FORMAT csv)")
    con.close()
    dumped = b"".join(p.read_bytes() for p in (tmp_path / "dump").iterdir())
    for value in secrets:
        for blob in (raw, dumped):
            assert value.encode() not in blob
            assert value.encode("utf-16-le") not in blob
    assert b"NCCL_DEBUG" in dumped  # the allow-listed variable is kept
