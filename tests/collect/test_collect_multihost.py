"""Runs started by another launcher: env detection as a unit, then a real
torchrun-style run where each process is `tracekit collect` as one rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracekit
from tests.collect.collect_traces import comm_per_step, expected_comm
from tracekit.collect.launch_env import RankEnv, detect_rank_env
from tracekit.collect.runner import free_port
from tracekit.errors import TracekitError


def test_torchrun_variables_are_read() -> None:
    env = {
        "RANK": "3",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "LOCAL_WORLD_SIZE": "2",
        "MASTER_ADDR": "node0",
        "MASTER_PORT": "1234",
    }
    assert detect_rank_env(env) == RankEnv("torchrun", 3, 8, 1, 2, "node0", 1234)


def test_slurm_variables_are_read_with_the_default_port() -> None:
    env = {
        "SLURM_PROCID": "5",
        "SLURM_NTASKS": "8",
        "SLURM_LOCALID": "1",
        "SLURM_NTASKS_PER_NODE": "4(x2)",
        "SLURM_STEP_ID": "0",
        "MASTER_ADDR": "gpu01",
    }
    got = detect_rank_env(env)
    assert got == RankEnv("slurm", 5, 8, 1, None, "gpu01", 29500)
    assert got.worker_env() == {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "gpu01",
        "MASTER_PORT": "29500",
    }


def test_open_mpi_and_mpich_variables_are_read() -> None:
    ompi = {
        "OMPI_COMM_WORLD_RANK": "2",
        "OMPI_COMM_WORLD_SIZE": "4",
        "OMPI_COMM_WORLD_LOCAL_RANK": "0",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
        "MASTER_ADDR": "h0",
        "MASTER_PORT": "777",
    }
    assert detect_rank_env(ompi) == RankEnv("mpi", 2, 4, 0, 2, "h0", 777)
    mpich = {"PMI_RANK": "1", "PMI_SIZE": "2", "MASTER_ADDR": "h0"}
    assert detect_rank_env(mpich) == RankEnv("mpi", 1, 2, None, None, "h0", 29500)
    assert "LOCAL_RANK" not in detect_rank_env(mpich).worker_env()  # not guessed as 0


def test_torchrun_variables_win_over_slurm_ones() -> None:
    env = {"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
    env["MASTER_ADDR"] = "a"
    assert detect_rank_env(env).launcher == "torchrun"


def test_no_launcher_or_a_single_task_means_spawn_locally() -> None:
    assert detect_rank_env({}) is None
    assert detect_rank_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) is None
    assert detect_rank_env({"RANK": "x", "WORLD_SIZE": "2"}) is None


def test_missing_master_addr_is_explained() -> None:
    with pytest.raises(TracekitError, match="MASTER_ADDR is not set") as info:
        detect_rank_env({"SLURM_PROCID": "1", "SLURM_NTASKS": "4", "SLURM_STEP_ID": "0"})
    assert "scontrol show hostnames" in info.value.hint


def test_a_slurm_batch_step_of_several_tasks_outside_srun_is_refused() -> None:
    """Issue 14 item 13: it used to wait 10 minutes in init for ranks that never start."""
    batch = {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "7", "MASTER_ADDR": "a"}
    with pytest.raises(TracekitError, match="not started by srun") as info:
        detect_rank_env(batch)
    assert "srun tracekit collect" in info.value.hint


@pytest.mark.slow
def test_each_process_runs_as_one_rank_and_rank0_writes_the_manifest(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "torchrun"
    port = str(free_port())
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    args = ["collect", "--tp", "2", "--pp", "1", "--gen-len", "3", "--timeout", "120"]
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": root,
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
        }
        code = "from tracekit.cli import main; main()"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code, *args, "--out", str(out)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    outputs = [p.communicate(timeout=180)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["launcher"] == "torchrun"
    assert [r["host"] for r in manifest["ranks"]] == [os.uname().nodename] * 2
    assert manifest["command"].startswith("tracekit collect --tp 2")
    for row in manifest["ranks"]:
        measured = comm_per_step(out / row["trace"])
        assert measured[1] == expected_comm(manifest, row["rank"], 1)
