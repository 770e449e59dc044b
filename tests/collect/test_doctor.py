"""``tracekit doctor`` on this CPU host: the real torch (CPU build, gloo), torch
hidden, a stand-in nsys on PATH, and the launch environments it must refuse."""

from __future__ import annotations

import os
import stat
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.collect.test_collect_fake_nsys import FAKE_NSYS
from tests.robustness.conftest import assert_clean_failure, cli, tk

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "PMI_RANK", "PMI_SIZE")


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*LAUNCH_VARS, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


def lines(stdout: str) -> dict[str, str]:
    """The report's `key  value` lines."""
    pairs = (line.split("  ", 1) for line in stdout.splitlines() if "  " in line)
    return {key.strip(): value.strip() for key, value in pairs}


def test_on_this_cpu_host_it_says_cpu_and_gloo_and_exits_0() -> None:
    pytest.importorskip("torch")
    proc = tk("doctor", env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr
    got = lines(proc.stdout)
    assert got["torch"] == version("torch")
    assert got["GPUs visible"] == "0"
    assert got["NCCL"] == "not available"
    assert got["gloo"] == "available"
    assert got["launcher"].startswith("none: tracekit collect spawns")
    assert got["collect would run"].startswith("CPU + gloo, float32")
    assert proc.stdout.strip().endswith("collection can run here")


def test_without_torch_it_exits_2_naming_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hidden = tmp_path / "hide" / "torch"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('torch hidden by the test')\n")
    root = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hidden.parent), root]))
    proc = cli("doctor")
    assert_clean_failure(proc, "PyTorch cannot be imported", "torch hidden by the test", "pip")
    assert "not importable" in lines(proc.stdout)["torch"]


@pytest.mark.parametrize("blobs", ["1", "0"])
def test_a_fake_nsys_on_path_is_found_with_its_version_and_export_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blobs: str
) -> None:
    pytest.importorskip("torch")
    nsys = tmp_path / "bin" / "nsys"
    nsys.parent.mkdir()
    nsys.write_text(FAKE_NSYS.format(python=sys.executable))
    nsys.chmod(nsys.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{nsys.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NSYS_BLOBS", blobs)
    proc = cli("doctor", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    shown = lines(proc.stdout)["nsys"]
    assert shown.startswith(f"{nsys} · NVIDIA Nsight Systems version 2099.1.1-fake")
    assert shown.endswith(
        "export --include-blobs=true" if blobs == "1" else "no --include-blobs (sizes not decoded)"
    )


def test_device_cuda_without_a_gpu_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    proc = cli("doctor", "--device", "cuda")
    assert_clean_failure(proc, "cannot run here", "--device cuda", "no CUDA GPU")


def test_a_slurm_batch_step_outside_srun_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    for name, value in {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "MASTER_ADDR": "a"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    proc = cli("doctor")
    assert_clean_failure(proc, "not started by srun", "srun tracekit collect")
    assert lines(proc.stdout)["launcher"].startswith("refused:")


def test_a_torchrun_rank_is_reported_as_that_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MASTER_PORT", "1234")
    proc = cli("doctor", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert lines(proc.stdout)["launcher"] == (
        "torchrun: this process is rank 3 of 4 (local rank 1), rendezvous node0:1234"
    )
