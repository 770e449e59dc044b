"""Real runs for the validate tests: the committed `tracekit collect` outputs under
``sample_traces/`` (TP2, PP2, TP2×PP2) and a TP4 run collected here, each imported
with the real importer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tracekit.ingest.loader import import_paths

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_traces"
SAMPLE_RUNS = ("tp2", "pp2", "tp2pp2")
# tiny has kv_heads 2, so TP4 needs 4; 3 generated tokens keep it to ~15 s on 2 cores
TP4_COLLECT = ("collect --tp 4 --pp 1 --kv-heads 4 --batch 2 --prompt-len 8 --gen-len 3").split()


def tracekit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, as a user would."""
    code = "from tracekit.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="session")
def samples_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_traces/tp2, pp2 and tp2pp2 imported as runs of those names (~3 s)."""
    db = tmp_path_factory.mktemp("validate") / "samples.duckdb"
    for run in SAMPLE_RUNS:
        import_paths(db, [SAMPLES / run], run=run)
    return db


@pytest.fixture(scope="session")
def tp4_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TP4 run made here by `tracekit collect` on CPU (gloo), imported as 'tp4'."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("tp4")
    done = tracekit(*TP4_COLLECT, "--out", str(root / "tp4"))
    assert done.returncode == 0, done.stdout + done.stderr
    db = root / "tp4.duckdb"
    import_paths(db, [root / "tp4"], run="tp4")
    return db
