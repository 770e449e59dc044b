"""The store: one DuckDB file per job, and the one way into it.

Every command opens a database through :func:`open` (or :func:`connect`, for a
connection that outlives a block, like the TUI's):

- ``read_only=True``: a session that can only read. DuckDB's external access is
  off (no file besides the database is read or written: no ``COPY``, ``EXPORT``,
  ``ATTACH``, ``read_text``, profiling output), no extension is installed or
  loaded, and the configuration is locked so the SQL cannot turn any of that
  back on. With ``parquet=DIR`` the same over a Parquet dataset, whose folder
  is the only one readable. :func:`run_query` runs a user's SQL there and
  refuses any statement that is not a query.
- ``read_only=False``: one transaction over a tracekit database, committed when
  the block ends without an error and rolled back otherwise, leaving the file
  byte-identical. ``create=True`` lets the path be new: the database is then
  built in a staging file beside it and appears only on success.

Only DuckDB files are opened (a CSV, JSON, Parquet or SQLite path is refused
before DuckDB sees it), and only tracekit's own: a DuckDB file holding other
tables is never written to. :func:`pick_run` chooses the run a command reports.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tracekit import places
from tracekit.errors import InputError
from tracekit.store.dataset import TABLES as PARQUET_TABLES
from tracekit.store.dataset import attach_parquet
from tracekit.store.schema import (
    SAFE_CONFIG,
    SCHEMA_VERSION,
    STORAGE_COMPATIBILITY,
    WRITE_CONFIG,
    create_views,
    fingerprint,
    initialise,
    is_initialised,
    load_rule_file,
    template,
)

__all__ = [
    "PARQUET_TABLES",
    "SCHEMA_VERSION",
    "STORAGE_COMPATIBILITY",
    "attach_parquet",
    "connect",
    "create_views",
    "fingerprint",
    "initialise",
    "is_initialised",
    "load_rule_file",
    "open",
    "pick_run",
    "run_query",
]

# The first bytes of files people pass as --db by mistake, and what to call them.
_FOREIGN = (
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip archive"),
)
_NEW_DB_HINT = "Create one with `tracekit import TRACES... --db FILE`."
_READ_ONLY_HINT = (
    "tracekit sql and the TUI only read: they run SELECT, EXPLAIN, PRAGMA and CALL on the "
    "database and touch no other file. To save a result, use --format csv or json and "
    "redirect the output."
)
_QUERIES = frozenset(
    {
        duckdb.StatementType.SELECT,
        duckdb.StatementType.EXPLAIN,
        duckdb.StatementType.PRAGMA,
        duckdb.StatementType.CALL,
    }
)


def _text(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split())


def _what_is(path: Path) -> str | None:
    """None for a DuckDB database file, else what the file looks like."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the database file ({exc.strerror})") from exc
    if head[8:12] == b"DUCK":
        return None
    if not head:
        return "an empty file"
    for magic, kind in _FOREIGN:
        if head.startswith(magic):
            return kind
    if head.lstrip()[:1] in (b"{", b"["):
        return "JSON text"
    return "text or data of another kind"


def _check_path(path: Path, *, create: bool) -> bool:
    """Refuse what is not a DuckDB database; True when ``path`` is new (and may be)."""
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a database file", "Pass --db FILE.")
    if not path.exists():
        if not create:
            raise InputError(f"{path}: no such database", _NEW_DB_HINT)
        if not path.parent.is_dir():
            raise InputError(
                f"{path}: cannot open the database: the folder {path.parent} does not exist",
                "Create the folder first, or give --db a path in an existing one.",
            )
        return True
    kind = _what_is(path) if path.is_file() else "not a regular file"
    if kind is not None:
        raise InputError(
            f"{path}: not a DuckDB database ({kind}); tracekit leaves it untouched",
            "--db names a DuckDB file made by `tracekit import`; give a new path to create one.",
        )
    return False


def _lock_error(path: Path, read_only: bool, exc: duckdb.Error) -> InputError:
    """Who holds the lock: only a writer blocks a reader; a writer is blocked by either."""
    pid = re.search(r"PID (\d+)", str(exc))
    who = f"the database is in use by another process{f' (PID {pid.group(1)})' if pid else ''}"
    writing = read_only
    if not read_only:
        try:
            duckdb.connect(str(path), read_only=True, config=SAFE_CONFIG).close()
        except duckdb.Error:
            writing = True
    if writing:
        return InputError(
            f"{path}: {who}, which is writing to it (it holds the write lock)",
            "Wait for that import to finish, then try again.",
        )
    return InputError(
        f"{path}: {who}, which has it open for reading (a tracekit tui, sql or report "
        "session, or duckdb); writing needs the database alone",
        "Close that session, then try again.",
    )


