"""Databases for the TUI tests: built from the committed `sample_traces/`.

``sample_db`` imports every folder of ``sample_traces/`` into a temporary
DuckDB file (once per session). ``stub_db`` is a copy that also has simple
stand-ins for views other parts of tracekit add (``overlap_by_layer``,
``collective_instances`` ...) where the schema lacks them, so the screens
that show those views are exercised before the views exist.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tracekit import store
from tracekit.ingest.loader import import_paths

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"

STUB_VIEWS = {
    "collective_participants": """
        CREATE VIEW collective_participants AS
        SELECT run_id, pg_name AS pg, op, call_index AS instance, rank, trace_id, event_id,
               ts_ns, dur_ns,
               max(ts_ns) OVER w - ts_ns AS wait_ns
        FROM comm_ops WINDOW w AS (PARTITION BY run_id, pg_name, op, call_index)""",
    "collective_instances": """
        CREATE VIEW collective_instances AS
        SELECT run_id, pg, op, instance, count(*) AS ranks_seen, count(*) AS group_size,
               max(ts_ns) - min(ts_ns) AS skew_ns, min(dur_ns - wait_ns) AS transfer_ns,
               CAST(NULL AS BIGINT) AS msg_bytes
        FROM collective_participants GROUP BY run_id, pg, op, instance""",
    "overlap_by_layer": """
        CREATE VIEW overlap_by_layer AS
        SELECT run_id, rank, device, lane, rank % 2 AS layer, comm_ns, compute_ns, overlap_ns,
               exposed_comm_ns, overlap_pct FROM overlap_by_rank""",
    "overlap_by_stage": """
        CREATE VIEW overlap_by_stage AS
        SELECT run_id, rank, 0 AS stage, comm_ns, compute_ns, overlap_ns, exposed_comm_ns,
               overlap_pct FROM overlap_by_rank""",
}


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folders = sorted(p for p in SAMPLES.glob("*") if p.is_dir()) if SAMPLES.is_dir() else []
    if not folders:
        pytest.skip("sample_traces/ holds no traces (they come from `tracekit collect`)")
    db = tmp_path_factory.mktemp("tui") / "sample.duckdb"
    import_paths(db, folders)
    return db


@pytest.fixture(scope="session")
def stub_db(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("tui-stub") / "sample.duckdb"
    shutil.copy(sample_db, db)
    con = store.connect(db)
    try:
        for name, sql in STUB_VIEWS.items():
            exists = con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]
            ).fetchone()
            if not (exists and exists[0]):
                con.execute(sql)
    finally:
        con.close()
    return db


@pytest.fixture
def sample_con(sample_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = store.connect(sample_db, read_only=True)
    yield con
    con.close()
