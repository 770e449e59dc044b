"""The sections of `tracekit report` as DataFrames (rendering lives in the CLI)."""

from __future__ import annotations

import duckdb
import polars as pl

from tracekit.analysis import comm, timing
from tracekit.store.read import hold

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


SHARED = ("_overlap_parts", "_collective_parts", "overlap_by_rank")
"""What several sections read, held once for the report (store.read.hold): the labelled
overlap sums (stages, layers, phases: one row per lane and label), each rank's part in
each collective (top_collectives, skew: one row per communication op) and the overlap
per rank (ranks reads it twice, through temporal_breakdown)."""


def build(con: duckdb.DuckDBPyConnection, *, run: str, top: int = 10) -> dict[str, pl.DataFrame]:
    """Every report section for ``run``, keyed by section name (see SECTIONS)."""
    with hold(con, SHARED):
        return _sections(con, run, top)


def _sections(con: duckdb.DuckDBPyConnection, run: str, top: int) -> dict[str, pl.DataFrame]:
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
