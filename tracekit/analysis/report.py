"""The sections of `tracekit report` as DataFrames (rendering lives in the CLI)."""

from __future__ import annotations

import duckdb
import polars as pl

from tracekit.analysis import comm, timing

SECTIONS = (
    "latency",
    "ranks",
    "stages",
    "layers",
    "phases",
    "comm_summary",
    "top_collectives",
    "skew",
)


def build(con: duckdb.DuckDBPyConnection, *, run: str, top: int = 10) -> dict[str, pl.DataFrame]:
    """Every report section for ``run``, keyed by section name (see SECTIONS)."""
    drop = ["run_id", "trace_id"]
    return {
        "latency": timing.latency(con, run=run).frame.drop("run_id"),
        "ranks": timing.ranks(con, run=run).frame.drop(drop),
        "stages": timing.overlap(con, by="stage", run=run).frame.drop(drop),
        "layers": timing.overlap(con, by="layer", run=run).frame.drop(drop),
        "phases": timing.overlap(con, by="phase", run=run).frame.drop(drop),
        "comm_summary": comm.comm_summary(con, run=run).frame.drop("run_id"),
        "top_collectives": comm.top_collectives(con, run=run, n=top).frame.drop("run_id"),
        "skew": comm.rank_skew(con, run=run).frame.drop("run_id"),
    }
