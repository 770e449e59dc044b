"""Kernel rows per second of the nsys importer on a synthetic export.

Usage: PYTHONPATH=. python benchmarks/nsys_import.py [KERNELS]

Writes an export with KERNELS kernels (default 1,000,000), each with its
launching runtime call, in two processes, plus one NVTX range per 10 kernels;
then times the floor (every row of the kernel, runtime and NVTX tables read
from SQLite into Arrow by ADBC, as the reader reads them, and nothing else), the
reader alone (SQLite -> Arrow -> DuckDB shaping -> chunks) and a whole
`import_paths` into a fresh database, in wall time and in CPU time of this
process (all its threads), which a busy machine distorts less.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc_sqlite

from tests.ingest.nsys_export import synthetic_export
from tracekit.ingest.discover import Source
from tracekit.ingest.loader import import_paths
from tracekit.ingest.nsys import read_nsys

FLOOR_TABLES = ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_RUNTIME", "NVTX_EVENTS")


def main(kernels: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_export(Path(tmp) / "big.sqlite", kernels)
        start, cpu = time.perf_counter(), time.process_time()
        with adbc_sqlite.connect(f"file:{path}?mode=ro") as con, con.cursor() as cur:
            for table in FLOOR_TABLES:
                cur.execute(f"SELECT * FROM {table}")
                cur.fetch_arrow_table()
        floor = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        rows = 0
        for trace in read_nsys(Source(path, "nsys", "big", None), "x", lambda _: None):
            rows += sum(chunk.rows for chunk in trace.chunks)
        reader = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        import_paths(Path(tmp) / "t.duckdb", [path], rank_map=["100=0,200=1"])
        whole = time.perf_counter() - start, time.process_time() - cpu
    print(f"{kernels:,} kernels, {rows:,} events; load average {os.getloadavg()[0]:.1f}")
    for label, (wall, cpu_s) in (("floor", floor), ("reader", reader), ("import", whole)):
        print(
            f"{label}: {wall:.2f} s wall = {kernels / wall / 1e6:.2f} M kernel rows/s; "
            f"{cpu_s:.2f} CPU s = {kernels / cpu_s / 1e6:.2f} M kernel rows per CPU second"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
