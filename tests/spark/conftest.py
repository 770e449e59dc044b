"""One Spark session (local mode) and one Parquet dataset of every trace the tests have,
shared by the whole Spark test session: starting Spark costs seconds."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tracekit import store
from tracekit.cli import app
from tracekit.ingest.loader import import_paths
from tracekit.ingest.parquet import export_parquet
from tracekit.spark import SHOWN_EQUAL

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "traces"
SAMPLES = ("tp2", "pp2", "tp2pp2")
VIEWS = SHOWN_EQUAL
RANK_MAP = ["mfu_2gpu_before.sqlite:144=0,145=1", "h100_2gpu_1s.sqlite:111=0,112=1"]
"""The nsys exports hold two processes each; which rank each is (tests/ingest/test_nsys_real)."""


def why_no_spark() -> str | None:
    """Why the Spark tests cannot run here (None: they can)."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        return "no Java on PATH or in JAVA_HOME (Spark needs Java 17 or later)"
    return None


def sources() -> list[tuple[str, Path]]:
    """(run name, path) of the sample traces and of every real trace set or nsys export."""
    out = [(name, REPO / "sample_traces" / name) for name in SAMPLES]
    if (SHARED / "kineto").is_dir():
        out += [(p.name, p) for p in sorted((SHARED / "kineto").iterdir()) if p.is_dir()]
    if (SHARED / "nsys").is_dir():
        out += [(p.stem, p) for p in sorted((SHARED / "nsys").glob("*.sqlite"))]
    return out


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every source imported as its own run, written with `import --parquet`'s writer."""
    base = tmp_path_factory.mktemp("spark")
    db = base / "all.duckdb"
    for name, path in sources():
        import_paths(db, [path], run=name, rank_map=RANK_MAP)
    with store.open(db, read_only=False) as con:
        export_parquet(con, base / "pq")
    return base / "pq"


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """A local Spark (2 cores, 2 shuffle partitions, no UI): one JVM for all tests."""
    reason = why_no_spark()
    if reason is not None:
        pytest.skip(reason)
    from tracekit import spark as tk_spark

    session = tk_spark.session(
        "local[2]",
        [
            "spark.sql.shuffle.partitions=2",
            "spark.default.parallelism=2",
            "spark.ui.showConsoleProgress=false",
            "spark.driver.memory=1g",
        ],
    )
    yield session
    session.stop()


REPORT_RUN = "tp2pp2"
"""The sample run `tracekit report --engine spark` reports (stages, layers and phases)."""


@pytest.fixture(scope="session")
def spark_report(spark_session: Any, dataset: Path) -> dict[str, Any]:
    """`tracekit report --engine spark --format json` of REPORT_RUN, run once in this
    process: the CLI's session is the test session (getOrCreate), in which it registers the
    report's views and every view they read (the views compared among them)."""
    result = CliRunner().invoke(
        app,
        ["report", "--parquet", str(dataset), "--run", REPORT_RUN, "--format", "json"]
        + ["--engine", "spark", "--spark-master", "local[2]"],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def spark(spark_session: Any, spark_report: dict[str, Any]) -> Any:
    """The session holding the dataset and the views compared: registered by the report,
    and those it does not read (temporal_breakdown: rank_overview reads _lane_time) on top
    of the views the report registered."""
    from tracekit import spark as tk_spark

    registered = {t.name for t in spark_session.catalog.listTables()}
    for view in tk_spark.needed(VIEWS):
        if view.name not in registered:
            tk_spark.create_view(spark_session, view, keep=False)
    return spark_session
