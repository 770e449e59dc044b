"""Every real Kineto trace imports into exactly the rows an independent reading gives.

The reference below reads each trace whole with Python's ``json`` module (floats as
exact ``Decimal``) and builds the rows of ``events`` and ``threads`` from the rules
the schema documents (queries/schema/03_events.sql, 04_threads.sql): nothing of
tracekit's streaming reader, its SQL or its cutting into pieces is used. The
imported tables must equal the reference, ``EXCEPT ALL`` both ways, column by
column: exact-ns times, every typed arg, and the ``args`` residual (its expected
text written by ``json.dumps`` and read by DuckDB's ``json()``, so that both sides
spell numbers alike).
"""

from __future__ import annotations

import gzip
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.conftest import REPO, SHARED_TRACES
from tracekit.ingest.loader import import_paths

GPU_KINDS = {"kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation"}
KINDS = {
    "cpu_op": "cpu_op",
    "operator": "cpu_op",
    "user_annotation": "user_annotation",
    "python_function": "python_function",
    "python": "python_function",
    "cuda_runtime": "cuda_runtime",
    "runtime": "cuda_runtime",
    "cuda_driver": "cuda_driver",
    "kernel": "kernel",
    "gpu_kernel": "kernel",
    "gpu_memcpy": "gpu_memcpy",
    "memcpy": "gpu_memcpy",
    "gpu_memset": "gpu_memset",
    "memset": "gpu_memset",
    "gpu_user_annotation": "gpu_user_annotation",
}
# the args that become columns; the rest stays in `args`
TYPED = {
    "External id",
    "correlation",
    "device",
    "stream",
    "Collective name",
    "In msg nelems",
    "Out msg nelems",
    "dtype",
    "Group size",
    "Process Group Name",
    "Process Group Description",
    "Process Group Ranks",
    "Seq",
    "Sequence number",
    "Input Dims",
    "bytes",
}
EVENT_COLUMNS = {
    "event_id": pa.int64(),
    "kind": pa.string(),
    "cat": pa.string(),
    "name": pa.string(),
    "ts_ns": pa.int64(),
    "dur_ns": pa.int64(),
    "pid": pa.int64(),
    "tid": pa.int64(),
    "device": pa.int32(),
    "stream": pa.int64(),
    "correlation": pa.int64(),
    "external_id": pa.int64(),
    "coll_name": pa.string(),
    "in_nelems": pa.int64(),
    "out_nelems": pa.int64(),
    "dtype": pa.string(),
    "group_size": pa.int32(),
    "pg_name": pa.string(),
    "pg_desc": pa.string(),
    "pg_ranks": pa.string(),
    "seq": pa.int64(),
    "input_dims": pa.string(),
    "bytes": pa.int64(),
    "args": pa.string(),
}
JOBS = sorted(
    [f"real/{p.name}" for p in (SHARED_TRACES / "kineto").glob("*") if p.is_dir()]
    + [f"sample/{p.name}" for p in (REPO / "sample_traces").glob("*") if p.is_dir()]
)


