"""A rank that crashes, hangs or is killed fails the collection cleanly: the message
names the rank that failed first and its log, the manifest says incomplete, no process
survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tracekit
from tests.collect.collect_traces import live_processes_mentioning, rank_process
from tracekit.collect.runner import CollectSpec, collect, resolve_shape
from tracekit.collect.supervise import FAILURE_MARK, RankCommand, RankGroup
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


def test_a_killed_rank_is_blamed_not_the_peer_that_failed_after_it(tmp_path: Path) -> None:
    """Rank 0 is SIGKILLed (as the OOM killer does) once the group is up; rank 1 then
    fails in gloo with a Python error of its own. The error and the manifest name rank 0."""
    out = tmp_path / "killed"
    killed: list[int] = []

    def kill_rank_0() -> None:
        deadline = time.monotonic() + 120
        log = out / "rank0.log"
        while time.monotonic() < deadline:
            if log.exists() and "injects a hang" in log.read_text(errors="replace"):
                pid = rank_process(out, 0)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_rank_0)
    killer.start()
    error = run_with_fault(out, "0:hang", timeout_s=120)
    killer.join()
    assert killed, "rank 0 never reached its fault"
    blamed = f"rank 0 was killed by SIGKILL (signal 9); see its log {out / 'rank0.log'}"
    assert error.message.startswith(f"collection failed: {blamed}; after it, rank 1 ")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert manifest["error"].startswith(blamed), manifest["error"]
    assert "rank 1 failed at" in (out / "rank1.log").read_text()
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


def test_a_silent_death_is_blamed_before_the_failure_lines_it_causes(tmp_path: Path) -> None:
    """Without torch: rank 1 dies of SIGKILL, rank 0 then prints the worker's failure
    line and exits 1 (as a gloo peer does). Rank 1 is the cause, rank 0 follows it."""
    mark = f"print({FAILURE_MARK!r}.format(rank=0, time=time.time()), flush=True)"
    peer = f"import time; time.sleep(0.5); {mark}; raise SystemExit(1)"
    dying = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    commands = [
        RankCommand(0, (sys.executable, "-c", peer), {}, tmp_path / "rank0.log"),
        RankCommand(1, (sys.executable, "-c", dying), {}, tmp_path / "rank1.log"),
    ]
    failure = RankGroup(commands, os.environ).wait(timeout_s=60)
    assert "rank 0 failed at" in (tmp_path / "rank0.log").read_text()
    assert failure is not None
    assert (failure.rank, failure.reason) == (1, "was killed by SIGKILL (signal 9)")
    assert failure.followers == ("rank 0 failed (exit code 1)",)
    assert failure.message() == (
        f"rank 1 was killed by SIGKILL (signal 9); see its log {tmp_path / 'rank1.log'}; "
        "after it, rank 0 failed (exit code 1)"
    )
