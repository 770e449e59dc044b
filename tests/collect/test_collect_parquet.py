"""`tracekit collect --parquet`: the host converts its run to the Parquet layout at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tracekit import store
from tracekit.ingest.loader import import_paths

pytestmark = pytest.mark.slow


def test_collect_writes_a_parquet_dataset_that_answers_like_the_database(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    run = [sys.executable, "-c", "from tracekit.cli import main; main()"]
    out = subprocess.run(
        [
            *run,
            "collect",
            "--tp",
            "2",
            "--gen-len",
            "3",
            "--out",
            str(tmp_path / "run"),
            "--parquet",
            str(tmp_path / "ds"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "2 rank partition(s)" in out.stdout
    assert sorted(p.name for p in (tmp_path / "ds" / "events" / "run_id=run").iterdir()) == [
        "rank=0",
        "rank=1",
    ]
    query = "SELECT rank, comm_ns, compute_ns, overlap_ns FROM overlap_by_rank ORDER BY rank"
    parquet = duckdb.connect()
    store.attach_parquet(parquet, tmp_path / "ds")
    import_paths(tmp_path / "t.duckdb", [tmp_path / "run"])
    db = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    assert parquet.execute(query).fetchall() == db.execute(query).fetchall()
