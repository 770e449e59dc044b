"""Run tracekit on one folder of traces: import into a fresh database, then overlap_by_rank.

Prints one JSON line with the phase times, event counts and the database size.
Run by benchmarks/bench.py in a child process, whose wall time and peak RSS
bench.py measures from outside. With ``--reopen`` it only opens the database an
earlier run made and runs overlap_by_rank (a later session on the same job: HTA
parses the traces again each time).

    python benchmarks/tk_runner.py TRACE_DIR DB [--workers N | --reopen]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracekit import store  # noqa: E402


def reopen(db: Path) -> None:
    t0 = time.perf_counter()
    con = store.connect(db, read_only=True)
    rows = con.execute("SELECT rank, overlap_pct FROM overlap_by_rank").fetchall()
    con.close()
    overlap = {str(r): float(p) if p is not None else None for r, p in rows}
    print(json.dumps({"overlap_s": time.perf_counter() - t0, "overlap_pct": overlap}))


def main() -> None:
    trace_dir, db = Path(sys.argv[1]), Path(sys.argv[2])
    if sys.argv[3:] == ["--reopen"]:
        reopen(db)
        return
    from tracekit.ingest.loader import import_paths

    workers = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--workers" else None
    for stale in (db, Path(str(db) + ".wal")):
        stale.unlink(missing_ok=True)
    t0 = time.perf_counter()
    summary = import_paths(db, [trace_dir], workers=workers)
    t1 = time.perf_counter()
    con = store.connect(db, read_only=True)
    rows = con.execute("SELECT rank, overlap_pct FROM overlap_by_rank").fetchall()
    con.close()
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": t1 - t0,
                "overlap_s": t2 - t1,
                "events": summary.events,
                "kernels": summary.kernels,
                "db_bytes": db.stat().st_size,
                "overlap_pct": {str(r): float(p) if p is not None else None for r, p in rows},
            }
        )
    )


if __name__ == "__main__":
    main()
