"""The model for a run's manifest against what its traces measured.

Reads ``runs.manifest`` and the ``comm_op_phases`` view: one row per communication call
(rank, op, msg_bytes in the nccl-tests sense, as :func:`tracekit.model.predict.predict`
sizes calls, dur_ns, group_size) with its phase ('prefill' / 'decode', from the
enclosing ``tk:step=<k> phase=<...>`` annotation). Calls outside every step range (the
collector's barrier before the measured pass) have phase 'outside': reported, never
flagged, and left out of the verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import polars as pl

from tracekit import store
from tracekit.analysis.comm import comm_op_phases
from tracekit.analysis.compare import cpu_side_traces, run_manifest
from tracekit.collect.manifest import Manifest
from tracekit.collect.presets import ModelShape
from tracekit.errors import TracekitError
from tracekit.model.alpha_beta import TimeModel, fit_alpha_beta, with_times
from tracekit.model.layout import Workload
from tracekit.model.predict import predict

MEASURED_SCHEMA: dict[str, type[pl.DataType]] = {
    "rank": pl.Int64,
    "op": pl.Utf8,
    "phase": pl.Utf8,
    "msg_bytes": pl.Int64,
    "dur_ns": pl.Int64,
    "group_size": pl.Int64,
}


@dataclass(frozen=True)
class RunSpec:
    """What the model needs from a run's manifest."""

    run_id: str
    shape: ModelShape
    tp: int
    pp: int
    work: Workload
    layers_per_stage: tuple[int, ...] | None = None

    def predict(self) -> pl.DataFrame:
        return predict(
            self.shape, self.tp, self.pp, self.work, layers_per_stage=self.layers_per_stage
        )


def run_spec(con: duckdb.DuckDBPyConnection, run_id: str) -> RunSpec:
    """Read a run's manifest into a :class:`RunSpec`."""
    store.pick_run(con, run_id)  # the one "run not found" message
    [(_, raw)] = run_manifest(con, run=run_id).rows
    if raw is None:
        raise TracekitError(
            f"run {run_id!r} has no manifest, so its model and layout are unknown",
            "validate needs a run made by `tracekit collect` (it writes manifest.json).",
        )
    cpu_side = len(cpu_side_traces(con, run=run_id).rows)
    if cpu_side:
        raise TracekitError(
            f"run {run_id!r}: {cpu_side} of its traces hold the CPU side of a GPU run only "
            "(no kernels: torch.profiler ran while nsys held CUPTI, collect --profiler both), "
            "so its communication cannot be measured from them",
            f"Validate the same ranks' Nsight Systems run instead: --run {run_id}-nsys.",
        )
    data = json.loads(raw) if isinstance(raw, str) else raw
    manifest = Manifest.from_json(data, f"run {run_id!r}")
    if manifest.complete is False:
        raise TracekitError(
            f"run {run_id!r} did not complete ({manifest.error or 'no reason given'})",
            "Its traces may stop mid-generation; collect the run again.",
        )
    model, parallel, workload = manifest.model, manifest.parallel, manifest.workload
    missing = [
        name
        for name, value in (
            ("model", model),
            ("dtype", model and model.dtype),
            ("parallel.tp", parallel.tp),
            ("parallel.pp", parallel.pp),
            ("workload", workload),
        )
        if value is None
    ]
    if missing or model is None or workload is None or model.dtype is None:
        raise TracekitError(
            f"run {run_id!r}: manifest lacks {', '.join(missing)}",
            "Expected keys: model, dtype, parallel {tp, pp}, workload {batch, prompt_len, "
            "gen_len}.",
        )
    work = Workload(
        batch=workload.batch,
        prompt_len=workload.prompt_len,
        gen_len=workload.gen_len,
        dtype=model.dtype,
        logits_tokens_per_seq=workload.logits_tokens_per_seq,
        sample_feedback=workload.sample_feedback,  # type: ignore[arg-type]  # one of the two
        logits_collective=workload.logits_collective,  # type: ignore[arg-type]  # checked
    )
    return RunSpec(run_id, model.shape, parallel.tp, parallel.pp, work, parallel.layers_per_stage)


