"""Runs of a store side by side, each with the model's prediction for its layout.

Measurements come from the ``run_comparison`` and ``run_comm_by_op`` views (through
:mod:`tracekit.analysis.compare`); the prediction from :func:`tracekit.model.predict`
for the layout and workload in the run's manifest, compared per (op, phase) by
:func:`tracekit.model.validate.compare` (tolerance 0: exact). A run without a manifest
keeps its measurements and says why it has no prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from tracekit import store
from tracekit.analysis.compare import run_comparison
from tracekit.errors import TracekitError
from tracekit.model.validate import compare, measured_calls, run_spec

BY_OP_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "run_id": pl.Utf8,
    "op": pl.Utf8,
    "phase": pl.Utf8,
    "pred_count": pl.Int64,
    "meas_count": pl.Int64,
    "count_ratio": pl.Float64,
    "pred_bytes": pl.Int64,
    "meas_bytes": pl.Int64,
    "bytes_ratio": pl.Float64,
    "match": pl.Boolean,
}
BY_OP_COLUMNS = list(BY_OP_SCHEMA)


@dataclass(frozen=True)
class Comparison:
    """``runs``: one row per run (the ``run_comparison`` columns, then pred_calls,
    pred_bytes, pred_max_rank_bytes, pred_tp_lane_bytes, calls_ratio, bytes_ratio,
    model_match, note),
    sorted by measured bytes. ``by_op``: per run, op and phase, predicted against
    measured calls and bytes (``BY_OP_COLUMNS``; ``match`` is null where no prediction
    exists or the phase is 'outside'). Ratios are measured / predicted."""

    runs: pl.DataFrame
    by_op: pl.DataFrame

    def notes(self) -> list[tuple[str, str]]:
        """(run, what could not be compared) for every run that has a note."""
        return [(r, n) for r, n in self.runs.select("run_id", "note").iter_rows() if n]


def _layout(tp: int | None, pp: int | None) -> str | None:
    if tp is None or pp is None:
        return None
    if pp == 1:
        return f"TP{tp}"
    return f"PP{pp}" if tp == 1 else f"TP{tp}xPP{pp}"


def _predicted(
    con: duckdb.DuckDBPyConnection, run_id: str
) -> tuple[dict[str, object], pl.DataFrame | None]:
    """Run-level prediction and the per-(op, phase) comparison, or why there is none."""
    empty: dict[str, object] = dict.fromkeys(
        ("pred_calls", "pred_bytes", "pred_max_rank_bytes", "pred_tp_lane_bytes")
    )
    try:
        spec = run_spec(con, run_id)
        pred = spec.predict()
    except TracekitError as exc:
        return {**empty, "note": f"no prediction: {exc.message}"}, None
    per_rank = pred.group_by("rank").agg(pl.col("total_bytes").sum())
    summary: dict[str, object] = {
        "pred_calls": int(pred["count"].sum()),
        "pred_bytes": int(pred["total_bytes"].sum()),
        "pred_max_rank_bytes": int(per_rank["total_bytes"].max() or 0),  # type: ignore[arg-type]
        "pred_tp_lane_bytes": int(
            pred.filter(pl.col("tp_rank") == spec.tp - 1)["total_bytes"].sum()
        ),
        "note": None,
    }
    by_op = compare(
        pred.with_columns(time_s=pl.lit(0.0)), measured_calls(con, run_id), ["op", "phase"], 0.0
    )
    inside = pl.col("phase") != "outside"
    exact = (pl.col("pred_count") == pl.col("meas_count")) & (
        pl.col("pred_bytes") == pl.col("meas_bytes")
    )
    by_op = by_op.with_columns(run_id=pl.lit(run_id), match=pl.when(inside).then(exact)).select(
        BY_OP_COLUMNS
    )
    return summary, by_op


def comparison(con: duckdb.DuckDBPyConnection, *, runs: Sequence[str] | None = None) -> Comparison:
    """Every run of the store (or ``runs``), measured and predicted, sorted by volume."""
    for run_id in runs or []:
        store.pick_run(con, run_id)  # the one "run not found" message
    measured = run_comparison(con, runs=runs).frame
    rows, parts = [], []
    for row in measured.to_dicts():
        summary, by_op = _predicted(con, row["run_id"])
        notes = [summary.pop("note")]
        # a GPU run's CPU side only (cpu_side_traces): the prediction's note says why
        # nothing is measured
        measured_here = row["scope"] != "CPU side only"
        if measured_here and row["e2e_ns"] is None:
            notes.append("no tk:step ranges: TTFT, TPOT, end-to-end and shares unknown")
        if measured_here and row["calls"] == 0:
            notes.append("no communication calls")
        elif measured_here and row["bytes"] is None:
            notes.append("no message sizes: bytes unknown")
        if by_op is not None:
            parts.append(by_op)
            match = by_op["match"].drop_nulls()
            summary["model_match"] = bool(match.all()) if len(match) else None
        else:
            summary["model_match"] = None
        rows.append(
            {
                "run_id": row["run_id"],
                "layout": _layout(row["tp"], row["pp"]),
                **row,
                **summary,
                "note": "; ".join(n for n in notes if n) or None,
            }
        )
    table = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    if rows:
        table = table.with_columns(
            calls_ratio=pl.when(pl.col("pred_calls") > 0).then(
                pl.col("calls") / pl.col("pred_calls")
            ),
            bytes_ratio=pl.when(pl.col("pred_bytes") > 0).then(
                pl.col("bytes") / pl.col("pred_bytes")
            ),
        )
    by_op_all = pl.concat(parts) if parts else pl.DataFrame(schema=BY_OP_SCHEMA)
    return Comparison(table, by_op_all)
