"""Overlap, time breakdown, latency and timeline data."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from tracekit.analysis._query import Result, equal, select
from tracekit.errors import InputError

OVERLAP_KEYS = ("rank", "layer", "stage", "phase")
TOTALS = ("ranks", "comm_ns", "compute_ns", "overlap_ns", "exposed_comm_ns", "overlap_pct")


def runs(con: duckdb.DuckDBPyConnection) -> Result:
    """The runs in the database with their layout, traces, ranks and events."""
    return select(con, "run_overview")


def ranks(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> Result:
    """overlap_by_rank with memory and idle time per rank and lane group (rank_overview)."""
    return select(con, "rank_overview", where=equal(run_id=run))


def overlap(con: duckdb.DuckDBPyConnection, *, by: str = "rank", run: str | None = None) -> Result:
    """Communication/compute overlap per rank, or per rank and layer / stage / phase."""
    if by not in OVERLAP_KEYS:
        raise InputError(f"overlap by {by!r}: expected one of {', '.join(OVERLAP_KEYS)}")
    return select(con, f"overlap_by_{by}", where=equal(run_id=run))


def temporal_breakdown(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> Result:
    """Compute / communication / memory / idle time of each rank's span."""
    return select(con, "temporal_breakdown", where=equal(run_id=run))


def latency(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> Result:
    """TTFT, TPOT and end-to-end latency per run, with their exposed-communication share."""
    return select(con, "latency_by_run", where=equal(run_id=run))


def rank_span(con: duckdb.DuckDBPyConnection, *, run: str, rank: int) -> tuple[int, int] | None:
    """First start and last end of a rank's events, ns (None: the rank has none)."""
    rows = select(con, "rank_spans", where=equal(run_id=run, rank=rank)).rows
    return (int(rows[0][2]), int(rows[0][3])) if rows else None


def default_window(con: duckdb.DuckDBPyConnection, run: str) -> tuple[int, int]:
    """The first decode step's span if the run has step ranges, else the whole run
    (the ``timeline_window`` macro)."""
    [(start, end)] = select(con, "timeline_window", args=[run]).rows
    if start is None or end is None:
        raise InputError(f"run {run!r}: no events")
    return int(start), int(end)


def timeline(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    limit: int = 200_000,
) -> Result:
    """Compute and communication islands of each rank clipped to a window (the islands
    overlap_by_rank measures).

    Columns: rank, device, cls ('compute' | 'comm'), s_ns, e_ns. The window defaults to
    :func:`default_window`.
    """
    if start_ns is None or end_ns is None:
        lo, hi = default_window(con, run)
        start_ns = lo if start_ns is None else start_ns
        end_ns = hi if end_ns is None else end_ns
    return select(
        con,
        "timeline_islands",
        args=[run, start_ns, end_ns],
        columns=["rank", "device", "cls", "s_ns", "e_ns"],
        order="rank, device, cls, s_ns",
        limit=limit,
    )


def timeline_buckets(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str,
    rank: int,
    start_ns: int,
    end_ns: int,
    width_ns: int,
) -> Result:
    """Busy ns of each lane group and class of ``rank`` per bucket of the window."""
    return select(con, "timeline_buckets", args=[run, rank, start_ns, end_ns, width_ns])


def event_at(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str,
    rank: int,
    lane: str,
    cls: str,
    start_ns: int,
    end_ns: int,
) -> Result:
    """The longest event of a lane group and class meeting ``[start_ns, end_ns)``."""
    return select(con, "timeline_event_at", args=[run, rank, lane, cls, start_ns, end_ns])


@dataclass(frozen=True)
class Timeline:
    """Busy ns per (lane, class) and equal time bucket of one rank's window."""

    start_ns: int
    end_ns: int
    buckets: int
    lanes: list[tuple[str, str]] = field(default_factory=list)
    busy_ns: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @property
    def bucket_ns(self) -> int:
        return max(1, -(-(self.end_ns - self.start_ns) // self.buckets))

    def busy(self, key: tuple[str, str]) -> list[float]:
        """The lane's fill per bucket, 0 to 1."""
        return [min(1.0, ns / self.bucket_ns) for ns in self.busy_ns[key]]


def lanes(
    con: duckdb.DuckDBPyConnection, *, run: str, rank: int, start_ns: int, end_ns: int, buckets: int
) -> Timeline:
    """The lane chart of ``rank`` over a window: compute lanes first, then communication."""
    tl = Timeline(start_ns, max(end_ns, start_ns + 1), max(buckets, 1))
    frame = timeline_buckets(
        con, run=run, rank=rank, start_ns=tl.start_ns, end_ns=tl.end_ns, width_ns=tl.bucket_ns
    ).frame
    for lane, cls, bucket, busy in frame.iter_rows():
        key = (lane, cls)
        if key not in tl.busy_ns:
            tl.lanes.append(key)
            tl.busy_ns[key] = [0] * tl.buckets
        if 0 <= bucket < tl.buckets:
            tl.busy_ns[key][bucket] = int(busy)
    tl.lanes.sort(key=lambda k: (k[1] != "compute", k[0]))
    return tl


def overlap_totals(con: duckdb.DuckDBPyConnection, *, run: str, by: str) -> Result:
    """overlap_by_<by> of a run summed over its ranks, one row per label, NULL last (the
    ``overlap_totals_by_<by>`` view)."""
    if by == "rank" or by not in OVERLAP_KEYS:
        raise InputError("overlap totals: by layer, stage or phase")
    return select(
        con,
        f"overlap_totals_by_{by}",
        where=equal(run_id=run),
        columns=[by, *TOTALS],
        order=f"{by} NULLS LAST",
    )
