"""Where a Kineto import's CPU goes, step by step, against the floors of reading JSON.

Usage: PYTHONPATH=. python benchmarks/kineto_floor.py TRACE [--sample-mb N] [--cores N]

TRACE is one Kineto file (``.json`` or ``.json.gz``). Its ``traceEvents`` array
is cut into pieces of 16 MB at event boundaries, as the importer cuts it, and
each piece goes through the importer's own steps on one thread, each timed in
CPU seconds of that thread:

- ``orjson.loads`` of the piece: a decode into Python objects, the cheapest JSON
  decode at hand (no columns built, no checks);
- ``read_json`` of the eight fields alone, counted: DuckDB's JSON reader, no
  checks, nothing kept;
- ``READ_SQL``: the eight fields read and checked into the temp table ``_c``;
- ``EVENT_SQL``: the rows of ``events`` (typed args, the args residual, exact ns
  times) into the temp table ``_e``; and, apart, the same without the args
  residual (``json_merge_patch``);
- the INSERT of ``_e`` into ``events`` of a new store, read as an Arrow C stream
  (the writer's share of the import), then its COMMIT.

Then the whole import (``import_paths`` into a new database, every core this
process may use): wall and CPU seconds. The table gives each step's CPU seconds
per GB of JSON and the rate at which ``--cores`` cores would import if that step,
or the steps down to it, were all there was.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracekit import store  # noqa: E402
from tracekit.ingest import kineto_sql  # noqa: E402
from tracekit.ingest.kineto import _EVENTS_KEY, _array_end, _last_cut, open_bytes  # noqa: E402
from tracekit.ingest.kineto_parse import PieceRows, cores  # noqa: E402
from tracekit.ingest.loader import import_paths  # noqa: E402
from tracekit.ingest.stream import INSERT_SQL  # noqa: E402

PIECE = 16 << 20
FIELDS = (
    "{ph: 'VARCHAR', cat: 'VARCHAR', name: 'VARCHAR', pid: 'JSON', tid: 'JSON', "
    "ts: 'JSON', dur: 'JSON', args: 'JSON'}"
)
RESIDUAL = (
    "nullif(json_merge_patch(coalesce(args, '{}'), '" + kineto_sql._DROP_TYPED + "'), '{}') AS args"
)


def pieces(path: Path, sample: int | None) -> tuple[list[bytes], float]:
    """The array's pieces (about PIECE bytes each) and the CPU seconds of reading them."""
    c0 = time.process_time()
    fh, raw = open_bytes(path)
    with raw, fh:
        data = fh.read() if sample is None else fh.read(sample + (1 << 20))
    read_cpu = time.process_time() - c0
    start = _EVENTS_KEY.search(data[: 64 << 20]).end()
    stop = len(data) if sample is not None else _array_end(path, data, len(data))[0]
    out = []
    while start < stop:
        end = start + PIECE
        cut = _last_cut(data[: end + (1 << 20)], end) if end < stop else None
        if cut is None:
            if sample is None:  # the rest of the array
                out.append(data[start:stop])
            break
        out.append(data[start : cut.start() + 1])
        start = cut.end()
    return out, read_cpu


def step(
    totals: dict[str, float], name: str, con: duckdb.DuckDBPyConnection, sql: str, **p: object
) -> None:
    c0 = time.thread_time()
    con.execute(sql, p or None)
    totals[name] = totals.get(name, 0.0) + time.thread_time() - c0


def measure_steps(chunks: list[bytes], work: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    parse = duckdb.connect(config={"threads": 1, "arrow_lossless_conversion": True})
    piece = work / "piece.json"
    db = work / "steps.duckdb"
    with store.open(db, read_only=False, create=True) as writer:
        writer.execute("SET threads = 1")
        writer.execute("SET preserve_insertion_order = false")
        writer.execute("SET arrow_lossless_conversion = true")
        for body in chunks:
            c0 = time.thread_time()
            orjson.loads(b"[" + body + b"]")
            totals["orjson.loads"] = totals.get("orjson.loads", 0.0) + time.thread_time() - c0
            piece.write_bytes(b"[" + body + b"]")
            p = {"path": str(piece), "max_object": len(body) + 64}
            read = (
                "SELECT count(*) FROM read_json($path, format = 'array', "
                f"columns = {FIELDS}, maximum_object_size = $max_object)"
            )
            step(totals, "read_json, 8 fields, counted", parse, read, **p)
            step(totals, "READ_SQL (read, check, keep)", parse, kineto_sql.READ_SQL, **p)
            step(totals, "EVENT_SQL", parse, kineto_sql.EVENT_SQL, base=0)
            no_residual = kineto_sql.EVENT_SQL.replace(RESIDUAL, "NULL::JSON AS args")
            step(totals, "  EVENT_SQL without the args residual", parse, no_residual, base=0)
            step(totals, "EVENT_SQL", parse, kineto_sql.EVENT_SQL, base=0)
            c0 = time.thread_time()
            writer.register("_chunk", PieceRows(parse).__arrow_c_stream__())
            writer.execute(INSERT_SQL, {"trace_id": 0, "offset": 0})
            writer.unregister("_chunk")
            totals["INSERT into events"] = (
                totals.get("INSERT into events", 0.0) + time.thread_time() - c0
            )
        c0 = time.thread_time()
    totals["COMMIT"] = time.thread_time() - c0
    totals["EVENT_SQL"] /= 2  # run twice, around the variant, to keep `_e` the real rows
    parse.close()
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("--sample-mb", type=int, help="only the first N MB of the array")
    ap.add_argument("--cores", type=int, default=cores(), help="cores for the rates")
    args = ap.parse_args()
    sample = args.sample_mb << 20 if args.sample_mb else None
    chunks, read_cpu = pieces(args.trace, sample)
    gb = sum(len(c) for c in chunks) / 2**30
    print(
        f"{args.trace}: {len(chunks)} pieces, {gb * 1024:.1f} MB of events; "
        f"load {os.getloadavg()[0]:.1f}; {args.cores} cores for the rates"
    )
    with tempfile.TemporaryDirectory() as tmp:
        totals = measure_steps(chunks, Path(tmp))
        order = [
            "orjson.loads",
            "read_json, 8 fields, counted",
            "READ_SQL (read, check, keep)",
            "EVENT_SQL",
            "  EVENT_SQL without the args residual",
            "INSERT into events",
            "COMMIT",
        ]
        print(f"{'step (one thread)':40s} {'CPU s/GB':>9s} {'MB/s on cores':>14s}")
        print(f"{'reading the file (inflate)':40s} {read_cpu / gb:9.2f}")
        for name in order:
            per_gb = totals[name] / gb
            print(f"{name:40s} {per_gb:9.2f} {1024 * args.cores / per_gb:14.0f}")
        chain = sum(
            totals[n] for n in ("READ_SQL (read, check, keep)", "EVENT_SQL", "INSERT into events")
        )
        per_gb = (chain + totals["COMMIT"]) / gb
        print(
            f"{'READ_SQL + EVENT_SQL + INSERT + COMMIT':40s} {per_gb:9.2f} "
            f"{1024 * args.cores / per_gb:14.0f}"
        )
        if sample is None:
            db = Path(tmp) / "whole.duckdb"
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            w0 = time.perf_counter()
            import_paths(db, [args.trace])
            wall = time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
            print(
                f"whole import (import_paths): {wall:.2f} s wall, {cpu:.2f} CPU s "
                f"= {cpu / gb:.2f} CPU s/GB, {gb * 1024 / wall:.0f} MB/s"
            )


if __name__ == "__main__":
    main()
