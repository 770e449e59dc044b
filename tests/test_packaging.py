"""The wheel carries the SQL and the collectors, and works outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, cpu, write_kineto


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    return next(out.glob("tracekit-*.whl"))


def test_wheel_ships_queries_and_collectors(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for sql in (REPO / "queries").rglob("*.sql"):
        assert f"tracekit/queries/{sql.relative_to(REPO / 'queries')}" in names
    assert "tracekit/queries/rules/comm_rules.csv" in names
    assert any(n.startswith("tracekit/collectors/") for n in names)


def test_installed_wheel_imports_and_queries_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = [sys.executable, "-c", "from tracekit.cli import main; main()"]
    write_kineto(tmp_path / "job" / "rank0.json", [cpu("aten::mm", 1.0, 1.0)])
    where = subprocess.run(
        [sys.executable, "-c", "from tracekit.resources import queries_dir; print(queries_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(site / "tracekit" / "queries")
    assert subprocess.run([*run, "--help"], cwd=tmp_path, env=env).returncode == 0
    imported = subprocess.run(
        [*run, "import", "job", "--db", "t.duckdb", "--quiet"], cwd=tmp_path, env=env
    )
    assert imported.returncode == 0
    out = subprocess.run(
        [
            *run,
            "sql",
            "--db",
            "t.duckdb",
            "SELECT count(*) FROM overlap_by_rank",
            "--format",
            "csv",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.stdout.splitlines() == ["count_star()", "1"]
