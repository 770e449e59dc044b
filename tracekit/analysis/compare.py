"""Runs side by side: the ``run_comparison`` and ``run_comm_by_op`` views.

What ``tracekit compare`` and ``tracekit study`` measure; the model's prediction is set
beside it by :mod:`tracekit.study.compare`.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
from duckdb import ColumnExpression, ConstantExpression

from tracekit.analysis._query import Result, equal, select


def _runs(runs: Sequence[str] | None) -> duckdb.Expression | None:
    if runs is None:
        return None
    return ColumnExpression("run_id").isin(*(ConstantExpression(r) for r in runs))


def run_comparison(con: duckdb.DuckDBPyConnection, *, runs: Sequence[str] | None = None) -> Result:
    """One row per run (of ``runs``, else all): layout, workload, measured communication
    inside the steps, latency; sorted by measured bytes."""
    return select(con, "run_comparison", where=_runs(runs), order="bytes NULLS LAST, run_id")


def run_comm_by_op(con: duckdb.DuckDBPyConnection, *, runs: Sequence[str] | None = None) -> Result:
    """Per run, op and phase: measured calls, bytes, the busiest rank's bytes, time."""
    return select(con, "run_comm_by_op", where=_runs(runs), order="run_id, op, phase")


def run_manifest(con: duckdb.DuckDBPyConnection, *, run: str) -> Result:
    """The run's collect manifest (``runs.manifest``: JSON text, NULL for runs imported
    without one): columns run_id, manifest; no row for a run the store lacks."""
    return select(con, "runs", where=equal(run_id=run), columns=["run_id", "manifest"])


def cpu_side_traces(con: duckdb.DuckDBPyConnection, *, run: str) -> Result:
    """The run's traces that hold a GPU run's CPU side only (``cpu_side_traces``: NCCL
    calls on the CPU, no device work; collect --profiler both's Kineto half)."""
    return select(con, "cpu_side_traces", where=equal(run_id=run), order="rank, trace_id")
