""".nsys-rep reports: exported with `nsys export` when nsys is installed, else a clear error."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import duckdb
import pytest

from tests.ingest.nsys_export import two_process_export
from tracekit.collect import nsys_cmd
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths


def test_export_command() -> None:
    command = nsys_cmd.export_argv(Path("/d/r.nsys-rep"), "/opt/nsys", output=Path("/c/x.sqlite"))
    assert command == [
        "/opt/nsys",
        "export",
        "--type",
        "sqlite",
        "--include-blobs=true",
        "--force-overwrite=true",
        "--output",
        "/c/x.sqlite",
        "/d/r.nsys-rep",
    ]


def test_missing_nsys_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(nsys_cmd, "NSYS_DIRS", (str(tmp_path / "none*"),))
    report = tmp_path / "rank0.nsys-rep"
    report.write_bytes(b"not really a report")
    with pytest.raises(InputError, match="needs Nsight Systems' `nsys`") as err:
        import_paths(tmp_path / "t.duckdb", [report])
    assert "nsys export --type sqlite --include-blobs=true --output rank0.sqlite" in str(err.value)


def test_report_exported_through_nsys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in `nsys` on PATH writes the export; the import reads it from the cache."""
    made = two_process_export().write(tmp_path / "made.sqlite")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nsys"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        "args = sys.argv[1:]\n"
        "open(sys.argv[0] + '.args', 'w').write(' '.join(args))\n"
        f"shutil.copy({str(made)!r}, args[args.index('--output') + 1])\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    report = tmp_path / "job.nsys-rep"
    report.write_bytes(b"report bytes")
    db = tmp_path / "t.duckdb"
    import_paths(db, [report], rank_map=["job.nsys-rep:100=0,200=1"])
    args = (bin_dir / "nsys.args").read_text()
    assert args.startswith("export --type sqlite --include-blobs=true")
    assert args.endswith(str(report))
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), min(path) FROM traces").fetchall() == [(2, str(report))]
    assert list((tmp_path / "cache" / "tracekit" / "nsys").glob("*.sqlite"))
