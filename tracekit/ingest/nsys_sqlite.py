"""Move Nsight Systems SQLite tables into Arrow in bulk, reading columns by name.

Every table and every column is optional (``nsys export --lazy`` drops empty
tables; schema micro versions add columns): a missing column reads as NULL.
Rows come from the stdlib ``sqlite3`` module in large ``fetchmany`` batches
and are transposed into Arrow columns; no per-row logic runs in Python.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa

from tracekit.errors import InputError

BATCH_ROWS = 1 << 18


SQLITE_MAGIC = b"SQLite format 3\x00"


def open_export(path: Path) -> sqlite3.Connection:
    with path.open("rb") as fh:
        is_sqlite = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
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
    """The tables and columns of one export, and bulk reads from them."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        self.columns: dict[str, set[str]] = {
            name: {r[1] for r in con.execute(f'PRAGMA table_info("{name}")')} for name in names
        }

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    def read(
        self,
        table: str,
        fields: list[tuple[str, pa.DataType]],
        where: str = "",
        exprs: dict[str, str] | None = None,
    ) -> pa.Table:
        """``fields`` of ``table`` (NULL where a column is missing) as an Arrow table.

        ``exprs`` gives an SQL expression for a field instead of its column
        (used when every column the expression names exists).
        """
        schema = pa.schema(fields)
        if table not in self.columns:
            return schema.empty_table()
        selects = []
        for name, _type in fields:
            if exprs and name in exprs:
                selects.append(f"{exprs[name]} AS {name}")
            elif name in self.columns[table]:
                selects.append(f'"{name}"')
            else:
                selects.append(f"NULL AS {name}")
        sql = f'SELECT {", ".join(selects)} FROM "{table}" {where}'
        cursor = self.con.execute(sql)
        batches = []
        while rows := cursor.fetchmany(BATCH_ROWS):
            columns = list(zip(*rows, strict=True))
            batches.append(
                pa.record_batch(
                    [pa.array(col, type=t) for col, (_n, t) in zip(columns, fields, strict=True)],
                    schema=schema,
                )
            )
        return pa.Table.from_batches(batches, schema=schema)

    def pairs(self, table: str, key: str, value: str, where: str = "") -> list[tuple]:
        if not (self.has(table, key) and self.has(table, value)):
            return []
        return self.con.execute(f'SELECT "{key}", "{value}" FROM "{table}" {where}').fetchall()
