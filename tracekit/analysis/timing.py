"""Overlap, time breakdown, latency and timeline data."""

from __future__ import annotations

import duckdb
import polars as pl

from tracekit.analysis._query import frame, where
from tracekit.errors import InputError

OVERLAP_KEYS = ("rank", "layer", "stage", "phase")


def runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The runs in the database with their rank counts and layout."""
    return frame(
        con,
        "SELECT r.run_id, r.world_size, r.tp, r.pp, count(t.trace_id) AS traces "
        "FROM runs r LEFT JOIN traces t USING (run_id) GROUP BY ALL ORDER BY r.run_id",
    )


def overlap(
    con: duckdb.DuckDBPyConnection, *, by: str = "rank", run: str | None = None
) -> pl.DataFrame:
    """Communication/compute overlap per rank, or per rank and layer / stage / phase."""
    if by not in OVERLAP_KEYS:
        raise InputError(f"overlap by {by!r}: expected one of {', '.join(OVERLAP_KEYS)}")
    clause, params = where({"run_id": run})
    return frame(con, f"SELECT * FROM overlap_by_{by} {clause}", params)


def temporal_breakdown(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> pl.DataFrame:
    """Compute / communication / memory / idle time of each rank's span."""
    clause, params = where({"run_id": run})
    return frame(con, f"SELECT * FROM temporal_breakdown {clause}", params)


def latency(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> pl.DataFrame:
    """TTFT, TPOT and end-to-end latency per run, with their exposed-communication share."""
    clause, params = where({"run_id": run})
    return frame(con, f"SELECT * FROM latency_by_run {clause}", params)


def default_window(con: duckdb.DuckDBPyConnection, run: str) -> tuple[int, int]:
    """The first decode step's span if the run has step ranges, else the whole run."""
    rows = con.execute(
        """
        WITH steps AS (
            SELECT TRY_CAST(s.value AS BIGINT) AS step, min(a.ts_ns) AS s, max(a.end_ns) AS e
            FROM annotation_ranges a JOIN traces t USING (trace_id)
            JOIN _label_names s ON s.name = a.name AND s.key = 'step'
            WHERE t.run_id = ? GROUP BY 1
        )
        SELECT s, e FROM steps ORDER BY (step = 1) DESC, step LIMIT 1
        """,
        [run],
    ).fetchall()
    if rows:
        return int(rows[0][0]), int(rows[0][1])
    span = con.execute(
        "SELECT min(ts_ns), max(ts_ns + dur_ns) FROM events JOIN traces USING (trace_id) "
        "WHERE run_id = ?",
        [run],
    ).fetchall()
    if not span or span[0][0] is None:
        raise InputError(f"run {run!r}: no events")
    return int(span[0][0]), int(span[0][1])


def timeline(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    limit: int = 200_000,
) -> pl.DataFrame:
    """Compute and communication islands of each rank clipped to a window.

    Columns: rank, device, cls ('compute' | 'comm'), s_ns, e_ns. The window defaults to
    :func:`default_window`.
    """
    if start_ns is None or end_ns is None:
        lo, hi = default_window(con, run)
        start_ns = lo if start_ns is None else start_ns
        end_ns = hi if end_ns is None else end_ns
    return frame(
        con,
        """
        SELECT t.rank, i.device, i.cls,
               greatest(i.s_ns, ?) AS s_ns, least(i.e_ns, ?) AS e_ns
        FROM _lane_islands i JOIN traces t USING (trace_id)
        WHERE t.run_id = ? AND i.e_ns > ? AND i.s_ns < ?
        ORDER BY t.rank, i.device, i.cls, s_ns
        LIMIT ?
        """,
        [start_ns, end_ns, run, start_ns, end_ns, limit],
    )
