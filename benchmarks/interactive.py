"""Whether a large store stays interactive: each view's and each TUI screen's first query.

Usage: PYTHONPATH=. python benchmarks/interactive.py [--db FILE] [--ranks 8] [--kernels 1000000]
       [--only LABEL_PART ...]

With ``--db`` naming an existing tracekit database, its first run is used; otherwise
(or where FILE does not exist yet) a store of RANKS x KERNELS kernels is synthesized
by benchmarks/overlap_by_layer.py (all-reduces overlapping compute, launches,
step and layer ranges) into FILE or a temporary file. Then, each in a new read-only
session (as a new `tracekit tui` or `sql` would be), it times `overlap_by_rank`,
`overlap_by_layer` and `collective_instances` whole, and the query each TUI
screen runs when first shown, through the same analysis functions the screens
call: Runs (and the comparison columns it then computes in the background), Ranks,
Collectives (first page), Overlap (by layer), Instances (by skew), Timeline (rank 0's
whole span in 160 buckets). Prints wall and CPU seconds of each and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import overlap_by_layer  # noqa: E402

from tracekit import analysis, store  # noqa: E402


def build(db: Path, ranks: int, kernels: int) -> None:
    con = duckdb.connect(str(db))
    store.initialise(con)
    overlap_by_layer.synthesize(con, ranks, kernels, layers=32, steps=100)
    con.close()


def whole(view: str) -> Callable[[duckdb.DuckDBPyConnection, str], Any]:
    return lambda con, run: con.execute(f"SELECT count(*) FROM {view}").fetchone()


def timeline(con: duckdb.DuckDBPyConnection, run: str) -> Any:
    start, end = analysis.rank_span(con, run=run, rank=0)
    return analysis.lanes(con, run=run, rank=0, start_ns=start, end_ns=end, buckets=160)


QUERIES: dict[str, Callable[[duckdb.DuckDBPyConnection, str], Any]] = {
    "overlap_by_rank (all rows)": whole("overlap_by_rank"),
    "overlap_by_layer (all rows)": whole("overlap_by_layer"),
    "collective_instances (all rows)": whole("collective_instances"),
    "TUI Runs": lambda con, run: analysis.runs(con),
    "TUI Runs comparison (in the background)": lambda con, run: analysis.run_comparison(con),
    "TUI Ranks": lambda con, run: analysis.ranks(con, run=run),
    "TUI Collectives (first page)": lambda con, run: analysis.comm_ops(con, run=run),
    "TUI Overlap (by layer)": lambda con, run: analysis.overlap_totals(con, run=run, by="layer"),
    "TUI Instances (by skew)": lambda con, run: analysis.instances_by_skew(con, run=run),
    "TUI Timeline (rank 0)": timeline,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a tracekit database (made here if absent)")
    parser.add_argument("--ranks", type=int, default=8)
    parser.add_argument("--kernels", type=int, default=1_000_000, help="kernels per rank")
    parser.add_argument(
        "--only", action="append", default=[], help="time the queries whose label holds this"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "large.duckdb"
        if not db.exists():
            start = time.perf_counter()
            build(db, args.ranks, args.kernels)
            print(
                f"built {db} ({args.ranks} x {args.kernels:,} kernels) in "
                f"{time.perf_counter() - start:.1f} s"
            )
        con = store.connect(db, read_only=True)
        run, events = con.execute(
            "SELECT min(run_id), (SELECT count(*) FROM events) FROM runs"
        ).fetchone()
        con.close()
        print(
            f"{db}: run {run}, {events:,} events, {db.stat().st_size / 1e6:,.0f} MB; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for label, query in QUERIES.items():
            if args.only and not any(part in label for part in args.only):
                continue
            con = store.connect(db, read_only=True)
            wall, cpu = time.perf_counter(), time.process_time()
            query(con, run)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            con.close()
            print(f"{label:34} {wall:7.2f} s wall {cpu:7.2f} s CPU")


if __name__ == "__main__":
    main()
