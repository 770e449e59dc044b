"""Opening a database for browsing (`tracekit tui`): the store's read-only door, and a
database that holds runs. Everything the TUI shows comes from the analysis API."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tracekit import store
from tracekit.analysis.timing import runs
from tracekit.errors import InputError


def open_database(path: Path) -> duckdb.DuckDBPyConnection:
    """``path`` opened read-only by :func:`tracekit.store.connect`, checked to hold runs."""
    con = store.connect(path, read_only=True)
    try:
        if runs(con).frame.is_empty():
            raise InputError(
                f"{path}: the database holds no runs",
                "Import traces first: `tracekit import TRACES... --db FILE`.",
            )
    except BaseException:
        con.close()
        raise
    return con
