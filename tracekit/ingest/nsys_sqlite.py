"""Move Nsight Systems SQLite tables into Arrow in bulk, reading columns by name.

Every table and every column is optional (``nsys export --lazy`` drops empty
tables; schema micro versions add columns): a missing column reads as NULL.
Bulk reads go through the Arrow ADBC SQLite driver (``adbc-driver-sqlite``,
which bundles its own SQLite): rows arrive as Arrow columns straight from C,
with no per-row logic in Python. Small lookups (table list, metadata pairs,
NVTX payload blobs) use the stdlib ``sqlite3`` module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import pyarrow as pa

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


def export_uri(path: Path) -> str:
    """A read-only SQLite URI for ``path``, percent-encoded (``#``, ``?``, ``%`` in names).

    immutable=1: no locks, journal or -wal/-shm files, so a read-only folder works
    and the export is never written to.
    """
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def open_export(path: Path) -> sqlite3.Connection:
    with path.open("rb") as fh:
        is_sqlite = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    try:
        con = sqlite3.connect(export_uri(path), uri=True, check_same_thread=False)
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_sqlite:
            raise InputError(
                f"{path}: the SQLite export is truncated or damaged ({exc})",
                "Export the report again: nsys export --type sqlite --include-blobs=true ...",
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
            name: {r[1] for r in self.con.execute(f'PRAGMA table_info("{name}")')} for name in names
        }

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    def read(
        self,
        table: str,
        fields: list[tuple[str, pa.DataType]],
        exprs: dict[str, str] | None = None,
    ) -> pa.Table:
        """``fields`` of ``table`` (NULL where a column is missing) plus ``_ord`` (the rowid)."""
        return self.read_async(table, fields, exprs)()

    def read_async(
        self,
        table: str,
        fields: list[tuple[str, pa.DataType]],
        exprs: dict[str, str] | None = None,
        pool: Executor | None = None,
    ) -> Callable[[], pa.Table]:
        """Start reading ``table`` (on ``pool`` if given); the returned call collects it.

        ``exprs`` gives an SQL expression for a field instead of its column.
        """
        schema = pa.schema([("_ord", pa.int64()), *fields])
        empty = schema.empty_table()
        if table not in self.columns:
            return lambda: empty
        cells = ['rowid AS "_ord"']
        for name, kind in fields:
            if exprs and name in exprs:
                value = exprs[name]
            elif name in self.columns[table]:
                value = f'"{name}"'
            else:
                value = "NULL"
            cells.append(f'CAST({value} AS {_sql_type(kind)}) AS "{name}"')
        sql = f'SELECT {", ".join(cells)} FROM "{table}" WHERE rowid >= ? AND rowid < ?'
        low, high = self.con.execute(f'SELECT min(rowid), max(rowid) FROM "{table}"').fetchone()

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
                    "Export the report again: nsys export --type sqlite --include-blobs=true ...",
                ) from exc
            return pa.Table.from_arrays(
                [got.column(i).cast(f.type) for i, f in enumerate(schema)], schema=schema
            )

        starts = range(low if low is not None else 0, (high or -1) + 1, BATCH_ROWS)
        if pool is None:
            parts = [batch(start) for start in starts]
            return lambda: _concat(parts, empty)
        futures = [pool.submit(batch, start) for start in starts]
        return lambda: _concat([f.result() for f in futures], empty)

    def pairs(self, table: str, key: str, value: str, where: str = "") -> list[tuple]:
        if not (self.has(table, key) and self.has(table, value)):
            return []
        return self.con.execute(f'SELECT "{key}", "{value}" FROM "{table}" {where}').fetchall()


def _concat(parts: list[pa.Table], empty: pa.Table) -> pa.Table:
    return pa.concat_tables(parts) if parts else empty
