"""No planted credential of a Kineto trace's metadata reaches the database or the Parquet dataset.

Every string-bearing place of the metadata gets every known token format
(tests/robustness/planted.py): ``host_name``, ``distributedInfo`` (backend,
NCCL version, process-group names, descriptions and backend configs, a key named
like a secret), ``deviceProperties``, the trace-level keys tracekit keeps
(``traceName`` after the array, ``displayTimeUnit``, ``trace_id``), and the
thread and process names of ``ph: "M"`` events. Every column of every table is
then searched as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import cpu, kernel, write_kineto
from tests.robustness.conftest import tk
from tests.robustness.planted import PLANTED
from tracekit.ingest.kineto import read_kineto

SECRETS = [secret for _fmt, _text, secret in PLANTED]


def _planted_trace(path: Path, rank: int) -> Path:
    texts = [text for _fmt, text, _secret in PLANTED]

    def each(prefix: str) -> list[str]:
        return [f"{prefix} {text}" for text in texts]

    groups: list[dict[str, Any]] = [
        {
            "pg_name": f"pg {text}",
            "pg_desc": f"desc {text}",
            "backend_config": f"cuda:nccl {text}",
            "pg_size": 2,
            "ranks": [0, 1],
        }
        for text in texts
    ]
    groups.append({"pg_name": "0", "pg_desc": "default_pg", "pg_size": 2, "ranks": [0, 1]})
    events = [
        {"ph": "M", "name": "thread_name", "pid": 100, "tid": 100 + i, "args": {"name": name}}
        for i, name in enumerate(each("worker"))
    ]
    events += [
        {"ph": "M", "name": "process_name", "pid": 100 + i, "tid": 0, "args": {"name": name}}
        for i, name in enumerate(each("python"))
    ]
    events += [cpu("aten::mm", 1.0, 2.0), kernel("k", 2.0, 1.0, correlation=1)]
    write_kineto(path, events, rank=rank, extra={"traceName": f"trace {texts[0]}"})
    doc = json.loads(path.read_text())
    doc.update(
        {
            "host_name": f"node-{texts[1]}",
            "displayTimeUnit": texts[2],
            "trace_id": texts[3],
            "schemaVersion": texts[4],
            "deviceProperties": [
                {"id": i, "name": f"NVIDIA H100 {t}"} for i, t in enumerate(texts)
            ],
            "distributedInfo": {
                "backend": f"nccl {texts[5]}",
                "rank": rank,
                "world_size": 2,
                "nccl_version": f"2.21.5 {texts[6]}",
                "pg_config": groups,
                "auth_token": "plainvalue",
                "MASTER_ADDR": texts[7],
            },
        }
    )
    path.write_text(json.dumps(doc))
    return path


def _texts(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    rows = con.execute(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {relation}").fetchall()
    return "\n".join(str(value) for row in rows for value in row)


def _assert_clean(text: str) -> None:
    found = [secret for secret in SECRETS if secret in text]
    assert not found, found
    assert "plainvalue" not in text


def test_no_planted_credential_reaches_any_column_of_any_table_or_the_parquet_dataset(
    tmp_path: Path,
) -> None:
    for rank in (0, 1):
        _planted_trace(tmp_path / "job" / f"rank{rank}.json", rank)
    db, parquet = tmp_path / "job.duckdb", tmp_path / "job.parquet"
    proc = tk("import", tmp_path / "job", "--db", db, "--parquet", parquet)
    assert proc.returncode == 0, proc.stderr

    con = duckdb.connect(str(db), read_only=True)
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    assert {"runs", "traces", "events", "threads"} <= set(tables)
    for table in tables:
        _assert_clean(_texts(con, f'"{table}"'))
    # what is kept, kept: the rank's metadata and the names around the credentials
    traces = con.execute(
        "SELECT rank, world_size, backend, host, gpu_names, source_meta->>'traceName' "
        "FROM traces ORDER BY rank"
    ).fetchall()
    assert [row[:2] for row in traces] == [(0, 2), (1, 2)]
    assert all(row[2] is None and row[3] is None and row[5] is None for row in traces)
    names = [row[0] for row in con.execute("SELECT name FROM threads").fetchall()]
    assert len(names) == 2 * 2 * len(PLANTED)  # every thread and process name, redacted
    assert all(name.startswith(("worker ", "python ")) for name in names)
    assert all("[redacted]" in name for name in names)
    groups = con.execute("SELECT process_groups FROM traces WHERE rank = 0").fetchall()[0][0]
    assert '"default_pg"' in groups
    con.close()

    files = sorted(parquet.rglob("*.parquet"))
    assert files
    con = duckdb.connect()
    for file in files:
        _assert_clean(_texts(con, f"read_parquet('{file}')"))


@pytest.mark.parametrize("key", ["HF_TOKEN", "session_cookie"])
def test_metadata_under_a_secret_name_is_not_kept(tmp_path: Path, key: str) -> None:
    path = write_kineto(
        tmp_path / "t.json",
        [cpu("a", 1.0, 1.0)],
        extra={key: "x", "traceName": "rank0.pt.trace.json"},
    )
    meta, chunks = read_kineto(path)
    list(chunks)
    assert key not in meta
    assert meta["traceName"] == "rank0.pt.trace.json"
