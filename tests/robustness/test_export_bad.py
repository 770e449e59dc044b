"""`tracekit export --perfetto` on input it cannot use: exit 2, one paragraph naming the file
and what to do, the database and any existing file untouched, no half-written export."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import cpu, kernel, write_kineto
from tests.robustness.conftest import assert_clean_failure, cli, digest, tk
from tracekit.ingest.loader import import_paths


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    for run in ("a", "b"):
        write_kineto(
            root / run / "rank0.json",
            [cpu("aten::mm", 1.0, 5.0), kernel("ncclDevKernel_AllReduce_Sum_f32_RING_LL", 2, 1)],
        )
    db = root / "t.duckdb"
    import_paths(db, [root / "a", root / "b"])
    return db


def test_user_file_is_kept_unless_forced(two_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes.json"
    out.write_text('{"mine": true}\n')
    before, db_before = digest(out), digest(two_runs)
    proc = tk("export", "--perfetto", out, "--db", two_runs, "--run", "a")
    assert_clean_failure(proc, str(out), "tracekit did not write it", "--force")
    assert digest(out) == before and digest(two_runs) == db_before
    assert (
        cli("export", "--perfetto", out, "--db", two_runs, "--run", "a", "--force").returncode == 0
    )
    assert out.read_text().startswith('{"otherData":{"generator":"tracekit"')
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--run", "c"), ("run 'c' is not in the database", "a, b")),
        ((), ("2 runs", "--run")),
    ],
    ids=["unknown-run", "no-run-of-two"],
)
def test_bad_run(two_runs: Path, tmp_path: Path, args: tuple[str, ...], words: tuple) -> None:
    out = tmp_path / "run.json"
    proc = cli("export", "--perfetto", out, "--db", two_runs, *args)
    assert_clean_failure(proc, str(two_runs), *words)
    assert not out.exists()


@pytest.mark.parametrize("content", [None, b"run_id,rank\nx,0\n"], ids=["missing", "csv"])
def test_bad_database(tmp_path: Path, content: bytes | None) -> None:
    db = tmp_path / "job.duckdb"
    if content is not None:
        db.write_bytes(content)
    before = digest(db)
    out = tmp_path / "run.json"
    proc = cli("export", "--perfetto", out, "--db", db)
    assert_clean_failure(proc, str(db))
    assert digest(db) == before and not out.exists()


@pytest.mark.parametrize("target", ["folder", "missing/run.json"])
def test_bad_target(two_runs: Path, tmp_path: Path, target: str) -> None:
    (tmp_path / "folder").mkdir()
    proc = cli("export", "--perfetto", tmp_path / target, "--db", two_runs, "--run", "a")
    assert_clean_failure(proc, str(tmp_path / target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_database_of_an_older_tracekit(two_runs: Path, tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    db.write_bytes(two_runs.read_bytes())
    with duckdb.connect(str(db)) as con:
        con.execute("DROP VIEW perfetto_slices")
    before = digest(db)
    out = tmp_path / "run.json"
    proc = cli("export", "--perfetto", out, "--db", db, "--run", "a")
    assert_clean_failure(proc, str(db), "perfetto_slices", "tracekit import")
    assert digest(db) == before and sorted(p.name for p in tmp_path.iterdir()) == ["old.duckdb"]
