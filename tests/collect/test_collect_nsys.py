"""The Nsight Systems commands collect builds, and the error without nsys."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tracekit.collect import nsys_cmd
from tracekit.collect.runner import CollectSpec, collect, resolve_shape
from tracekit.collect.wrap import wrap, wrap_commands
from tracekit.errors import TracekitError

FLAGS = (
    "-t cuda,nvtx --cuda-graph-trace=node --trace-fork-before-exec=true "
    "--capture-range=cudaProfilerApi --capture-range-end=stop -s none --cpuctxsw=none"
)


def workload(profiler: str) -> CollectSpec:
    return CollectSpec(tp=2, pp=2, shape=resolve_shape("tiny", None, {}), profiler=profiler)


def test_profile_command_has_the_reference_flags() -> None:
    argv = nsys_cmd.profile_argv("/o/rank%q{RANK}", capture_api=True)
    assert shlex.join(argv) == (
        f"nsys profile {FLAGS} -o '/o/rank%q{{RANK}}' --force-overwrite=true"
    )
    whole = nsys_cmd.profile_argv("/o/rank0", capture_api=False)
    assert "--capture-range=cudaProfilerApi" not in whole


def test_export_command_writes_sqlite_with_blobs_next_to_the_report() -> None:
    argv = nsys_cmd.export_argv(Path("/o/rank3.nsys-rep"))
    assert argv == [
        "nsys",
        "export",
        "--type",
        "sqlite",
        "--include-blobs=true",
        "--force-overwrite=true",
        "--output",
        "/o/rank3.sqlite",
        "/o/rank3.nsys-rep",
    ]


def test_dry_run_prints_one_nsys_command_per_rank_without_nsys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    result = collect(workload("nsys"), tmp_path, command_line=["t"], dry_run=True, env={})
    profiles, exports = result.commands[:4], result.commands[4:]
    for rank, line in enumerate(profiles):
        assert line.startswith(f"RANK={rank} WORLD_SIZE=4 LOCAL_RANK={rank} MASTER_ADDR=")
        assert f"nsys profile {FLAGS} -o '{tmp_path}/rank%q{{RANK}}'" in line
        assert "collectors/worker.py --tp 2 --pp 2" in line and "--profiler nsys" in line
        assert line.endswith(f"> {tmp_path}/rank{rank}.log 2>&1")
    assert [e.split()[-1] for e in exports] == [f"{tmp_path}/rank{r}.nsys-rep" for r in range(4)]
    assert list(tmp_path.iterdir()) == []


def test_torch_profiler_commands_have_no_nsys(tmp_path: Path) -> None:
    result = collect(workload("torch"), tmp_path, command_line=["t"], dry_run=True, env={})
    assert len(result.commands) == 4
    assert not any("nsys" in line for line in result.commands)


def test_missing_nsys_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(TracekitError, match="nsys .* is not on PATH") as info:
        collect(workload("both"), tmp_path, command_line=["t"], env={})
    assert "--profiler torch" in info.value.hint
    with pytest.raises(TracekitError, match="not on PATH"):
        wrap(["python", "app.py"], tmp_path, command_line=["t"])


def test_torchrun_gets_nsys_inside_it(tmp_path: Path) -> None:
    cmd = ["torchrun", "--nproc-per-node", "4", "--rdzv-endpoint=h:1", "app.py", "--tp", "4"]
    [rank] = wrap_commands(cmd, tmp_path, capture_api=False, env={}, nsys="nsys")
    profile = shlex.join(nsys_cmd.profile_argv(f"{tmp_path}/rank%q{{RANK}}", capture_api=False))
    expected = (
        f"torchrun --nproc-per-node 4 --rdzv-endpoint=h:1 --no-python {profile} "
        f"{rank.argv[-4]} app.py --tp 4"
    )
    assert shlex.join(rank.argv) == expected
    assert "python" in Path(rank.argv[-4]).name
    assert rank.log == tmp_path / "launch.log"


def test_torchrun_module_and_no_python_forms() -> None:
    profile = ["nsys", "profile"]
    module = nsys_cmd.wrap_torchrun(
        ["torchrun", "--standalone", "-m", "vllm.entry", "--x"], profile, "py"
    )
    assert module == [
        "torchrun",
        "--standalone",
        "--no-python",
        *profile,
        "py",
        "-m",
        "vllm.entry",
        "--x",
    ]
    exe = nsys_cmd.wrap_torchrun(["torchrun", "--no-python", "./bench", "-n", "2"], profile, "py")
    assert exe == ["torchrun", "--no-python", *profile, "./bench", "-n", "2"]
    pyrun = ["python3", "-m", "torch.distributed.run", "--nnodes", "2", "app.py"]
    assert nsys_cmd.is_torchrun(pyrun)
    assert nsys_cmd.wrap_torchrun(pyrun, profile, "python3") == [
        *pyrun[:5],
        "--no-python",
        *profile,
        "python3",
        "app.py",
    ]
    with pytest.raises(TracekitError, match="cannot find the training script"):
        nsys_cmd.wrap_torchrun(["torchrun", "--nnodes", "2"], profile, "py")


def test_a_rank_started_by_srun_wraps_its_own_command(tmp_path: Path) -> None:
    env = {"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_STEP_ID": "0", "MASTER_ADDR": "n0"}
    cmd = ["python", "serve.py"]
    [rank] = wrap_commands(cmd, tmp_path, capture_api=True, env=env, nsys="nsys")
    assert rank.rank == 3
    assert list(rank.argv) == [
        *nsys_cmd.profile_argv(str(tmp_path / "rank3"), capture_api=True),
        "python",
        "serve.py",
    ]
    assert rank.log == tmp_path / "rank3.log"


def test_a_plain_command_is_one_report(tmp_path: Path) -> None:
    [rank] = wrap_commands(["vllm", "serve", "m"], tmp_path, capture_api=False, env={}, nsys="n")
    assert rank.argv[-3:] == ("vllm", "serve", "m")
    assert f"{tmp_path}/rank0" in rank.argv
    with pytest.raises(TracekitError, match="needs a command"):
        wrap_commands([], tmp_path, capture_api=False, env={}, nsys="n")
