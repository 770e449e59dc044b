"""End to end under a stand-in `nsys` on PATH: reports per rank, the SQLite
export next to each, and the manifest pointing at both. The stand-in behaves like
nsys where tracekit depends on it: it launches the app as its child, forwards
SIGTERM/SIGINT to it (nsys stops the app on Ctrl-C), and writes the report after
the app exits, taking ``FAKE_NSYS_WRITE_S`` seconds; ``nsys export`` takes
``FAKE_NSYS_EXPORT_S``."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import tracekit
from tests.collect.collect_traces import live_processes_mentioning
from tracekit.collect.manifest import Manifest
from tracekit.collect.runner import CollectSpec, collect, free_port, resolve_shape
from tracekit.collect.wrap import wrap
from tracekit.errors import TracekitError

SERVER = "import time; print('serving', flush=True); time.sleep(600)"
"""An app that runs until it is stopped, as `vllm serve` does."""

FAKE_NSYS = """#!{python}
import os, re, signal, subprocess, sys, time
args = sys.argv[1:]
blobs = os.environ.get("FAKE_NSYS_BLOBS", "1") == "1"  # 0: an nsys whose export has no blobs
if args == ["--version"]:
    print("NVIDIA Nsight Systems version 2099.1.1-fake")
    sys.exit(0)
if args == ["export", "--help"]:
    print("--type <arg>  --force-overwrite <arg>" + ("  --include-blobs <arg>" if blobs else ""))
    sys.exit(0)
if args[0] == "export":
    if not blobs and any(a.startswith("--include-blobs") for a in args):
        sys.exit("unrecognised option --include-blobs")
    open(os.environ.get("FAKE_NSYS_CALLS", os.devnull), "a").write(" ".join(args) + "\\n")
    out = args[args.index("--output") + 1]
    time.sleep(float(os.environ.get("FAKE_NSYS_EXPORT_S", "0")))
    open(out, "w").write("sqlite of " + args[-1])
    sys.exit(0)
i = args.index("-o")
stem = re.sub(r"%q\\{{(\\w+)\\}}", lambda m: os.environ.get(m.group(1), ""), args[i + 1])
cmd = args[i + 3:]
app = subprocess.Popen(cmd)
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda signum, frame: app.send_signal(signum))
code = app.wait()
time.sleep(float(os.environ.get("FAKE_NSYS_WRITE_S", "0")))
open(stem + ".nsys-rep", "w").write(" ".join(args[: i + 3]))
sys.exit(code)
"""


@pytest.fixture
def fake_nsys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nsys = bin_dir / "nsys"
    nsys.write_text(FAKE_NSYS.format(python=sys.executable))
    nsys.chmod(nsys.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return nsys


def test_wrapping_a_plain_command_gives_one_report_and_its_export(
    tmp_path: Path, fake_nsys: Path
) -> None:
    out = tmp_path / "wrapped"
    cmd = [sys.executable, "-c", "print('hello from the app')"]
    result = wrap(cmd, out, command_line=["tracekit", "collect", "--nsys"], timeout_s=60)
    assert (out / "rank0.log").read_text().strip() == "hello from the app"
    assert "--trace-fork-before-exec=true" in (out / "rank0.nsys-rep").read_text()
    assert (out / "rank0.sqlite").read_text().endswith("rank0.nsys-rep")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == result.manifest.to_json()
    assert Manifest.read(out / "manifest.json") == result.manifest
    assert manifest["mode"] == "wrap" and manifest["complete"] is True
    assert manifest["ranks"][0]["nsys_rep"] == "rank0.nsys-rep"
    assert manifest["ranks"][0]["nsys_sqlite"] == "rank0.sqlite"


@pytest.mark.slow
def test_nsys_mode_writes_a_report_and_export_per_rank(tmp_path: Path, fake_nsys: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "nsys"
    shape = resolve_shape("tiny", None, {})
    workload = CollectSpec(tp=2, pp=1, shape=shape, gen_len=2, profiler="both")
    manifest = collect(workload, out, command_line=["t"], timeout_s=120).manifest.to_json()
    assert manifest["complete"] is True
    for row in manifest["ranks"]:
        report = (out / row["nsys_rep"]).read_text()
        assert "--capture-range=cudaProfilerApi" in report
        assert row["nsys_sqlite"] == f"rank{row['rank']}.sqlite"
        assert (out / row["nsys_sqlite"]).exists()
        assert (out / row["trace"]).exists()
    assert manifest["versions"]["nsys_export"] == "--type sqlite --include-blobs=true"


def test_an_nsys_without_include_blobs_still_exports_and_says_so(
    tmp_path: Path, fake_nsys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 12: the flag is probed, the export runs without it, the
    manifest records which."""
    monkeypatch.setenv("FAKE_NSYS_BLOBS", "0")
    monkeypatch.setenv("FAKE_NSYS_CALLS", str(tmp_path / "calls"))
    out = tmp_path / "w"
    result = wrap([sys.executable, "-c", "print('app')"], out, command_line=["t"], timeout_s=60)
    assert result.manifest.versions.nsys_export == "--type sqlite (no blobs: not in this nsys)"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        f"export --type sqlite --force-overwrite=true --output {out}/rank0.sqlite "
        f"{out}/rank0.nsys-rep"
    ]
    assert result.manifest.ranks[0].nsys_sqlite == "rank0.sqlite"


