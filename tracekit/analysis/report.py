"""The sections of `tracekit report` as DataFrames (rendering lives in the CLI)."""

from __future__ import annotations

import duckdb
import polars as pl

from tracekit.analysis import comm, timing
from tracekit.errors import InputError

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


def pick_run(con: duckdb.DuckDBPyConnection, run: str | None) -> str:
    """``run`` if the database has it; the only run when ``run`` is None."""
    names = timing.runs(con).frame["run_id"].to_list()
    if run is not None:
        if run not in names:
            raise InputError(
                f"run {run!r} is not in the database",
                f"Runs here: {', '.join(names) or 'none'}.",
            )
        return run
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError("the database holds no runs", "Import traces with `tracekit import`.")
    raise InputError(
        f"the database holds {len(names)} runs; pick one with --run",
        f"Runs here: {', '.join(names)}.",
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
