"""`tracekit validate` and `model --fit-db` on a database they cannot use: exit 2, one
paragraph naming the file, no traceback, the file untouched (the store's one door)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.conftest import assert_clean_failure, digest, tk


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"DUCK" * 4096, ()),
        (b"", ()),
        (b"run_id,rank\nx,0\n", ()),
    ],
    ids=["corrupt", "empty", "csv"],
)
@pytest.mark.parametrize("command", ["validate", "model"])
def test_unusable_database(tmp_path: Path, content: bytes, words: tuple, command: str) -> None:
    db = tmp_path / "corrupt.duckdb"
    db.write_bytes(content)
    before = digest(db)
    args = (
        ("validate", "--db", db, "--run", "r")
        if command == "validate"
        else (
            "model",
            "--model",
            "tiny",
            "--tp",
            "2",
            "--pp",
            "1",
            "--fit-db",
            db,
            "--fit-run",
            "r",
        )
    )
    proc = tk(*args)
    assert_clean_failure(proc, str(db), *words)
    assert digest(db) == before


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "typo.duckdb"
    proc = tk("validate", "--db", db, "--run", "r")
    assert_clean_failure(proc, str(db), "no such database")
    assert not db.exists()