def test_a_timeout_stops_the_app_first_and_nsys_keeps_its_report(
    tmp_path: Path, fake_nsys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 11: nsys takes 4 s to write after its app stops; it used to get
    SIGTERM with the app and SIGKILL 3 s later, so the report was lost."""
    monkeypatch.setenv("FAKE_NSYS_WRITE_S", "4")
    out = tmp_path / "server"
    with pytest.raises(TracekitError, match="timeout"):
        wrap([sys.executable, "-c", SERVER], out, command_line=["t"], timeout_s=2)
    assert "--trace-fork-before-exec=true" in (out / "rank0.nsys-rep").read_text()
    assert (out / "rank0.sqlite").read_text().endswith("rank0.nsys-rep")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and "timeout" in manifest["error"]
    assert manifest["ranks"][0]["nsys_sqlite"] == "rank0.sqlite"
    assert live_processes_mentioning(str(out)) == []


def test_ctrl_c_ends_a_wrapped_server_run_with_its_report_exported(
    tmp_path: Path, fake_nsys: Path
) -> None:
    """Stopping is how a wrapped server run ends: the CLI gets SIGINT, the app is
    stopped, nsys writes its report, tracekit exports it and writes the manifest."""
    out = tmp_path / "ctrl_c"
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root, "FAKE_NSYS_WRITE_S": "4"}
    args = ["collect", "--nsys", "--out", str(out), "--", sys.executable, "-c", SERVER]
    launcher = subprocess.Popen(
        [sys.executable, "-c", "from tracekit.cli import main; main()", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    log = out / "rank0.log"
    while not (log.exists() and "serving" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=60) == 130
    assert (out / "rank0.sqlite").read_text().endswith("rank0.nsys-rep")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and "interrupted" in manifest["error"]
    assert manifest["ranks"][0]["nsys_sqlite"] == "rank0.sqlite"
    assert live_processes_mentioning(str(out)) == []


@pytest.mark.slow
def test_a_hung_workload_run_is_stopped_and_every_rank_keeps_its_report(
    tmp_path: Path, fake_nsys: Path
) -> None:
    """Issue 14 item 11 in a workload run: rank 1 hangs, rank 0 waits in a collective,
    the timeout stops both; each nsys takes 4 s to write (past the old SIGKILL at 3 s)
    and both reports are kept and exported."""
    pytest.importorskip("torch")
    out = tmp_path / "nsys_hang"
    workload = CollectSpec(tp=2, pp=1, shape=resolve_shape("tiny", None, {}), gen_len=2)
    env = {**os.environ, "TRACEKIT_COLLECT_FAULT": "1:hang", "FAKE_NSYS_WRITE_S": "4"}
    with pytest.raises(TracekitError, match="timeout"):
        collect(replace(workload, profiler="both"), out, command_line=["t"], timeout_s=15, env=env)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    for rank in (0, 1):
        assert "--capture-range=cudaProfilerApi" in (out / f"rank{rank}.nsys-rep").read_text()
        assert manifest["ranks"][rank]["nsys_sqlite"] == f"rank{rank}.sqlite"
    assert live_processes_mentioning(str(out)) == []


def launch_ranks(
    out: Path, args: list[str], envs: list[dict[str, str]]
) -> list[subprocess.CompletedProcess]:
    """One `tracekit collect --out OUT ARGS` process per rank, each with its
    launcher variables (as torchrun or srun would start them)."""
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from tracekit.cli import main; main()",
                "collect",
                "--out",
                str(out),
                *args,
            ],
            env={**os.environ, "PYTHONPATH": root, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for env in envs
    ]
    return [
        subprocess.CompletedProcess(p.args, p.wait(timeout=180), p.communicate()[0], None)
        for p in procs
    ]


@pytest.mark.slow
def test_rank0_writes_the_manifest_after_a_slow_rank_has_exported(
    tmp_path: Path, fake_nsys: Path
) -> None:
    """Issue 14 item 13: under torchrun each rank exports its own report; rank 1's export
    takes 4 s. Rank 0 used to write the manifest at once, with rank 1's export missing."""
    pytest.importorskip("torch")
    out = tmp_path / "torchrun"
    port = str(free_port())
    envs = [
        {
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "FAKE_NSYS_EXPORT_S": "4" if rank == 1 else "0",
        }
        for rank in range(2)
    ]
    args = ["--tp", "2", "--gen-len", "2", "--profiler", "both", "--timeout", "120"]
    done = launch_ranks(out, args, envs)
    assert [d.returncode for d in done] == [0, 0], [d.stdout for d in done]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True, manifest["error"]
    assert [r["nsys_sqlite"] for r in manifest["ranks"]] == ["rank0.sqlite", "rank1.sqlite"]
    assert (out / "rank1.sqlite").read_text().endswith("rank1.nsys-rep")
    assert sorted(p.name for p in out.glob("*.done")) == []


def test_a_rank_that_does_not_finish_in_time_is_named_in_the_manifest(
    tmp_path: Path, fake_nsys: Path
) -> None:
    """srun runs `tracekit collect --nsys` per task; rank 1's app runs 6 s, rank 0 waits
    only 1 s for it: the manifest is incomplete and names rank 1."""
    out = tmp_path / "srun"
    envs = [
        {
            "SLURM_PROCID": str(rank),
            "SLURM_NTASKS": "2",
            "SLURM_LOCALID": str(rank),
            "SLURM_STEP_ID": "0",
            "SLURM_JOB_ID": "77",
            "MASTER_ADDR": "127.0.0.1",
        }
        for rank in range(2)
    ]
    app = "import os, time; time.sleep(6 * int(os.environ['SLURM_PROCID']))"
    args = ["--nsys", "--wait-ranks", "1"]
    done = launch_ranks(out, [*args, "--", sys.executable, "-c", app], envs)
    assert [d.returncode for d in done] == [0, 0], [d.stdout for d in done]
    assert "incomplete" in done[0].stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert manifest["error"].startswith(f"rank 1: no complete trace in {out} after waiting 1 s")
    assert [r["nsys_sqlite"] for r in manifest["ranks"]] == ["rank0.sqlite", None]
    assert (out / "rank1.sqlite").exists() and (out / "rank1.done").exists()
