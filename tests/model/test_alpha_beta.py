"""The alpha-beta model and its least-squares fit, on synthetic calls of known alpha/beta."""

import math
import random

import polars as pl
import pytest

from tracekit.collect.presets import get_preset
from tracekit.errors import TracekitError
from tracekit.model.alpha_beta import (
    AlphaBeta,
    TimeModel,
    comm_time_s,
    fit_alpha_beta,
    uniform,
    with_times,
)
from tracekit.model.layout import Workload, bus_factor
from tracekit.model.predict import predict

TRUE = {
    "all_reduce": (20e-6, 50e9, 4),
    "all_gather": (12e-6, 80e9, 4),
    "gather": (8e-6, 20e9, 4),
    "send": (5e-6, 10e9, 1),
}
SIZES = [1_024, 65_536, 1_048_576, 16_777_216]


def synthetic(noise: float = 0.0, seed: int = 7) -> tuple[list, list, list, list]:
    rng = random.Random(seed)
    ops, msg, group, dur = [], [], [], []
    for op, (alpha, beta, n) in TRUE.items():
        for size in SIZES * 25:
            t = alpha + bus_factor(op, n) * size / beta
            ops.append(op)
            msg.append(size)
            group.append(n)
            dur.append(t * (1 + rng.gauss(0, noise)) * 1e9)
    return ops, msg, group, dur


def test_fit_recovers_exact_alpha_beta() -> None:
    fitted = fit_alpha_beta(*synthetic())
    assert set(fitted) == set(TRUE)
    for op, (alpha, beta, _) in TRUE.items():
        assert fitted[op].method == "ols"
        assert fitted[op].samples == 100
        assert fitted[op].alpha_s == pytest.approx(alpha, rel=1e-6)
        assert fitted[op].beta_bps == pytest.approx(beta, rel=1e-6)


def test_fit_with_noise() -> None:
    fitted = fit_alpha_beta(*synthetic(noise=0.02))
    for op, (alpha, beta, _) in TRUE.items():
        assert fitted[op].beta_bps == pytest.approx(beta, rel=0.03)
        assert fitted[op].alpha_s == pytest.approx(alpha, rel=0.25)


def test_fit_degenerate_points() -> None:
    one_size = fit_alpha_beta(["send"] * 3, [1000] * 3, [1] * 3, [2000.0] * 3)["send"]
    assert one_size.method == "bandwidth"
    assert (one_size.alpha_s, one_size.beta_bps) == (0.0, pytest.approx(1000 / 2e-6))
    flat = fit_alpha_beta(["send"] * 2, [10, 1000], [1, 1], [3000.0, 2000.0])["send"]
    assert flat.method == "latency"
    assert (flat.alpha_s, flat.beta_bps) == (pytest.approx(2.5e-6), math.inf)
    steep = fit_alpha_beta(["send"] * 2, [1000, 2000], [1, 1], [1000.0, 3000.0])["send"]
    assert steep.method == "origin"  # free intercept would be -1 µs
    assert steep.alpha_s == 0.0
    with pytest.raises(ValueError):
        fit_alpha_beta(["send"], [1, 2], [1], [1.0])


def test_with_times_and_comm_time() -> None:
    rows = predict(get_preset("tiny"), 2, 1, Workload(2, 3, 4, dtype="fp32"))
    model = uniform(alpha_us=10, beta_gbps=1)
    timed = with_times(rows, model)
    ar = timed.filter(
        pl.col("rank") == 0, pl.col("phase") == "prefill", pl.col("term") == "layer"
    ).row(0, named=True)
    # 8 calls of (10 µs + 1536 bytes x 2(1)/2 / 1e9 B/s)
    assert ar["time_s"] == pytest.approx(8 * (10e-6 + 1536 / 1e9))
    # rank 1 is the busiest: rank 0's calls plus gather time of (2-1) x 2048 bytes per call
    per_rank = timed.group_by("rank").agg(pl.col("time_s").sum()).sort("rank")["time_s"]
    assert comm_time_s(rows, model) == pytest.approx(per_rank.max())
    assert comm_time_s(rows.clear(), model) == 0.0


def test_time_model_without_an_op() -> None:
    rows = predict(get_preset("tiny"), 2, 1, Workload(1, 3, 2, dtype="fp32"))
    model = TimeModel(per_op={"all_reduce": AlphaBeta(1e-6, 1e9)})
    with pytest.raises(TracekitError, match="no alpha/beta"):
        with_times(rows, model)
    lenient = with_times(rows, model, strict=False)
    assert lenient.filter(pl.col("op") == "gather")["time_s"].null_count() == 2 * 2
    with pytest.raises(TracekitError):
        uniform(alpha_us=1, beta_gbps=0)
