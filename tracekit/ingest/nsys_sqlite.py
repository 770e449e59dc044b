"""Move Nsight Systems SQLite tables into Arrow in bulk, reading columns by name.

Every table and every column is optional (``nsys export --lazy`` drops empty
tables; schema micro versions add columns): a missing column reads as NULL.
Rows come from the stdlib ``sqlite3`` module as one CSV text per batch of
rowids, formatted by SQLite and parsed by Arrow; no per-row logic runs in Python.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from tracekit.errors import InputError

BATCH_ROWS = 1 << 18
# A text cell as CSV: NULL -> empty (read back as NULL), else quoted with quotes doubled.
QUOTED = """CASE WHEN {v} IS NULL THEN '' ELSE '"' || replace({v}, '"', '""') || '"' END"""


SQLITE_MAGIC = b"SQLite format 3\x00"


def open_export(path: Path) -> sqlite3.Connection:
    with path.open("rb") as fh:
        is_sqlite = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
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


class ExportTables:
    """The tables and columns of one export, and bulk reads from them.

    Reads are cut into batches of rowids; with a thread pool the batches run in
    parallel, each thread on a connection of its own (SQLite releases the GIL).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = open_export(path)
        self._local = threading.local()
        names = [
            r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        self.columns: dict[str, set[str]] = {
            name: {r[1] for r in self.con.execute(f'PRAGMA table_info("{name}")')} for name in names
        }

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    def _thread_con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = open_export(self.path)
        return con

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

        SQLite itself formats each batch of rows as one CSV text (``printf`` and
        ``group_concat``, in C, without the GIL) that Arrow's CSV reader parses in
        bulk; ``exprs`` gives an SQL expression for a field instead of its column.
        """
        names = ["_ord", *(name for name, _type in fields)]
        types = {"_ord": pa.int64(), **dict(fields)}
        empty = pa.schema([(n, types[n]) for n in names]).empty_table()
        if table not in self.columns:
            return lambda: empty
        cells = ["rowid"]
        for name, kind in fields:
            if exprs and name in exprs:
                value = exprs[name]
            elif name in self.columns[table]:
                value = f'"{name}"'
            else:
                value = "NULL"
            if pa.types.is_string(kind):
                value = QUOTED.format(v=value)
            cells.append(value)
        line = f"printf('{','.join(['%s'] * len(cells))}', {', '.join(cells)})"
        sql = (
            f"SELECT CAST(group_concat(line, char(10)) AS BLOB) FROM (SELECT {line} AS line "
            f'FROM "{table}" WHERE rowid >= ? AND rowid < ?)'
        )
        low, high = self.con.execute(f'SELECT min(rowid), max(rowid) FROM "{table}"').fetchone()
        has_text = any(pa.types.is_string(kind) for _name, kind in fields)
        options = (
            pcsv.ReadOptions(column_names=names, use_threads=False),
            pcsv.ParseOptions(newlines_in_values=has_text),
            pcsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )

        def batch(start: int) -> pa.Table | None:
            (text,) = self._thread_con().execute(sql, (start, start + BATCH_ROWS)).fetchone()
            return pcsv.read_csv(pa.py_buffer(text), *options) if text else None

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


def _concat(parts: list[pa.Table | None], empty: pa.Table) -> pa.Table:
    tables = [t for t in parts if t is not None]
    return pa.concat_tables(tables) if tables else empty