def _duckdb(path: Path, *, read_only: bool, optimistic: bool = True) -> duckdb.DuckDBPyConnection:
    if read_only:  # spills (rare) go beside the database: the only place it may write
        config = {**SAFE_CONFIG, "enable_external_access": False}
    else:
        config = {**WRITE_CONFIG, "temp_directory": str(places.scratch_dir() / "duckdb")}
        if not optimistic:
            config["enable_optimistic_write"] = False
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise _lock_error(path, read_only, exc) from exc
        raise InputError(f"{path}: cannot open the database ({_text(exc)})") from exc
    except duckdb.Error as exc:
        raise InputError(
            f"{path}: not a DuckDB database or it is damaged ({_text(exc)})",
            "tracekit databases are made by `tracekit import`.",
        ) from exc
    _quiet(con, lock=read_only)
    return con


def _quiet(con: duckdb.DuckDBPyConnection, *, lock: bool) -> None:
    """No progress bar on stdout (it would land inside a report); then lock the settings.

    The progress bar is a session setting, so it cannot go in the connect config. A second
    connection to a file this process holds open read-only shares its locked
    configuration (DuckDB keeps one instance per file), so it sets nothing.
    """
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
        return
    con.execute("SET enable_progress_bar = false")
    if lock:
        con.execute("SET lock_configuration = true")


def _check_store(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
    """A tracekit database, or (to write into) an empty DuckDB file."""
    if is_initialised(con):
        return
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal ORDER BY 1"
        ).fetchall()
    ]
    if names or read_only:
        held = f"it holds {', '.join(names[:6])}" if names else "it is empty"
        raise InputError(
            f"{path}: not a tracekit database (a DuckDB file tracekit did not make: {held}); "
            "tracekit leaves it untouched",
            f"Give --db a tracekit database. {_NEW_DB_HINT}",
        )


