"""End to end under a stand-in `nsys` on PATH: reports per rank, the SQLite
export next to each, and the manifest pointing at both."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tracekit.collect.manifest import Manifest
from tracekit.collect.runner import CollectSpec, collect, resolve_shape
from tracekit.collect.wrap import wrap

FAKE_NSYS = """#!{python}
import os, re, subprocess, sys
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
    open(out, "w").write("sqlite of " + args[-1])
    sys.exit(0)
i = args.index("-o")
stem = re.sub(r"%q\\{{(\\w+)\\}}", lambda m: os.environ.get(m.group(1), ""), args[i + 1])
cmd = args[i + 3:]
code = subprocess.call(cmd)
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
