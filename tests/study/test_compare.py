"""`tracekit compare` on runs from elsewhere (the real traces: no manifest, no step
ranges) and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.robustness.conftest import assert_clean_failure, cli, digest
from tracekit.ingest.loader import import_paths


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import SHARED_TRACES

    folder = SHARED_TRACES / "kineto" / "dlrm_8rank"
    if not folder.is_dir():
        pytest.skip(f"the real trace corpus is not at {SHARED_TRACES}")
    db = tmp_path_factory.mktemp("compare") / "real.duckdb"
    import_paths(db, [folder], run="dlrm_8rank")
    return db


def test_real_traces_keep_measurements_and_say_what_is_missing(real_db: Path) -> None:
    done = cli("compare", "--db", real_db, "--format", "json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["run_id"] == "dlrm_8rank" and row["world_size"] == 8
    assert row["layout"] is None and row["tp"] is None and row["model"] is None
    assert row["scope"] == "whole trace"
    assert row["calls"] == 64 and row["outside_calls"] == 0  # 8 ranks x 8 collectives
    assert row["comm_ns"] > 0 and row["exposed_comm_ns"] <= row["comm_ns"]
    assert row["pred_calls"] is None and row["by_op"] == []
    assert row["tp_lane_bytes"] is None and row["pred_tp_lane_bytes"] is None  # no layout
    assert "has no manifest" in row["note"] and "no tk:step ranges" in row["note"]
    table = cli("compare", "--db", real_db)
    assert "dlrm_8rank: no prediction" in " ".join(table.stdout.split())


def test_markdown_and_csv(real_db: Path) -> None:
    markdown = cli("compare", "--db", real_db, "--format", "markdown").stdout
    assert "| run_id" in markdown and "| dlrm_8rank" in markdown
    assert "- dlrm_8rank: no prediction" in markdown
    csv = cli("compare", "--db", real_db, "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("run_id,layout,") and csv[1].startswith("dlrm_8rank,,")


def test_unknown_run_is_a_clean_failure(real_db: Path) -> None:
    before = digest(real_db)
    assert_clean_failure(cli("compare", "--db", real_db, "--runs", "nosuch"), "nosuch")
    assert digest(real_db) == before
