"""benchmarks/gpu_check.py, the one-command GPU check: its gloo mode runs the same
collect → import → checks on this CPU host, and its dry run shows the GPU commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_check  # noqa: E402


def test_dry_run_prints_the_shared_gpu_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")  # no nsys: the Nsight half is left out, and said so
    assert gpu_check.main(["--out", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "nsys not found: the Nsight Systems half is left out"
    env = "TRACEKIT_SHARE_GPUS=1 NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 tracekit collect"
    layouts = [line.split(" --profiler")[0].removeprefix(env) for line in lines[1:4]]
    assert layouts == [" --tp 1 --pp 1", " --tp 2 --pp 1", " --tp 1 --pp 2"]
    assert all("--device cuda" in line and "--profiler torch" in line for line in lines[1:4])
    assert lines[4] == f"tracekit import {tmp_path} --db {tmp_path / 'check.duckdb'}"


def test_plan_adds_the_nsys_runs_on_gpu_hosts_only() -> None:
    names = [r.name for r in gpu_check.plan(cpu=False, nsys=True)]
    assert names == ["tp1", "tp2", "pp2", "tp1-nsys", "tp2-nsys", "pp2-nsys"]
    assert [r.profiler for r in gpu_check.plan(cpu=True, nsys=True)] == ["torch"] * 3


@pytest.mark.slow
def test_gloo_mode_collects_imports_and_passes_every_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    assert gpu_check.main(["--out", str(tmp_path / "check"), "--cpu"]) == 0
    out = capsys.readouterr().out
    assert "11 of 11 checks passed" in out
    assert "ok   tp2  layer labels on all-reduces: per rank [32, 32], expected 32 each" in out
    assert "ok   pp2  pipeline pairs complete: 12 send/recv instances, 0 incomplete" in out
    assert "FAIL" not in out