def _ns(value: Any) -> int:
    """µs as written (an int or an exact Decimal) in ns, rounded half away from zero."""
    return int((Decimal(value) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(_plain(value), separators=(",", ":"))


def _plain(value: Any) -> Any:
    """Decimals (how the reference reads floats) back to floats, for json.dumps."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _event(number: int, e: dict[str, Any], base: int) -> dict[str, Any]:
    cat, name = e.get("cat"), e.get("name")
    if e["ph"] in ("i", "I"):
        kind = "instant"
    else:
        kind = KINDS.get(cat.lower() if isinstance(cat, str) else "", "other")
    args = e.get("args") or {}
    gpu = kind in GPU_KINDS
    dur = e.get("dur")
    rest = {k: v for k, v in args.items() if k not in TYPED}
    seq = args.get("Seq", args.get("Sequence number"))
    dtype = args.get("dtype")
    if dtype is None and isinstance(name, str) and name.startswith("gloo:"):
        types = args.get("Input type")
        dtype = types[0] if isinstance(types, list) and types else None
    device = _int(args.get("device"))
    stream = _int(args.get("stream"))
    return {
        "event_id": number,
        "kind": kind,
        "cat": cat,
        "name": name,
        "ts_ns": base + _ns(e["ts"]),
        "dur_ns": max(_ns(dur), 0) if dur is not None else 0,
        "pid": None if gpu else _int(e.get("pid")),
        "tid": None if gpu else _int(e.get("tid")),
        "device": (device if device is not None else _int(e.get("pid"))) if gpu else None,
        "stream": (stream if stream is not None else _int(e.get("tid"))) if gpu else None,
        "correlation": _int(args.get("correlation")),
        "external_id": _int(args.get("External id")),
        "coll_name": _text(args.get("Collective name")),
        "in_nelems": _int(args.get("In msg nelems")),
        "out_nelems": _int(args.get("Out msg nelems")),
        "dtype": _text(dtype),
        "group_size": _int(args.get("Group size")),
        "pg_name": _text(args.get("Process Group Name")),
        "pg_desc": _text(args.get("Process Group Description")),
        "pg_ranks": _text(args.get("Process Group Ranks")),
        "seq": _int(seq),
        "input_dims": _text(args.get("Input Dims")),
        "bytes": _int(args.get("bytes")),
        "args": json.dumps(_plain(rest)) if rest else None,
    }


def _reference(path: Path) -> tuple[list[dict[str, Any]], set[tuple[Any, ...]]]:
    """(events with absolute ns times, thread rows) of one trace, from the whole document."""
    with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as fh:
        doc = json.load(fh, parse_float=Decimal)
    base = doc.get("baseTimeNanoseconds") or 0
    events, threads = [], set()
    for number, e in enumerate(doc["traceEvents"]):
        ph = e.get("ph")
        if ph in ("X", "i", "I") and e.get("ts") is not None:
            events.append(_event(number, e, base))
        elif ph == "M" and e.get("name") in ("thread_name", "process_name"):
            label = (e.get("args") or {}).get("name")
            if label is not None:
                tid = _int(e.get("tid")) if e["name"] == "thread_name" else None
                threads.add((_int(e.get("pid")), tid, _text(label)))
    return events, threads


def _folder(job: str) -> Path:
    kind, name = job.split("/")
    return SHARED_TRACES / "kineto" / name if kind == "real" else REPO / "sample_traces" / name


@pytest.mark.parametrize("job", JOBS)
def test_imported_tables_equal_an_independent_reading(
    job: str, shared_traces: Path, tmp_path: Path
) -> None:
    db = tmp_path / "job.duckdb"
    import_paths(db, [_folder(job)])
    con = duckdb.connect(str(db), read_only=True)
    traces = con.execute("SELECT trace_id, path, time_offset_ns FROM traces").fetchall()
    expected: list[dict[str, Any]] = []
    expected_threads: list[tuple[Any, ...]] = []
    for trace_id, path, offset in traces:
        events, threads = _reference(Path(path))
        for row in events:
            row["ts_ns"] -= offset
            row["trace_id"] = trace_id
        expected += events
        expected_threads += [(trace_id, *row) for row in threads]
    assert expected and len(traces) == len(list(_folder(job).glob("*.json.gz")))
    schema = pa.schema({"trace_id": pa.int32(), **EVENT_COLUMNS})
    want = pa.Table.from_pylist(expected, schema=schema)  # noqa: F841 - read by the SQL
    columns = ", ".join(["trace_id", *EVENT_COLUMNS])
    stored = f"SELECT {columns} FROM events"
    reference = (
        f"SELECT {columns} FROM (SELECT * REPLACE (json(input_dims) AS input_dims, "
        "json(args) AS args) FROM want)"
    )
    missing = con.execute(f"{reference} EXCEPT ALL {stored}").fetchall()
    extra = con.execute(f"{stored} EXCEPT ALL {reference}").fetchall()
    assert (missing[:3], extra[:3]) == ([], [])
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == len(expected)
    assert con.execute("SELECT count(*) FROM events WHERE short_name IS NOT NULL").fetchone() == (
        0,
    )
    stored_threads = con.execute("SELECT trace_id, pid, tid, name FROM threads").fetchall()
    con.close()
    assert sorted(stored_threads, key=repr) == sorted(expected_threads, key=repr)
