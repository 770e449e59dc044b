"""The SQL macros of ``queries/macros`` evaluated from Python, so that a rule the views use
(the busbw factor, a rank's place in the layout) has one definition for SQL and model alike.

Each distinct call runs once on a private in-memory DuckDB holding only the macros; the
answer is cached (the arguments are a handful of ops, group sizes and ranks).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import duckdb

from tracekit.resources import queries_dir

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        for path in sorted((queries_dir() / "macros").glob("*.sql")):
            con.execute(path.read_text())
        _local.con = con
    return con


@cache
def call(macro: str, *args: Any) -> Any:
    """The value of the scalar macro ``macro`` (a name from queries/macros) for ``args``."""
    marks = ", ".join("?" for _ in args)
    [(value,)] = _connection().execute(f"SELECT {macro}({marks})", list(args)).fetchall()
    return value
