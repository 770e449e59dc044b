"""The DuckDB store: open a database, create the schema, (re)create the views.

Tables are defined in ``queries/schema/*.sql`` and views and macros in
``queries/views/*.sql`` (applied in file-name order). Every derived figure is
a view, so the database file works the same from Python, ``tracekit sql`` or
the plain ``duckdb`` CLI.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tracekit.errors import InputError
from tracekit.resources import queries_dir

SCHEMA_VERSION = "1"
# Files are written in a storage format DuckDB 1.4 and later read, so the `duckdb` CLI a
# user already has (or `pip install duckdb-cli`) opens them, views included.
STORAGE_COMPATIBILITY = "v1.4.0"


def _sql_files(sub: str) -> list[Path]:
    return sorted((queries_dir() / sub).glob("**/*.sql"), key=lambda p: p.name)


def fingerprint() -> str:
    """What an initialised store depends on: the SQL and rule files, the DuckDB version."""
    digest = hashlib.sha256(
        f"{SCHEMA_VERSION} {STORAGE_COMPATIBILITY} {duckdb.__version__}".encode()
    )
    for sub in ("schema", "views", "rules"):
        for path in sorted((queries_dir() / sub).glob("**/*.*")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tracekit"


def _template() -> Path | None:
    """An empty initialised store, built once per fingerprint in the user's cache folder
    (which keeps only the newest one).

    Creating the views binds every query (about 0.25 s); copying this file takes
    milliseconds. None when the cache folder cannot be written.
    """
    path = _cache_dir() / f"store-{fingerprint()}.duckdb"
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        os.unlink(scratch)
        con = duckdb.connect(
            scratch, config={"storage_compatibility_version": STORAGE_COMPATIBILITY}
        )
        try:
            initialise(con)
        finally:
            con.close()
        os.replace(scratch, path)
        for stale in path.parent.glob("store-*.duckdb"):  # other versions' templates
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError:
        return None
    return path


def connect(db: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``db``; a clear error when it is locked by a writer or not a database.

    A new database file starts as a copy of the cached empty store (``_template``).
    """
    path = Path(db)
    if read_only and not path.exists():
        raise InputError(
            f"{path}: no such database",
            "Create one with `tracekit import TRACES... --db FILE`.",
        )
    if not read_only and str(db) != ":memory:" and not path.exists() and path.parent.is_dir():
        template = _template()
        if template is not None:
            try:
                shutil.copyfile(template, path)
            except OSError:
                path.unlink(missing_ok=True)  # DuckDB then reports what is wrong
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        return duckdb.connect(
            str(path), config={"storage_compatibility_version": STORAGE_COMPATIBILITY}
        )
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise InputError(
                f"{path}: the database is in use by another process (it holds the write lock)",
                "Close the other tracekit/duckdb session, or wait for its import to finish.",
            ) from exc
        raise InputError(f"{path}: cannot open the database: {text}") from exc
    except duckdb.Error as exc:
        raise InputError(
            f"{path}: not a DuckDB database or it is damaged ({exc})",
            "tracekit databases are made by `tracekit import`.",
        ) from exc


def is_initialised(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'tracekit_meta'"
    ).fetchone()
    return bool(row and row[0])


def initialise(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, load the shipped rule tables, (re)create every view.

    Nothing to do when the store was last initialised from the same files
    (its ``fingerprint`` in ``tracekit_meta``).
    """
    current = fingerprint()
    if is_initialised(con):
        row = con.execute("SELECT value FROM tracekit_meta WHERE key = 'fingerprint'").fetchall()
        if row and row[0][0] == current:
            return
    con.execute("CREATE TABLE IF NOT EXISTS tracekit_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for path in _sql_files("schema"):
        con.execute(path.read_text())
    _load_rule_tables(con)
    create_views(con)
    con.execute(
        "INSERT OR REPLACE INTO tracekit_meta VALUES ('schema_version', ?), ('fingerprint', ?)",
        [SCHEMA_VERSION, current],
    )


PARQUET_TABLES = ("runs", "traces", "events", "threads", "rank_layout")


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
    con.execute("CREATE TABLE IF NOT EXISTS tracekit_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for path in _sql_files("schema"):
        con.execute(path.read_text())
    for table in PARQUET_TABLES:
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
    _load_rule_tables(con)
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
    columns = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
    select = ", ".join(
        "e.ts_ns + t.time_offset_ns - r.origin_ns AS ts_ns" if c == "ts_ns" else f'e."{c}"'
        for c in columns
    )
    con.execute("ALTER VIEW events RENAME TO _pq_events_local")
    con.execute("ALTER VIEW traces RENAME TO _pq_traces_local")
    con.execute(
        f"CREATE VIEW events AS SELECT {select} FROM _pq_events_local e "
        "JOIN _pq_traces_local t USING (trace_id) JOIN runs r ON r.run_id = t.run_id"
    )
    con.execute(
        "CREATE VIEW traces AS SELECT t.* REPLACE (r.origin_ns AS time_offset_ns) "
        "FROM _pq_traces_local t JOIN runs r ON r.run_id = t.run_id"
    )


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    for path in _sql_files("views"):
        con.execute(path.read_text())


def _load_rule_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the shipped rows of each rule table (``queries/rules/<table>.csv``).

    Shipped rows have ``source = 'builtin'`` and are refreshed on every
    initialise; rows a user added (``source`` = their file) are kept.
    """
    for csv_path in sorted((queries_dir() / "rules").glob("*.csv")):
        con.execute(f"DELETE FROM {csv_path.stem} WHERE source = 'builtin'")
        load_rule_file(con, csv_path.stem, csv_path, source="builtin")


def load_rule_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, *, source: str) -> int:
    """Append the rows of a CSV file (header = the table's columns) to a rule table."""
    try:
        columns = next(csv.reader(path.open(newline="")))
    except (OSError, StopIteration) as exc:
        raise InputError(f"{path}: cannot read the rule file ({exc})") from exc
    known = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()} - {"source"}
    unknown = set(columns) - known
    if unknown:
        raise InputError(
            f"{path}: unknown column(s) {', '.join(sorted(unknown))} for {table}",
            f"Columns of {table}: {', '.join(sorted(known))}.",
        )
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    try:
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT *, ? AS source FROM read_csv(?, header = true, "
            "all_varchar = true, quote = '\"')",
            [source, str(path)],
        )
    except duckdb.Error as exc:
        raise InputError(f"{path}: not a valid {table} file ({exc})") from exc
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One import is one transaction: all of it lands, or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
