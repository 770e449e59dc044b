"""Benchmark: per-layer overlap over R ranks x N kernels, synthesized as DuckDB rows.

Each rank gets N kernels on its GPU (every 10th an NCCL all-reduce on its own stream,
overlapping the next compute kernels), one cudaLaunchKernel per kernel on the CPU thread,
and tracekit annotation ranges (tk:step=S phase=..., tk:layer=L) around the launches.
Nothing is parsed: rows come from generate_series, so the figure is the SQL's cost.

Run: python benchmarks/overlap_by_layer.py [--ranks 8] [--kernels 1000000] [--db FILE]
Prints the seconds to build the rows and to compute overlap_by_layer (and the check that
per-layer sums equal overlap_by_rank).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from tracekit import store

AR = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevComm*, unsigned long, ncclWork*)"


def synthesize(
    con: duckdb.DuckDBPyConnection, ranks: int, kernels: int, layers: int, steps: int
) -> None:
    per_step = kernels // steps
    per_layer = max(per_step // layers, 1)
    con.execute("INSERT INTO runs (run_id, origin_ns, world_size) VALUES ('bench', 0, ?)", [ranks])
    con.execute(
        "INSERT INTO traces (trace_id, run_id, path, sha256, format, rank, world_size, "
        "time_offset_ns) SELECT r + 1, 'bench', 'synthetic', 'x' || r, 'kineto', r, ?, 0 "
        "FROM range(?) t(r)",
        [ranks, ranks],
    )
    # kernels: i-th kernel at i us; every 10th is an all-reduce on stream 13 lasting 1.5 us
    con.execute(
        """
        INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, device, stream,
                            correlation)
        SELECT r + 1, i, 'kernel',
               CASE WHEN i % 10 = 9 THEN ? ELSE 'gemm_kernel' END,
               i * 1000 + 200, CASE WHEN i % 10 = 9 THEN 1500 ELSE 800 END,
               r, CASE WHEN i % 10 = 9 THEN 13 ELSE 7 END, i
        FROM range(?) a(r), range(?) b(i)
        """,
        [AR, ranks, kernels],
    )
    con.execute(
        """
        INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, pid, tid, correlation)
        SELECT r + 1, ? + i, 'cuda_runtime', 'cudaLaunchKernel', i * 1000, 100, 1, 1, i
        FROM range(?) a(r), range(?) b(i)
        """,
        [kernels, ranks, kernels],
    )
    # annotation ranges: a step range around per_step launches, layer ranges inside it
    con.execute(
        """
        INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, pid, tid)
        SELECT r + 1, 2 * ? + s, 'user_annotation',
               'tk:step=' || s || ' phase=' || CASE WHEN s = 0 THEN 'prefill' ELSE 'decode' END,
               s * ? * 1000, ? * 1000, 1, 1
        FROM range(?) a(r), range(?) b(s)
        """,
        [kernels, per_step, per_step, ranks, steps],
    )
    con.execute(
        """
        INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, pid, tid)
        SELECT r + 1, 3 * ? + s * ? + l, 'user_annotation', 'tk:layer=' || l,
               (s * ? + l * ?) * 1000, ? * 1000 - 50, 1, 1
        FROM range(?) a(r), range(?) b(s), range(?) c(l)
        """,
        [kernels, layers, per_step, per_layer, per_layer, ranks, steps, layers],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=8)
    parser.add_argument("--kernels", type=int, default=1_000_000, help="kernels per rank")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--db", type=Path, default=None, help="database file (default: memory)")
    args = parser.parse_args()

    con = duckdb.connect(str(args.db) if args.db else ":memory:")
    store.initialise(con)
    t0 = time.perf_counter()
    synthesize(con, args.ranks, args.kernels, args.layers, args.steps)
    t1 = time.perf_counter()
    con.execute("CREATE TEMP TABLE layer_rows AS SELECT * FROM overlap_by_layer")
    t2 = time.perf_counter()
    rows, attributed = con.execute("SELECT count(*), count(layer) FROM layer_rows").fetchall()[0]
    mismatches = con.execute(
        """
        SELECT count(*) FROM overlap_by_rank r
        JOIN (SELECT trace_id, device, sum(comm_ns) AS c, sum(compute_ns) AS k,
                     sum(overlap_ns) AS o FROM layer_rows GROUP BY ALL) s
          ON s.trace_id = r.trace_id AND s.device = r.device
        WHERE r.comm_ns <> s.c OR r.compute_ns <> s.k OR r.overlap_ns <> s.o
        """
    ).fetchall()[0][0]
    t3 = time.perf_counter()
    print(f"ranks x kernels          {args.ranks} x {args.kernels:,}")
    print(f"synthesize rows          {t1 - t0:8.2f} s")
    print(f"overlap_by_layer         {t2 - t1:8.2f} s  ({rows} rows, {attributed} attributed)")
    print(f"check vs overlap_by_rank {t3 - t2:8.2f} s  (mismatching ranks: {mismatches})")


if __name__ == "__main__":
    main()