def connect(
    db: str | Path | None = None,
    *,
    read_only: bool = False,
    create: bool = True,
    parquet: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to the tracekit database ``db``, or (read-only) the dataset ``parquet``.

    Read-only connections are locked down (see the module's docstring). A writing
    connection has no transaction of its own (:func:`open` adds one); a new ``db``
    (where ``create``) starts as a copy of the cached empty store.
    """
    if parquet is not None:
        return _dataset(Path(parquet))
    if db is None:
        raise InputError("no database given", "Pass --db FILE.")
    path = Path(db)
    if _check_path(path, create=create and not read_only):
        _copy_template(path)
    con = _duckdb(path, read_only=read_only)
    try:
        _check_store(con, path, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


def _copy_template(path: Path) -> None:
    source = template()
    if source is None:
        return
    try:
        shutil.copyfile(source, path)
    except OSError:
        path.unlink(missing_ok=True)  # DuckDB then reports what is wrong


def _dataset(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory store over a Parquet dataset that reads only the dataset's folder."""
    if root.exists() and not root.is_dir():
        raise InputError(
            f"{root}: a file, not a Parquet dataset folder",
            "--parquet names the folder `tracekit import --parquet DIR` wrote.",
        )
    con = duckdb.connect(
        config={**SAFE_CONFIG, "temp_directory": str(places.scratch_dir() / "duckdb")}
    )
    try:
        con.execute("SET allowed_directories = ?", [[f"{root.resolve()}{os.sep}"]])
        attach_parquet(con, root)
        con.execute("INSERT INTO tracekit_meta VALUES ('dataset', ?)", [str(root)])
        con.execute("SET enable_external_access = false")
        _quiet(con, lock=True)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open(  # noqa: A001 - the store's door, called as store.open
    db: str | Path | None = None,
    *,
    read_only: bool,
    create: bool = False,
    parquet: str | Path | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a store for one block: read-only, or as one transaction (see the module)."""
    if read_only:
        con = connect(db, read_only=True, parquet=parquet)
        try:
            yield con
        finally:
            con.close()
        return
    if db is None:
        raise InputError("no database given", "Pass --db FILE.")
    path = Path(db)
    stage = places.staging_path(path) if _check_path(path, create=create) else None
    wal = _wal(stage or path)
    wal_before = wal.exists()  # a WAL of an earlier session holds its committed data
    try:
        if stage is not None:
            _copy_template(stage)
        # Appends to an existing file stay in memory (spilling to the scratch area)
        # until COMMIT: DuckDB's optimistic writes would grow the file even when the
        # transaction rolls back.
        con = _duckdb(stage or path, read_only=False, optimistic=stage is not None)
    except BaseException:
        _discard(stage)
        raise
    try:
        _check_store(con, path, read_only=False)
        con.execute("BEGIN TRANSACTION")
        initialise(con)
        yield con
        _commit(con, path, staged=stage is not None)
    except BaseException as exc:
        _rollback(con)
        _discard(stage)
        if not wal_before:  # what a failed COMMIT began to write
            wal.unlink(missing_ok=True)
        failure = _write_failure(path, exc)
        if failure is not None:
            raise failure from exc
        raise
    if stage is not None:
        _publish(stage, path)


def _commit(con: duckdb.DuckDBPyConnection, path: Path, *, staged: bool) -> None:
    """COMMIT; a staged new file is also checkpointed, as closing would do silently.

    DuckDB's close swallows a failed checkpoint (a full disk), which would leave the
    staged file without its data and the data in a WAL beside it.
    """
    try:
        con.execute("COMMIT")
        if staged:
            con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise _write_error(path, _text(exc)) from exc
    con.close()


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction left to roll back (COMMIT failed, or the connection closed)
    con.close()


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _discard(stage: Path | None) -> None:
    if stage is not None:
        stage.unlink(missing_ok=True)
        _wal(stage).unlink(missing_ok=True)


_WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _write_failure(path: Path, exc: BaseException) -> InputError | None:
    """The paragraph for a database that could not be written (disk full, read-only folder)."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return _write_error(path, exc.strerror)
    if isinstance(exc, duckdb.IOException):
        return _write_error(path, _text(exc))
    return None


def _write_error(path: Path, reason: str) -> InputError:
    return InputError(
        f"{path}: cannot write the database ({reason}); nothing was changed",
        "Free disk space or choose a writable folder, then run the command again.",
    )


def _publish(stage: Path, path: Path) -> None:
    """Move the staged new database into place, never over a file that appeared meanwhile."""
    try:
        os.link(stage, path)
    except FileExistsError as exc:
        _discard(stage)
        raise InputError(
            f"{path}: another process created this file while the import ran; nothing was written",
            "Import into it again (it is now an existing database), or choose another path.",
        ) from exc
    except OSError:
        os.replace(stage, path)  # a file system without hard links
        return
    stage.unlink()


def _source(con: duckdb.DuckDBPyConnection) -> str:
    """The database file or dataset folder behind ``con``, for messages."""
    row = con.execute("SELECT value FROM tracekit_meta WHERE key = 'dataset'").fetchall()
    if row:
        return row[0][0]
    return con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()[0][0]


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
    """Run a user's SQL on a read-only session; only queries, errors as one paragraph."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputError(f"{_source(con)}: SQL error: {_text(exc)}") from exc
    for statement in statements:
        if statement.type not in _QUERIES:
            raise InputError(
                f"{_source(con)}: refused {statement.type.name} statement: this session only "
                "reads the database",
                _READ_ONLY_HINT,
            )
    try:
        return con.execute(sql)
    except duckdb.PermissionException as exc:
        raise InputError(
            f"{_source(con)}: refused: this session only reads the database ({_text(exc)})",
            _READ_ONLY_HINT,
        ) from exc
    except duckdb.Error as exc:
        if "configuration has been locked" in str(exc):
            raise InputError(
                f"{_source(con)}: refused: this session's settings cannot change ({_text(exc)})",
                _READ_ONLY_HINT,
            ) from exc
        raise InputError(f"{_source(con)}: SQL error: {_text(exc)}") from exc


def pick_run(con: duckdb.DuckDBPyConnection, run: str | None) -> str:
    """``run`` if the database has it; the only run when ``run`` is None."""
    names = [row[0] for row in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
    if run is not None:
        if run not in names:
            raise InputError(
                f"{_source(con)}: run {run!r} is not in the database",
                f"Runs here: {', '.join(names) or 'none'}.",
            )
        return run
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError(
            f"{_source(con)}: the database holds no runs", "Import traces with `tracekit import`."
        )
    raise InputError(
        f"{_source(con)}: the database holds {len(names)} runs; pick one with --run",
        f"Runs here: {', '.join(names)}.",
    )
