"""The alpha-beta time model of a collective call, and its least-squares fit.

One call of op ``o`` on a group of ``n`` ranks with payload ``m`` bytes takes

    time = alpha_o + bus_factor(o, n) x m / beta_o

alpha is a fixed latency (s), beta a bus bandwidth (bytes/s) in the nccl-tests sense:
``bus_factor`` is 2(n-1)/n for all_reduce, (n-1)/n for all_gather (m = output),
(n-1) for gather (m = one rank's contribution, so the root takes in (n-1) m),
1 for send and recv. A configuration's communication time is the largest, over
ranks, of the sum of its calls' times: collectives serialised, no overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from tracekit.errors import TracekitError
from tracekit.model.layout import bus_factor


@dataclass(frozen=True)
class AlphaBeta:
    """Latency ``alpha_s`` (s) and bus bandwidth ``beta_bps`` (bytes/s; inf: unresolved).

    ``method`` says how a fit got them: 'given'; 'ols' (least squares); 'origin' (the
    free fit gave a negative latency, so alpha = 0 and the line goes through the origin);
    'latency' (durations do not grow with bytes: beta = inf, alpha = mean time);
    'bandwidth' (one message size only: alpha = 0, all time charged to bandwidth).
    """

    alpha_s: float
    beta_bps: float
    samples: int = 0
    method: str = "given"

    def time_s(self, bus_bytes: float) -> float:
        return self.alpha_s + bus_bytes / self.beta_bps


@dataclass(frozen=True)
class TimeModel:
    """Alpha-beta per op; ``default`` covers ops without their own entry."""

    per_op: Mapping[str, AlphaBeta] = field(default_factory=dict)
    default: AlphaBeta | None = None
    source: str = "given"

    def for_op(self, op: str) -> AlphaBeta:
        found = self.per_op.get(op, self.default)
        if found is None:
            raise TracekitError(
                f"the time model has no alpha/beta for {op}",
                "Give --alpha-us and --beta-gbps, or fit from a run that has this op.",
            )
        return found


def uniform(alpha_us: float, beta_gbps: float) -> TimeModel:
    """One alpha (µs) and bus bandwidth (GB/s, 1e9 bytes/s) for every op."""
    if alpha_us < 0 or beta_gbps <= 0:
        raise TracekitError("alpha must be >= 0 and beta > 0")
    return TimeModel(default=AlphaBeta(alpha_us * 1e-6, beta_gbps * 1e9))


def with_times(rows: pl.DataFrame, model: TimeModel, *, strict: bool = True) -> pl.DataFrame:
    """:func:`tracekit.model.predict.predict` rows plus ``time_s``: count x one call's time.

    An op the model has no alpha/beta for raises, or with ``strict=False`` gets a null time.
    """
    ops = rows["op"].unique().to_list()
    known = {o: model.for_op(o) if strict else model.per_op.get(o, model.default) for o in ops}
    params = pl.DataFrame(
        {
            "op": ops,
            "_alpha": [ab.alpha_s if ab else None for ab in known.values()],
            "_beta": [ab.beta_bps if ab else None for ab in known.values()],
        },
        schema={"op": pl.Utf8, "_alpha": pl.Float64, "_beta": pl.Float64},
    )
    return (
        rows.join(params, on="op", how="left")
        .with_columns(
            time_s=pl.col("count") * (pl.col("_alpha") + pl.col("bus_bytes") / pl.col("_beta"))
        )
        .drop("_alpha", "_beta")
    )


def comm_time_s(rows: pl.DataFrame, model: TimeModel) -> float:
    """Predicted communication time of a configuration: the busiest rank's sum of calls."""
    if rows.is_empty():
        return 0.0
    per_rank = with_times(rows, model).group_by("rank").agg(pl.col("time_s").sum())
    return float(per_rank["time_s"].max())  # type: ignore[arg-type]


def _fit_one(x: list[float], y: list[float]) -> AlphaBeta:
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    sxy = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True))
    if sxx == 0:
        if mx == 0:
            return AlphaBeta(my, math.inf, n, "latency")
        return AlphaBeta(0.0, mx / my if my > 0 else math.inf, n, "bandwidth")
    slope = sxy / sxx
    if slope <= 0:
        return AlphaBeta(my, math.inf, n, "latency")
    alpha = my - slope * mx
    if alpha < 0:
        slope = sum(xi * yi for xi, yi in zip(x, y, strict=True)) / sum(xi * xi for xi in x)
        return AlphaBeta(0.0, 1.0 / slope, n, "origin")
    return AlphaBeta(alpha, 1.0 / slope, n, "ols")


def fit_alpha_beta(
    ops: Sequence[str],
    msg_bytes: Sequence[float],
    group_size: Sequence[int],
    dur_ns: Sequence[float],
) -> dict[str, AlphaBeta]:
    """Least-squares alpha and beta per op from measured calls.

    Each call is a point (bus_factor(op, n) x msg_bytes, duration); a straight line
    through them gives alpha (intercept, s) and 1/beta (slope, s/byte). See
    :class:`AlphaBeta` for what happens when the points cannot support a line.
    """
    if not len(ops) == len(msg_bytes) == len(group_size) == len(dur_ns):
        raise ValueError("ops, msg_bytes, group_size and dur_ns must have the same length")
    points: dict[str, tuple[list[float], list[float]]] = {}
    for op, m, n, d in zip(ops, msg_bytes, group_size, dur_ns, strict=True):
        xs, ys = points.setdefault(op, ([], []))
        xs.append(bus_factor(op, max(int(n), 1)) * float(m))
        ys.append(float(d) * 1e-9)
    return {op: _fit_one(xs, ys) for op, (xs, ys) in sorted(points.items())}
