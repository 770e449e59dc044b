"""The store's schema: create the tables, load the rule tables, (re)create the views.

Tables are defined in ``queries/schema/*.sql``, the macros shared by several views in
``queries/macros/*.sql`` and views and view macros in ``queries/views/*.sql`` (each
folder applied in file-name order). Every derived figure is
a view, so the database file works the same from Python, ``tracekit sql`` or
the plain ``duckdb`` CLI.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
from pathlib import Path

import duckdb

from tracekit import places
from tracekit.errors import InputError
from tracekit.resources import queries_dir

SCHEMA_VERSION = "1"
# Files are written in a storage format DuckDB 1.4 and later read, so the `duckdb` CLI a
# user already has (or `pip install duckdb-cli`) opens them, views included.
STORAGE_COMPATIBILITY = "v1.4.0"
# Every connection tracekit opens to a store: no extension is ever installed or loaded
# behind the user's back (DuckDB would fetch one to open e.g. an SQLite file).
SAFE_CONFIG: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
WRITE_CONFIG = {**SAFE_CONFIG, "storage_compatibility_version": STORAGE_COMPATIBILITY}


def _sql_files(sub: str) -> list[Path]:
    return sorted((queries_dir() / sub).glob("**/*.sql"), key=lambda p: p.name)


def fingerprint() -> str:
    """What an initialised store depends on: the SQL and rule files, the DuckDB version."""
    digest = hashlib.sha256(
        f"{SCHEMA_VERSION} {STORAGE_COMPATIBILITY} {duckdb.__version__}".encode()
    )
    for sub in ("schema", "macros", "views", "rules"):
        for path in sorted((queries_dir() / sub).glob("**/*.*")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def template() -> Path | None:
    """An empty initialised store, built once per fingerprint in the user's cache folder
    (which keeps only the newest one).

    Creating the views binds every query (about 0.25 s); copying this file takes
    milliseconds. None when the cache folder cannot be written.
    """
    path = places.cache_dir() / f"store-{fingerprint()}.duckdb"
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        os.unlink(scratch)
        con = duckdb.connect(scratch, config=WRITE_CONFIG)
        try:
            initialise(con)
        finally:
            con.close()
        os.replace(scratch, path)
        for stale in path.parent.glob("store-*.duckdb"):  # other versions' templates
            if stale != path:
                stale.unlink(missing_ok=True)
    except (OSError, duckdb.Error):
        return None
    return path


def is_initialised(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'tracekit_meta' "
            "AND database_name = current_database()"
        ).fetchall()[0][0]
    )


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
    create_tables(con)
    load_rule_tables(con)
    create_views(con)
    con.execute(
        "INSERT OR REPLACE INTO tracekit_meta VALUES ('schema_version', ?), ('fingerprint', ?)",
        [SCHEMA_VERSION, current],
    )


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS tracekit_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for path in _sql_files("schema"):
        con.execute(path.read_text())


def table_columns() -> dict[str, list[str]]:
    """Each table of the schema (``queries/schema``) and its columns, in order."""
    con = duckdb.connect()
    try:
        create_tables(con)
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
        return {name: con.table(name).columns for (name,) in tables}
    finally:
        con.close()


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the shared macros (``queries/macros``), then every view and view macro."""
    for path in [*_sql_files("macros"), *_sql_files("views")]:
        con.execute(path.read_text())


def load_rule_tables(con: duckdb.DuckDBPyConnection) -> None:
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
