"""Communication: per-op summary, matched collective instances, cross-rank skew."""

from __future__ import annotations

import duckdb
import polars as pl

from tracekit.analysis._query import frame, where

TOP_ORDER = ("total_wait_ns", "max_dur_ns", "skew_ns", "transfer_ns")


def comm_summary(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> pl.DataFrame:
    """Count, time, bytes and bandwidth per rank, op and message-size bucket."""
    clause, params = where({"run_id": run})
    return frame(con, f"SELECT * FROM comm_summary {clause}", params)


def collective_instances(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str | None = None,
    pg: str | None = None,
    op: str | None = None,
) -> pl.DataFrame:
    """Every collective matched across its group's ranks (skew, transfer, waits)."""
    clause, params = where({"run_id": run, "pg": pg, "op": op})
    return frame(con, f"SELECT * EXCLUDE (ranks) FROM collective_instances {clause}", params)


def collective_participants(
    con: duckdb.DuckDBPyConnection, *, run: str | None = None, rank: int | None = None
) -> pl.DataFrame:
    """Each rank's part in each collective instance (arrival, wait, bubble)."""
    clause, params = where({"run_id": run, "rank": rank})
    return frame(con, f"SELECT * FROM collective_participants {clause}", params)


def top_collectives(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str | None = None,
    n: int = 10,
    order_by: str = "total_wait_ns",
) -> pl.DataFrame:
    """The ``n`` instances with the largest ``order_by`` (one of TOP_ORDER)."""
    if order_by not in TOP_ORDER:
        order_by = "total_wait_ns"
    clause, params = where({"run_id": run})
    return frame(
        con,
        f"SELECT run_id, pg, op, instance, ranks_seen, group_size, step, phase, layer, block, "
        f"msg_bytes, skew_ns, last_rank, transfer_ns, max_dur_ns, total_wait_ns, bubble_ns, "
        f"busbw_gbps FROM collective_instances {clause} "
        f"ORDER BY {order_by} DESC NULLS LAST, first_ts_ns LIMIT ?",
        [*params, n],
    )


def rank_skew(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> pl.DataFrame:
    """Per rank: how often it arrived last, how late it arrived and how long it waited."""
    clause, params = where({"p.run_id": run})
    return frame(
        con,
        f"""
        SELECT p.run_id, p.rank,
               count(*) AS instances,
               count(*) FILTER (WHERE i.ranks_seen > 1 AND i.last_rank = p.rank) AS times_last,
               sum(p.arrival_ns)::BIGINT AS arrival_ns,
               sum(p.wait_ns)::BIGINT AS wait_ns,
               sum(p.bubble_ns)::BIGINT AS bubble_ns,
               sum(p.transfer_ns)::BIGINT AS transfer_ns
        FROM collective_participants p
        JOIN collective_instances i USING (run_id, pg, op, instance)
        {clause}
        GROUP BY p.run_id, p.rank ORDER BY p.run_id, p.rank
        """,
        params,
    )