def measured_calls(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """The run's communication calls: rank, op (model names), phase, msg_bytes, dur_ns."""
    calls = comm_op_phases(con, run=run_id).frame.select(*MEASURED_SCHEMA)
    return calls.cast(MEASURED_SCHEMA)  # type: ignore[arg-type]


def fit_run(con: duckdb.DuckDBPyConnection, run_id: str) -> TimeModel:
    """Alpha and beta per op, fitted by least squares to every call of a run."""
    calls = measured_calls(con, run_id).drop_nulls(["msg_bytes", "dur_ns"])
    if calls.is_empty():
        raise TracekitError(f"run {run_id!r} has no communication calls to fit")
    fitted = fit_alpha_beta(
        calls["op"].to_list(),
        calls["msg_bytes"].to_list(),
        calls["group_size"].fill_null(1).to_list(),
        calls["dur_ns"].to_list(),
    )
    return TimeModel(per_op=fitted, source=f"fitted to run {run_id}")


@dataclass(frozen=True)
class Validation:
    """Predicted vs measured, per (op, phase) and per (rank, op, phase).

    Columns of both frames: pred_count, meas_count, count_ratio, pred_bytes, meas_bytes,
    bytes_ratio, pred_time_s, meas_time_s, time_ratio, flags. A ratio is measured /
    predicted (null where either side is zero); ``flags`` names the quantities off by
    more than the tolerance, or missing on one side.
    """

    spec: RunSpec
    time_model: TimeModel
    tolerance: float
    by_op: pl.DataFrame
    by_rank: pl.DataFrame
    time_in_sample: bool = False
    """True when alpha/beta were fitted to this same run: the time columns then test
    the alpha-beta form on the run's own calls, not an independent prediction."""

    @property
    def counts_and_bytes_match(self) -> bool:
        """No count or bytes flag on any (op, phase) inside the generation steps."""
        return self.by_op.filter(
            pl.col("flags").list.set_intersection(["count", "bytes"]).list.len() > 0
        ).is_empty()


def compare(pred: pl.DataFrame, meas: pl.DataFrame, keys: list[str], tol: float) -> pl.DataFrame:
    """Predicted calls against measured calls, grouped by ``keys`` (which hold 'phase').

    ``pred`` has one row per predicted group (``count``, ``total_bytes``, ``time_s``);
    ``meas`` one row per measured call (``msg_bytes``, ``dur_ns``). Columns and flags
    as :class:`Validation` describes; rows with phase 'outside' are never flagged.
    """
    pred_agg = pred.group_by(keys).agg(
        pred_count=pl.col("count").sum(),
        pred_bytes=pl.col("total_bytes").sum(),
        pred_time_s=pl.col("time_s").sum(),
    )
    meas_agg = meas.group_by(keys).agg(
        meas_count=pl.len().cast(pl.Int64),
        meas_bytes=pl.col("msg_bytes").sum().cast(pl.Int64),
        meas_time_s=pl.col("dur_ns").sum() * 1e-9,
    )
    out = pred_agg.join(meas_agg, on=keys, how="full", coalesce=True).with_columns(
        pl.col("pred_count", "meas_count", "pred_bytes", "meas_bytes").fill_null(0),
        pl.col("pred_time_s", "meas_time_s").fill_null(0.0),
    )
    flags = []
    for name, p, m in (
        ("count", pl.col("pred_count"), pl.col("meas_count")),
        ("bytes", pl.col("pred_bytes"), pl.col("meas_bytes")),
        ("time", pl.col("pred_time_s"), pl.col("meas_time_s")),
    ):
        ratio = pl.col(f"{name}_ratio")
        out = out.with_columns(pl.when((p > 0) & (m > 0)).then(m / p).alias(f"{name}_ratio"))
        # 1e-12: a ratio exactly at the tolerance (19 / 20 at 5 %) is not beyond it
        off = (ratio.is_null() & ((p > 0) | (m > 0))) | ((ratio - 1).abs() > tol + 1e-12)
        flags.append(pl.when(off).then(pl.lit(name)))
    cols = [
        *keys,
        "pred_count",
        "meas_count",
        "count_ratio",
        "pred_bytes",
        "meas_bytes",
        "bytes_ratio",
        "pred_time_s",
        "meas_time_s",
        "time_ratio",
    ]
    inside = pl.col("phase") != "outside"
    return (
        out.with_columns(
            flags=pl.when(inside)
            .then(pl.concat_list(flags).list.drop_nulls())
            .otherwise(pl.lit([], dtype=pl.List(pl.Utf8)))
        )
        .select(*cols, "flags")
        .sort(keys)
    )


def validate(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    tolerance: float = 0.05,
    time_model: TimeModel | None = None,
) -> Validation:
    """Compare the model for ``run_id``'s manifest with its measured communication.

    Without ``time_model`` alpha and beta are fitted to the run's own calls (in sample,
    ``Validation.time_in_sample``), so the time comparison then tests the alpha-beta
    form, not an independent prediction.
    """
    spec = run_spec(con, run_id)
    model = time_model or fit_run(con, run_id)
    in_sample = time_model is None or time_model.source == f"fitted to run {run_id}"
    pred = with_times(spec.predict(), model, strict=False)
    meas = measured_calls(con, run_id)
    return Validation(
        spec=spec,
        time_model=model,
        tolerance=tolerance,
        by_op=compare(pred, meas, ["op", "phase"], tolerance),
        by_rank=compare(pred, meas, ["rank", "op", "phase"], tolerance),
        time_in_sample=in_sample,
    )
