"""Kernel rows per second of the nsys importer on a synthetic export.

Usage: PYTHONPATH=.:tests/ingest python benchmarks/nsys_import.py [KERNELS]

Writes an export with KERNELS kernels (default 1,000,000), each with its
launching runtime call, in two processes, plus one NVTX range per 10 kernels;
then times the reader alone (SQLite -> Arrow -> DuckDB shaping -> chunks) and
a whole `import_paths` into a fresh database.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from nsys_export import synthetic_export

from tracekit.ingest.discover import Source
from tracekit.ingest.loader import import_paths
from tracekit.ingest.nsys import read_nsys
from tracekit.ingest.nsys_env import parse_rank_map


def main(kernels: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_export(Path(tmp) / "big.sqlite", kernels)
        rank_map = parse_rank_map(["100=0,200=1"])
        start = time.perf_counter()
        rows = 0
        for trace in read_nsys(
            Source(path, "nsys", "big", None), "x", lambda _: None, rank_map=rank_map
        ):
            rows += sum(events.num_rows for events, _threads in trace.chunks)
        reader_s = time.perf_counter() - start
        start = time.perf_counter()
        import_paths(Path(tmp) / "t.duckdb", [path], rank_map=["100=0,200=1"])
        import_s = time.perf_counter() - start
    print(f"{kernels:,} kernels, {rows:,} events")
    print(f"reader: {reader_s:.2f} s = {kernels / reader_s / 1e6:.2f} M kernel rows/s")
    print(f"import: {import_s:.2f} s = {kernels / import_s / 1e6:.2f} M kernel rows/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
