"""The scratch area: what a killed process left is removed, and nothing else.

The kill itself is tested with real imports in tests/ingest/test_atomic_import.py;
here the records: only tracekit's own staging names are ever removed, and a
scratch root that is not privately ours is never swept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tracekit import places


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(places, "_mine", None)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def _left_by_a_killed_process(tmp: Path) -> tuple[Path, Path, Path]:
    """A dead process's folder recording a staging file and, wrongly, a user's file."""
    folder = places.scratch_root() / str(_dead_pid())
    folder.mkdir(parents=True, mode=0o700)
    places.scratch_root().chmod(0o700)
    (folder / "chunk-x.json").write_text("raw trace text")
    stage = tmp / ".job.duckdb.tracekit-1.tmp"
    stage.write_text("half a database")
    precious = tmp / "precious.txt"
    precious.write_text("not tracekit's")
    (folder / places.STAGING).write_bytes(
        os.fsencode(stage) + b"\n" + os.fsencode(precious) + b"\n"
    )
    return folder, stage, precious


def test_sweep_removes_what_a_dead_process_left(tmp: Path) -> None:
    folder, stage, precious = _left_by_a_killed_process(tmp)
    mine = places.scratch_dir()
    assert not folder.exists() and not stage.exists()
    assert precious.read_text() == "not tracekit's"  # a record naming it is ignored
    assert mine == places.scratch_root() / str(os.getpid()) and mine.is_dir()


def test_a_scratch_root_others_can_write_is_not_swept(tmp: Path) -> None:
    folder, stage, _ = _left_by_a_killed_process(tmp)
    places.scratch_root().chmod(0o777)
    mine = places.scratch_dir()
    assert folder.exists() and stage.exists()
    assert mine.parent == Path(tempfile.gettempdir()) and (os.stat(mine).st_mode & 0o077) == 0
