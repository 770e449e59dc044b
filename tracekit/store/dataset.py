"""A Parquet dataset (``tracekit import --parquet``) seen as a store.

The dataset holds the tables ``TABLES`` as ``<table>/run_id=<run>/rank=<rank>/*.parquet``
(docs/parquet.md; written by ``tracekit.ingest.parquet``). ``attach_parquet`` makes
an in-memory DuckDB look like a database file: one view per table with the
store's column names and types, then the rule tables and every view of
``queries/views``. The view bodies are built here, from the columns the schema
files declare (``DESCRIBE``), because they depend on them; nothing else writes SQL
over a dataset. Per table (when the dataset has files for it)::

    _pq_<table>   SELECT * FROM read_parquet('<root>/<table>/**/*.parquet',
                  hive_partitioning, union_by_name)          -- run_id, rank from the path
    <table>       SELECT CAST(<column> AS <type>) ... FROM _pq_<table>   -- the schema's types
    runs          one row per run: min(origin_ns), max(<column>) of the hosts' rows
    events        ts_ns + time_offset_ns - the run's origin, where hosts fixed other
                  origins (then also traces.time_offset_ns = the run's origin)
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tracekit.errors import InputError
from tracekit.store.schema import create_tables, create_views, load_rule_tables

TABLES = ("runs", "traces", "events", "threads", "rank_layout")


def attach_parquet(con: duckdb.DuckDBPyConnection, root: str | Path) -> None:
    """Make ``con`` (an in-memory DuckDB) a store over a Parquet dataset.

    ``root`` holds ``<table>/run_id=<run>/rank=<rank>/*.parquet`` as written by
    ``tracekit import --parquet`` (docs/parquet.md). Each table becomes a view
    with the store's column names and types (``trace_id`` is a BIGINT there); the
    rule tables are loaded and every view of ``queries/views`` is created, so the
    same SQL runs on a database file and on a dataset. ``runs`` holds one row per
    run (hosts write one row per rank) and ``events.ts_ns`` is rebased on the
    run's earliest origin when hosts fixed different ones.
    """
    base = Path(root)
    if not (base / "events").is_dir():
        raise InputError(
            f"{base}: not a tracekit Parquet dataset (no events/ folder)",
            "Write one with `tracekit import TRACES... --parquet DIR`.",
        )
    create_tables(con)
    for table in TABLES:
        files = sorted((base / table).glob("**/*.parquet"))
        if not files:
            continue  # the empty table from the schema stands in
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
        glob = str(base / table / "**" / "*.parquet").replace("'", "''")
        hive = "{'run_id': VARCHAR, 'rank': INTEGER}"
        con.execute(
            f"CREATE VIEW _pq_{table} AS SELECT * FROM read_parquet('{glob}', "
            f"hive_partitioning = true, hive_types = {hive}, union_by_name = true)"
        )
        select = ", ".join(
            f'"{name}"' if name == "trace_id" else f'CAST("{name}" AS {kind}) AS "{name}"'
            for name, kind in columns
        )
        con.execute(f"DROP TABLE {table}")
        body = _runs_view(columns) if table == "runs" else f"SELECT {select} FROM _pq_{table}"
        con.execute(f"CREATE VIEW {table} AS {body}")
    _rebase_events(con)
    load_rule_tables(con)
    create_views(con)


def _runs_view(columns: list[tuple[str, str]]) -> str:
    """One row per run: the earliest origin any host fixed, the other fields from any host."""
    picks = []
    for name, kind in columns:
        if name == "run_id":
            picks.append('CAST("run_id" AS VARCHAR) AS "run_id"')
        elif name == "origin_ns":
            picks.append('min("origin_ns") AS "origin_ns"')
        else:
            picks.append(f'CAST(max("{name}") AS {kind}) AS "{name}"')
    return f"SELECT {', '.join(picks)} FROM _pq_runs GROUP BY run_id"


def _rebase_events(con: duckdb.DuckDBPyConnection) -> None:
    """Put every trace on its run's common origin when hosts fixed different origins."""
    has_traces = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = '_pq_traces'"
    ).fetchall()[0][0]
    if not has_traces:
        return
    shifted = con.execute(
        "SELECT count(*) FROM traces t JOIN runs r USING (run_id) "
        "WHERE t.time_offset_ns <> r.origin_ns"
    ).fetchall()[0][0]
    if not shifted:
        return
    con.execute("ALTER VIEW events RENAME TO _pq_events_local")
    con.execute("ALTER VIEW traces RENAME TO _pq_traces_local")
    con.execute(
        "CREATE VIEW events AS SELECT e.* REPLACE (e.ts_ns + t.time_offset_ns - r.origin_ns "
        "AS ts_ns) FROM _pq_events_local e JOIN _pq_traces_local t USING (trace_id) "
        "JOIN runs r ON r.run_id = t.run_id"
    )
    con.execute(
        "CREATE VIEW traces AS SELECT t.* REPLACE (r.origin_ns AS time_offset_ns) "
        "FROM _pq_traces_local t JOIN runs r ON r.run_id = t.run_id"
    )
