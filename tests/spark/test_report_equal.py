"""`tracekit report --engine spark` gives the figures of the DuckDB report over the same
Parquet dataset: every section, row for row (exact integers, floats within 1e-9
relative), both as tables (tracekit.spark.report_store) and as the CLI's JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.spark.conftest import REPORT_RUN, why_no_spark
from tests.spark.test_views_equal import _same
from tracekit import store
from tracekit.analysis import report
from tracekit.cli import app

pytestmark = pytest.mark.skipif(why_no_spark() is not None, reason=str(why_no_spark()))


def test_spark_report_tables_equal_duckdb_report(spark: Any, dataset: Path) -> None:
    from tracekit import spark as tk_spark

    con, name = tk_spark.report_store(spark, REPORT_RUN)
    try:
        got = report.build(con, run=name)
    finally:
        con.close()
    with store.open(parquet=dataset, read_only=True) as duck:
        want = report.build(duck, run=REPORT_RUN)
    assert name == REPORT_RUN
    assert list(got) == list(want) == list(report.SECTIONS)
    assert all(want[s].height for s in ("ranks", "stages", "layers", "phases", "comm_summary"))
    for section, frame in want.items():
        mine = got[section]
        assert mine.columns == frame.columns, section
        assert mine.height == frame.height, section
        for w, g in zip(frame.rows(), mine.rows(), strict=True):
            bad = [
                (c, a, b) for c, a, b in zip(frame.columns, w, g, strict=True) if not _same(a, b)
            ]
            assert not bad, f"{section}: {bad}"


def test_report_engine_spark_prints_the_duckdb_figures(
    spark_report: dict[str, Any], dataset: Path
) -> None:
    args = ["report", "--parquet", str(dataset), "--run", REPORT_RUN, "--format", "json"]
    duck = CliRunner().invoke(app, args)
    assert duck.exit_code == 0, duck.output
    want = json.loads(duck.stdout)
    assert spark_report["run_id"] == want["run_id"] == REPORT_RUN
    assert list(spark_report["sections"]) == list(want["sections"])
    for section, rows in want["sections"].items():
        got = spark_report["sections"][section]
        assert len(got) == len(rows), section
        for w, g in zip(rows, got, strict=True):
            assert w.keys() == g.keys(), section
            assert all(_same(w[k], g[k]) for k in w), (section, w, g)
