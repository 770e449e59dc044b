"""`tracekit collect --profiler both` (issue 14 item 5): torch.profiler runs beside nsys,
which owns CUPTI, so the Kineto traces hold the CPU side only (record_param_comms, nccl:
and tk: ranges, aten operators; no CUDA calls, no kernels). Measured on the CPU they showed
zero communication and counted everything as compute; they now give no figure but say
why. The synthetic traces are tests/fixtures/gpu_run.py's TP2xPP2 run without its GPU side."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.fixtures.gpu_run import write_kineto
from tracekit import store
from tracekit.cli import app
from tracekit.errors import TracekitError
from tracekit.ingest.loader import import_paths
from tracekit.model.validate import validate
from tracekit.study.compare import comparison

RUN = "both"


@pytest.fixture(scope="module")
def both_store(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cpu_side")
    db = root / "t.duckdb"
    summary = import_paths(db, [write_kineto(root / RUN, 2, 2, cpu_only=True)], workers=1)
    import_paths(db, [write_kineto(root / "gpu", 2, 2)], workers=1)
    with store.open(db, read_only=True) as con:  # the CLI's configuration: both can open it
        yield con, summary, db


def test_the_cpu_side_of_a_gpu_run_is_recognised(both_store) -> None:
    con, summary, _ = both_store
    assert con.execute(
        "SELECT run_id, count(*) FROM cpu_side_traces GROUP BY run_id"
    ).fetchall() == [(RUN, 4)]
    assert [n for what, n in summary.warnings if "CPU side only" in what] == [4]
    # what was measured there: NCCL's calls (record_param_comms) and the operators
    assert con.execute(
        "SELECT count(*) > 0, count(*) FILTER (WHERE name = 'aten::mm') > 0 FROM events "
        "JOIN traces USING (trace_id) WHERE run_id = ? AND kind = 'cpu_op'",
        [RUN],
    ).fetchall() == [(True, True)]


def test_no_overlap_or_latency_from_the_cpu_side(both_store) -> None:
    """Its overlap would be 0 communication and all compute, its steps end at enqueue."""
    con, _, _ = both_store
    for view in ("overlap_by_rank", "overlap_by_layer", "temporal_breakdown", "step_spans"):
        assert con.execute(f"SELECT count(*) FROM {view} WHERE run_id = ?", [RUN]).fetchall() == [
            (0,)
        ], view
    row = con.execute(
        "SELECT scope, calls, outside_calls, comm_ns, e2e_ns FROM run_comparison WHERE run_id = ?",
        [RUN],
    ).fetchall()
    assert row == [("CPU side only", None, None, None, None)]
    # the same run with its GPU side keeps its figures
    assert con.execute(
        "SELECT count(*) > 0, bool_and(comm_ns > 0) FROM overlap_by_rank WHERE run_id = 'gpu'"
    ).fetchall() == [(True, True)]


def test_validate_and_compare_point_to_the_nsys_run(both_store) -> None:
    con, _, _ = both_store
    with pytest.raises(TracekitError) as caught:
        validate(con, RUN)
    assert "CPU side" in caught.value.message and "--run both-nsys" in str(caught.value.hint)
    (note,) = [n for run, n in comparison(con, runs=[RUN]).notes() if run == RUN]
    assert note.startswith(f"no prediction: run '{RUN}': 4 of its traces hold the CPU side")
    assert "no communication calls" not in note and "tk:step" not in note


def test_a_cpu_only_gloo_run_is_not_cpu_side(tmp_path: Path) -> None:
    """gloo runs are CPU runs: their figures stay (sample_traces/tp2pp2)."""
    sample = Path(__file__).resolve().parents[2] / "sample_traces" / "tp2pp2"
    db = tmp_path / "t.duckdb"
    import_paths(db, [sample], workers=1)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM cpu_side_traces").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) > 0 FROM overlap_by_rank").fetchall() == [(True,)]


def test_report_says_why_it_shows_nothing(both_store) -> None:
    """tracekit report prints no empty table for the run, but why, and where to look."""
    _, _, db = both_store
    result = CliRunner().invoke(app, ["report", "--db", str(db), "--run", RUN])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 traces of run both hold the CPU side of a GPU run only" in text
    assert f"tracekit report --db {db} --run both-nsys" in text
    assert "0 rows" not in text and "has no step" not in text
