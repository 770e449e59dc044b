"""Bad input to the Spark engine (`--engine spark`, `spark-views`): exit 2, one paragraph,
no traceback, and Spark is never started (these run without Java)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.conftest import assert_clean_failure, cli, tk

DATASET_ERRORS = [
    ("missing", "not a tracekit Parquet dataset"),
    ("empty", "not a tracekit Parquet dataset"),
    ("no_threads", "no Parquet files under threads/"),
]


def _folder(tmp_path: Path, kind: str) -> Path:
    root = tmp_path / kind
    if kind == "missing":
        return root
    root.mkdir()
    if kind == "no_threads":
        for table in ("runs", "traces", "events", "rank_layout"):
            part = root / table / "run_id=r" / "rank=0"
            part.mkdir(parents=True)
            (part / "part-0.parquet").write_bytes(b"PAR1")
    return root


@pytest.mark.parametrize(("kind", "why"), DATASET_ERRORS)
def test_sql_on_spark_refuses_what_is_not_a_dataset(tmp_path: Path, kind: str, why: str) -> None:
    root = _folder(tmp_path, kind)
    proc = cli("sql", "--engine", "spark", "--parquet", root, "SELECT 1")
    assert_clean_failure(proc, str(root), why)


def test_sql_on_spark_refuses_a_missing_dataset_in_a_real_process(tmp_path: Path) -> None:
    proc = tk("sql", "--engine", "spark", "--parquet", tmp_path / "nope", "SELECT 1")
    assert_clean_failure(proc, str(tmp_path / "nope"), "not a tracekit Parquet dataset")


def test_report_on_spark_refuses_a_missing_dataset(tmp_path: Path) -> None:
    proc = cli("report", "--engine", "spark", "--parquet", tmp_path / "nope")
    assert_clean_failure(proc, str(tmp_path / "nope"), "not a tracekit Parquet dataset")


@pytest.mark.parametrize("conf", ["spark.sql.shuffle.partitions", "=4", "foo=bar", "spark.x="])
def test_a_bad_spark_setting_is_refused(tmp_path: Path, conf: str) -> None:
    (tmp_path / "events").mkdir()
    for table in ("runs", "traces", "events", "threads", "rank_layout"):
        part = tmp_path / table / "run_id=r" / "rank=0"
        part.mkdir(parents=True, exist_ok=True)
        (part / "part-0.parquet").write_bytes(b"PAR1")
    proc = cli("sql", "--engine", "spark", "--parquet", tmp_path, "--spark-conf", conf, "SELECT 1")
    assert_clean_failure(proc, f"--spark-conf {conf}", "KEY=VALUE")


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("DROP VIEW comm_ops", ["refused", "only reads"]),
        ("INSERT INTO runs VALUES (1)", ["refused", "only reads"]),
        ("SELECT reflect('java.lang.System', 'exit', 0)", ["refused reflect()"]),
        ("SELECT 1; SELECT 2", ["2 statements"]),
        ("SELEC 1 FROM", ["SQL error"]),
    ],
)
def test_spark_sql_runs_only_one_query(tmp_path: Path, sql: str, names: list[str]) -> None:
    proc = cli("sql", "--engine", "spark", "--parquet", tmp_path, sql)
    assert_clean_failure(proc, *names)


def test_spark_needs_a_dataset_not_a_database(tmp_path: Path) -> None:
    proc = cli("sql", "--engine", "spark", "--db", tmp_path / "x.duckdb", "SELECT 1")
    assert_clean_failure(proc, "--parquet DIR")
    proc = cli("report", "--engine", "spark", "--parquet", tmp_path, "--plot", tmp_path / "c")
    assert_clean_failure(proc, "--plot needs --engine duckdb")


def test_spark_views_refuses_a_missing_dataset(tmp_path: Path) -> None:
    proc = cli("spark-views", tmp_path / "nope")
    assert_clean_failure(proc, str(tmp_path / "nope"), "not a tracekit Parquet dataset")
