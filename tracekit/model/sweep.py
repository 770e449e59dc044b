"""Many TP x PP configurations of one workload, ranked by communication volume."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from tracekit.collect.presets import ModelShape
from tracekit.errors import TracekitError
from tracekit.model.alpha_beta import TimeModel, comm_time_s
from tracekit.model.layout import Workload
from tracekit.model.predict import predict, volume
from tracekit.model.study import study_volume

SWEEP_SCHEMA: dict[str, type[pl.DataType]] = {
    "place": pl.Int64,
    "tp": pl.Int64,
    "pp": pl.Int64,
    "world_size": pl.Int64,
    "calls": pl.Int64,
    "payload_bytes": pl.Int64,
    "total_wire_bytes": pl.Float64,
    "max_rank_wire_bytes": pl.Float64,
    "lane_wire_bytes": pl.Float64,
    "study_formula": pl.Utf8,
    "study_bytes": pl.Float64,
    "comm_time_s": pl.Float64,
}


def configurations(
    tps: Iterable[int], pps: Iterable[int], gpus: int | None = None
) -> list[tuple[int, int]]:
    """Every (tp, pp) pair, kept only where tp x pp == ``gpus`` when given."""
    pairs = [(t, p) for t in tps for p in pps if gpus is None or t * p == gpus]
    if not pairs:
        raise TracekitError(
            f"no TP x PP configuration uses {gpus} GPUs",
            "Widen --tp / --pp or change --gpus.",
        )
    return pairs


def sweep(
    shape: ModelShape,
    pairs: Iterable[tuple[int, int]],
    work: Workload,
    *,
    time_model: TimeModel | None = None,
) -> pl.DataFrame:
    """One row per configuration, least total wire volume first (``place`` 1).

    total/max_rank/lane wire bytes are defined in :class:`tracekit.model.predict.Volume`;
    study_bytes is the study's formula for the same configuration; comm_time_s the time
    model's prediction (null without one).
    """
    out = []
    for tp, pp in pairs:
        rows = predict(shape, tp, pp, work)
        vol = volume(rows, tp, pp)
        study = study_volume(
            shape,
            tp,
            pp,
            prompt_len=work.prompt_len,
            gen_len=work.gen_len,
            dtype=work.dtype,
            batch=work.batch,
        )
        out.append(
            {
                "place": 0,
                "tp": tp,
                "pp": pp,
                "world_size": tp * pp,
                "calls": vol.calls,
                "payload_bytes": vol.payload_bytes,
                "total_wire_bytes": vol.total_wire_bytes,
                "max_rank_wire_bytes": vol.max_rank_wire_bytes,
                "lane_wire_bytes": vol.lane_wire_bytes,
                "study_formula": study.formula,
                "study_bytes": study.total,
                "comm_time_s": comm_time_s(rows, time_model) if time_model else None,
            }
        )
    frame = pl.DataFrame(out, schema=SWEEP_SCHEMA).sort("total_wire_bytes", "tp", "pp")
    return frame.with_columns(place=pl.int_range(1, frame.height + 1, dtype=pl.Int64))
