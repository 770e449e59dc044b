"""The DuckDB store: open a database, create the schema, (re)create the views.

Tables are defined in ``queries/schema/*.sql`` and views and macros in
``queries/views/*.sql`` (applied in file-name order). Every derived figure is
a view, so the database file works the same from Python, ``tracekit sql`` or
the plain ``duckdb`` CLI.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tracekit.errors import InputError
from tracekit.resources import queries_dir

SCHEMA_VERSION = "1"


def _sql_files(sub: str) -> list[Path]:
    return sorted((queries_dir() / sub).glob("**/*.sql"), key=lambda p: p.name)


def connect(db: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``db``; a clear error when it is locked by a writer or not a database."""
    path = Path(db)
    if read_only and not path.exists():
        raise InputError(
            f"{path}: no such database",
            "Create one with `tracekit import TRACES... --db FILE`.",
        )
    try:
        return duckdb.connect(str(path), read_only=read_only)
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
    """Create missing tables, load the shipped rule tables, (re)create every view."""
    con.execute("CREATE TABLE IF NOT EXISTS tracekit_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT OR REPLACE INTO tracekit_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
    )
    for path in _sql_files("schema"):
        con.execute(path.read_text())
    _load_rule_tables(con)
    create_views(con)


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
