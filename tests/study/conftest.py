"""The study's MUST-HOLD run: `tracekit study --gpus 4 --model tiny --gen-len 3,6` on the
CPU (gloo), six real 4-rank collections, made once per module that asks for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TRACEKIT = [sys.executable, "-c", "from tracekit.cli import main; main()"]


def tk(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter, wide enough not to wrap."""
    return subprocess.run(
        [*TRACEKIT, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        timeout=900,
    )


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """OUT of the study and what it printed (asserted to exit 0)."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("study") / "study"
    done = tk(
        "study",
        "--gpus",
        "4",
        "--model",
        "tiny",
        "--gen-len",
        "3,6",
        "--out",
        out,
        "--plot",
        out / "figures",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout
