"""`tracekit report` on a hand-built trace and on the gloo TP 2 x PP 2 run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fixtures.kineto import AR, Trace, import_traces
from tracekit.analysis.report import SECTIONS
from tracekit.cli import app
from tracekit.errors import InputError

runner = CliRunner()


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    t = Trace(rank=0, world_size=1)
    t.annotation("tk:step=0 phase=prefill", 0, 100).annotation("tk:layer=0", 0, 50)
    t.kernel("gemm", 100, 40, launch_ts=1)
    t.kernel(AR, 120, 60, stream=13, launch_ts=10)
    return import_traces(root / "r.duckdb", root / "r", [t], run="small")


def test_json_has_every_section(small_db: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(small_db), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["run_id"] == "small"
    assert list(doc["sections"]) == list(SECTIONS)
    layer0 = [r for r in doc["sections"]["layers"] if r["layer"] == 0][0]
    assert (layer0["comm_ns"], layer0["overlap_ns"]) == (60_000, 20_000)


def test_csv_one_section(small_db: Path) -> None:
    result = runner.invoke(
        app, ["report", "--db", str(small_db), "--format", "csv", "--section", "ranks"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1 and rows[0]["exposed_comm_ns"] == "40000"


def test_table_shows_titles(small_db: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(small_db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Per layer" in result.stdout and "Top collective instances" in result.stdout


def test_unknown_run_is_an_input_error(small_db: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(small_db), "--run", "nope"])
    assert isinstance(result.exception, InputError)
    assert "nope" in result.exception.message


@pytest.mark.slow
def test_plots_on_gloo_run(gloo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "charts"
    result = runner.invoke(
        app, ["report", "--db", str(gloo_db), "--format", "json", "--plot", str(out)]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        f"{stem}.{ext}"
        for stem in ("exposed_by_stage", "overlap_by_layer", "timeline")
        for ext in ("png", "svg")
    ]
    assert all(p.stat().st_size > 1000 for p in out.iterdir())


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["report", "--format", "xml"], "'table', 'json', 'csv'"),
        (["report", "--section", "nope"], "'latency', 'ranks'"),
        (["sql", "--format", "xml", "SELECT 1"], "'table', 'csv', 'json'"),
        (["validate", "--run", "small", "--format", "markdown"], "'table', 'json'"),
        (["model", "--logits", "some"], "'last', 'all'"),
        (["model", "--sample", "always"], "'every_step', 'none'"),
        (["model", "--format", "xml"], "'table', 'json', 'markdown'"),
    ],
)
def test_option_choices_are_checked_by_the_cli(
    small_db: Path, args: list[str], choices: str
) -> None:
    """Choices are declared on the option (Click's Choice): exit 2 naming the valid values,
    before the command runs."""
    command, rest = args[0], args[1:]
    db = [] if command == "model" else ["--db", str(small_db)]
    result = runner.invoke(app, [command, *db, *rest], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "is not one of" in result.output and choices in result.output


def test_unlabelled_sections_are_named_once(tmp_path: Path) -> None:
    t = Trace(rank=0, world_size=1)  # no annotation ranges: no step, stage, layer or phase
    t.kernel("gemm", 100, 40, launch_ts=1)
    t.kernel(AR, 120, 60, stream=13, launch_ts=10)
    db = import_traces(tmp_path / "u.duckdb", tmp_path / "u", [t], run="bare")
    doc = json.loads(runner.invoke(app, ["report", "--db", str(db), "--format", "json"]).stdout)
    body = doc["sections"]
    assert body["latency"] == [] and {r["layer"] for r in body["layers"]} == {None}
    result = runner.invoke(app, ["report", "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    for title in ("Latency", "Per pipeline stage", "Per layer", "Per phase"):
        assert title not in out
    assert "Per rank" in out and "Top collective instances" in out
    assert out.count("not shown: latency, stages, layers, phases.") == 1
    assert "has no step, stage, layer or phase labels" in out
    assert "latency would have no steps and stages, layers, phases would be one" in out
    assert "tracekit rules add my_labels.csv" in out and "--table label_rules" in out


def test_labelled_sections_stay(small_db: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(small_db)], env={"COLUMNS": "200"})
    out = " ".join(result.stdout.split())
    assert "Latency" in out and "Per layer" in out and "Per phase" in out
    assert "not shown: stages. Run small has no stage labels" in out
    assert "so stages would be one unlabelled row per rank (as Per rank)." in out
