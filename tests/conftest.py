"""Shared fixtures: a real 4-process gloo job (TP 2 x PP 2) under torch.profiler."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracekit.ingest.loader import import_paths


@pytest.fixture(scope="session")
def gloo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding run 'tp2pp2' made by tests/fixtures/gloo_job.py (about 30 s)."""
    pytest.importorskip("torch")
    from tests.fixtures.gloo_job import make_job

    root = tmp_path_factory.mktemp("gloo")
    make_job(root / "tp2pp2", tp=2, pp=2)
    db = root / "gloo.duckdb"
    import_paths(db, [root / "tp2pp2"], run="tp2pp2")
    return db
