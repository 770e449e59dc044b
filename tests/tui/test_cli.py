"""`tracekit tui` from the command line: unusable databases give a message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN = "from tracekit.cli import main; main()"


def tracekit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
        env={**os.environ, "COLUMNS": "400"},
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such database"),
        (b"", "not a DuckDB database (an empty file)"),
        (b"garbage", "not a DuckDB database"),
    ],
)
def test_unusable_database(tmp_path: Path, content: bytes | None, message: str) -> None:
    db = tmp_path / "t.duckdb"
    if content is not None:
        db.write_bytes(content)
    result = tracekit("tui", "--db", str(db))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_help_ends_with_an_example() -> None:
    result = tracekit("tui", "--help")
    assert result.returncode == 0
    assert "Example: tracekit tui --db traces.duckdb" in result.stdout
