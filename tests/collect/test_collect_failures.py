"""A rank that crashes or hangs fails the collection cleanly: the message names
the rank and its log, the manifest says incomplete, no process survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tracekit
from tests.collect.collect_traces import live_processes_mentioning
from tracekit.collect.runner import CollectSpec, collect, resolve_shape
from tracekit.errors import TracekitError

pytestmark = pytest.mark.slow


def run_with_fault(out: Path, fault: str, timeout_s: float) -> TracekitError:
    pytest.importorskip("torch")
    workload = CollectSpec(tp=2, pp=1, shape=resolve_shape("tiny", None, {}), gen_len=2)
    env = {**os.environ, "TRACEKIT_COLLECT_FAULT": fault}
    with pytest.raises(TracekitError) as info:
        collect(workload, out, command_line=["test"], timeout_s=timeout_s, env=env)
    return info.value


def test_a_crashing_rank_fails_the_collection_naming_it(tmp_path: Path) -> None:
    out = tmp_path / "crash"
    error = run_with_fault(out, "1:crash", timeout_s=120)
    assert "rank 1 failed" in error.message
    assert str(out / "rank1.log") in error.message
    assert "injected fault on rank 1" in error.hint
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert "rank 1" in manifest["error"] and "rank1.log" in manifest["error"]
    assert live_processes_mentioning(str(out)) == []


def test_a_hanging_rank_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    out = tmp_path / "hang"
    error = run_with_fault(out, "1:hang", timeout_s=12)
    assert "did not finish within 12 s" in error.message
    assert f"rank 1 ({out / 'rank1.log'})" in error.message
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and "timeout" in manifest["error"]
    assert live_processes_mentioning(str(out)) == []


def test_sigterm_to_the_launcher_stops_every_rank(tmp_path: Path) -> None:
    out = tmp_path / "term"
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root, "TRACEKIT_COLLECT_FAULT": "1:hang"}
    code = "from tracekit.cli import main; main()"
    launcher = subprocess.Popen(
        [sys.executable, "-c", code, "collect", "--tp", "2", "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (out / "rank1.log").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    launcher.send_signal(signal.SIGTERM)
    launcher.wait(timeout=30)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and "interrupted" in manifest["error"]
    assert live_processes_mentioning(str(out)) == []
