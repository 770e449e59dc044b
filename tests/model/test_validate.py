"""validate() on real CPU runs made by `tracekit collect` and imported by the importer.

TP2, PP2 and TP2×PP2 are the committed sample_traces/; TP4 is collected by the
session fixture ``tp4_db`` (conftest.py). Counts and bytes must match the model
exactly for every (op, phase) inside the steps, per rank too. The comparison logic
itself is tested on small Polars frames, and manifest problems on a copy of a real
run whose manifest is rewritten.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tracekit.errors import TracekitError
from tracekit.model.alpha_beta import AlphaBeta, TimeModel
from tracekit.model.layout import Workload
from tracekit.model.validate import compare, fit_run, run_spec, validate

LAYOUTS = {"tp2": (2, 1), "pp2": (1, 2), "tp2pp2": (2, 2), "tp4": (4, 1)}
# the ops each layout issues inside the steps (phase prefill and decode each)
OPS = {
    "tp2": {"all_reduce", "gather", "broadcast"},
    "pp2": {"send", "recv"},
    "tp2pp2": {"all_reduce", "all_gather", "gather", "broadcast", "send", "recv"},
    "tp4": {"all_reduce", "gather", "broadcast"},
}


def db_for(run_id: str, request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue("tp4_db" if run_id == "tp4" else "samples_db")


@pytest.mark.parametrize(
    "run_id", ["tp2", "pp2", "tp2pp2", pytest.param("tp4", marks=pytest.mark.slow)]
)
def test_counts_and_bytes_match_on_collected_runs(
    run_id: str, request: pytest.FixtureRequest
) -> None:
    with duckdb.connect(str(db_for(run_id, request)), read_only=True) as con:
        result = validate(con, run_id)
    tp, pp = LAYOUTS[run_id]
    assert (result.spec.tp, result.spec.pp) == (tp, pp)
    assert result.counts_and_bytes_match
    inside = result.by_op.filter(pl.col("phase") != "outside")
    assert {(op, ph) for op, ph in inside.select("op", "phase").iter_rows()} == {
        (op, ph) for op in OPS[run_id] for ph in ("prefill", "decode")
    }
    for frame in (inside, result.by_rank.filter(pl.col("phase") != "outside")):
        assert (frame["pred_count"] == frame["meas_count"]).all()
        assert (frame["pred_bytes"] == frame["meas_bytes"]).all()
        assert (frame["pred_count"] > 0).all()
        assert frame["flags"].list.set_intersection(["count", "bytes"]).list.len().sum() == 0
    assert set(result.by_rank["rank"]) == set(range(tp * pp))
    # the committed samples' barrier before the measured pass: reported, never judged;
    # a run collected now synchronises outside the recorded window (issue 14 item 9)
    outside = result.by_op.filter(pl.col("phase") == "outside")
    barrier = [] if run_id == "tp4" else [("barrier", 0, tp * pp)]
    assert outside.select("op", "pred_count", "meas_count").rows() == barrier
    assert outside["flags"].to_list() == [[]] * len(barrier)
    # alpha/beta fitted to this run: in sample, said so
    assert result.time_in_sample
    assert result.time_model.source == f"fitted to run {run_id}"
    assert inside["time_ratio"].is_not_null().all()


def test_independent_time_model(samples_db: Path) -> None:
    ab = AlphaBeta(alpha_s=1e-3, beta_bps=1e8)
    with duckdb.connect(str(samples_db), read_only=True) as con:
        result = validate(con, "tp2", time_model=TimeModel(default=ab))
        fitted = validate(con, "tp2pp2", time_model=fit_run(con, "tp2"))
    assert not result.time_in_sample and not fitted.time_in_sample
    row = result.by_op.filter((pl.col("op") == "broadcast") & (pl.col("phase") == "decode"))
    # 6 broadcasts of 16 bytes each (bus factor 1)
    assert row["pred_time_s"][0] == pytest.approx(6 * ab.time_s(16))
    assert fitted.counts_and_bytes_match


def test_a_wrong_manifest_is_flagged(samples_db: Path, tmp_path: Path) -> None:
    """Tell the model the tp2 run generated 5 tokens, not 4: decode is off by 4/3."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(samples_db, db)
    with duckdb.connect(str(db)) as con:
        man = json.loads(
            con.execute("SELECT manifest FROM runs WHERE run_id = 'tp2'").fetchall()[0][0]
        )
        man["workload"]["gen_len"] = 5
        con.execute("UPDATE runs SET manifest = ? WHERE run_id = 'tp2'", [json.dumps(man)])
        result = validate(con, "tp2")
    assert not result.counts_and_bytes_match
    for row in result.by_op.filter(pl.col("phase") != "outside").iter_rows(named=True):
        if row["phase"] == "decode":
            assert row["count_ratio"] == pytest.approx(3 / 4)
            assert row["flags"][:2] == ["count", "bytes"]
        else:
            assert row["count_ratio"] == 1.0 and row["bytes_ratio"] == 1.0


