"""The issue-18 views on Spark (local mode) against DuckDB over one Parquet dataset.

Generates a synthetic job of RANKS ranks (benchmarks/synth.py: small ranks), writes it
with `tracekit import --parquet`'s writer, and times, per view, DuckDB over the dataset
and Spark over the same dataset (the view's rows collected to the driver), after Spark's
start-up and view registration (timed apart). Also prints how Spark partitioned the work
(the exchanges of each view's physical plan).

    PYTHONPATH=. python benchmarks/spark_bench.py --ranks 64 --out /tmp/tk-spark-bench
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

from tracekit import spark as tk_spark  # noqa: E402
from tracekit import store  # noqa: E402
from tracekit.ingest.loader import import_paths  # noqa: E402
from tracekit.ingest.parquet import export_parquet  # noqa: E402

VIEWS = (
    "comm_ops",
    "overlap_by_rank",
    "temporal_breakdown",
    "overlap_by_layer",
    "overlap_by_stage",
    "overlap_by_phase",
    "comm_summary",
    "collective_instances",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    job, pq, db = args.out / "job", args.out / "pq", args.out / "job.duckdb"
    if not pq.is_dir():
        synth.generate(job, ranks=args.ranks, layers=args.layers, steps=args.steps)
        import_paths(db, [job])
        with store.open(db, read_only=False) as con:
            export_parquet(con, pq)
    with store.open(parquet=pq, read_only=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    print(f"{args.ranks} ranks, {events} events, dataset {pq}")

    t0 = time.perf_counter()
    spark = tk_spark.session(args.master, ["spark.ui.showConsoleProgress=false"])
    t1 = time.perf_counter()
    tk_spark.register_views(spark, pq)
    t2 = time.perf_counter()
    print(f"spark start {t1 - t0:.1f} s, register {len(tk_spark.views())} views {t2 - t1:.1f} s")
    print("| view | rows | DuckDB s | Spark s | Spark exchanges (hash partitioning keys) |")
    print("|---|---|---|---|---|")
    for view in VIEWS:
        t0 = time.perf_counter()
        with store.open(parquet=pq, read_only=True) as con:
            rows = len(con.execute(f"SELECT * FROM {view}").fetchall())
        duck = time.perf_counter() - t0
        frame = spark.table(view)
        t0 = time.perf_counter()
        got = len(frame.collect())
        took = time.perf_counter() - t0
        assert got == rows, (view, got, rows)
        plan = frame._jdf.queryExecution().executedPlan().toString()
        keys = sorted(set(re.findall(r"hashpartitioning\(([^)]*?), \d+\)", plan)))
        short = "; ".join(re.sub(r"#\d+L?", "", k) for k in keys)
        print(f"| {view} | {rows} | {duck:.2f} | {took:.2f} | {short[:160]} |")
    spark.stop()


if __name__ == "__main__":
    main()
