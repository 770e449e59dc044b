"""`tracekit study` and `tracekit compare` on six real CPU runs (TP4, PP4, TP2xPP2 for
output lengths 3 and 6): measured calls and bytes per (op, phase) equal the model's
prediction, the volume ranking is PP4 < TP2xPP2 < TP4, a second run resumes, figures
carry the layout names and values."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest

from tests.study.conftest import tk
from tracekit.collect.presets import get_preset
from tracekit.model.layout import Workload
from tracekit.model.predict import predict

pytestmark = pytest.mark.slow

LAYOUTS = {"TP4": (4, 1), "PP4": (1, 4), "TP2xPP2": (2, 2)}


@pytest.fixture(scope="module")
def rows(study_dir: tuple[Path, str]) -> list[dict]:
    out, _ = study_dir
    done = tk("compare", "--db", out / "study.duckdb", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_study_runs_every_layout_for_both_lengths(study_dir: tuple[Path, str]) -> None:
    out, printed = study_dir
    order = [(4, 1), (2, 2), (1, 4)]  # every TP x PP = 4, TP first
    for index, name in enumerate(
        [f"tp{t}pp{p}-b2-p16-g{g}" for t, p in order for g in (3, 6)], start=1
    ):
        assert f"[{index}/6] {name}: collecting" in printed
        assert (out / "runs" / name / "manifest.json").is_file()
    assert "TP2xPP2" in printed and "PP4" in printed


def test_compare_json_matches_the_model_exactly(rows: list[dict]) -> None:
    assert len(rows) == 6
    assert {(r["layout"], r["gen_len"]) for r in rows} == {
        (lay, g) for lay in LAYOUTS for g in (3, 6)
    }
    shape = get_preset("tiny").with_overrides(kv_heads=4)  # the study's one shape
    for row in rows:
        tp, pp = LAYOUTS[row["layout"]]
        assert (row["tp"], row["pp"], row["world_size"], row["model"]) == (tp, pp, 4, "tiny")
        work = Workload(batch=2, prompt_len=16, gen_len=row["gen_len"], dtype="float32")
        per_rank = predict(shape, tp, pp, work)
        pred = per_rank.group_by("op", "phase").agg(
            pl.col("count").sum(), pl.col("total_bytes").sum()
        )
        expected = {(o, ph): (c, b) for o, ph, c, b in pred.iter_rows()}
        measured = {
            (r["op"], r["phase"]): (r["meas_count"], r["meas_bytes"])
            for r in row["by_op"]
            if r["phase"] != "outside"
        }
        assert measured == expected, row["run_id"]
        assert all(r["match"] for r in row["by_op"] if r["phase"] != "outside")
        assert row["model_match"] is True
        assert row["calls"] == row["pred_calls"] == sum(c for c, _ in expected.values())
        assert row["bytes"] == row["pred_bytes"] == sum(b for _, b in expected.values())
        assert row["bytes_ratio"] == 1.0
        # one TP lane: tp_rank t-1 of every stage (the model's lane), measured = predicted
        lane = per_rank.filter(pl.col("tp_rank") == tp - 1)["total_bytes"].sum()
        assert row["tp_lane_bytes"] == row["pred_tp_lane_bytes"] == lane > 0
        if tp == 1:
            assert row["tp_lane_bytes"] == row["bytes"]
        if pp == 1:
            assert row["tp_lane_bytes"] == row["max_rank_bytes"]
        assert 0 < row["ttft_ns"] < row["e2e_ns"] and 0 < row["tpot_ns"] < row["e2e_ns"]
        assert 0 < row["comm_pct"] <= 100 and 0 <= row["e2e_exposed_comm_pct"] <= 100
        assert row["note"] is None


def test_ranking_by_volume_is_pp_then_hybrid_then_tp(rows: list[dict]) -> None:
    assert [r["bytes"] for r in rows] == sorted(r["bytes"] for r in rows)
    for gen in (3, 6):
        ranked = [r["layout"] for r in rows if r["gen_len"] == gen]
        assert ranked == ["PP4", "TP2xPP2", "TP4"]
        by = {r["layout"]: r for r in rows if r["gen_len"] == gen}
        assert by["PP4"]["max_rank_bytes"] < by["TP2xPP2"]["max_rank_bytes"]
        assert by["TP2xPP2"]["max_rank_bytes"] < by["TP4"]["max_rank_bytes"]


def test_a_second_study_resumes_and_changes_nothing(study_dir: tuple[Path, str]) -> None:
    out, _ = study_dir
    db = out / "study.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    again = tk("study", "--gpus", "4", "--gen-len", "3,6", "--out", out, "--format", "csv")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count(": skipped") == 6 and "collecting" not in again.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    lines = again.stdout.strip().splitlines()  # CSV alone: header + 6 runs
    assert len(lines) == 7 and lines[0].startswith("run_id,layout,")


def test_figures_name_the_layouts_and_values(study_dir: tuple[Path, str], rows: list) -> None:
    out, _ = study_dir
    figures = out / "figures"
    for stem in ("bytes_by_op", "latency", "exposed_share", "volume_vs_length"):
        assert (figures / f"study_{stem}.png").stat().st_size > 0
    text = (figures / "study_bytes_by_op.svg").read_text()
    svg_text = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", text))
    for row in rows:
        assert f"{row['layout']} Sd={row['gen_len']}" in svg_text
        assert f"{row['bytes'] / 1e3:,.1f}" in svg_text  # measured and predicted totals
    lengths = (figures / "study_volume_vs_length.svg").read_text()
    for layout in LAYOUTS:
        assert f">{layout}<" in lengths
    latency = (figures / "study_latency.svg").read_text()
    for row in rows:
        assert f"{row['ttft_ns'] / 1e6:.1f}" in latency


def test_report_checks_the_findings_with_numbers(study_dir: tuple[Path, str], rows: list) -> None:
    out, printed = study_dir
    assert f"report: {out / 'report.md'}" in " ".join(printed.split())
    report = (out / "report.md").read_text()
    for gen in (3, 6):
        by = {r["layout"]: r for r in rows if r["gen_len"] == gen}
        volumes = " < ".join(
            f"{lay} {by[lay]['bytes'] / 1e3:,.1f} kB" for lay in ("PP4", "TP2xPP2", "TP4")
        )
        workload = f"tiny float32 B=2 Sp=16 Sd={gen}"
        for claim in ("PP moves the least data", "hybrids sit between PP and TP"):
            line = next(x for x in report.splitlines() if claim in x and workload in x)
            assert "| holds" in line and volumes in line
        assert "by volume PP4 < TP2xPP2 < TP4" in report
        ttft = next(x for x in report.splitlines() if "TP responds faster" in x and workload in x)
        verdict = "holds" if by["TP4"]["ttft_ns"] < by["PP4"]["ttft_ns"] else "does not hold"
        assert f"| {verdict} " in ttft and f"TP4 {by['TP4']['ttft_ns'] / 1e6:.1f} ms" in ttft
    for row in rows:  # setup from the manifests
        manifest = json.loads((out / "runs" / row["run_id"] / "manifest.json").read_text())
        setup = next(x for x in report.splitlines() if x.startswith(f"| {row['run_id']} | gloo"))
        assert manifest["versions"]["torch"] in [c.strip() for c in setup.split("|")]
    assert "![Communication volume by collective" in report
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 4 and "<table>" in page
    assert "<script" not in page and "<link" not in page and 'src="' not in page


def test_readme_study_example_matches_the_study(study_dir: tuple[Path, str], rows: list) -> None:
    """The README's second example: its notes and progress lines are what the study
    prints, and every figure that does not depend on timing is the measured one."""
    _, printed = study_dir
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    command = "tracekit study --gpus 4 --model tiny --gen-len 3,6 --out study"
    assert command in readme
    block = readme.split(command, 1)[1].split("```text", 1)[1].split("```", 1)[0]
    for line in block.splitlines():
        if line and line[0] not in "|#" and line != "...":
            assert line in printed  # the KV-head note and the progress lines
    table = [line for line in block.splitlines() if line.startswith("| ")]
    names = [c.strip() for c in table[0].strip("|").split("|")]  # their order: tests/cli
    by_run = {r["run_id"]: r for r in rows}
    assert len(table) - 1 == len(by_run)
    exact = ["layout", "gen_len", "calls", "pred_calls", "bytes", "pred_bytes"]
    exact += ["max_rank_bytes", "tp_lane_bytes", "model_match"]
    for line in table[1:]:
        cells = dict(zip(names, (c.strip() for c in line.strip("|").split("|")), strict=True))
        row = by_run[cells["run_id"]]
        for name in exact:
            assert cells[name] == json.dumps(row[name]).strip('"'), (cells["run_id"], name)
