"""Parquet datasets: every view gives the same rows over Parquet as over the database."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from tracekit import store
from tracekit.ingest.loader import import_paths
from tracekit.ingest.parquet import convert_run, export_parquet

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "traces" / "kineto"
sys.path.insert(0, str(REPO / "benchmarks"))
import synth  # noqa: E402

OVERLAP = "SELECT * EXCLUDE (trace_id) FROM overlap_by_rank ORDER BY run_id, rank, device"
COMM = (
    "SELECT run_id, rank, event_id, op, ts_ns, dur_ns, msg_bytes, call_index FROM comm_ops "
    "ORDER BY ALL"
)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _parquet_con(root: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    store.attach_parquet(con, root)
    return con


def _job(tmp_path: Path) -> Path:
    synth.generate(tmp_path / "job", ranks=2, layers=2, steps=2)
    return tmp_path / "job"


def test_views_over_parquet_equal_views_over_the_database(tmp_path: Path) -> None:
    sources = [SHARED] if SHARED.is_dir() else [_job(tmp_path)]
    db = tmp_path / "t.duckdb"
    import_paths(db, sources)
    con = store.connect(db)
    parts = export_parquet(con, tmp_path / "pq")
    expected = (_rows(con, OVERLAP), _rows(con, COMM))
    con.close()
    assert parts and (tmp_path / "pq/events" / f"run_id={parts[0][0]}" / "rank=0").is_dir()
    assert (tmp_path / f"pq/events/run_id={parts[0][0]}/rank=0/part-0.parquet").is_file()
    pq = _parquet_con(tmp_path / "pq")
    assert (_rows(pq, OVERLAP), _rows(pq, COMM)) == expected
    assert expected[0]


def test_ranks_converted_on_different_hosts_share_one_timeline(tmp_path: Path) -> None:
    job = _job(tmp_path)
    together = tmp_path / "together.duckdb"
    import_paths(together, [job])
    con = store.connect(together)
    expected = (_rows(con, OVERLAP), _rows(con, COMM))
    con.close()
    out = tmp_path / "pq"
    for rank in (0, 1):  # each "host" imports only its own rank
        host = tmp_path / f"host{rank}" / "job"
        host.mkdir(parents=True)
        (host / f"rank{rank}.pt.trace.json").symlink_to(job / f"rank{rank}.pt.trace.json")
        convert_run(host, out)
    pq = _parquet_con(out)
    assert (_rows(pq, OVERLAP), _rows(pq, COMM)) == expected
    assert _rows(pq, "SELECT count(*) FROM runs") == [(1,)]
    assert not list(out.glob(".tracekit-*"))  # the scratch database is gone


def test_not_a_dataset(tmp_path: Path) -> None:
    from tracekit.errors import InputError

    with pytest.raises(InputError, match="not a tracekit Parquet dataset"):
        store.attach_parquet(duckdb.connect(), tmp_path)


def test_dataset_tables_have_the_store_columns_in_its_order(tmp_path: Path) -> None:
    """queries/dataset/ gives each table the store's columns, order and types (trace_id is
    the dataset's BIGINT), so a column added to the schema must be added there too."""
    db = tmp_path / "t.duckdb"
    import_paths(db, [_job(tmp_path)])
    con = store.connect(db)
    export_parquet(con, tmp_path / "pq")
    pq = _parquet_con(tmp_path / "pq")
    assert store.PARQUET_TABLES == ("runs", "traces", "events", "threads", "rank_layout")
    for table in store.PARQUET_TABLES:
        want = [
            (name, "BIGINT" if name == "trace_id" else kind)
            for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()
        ]
        assert [tuple(r[:2]) for r in pq.execute(f"DESCRIBE {table}").fetchall()] == want
        assert _rows(pq, f"SELECT count(*) FROM {table}") == _rows(
            con, f"SELECT count(*) FROM {table}"
        )
    assert _rows(pq, "SELECT typeof(run_id) FROM runs LIMIT 1") == [("VARCHAR",)]


def test_a_dataset_missing_a_table_is_refused(tmp_path: Path) -> None:
    from tracekit.errors import InputError

    db = tmp_path / "t.duckdb"
    import_paths(db, [_job(tmp_path)])
    con = store.connect(db)
    export_parquet(con, tmp_path / "pq")
    con.close()
    for part in (tmp_path / "pq" / "threads").glob("**/*.parquet"):
        part.unlink()
    with pytest.raises(InputError, match=r"no Parquet files under threads/"):
        store.attach_parquet(duckdb.connect(), tmp_path / "pq")
