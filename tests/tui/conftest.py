"""Databases for the TUI tests: built from the committed `sample_traces/`.

``sample_db`` imports every folder of ``sample_traces/`` into a temporary
DuckDB file (once per session); ``db_without_views`` is a copy lacking the
analysis views, as a database made by an older tracekit would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tracekit import store
from tracekit.ingest.loader import import_paths

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folders = sorted(p for p in SAMPLES.glob("*") if p.is_dir()) if SAMPLES.is_dir() else []
    if not folders:
        pytest.skip("sample_traces/ holds no traces (they come from `tracekit collect`)")
    db = tmp_path_factory.mktemp("tui") / "sample.duckdb"
    import_paths(db, folders)
    return db


@pytest.fixture
def db_without_views(sample_db: Path, tmp_path: Path) -> Path:
    """A copy of the sample database whose analysis views were dropped (an older schema)."""
    db = tmp_path / "old.duckdb"
    shutil.copy(sample_db, db)
    con = duckdb.connect(str(db))
    for view in (
        "overlap_by_layer",
        "overlap_by_stage",
        "overlap_by_phase",
        "collective_instances",
        "_instance_figures",  # the Instances screen's list (collective_instances' figures)
    ):
        con.execute(f"DROP VIEW {view}")
    con.close()
    return db


@pytest.fixture
def sample_con(sample_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = store.connect(sample_db, read_only=True)
    yield con
    con.close()