def frames(
    pred: list[tuple[str, str, int, int, float]], meas: list[tuple[str, str, int, int]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    p = pl.DataFrame(pred, schema=["op", "phase", "count", "total_bytes", "time_s"], orient="row")
    m = pl.DataFrame(meas, schema=["op", "phase", "msg_bytes", "dur_ns"], orient="row")
    return p, m


def test_compare_flags_beyond_the_tolerance() -> None:
    pred, meas = frames(
        [
            ("all_reduce", "decode", 20, 2000, 0.020),  # exact
            ("gather", "decode", 20, 2000, 0.020),  # 19 of 20: 5 %, not beyond
            ("gather", "prefill", 20, 2000, 0.020),  # 18 of 20: flagged
            ("send", "decode", 4, 400, 0.004),  # bytes 25 % over, time within 5 %
            ("recv", "decode", 4, 400, 0.004),  # never measured
        ],
        [
            *[("all_reduce", "decode", 100, 1_000_000)] * 20,
            *[("gather", "decode", 100, 1_000_000)] * 19,
            *[("gather", "prefill", 100, 1_000_000)] * 18,
            *[("send", "decode", 100, 1_000_000)] * 3,
            ("send", "decode", 200, 1_100_000),
            ("reduce_scatter", "decode", 100, 1_000_000),  # never predicted
            ("barrier", "outside", 0, 5_000_000),  # outside the steps: not judged
        ],
    )
    out = compare(pred, meas, ["op", "phase"], 0.05)
    flags = {(r["op"], r["phase"]): r["flags"] for r in out.iter_rows(named=True)}
    assert flags == {
        ("all_reduce", "decode"): [],
        ("gather", "decode"): [],
        ("gather", "prefill"): ["count", "bytes", "time"],
        ("send", "decode"): ["bytes"],
        ("recv", "decode"): ["count", "bytes", "time"],
        ("reduce_scatter", "decode"): ["count", "bytes", "time"],
        ("barrier", "outside"): [],
    }
    recv = out.filter(pl.col("op") == "recv").row(0, named=True)
    assert (recv["meas_count"], recv["count_ratio"]) == (0, None)
    send = out.filter(pl.col("op") == "send").row(0, named=True)
    assert send["bytes_ratio"] == pytest.approx(500 / 400)
    assert send["time_ratio"] == pytest.approx(0.0041 / 0.004)
    # a looser tolerance lets the 10 % count gap through
    loose = compare(pred, meas, ["op", "phase"], 0.30)
    assert loose.filter(pl.col("op") == "gather")["flags"].list.len().sum() == 0


@pytest.fixture
def edited(samples_db: Path, tmp_path: Path):  # noqa: ANN201
    """A writable copy of the sample runs; yields a function that rewrites a manifest."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(samples_db, db)
    con = duckdb.connect(str(db))
    base = json.loads(
        con.execute("SELECT manifest FROM runs WHERE run_id = 'tp2'").fetchall()[0][0]
    )

    def set_manifest(run_id: str, manifest: dict | None) -> duckdb.DuckDBPyConnection:
        text = None if manifest is None else json.dumps(manifest)
        con.execute("UPDATE runs SET manifest = ? WHERE run_id = ?", [text, run_id])
        return con

    set_manifest.base = base  # type: ignore[attr-defined]
    yield set_manifest
    con.close()


def test_manifest_problems(edited) -> None:  # noqa: ANN001
    base = edited.base
    con = edited("tp2", None)
    with pytest.raises(TracekitError, match="no manifest"):
        run_spec(con, "tp2")
    no_gen = json.loads(json.dumps(base))
    del no_gen["workload"]["gen_len"]
    with pytest.raises(TracekitError, match="gen_len") as exc:
        run_spec(edited("tp2", no_gen), "tp2")
    assert "workload {batch, prompt_len, gen_len}" in (exc.value.hint or "")
    with pytest.raises(TracekitError, match="rank 1 crashed"):
        run_spec(edited("tp2", {**base, "complete": False, "error": "rank 1 crashed"}), "tp2")
    with pytest.raises(TracekitError, match="run 'zzz' is not in the database") as exc:
        run_spec(con, "zzz")
    assert "pp2, tp2, tp2pp2" in (exc.value.hint or "")


def test_the_manifest_gives_one_workload_value(samples_db: Path) -> None:
    """The collect manifest's workload and dtype become the model's one Workload value."""
    with duckdb.connect(str(samples_db), read_only=True) as con:
        spec = run_spec(con, "tp2pp2")
    assert (spec.tp, spec.pp, spec.layers_per_stage) == (2, 2, (2, 2))
    assert spec.work == Workload(batch=2, prompt_len=16, gen_len=4, dtype="float32")


def test_manifest_with_a_preset_name(edited) -> None:  # noqa: ANN001
    man = {**edited.base, "model": {"name": "tiny"}, "dtype": "fp32"}  # top-level dtype
    con = edited("tp2", man)
    spec = run_spec(con, "tp2")
    assert spec.shape.layers == 4 and spec.work.dtype == "fp32"
    assert validate(con, "tp2").counts_and_bytes_match


def test_fit_needs_calls(edited) -> None:  # noqa: ANN001
    con = edited("tp2", edited.base)
    con.execute(
        "INSERT INTO runs (run_id, origin_ns, manifest) "
        "SELECT 'empty', 0, manifest FROM runs WHERE run_id = 'tp2'"
    )
    with pytest.raises(TracekitError, match="no communication calls"):
        fit_run(con, "empty")
