"""The analyses on a real CPU (gloo) TP 2 x PP 2 run with tracekit's annotations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tracekit import analysis
from tracekit.analysis import report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(gloo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(gloo_db), read_only=True)
    yield connection
    connection.close()


@pytest.mark.parametrize("by", ["layer", "stage", "phase"])
def test_partitions_sum_to_rank(con: duckdb.DuckDBPyConnection, by: str) -> None:
    cols = ["comm_ns", "compute_ns", "overlap_ns", "exposed_comm_ns"]
    rank = analysis.overlap(con, by="rank").frame.sort("rank").select("rank", *cols)
    parts = (
        analysis.overlap(con, by=by).frame.group_by("rank").agg(pl.col(c).sum() for c in cols)
    ).sort("rank")
    assert rank.to_dicts() == parts.to_dicts()
    assert rank.height == 4


def test_layers_belong_to_their_stage(con: duckdb.DuckDBPyConnection) -> None:
    layers = analysis.overlap(con, by="layer").frame.filter(pl.col("layer").is_not_null())
    seen = {(r, layer) for r, layer in layers.select("rank", "layer").iter_rows()}
    # 2 layers per stage: stage 0 (ranks 0, 1) holds layers 0-1, stage 1 (ranks 2, 3) 2-3
    assert seen == {(r, layer) for r in range(4) for layer in ((0, 1) if r < 2 else (2, 3))}
    stages = analysis.overlap(con, by="stage").frame
    assert dict(stages.select("rank", "stage").iter_rows()) == {0: 0, 1: 0, 2: 1, 3: 1}


def test_every_collective_matches(con: duckdb.DuckDBPyConnection) -> None:
    inst = analysis.collective_instances(con, run="tp2pp2").frame
    assert inst["complete"].all()
    counts = dict(
        inst.group_by("pg", "op")
        .len()
        .select(pl.concat_str("pg", "op", separator="/"), "len")
        .iter_rows()
    )
    # sample_traces/tp2pp2: tiny (4 layers, hidden 64), batch 2, prompt 16, 4 steps.
    # Per step: stage 0 (tp0) embedding + 2 layers x 2 all-reduces, stage 1 (tp1) 4; stage 1
    # all-gathers hidden and residual; each TP rank sends both to its peer in stage 1; the
    # last stage gathers logits to its TP rank 0, which returns the ids to rank 0; rank 0
    # broadcasts them in tp0. One barrier ends the run.
    assert counts == {
        "tp0/all_reduce": 20,
        "tp1/all_reduce": 16,
        "tp1/all_gather": 8,
        "tp1/gather": 4,
        "tp0/broadcast": 4,
        "p2p:0->2/send_recv": 8,
        "p2p:1->3/send_recv": 8,
        "p2p:2->0/send_recv": 4,
        "world/barrier": 1,
    }


def test_pipeline_receives_split_into_transfer_and_bubble(
    con: duckdb.DuckDBPyConnection,
) -> None:
    recv = analysis.collective_participants(con).frame.filter(
        (pl.col("rank_op") == "recv") & (pl.col("block") == "pp_recv")
    )
    assert recv.height == 16
    assert (recv["transfer_ns"] + recv["bubble_ns"] == recv["dur_ns"]).all()
    assert recv["block"].unique().to_list() == ["pp_recv"]


def test_comm_labels_and_sizes(con: duckdb.DuckDBPyConnection) -> None:
    summary = analysis.comm_summary(con).frame
    gather = summary.filter(pl.col("op") == "all_gather")
    # prefill all-gather output: 2 x 16 tokens x hidden 64 x 4 bytes = 8 KiB
    assert 8192 in gather["bucket_lo_bytes"].to_list()
    blocks = con.execute(
        "SELECT DISTINCT c.op, l.block FROM comm_ops c JOIN event_labels l "
        "USING (trace_id, event_id) WHERE c.op <> 'barrier' ORDER BY ALL"
    ).fetchall()
    assert ("all_reduce", "attention") in blocks and ("all_reduce", "mlp") in blocks
    assert ("send", "pp_send") in blocks and ("all_reduce", "embedding") in blocks


def test_latency_matches_manifest(con: duckdb.DuckDBPyConnection) -> None:
    row = analysis.latency(con).frame.to_dicts()[0]
    assert (row["steps"], row["prefill_steps"], row["decode_steps"]) == (4, 1, 3)
    # the collector times rank 0 from just before its first step range to just after the
    # step's barrier; the trace times the slowest rank. Close, not equal (shared CPUs).
    assert row["ttft_ns"] / 1e6 == pytest.approx(row["manifest_ttft_ms"], rel=0.25, abs=3)
    assert row["e2e_ns"] / 1e6 == pytest.approx(row["manifest_e2e_ms"], rel=0.25, abs=3)
    assert 0 <= row["e2e_exposed_comm_pct"] <= 100


def test_temporal_breakdown_adds_up(con: duckdb.DuckDBPyConnection) -> None:
    tb = analysis.temporal_breakdown(con).frame
    total = tb["compute_ns"] + tb["comm_ns"] + tb["memory_ns"] + tb["idle_ns"]
    assert (total == tb["span_ns"]).all()
    assert (tb["comm_ns"] == analysis.overlap(con, by="rank").frame["exposed_comm_ns"]).all()


def test_skew_and_timeline(con: duckdb.DuckDBPyConnection) -> None:
    skew = analysis.rank_skew(con).frame
    assert skew["rank"].to_list() == [0, 1, 2, 3]
    lanes = analysis.timeline(con, run="tp2pp2").frame
    assert set(lanes["cls"].unique()) == {"comm", "compute"}
    assert (lanes["e_ns"] > lanes["s_ns"]).all()


def test_report_holds_what_sections_share_exactly(con: duckdb.DuckDBPyConnection) -> None:
    held = report.build(con, run="tp2pp2")
    plain = report._sections(con, "tp2pp2", 10)  # every view read as it is
    assert list(held) == list(plain) == list(report.SECTIONS)
    for key, frame in held.items():
        assert frame.equals(plain[key]), key
    assert held["skew"].height == 4 and held["layers"]["layer"].null_count() < held["layers"].height
    temporary = "SELECT count(*) FROM duckdb_tables() WHERE temporary"
    assert con.execute(temporary).fetchone() == (0,)


def test_analysis_is_headless() -> None:
    code = (
        "import sys, json; import tracekit.analysis, tracekit.analysis.plots, "
        "tracekit.analysis.report; print(json.dumps(['typer' in sys.modules, "
        "'textual' in sys.modules]))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert json.loads(out.stdout) == [False, False]
