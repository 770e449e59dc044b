"""Benchmark: tracekit's views on Spark (local mode) and on DuckDB over the same Parquet
dataset of a synthetic job (benchmarks/synth.py, default 64 ranks).

Steps: synthesize one Kineto trace per rank (skipped when OUT/traces exists), convert
them as `tracekit import --parquet` does (convert_run), then per view
- DuckDB (`store.open(parquet=...)`): the view's rows fetched, from the files (wall and
  CPU seconds of this process, DuckDB's threads included);
- Spark (`--master`, default local[2]): each view registered in creation order, the views
  that others read computed and kept as they are registered (tracekit.spark.kept_views),
  then each asked-for view's rows collected; wall and JVM CPU seconds per step, and
  `--explain` prints the keys each view's exchanges (shuffles) partition by.

Run: python benchmarks/spark_bench.py [--ranks 64] [--layers 16] [--steps 8] [--out DIR]
     [--master local[2]] [--explain]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402  (benchmarks/ is not a package)

from tracekit import spark as tk_spark  # noqa: E402
from tracekit import store  # noqa: E402
from tracekit.ingest.parquet import convert_run  # noqa: E402

VIEWS = tk_spark.SHOWN_EQUAL


def convert(out: Path, ranks: int, layers: int, steps: int) -> Path:
    traces, pq = out / "traces", out / "pq"
    if not traces.is_dir():
        for _ in synth.generate(traces, ranks=ranks, layers=layers, steps=steps):
            pass
    if not pq.is_dir():
        wall, cpu = time.perf_counter(), time.process_time()
        convert_run(traces, pq, run="synth")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"import --parquet (convert_run): {wall:.1f} s wall {cpu:.1f} s CPU")
    return pq


def duckdb_times(pq: Path) -> None:
    print("DuckDB (each view from the files)")
    with store.open(parquet=pq, read_only=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        print(f"  {events:,} events")
        for view in VIEWS:
            wall, cpu = time.perf_counter(), time.process_time()
            n = len(con.execute(f"SELECT * FROM {view}").fetchall())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"  {view:24s} {n:8d} rows {wall:7.2f} s wall {cpu:7.2f} s CPU")


def jvm_cpu(spark: Any) -> float:
    """CPU seconds of the JVM (driver and local executors) so far, from /proc."""
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def partition_keys(spark: Any, view: str) -> list[str]:
    """The keys of the hash exchanges in the view's own physical plan (kept inputs are
    leaves), without Spark's attribute ids."""
    plan = spark.table(view)._jdf.queryExecution().executedPlan().toString()
    keys = re.findall(r"hashpartitioning\((.*), \d+\)", plan)
    return sorted({re.sub(r"#\d+L?", "", k) for k in keys})


def spark_times(pq: Path, master: str, explain: bool) -> None:
    print(f"Spark ({master})")
    wall = time.perf_counter()
    spark = tk_spark.session(master, ["spark.ui.showConsoleProgress=false"])
    print(f"  session: {time.perf_counter() - wall:.1f} s wall")
    chosen = tk_spark.needed(VIEWS)
    kept = tk_spark.kept_views(chosen)
    tk_spark.register_views(spark, pq, only=[])
    total_wall, total_cpu = time.perf_counter(), jvm_cpu(spark)
    for view in chosen:
        keys = ""
        if explain and view.name not in tk_spark.dataset.TABLES:
            tk_spark.create_view(spark, view, keep=False)  # its own plan, before it is kept
            keys = "  shuffles by: " + (" | ".join(partition_keys(spark, view.name)) or "-")
        wall, cpu = time.perf_counter(), jvm_cpu(spark)
        tk_spark.create_view(spark, view, keep=view.name in kept)
        n = spark.table(view.name).count() if view.name in VIEWS else None
        wall, cpu = time.perf_counter() - wall, jvm_cpu(spark) - cpu
        what = "kept" if view.name in kept else ("counted" if n is not None else "view")
        rows = f"{n:8d} rows" if n is not None else " " * 13
        line = f"  {view.name:24s} {what:7s} {rows} {wall:7.2f} s wall {cpu:7.2f} s JVM CPU"
        print(line + keys, flush=True)
    total_wall, total_cpu = time.perf_counter() - total_wall, jvm_cpu(spark) - total_cpu
    print(f"  all views: {total_wall:.1f} s wall {total_cpu:.1f} s JVM CPU")
    for view in VIEWS:
        wall = time.perf_counter()
        n = len(spark.table(view).collect())
        print(f"  collect {view:24s} {n:8d} rows {time.perf_counter() - wall:7.2f} s wall")
    spark.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=int, default=64)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("/tmp/tk_spark_bench"))
    p.add_argument("--master", default="local[2]")
    p.add_argument("--explain", action="store_true")
    a = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; work folder {a.out}")
    pq = convert(a.out, a.ranks, a.layers, a.steps)
    duckdb_times(pq)
    spark_times(pq, a.master, a.explain)


if __name__ == "__main__":
    main()
