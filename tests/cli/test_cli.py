"""The CLI end to end, as a user runs it (a real subprocess, a real database file)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cpu, kernel, write_kineto

TRACEKIT = [sys.executable, "-c", "from tracekit.cli import main; main()"]


def tk(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TRACEKIT, *args], input=stdin, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    for rank in (0, 1):
        write_kineto(
            root / "job" / f"rank{rank}.pt.trace.json.gz",
            [
                cpu("aten::mm", 1.0, 2.0),
                kernel("gemm", 10.0, 10.0, correlation=1),
                kernel(
                    "ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)",
                    15.0,
                    10.0,
                    stream=20,
                    correlation=2,
                ),
            ],
            rank=rank,
        )
    out = tk("import", str(root / "job"), "--db", str(root / "t.duckdb"))
    assert out.returncode == 0, out.stderr
    assert "communication ops" in out.stdout and "job" in out.stdout
    return root / "t.duckdb"


def test_help_lists_commands_and_each_has_an_example() -> None:
    out = tk("--help")
    assert out.returncode == 0
    commands = [c for c in ("import", "sql") if c in out.stdout]
    assert commands == ["import", "sql"]
    for command in commands:
        assert "Example: tracekit " + command in tk(command, "--help").stdout


def test_sql_formats(db: Path) -> None:
    query = "SELECT rank, comm_ns, overlap_ns FROM overlap_by_rank ORDER BY rank"
    as_json = json.loads(tk("sql", "--db", str(db), query, "--format", "json").stdout)
    assert as_json == [
        {"rank": 0, "comm_ns": 10000, "overlap_ns": 5000},
        {"rank": 1, "comm_ns": 10000, "overlap_ns": 5000},
    ]
    as_csv = list(
        csv.reader(io.StringIO(tk("sql", "--db", str(db), query, "--format", "csv").stdout))
    )
    assert as_csv == [
        ["rank", "comm_ns", "overlap_ns"],
        ["0", "10000", "5000"],
        ["1", "10000", "5000"],
    ]
    table = tk("sql", "--db", str(db), query).stdout
    assert "10,000" in table and "2 rows" in table


def test_sql_from_stdin_and_file(db: Path, tmp_path: Path) -> None:
    query = "SELECT count(*) AS n FROM comm_ops"
    assert json.loads(tk("sql", "--db", str(db), "--format", "json", stdin=query).stdout) == [
        {"n": 2}
    ]
    (tmp_path / "q.sql").write_text(query)
    out = tk("sql", "--db", str(db), "--file", str(tmp_path / "q.sql"), "--format", "json")
    assert json.loads(out.stdout) == [{"n": 2}]


def test_errors_are_one_block_without_traceback(db: Path, tmp_path: Path) -> None:
    out = tk("sql", "--db", str(db), "SELECT * FROM nope")
    assert out.returncode == 2
    assert "nope" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "bad.json").write_text("{oops")
    out = tk("import", str(tmp_path / "bad.json"), "--db", str(tmp_path / "x.duckdb"))
    assert out.returncode == 2 and "bad.json" in out.stderr and "not valid JSON" in out.stderr
    assert "Traceback" not in out.stderr
    out = tk("--debug", "import", str(tmp_path / "bad.json"), "--db", str(tmp_path / "x.duckdb"))
    assert out.returncode != 0 and "Traceback" in out.stderr
    out = tk("sql", "--db", str(tmp_path / "missing.duckdb"), "SELECT 1")
    assert out.returncode == 2 and "no such database" in out.stderr


def test_database_held_by_another_writer(db: Path, tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        write_kineto(tmp_path / "new" / "rank0.json", [cpu("x", 1.0, 1.0)])
        start = time.monotonic()
        out = tk("import", str(tmp_path / "new"), "--db", str(db))
        assert out.returncode == 2
        assert "in use by another process" in out.stderr and "Traceback" not in out.stderr
        assert time.monotonic() - start < 60
    finally:
        holder.kill()
        holder.wait()
    count = tk("sql", "--db", str(db), "SELECT count(*) AS n FROM traces", "--format", "json")
    assert json.loads(count.stdout) == [{"n": 2}]


def test_rules_add_extends_classification(db: Path, tmp_path: Path) -> None:
    rules = tmp_path / "mine.csv"
    rules.write_text(
        "rule_id,priority,kinds,pattern,library,op,captures,note\n"
        "gemm_as_comm,1,kernel,^gemm$,test,all_reduce,,pretend gemm communicates\n"
    )
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    out = tk("rules", "add", str(rules), "--db", str(copy))
    assert out.returncode == 0 and "added 1 row" in out.stdout
    count = tk("sql", "--db", str(copy), "SELECT count(*) AS n FROM comm_ops", "--format", "json")
    assert json.loads(count.stdout) == [{"n": 4}]
    assert "15 rows" in tk("rules", "list", "--db", str(copy)).stdout
    source = tk(
        "sql",
        "--db",
        str(copy),
        "SELECT source FROM comm_rules WHERE rule_id = 'gemm_as_comm'",
        "--format",
        "json",
    )
    assert json.loads(source.stdout) == [{"source": str(rules.resolve())}]


def test_a_reimport_says_nothing_new_was_imported(tmp_path: Path) -> None:
    for rank in (0, 1):
        write_kineto(tmp_path / "job" / f"rank{rank}.json", [cpu("x", 1.0, 1.0)], rank=rank)
    db = str(tmp_path / "t.duckdb")
    assert tk("import", str(tmp_path / "job"), "--db", db).returncode == 0
    again = tk("import", str(tmp_path / "job"), "--db", db)
    assert again.returncode == 0, again.stderr
    text = " ".join(again.stdout.split())
    assert text.startswith(f"nothing new imported into {db}")
    assert "2 files under" in text and "rank0.json" not in text and "events" not in text
