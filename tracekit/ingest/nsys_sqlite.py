"""Move Nsight Systems SQLite tables into Arrow in bulk, reading columns by name.

Every table is optional (``nsys export --lazy`` drops empty tables) and so is
every column that a :class:`Field` does not mark ``needed`` (schema micro
versions add columns): a missing column reads as NULL. Each read checks its
rows: in the same SQLite scan, that its integer columns hold whole numbers (a
``_bad`` column flags a row where one does not; CAST would make text 0),
then vectorised in Arrow, the other rules of its :class:`Field` (NULLs where nsys
always writes a value, numbers out of range, huge strings, an ``end`` before
its ``start``). A damaged row stops the import with its table, column and row.
Bulk reads go through the Arrow ADBC SQLite driver (``adbc-driver-sqlite``,
which bundles its own SQLite): rows arrive as Arrow columns straight from C,
with no per-row logic in Python. Small lookups (table list, metadata pairs, a
bad row's stored value) use the stdlib ``sqlite3`` module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tracekit.errors import InputError, TracekitError

try:
    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi as adbc_sqlite
except ImportError:  # pragma: no cover - a broken install
    adbc_sqlite = None

BATCH_ROWS = 1 << 18
# SQLite values are dynamically typed and ADBC infers each column's Arrow type from
# the rows of a batch: every cell is cast to its field's storage class in SQL, and a
# whole rowid range is one batch, so a column that is NULL in its first rows (typed
# int64 by the driver) cannot clash with a later text value; Arrow then casts each
# range to the field's type.
SQL_CASTS = (
    (pa.types.is_integer, "INTEGER"),
    (pa.types.is_floating, "REAL"),
    (pa.types.is_string, "TEXT"),
    (pa.types.is_binary, "BLOB"),
)


SQLITE_MAGIC = b"SQLite format 3\x00"
# Longer strings are not trace data (a kernel name, an NVTX range): 1 MiB.
MAX_TEXT_BYTES = 1 << 20
EXPORT_AGAIN = "Export the report again: nsys export --type sqlite --include-blobs=true ..."
REEXPORT = (
    "Export the report again (nsys export --type sqlite --include-blobs=true REPORT.nsys-rep); "
    "an export that was edited or written by another tool must keep nsys's column types."
)


@dataclass(frozen=True)
class Field:
    """A column read from an export table, and what a valid value of it is.

    ``needed``: the table must have the column (if the table exists at all);
    ``not_null``: every row has a value; ``low``/``high``: bounds of an integer;
    ``after``: another field this one may not be less than (``end`` after ``start``).
    Every integer must be a whole number and every string at most 1 MiB.
    """

    name: str
    kind: pa.DataType
    needed: bool = False
    not_null: bool = False
    low: int | None = None
    high: int | None = None
    after: str | None = None


def quote_ident(name: str) -> str:
    """``name`` as an SQLite identifier (a table may be called ``a"b``)."""
    return '"' + name.replace('"', '""') + '"'


def export_uri(path: Path) -> str:
    """A read-only SQLite URI for ``path``, percent-encoded (``#``, ``?``, ``%`` in names).

    immutable=1: no locks, journal or -wal/-shm files, so a read-only folder works
    and the export is never written to.
    """
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def open_export(path: Path) -> sqlite3.Connection:
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if not head:
        raise InputError(
            f"{path}: the file is empty (0 bytes), not an Nsight Systems export",
            EXPORT_AGAIN,
        )
    is_sqlite = head == SQLITE_MAGIC
    try:
        con = sqlite3.connect(export_uri(path), uri=True, check_same_thread=False)
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_sqlite:
            raise InputError(
                f"{path}: the SQLite export is truncated or damaged ({exc})",
                EXPORT_AGAIN,
            ) from exc
        raise InputError(
            f"{path}: not an SQLite database ({exc})",
            "Nsight Systems exports are made with `nsys export --type sqlite REPORT.nsys-rep`.",
        ) from exc
    return con


def _sql_type(kind: pa.DataType) -> str:
    for test, name in SQL_CASTS:
        if test(kind):
            return name
    raise ValueError(f"no SQLite storage class for {kind}")


class ExportTables:
    """The tables and columns of one export, and bulk reads from them.

    Reads are cut into ranges of rowids; with a thread pool the ranges run in
    parallel, each on an ADBC connection of its own (the driver releases the GIL).
    """

    def __init__(self, path: Path) -> None:
        if adbc_sqlite is None:
            raise TracekitError(
                "reading Nsight Systems exports needs the Arrow ADBC SQLite driver, "
                "which is not installed",
                "Install it: pip install adbc-driver-sqlite",
            )
        self.path = path
        self.con = open_export(path)
        self.uri = export_uri(path)
        names = [
            r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        self.columns: dict[str, set[str]] = {
            name: {r[0] for r in self.con.execute("SELECT name FROM pragma_table_info(?)", [name])}
            for name in names
        }

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    def read(self, table: str, fields: list[Field]) -> pa.Table:
        """``fields`` of ``table`` (NULL where a column is missing) plus ``_ord`` (the rowid)."""
        return self.read_async(table, fields)()

    def read_async(
        self, table: str, fields: list[Field], pool: Executor | None = None
    ) -> Callable[[], pa.Table]:
        """Start reading ``table`` (on ``pool`` if given); the returned call collects it.

        Raises :class:`InputError` for a missing needed column or a row that breaks
        its fields' rules.
        """
        schema = pa.schema([("_ord", pa.int64()), *((f.name, f.kind) for f in fields)])
        empty = schema.empty_table()
        if table not in self.columns:
            return lambda: empty
        for f in fields:
            if f.needed and f.name not in self.columns[table]:
                raise InputError(
                    f"{self.path}: table {table} has no column {f.name}, which Nsight Systems "
                    "exports always have (renamed or dropped?)",
                    REEXPORT,
                )
        cells = ['rowid AS "_ord"']
        whole: list[str] = []
        for f in fields:
            present = f.name in self.columns[table]
            value = quote_ident(f.name) if present else "NULL"
            cells.append(f"CAST({value} AS {_sql_type(f.kind)}) AS {quote_ident(f.name)}")
            if present and pa.types.is_integer(f.kind):
                whole.append(f.name)
        if whole:
            cells.append(f'CASE WHEN NOT ({_whole_numbers(whole)}) THEN 1 END AS "_bad"')
        sql = f"SELECT {', '.join(cells)} FROM {quote_ident(table)} WHERE rowid >= ? AND rowid < ?"
        low, high = self.con.execute(
            f"SELECT min(rowid), max(rowid) FROM {quote_ident(table)}"
        ).fetchone()

        def batch(start: int) -> pa.Table:
            try:
                with adbc_sqlite.connect(self.uri) as con, con.cursor() as cur:
                    cur.adbc_statement.set_options(
                        **{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)}
                    )
                    cur.execute(sql, (start, start + BATCH_ROWS))
                    got = cur.fetch_arrow_table()
            except (adbc_driver_manager.Error, OSError) as exc:
                raise InputError(
                    f"{self.path}: the SQLite export is truncated or damaged ({exc})",
                    EXPORT_AGAIN,
                ) from exc
            if whole:
                bad = got.column("_bad")
                if bad.null_count < len(bad):
                    row = _first(pc.is_valid(bad))
                    column = self._not_whole(table, whole, got.column("_ord")[row].as_py())
                    self._reject(table, column, got, row, "is not an integer")
            typed = pa.Table.from_arrays(
                [_as(got.column(i), f.type) for i, f in enumerate(schema)], schema=schema
            )
            for f in fields:
                if f.name in self.columns[table] and (found := _problem(f, typed)):
                    self._reject(table, f.name, typed, *found)
            return typed

        starts = range(low if low is not None else 0, (high or -1) + 1, BATCH_ROWS)
        if pool is None:
            parts = [batch(start) for start in starts]
            return lambda: _concat(parts, empty)
        futures = [pool.submit(batch, start) for start in starts]
        return lambda: _concat([f.result() for f in futures], empty)

    def _not_whole(self, table: str, columns: list[str], rowid: int) -> str:
        """The first of ``columns`` whose value in row ``rowid`` is not a whole number."""
        flags = self.con.execute(
            f"SELECT {', '.join(_whole_numbers([c]) for c in columns)} "
            f"FROM {quote_ident(table)} WHERE rowid = ?",
            [rowid],
        ).fetchone()
        return next(c for c, ok in zip(columns, flags, strict=True) if not ok)

    def _reject(self, table: str, column: str, got: pa.Table, row: int, problem: str) -> None:
        """Raise for row ``row`` of ``got`` (read from ``table``), showing its stored value."""
        rowid = got.column("_ord")[row].as_py()
        (shown,) = self.con.execute(
            f"SELECT quote({quote_ident(column)}) FROM {quote_ident(table)} WHERE rowid = ?",
            [rowid],
        ).fetchone()
        if len(shown) > 60:
            shown = f"{shown[:60]}... ({len(shown):,} characters)"
        raise InputError(
            f"{self.path}: table {table}, column {column}, row {rowid}: {shown} {problem}",
            REEXPORT,
        )

    def pairs(self, table: str, key: str, value: str) -> list[tuple]:
        if not (self.has(table, key) and self.has(table, value)):
            return []
        return self.con.execute(
            f"SELECT {quote_ident(key)}, {quote_ident(value)} FROM {quote_ident(table)}"
        ).fetchall()


def _as(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """``column`` as ``kind``; all NULL (the driver types it int64) becomes NULLs of ``kind``."""
    if column.null_count == len(column):
        return pa.chunked_array([pa.nulls(len(column), kind)])
    return column.cast(kind)


def _whole_numbers(columns: list[str]) -> str:
    """An SQLite condition true where every one of ``columns`` holds a whole number or NULL.

    CAST turns text into 0, so Arrow cannot see it: SQL must test it. A whole
    number stored as text or real is the same value (IS) as its integer cast.
    One AND chain of plain comparisons costs a fifth of a typeof() per column.
    """
    return " AND ".join(f"CAST({quote_ident(c)} AS INTEGER) IS {quote_ident(c)}" for c in columns)


def _first(mask: pa.ChunkedArray | pa.Array) -> int | None:
    mask = pc.fill_null(mask, False)
    return pc.index(mask, True).as_py() if pc.any(mask).as_py() else None


def _problem(f: Field, table: pa.Table) -> tuple[int, str] | None:
    """(first row, problem) where column ``f`` of ``table`` breaks a rule of ``f``, else None."""
    column = table.column(f.name)
    if f.not_null and column.null_count:
        return _first(pc.is_null(column)), "where nsys always writes a value"
    if f.low is not None and f.high is not None and column.null_count < len(column):
        low, high = pc.min_max(column).values()
        if low.as_py() < f.low or high.as_py() > f.high:
            outside = pc.or_(pc.less(column, f.low), pc.greater(column, f.high))
            return _first(outside), f"is out of range (expected {f.low}..{f.high})"
    if f.after is not None:
        row = _first(pc.less(column, table.column(f.after)))
        if row is not None:
            return row, f"is before its {f.after}"
    if pa.types.is_string(f.kind) and column.null_count < len(column):
        lengths = pc.binary_length(column)
        if pc.max(lengths).as_py() > MAX_TEXT_BYTES:
            row = _first(pc.greater(lengths, MAX_TEXT_BYTES))
            return row, f"is longer than {MAX_TEXT_BYTES:,} bytes: not trace data"
    return None


def _concat(parts: list[pa.Table], empty: pa.Table) -> pa.Table:
    return pa.concat_tables(parts) if parts else empty
