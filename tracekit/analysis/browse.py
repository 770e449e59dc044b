"""Opening a database for browsing (`tracekit tui`): read-only, a tracekit store holding
runs. Everything the TUI shows comes from the analysis API (``tracekit.analysis``)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tracekit import store
from tracekit.errors import InputError, TracekitError


def open_database(path: Path) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-only and check it is a tracekit database holding runs."""
    con = store.connect(path, read_only=True)
    try:
        if not store.is_initialised(con):
            raise InputError(
                f"{path}: not a tracekit database (no tracekit_meta table)",
                "Make one with `tracekit import TRACES... --db FILE`.",
            )
        row = con.execute("SELECT count(*) FROM runs").fetchall()
        if not row or not row[0][0]:
            raise InputError(
                f"{path}: the database holds no runs",
                "Import traces first: `tracekit import TRACES... --db FILE`.",
            )
    except duckdb.Error as exc:
        con.close()
        raise InputError(f"{path}: cannot read the database ({exc})") from exc
    except TracekitError:
        con.close()
        raise
    return con
